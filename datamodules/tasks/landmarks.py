"""Sparse pressure landmarks (Wang, J Biomech): where the 16- and 2-sensor insoles measure.

Positions are fractions of the footprint: `along` from the heel (0) to the toe tip (1), `across` from
the medial (0) to the lateral (1) edge. They are placed on each foot's own outline, so the same set
fits any grid size and any foot.
"""

from __future__ import annotations

import numpy as np

from datamodules.errors import DataError

# name: (along, across)
LANDMARKS_16: dict[str, tuple[float, float]] = {
    "heel_medial": (0.08, 0.35), "heel_centre": (0.06, 0.50), "heel_lateral": (0.08, 0.65),
    "midfoot_medial": (0.40, 0.30), "midfoot_centre": (0.42, 0.55), "midfoot_lateral": (0.45, 0.80),
    "mth1": (0.70, 0.20), "mth2": (0.72, 0.38), "mth3": (0.71, 0.55), "mth4": (0.69, 0.70), "mth5": (0.66, 0.85),
    "hallux": (0.90, 0.22), "toe2": (0.88, 0.42), "toe3": (0.86, 0.56), "toe4": (0.84, 0.69), "toe5": (0.81, 0.82),
}
LANDMARKS_2 = {k: LANDMARKS_16[k] for k in ("heel_centre", "mth3")}  # heel + 3rd metatarsal head
# The ablation's intermediate and denser sets (ours, not the paper's): 4 = heel, 1st and 5th metatarsal heads,
# hallux (the classic 4-sensor insole); 8 adds the medial/lateral heel, the lateral midfoot and the 3rd
# metatarsal head; 32 adds a second ring of 16 cells between the 16 anatomical ones.
LANDMARKS_4 = {k: LANDMARKS_16[k] for k in ("heel_centre", "mth1", "mth5", "hallux")}
LANDMARKS_8 = {k: LANDMARKS_16[k] for k in ("heel_medial", "heel_lateral", "midfoot_lateral", "mth1", "mth3",
                                           "mth5", "hallux", "toe3")}
LANDMARKS_32 = {**LANDMARKS_16, **{
    "heel_back": (0.02, 0.50), "heel_front_medial": (0.16, 0.38), "heel_front_centre": (0.17, 0.52),
    "heel_front_lateral": (0.16, 0.68), "arch_rear_medial": (0.28, 0.30), "arch_rear_lateral": (0.30, 0.75),
    "arch_medial": (0.52, 0.25), "arch_lateral": (0.55, 0.82), "forefoot_rear_medial": (0.60, 0.25),
    "forefoot_rear_centre": (0.60, 0.50), "forefoot_rear_lateral": (0.58, 0.78), "mth12": (0.76, 0.30),
    "mth34": (0.76, 0.62), "toe_base_medial": (0.82, 0.30), "toe_base_lateral": (0.78, 0.76),
    "toe_tip": (0.96, 0.25),
}}
LANDMARK_SETS = {2: LANDMARKS_2, 4: LANDMARKS_4, 8: LANDMARKS_8, 16: LANDMARKS_16, 32: LANDMARKS_32}


def landmark_cells(footprint: np.ndarray, n_landmarks: int) -> np.ndarray:
    """`[L, 2]` (row, column) cells of the landmark set on a boolean footprint `[H, W]` (row 0 = heel)."""
    if n_landmarks not in LANDMARK_SETS:
        raise DataError(f"landmarks: expected one of {sorted(LANDMARK_SETS)}, found {n_landmarks}")
    rows, cols = np.nonzero(footprint)
    if not len(rows):
        raise DataError("landmarks: the foot outline is empty (no geometry cell >= 0)")
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    if len(rows) < n_landmarks:
        raise DataError(f"landmarks: {n_landmarks} sensors need at least as many foot cells; found {len(rows)}")
    cells: list[tuple[int, int]] = []
    taken = np.zeros(len(rows), bool)
    for along, across in LANDMARK_SETS[n_landmarks].values():
        r = r0 + along * (r1 - r0)
        c = c0 + across * (c1 - c0)
        distance = np.where(taken, np.inf, (rows - r) ** 2 + (cols - c) ** 2)
        nearest = int(np.argmin(distance))  # snap onto the footprint, one sensor per cell
        taken[nearest] = True
        cells.append((rows[nearest], cols[nearest]))
    return np.asarray(cells, dtype=np.int64)
