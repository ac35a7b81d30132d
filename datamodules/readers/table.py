"""`Table`: what every reader returns, so `zoo data import` and `zoo data events` treat all formats alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datamodules.errors import DataError


def missing_found(missing: Iterable[Any], found: Iterable[Any], limit: int = 12) -> str:
    """`missing: a, b; found: x, y, ...` for errors about absent names (what is absent after "missing",
    what is there after "found")."""

    def show(items: Iterable[Any]) -> str:
        items = [str(i) for i in items]
        more = f", ... ({len(items)} in all)" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more if items else "nothing"

    return f"missing: {show(missing)}; found: {show(found)}"


@dataclass
class Table:
    """Named 1-D columns of one file, plus what the reader learned or did on the way.

    notes:         one line per thing the reader did that the user should know (preamble skipped,
                   delimiter detected, counter gaps filled); `zoo data import` prints them in its report.
    line_of_row:   data row -> 1-based line of the file, for errors that name the line (text files only).
    sample_rate_hz: when the file states it (C3D, MATLAB `Fs`, OpenSim time column).
    events:        foot -> {"heel_strike": idx, "toe_off": idx} when the file holds events.
    segments:      [(start, stop)] row ranges that are continuous; more than one when the reader split the
                   file at a gap it would not fill.
    extras:        reader-specific arrays that are not columns (C3D: per-foot GRF, COP, keypoints).
    """

    source: str
    columns: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    line_of_row: Callable[[int], int] | None = None
    sample_rate_hz: float | None = None
    events: dict[str, dict[str, np.ndarray]] | None = None
    segments: list[tuple[int, int]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def require(self, names: Iterable[str], what: str = "column(s)") -> None:
        """Raise naming the file, the absent columns and the ones that are there."""
        absent = [n for n in names if n not in self.columns]
        if absent:
            raise DataError(f"{self.source}: expected {what} {absent}: {missing_found(absent, self.columns)}")

    def where(self, row: int) -> str:
        """`file, line N` for text files, else `file, sample i`."""
        if self.line_of_row is not None:
            return f"{self.source}, line {self.line_of_row(row)}"
        return f"{self.source}, sample {row}"
