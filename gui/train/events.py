"""The training process's progress lines (``main.py train --progress-jsonl``), without Qt.

The process prints one JSON object per line on stdout; :class:`EventLog` keeps what the
wizard draws from them: the learning curve of each (unit, fold), the per-fold metrics and
the overall fraction done with an ETA.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

EVENTS = ("start", "step", "fold", "done", "error", "cancelled")


def parse_line(line: str | bytes) -> dict | None:
    """The event of one stdout line, or None for a line that is not a progress event
    (log output, a partial line, JSON without a known ``event``)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        return None
    return event


def format_eta(seconds: float | None) -> str:
    """``"ETA 1 h 05 min"``, ``"ETA 4 min 10 s"``, ``"ETA 12 s"``; ``""`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"ETA {s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"ETA {s // 60} min {s % 60:02d} s"
    return f"ETA {s} s"


def metric(metrics: dict, part: str, name: str = "mape") -> float | None:
    """``metrics[part][name]`` as a float (``part``: train, val, test), or None."""
    value = (metrics.get(part) or {}).get(name) if isinstance(metrics, dict) else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass
class Curve:
    """One (unit, fold)'s learning curve: training loss and validation MAPE by step."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_mape: list[float] = field(default_factory=list)


@dataclass
class EventLog:
    """Everything the progress lines said so far (fed with :meth:`add`)."""

    folds: int = 0
    steps: int = 0
    units: list[str] = field(default_factory=list)
    curves: dict[tuple[str, int], Curve] = field(default_factory=dict)
    fold_metrics: dict[tuple[str, int], dict] = field(default_factory=dict)
    last_step: dict | None = None
    done: dict | None = None
    error: str | None = None
    cancelled: bool = False

    def add(self, event: dict) -> None:
        """Take one event (:func:`parse_line`)."""
        kind = event.get("event")
        if kind == "start":
            self.folds = int(event.get("folds") or 0)
            self.steps = int(event.get("steps") or 0)
            self.units = [str(u) for u in event.get("units") or []]
            self.cancelled, self.error = False, None
        elif kind == "step":
            key = (str(event.get("unit")), int(event.get("fold", 0)))
            curve = self.curves.setdefault(key, Curve())
            step = int(event.get("step", 0))
            while curve.steps and curve.steps[-1] >= step:  # a resumed run repeats steps
                curve.steps.pop(), curve.train_loss.pop()
            while curve.val_steps and curve.val_steps[-1] >= step:
                curve.val_steps.pop(), curve.val_mape.pop()
            loss = event.get("train_loss")
            if loss is not None:
                curve.steps.append(step)
                curve.train_loss.append(float(loss))
            if event.get("val_mape") is not None:
                curve.val_steps.append(step)
                curve.val_mape.append(float(event["val_mape"]))
            if event.get("steps"):
                self.steps = int(event["steps"])
            self.last_step = event
        elif kind == "fold":
            key = (str(event.get("unit")), int(event.get("fold", 0)))
            self.fold_metrics[key] = dict(event.get("metrics") or {})
        elif kind == "done":
            self.done = event
        elif kind == "error":
            self.error = str(event.get("message") or "training failed")
        elif kind == "cancelled":
            self.cancelled = True

    def fraction(self) -> float | None:
        """Overall fraction done (units × folds × steps), or None before the first step."""
        if self.done is not None:
            return 1.0
        e = self.last_step
        if e is None or not self.steps or not self.folds:
            return None
        units = self.units or [str(e.get("unit"))]
        u = units.index(e["unit"]) if e.get("unit") in units else 0
        per_fold = max(1, int(e.get("steps") or self.steps))
        done = (u * self.folds + int(e.get("fold", 0))) * per_fold + int(e.get("step", 0))
        return min(1.0, done / (len(units) * self.folds * per_fold))

    def eta_s(self) -> float | None:
        """The process's last ETA in seconds, if it gave one."""
        e = self.last_step
        if e is None or e.get("eta_s") is None:
            return None
        return float(e["eta_s"])
