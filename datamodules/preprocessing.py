"""Preprocessing of continuous recordings (Qian 2025, section 2.2; Tan 2024 for windows).

Filtering, resampling between sample rates, sliding windows with static-window removal, and stance
cutting with cubic-spline time normalisation. Every function works on time-major arrays (`axis=0`
is time unless stated) with any trailing shape, so IMU channels `[T, C]` and pressure frames
`[T, H, W]` go through the same code.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import butter, firwin, resample_poly, sosfiltfilt

# Tan 2024: a window whose accelerometer axes move less than this (mean of per-axis std) is static.
STATIC_ACC_STD_M_S2 = 0.2
# Tan 2024: measurement ranges of typical IMUs; a sample beyond them is an artefact, not motion.
ACC_LIMIT_M_S2 = 160.0
GYR_LIMIT_RAD_S = math.radians(2000.0)
# Anti-aliasing FIR of `resample`: half-length in input-rate periods of the slower side, Kaiser beta.
# Longer and steeper than scipy's default (10, 5.0), whose passband ripple moves gravity by 4e-3 m/s^2.
ANTIALIAS_HALF_LENGTH = 30
ANTIALIAS_KAISER_BETA = 9.0
# Plausible stance durations for walking and running; outside them the events were missed or merged.
MIN_STANCE_S = 0.15
MAX_STANCE_S = 2.5


def time_normalise(x: np.ndarray, n_out: int = 101, axis: int = 0) -> np.ndarray:
    """Resample `x` along `axis` onto `n_out` equally spaced points from its first to its last sample
    with a cubic spline (0-100 % of a stance with n_out = 101), as Qian 2025 did for IMU and pressure."""
    x = np.asarray(x)
    n_in = x.shape[axis]
    if n_in < 2:
        raise ValueError(f"time_normalise: need at least 2 samples along axis {axis}, found {n_in}")
    # float64 products: a channel's result must not depend on which other channels share the call
    out = np.tensordot(_spline_weights(n_in, n_out), np.moveaxis(x, axis, 0).astype(np.float64), axes=1)
    return np.moveaxis(out, 0, axis).astype(x.dtype, copy=False)


@lru_cache(maxsize=1024)
def _spline_weights(n_in: int, n_out: int) -> np.ndarray:
    """`[n_out, n_in]` matrix W with W @ y = the not-a-knot cubic spline through y on [0, 1], read at
    n_out equal steps (linear interpolation below 4 samples, still endpoint-exact).

    The spline is linear in its data, so splining the identity once per stance length gives the exact
    operator: one small matrix product per stance instead of a banded solve per array (pressure stances
    of 512 cells normalise ~8x faster, the numbers are the same to rounding).
    """
    t_in = np.linspace(0.0, 1.0, n_in)
    t_out = np.linspace(0.0, 1.0, n_out)
    eye = np.eye(n_in)
    if n_in < 4:  # too short for a cubic
        weights = np.stack([np.interp(t_out, t_in, col) for col in eye], axis=1)
    else:
        weights = CubicSpline(t_in, eye, axis=0)(t_out)
    weights.setflags(write=False)
    return weights


# -- filtering and resampling ---------------------------------------------------------------------
def lowpass(
    x: np.ndarray, sample_rate_hz: float, cutoff_hz: float, order: int = 3, axis: int = 0
) -> np.ndarray:
    """Zero-phase Butterworth low-pass (forward-backward, so events do not shift in time).

    Second-order sections keep high orders and low cutoffs numerically stable."""
    nyquist = sample_rate_hz / 2.0
    if not 0.0 < cutoff_hz < nyquist:
        raise ValueError(
            f"lowpass: cutoff must lie in (0, {nyquist:g}) Hz at {sample_rate_hz:g} Hz, found {cutoff_hz:g}"
        )
    sos = butter(order, cutoff_hz, btype="low", fs=sample_rate_hz, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=axis)


def rate_ratio(fs_in: float, fs_out: float, max_denominator: int = 10_000) -> Fraction:
    """`fs_out / fs_in` as an exact fraction (120 -> 100 Hz is 5/6; 204.8 -> 100 Hz is 125/256).

    Rates are read through their decimal spelling, so 204.8 is 1024/5 and not the nearest binary float."""
    ratio = Fraction(repr(float(fs_out))) / Fraction(repr(float(fs_in)))
    approx = ratio.limit_denominator(max_denominator)
    if abs(float(approx) - float(ratio)) > 1e-9 * float(ratio):
        raise ValueError(
            f"resample: {fs_in:g} -> {fs_out:g} Hz is not a ratio of integers up to {max_denominator}"
        )
    return approx


def resample(x: np.ndarray, fs_in: float, fs_out: float, axis: int = 0) -> np.ndarray:
    """Resample `x` from `fs_in` to `fs_out` Hz along `axis` with a polyphase anti-aliasing filter.

    The output has `ceil(n * fs_out / fs_in)` samples and sample k sits at time k / fs_out, like the input's.
    The filter is flat (within 0.01 %) up to 0.9 x the new Nyquist frequency and removes content above
    1.1 x it; edges are padded along the line through the end samples, so offsets such as gravity do
    not ring.
    A NaN spreads over the filter's reach (30 output samples each side): reject such stretches afterwards."""
    x = np.asarray(x)
    if fs_in <= 0 or fs_out <= 0:
        raise ValueError(f"resample: rates must be positive, found {fs_in:g} -> {fs_out:g} Hz")
    if fs_in == fs_out:
        return x.copy()
    ratio = rate_ratio(fs_in, fs_out)
    up, down = ratio.numerator, ratio.denominator
    m = max(up, down)
    taps = firwin(2 * ANTIALIAS_HALF_LENGTH * m + 1, 1.0 / m, window=("kaiser", ANTIALIAS_KAISER_BETA))
    y = resample_poly(x.astype(np.float64), up, down, axis=axis, window=taps, padtype="line")
    return y.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def resample_indices(
    indices: np.ndarray, fs_in: float, fs_out: float, n_out: int | None = None
) -> np.ndarray:
    """Sample indices (events) at `fs_in` -> the nearest sample at `fs_out`, clipped to `[0, n_out)`."""
    out = np.rint(np.asarray(indices, dtype=np.float64) * (fs_out / fs_in)).astype(np.int64)
    return np.clip(out, 0, n_out - 1) if n_out is not None else out


