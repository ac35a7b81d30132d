"""Measurement noise: what a lab's sensors add to the true signals, all scaled by one `noise` factor.

At `noise = 0` every function returns its input unchanged, so the noisy arrays equal the clean
targets. The levels are those of SPEC 3.3 / the task brief: IMU white noise and per-trial bias,
force-plate noise of about 1 % body weight with a small offset, 5 % per-cell pressure noise under a
0.1 N/cm^2 sensing threshold, and about 1 cm of keypoint jitter.
"""

from __future__ import annotations

import numpy as np

ACC_WHITE, ACC_BIAS = 0.05, 0.05  # m/s^2
GYR_WHITE, GYR_BIAS = 0.005, 0.003  # rad/s
GRF_WHITE_BW, GRF_OFFSET_BW = 0.01, 0.003
PRESSURE_RELATIVE, PRESSURE_THRESHOLD = 0.05, 0.1  # fraction; N/cm^2
PRESSURE_RESOLUTION = 2.0**-6  # N/cm^2 per sensor count (about 0.016)
KEYPOINT_WHITE_M = 0.01
ANGLE_WHITE_DEG = 0.5


def imu(acc: np.ndarray, gyr: np.ndarray, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """White noise plus a constant per-channel bias on `[T, sensors, 3]` readings."""
    if noise == 0:
        return acc, gyr
    acc = acc + noise * (ACC_WHITE * rng.standard_normal(acc.shape) + ACC_BIAS * rng.standard_normal(acc.shape[1:]))
    gyr = gyr + noise * (GYR_WHITE * rng.standard_normal(gyr.shape) + GYR_BIAS * rng.standard_normal(gyr.shape[1:]))
    return acc, gyr


def grf(force: np.ndarray, weight_n: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Force-plate noise: white plus a per-trial offset per axis, in body weights."""
    if noise == 0:
        return force
    white = GRF_WHITE_BW * rng.standard_normal(force.shape)
    offset = GRF_OFFSET_BW * rng.standard_normal(force.shape[1:])
    return force + noise * weight_n * (white + offset)


def pressure(maps: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Per-cell multiplicative noise, cells under the sensing threshold read zero, values in sensor counts."""
    if noise == 0:
        return maps
    loaded = maps > 0  # unloaded cells stay exactly zero: draw noise only where there is pressure
    values = maps[loaded] * (1.0 + noise * PRESSURE_RELATIVE * rng.standard_normal(int(loaded.sum())))
    noisy = np.zeros_like(maps)
    counts = np.round(values / PRESSURE_RESOLUTION) * PRESSURE_RESOLUTION
    noisy[loaded] = np.where(values < noise * PRESSURE_THRESHOLD, 0.0, counts)
    return noisy


def jitter(values: np.ndarray, sd: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """White noise of `sd` (keypoints in m, joint angles in deg)."""
    if noise == 0:
        return values
    return values + noise * sd * rng.standard_normal(values.shape)
