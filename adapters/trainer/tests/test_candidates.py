"""Training on top of the serving adapter, the candidates built from both, and the preference losses."""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

import torch

import helpers
from sophont_trainer import gguf
from sophont_trainer.candidates import CandidateSettings, build_candidates, dare
from sophont_trainer.llama import TinyLlama
from sophont_trainer.lora import LoraPair, LoraSet, read_adapter, write_adapter
from sophont_trainer.progress import Silent
from sophont_trainer.train import run_job

ALL = ["attn_q", "attn_v", "ffn_up", "output"]


def run(job: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    progress = Silent()
    return run_job(job, None, "cpu", progress), progress.events


def logits_with(base: Path, adapters: list[Path], tokens: list[int]) -> torch.Tensor:
    """The tiny forward with each adapter folded into the base, as llama.cpp sums adapters in one context."""
    model = TinyLlama(gguf.read_gguf(base), torch.device("cpu"))
    for a in adapters:
        model.add_to_base(read_adapter(a, model.base_shapes()).deltas())
    with torch.no_grad():
        return model.logits(torch.tensor([tokens]))[0]


def logits_lora(base: Path, adapter: Path, tokens: list[int]) -> torch.Tensor:
    """The tiny forward with one adapter as a LoRA on the side (llama.cpp's build_lora_mm)."""
    model = TinyLlama(gguf.read_gguf(base), torch.device("cpu"))
    ad = read_adapter(adapter, model.base_shapes())
    model.attach_lora(LoraSet(ad.rank, ad.alpha, {n: LoraPair(torch.from_numpy(a), torch.from_numpy(b)) for n, (a, b) in ad.pairs.items()}))
    with torch.no_grad():
        return model.logits(torch.tensor([tokens]))[0]


class OnTopOfServing(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        first = helpers.make_job(self.tmp / "first", {"sft_steps": 20, "dpo_steps": 0, "target_modules": ALL}, dpo=False)
        self.first, _ = run(first)
        self.served = first / "out" / "adapter.gguf"

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def second(self, recipe: dict[str, Any]) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
        job = helpers.make_job(self.tmp / "second", {"sft_steps": 10, "dpo_steps": 0, "target_modules": ALL, "seed": 5,
                                                      "serving_adapter": str(self.served), **recipe}, dpo=False)
        result, events = run(job)
        return job, result, events

    def test_the_loss_starts_where_the_served_model_is(self) -> None:
        _, result, _ = self.second({})
        served_after = self.first["after"]["sft_loss"]
        print(f"\n  SFT loss: base {self.first['before']['sft_loss']:.3f}, served {served_after:.3f}, "
              f"second job starts at {result['before']['sft_loss']:.3f} and ends at {result['after']['sft_loss']:.3f}", file=sys.stderr)
        self.assertAlmostEqual(result["before"]["sft_loss"], served_after, places=4)
        self.assertLess(result["before"]["sft_loss"], self.first["before"]["sft_loss"])

    def test_candidates_stack_exactly_and_fold_past_the_budget(self) -> None:
        job, result, _ = self.second({"candidates": {"max_rank": 8, "task_lambdas": [0.5]}})
        cands = [a for a in result["artifacts"] if a["kind"] == "candidate"]
        self.assertEqual([c["method"] for c in cands], ["stack", "task-arithmetic", "ties", "dare"])
        stack = cands[0]
        self.assertEqual((stack["rank"], stack["folded"], stack["reconstruction_error"]), (8, False, 0.0))
        micro = job / "out" / "micro-adapter.gguf"
        tokens = [1, 262, 263, 264, 265, 266]
        # the stack file computes what the served adapter and the micro-adapter compute together
        torch.testing.assert_close(logits_lora(job / "base.gguf", Path(stack["path"]), tokens),
                                   logits_with(job / "base.gguf", [self.served, micro], tokens), atol=1e-4, rtol=1e-4)
        served_adapter = next(a for a in result["artifacts"] if a["kind"] == "merged")
        self.assertEqual(served_adapter["sha256"], stack["sha256"])
        for c in cands[2:]:
            self.assertEqual(c["rank"], 8)
            self.assertGreater(c["reconstruction_error"], 0.0)

        _, folded, _ = self.second({"candidates": {"max_rank": 6, "methods": ["stack"]}})
        fold = [a for a in folded["artifacts"] if a["kind"] == "candidate"]
        self.assertEqual([(c["method"], c["rank"], c["folded"], c["params"]["foldedFrom"]) for c in fold], [("fold", 6, True, 8)])
        print(f"\n  fold of a rank-8 stack at rank 6: relative error {fold[0]['reconstruction_error']:.3f}", file=sys.stderr)
        self.assertLess(fold[0]["reconstruction_error"], 0.5)

    def test_candidates_are_capped(self) -> None:
        _, result, _ = self.second({"candidates": {"max_candidates": 2}})
        self.assertEqual(len([a for a in result["artifacts"] if a["kind"] == "candidate"]), 2)


class Combinations(unittest.TestCase):
    def test_dare_keeps_the_expected_value(self) -> None:
        tv = torch.ones(200, 200)
        kept = dare(tv, 0.3, torch.Generator().manual_seed(0))
        self.assertAlmostEqual(float(kept.mean()), 1.0, delta=0.03)
        self.assertAlmostEqual(float((kept != 0).double().mean()), 0.3, delta=0.02)

    def test_without_a_served_adapter_the_micro_adapter_and_its_scaled_copies_are_the_candidates(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            job = helpers.make_job(Path(d) / "j", {"sft_steps": 2, "dpo_steps": 0}, dpo=False)
            run(job)
            micro = read_adapter(job / "out" / "micro-adapter.gguf")
            got = build_candidates(None, micro, CandidateSettings(task_lambdas=(0.25, 0.5)), 0)
            self.assertEqual([(c.method, c.params) for c in got], [("single", {}), ("task-arithmetic", {"lambda": 0.25}), ("task-arithmetic", {"lambda": 0.5})])
            # lambda * tau_new exactly: the scaled copy's full delta is lambda times the micro-adapter's
            want = micro.deltas()
            for c, lam in zip(got[1:], (0.25, 0.5)):
                path = Path(d) / f"scaled-{lam}.gguf"
                write_adapter(path, c.alpha, c.pairs, {})
                deltas = read_adapter(path).deltas()
                for name, delta in want.items():
                    torch.testing.assert_close(deltas[name].double(), lam * delta.double(), rtol=1e-5, atol=1e-7)
            # without task arithmetic in the methods, the micro-adapter alone
            self.assertEqual([c.method for c in build_candidates(None, micro, CandidateSettings(methods=("stack", "ties")), 0)], ["single"])


class Steps(unittest.TestCase):
    def test_epochs_scale_with_the_data_and_stop_at_the_cap(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            # 6 SFT rows, batches of 4 with one anchor row: 3 new rows a step, 2 epochs -> 4 steps
            job = helpers.make_job(Path(d) / "a", {"epochs": 2, "sft_steps": None, "dpo_steps": None})
            result, events = run(job)
            started = next(e for e in events if e["event"] == "started")
            self.assertEqual((started["sft_steps"], started["dpo_steps"]), (4, 2))
            capped = helpers.make_job(Path(d) / "b", {"epochs": 50, "max_steps": 7, "sft_steps": None, "dpo_steps": None})
            _, events = run(capped)
            started = next(e for e in events if e["event"] == "started")
            self.assertEqual((started["sft_steps"], started["dpo_steps"]), (7, 7))


class Preferences(unittest.TestCase):
    def test_unpaired_negatives_lower_their_log_probability_on_held_out_prompts(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            job = helpers.make_job(Path(d) / "j", {"sft_steps": 0, "dpo_steps": 30, "dpo_lr": 0.02, "target_modules": ALL}, sft=False, anchor=False, dpo=False)
            # the wrong outputs all continue with tokens 230..233; held out: other prompts, same wrong outputs
            helpers.write_jsonl(job / "negatives.jsonl", [{"prompt_tokens": [1, 270 + i], "rejected_tokens": [230 + i % 4, 231 + i % 4]} for i in range(8)])
            helpers.write_jsonl(job / "dpo_eval.jsonl", [{"prompt_tokens": [1, 250 + i], "chosen_tokens": [200 + i, 201 + i], "rejected_tokens": [230 + i % 4, 231 + i % 4]} for i in range(4)])
            result, events = run(job)
            before, after = result["before"]["heldout_pairs"], result["after"]["heldout_pairs"]
            print(f"\n  KTO-style negatives, held-out pairs: rejected log p {before['rejected_logp']:.3f} -> {after['rejected_logp']:.3f}, "
                  f"chosen {before['chosen_logp']:.3f} -> {after['chosen_logp']:.3f}, margin {before['margin']:.3f} -> {after['margin']:.3f}", file=sys.stderr)
            self.assertLess(after["rejected_logp"], before["rejected_logp"] - 0.5)
            self.assertGreater(after["margin"], before["margin"])
            progress = [e for e in events if e["event"] == "progress"]
            self.assertTrue(all(e["kto_loss"] is not None and e["margin"] is None for e in progress))
            self.assertEqual(json.loads((job / "out" / "result.json").read_text())["after"]["heldout_pairs"]["pairs"], 4)


if __name__ == "__main__":
    unittest.main()
