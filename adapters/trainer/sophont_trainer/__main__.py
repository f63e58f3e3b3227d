"""CLI: `python -m sophont_trainer <command>` with adapters/trainer on PYTHONPATH.

  train JOB_DIR [--out DIR] [--device cpu|cuda]   run a training job (JSON lines on stdout)
  tiny-model OUT.gguf [--arch A --quant T ...]    write a tiny random GGUF of a supported architecture
  logprobs MODEL.gguf --tokens JSON [--lora F]    next-token log-probs of the GGUF back-end (JSON)
  inspect FILE.gguf                               metadata and tensor shapes (JSON)

Exit codes: 0 done, 2 invalid input, 3 training diverged, 143 cancelled (SIGTERM), 1 anything else. Every failure of
`train` is also reported as a final {"event":"failed","error":...} line.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import traceback
from typing import Any

from .progress import Progress

EXIT_INPUT, EXIT_DIVERGED, EXIT_OTHER = 2, 3, 1
EXIT_CANCELLED = 128 + signal.SIGTERM


class Cancelled(Exception):
    pass


_sigterm_received = False


def _on_sigterm(_signum: int, _frame: Any) -> None:
    # `sophont train cancel` kills the process group with SIGTERM: say so on stdout before going.
    # Raised inside torch's autograd engine, the exception comes back wrapped in a RuntimeError: the flag
    # says it was the cancel all the same.
    global _sigterm_received
    _sigterm_received = True
    raise Cancelled()


def cmd_train(args: argparse.Namespace) -> int:
    progress = Progress()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from .data import InputError
        from .gguf import GGUFError
        from .train import TrainingDiverged, run_job

        try:
            run_job(args.job_dir, args.out, args.device, progress)
            return 0
        except (InputError, GGUFError) as e:
            progress.emit("failed", error=str(e), kind="input")
            return EXIT_INPUT
        except TrainingDiverged as e:
            progress.emit("failed", error=str(e), kind="diverged")
            return EXIT_DIVERGED
    except Cancelled:
        progress.emit("failed", error="cancelled (SIGTERM)", kind="cancelled")
        return EXIT_CANCELLED
    except Exception as e:  # the Muscle needs a line even for bugs; the traceback goes to stderr
        if _sigterm_received:
            progress.emit("failed", error="cancelled (SIGTERM)", kind="cancelled")
            return EXIT_CANCELLED
        traceback.print_exc(file=sys.stderr)
        progress.emit("failed", error=f"{type(e).__name__}: {e}", kind="internal")
        return EXIT_OTHER


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from .tiny_model import TinySpec, write_tiny_model

    spec = TinySpec(n_vocab=args.vocab, n_embd=args.embd, n_layer=args.layers, n_head=args.heads,
                    n_head_kv=args.kv_heads, n_ff=args.ff, n_ctx=args.ctx, tied=args.tied, seed=args.seed,
                    f16=args.f16, arch=args.arch, quant=args.quant, expert_quant=args.expert_quant,
                    n_expert=args.experts, n_expert_used=args.experts_used, n_ff_exp=args.ff_exp,
                    sliding_window=args.window)
    write_tiny_model(args.out, spec)
    print(json.dumps({"path": args.out, "spec": spec.__dict__}))
    return 0


def cmd_logprobs(args: argparse.Namespace) -> int:
    import torch

    from . import gguf
    from .decoder import GGUFModel
    from .lora import LoraPair, LoraSet, read_adapter

    model = GGUFModel(gguf.read_gguf(args.model), torch.device("cpu"))
    model.cpu_rounding = args.cpu_rounding
    if args.lora:
        ad = read_adapter(args.lora, model.base_shapes(), model.architecture)
        # llama.cpp multiplies the delta by the adapter scale: folding it into B does the same
        lora = LoraSet(ad.rank, ad.alpha, {
            n: LoraPair(torch.from_numpy(a), torch.from_numpy(b) * args.scale) for n, (a, b) in ad.pairs.items()
        })
        model.attach_lora(lora)
    seqs: list[list[int]] = json.loads(args.tokens)
    out: list[Any] = []
    with torch.no_grad():
        for seq in seqs:
            logits = model.logits(torch.tensor([seq], dtype=torch.long))[0]
            out.append(torch.log_softmax(logits.double(), -1).tolist())
    json.dump({"logprobs": out}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from . import gguf

    g = gguf.read_gguf(args.file)
    meta = {k: (f"[{len(v.value)} items]" if v.type == gguf.ValueType.ARRAY and len(v.value) > 16 else v.value)
            for k, v in g.metadata.items()}
    tensors = {n: {"shape": list(t.shape), "type": t.type.name} for n, t in g.tensors.items()}
    print(json.dumps({"metadata": meta, "tensors": tensors}, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sophont_trainer")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="run a training job")
    t.add_argument("job_dir")
    t.add_argument("--out", default=None, help="output directory (default JOB_DIR/out)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    t.set_defaults(func=cmd_train)

    m = sub.add_parser("tiny-model", help="write a tiny random llama GGUF")
    m.add_argument("out")
    m.add_argument("--vocab", type=int, default=288)
    m.add_argument("--embd", type=int, default=32)
    m.add_argument("--layers", type=int, default=2)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--kv-heads", type=int, default=2)
    m.add_argument("--ff", type=int, default=64)
    m.add_argument("--ctx", type=int, default=128)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--tied", action="store_true", help="no output.weight (tied to token_embd)")
    m.add_argument("--f16", action="store_true", help="store the matrices as F16")
    m.add_argument("--arch", default="llama", choices=["llama", "mixtral", "qwen2", "qwen3", "qwen3moe", "gpt-oss"])
    m.add_argument("--quant", default="", help="the matrices' type: F32 F16 BF16 Q8_0 Q4_K Q5_K Q6_K MXFP4")
    m.add_argument("--expert-quant", default="", help="the expert tensors' type, where it differs")
    m.add_argument("--experts", type=int, default=4)
    m.add_argument("--experts-used", type=int, default=2)
    m.add_argument("--ff-exp", type=int, default=0, help="expert FFN width (default --ff)")
    m.add_argument("--window", type=int, default=4, help="gpt-oss: sliding window")
    m.set_defaults(func=cmd_tiny_model)

    lp = sub.add_parser("logprobs", help="next-token log-probs of the tiny back-end")
    lp.add_argument("model")
    lp.add_argument("--tokens", required=True, help="JSON list of token-id lists")
    lp.add_argument("--lora", default=None)
    lp.add_argument("--scale", type=float, default=1.0, help="adapter scale, as llama.cpp's")
    lp.add_argument("--cpu-rounding", action="store_true",
                    help="round matmul activations as llama.cpp's CPU back-end does (F16/BF16/Q8_0/Q8_K)")
    lp.set_defaults(func=cmd_logprobs)

    i = sub.add_parser("inspect", help="print a GGUF file's metadata and tensors")
    i.add_argument("file")
    i.set_defaults(func=cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
