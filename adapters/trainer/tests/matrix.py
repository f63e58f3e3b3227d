"""The architecture x quant-type matrix, for test/adapters/trainer/gguf-architectures.int.test.ts.

  matrix.py models OUT_DIR SEQS_JSON       write a tiny random model per architecture and quant type
                                           (OUT_DIR/<arch>-<quant>.gguf) and the trainer's log-probs on
                                           SEQS, exact and with llama.cpp's CPU activation rounding
                                           (OUT_DIR/<arch>-<quant>.json)
  matrix.py lora PAIRS_JSON SEQS_JSON      for each [model, adapter]: log-probs without and with the
                                           adapter, exact and rounded (JSON on stdout)

One process for all of them: importing torch costs seconds, the forwards milliseconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

import helpers  # noqa: F401  (puts sophont_trainer on sys.path)
from sophont_trainer import gguf
from sophont_trainer.decoder import GGUFModel
from sophont_trainer.lora import LoraPair, LoraSet, read_adapter
from sophont_trainer.gguf import Tensor
from sophont_trainer.quants import GGMLType
from sophont_trainer.tiny_model import TinySpec, tiny_metadata, typed_tensors, write_tiny_model

ARCHS = ["llama", "mixtral", "qwen2", "qwen3", "qwen3moe", "gpt-oss"]
QUANTS = ["F32", "F16", "BF16", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "MXFP4"]


def spec_for(arch: str, quant: str) -> TinySpec:
    # 256-wide rows: the K-quants' super-blocks; head size 64 as in the real models; 4 experts, top 2
    return TinySpec(n_vocab=288, n_embd=256, n_layer=2, n_head=4, n_head_kv=2, n_ff=512, n_ctx=128, seed=3,
                    arch=arch, quant=quant, n_expert=4, n_expert_used=2, n_ff_exp=256, sliding_window=4)


def logprobs(model: GGUFModel, seqs: list[list[int]], rounding: bool) -> list:
    model.cpu_rounding = rounding
    with torch.no_grad():
        return [torch.log_softmax(model.logits(torch.tensor([s]))[0].double(), -1).tolist() for s in seqs]


def cmd_models(out: Path, seqs: list[list[int]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for arch in ARCHS:
        for quant in QUANTS:
            path = out / f"{arch}-{quant}.gguf"
            write_tiny_model(path, spec_for(arch, quant))
            model = GGUFModel(gguf.read_gguf(path), torch.device("cpu"))
            result = {"exact": logprobs(model, seqs, False), "rounded": logprobs(model, seqs, True),
                      "base_bytes": model.base_bytes(), "file_bytes": path.stat().st_size}
            (out / f"{arch}-{quant}.json").write_text(json.dumps(result))
    # only token_embd in each type: llama.cpp's get_rows dequantizes it with no activation rounding,
    # so these compare the dequantization itself
    for quant in QUANTS:
        spec = spec_for("llama", "F32")
        tensors = typed_tensors(spec)
        embd = tensors["token_embd.weight"].data
        tensors["token_embd.weight"] = Tensor("token_embd.weight", embd.astype("float16") if quant == "F16" else embd, GGMLType[quant])
        path = out / f"embd-{quant}.gguf"
        gguf.write_gguf(path, tiny_metadata(spec), tensors)
        model = GGUFModel(gguf.read_gguf(path), torch.device("cpu"))
        (out / f"embd-{quant}.json").write_text(json.dumps({"exact": logprobs(model, seqs, False)}))


def cmd_lora(pairs: list[list[str]], seqs: list[list[int]]) -> None:
    out = []
    for model_path, adapter_path in pairs:
        model = GGUFModel(gguf.read_gguf(model_path), torch.device("cpu"))
        base = {"exact": logprobs(model, seqs, False), "rounded": logprobs(model, seqs, True)}
        ad = read_adapter(adapter_path, model.base_shapes(), model.architecture)
        model.attach_lora(LoraSet(ad.rank, ad.alpha, {n: LoraPair(torch.from_numpy(a), torch.from_numpy(b))
                                                       for n, (a, b) in ad.pairs.items()}))
        tuned = {"exact": logprobs(model, seqs, False), "rounded": logprobs(model, seqs, True)}
        out.append({"model": model_path, "adapter": adapter_path, "tensors": sorted(ad.pairs), "base": base, "tuned": tuned})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "models":
        cmd_models(Path(sys.argv[2]), json.loads(sys.argv[3]))
    elif sys.argv[1] == "lora":
        cmd_lora(json.loads(sys.argv[2]), json.loads(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
