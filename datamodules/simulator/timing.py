"""Gait timing: stance and stride durations by speed, and alternating contact schedules.

The walking laws reproduce the pressure-plate means of SPEC 3.3 (stance 0.75 / 0.64 / 0.54 s at
1.11 / 1.43 / 1.95 m/s, a power law in speed) and the duty factor of about 0.62 at normal speed;
running follows the usual 0.26 s stance at 3 m/s, shortening with speed, with flight phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from datamodules.naming import FEET


def walking_stance_s(speed: float) -> float:
    return 0.75 * (speed / 1.11) ** -0.583


def walking_duty(speed: float) -> float:
    """Stance fraction of the gait cycle: 0.635 slow, 0.62 at 1.43 m/s, 0.60 fast."""
    return float(np.interp(speed, (0.8, 1.11, 1.43, 1.95), (0.645, 0.635, 0.62, 0.60)))


def running_stance_s(speed: float) -> float:
    return 0.26 * (speed / 3.0) ** -0.8


def running_stride_s(speed: float) -> float:
    return 0.70 * (speed / 3.0) ** -0.12


@dataclass(frozen=True)
class Contacts:
    """Heel-strike and toe-off times (s) per foot; stance `k` of a foot is `[hs[k], to[k])`."""

    heel_strike: dict[str, np.ndarray]
    toe_off: dict[str, np.ndarray]

    def stances(self, foot: str) -> np.ndarray:
        """`[n, 2]` (start, end) of every stance of `foot`."""
        return np.stack([self.heel_strike[foot], self.toe_off[foot]], axis=1)


def alternating_contacts(
    stride_s: float, stance_s: float, start_s: float, stop_s: float, rng: np.random.Generator, cv: float
) -> Contacts:
    """Left/right stances half a cycle apart with stride-to-stride variability `cv` (fraction).

    Stride durations follow a mildly persistent random sequence (as measured stride series do);
    each stance scales with its stride so the duty factor stays on its law, plus its own jitter.
    """
    n = int(np.ceil((stop_s - start_s) / stride_s)) + 3
    innovation = rng.standard_normal(n)
    persistent = np.empty(n)
    persistent[0] = innovation[0]
    for k in range(1, n):  # AR(1): one step per stride, not per sample
        persistent[k] = 0.4 * persistent[k - 1] + np.sqrt(1 - 0.4**2) * innovation[k]
    strides = stride_s * (1.0 + cv * persistent)
    right_hs = start_s - rng.uniform(0.0, stride_s) + np.concatenate([[0.0], np.cumsum(strides[:-1])])
    left_hs = right_hs + strides * (0.5 + 0.2 * cv * rng.standard_normal(n))
    heel_strike = {"right": right_hs, "left": left_hs}
    toe_off = {
        foot: heel_strike[foot] + stance_s * strides / stride_s * (1.0 + 0.5 * cv * rng.standard_normal(n))
        for foot in FEET
    }
    return Contacts(heel_strike, toe_off)


def cycle_phase(t: np.ndarray, heel_strikes: np.ndarray) -> np.ndarray:
    """Gait phase in cycles (0 at a heel strike, +1 per stride), twice differentiable in time.

    A cubic spline through (heel strike k, k) keeps the phase rate continuous across strides of
    different length, so joint angles built on it have smooth velocities and accelerations.
    """
    return CubicSpline(heel_strikes, np.arange(len(heel_strikes), dtype=float))(t)