# -- windows ---------------------------------------------------------------------------------------
def sliding_windows(x: np.ndarray, window: int, stride: int) -> np.ndarray:
    """`[T, ...]` -> `[N, window, ...]` windows starting every `stride` samples (a read-only view).

    Windows that would run past the end are not produced (Tan 2024: 128 samples, stride 64)."""
    x = np.asarray(x)
    if x.shape[0] < window:
        return np.zeros((0, window, *x.shape[1:]), dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)[::stride]
    return np.moveaxis(view, -1, 1)


def static_mask(acc_windows: np.ndarray, threshold_m_s2: float = STATIC_ACC_STD_M_S2) -> np.ndarray:
    """True for windows `[N, T, C]` of accelerometer axes whose mean per-axis std is below the threshold
    (standing or sitting still, Tan 2024); drop them with `windows[~static_mask(acc)]`."""
    acc = np.asarray(acc_windows, dtype=np.float64)
    return acc.std(axis=1).mean(axis=-1) < threshold_m_s2


def imu_limits(channels: tuple[str, ...] | list[str]) -> np.ndarray:
    """Per-channel absolute limits for IMU channels in SI units (acc 160 m/s^2, gyro 2000 deg/s in rad/s);
    other channels are unlimited. Use them as `cut_stances(..., limits={"imu": imu_limits(names)})`."""
    return np.array(
        [ACC_LIMIT_M_S2 if "_acc_" in c else GYR_LIMIT_RAD_S if "_gyr_" in c else np.inf for c in channels]
    )


