"""Pressure-only fallbacks of `landmarks2pressure` (docs/tasks.md): what a pressure plate or a bare insole
export lacks, gait events and plantar geometry, recovered from the pressure maps themselves.

- stance without events: the frames whose total force exceeds a share of the foot's peak in that trial;
- a footprint without geometry: the cells the *training* subjects load on average (never the test subjects');
- geometry checks: an all-zero or otherwise unusable height map is named, not used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from datamodules.errors import DataError

CONTACT_THRESHOLD = 0.05  # a frame is contact when the foot's total force exceeds 5 % of its peak in the trial
PEAK_PERCENTILE = 99.0    # the "peak" is the 99th percentile of the per-frame total (one spike does not set it)
MIN_CONTACT_S = 0.1       # shorter contact runs are sensor noise or a shuffle, not a stance
FOOTPRINT_FRACTION = 0.02  # footprint cells: mean training stance pressure >= 2 % of the most loaded cell's


def contact_frames(total_force: np.ndarray, threshold: float = CONTACT_THRESHOLD, min_frames: int = 1) -> np.ndarray:
    """Frames of complete contact runs: total force above `threshold` x its peak, at least `min_frames` long,
    and neither touching the first nor the last frame (a cut stance is not a stance)."""
    total_force = np.asarray(total_force, np.float64)
    if not len(total_force):
        return np.zeros(0, np.int64)
    peak = np.percentile(total_force, PEAK_PERCENTILE)
    if not peak > 0:
        return np.zeros(0, np.int64)
    on = np.concatenate([[False], total_force > threshold * peak, [False]])
    edges = np.flatnonzero(np.diff(on.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    keep = (stops - starts >= min_frames) & (starts > 0) & (stops < len(total_force))
    runs = [np.arange(a, b) for a, b in zip(starts[keep], stops[keep])]
    return np.concatenate(runs).astype(np.int64) if runs else np.zeros(0, np.int64)


def footprint_outline(mean_map: np.ndarray, foot: str = "", fraction: float = FOOTPRINT_FRACTION) -> np.ndarray:
    """Boolean outline `[H, W]`: cells whose mean (training) stance pressure is >= `fraction` of the maximum."""
    mean_map = np.asarray(mean_map, np.float64)
    top = float(mean_map.max()) if mean_map.size else 0.0
    if not top > 0:
        raise DataError(f"footprint{f' ({foot} foot)' if foot else ''}: the training subjects' stance pressure is "
                        f"zero everywhere; found no loaded cell to outline")
    return mean_map >= fraction * top


def geometry_problem(geometry: np.ndarray, grid: tuple[int, int] | None) -> str | None:
    """Why a plantar height map cannot place landmarks (None if it can). The outline is the cells >= 0;
    the format stores -1 outside the foot."""
    if grid is not None and tuple(geometry.shape) != tuple(grid):
        return f"shape {tuple(geometry.shape)}, expected the pressure grid {tuple(grid)}"
    if not np.isfinite(geometry).all():
        return f"{int((~np.isfinite(geometry)).sum())} non-finite values"
    if geometry.size and np.all(geometry == geometry.flat[0]):
        return f"all values equal ({float(geometry.flat[0]):g}), so it holds no outline"
    inside = geometry >= 0
    if not inside.any():
        return "no cell >= 0 (empty outline)"
    if inside.all():
        return "no cell < 0, so the outline is the whole grid"
    return None


def check_cells(cells: Sequence[Sequence[int]] | np.ndarray, grid: tuple[int, int] | None) -> np.ndarray:
    """`landmark_cells` as an `[L, 2]` int array: (row, column) pairs inside `grid`, each cell once."""
    try:
        arr = np.asarray(cells)
        ok = arr.ndim == 2 and arr.shape[1] == 2 and len(arr) >= 1 and np.all(arr == np.round(arr))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"landmark_cells: expected a list of [row, column] integer pairs, found {cells!r}")
    arr = arr.astype(np.int64)
    if grid is not None:
        outside = [tuple(map(int, c)) for c in arr if not (0 <= c[0] < grid[0] and 0 <= c[1] < grid[1])]
        if outside:
            raise DataError(f"landmark_cells: expected cells inside the {grid[0]} x {grid[1]} pressure grid, "
                            f"found {outside}")
    if len({tuple(c) for c in arr.tolist()}) != len(arr):
        raise DataError(f"landmark_cells: expected each cell once, found repeats in {arr.tolist()}")
    return arr


def shorten(items: Sequence[str], limit: int = 4) -> str:
    """`a, b, c, d and 5 more`: a list for a one-line message."""
    items = list(items)
    head = ", ".join(items[:limit])
    return head if len(items) <= limit else f"{head} and {len(items) - limit} more"
