"""Perturbations of raw input samples: what each one must preserve or change, with hand-checkable numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamodules.errors import DataError
from datamodules.naming import IMU_CHANNELS_48, IMU_SEGMENTS, QIAN_CHANNELS_18
from datamodules.perturbations import (
    PERTURBATIONS,
    add_imu_noise,
    augment,
    change_sample_rate,
    drop_imu,
    drop_imu_mask,
    drop_insole_frames,
    drop_landmarks,
    hold_last,
    imu_segments,
    imu_triplets,
    random_rotation,
    rotate_imu,
    severities_for,
    shift_landmarks,
    time_offset,
)
from datamodules.simulator import noise as sim_noise

CHANNELS = list(IMU_CHANNELS_48)


def imu_sample(t: int = 128, seed: int = 0) -> np.ndarray:
    """`[48, T]` smooth IMU-like signals: gravity plus a few Hz of motion on every axis."""
    rng = np.random.default_rng(seed)
    time = np.arange(t) / 100.0
    x = np.stack([a * np.sin(2 * np.pi * f * time + ph) for a, f, ph in rng.uniform((0.5, 0.5, 0), (3, 4, 6), (48, 3))])
    x[:24:3] += 9.81  # acc x axes carry gravity
    return x


def norms(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[idx], axis=0)


def test_channel_bookkeeping():
    assert imu_segments(CHANNELS) == IMU_SEGMENTS
    assert imu_segments(QIAN_CHANNELS_18) == ("R_THIGH", "R_SHANK", "R_FOOT")  # joint angles are not IMUs
    trip = imu_triplets(CHANNELS, "R_FOOT")
    assert [CHANNELS[i] for i in trip["acc"]] == ["R_FOOT_acc_x", "R_FOOT_acc_y", "R_FOOT_acc_z"]
    assert [CHANNELS[i] for i in trip["gyr"]] == ["R_FOOT_gyr_x", "R_FOOT_gyr_y", "R_FOOT_gyr_z"]
    with pytest.raises(DataError, match="all three axes"):
        imu_triplets(["R_FOOT_acc_x", "R_FOOT_acc_y"], "R_FOOT")


def test_drop_imu_zeros_one_imu_and_the_mask_names_the_same_channels():
    x = imu_sample()
    out = drop_imu(x, CHANNELS, np.random.default_rng(5))
    mask = drop_imu_mask(CHANNELS, np.random.default_rng(5))
    assert mask.sum() == 6 and len({CHANNELS[i].rsplit("_", 2)[0] for i in np.flatnonzero(mask)}) == 1
    assert np.all(out[mask] == 0) and np.array_equal(out[~mask], x[~mask])
    chosen = drop_imu(x, CHANNELS, np.random.default_rng(0), segment="PELVIS", fill=np.full(48, 3.0))
    assert np.all(chosen[[CHANNELS.index(f"PELVIS_{s}_{a}") for s in ("acc", "gyr") for a in "xyz"]] == 3.0)


def test_rotation_keeps_norms_and_turns_by_the_severity():
    x = imu_sample()
    for angle in (5.0, 10.0, 20.0):
        out = rotate_imu(x, CHANNELS, angle, np.random.default_rng(1))
        for segment in IMU_SEGMENTS:
            trip = imu_triplets(CHANNELS, segment)
            for idx in trip.values():
                assert norms(out, idx) == pytest.approx(norms(x, idx), rel=1e-12)
            # the rotation recovered from the data (least squares, Kabsch) turns by exactly the severity
            u, _, vt = np.linalg.svd(out[trip["acc"]] @ x[trip["acc"]].T)
            rotation = u @ vt
            recovered = math.degrees(math.acos((np.trace(rotation) - 1) / 2))
            assert recovered == pytest.approx(angle, abs=1e-9)
            assert np.allclose(rotation @ x[trip["gyr"]], out[trip["gyr"]])  # same rotation for the gyroscope
            cosines = (out[trip["acc"]] * x[trip["acc"]]).sum(0) / norms(x, trip["acc"]) ** 2
            assert np.degrees(np.arccos(cosines.clip(-1, 1))).max() <= angle + 1e-9  # no vector turns further


def test_a_vector_perpendicular_to_the_axis_turns_by_exactly_the_angle():
    rotation = random_rotation(20.0, np.random.default_rng(3))
    axis = np.real(np.linalg.eig(rotation)[1][:, np.argmin(np.abs(np.linalg.eig(rotation)[0] - 1))])
    v = np.cross(axis, [1.0, 0.0, 0.0])
    angle = math.degrees(math.acos(np.dot(rotation @ v, v) / np.dot(v, v)))
    assert angle == pytest.approx(20.0)


def test_noise_raises_the_total_sd_to_the_factor_times_nominal():
    t = 40_000
    rng = np.random.default_rng(0)
    clean = np.zeros((t, 8, 3))
    acc, gyr = sim_noise.imu(clean, clean, 1.0, rng)  # the simulator's own nominal noise
    x = np.concatenate([acc.reshape(t, -1), gyr.reshape(t, -1)], axis=1).T
    for factor in (2.0, 4.0):
        out = add_imu_noise(x, CHANNELS, factor, np.random.default_rng(1))
        white = out - out.mean(axis=1, keepdims=True)  # the bias is constant per channel
        ratio_acc = white[:24].std(axis=1).mean() / sim_noise.ACC_WHITE
        ratio_gyr = white[24:].std(axis=1).mean() / sim_noise.GYR_WHITE
        assert ratio_acc == pytest.approx(factor, rel=0.01) and ratio_gyr == pytest.approx(factor, rel=0.01)
        # the per-channel bias spread also grows to factor x nominal (24 channels: loose tolerance)
        bias_sd = math.sqrt(((out.mean(axis=1)[:24]) ** 2).mean())
        assert bias_sd == pytest.approx(factor * sim_noise.ACC_BIAS, rel=0.35)


def test_noise_leaves_non_imu_channels_alone_and_refuses_less_than_nominal():
    x = np.zeros((3, 100))
    out = add_imu_noise(x, ["R_HIP_flex", "mystery", "R_FOOT_gyr_x"], 2.0, np.random.default_rng(0))
    assert np.all(out[1] == 0) and out[0].std() > 0 and out[2].std() > 0
    with pytest.raises(DataError, match=">= 1"):
        add_imu_noise(x, ["a", "b", "c"], 0.5, np.random.default_rng(0))


def test_a_2_hz_sinusoid_survives_a_60_hz_round_trip():
    t = np.arange(256) / 100.0
    x = np.stack([np.sin(2 * np.pi * 2.0 * t), 9.81 + 0.5 * np.cos(2 * np.pi * 2.0 * t)])
    out = change_sample_rate(x, 60.0, 100.0)
    assert out.shape == x.shape
    assert np.abs(out - x).max() < 1e-3  # including the edges (odd-reflection padding)
    assert np.abs(out - x)[:, 20:-20].max() < 2e-4
    fast = np.sin(2 * np.pi * 40.0 * t)  # above 60 Hz's Nyquist: removed
    assert np.abs(change_sample_rate(fast[None], 60.0, 100.0))[:, 40:-40].max() < 0.01
    assert np.abs(change_sample_rate(x, 200.0, 100.0) - x).max() < 1e-3


def test_time_offset_moves_a_feature_by_the_right_number_of_samples():
    x = np.zeros((48, 100))
    x[CHANNELS.index("R_SHANK_gyr_z"), 40] = 5.0
    x[CHANNELS.index("L_SHANK_gyr_z"), 40] = 5.0
    for offset_ms, samples in ((10.0, 1), (30.0, 3)):
        late = time_offset(x, CHANNELS, offset_ms, np.random.default_rng(0), model_hz=100.0, segment="R_SHANK", sign=1)
        assert np.argmax(late[CHANNELS.index("R_SHANK_gyr_z")]) == 40 + samples
        assert np.argmax(late[CHANNELS.index("L_SHANK_gyr_z")]) == 40  # other IMUs untouched
        early = time_offset(x, CHANNELS, offset_ms, np.random.default_rng(0), model_hz=100.0, segment="R_SHANK",
                            sign=-1)
        assert np.argmax(early[CHANNELS.index("R_SHANK_gyr_z")]) == 40 - samples
    ramp = np.arange(10.0)[None].repeat(48, 0)
    held = time_offset(ramp, CHANNELS, 30.0, np.random.default_rng(0), model_hz=100.0, segment="TRUNK", sign=1)
    assert held[CHANNELS.index("TRUNK_acc_x")].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]  # edge held


def test_landmark_drop_and_shift():
    full = np.arange(20.0).reshape(5, 4) + 1.0
    cells = np.array([[1, 1], [3, 2], [4, 3]])
    x = np.zeros((2, 5, 4))
    x[0] = 7.0
    x[1, cells[:, 0], cells[:, 1]] = full[cells[:, 0], cells[:, 1]]
    dropped = drop_landmarks(x, 2, np.random.default_rng(0), cells)
    assert (dropped[1] != 0).sum() == 1 and np.array_equal(dropped[0], x[0])
    shifted = shift_landmarks(x, full, cells, np.random.default_rng(0), direction=(1, 0))
    # each sensor reads the cell one row toward the toes; (4, 3) + 1 row is off the grid: 0
    assert shifted[1, 1, 1] == full[2, 1] and shifted[1, 3, 2] == full[4, 2] and shifted[1, 4, 3] == 0
    assert (shifted[1] != 0).sum() == 2 and np.array_equal(shifted[0], x[0])
    with pytest.raises(DataError, match="k must"):
        drop_landmarks(x, 4, np.random.default_rng(0), cells)


def test_insole_frames_are_held_not_zeroed():
    assert hold_last(np.arange(6.0), np.array([False, True, False, False, True, False])).tolist() == [1, 1, 1, 1, 4, 4]
    x = np.arange(2 * 20, dtype=float).reshape(2, 20, 1, 1) * np.ones((1, 1, 3, 2))
    out = drop_insole_frames(x, 0.25, np.random.default_rng(0))
    for foot in range(2):
        values = out[foot, :, 0, 0]
        assert len(set(values)) == 15  # 5 of 20 frames lost
        assert np.all(np.diff(values) >= 0)  # a held frame repeats an earlier one
        assert set(values) <= set(x[foot, :, 0, 0])
    assert not np.array_equal(out[0, :, 0, 0] - 0, out[1, :, 0, 0] - 20)  # feet lose different frames


def test_same_seed_same_output_for_every_registered_perturbation():
    context = {"channels": CHANNELS, "model_hz": 100.0, "cells": np.array([[1, 1], [3, 2]]),
               "full_map": np.arange(20.0).reshape(5, 4)}
    samples = {"imu": imu_sample(), "landmarks": np.stack([np.ones((5, 4)), np.eye(5, 4)]),
               "insole": np.random.default_rng(0).random((2, 8, 5, 4))}
    for name, p in PERTURBATIONS.items():
        for severity in severities_for(name, **context):
            a = p(samples[p.applies_to], severity, np.random.default_rng(7), **context)
            b = p(samples[p.applies_to], severity, np.random.default_rng(7), **context)
            assert a.shape == samples[p.applies_to].shape and np.array_equal(a, b), (name, severity)


def test_registry_severities_and_filters():
    assert PERTURBATIONS["imu_rotation"].severities == (5.0, 10.0, 20.0)
    assert PERTURBATIONS["imu_noise"].severities == (2.0, 4.0)
    assert PERTURBATIONS["imu_sample_rate"].severities == (60.0, 200.0)
    assert PERTURBATIONS["imu_time_offset"].severities == (10.0, 30.0)
    assert severities_for("imu_drop", channels=QIAN_CHANNELS_18) == ("R_THIGH", "R_SHANK", "R_FOOT")
    assert severities_for("landmark_drop", cells=np.zeros((2, 2))) == (1, 2)
    with pytest.raises(DataError, match="model_hz"):
        PERTURBATIONS["imu_time_offset"](imu_sample(), 10.0, np.random.default_rng(0), channels=CHANNELS)


def test_augment_draws_reproducibly_and_respects_p():
    x = imu_sample()
    context = {"channels": CHANNELS, "model_hz": 100.0}
    drawn = [augment(x, "imu", np.random.default_rng(s), p=1.0, **context)[1:] for s in range(40)]
    assert {name for name, _ in drawn} == {"imu_drop", "imu_rotation", "imu_noise", "imu_sample_rate",
                                          "imu_time_offset"}
    a = augment(x, "imu", np.random.default_rng(3), p=1.0, **context)
    b = augment(x, "imu", np.random.default_rng(3), p=1.0, **context)
    assert a[1:] == b[1:] and np.array_equal(a[0], b[0])
    same, name, severity = augment(x, "imu", np.random.default_rng(0), p=0.0, **context)
    assert name is None and severity is None and np.array_equal(same, x)
    # landmarks without a full map can only be dropped
    names = {augment(np.zeros((2, 5, 4)), "landmarks", np.random.default_rng(s), p=1.0,
                     cells=np.array([[1, 1], [3, 2]]))[1] for s in range(10)}
    assert names == {"landmark_drop"}
