"""Progress as JSON lines on stdout, one event per line, flushed at once.

The Muscle follows the trainer's stdout (redirected to a log on the GPU host) by byte offset and turns
each line into an event, so a line must never be split or buffered: one write + flush per line.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, TextIO


def _clean(v: Any) -> Any:
    # JSON has no NaN/Infinity; a diverging loss is reported as null rather than breaking the line
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


class Eta:
    """Seconds a phase still needs, at its pace since its first step (the first step, which pays for
    warm-up and allocation, is left out of the pace). None until two steps of the phase are seen."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.phase: str | None = None
        self.first: tuple[int, float] = (0, 0.0)

    def after(self, phase: str, step: int, of: int) -> float | None:
        now = self.clock()
        if phase != self.phase or step <= self.first[0]:
            self.phase, self.first = phase, (step, now)
            return 0.0 if step >= of else None
        per_step = (now - self.first[1]) / (step - self.first[0])
        return round(max(0, of - step) * per_step, 1)


class Progress:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.eta = Eta()

    def emit(self, event: str, **fields: Any) -> None:
        if event == "progress" and "eta_seconds" not in fields and isinstance(fields.get("step"), int) and isinstance(fields.get("of"), int):
            fields["eta_seconds"] = self.eta.after(str(fields.get("phase")), fields["step"], fields["of"])
        line = json.dumps(_clean({"event": event, "time": round(time.time(), 3), **fields}), allow_nan=False)
        self.out.write(line + "\n")
        self.out.flush()


class Silent(Progress):
    """For library use and tests that do not want the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **_clean(fields)})
