"""What every benchmark prints: percentiles and a table of figures with their targets (PASS / MISS)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (NaN for no values)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan


@dataclass
class Row:
    metric: str
    measured: str
    target: str = ""
    passed: bool | None = None  # None: for information, no target

    @property
    def result(self) -> str:
        return "" if self.passed is None else "PASS" if self.passed else "MISS"


def table(lines: Sequence[Row]) -> str:
    header = Row("metric", "measured", "target")
    widths = [max(len(getattr(r, col)) for r in [header, *lines]) for col in ("metric", "measured", "target")]
    out = []
    for r in [header, *lines]:
        result = "result" if r is header else r.result
        out.append(f"{r.metric:<{widths[0]}}  {r.measured:>{widths[1]}}  {r.target:<{widths[2]}}  {result}".rstrip())
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def print_report(lines: Sequence[Row], started: float, *, load: bool = True) -> None:
    """The table, which targets were missed, and (``load``) the machine's load; ``started`` on ``monotonic()``."""
    print()
    print(table(lines))
    missed = [r.metric.strip() for r in lines if r.passed is False]
    print(f"\n{len(missed)} target(s) missed: {'; '.join(missed)}" if missed else "\nall targets met")
    where = f"load average {os.getloadavg()[0]:.2f}; " if load else ""
    print(f"{where}total {time.monotonic() - started:.1f} s")
