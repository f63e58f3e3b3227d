from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import helpers
from sophont_trainer import gguf
from sophont_trainer.data import SftExample
from sophont_trainer.llama import TinyLlama
from sophont_trainer.lora import read_adapter
from sophont_trainer.progress import Silent
from sophont_trainer.tiny_model import TinySpec, tiny_metadata, tiny_tensors
from sophont_trainer.data import InputError, load_job, resolve_steps
from sophont_trainer.train import anchor_count, replay_counts, run_job, sft_loss


def run(job: Path, out: Path | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    progress = Silent()
    result = run_job(job, out, "cpu", progress)
    return result, progress.events


def cli(job: Path) -> tuple[int, list[dict[str, Any]]]:
    env = {**os.environ, "PYTHONPATH": str(helpers.TRAINER_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.run([sys.executable, "-m", "sophont_trainer", "train", str(job)], capture_output=True, text=True,
                       env=env, timeout=120)
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


class Training(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def test_sft_lowers_the_loss_on_the_training_tokens(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"dpo_steps": 0}, dpo=False)
        result, events = run(job)
        before, after = result["before"]["sft_loss"], result["after"]["sft_loss"]
        print(f"\n  SFT loss on the training tokens: {before:.3f} -> {after:.3f}", file=sys.stderr)
        self.assertLess(after, 0.6 * before)
        steps = [e for e in events if e["event"] == "progress"]
        self.assertEqual([e["step"] for e in steps], list(range(1, 26)))
        self.assertTrue(all(e["phase"] == "sft" and e["of"] == 25 for e in steps))
        # the anchor share is exact: 25% of 25 batches of 4 = 25 anchor rows
        self.assertEqual(sum(e["anchor_rows"] for e in steps), 25)

    def test_dpo_increases_the_preference_margin(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"sft_steps": 0, "dpo_steps": 20}, sft=False, anchor=False)
        result, events = run(job)
        before, after = result["before"]["dpo"], result["after"]["dpo"]
        print(f"\n  DPO margin: {before['margin']:.3f} -> {after['margin']:.3f}, accuracy {after['accuracy']}",
              file=sys.stderr)
        self.assertAlmostEqual(before["margin"], 0.0, places=5)  # policy == reference at the start
        self.assertGreater(after["margin"], 1.0)
        self.assertEqual(after["accuracy"], 1.0)
        self.assertLess(after["loss"], before["loss"])
        margins = [e["margin"] for e in events if e["event"] == "progress"]
        self.assertGreater(margins[-1], margins[0])

    def test_same_seed_same_adapter(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"sft_steps": 5, "dpo_steps": 3})
        a, _ = run(job, self.tmp / "o1")
        b, _ = run(job, self.tmp / "o2")
        self.assertEqual(a["artifacts"][0]["sha256"], b["artifacts"][0]["sha256"])

    def test_ties_merge_with_an_earlier_adapter(self) -> None:
        first = helpers.make_job(self.tmp / "j1", {"sft_steps": 10, "dpo_steps": 5, "seed": 1})
        r1, _ = run(first)
        second = helpers.make_job(self.tmp / "j2", {"sft_steps": 10, "dpo_steps": 5, "seed": 2,
                                                    "merge_with": [r1["artifacts"][1]["path"]],
                                                    "ties": {"k": 30, "lambda": 1.2}})
        r2, events = run(second)
        merged = r2["artifacts"][1]
        print(f"\n  TIES merge reconstruction error (rank 4): {merged['reconstruction_error']:.3f}", file=sys.stderr)
        self.assertEqual(merged["kind"], "merged")
        self.assertEqual(len(merged["merged_from"]), 2)
        self.assertTrue(0.0 < merged["reconstruction_error"] < 1.0)
        self.assertIn("sft_loss", merged["eval"])
        model = TinyLlama(gguf.read_gguf(second / "base.gguf"), torch.device("cpu"))
        ad = read_adapter(merged["path"], model.base_shapes())
        self.assertEqual(ad.rank, 4)
        self.assertEqual(ad.metadata["sophont.merge.method"], "ties")
        self.assertTrue(any(e["event"] == "artifact" and e["kind"] == "merged" for e in events))

    def test_loss_mask_selects_the_targets(self) -> None:
        job = helpers.make_job(self.tmp / "j")
        model = TinyLlama(gguf.read_gguf(job / "base.gguf"), torch.device("cpu"))
        toks = [1, 260, 261, 262, 263]
        with torch.no_grad():
            logp = torch.log_softmax(model.logits(torch.tensor([toks])), -1)[0]
            want = -(logp[2, 262] + logp[3, 263]) / 2  # only tokens 3 and 4 are targets
            got = sft_loss(model, [SftExample(toks, [0, 0, 0, 1, 1])])
        torch.testing.assert_close(got, want)

    def test_anchor_count_keeps_the_exact_ratio(self) -> None:
        self.assertEqual(sum(anchor_count(s, 3, 0.2) for s in range(10)), 6)
        self.assertEqual(sum(anchor_count(s, 8, 0.5) for s in range(7)), 28)
        self.assertEqual(sum(anchor_count(s, 4, 0.0) for s in range(7)), 0)

    def test_replay_counts_keep_each_share_and_one_sft_row(self) -> None:
        counts = [replay_counts(s, 4, [0.25, 0.25]) for s in range(8)]
        self.assertEqual(counts, [[1, 1]] * 8)
        counts = [replay_counts(s, 4, [0.25, 0.5]) for s in range(8)]
        self.assertTrue(all(sum(c) <= 3 for c in counts))
        self.assertEqual(sum(c[0] for c in counts), 8)
        self.assertEqual(replay_counts(0, 4, []), [])

    def test_general_replay_rows_are_mixed_in_like_the_anchor(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"dpo_steps": None, "sft_steps": None, "epochs": 2, "general_replay_ratio": 0.25}, dpo=False)
        helpers.write_jsonl(job / "general.jsonl", [{"tokens": [1] + [3 + (5 * i + j) % 200 for j in range(9)]} for i in range(5)])
        # 6 SFT rows, 2 of each batch of 4 replayed (anchor 1, general 1): 2 new rows a step, 2 epochs -> 6 steps
        self.assertEqual(resolve_steps(load_job(job)), (6, 0))
        result, events = run(job)
        steps = [e for e in events if e["event"] == "progress"]
        self.assertEqual(len(steps), 6)
        self.assertEqual(sum(e["general_rows"] for e in steps), 6)
        self.assertEqual(sum(e["anchor_rows"] for e in steps), 6)
        started = next(e for e in events if e["event"] == "started")
        self.assertEqual(started["general_rows"], 5)
        self.assertLess(result["after"]["sft_loss"], result["before"]["sft_loss"])

    def test_replay_shares_must_leave_room_for_the_sft_rows(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"dpo_steps": 0, "anchor_ratio": 0.5, "general_replay_ratio": 0.5}, dpo=False)
        with self.assertRaisesRegex(InputError, "must be below 1"):
            load_job(job)

    def test_tied_output_is_skipped_with_a_warning(self) -> None:
        spec = TinySpec(n_vocab=288, n_embd=16, n_layer=1, n_head=2, n_head_kv=2, n_ff=32, tied=True)
        job = helpers.make_job(self.tmp / "j", {"sft_steps": 2, "dpo_steps": 0}, spec=spec)
        result, events = run(job)
        self.assertTrue(any(e["event"] == "warning" and "tied" in e["message"] for e in events))
        ad = read_adapter(result["artifacts"][0]["path"])
        self.assertNotIn("output.weight", ad.pairs)


