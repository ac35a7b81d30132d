"""Filtering, resampling, windows and stance cutting (datamodules.preprocessing)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from datamodules.preprocessing import (
    GYR_LIMIT_RAD_S,
    cut_stances,
    imu_limits,
    lowpass,
    pair_stances,
    rate_ratio,
    resample,
    resample_indices,
    sliding_windows,
    static_mask,
    time_normalise,
)


def sine(freq_hz: float, fs: float, n: int, phase: float = 0.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq_hz * np.arange(n) / fs + phase)


def test_time_normalise_is_endpoint_exact_and_keeps_lines_straight():
    x = np.stack([np.linspace(3.0, 9.0, 37), np.full(37, 2.0)], axis=1)
    y = time_normalise(x, 101)
    assert y.shape == (101, 2)
    np.testing.assert_allclose(y[:, 0], np.linspace(3.0, 9.0, 101), atol=1e-12)
    np.testing.assert_allclose(y[:, 1], 2.0)
    # three samples: linear interpolation, still from first to last
    np.testing.assert_allclose(time_normalise(np.array([0.0, 1.0, 4.0]), 5), [0.0, 0.5, 1.0, 2.5, 4.0])


def test_lowpass_is_zero_phase_with_butterworth_attenuation():
    fs, n = 100.0, 2000
    slow, fast = sine(2.0, fs, n), sine(40.0, fs, n)
    out_slow = lowpass(slow, fs, 20.0)
    out_fast = lowpass(fast, fs, 20.0)
    mid = slice(500, 1500)  # away from the edges
    # zero phase: a 2 Hz sine comes out where it went in
    np.testing.assert_allclose(out_slow[mid], slow[mid], atol=1e-3)
    # digital 3rd-order Butterworth at 20 Hz, applied forward and backward (bilinear frequency warping):
    # |H(40 Hz)|^2 = 1 / (1 + (tan(0.4 pi) / tan(0.2 pi))^6) = 1 / (1 + (2 + sqrt 5)^6) = 1 / 5779
    gain = np.abs(out_fast[mid]).max() / np.abs(fast[mid]).max()
    expected = 1 / (1 + (math.tan(0.4 * math.pi) / math.tan(0.2 * math.pi)) ** 6)
    assert expected == pytest.approx(1 / 5779, rel=1e-6)
    assert gain == pytest.approx(expected, rel=0.01)
    with pytest.raises(ValueError, match="cutoff"):
        lowpass(slow, fs, 60.0)


def test_rate_ratio_is_exact_for_the_papers_rates():
    assert rate_ratio(120.0, 100.0) == Fraction(5, 6)
    assert rate_ratio(204.8, 100.0) == Fraction(125, 256)
    assert rate_ratio(100.0, 100.0) == 1
    with pytest.raises(ValueError, match="ratio of integers"):
        rate_ratio(100.0, math.pi * 10)


@pytest.mark.parametrize(("fs_in", "n_in", "n_out"), [(120.0, 1200, 1000), (204.8, 2048, 1000)])
def test_resample_keeps_a_slow_signal_and_offset(fs_in, n_in, n_out):
    x = np.stack([9.81 + sine(1.0, fs_in, n_in), np.full(n_in, 9.81)], axis=1).astype(np.float32)
    y = resample(x, fs_in, 100.0)
    assert y.shape == (n_out, 2) and y.dtype == np.float32
    expected = 9.81 + sine(1.0, 100.0, n_out)
    np.testing.assert_allclose(y[20:-20, 0], expected[20:-20], atol=2e-3)
    # a constant (gravity) stays constant up to the edges: no ringing from zero padding
    np.testing.assert_allclose(y[:, 1], 9.81, atol=1e-3 * 9.81 * 1e-2)


def test_resample_removes_content_above_the_new_nyquist_instead_of_aliasing():
    kept = resample(sine(40.0, 120.0, 2400), 120.0, 100.0)
    removed = resample(sine(56.0, 120.0, 2400), 120.0, 100.0)  # plain decimation would alias it to 44 Hz
    assert np.abs(kept[100:-100]).max() == pytest.approx(1.0, abs=0.05)
    assert np.abs(removed[100:-100]).max() < 1e-3


def test_resample_indices_moves_events_to_the_nearest_new_sample():
    np.testing.assert_array_equal(resample_indices([0, 256, 2048, 2047], 204.8, 100.0), [0, 125, 1000, 1000])
    np.testing.assert_array_equal(resample_indices([1199], 120.0, 100.0, n_out=999), [998])


def test_sliding_windows_cut_full_windows_only():
    x = np.arange(300 * 2).reshape(300, 2)
    w = sliding_windows(x, 128, 64)
    assert w.shape == (3, 128, 2)  # starts 0, 64, 128; 192 + 128 > 300
    np.testing.assert_array_equal(w[2], x[128:256])
    assert sliding_windows(x[:100], 128, 64).shape == (0, 128, 2)


def test_static_mask_uses_the_mean_of_per_axis_std():
    square = np.tile([1.0, -1.0], 64)  # std exactly 1
    acc = lambda stds: np.stack([9.81 + s * square for s in stds], axis=1)  # noqa: E731
    windows = np.stack([acc([0.1, 0.2, 0.2]), acc([0.3, 0.2, 0.2]), acc([0.0, 0.0, 0.0])])
    # mean std 0.167 (static), 0.233 (moving), 0 (static)
    np.testing.assert_array_equal(static_mask(windows), [True, False, True])


def test_imu_limits_follow_the_channel_kind():
    np.testing.assert_allclose(
        imu_limits(["R_FOOT_acc_x", "R_FOOT_gyr_y", "R_KNEE_flex"]), [160.0, math.radians(2000.0), np.inf]
    )
    assert GYR_LIMIT_RAD_S == pytest.approx(34.9066, abs=1e-4)


def test_pair_stances_never_merges_two_stances():
    hs, to, unpaired = pair_stances(np.array([100, 10, 200]), np.array([60, 260]))
    # 100 has no toe-off before the next heel strike (200): dropped, not paired with 260
    np.testing.assert_array_equal(hs, [10, 200])
    np.testing.assert_array_equal(to, [60, 260])
    assert unpaired == 1


def test_cut_stances_counts_every_drop_reason_and_keeps_signals_paired():
    n, fs = 500, 100.0
    imu = np.stack([np.arange(n, dtype=float), np.zeros(n)], axis=1)
    pressure = np.ones((n, 3, 2))
    pressure[150, 1, 1] = np.nan  # inside the second stance
    imu[375, 1] = 500.0  # inside the fifth stance, beyond a 100 limit
    heel_strikes = [10, 110, 210, 310, 340, 450]
    toe_offs = [70, 170, 312, 400, 520]
    stances = cut_stances(
        {"imu": imu, "pressure": pressure},
        heel_strikes,
        toe_offs,
        fs,
        n_out=101,
        limits={"imu": np.array([np.inf, 100.0])},
    )
    assert dict(stances.dropped) == {
        "missing_values": 1,  # 110 -> 170: NaN in the pressure
        "no_toe_off": 1,  # 210: the next toe-off (312) comes after the next heel strike (310)
        "too_short": 1,  # 310 -> 312: 20 ms
        "abnormal_imu": 1,  # 340 -> 400: 500 > 100
        "beyond_end": 1,  # 450 -> 520: past the 500 samples
    }
    assert len(stances) == 1
    np.testing.assert_array_equal(stances.heel_strike, [10])
    np.testing.assert_array_equal(stances.toe_off, [70])
    assert stances.data["imu"].shape == (1, 101, 2)
    assert stances.data["pressure"].shape == (1, 101, 3, 2)
    # heel strike and toe-off samples are 0 % and 100 %: the ramp runs from 10 to 70
    np.testing.assert_allclose(stances.data["imu"][0, :, 0], np.linspace(10, 70, 101), atol=1e-9)


def test_cut_stances_with_nothing_kept_returns_empty_arrays():
    stances = cut_stances({"imu": np.zeros((50, 4))}, [10], [12], 100.0, n_out=51)
    assert len(stances) == 0 and stances.data["imu"].shape == (0, 51, 4)
    assert dict(stances.dropped) == {"too_short": 1}
