from __future__ import annotations

import io
import json
import unittest

from sophont_trainer.progress import Eta, Progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class EtaTest(unittest.TestCase):
    def test_pace_since_the_first_step(self) -> None:
        clock = FakeClock()
        eta = Eta(clock)
        self.assertIsNone(eta.after("sft", 1, 10))  # one step: no pace yet
        clock.t += 4.0
        self.assertEqual(eta.after("sft", 3, 10), 14.0)  # 2 s a step, 7 steps left
        clock.t += 14.0
        self.assertEqual(eta.after("sft", 10, 10), 0.0)

    def test_a_new_phase_starts_its_own_pace(self) -> None:
        clock = FakeClock()
        eta = Eta(clock)
        eta.after("sft", 1, 4)
        clock.t += 30.0
        eta.after("sft", 4, 4)
        clock.t += 1.0
        self.assertIsNone(eta.after("dpo", 1, 5))
        clock.t += 1.0
        self.assertEqual(eta.after("dpo", 2, 5), 3.0)

    def test_progress_lines_carry_eta_seconds(self) -> None:
        out = io.StringIO()
        p = Progress(out)
        p.emit("progress", phase="sft", step=1, of=2, loss=1.0)
        p.emit("progress", phase="sft", step=2, of=2, loss=0.5)
        p.emit("done")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertIsNone(lines[0]["eta_seconds"])
        self.assertEqual(lines[1]["eta_seconds"], 0.0)
        self.assertNotIn("eta_seconds", lines[2])


if __name__ == "__main__":
    unittest.main()