class F16Model(unittest.TestCase):
    def test_f16_base_trains_and_agrees_with_its_f32_twin(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            job = helpers.make_job(Path(d) / "j", {"sft_steps": 4, "dpo_steps": 0}, spec=replace(helpers.SMALL, f16=True))
            g16 = gguf.read_gguf(job / "base.gguf")
            self.assertEqual(g16.tensors["blk.0.attn_q.weight"].type, gguf.TensorType.F16)
            result, _ = run(job)
            self.assertLess(result["after"]["sft_loss"], result["before"]["sft_loss"])
        m16 = TinyLlama(g16, torch.device("cpu"))
        m32 = TinyLlama(gguf.parse_gguf(gguf.serialize_gguf(tiny_metadata(helpers.SMALL), tiny_tensors(helpers.SMALL))),
                        torch.device("cpu"))
        toks = torch.tensor([[1, 50, 60, 70]])
        with torch.no_grad():
            torch.testing.assert_close(m16.logits(toks), m32.logits(toks), rtol=0.05, atol=0.05)


class Cli(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def test_json_lines_from_started_to_done(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"sft_steps": 3, "dpo_steps": 2})
        rc, lines = cli(job)
        self.assertEqual(rc, 0)
        kinds = [line["event"] for line in lines]
        self.assertEqual(kinds[0], "started")
        self.assertEqual(kinds[-1], "done")
        # the micro-adapter, the adapter to serve, and the candidates: nothing serves yet, so the
        # micro-adapter alone and its copies scaled by each task-arithmetic lambda (0.5, 1.5)
        artifacts = [line for line in lines if line["event"] == "artifact"]
        self.assertEqual([a["kind"] for a in artifacts], ["micro", "candidate", "candidate", "candidate", "merged"])
        self.assertEqual([(a["method"], a["params"]) for a in artifacts[1:4]], [("single", {}), ("task-arithmetic", {"lambda": 0.5}), ("task-arithmetic", {"lambda": 1.5})])
        phases = [line["phase"] for line in lines if line["event"] == "progress"]
        self.assertEqual(phases, ["sft"] * 3 + ["dpo"] * 2)
        for a in (line for line in lines if line["event"] == "artifact"):
            self.assertTrue(Path(a["path"]).is_file())
            self.assertEqual(len(a["sha256"]), 64)

    def test_sigterm_is_reported_as_cancelled(self) -> None:
        job = helpers.make_job(self.tmp / "j", {"sft_steps": 100000, "dpo_steps": 0})
        env = {**os.environ, "PYTHONPATH": str(helpers.TRAINER_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
        p = subprocess.Popen([sys.executable, "-m", "sophont_trainer", "train", str(job)], stdout=subprocess.PIPE,
                             text=True, env=env)
        assert p.stdout is not None
        lines = []
        for line in p.stdout:  # wait until training is under way
            lines.append(json.loads(line))
            if lines[-1]["event"] == "progress":
                break
        p.send_signal(signal.SIGTERM)
        rest, _ = p.communicate(timeout=60)
        lines += [json.loads(x) for x in rest.splitlines() if x.strip()]
        self.assertEqual(p.returncode, 143)
        self.assertEqual(lines[-1]["event"], "failed")
        self.assertEqual(lines[-1]["kind"], "cancelled")

    def assert_fails(self, job: Path, pattern: str) -> None:
        rc, lines = cli(job)
        self.assertEqual(rc, 2, lines)
        self.assertEqual(lines[-1]["event"], "failed")
        self.assertRegex(lines[-1]["error"], pattern)

    def test_invalid_inputs_fail_clearly(self) -> None:
        self.assert_fails(helpers.make_job(self.tmp / "a", {"lr_rate": 1}), "unknown keys.*lr_rate")
        self.assert_fails(helpers.make_job(self.tmp / "b", {"rank": 0}), "'rank' must be >= 1")
        self.assert_fails(helpers.make_job(self.tmp / "c", {"target_modules": ["attn_x"]}), "unknown target_modules")
        self.assert_fails(helpers.make_job(self.tmp / "d", {"ties": {"k": 0}}), "'k' must be > 0")
        self.assert_fails(helpers.make_job(self.tmp / "e", {"base_model": "missing.gguf"}), "not found")
        bad_tok = helpers.make_job(self.tmp / "f")
        helpers.write_jsonl(bad_tok / "sft.jsonl", [{"tokens": [1, 5000]}])
        self.assert_fails(bad_tok, r"sft.jsonl row 1: token id 5000 outside")
        bad_json = helpers.make_job(self.tmp / "g")
        (bad_json / "dpo.jsonl").write_text('{"prompt_tokens": [1]}\nnot json\n')
        self.assert_fails(bad_json, r"dpo.jsonl:1: 'chosen_tokens'")
        no_data = helpers.make_job(self.tmp / "h", sft=False)
        self.assert_fails(no_data, "sft.jsonl is missing")


if __name__ == "__main__":
    unittest.main()
