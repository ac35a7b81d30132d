"""Packet counters with gaps (dropped wireless packets): detect, fill short gaps, split at long ones.

A counter column (Xsens `PacketCounter`, a sample index) should rise by exactly 1 per row. A step of
k > 1 means k - 1 samples never arrived. Gaps of at most `max_fill` missing samples are filled by cubic
interpolation (`scipy.interpolate.CubicSpline` over the counter) in every other column; a longer gap
splits the recording there, because inventing longer stretches of gait signal would invent events.
16-bit counters wrap (65535 -> 0); a drop to a smaller value is read as a wrap when the counter never
exceeds 65535, and is otherwise an error naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from datamodules.errors import DataError
from datamodules.readers.table import Table

COUNTER_NAMES = ("packetcounter", "packet_counter", "counter", "samplecounter", "sample_counter",
                 "framecounter", "frame_counter", "packet number")
MAX_FILL_SAMPLES = 5  # default: 50 ms at 100 Hz; a heel-strike transient lasts about that long
WRAP = 65536


@dataclass(frozen=True)
class GapReport:
    """What `fill_counter_gaps` found and did."""

    counter: str
    gaps: int  # number of gaps
    missing: int  # samples missing in all gaps
    filled_gaps: int
    filled: int  # samples interpolated
    splits: int  # gaps longer than the limit: the recording is split there

    def describe(self, max_fill: int) -> str:
        if not self.gaps:
            return f"counter '{self.counter}': no gaps"
        text = (f"counter '{self.counter}': {self.gaps} gap(s), {self.missing} missing sample(s); "
                f"{self.filled} sample(s) in {self.filled_gaps} gap(s) of <= {max_fill} filled by cubic "
                "interpolation")
        if self.splits:
            text += f"; split at {self.splits} longer gap(s) into {self.splits + 1} parts"
        return text


def find_counter(names: list[str] | tuple[str, ...]) -> str | None:
    """The first column whose name (case-insensitive, path prefixes ignored) is a known counter name."""
    for name in names:
        if name.rsplit("/", 1)[-1].strip().lower() in COUNTER_NAMES:
            return name
    return None


def unwrap_counter(values: np.ndarray, table: Table, name: str) -> np.ndarray:
    """Counter as increasing int64, 16-bit wraps undone; errors name the line of a repeat or step back."""
    if not np.isfinite(values).all() or not np.allclose(values, np.round(values)):
        row = int(np.argmax(~np.isfinite(values) | (values != np.round(values))))
        raise DataError(f"{table.where(row)}, column '{name}': expected an integer counter, found {values[row]}")
    c = np.round(values).astype(np.int64)
    step = np.diff(c)
    wraps = step < 0
    if wraps.any() and c.max() < WRAP and c.min() >= 0:
        step = np.where(wraps, step + WRAP, step)
    bad = np.flatnonzero(step <= 0)
    if len(bad):
        row = int(bad[0]) + 1
        raise DataError(f"{table.where(row)}, column '{name}': expected a counter rising by 1 per sample, "
                        f"found {c[row]} after {c[row - 1]} (a repeated or out-of-order packet)")
    return np.concatenate([[0], np.cumsum(step)])


def fill_counter_gaps(table: Table, counter: str, max_fill: int = MAX_FILL_SAMPLES) -> tuple[Table, GapReport]:
    """A new table on the counter's timeline: short gaps filled, long gaps left out and listed in
    `segments` (row ranges of the new table that are continuous). The counter column keeps the
    original counter values (filled ones interpolated)."""
    table.require([counter], "the counter column")
    if max_fill < 0:
        raise DataError(f"{table.source}: max_fill: expected a number of samples >= 0, found {max_fill}")
    position = unwrap_counter(table.columns[counter], table, counter)
    step = np.diff(position)
    gap_rows = np.flatnonzero(step > 1)
    missing = step[gap_rows] - 1
    long_gaps = gap_rows[missing > max_fill]
    report = GapReport(counter, len(gap_rows), int(missing.sum()), int((missing <= max_fill).sum()),
                       int(missing[missing <= max_fill].sum()), len(long_gaps))
    if not len(gap_rows):
        return table, report
    # rows of the new timeline: every counter position, except inside gaps that are too long
    pieces = np.split(np.arange(len(position)), long_gaps + 1)
    new_positions, segments, offset = [], [], 0
    for piece in pieces:
        span = np.arange(position[piece[0]], position[piece[-1]] + 1)
        new_positions.append(span)
        segments.append((offset, offset + len(span)))
        offset += len(span)
    timeline = np.concatenate(new_positions)
    columns = {}
    for name, values in table.columns.items():
        out = np.empty(len(timeline))
        for piece, (a, b) in zip(pieces, segments):
            x = position[piece]
            y = values[piece]
            if len(piece) >= 2 and b - a > len(piece):
                ok = np.isfinite(y)
                out[a:b] = CubicSpline(x[ok], y[ok])(timeline[a:b]) if ok.sum() >= 2 else np.nan
                out[a:b][np.isin(timeline[a:b], x)] = y  # measured samples stay exactly as read
            else:
                out[a:b] = y
        columns[name] = out
    measured = np.searchsorted(timeline, position)
    lines = table.line_of_row

    def line_of_row(row: int) -> int:
        """A filled row has no line of its own: it names the line of the next measured sample."""
        if lines is None:
            raise ValueError("no lines")
        return lines(int(min(np.searchsorted(measured, row), len(measured) - 1)))

    return Table(
        source=table.source,
        columns=columns,
        notes=[*table.notes, report.describe(max_fill)],
        line_of_row=line_of_row if lines is not None else None,
        sample_rate_hz=table.sample_rate_hz,
        events=table.events,
        segments=segments if len(segments) > 1 else None,
        extras={**table.extras, "counter_position": timeline, "counter_start": int(position[0])},
    ), report


__all__ = ["COUNTER_NAMES", "MAX_FILL_SAMPLES", "GapReport", "fill_counter_gaps", "find_counter", "unwrap_counter"]