# -- stances ---------------------------------------------------------------------------------------
@dataclass
class Stances:
    """Kept stances: `data[name]` is `[N, n_out, ...]`; `heel_strike` / `toe_off` are their source samples;
    `dropped` counts rejected stances by reason."""

    data: dict[str, np.ndarray]
    heel_strike: np.ndarray
    toe_off: np.ndarray
    dropped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.heel_strike)


def pair_stances(heel_strikes: np.ndarray, toe_offs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Pair each heel strike with the first toe-off after it, if that comes before the next heel strike.

    Returns the paired heel strikes, their toe-offs and how many heel strikes had no toe-off (a missed
    event must not merge two stances into one)."""
    hs = np.sort(np.asarray(heel_strikes, dtype=np.int64))
    to = np.sort(np.asarray(toe_offs, dtype=np.int64))
    never = np.iinfo(np.int64).max
    nxt = np.searchsorted(to, hs, side="right")
    to_of_hs = np.append(to, never)[nxt]
    ok = (nxt < len(to)) & (to_of_hs < np.append(hs[1:], never))
    return hs[ok], to_of_hs[ok], int((~ok).sum())


def cut_stances(
    signals: Mapping[str, np.ndarray],
    heel_strikes: np.ndarray,
    toe_offs: np.ndarray,
    sample_rate_hz: float,
    *,
    n_out: int = 101,
    min_stance_s: float = MIN_STANCE_S,
    max_stance_s: float = MAX_STANCE_S,
    limits: Mapping[str, float | np.ndarray] | None = None,
) -> Stances:
    """Cut stance phases (heel strike to toe-off, both included) from time-aligned signals and
    time-normalise each to `n_out` samples with a cubic spline (Qian 2025).

    Every signal is cut at the same stances and a stance is dropped from all of them when any fails,
    so IMU and pressure stay paired. Reasons counted in `Stances.dropped`:
      `no_toe_off`     a heel strike without a toe-off before the next heel strike;
      `beyond_end`     the toe-off lies past the end of a signal;
      `too_short`, `too_long`  stance outside [min_stance_s, max_stance_s];
      `missing_values` a NaN or infinity anywhere in the stance;
      `abnormal_<name>` |value| above `limits[name]` (a scalar, or per trailing index, e.g. per channel).
    """
    hs, to, n_unpaired = pair_stances(heel_strikes, toe_offs)
    dropped: Counter = Counter()
    if n_unpaired:
        dropped["no_toe_off"] = n_unpaired
    n_samples = min(np.asarray(v).shape[0] for v in signals.values())
    duration = (to - hs) / sample_rate_hz
    reasons = np.full(len(hs), "", dtype=object)
    for reason, bad in (
        ("beyond_end", to >= n_samples),
        ("too_short", duration < min_stance_s),
        ("too_long", duration > max_stance_s),
    ):
        reasons[(reasons == "") & bad] = reason
    limits = limits or {}
    for i in np.flatnonzero(reasons == ""):
        for name, x in signals.items():
            stance = np.asarray(x[hs[i] : to[i] + 1], dtype=np.float64)
            if not np.isfinite(stance).all():
                reasons[i] = "missing_values"
                break
            if name in limits and (np.abs(stance) > np.asarray(limits[name])).any():
                reasons[i] = f"abnormal_{name}"
                break
    dropped.update(r for r in reasons if r)
    keep = reasons == ""
    hs, to = hs[keep], to[keep]
    data = {
        name: np.stack([time_normalise(np.asarray(x[h : o + 1]), n_out) for h, o in zip(hs, to)])
        if len(hs) else np.zeros((0, n_out, *np.asarray(x).shape[1:]), dtype=np.asarray(x).dtype)
        for name, x in signals.items()
    }
    return Stances(data=data, heel_strike=hs, toe_off=to, dropped=dropped)
