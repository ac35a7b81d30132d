"""Ground reaction force templates per stance, impulse balance, and the COM from Newton's law.

Templates are functions of stance fraction `s` on `S_GRID`, expressed as multiples of the stance-mean
vertical force, because that is how the force-plate targets of SPEC 3.3 are stated (first peak 1.40 at
22 %, valley 0.97 at 48 %, second peak 1.43 at 77 % at normal speed). The absolute size of each stance
comes from impulse balance, never from the template: over a step the feet must deliver m g times
the step time, otherwise the COM would drift.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

from datamodules.naming import GRAVITY
from datamodules.simulator.timing import walking_duty

S_GRID = np.linspace(0.0, 1.0, 1001)

# Walking vertical peaks and valley in body weights by speed (SPEC 3.3: peaks 1.0-1.3 BW rising with
# speed, about 1.3x from slow to fast; valley 0.6-0.85 BW, deeper when faster).
_SPEEDS = (0.8, 1.11, 1.43, 1.95, 2.1)
_PEAK1_BW = (1.01, 1.02, 1.129, 1.265, 1.29)
_VALLEY_BW = (0.84, 0.81, 0.782, 0.64, 0.61)
_PEAK2_BW = (1.02, 1.04, 1.153, 1.215, 1.23)


def _pchip(points: list[tuple[float, float]]) -> np.ndarray:
    s, y = zip(*points)
    return PchipInterpolator(s, y)(S_GRID)


def _double_hump(peak1: float, valley: float, peak2: float, fill: float) -> np.ndarray:
    """Walking vertical shape; `fill` (0-1) sets how slowly the force leaves a peak for the valley.

    The rise keeps the loading-response shoulder of real force-plate curves (slow first 10 %).
    """
    return _pchip([
        (0.0, 0.0), (0.04, 0.21 * peak1), (0.09, 0.43 * peak1), (0.15, 0.76 * peak1), (0.22, peak1),
        (0.32, valley + fill * (peak1 - valley)), (0.48, valley), (0.62, valley + fill * (peak2 - valley)),
        (0.77, peak2), (0.86, 0.79 * peak2), (0.91, 0.5 * peak2), (0.95, 0.22 * peak2), (1.0, 0.0),
    ])


@lru_cache(maxsize=256)
def _walking_vertical(speed_cm_s: int) -> np.ndarray:
    speed = speed_cm_s / 100.0
    mean_bw = 1.0 / (2.0 * walking_duty(speed))  # impulse balance: m g per step over the stance
    p1, v, p2 = (np.interp(speed, _SPEEDS, table) / mean_bw for table in (_PEAK1_BW, _VALLEY_BW, _PEAK2_BW))
    fill = brentq(lambda f: _double_hump(p1, v, p2, f).mean() - 1.0, -0.5, 1.0)
    shape = _double_hump(p1, v, p2, fill)
    shape.setflags(write=False)
    return shape


def walking_vertical(speed: float) -> np.ndarray:
    """Unit-mean double hump of walking at `speed` (0.8-2.1 m/s; flatter when slower)."""
    return _walking_vertical(int(round(np.clip(speed, _SPEEDS[0], _SPEEDS[-1]) * 100)))


def running_vertical() -> np.ndarray:
    """Unit-mean single hump of running (impact shoulder at ~12 %, active peak at ~43 %)."""
    shape = _pchip([(0.0, 0.0), (0.06, 0.30), (0.12, 0.50), (0.25, 0.75), (0.43, 1.0), (0.62, 0.78),
                    (0.8, 0.38), (0.92, 0.1), (1.0, 0.0)])
    return shape / shape.mean()


def walking_ap() -> np.ndarray:
    """Braking then propulsion, in units of the braking peak: -1 at 17 %, zero at 55 %, +1.14 at 85 %.

    With a propulsion peak 1.14 x the braking peak (0.25 / 0.22 of the stance-mean vertical force) the
    two lobes carry equal impulse, so a stance leaves the forward velocity unchanged.
    """
    return _pchip([(0.0, 0.0), (0.03, -0.04), (0.08, -0.42), (0.17, -1.0), (0.30, -0.62), (0.44, -0.27),
                   (0.55, 0.0), (0.70, 0.55), (0.85, 1.14), (0.93, 0.66), (1.0, 0.0)])


def running_ap() -> np.ndarray:
    return _pchip([(0.0, 0.0), (0.05, -0.35), (0.2, -1.0), (0.35, -0.55), (0.47, 0.0), (0.62, 0.6),
                   (0.75, 1.0), (0.9, 0.5), (1.0, 0.0)])


def medial_shape() -> np.ndarray:
    """Unit-mean mediolateral force toward the body's midline over a stance."""
    shape = _pchip([(0.0, 0.0), (0.05, 0.25), (0.15, 0.8), (0.25, 1.0), (0.5, 0.65), (0.75, 0.9),
                    (0.9, 0.45), (1.0, 0.0)])
    return shape / shape.mean()


