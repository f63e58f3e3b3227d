"""The hf back-end against a stand-in transformers (tests/fake_transformers): real GPU hosts have the
real one; what is checked here is the hooking, the training loop and the export to llama.cpp's
layout (the Q/K row permutation of B)."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import unittest
from pathlib import Path

import torch

import helpers
from sophont_trainer import gguf
from sophont_trainer.data import load_job
from sophont_trainer.llama import TinyLlama
from sophont_trainer.lora import init_lora, read_adapter
from sophont_trainer.progress import Silent
from sophont_trainer.train import eval_sft, run_job

FAKE = str(Path(__file__).resolve().parent / "fake_transformers")
ALL_TARGETS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"]


@unittest.skipIf(importlib.util.find_spec("transformers") is not None, "the real transformers is installed")
class HFBackend(unittest.TestCase):
    def setUp(self) -> None:
        sys.path.insert(0, FAKE)
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        sys.path.remove(FAKE)
        sys.modules.pop("transformers", None)
        self._tmp.cleanup()

    def hf_dir(self) -> Path:
        d = self.tmp / "hf"
        helpers.make_job(d)  # writes d/base.gguf
        (d / "base.gguf").rename(d / "model.gguf")
        return d

    def test_lora_exported_from_hf_layout_matches_in_gguf_layout(self) -> None:
        from sophont_trainer.hf_backend import HFLlama

        d = self.hf_dir()
        hf = HFLlama(d, torch.device("cpu"))
        tiny = TinyLlama(gguf.read_gguf(d / "model.gguf"), torch.device("cpu"))
        tokens = torch.tensor([[1, 40, 41, 260, 7, 99]])
        with torch.no_grad():
            torch.testing.assert_close(hf.logits(tokens), tiny.logits(tokens), rtol=1e-4, atol=1e-4)
        g = torch.Generator().manual_seed(4)
        lora = init_lora(hf.target_weights(ALL_TARGETS), 3, 6.0, g)
        for p in lora.pairs.values():
            p.b.data = torch.randn(p.b.shape, generator=g) * 0.3
        hf.attach_lora(lora)
        tiny.attach_lora(tiny.import_pairs(hf.export_pairs(lora), 6.0))
        with torch.no_grad():
            want = tiny.logits(tokens)
            torch.testing.assert_close(hf.logits(tokens), want, rtol=1e-4, atol=1e-4)
            # and back: a GGUF-layout (e.g. merged) adapter imported into the hf model
            hf.attach_lora(hf.import_pairs(hf.export_pairs(lora), 6.0))
            torch.testing.assert_close(hf.logits(tokens), want, rtol=1e-4, atol=1e-4)
            with hf.lora_disabled():
                self.assertGreater(float((hf.logits(tokens) - want).abs().max()), 0.1)

    def test_a_job_on_the_hf_backend_end_to_end(self) -> None:
        d = self.hf_dir()
        earlier = helpers.make_job(self.tmp / "j0", {"sft_steps": 5, "dpo_steps": 2, "seed": 3})
        r0 = run_job(earlier, None, "cpu", Silent())
        job = helpers.make_job(self.tmp / "j", {"backend": "hf", "hf_model": str(d), "sft_steps": 15, "dpo_steps": 5,
                                               "merge_with": [r0["artifacts"][1]["path"]]})
        result = run_job(job, None, "cpu", Silent())
        self.assertLess(result["after"]["sft_loss"], result["before"]["sft_loss"])
        # the exported micro-adapter, applied in llama.cpp's layout, reproduces the hf model's loss
        tiny = TinyLlama(gguf.read_gguf(d / "model.gguf"), torch.device("cpu"))
        ad = read_adapter(result["artifacts"][0]["path"], tiny.base_shapes())
        tiny.attach_lora(tiny.import_pairs(ad.pairs, ad.alpha))
        loss = eval_sft(tiny, load_job(job).sft, 4)
        self.assertAlmostEqual(loss, result["after"]["sft_loss"], places=3)
        self.assertEqual(result["artifacts"][1]["kind"], "merged")
        self.assertGreater(result["artifacts"][1]["reconstruction_error"], 0.0)


if __name__ == "__main__":
    unittest.main()
