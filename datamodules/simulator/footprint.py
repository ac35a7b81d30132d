"""The plantar side of a foot on the insole grid: outline, height map, contact area and load kernels.

Coordinates are insole coordinates: `u` along the foot from the heel edge of row 0, `v` across from the
medial edge of column 0 (the left foot is mirrored, so both feet share one layout). Shapes are written
in fractions `a = u / L` (heel 0, toe tip 1) and `b = v / W` (medial 0, lateral 1) of the subject's
foot length and width, so they scale with the foot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Regions of SPEC 3.3's load shares, as fractions of footprint length.
REGION_BOUNDS = {"heel": (0.0, 0.30), "midfoot": (0.30, 0.55), "forefoot": (0.55, 1.0)}

# Load kernels: (a, b, sd_a, sd_b). The heel has a rear kernel (first contact, COP at ~6 % of the
# footprint), a broad main one and a compact core at the same place (harder heel strikes load it);
# metatarsal heads 1-5 run from the medial to the lateral edge.
KERNELS = {
    "heel_rear": (0.06, 0.47, 0.039, 0.178),
    "heel": (0.15, 0.47, 0.063, 0.241),
    "heel_core": (0.15, 0.47, 0.045, 0.161),
    "midfoot": (0.44, 0.74, 0.042, 0.078),
    "mh1": (0.7, 0.14, 0.044, 0.095),
    "mh2": (0.72, 0.32, 0.044, 0.083),
    "mh3": (0.71, 0.48, 0.044, 0.083),
    "mh4": (0.68, 0.64, 0.044, 0.083),
    "mh5": (0.645, 0.81, 0.044, 0.083),
    "hallux": (0.965, 0.17, 0.039, 0.144),
    "toes": (0.875, 0.6, 0.033, 0.211),
}
KERNEL_NAMES = tuple(KERNELS)

# Foot outline: ellipses (a, b, half-length, half-width) and the midfoot band (a0, a1, b0, b1).
_ELLIPSES = ((0.16, 0.47, 0.16, 0.33), (0.68, 0.50, 0.13, 0.50), (0.885, 0.18, 0.115, 0.17),
             (0.84, 0.62, 0.085, 0.31))
_MIDFOOT_BAND = (0.16, 0.68, 0.12, 0.92)
CONTACT_MM = 2.5  # plantar tissue this close to the ground still touches it under load


@dataclass(frozen=True)
class Footprint:
    """One subject's plantar surface on the insole grid (both feet share it)."""

    cell_size_m: tuple[float, float]
    foot_length_m: float
    geometry_mm: np.ndarray  # [H, W] plantar height, -1 outside the outline
    contact: np.ndarray  # [H, W] bool: cells that bear load
    kernels: np.ndarray  # [K, H, W] in 1/m^2, each sums to 1 over cell areas
    centroids_m: np.ndarray  # [K, 2] kernel centroids (u, v)

    @property
    def cell_area_m2(self) -> float:
        return self.cell_size_m[0] * self.cell_size_m[1]

    @property
    def cell_centres_u_m(self) -> np.ndarray:
        return (np.arange(self.contact.shape[0]) + 0.5) * self.cell_size_m[0]

    @property
    def extent_m(self) -> tuple[float, float]:
        """Footprint (first and last loaded row edge) along the foot."""
        rows = np.flatnonzero(self.contact.any(axis=1))
        return rows[0] * self.cell_size_m[0], (rows[-1] + 1) * self.cell_size_m[0]

    def region_masks(self) -> dict[str, np.ndarray]:
        """Heel / midfoot / forefoot cells by the fraction of footprint length at the cell centre."""
        start, stop = self.extent_m
        fraction = (self.cell_centres_u_m - start) / (stop - start)
        return {
            name: self.contact & ((fraction >= lo) & ((fraction < hi) | (hi >= 1.0)))[:, None]
            for name, (lo, hi) in REGION_BOUNDS.items()
        }

    def fraction_of_length(self, u_m: np.ndarray) -> np.ndarray:
        start, stop = self.extent_m
        return (np.asarray(u_m) - start) / (stop - start)


def build_footprint(
    foot_length_m: float,
    foot_width_m: float,
    arch_height_mm: float,
    grid: tuple[int, int],
    cell_size_m: tuple[float, float],
    rng: np.random.Generator,
) -> Footprint:
    """Outline, plantar height map and kernels for one subject; `rng` jitters kernel placement a little."""
    dy, dx = cell_size_m
    u = (np.arange(grid[0]) + 0.5) * dy
    v = (np.arange(grid[1]) + 0.5) * dx
    a = (u / foot_length_m)[:, None]  # the heel touches the edge of row 0 and the medial border column 0
    b = (v / foot_width_m)[None, :]
    outline = np.zeros(grid, bool)
    for a0, b0, ra, rb in _ELLIPSES:
        outline |= ((a - a0) / ra) ** 2 + ((b - b0) / rb) ** 2 <= 1.0
    a0, a1, b0, b1 = _MIDFOOT_BAND
    outline |= (a >= a0) & (a <= a1) & (b >= b0) & (b <= b1)
    # Medial longitudinal arch: rises toward the medial edge between heel and metatarsal heads.
    along = np.where(np.abs(a - 0.45) < 0.22, 0.5 * (1.0 + np.cos(np.pi * (a - 0.45) / 0.22)), 0.0)
    across = np.clip((0.85 - b) / 0.75, 0.0, 1.0) ** 1.5
    height = arch_height_mm * along * across
    contact = outline & (height <= CONTACT_MM)
    geometry = np.where(outline, height, -1.0).astype(np.float32)

    kernels, centroids = [], []
    area = dy * dx
    for ka, kb, sa, sb in KERNELS.values():
        ka, kb = ka + 0.01 * rng.standard_normal(), kb + 0.02 * rng.standard_normal()
        scale = 1.0 + 0.05 * rng.standard_normal(2)
        blob = np.exp(-0.5 * (((a - ka) / (sa * scale[0])) ** 2 + ((b - kb) / (sb * scale[1])) ** 2)) * contact
        blob = blob / (blob.sum() * area)
        kernels.append(blob)
        centroids.append([(blob.sum(axis=1) * u).sum() * area, (blob.sum(axis=0) * v).sum() * area])
    return Footprint(
        cell_size_m=(dy, dx),
        foot_length_m=foot_length_m,
        geometry_mm=geometry,
        contact=contact,
        kernels=np.stack(kernels),
        centroids_m=np.asarray(centroids),
    )
