"""Tiny fake recordings for tests: any grid, IMU subset, keypoint count or missing modality, in a second.

Signals are simple periodic functions with stances every `stride_s`; they carry no physics (the
simulator tests check physics). What they guarantee is the recording format and known events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datamodules.naming import (
    GRAVITY,
    IMU_CHANNELS_48,
    IMU_UNITS,
    JOINT_ANGLE_CHANNELS,
    KEYPOINTS_19,
)
from datamodules.recording import Signals, SubjectInfo, TrialData, write_recording


def make_fake_recording(
    path: str | Path,
    *,
    n_subjects: int = 6,
    trials: tuple[str, ...] = ("walk", "walk"),
    seconds: float = 8.0,
    rate: float = 100.0,
    grid: tuple[int, int] = (12, 6),
    imu_channels: tuple[str, ...] = IMU_CHANNELS_48,  # () for a file without IMUs
    joint_angles: bool = True,
    pressure: bool = True,
    grf: bool = True,
    keypoints: tuple[str, ...] | None = KEYPOINTS_19,
    geometry: bool = True,
    clean: bool = True,
    stride_s: float = 1.0,
    duty: float = 0.62,
    seed: int = 0,
) -> Path:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    H, W = grid
    footprint = np.zeros(grid, bool)
    footprint[:, 1 : W - 1] = True
    subjects = []
    for s in range(n_subjects):
        mass = float(60 + 5 * s)
        info = SubjectInfo(
            f"S{s + 1:02d}", body_mass_kg=mass, height_m=1.6 + 0.03 * s, sex="F" if s % 2 else "M",
            foot_length_m=0.25, arch_type="normal",
            geometry={f: np.where(footprint, 5.0 + s, -1.0).astype(np.float32) for f in ("left", "right")}
            if geometry else {},
            geometry_cell_size_m=(0.01, 0.01),
        )
        trial_list = []
        for k, activity in enumerate(trials):
            phase = {"right": (t / stride_s) % 1.0, "left": (t / stride_s + 0.5) % 1.0}
            stance = {f: phase[f] < duty for f in phase}
            data: dict = {"grf": {}, "pressure": {}, "events": {}}
            for foot, on in stance.items():
                load = np.where(on, np.sin(np.pi * phase[foot] / duty), 0.0) * mass * GRAVITY * 1.1
                hs = np.flatnonzero(np.diff(on.astype(int)) == 1) + 1
                to = np.flatnonzero(np.diff(on.astype(int)) == -1) + 1
                data["events"][foot] = {"heel_strike": hs, "toe_off": to}
                grf_arr = np.stack([0.05 * load, 0.2 * load * np.cos(np.pi * phase[foot] / duty), load], axis=1)
                data["grf"][foot] = grf_arr.astype(np.float32)
                row = np.clip((phase[foot] / duty) * (H - 1), 0, H - 1)
                rr = np.arange(H)[None, :, None]
                blob = np.exp(-0.5 * (rr - row[:, None, None]) ** 2) * footprint[None]
                blob = blob / blob.sum(axis=(1, 2), keepdims=True)
                data["pressure"][foot] = (blob * load[:, None, None] / 100.0).astype(np.float32)
            imu = np.stack([np.sin(2 * np.pi * t / stride_s + 0.1 * j + s) for j in range(len(imu_channels))]
                           or [np.zeros(n)], 1)[:, : len(imu_channels)]
            imu += 0.05 * rng.standard_normal(imu.shape)
            units = tuple(IMU_UNITS["acc" if "_acc_" in c else "gyr"] for c in imu_channels)
            kp = None
            if keypoints:
                kp = np.zeros((n, len(keypoints), 3), np.float32)
                sway = np.sin(2 * np.pi * t / stride_s)[:, None] * np.linspace(0.05, 0.15, len(keypoints))[None]
                kp[:, :, 0] = 0.01 * np.arange(len(keypoints))[None] + 1.2 * t[:, None] + sway
                kp[:, :, 1] = np.linspace(-0.2, 0.2, len(keypoints))[None] + 0.5 * sway
                kp[:, :, 2] = np.linspace(0.0, 1.6, len(keypoints))[None] + 0.02 * np.sin(2 * np.pi * t)[:, None]
            trial = TrialData(
                f"T{k + 1:02d}", sample_rate_hz=rate, activity=activity, speed_m_s=1.2,
                imu=Signals(imu, imu_channels, units) if imu_channels else None,
                joint_angles=Signals(20 * np.sin(2 * np.pi * t / stride_s)[:, None].repeat(18, 1),
                                     JOINT_ANGLE_CHANNELS, "deg") if joint_angles else None,
                grf=data["grf"] if grf else {},
                pressure=data["pressure"] if pressure else {},
                pressure_cell_size_m=(0.01, 0.01) if pressure else None,
                keypoints=kp, keypoint_names=tuple(keypoints or ()),
                events=data["events"],
                clean={"grf": data["grf"] if grf else {}, "pressure": data["pressure"] if pressure else {},
                       "keypoints": kp} if clean else {},
            )
            trial_list.append(trial)
        subjects.append((info, trial_list))
    return write_recording(path, subjects, dataset_name="fake", synthetic=True)
