"""Preprocessing of continuous recordings (Qian 2025, section 2.2; Tan 2024 for windows)."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline


def time_normalise(x: np.ndarray, n_out: int = 101, axis: int = 0) -> np.ndarray:
    """Resample `x` along `axis` onto `n_out` equally spaced points from its first to its last sample
    with a cubic spline (0-100 % of a stance with n_out = 101), as Qian 2025 did for IMU and pressure."""
    x = np.asarray(x)
    n_in = x.shape[axis]
    if n_in < 2:
        raise ValueError(f"time_normalise: need at least 2 samples along axis {axis}, found {n_in}")
    t_in = np.linspace(0.0, 1.0, n_in)
    t_out = np.linspace(0.0, 1.0, n_out)
    if n_in < 4:
        # too short for a cubic: linear interpolation, still endpoint-exact
        return np.apply_along_axis(lambda v: np.interp(t_out, t_in, v), axis, x).astype(x.dtype, copy=False)
    return CubicSpline(t_in, x, axis=axis)(t_out).astype(x.dtype, copy=False)
