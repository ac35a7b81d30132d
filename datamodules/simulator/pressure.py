"""Plantar pressure: how a foot's vertical force is shared among its load kernels over a stance.

`pressure[t] = F_vertical[t] * sum_r w_r[t] K_r` with kernels that each integrate to 1 over the
cell areas and weights that sum to 1, so the map integrates to the vertical GRF by construction and
its centroid (the COP) is `sum_r w_r[t] c_r`, the weighted kernel centroids. The weight tables are
calibrated to the heel / midfoot / forefoot load shares of SPEC 3.3 (see docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.interpolate import PchipInterpolator

from datamodules.simulator.footprint import KERNEL_NAMES, Footprint

N_PER_M2_TO_N_PER_CM2 = 1e-4
# Stored resolution of noise-free pressure (N/cm^2): a power of two, so the zero low mantissa bits
# compress well; 0.001 N/cm^2 moves a frame's total force by well under 0.1 N.
CLEAN_RESOLUTION = 2.0**-10
# Midfoot kernel load by arch type (SPEC 3.3: a low arch loads the midfoot more, a high arch less).
ARCH_MIDFOOT = {"low": 1.6, "normal": 1.0, "high": 0.45, "unknown": 1.0}


def _table(rows: dict[float, dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    phases = np.array(sorted(rows))
    weights = np.array([[rows[p].get(k, 0.0) for k in KERNEL_NAMES] for p in phases])
    return phases, weights / weights.sum(axis=1, keepdims=True)


_M = ("mh1", "mh2", "mh3", "mh4", "mh5")


def _fore(total: float, split: tuple[float, ...], hallux: float = 0.0, toes: float = 0.0) -> dict[str, float]:
    """`total` on metatarsal heads 1-5 in proportions `split`, plus hallux and lesser-toe loads."""
    split_arr = np.asarray(split) / sum(split)
    return {**{m: total * w for m, w in zip(_M, split_arr)}, "hallux": hallux, "toes": toes}


_LATERAL = (0.15, 0.25, 0.25, 0.2, 0.15)  # early forefoot loading: lateral-central heads
_CENTRAL = (0.2, 0.28, 0.25, 0.16, 0.11)
_MEDIAL = (0.33, 0.3, 0.2, 0.11, 0.06)  # push-off over the first rays

# Heel strike to toe-off of forward walking at normal speed (stance fraction -> kernel weights).
WALK_TABLE = _table({
    0.00: {"heel_rear": 1.0},
    0.05: {"heel_rear": 0.7, "heel": 0.3},
    0.10: {"heel_rear": 0.3, "heel": 0.67, **_fore(0.03, _LATERAL)},
    0.20: {"heel_rear": 0.06, "heel": 0.82, "midfoot": 0.02, **_fore(0.10, _LATERAL)},
    0.30: {"heel": 0.70, "midfoot": 0.07, **_fore(0.23, _LATERAL)},
    0.40: {"heel": 0.45, "midfoot": 0.09, **_fore(0.46, _CENTRAL)},
    0.50: {"heel": 0.227, "midfoot": 0.085, **_fore(0.668, _CENTRAL, hallux=0.02)},
    0.60: {"heel": 0.04, "midfoot": 0.05, **_fore(0.84, _CENTRAL, hallux=0.05, toes=0.02)},
    0.70: {"midfoot": 0.025, **_fore(0.80, _MEDIAL, hallux=0.12, toes=0.055)},
    0.80: {"midfoot": 0.01, **_fore(0.76, _MEDIAL, hallux=0.15, toes=0.08)},
    0.90: {**_fore(0.60, _MEDIAL, hallux=0.30, toes=0.10)},
    0.97: {**_fore(0.15, _MEDIAL, hallux=0.78, toes=0.07)},
    1.00: {"mh1": 0.03, "hallux": 0.95, "toes": 0.02},
})

# Flat-footed stepping (in place, sideways): forefoot first contact, broad mid-stance, forefoot push-off.
FLAT_TABLE = _table({
    0.00: {**_fore(0.85, _CENTRAL, toes=0.15)},
    0.15: {"heel": 0.25, "midfoot": 0.06, **_fore(0.62, _CENTRAL, toes=0.07)},
    0.35: {"heel_rear": 0.05, "heel": 0.40, "midfoot": 0.08, **_fore(0.45, _CENTRAL, toes=0.02)},
    0.65: {"heel": 0.35, "midfoot": 0.08, **_fore(0.52, _CENTRAL, hallux=0.03, toes=0.02)},
    0.85: {"heel": 0.05, "midfoot": 0.04, **_fore(0.70, _MEDIAL, hallux=0.15, toes=0.06)},
    1.00: {**_fore(0.40, _MEDIAL, hallux=0.50, toes=0.10)},
})

# Both feet planted (stand, squat, lunge front foot): heel-biased static share.
STATIC_TABLE = _table({0.0: {"heel_rear": 0.05, "heel": 0.52, "midfoot": 0.07, **_fore(0.34, _CENTRAL, 0.02)}})
HEEL_LOADED_TABLE = _table({0.0: {"heel_rear": 0.08, "heel": 0.62, "midfoot": 0.08, **_fore(0.22, _CENTRAL)}})
TOE_STANCE_TABLE = _table({0.0: {**_fore(0.70, _MEDIAL, hallux=0.2, toes=0.1)}})  # lunge rear foot, heel up


@dataclass(frozen=True)
class LoadPattern:
    """Kernel weights over stance: a table, a phase warp and multiplicative kernel groups.

    `warp` < 1 moves the table earlier (faster walking loads the forefoot sooner); `reverse` plays it
    backward (backward walking rolls from toe to heel); `midfoot` and `heel` scale those kernels before
    renormalisation (arch type, walking speed, subject style); `heel_focus` moves that fraction of the
    main heel kernel's load onto the compact heel core (harder heel strikes at speed).
    """

    phases: np.ndarray
    weights: np.ndarray
    warp: float = 1.0
    reverse: bool = False
    midfoot: float = 1.0
    heel: float = 1.0
    heel_focus: float = 0.0

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """`[len(s), K]` weights summing to 1 at stance fractions `s` in [0, 1]."""
        s = np.clip(np.asarray(s, float), 0.0, 1.0)
        s = 1.0 - s if self.reverse else s
        s = s**self.warp
        if len(self.phases) == 1:
            w = np.repeat(self.weights, len(s), axis=0)
        else:
            w = self._interpolator(s).clip(min=0.0)
        scale = np.ones(len(KERNEL_NAMES))
        scale[KERNEL_NAMES.index("midfoot")] = self.midfoot
        scale[[KERNEL_NAMES.index(k) for k in ("heel_rear", "heel", "heel_core")]] = self.heel
        w = w * scale
        core, main = KERNEL_NAMES.index("heel_core"), KERNEL_NAMES.index("heel")
        w[:, core] += self.heel_focus * w[:, main]
        w[:, main] *= 1.0 - self.heel_focus
        return w / w.sum(axis=1, keepdims=True)

    @cached_property
    def _interpolator(self) -> PchipInterpolator:
        return PchipInterpolator(self.phases, self.weights, axis=0)


def pattern(table: tuple[np.ndarray, np.ndarray], **options: float | bool) -> LoadPattern:
    return LoadPattern(table[0], table[1], **options)


def pressure_maps(vertical_n: np.ndarray, weights: np.ndarray, footprint: Footprint) -> np.ndarray:
    """`[T, H, W]` pressure in N/cm^2 from the vertical force `[T]` and kernel weights `[T, K]`."""
    flat = footprint.kernels.reshape(len(footprint.kernels), -1)
    density = (weights @ flat) * (vertical_n * N_PER_M2_TO_N_PER_CM2)[:, None]
    density = np.round(density / CLEAN_RESOLUTION) * CLEAN_RESOLUTION
    return density.reshape((len(vertical_n), *footprint.contact.shape))


def analytic_cop(weights: np.ndarray, footprint: Footprint) -> np.ndarray:
    """`[T, 2]` centre of pressure (u, v) in insole metres: the weighted kernel centroids."""
    return weights @ footprint.centroids_m


def pressure_centroid(pressure: np.ndarray, cell_size_m: tuple[float, float]) -> np.ndarray:
    """`[T, 2]` centroid (u, v) of pressure maps; NaN for unloaded frames."""
    total = pressure.sum(axis=(1, 2))
    u = (np.arange(pressure.shape[1]) + 0.5) * cell_size_m[0]
    v = (np.arange(pressure.shape[2]) + 0.5) * cell_size_m[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([pressure.sum(axis=2) @ u, pressure.sum(axis=1) @ v], axis=1) / total[:, None]