def sample_stance(template: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.interp(s, S_GRID, template)


def zero_net(values: np.ndarray) -> np.ndarray:
    """Rescale the positive lobe so the sampled force has exactly zero impulse."""
    positive, negative = values.clip(min=0).sum(), values.clip(max=0).sum()
    if positive <= 0 or negative >= 0:
        return values
    return np.where(values > 0, values * (-negative / positive), values)


def verlet(acc: np.ndarray, dt: float, step0: np.ndarray | float = 0.0) -> np.ndarray:
    """Positions from x[n+1] = 2 x[n] - x[n-1] + a[n] dt^2 with x[0] = 0 and x[1] - x[0] = step0.

    The central second difference of the result equals `acc` to rounding error, which is how the
    simulator makes Newton's law hold exactly between the stored GRF and the stored COM.
    """
    steps = step0 + np.concatenate([np.zeros_like(acc[:1]), np.cumsum(acc[1:-1] * dt**2, axis=0)])
    return np.concatenate([np.zeros_like(acc[:1]), np.cumsum(steps, axis=0)])


def balanced_impulses(
    shapes: list[tuple[int, np.ndarray]],
    nominal: np.ndarray,
    pins: list[np.ndarray],
    mass: float,
    dt: float,
    *,
    height_sd_m: float = 0.002,
    impulse_sd: float = 0.03,
) -> tuple[np.ndarray, float]:
    """Vertical impulse per stance that keeps the COM height periodic, and the initial step.

    `shapes[i] = (first sample, unit-impulse samples)` of stance i; `nominal[i]` its impulse from the
    step-time rule. A pure rule lets timing jitter random-walk the COM height; a least-squares
    compromise brings the COM height at every sample of a group in `pins` (for example all heel
    strikes, all mid-stances) to that group's common value within `height_sd_m`, while moving each
    impulse from nominal by about `impulse_sd`. Returns (impulses, x[1] - x[0]).
    """
    n_stance, samples = len(shapes), np.concatenate(pins)
    response = np.empty((len(samples), n_stance))
    for i, (start, values) in enumerate(shapes):
        k = start + np.arange(len(values))
        lever = np.where(k[None, :] >= 1, np.maximum(samples[:, None] - k[None, :], 0), 0)  # x[n] sums (n-k) a[k]
        response[:, i] = lever @ values * dt**2 / mass
    gravity = -GRAVITY * dt**2 * samples * (samples - 1) / 2.0
    group = -np.repeat(np.eye(len(pins)), [len(p) for p in pins], axis=0)
    rows = np.hstack([response, samples[:, None].astype(float), group]) / height_sd_m
    prior = np.hstack([np.diag(1.0 / nominal), np.zeros((n_stance, 1 + len(pins)))]) / impulse_sd
    design = np.vstack([rows, prior])
    target = np.concatenate([-gravity / height_sd_m, np.ones(n_stance) / impulse_sd])
    scale = np.linalg.norm(design, axis=0)  # normal equations on unit columns: small, well posed, fast
    design = design / scale
    solution = np.linalg.solve(design.T @ design, design.T @ target) / scale
    return solution[:n_stance], float(solution[n_stance])
