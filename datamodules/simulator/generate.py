"""Generate a synthetic recording: subjects and trials streamed one by one into the HDF5 format.

Every random stream is seeded from `(seed, subject, activity, repetition, purpose)`, so a trial's
arrays do not depend on how many subjects, trials or which other activities were asked for, and
turning noise up or down never changes the clean targets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import (
    ACTIVITIES,
    FEET,
    IMU_SEGMENTS,
    JOINT_ANGLE_CHANNELS,
    JOINT_ANGLE_UNIT,
    KEYPOINTS_19,
)
from datamodules.recording import RecordingWriter, Signals, SubjectInfo, TrialData
from datamodules.simulator import noise as noise_lib
from datamodules.simulator.activities import SPEED_RANGE, simulate_activity
from datamodules.simulator.footprint import Footprint, build_footprint
from datamodules.simulator.imu import imu_signals, random_mounting, synthesize_imu
from datamodules.simulator.kinematics import build_pose
from datamodules.simulator.population import Body, sample_body
from datamodules.simulator.presets import OMITTABLE, PRESETS, SimulatorConfig
from datamodules.simulator.pressure import pressure_maps

DATASET_NAME = "gait-zoo-synthetic"
SIMULATOR_VERSION = "1.2"  # 1.1: push-off peaks at toe-off, swing follows the ankle; 1.2: swing lift peaks early
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
# Purposes of the random streams of one trial.
MOTION, MOUNTING, NOISE = 0, 1, 2
FOOTPRINT_STREAM = 1000


def subject_model(seed: int, index: int, config: SimulatorConfig) -> tuple[Body, Footprint]:
    """Subject `index`: body and plantar footprint on the configured insole grid."""
    body = sample_body(seed, index)
    footprint = build_footprint(body.foot_length_m, body.foot_width_m, body.arch_height_mm, config.grid,
                                config.cell_size_m, np.random.default_rng([seed, index, FOOTPRINT_STREAM]))
    return body, footprint


def subject_info(body: Body, footprint: Footprint) -> SubjectInfo:
    return SubjectInfo(
        subject_id=body.subject_id,
        body_mass_kg=body.mass_kg,
        height_m=body.height_m,
        sex=body.sex,
        foot_length_m=body.foot_length_m,
        arch_type=body.arch_type,
        geometry={foot: footprint.geometry_mm for foot in FEET},
        geometry_cell_size_m=footprint.cell_size_m,
        attrs={"foot_width_m": body.foot_width_m, "arch_height_mm": body.arch_height_mm},
    )


def trial_speed(seed: int, body: Body, activity: str, repetition: int) -> float:
    """Progression speed of a trial: repetitions of an activity spread over its range (a golden-ratio
    sequence from a per-subject start), so any number of trials covers slow to fast."""
    lo, hi = SPEED_RANGE[activity]
    start = np.random.default_rng([seed, body.index, ACTIVITIES.index(activity)]).random()
    return float(lo + (hi - lo) * ((start + repetition * GOLDEN) % 1.0))


def _trial_attrs(level: float, seed: int, repetition: int, motion, mounting) -> dict:
    return {
        "noise": level,
        "seed": seed,
        "repetition": repetition,
        "velocity_m_s": np.asarray(motion.com[-1, :2] - motion.com[0, :2]) / (motion.t[-1] - motion.t[0]),
        "imu_mounting_deg": np.stack([mounting[s] for s in IMU_SEGMENTS]),
        "imu_mounting_segments": ",".join(IMU_SEGMENTS),  # rows of imu_mounting_deg
        "imu_mounting_axes": "yxz",  # R_mount = R_y R_x R_z, sensor = segment @ R_mount
    }


def _imu_only_trial(activity, repetition, speed, rate, acc, gyr, pose, motion, clean_grf, body, mounting,
                    level, seed, rng) -> TrialData:
    """A corpus trial: the measurements a body-worn IMU suit gives, without pressure maps or keypoints."""
    return TrialData(
        trial_id=f"{activity}_{repetition + 1:02d}",
        sample_rate_hz=rate,
        activity=activity,
        speed_m_s=speed if SPEED_RANGE[activity][1] > 0 else 0.0,
        imu=imu_signals(acc, gyr),
        joint_angles=Signals(noise_lib.jitter(pose.joint_angles, noise_lib.ANGLE_WHITE_DEG, level, rng),
                             JOINT_ANGLE_CHANNELS, JOINT_ANGLE_UNIT),
        grf={f: noise_lib.grf(clean_grf[f], body.weight_n, level, rng) for f in FEET},
        com=pose.com,
        events=motion.events,
        clean={"grf": clean_grf},
        attrs=_trial_attrs(level, seed, repetition, motion, mounting),
    )


def simulate_trial(
    seed: int, body: Body, footprint: Footprint, activity: str, repetition: int, config: SimulatorConfig,
    speed: float | None = None,
) -> TrialData:
    """One trial in memory (float64 arrays): noisy measurements, clean targets, events and attributes."""
    key = [seed, body.index, ACTIVITIES.index(activity), repetition]
    speed = trial_speed(seed, body, activity, repetition) if speed is None else speed
    rate = config.sample_rate_hz
    motion = simulate_activity(activity, body, footprint, speed, config.duration_s[activity], rate,
                               np.random.default_rng([*key, MOTION]))
    pose = build_pose(body, motion)
    mounting = random_mounting(np.random.default_rng([*key, MOUNTING]))
    acc, gyr = synthesize_imu(body, pose, motion.dt, mounting)

    rng = np.random.default_rng([*key, NOISE])
    level = config.noise
    clean_grf = {f: motion.grf[f][:, [1, 0, 2]] for f in FEET}  # world (x, y, z) -> (ml, ap, vertical)
    acc, gyr = noise_lib.imu(acc, gyr, level, rng)
    if config.imu_only:
        return _imu_only_trial(activity, repetition, speed, rate, acc, gyr, pose, motion, clean_grf, body,
                               mounting, level, seed, rng)
    clean_pressure = {f: pressure_maps(motion.grf[f][:, 2], motion.loads[f], footprint) for f in FEET}
    return TrialData(
        trial_id=f"{activity}_{repetition + 1:02d}",
        sample_rate_hz=rate,
        activity=activity,
        speed_m_s=speed if SPEED_RANGE[activity][1] > 0 else 0.0,
        imu=imu_signals(acc, gyr),
        joint_angles=Signals(noise_lib.jitter(pose.joint_angles, noise_lib.ANGLE_WHITE_DEG, level, rng),
                             JOINT_ANGLE_CHANNELS, JOINT_ANGLE_UNIT),
        grf={f: noise_lib.grf(clean_grf[f], body.weight_n, level, rng) for f in FEET},
        pressure={f: noise_lib.pressure(clean_pressure[f], level, rng) for f in FEET},
        pressure_cell_size_m=footprint.cell_size_m,
        keypoints=noise_lib.jitter(pose.keypoints, noise_lib.KEYPOINT_WHITE_M, level, rng),
        keypoint_names=KEYPOINTS_19,
        com=pose.com,
        events=motion.events,
        clean={"grf": clean_grf, "pressure": clean_pressure, "keypoints": pose.keypoints},
        attrs=_trial_attrs(level, seed, repetition, motion, mounting),
    )


def resolve_config(
    preset: str = "quick",
    *,
    n_subjects: int | None = None,
    trials_per_activity: int | None = None,
    activities: Iterable[str] | None = None,
    noise: float | None = None,
    grid: tuple[int, int] | None = None,
    sample_rate_hz: float | None = None,
    duration_s: float | None = None,
) -> SimulatorConfig:
    """A preset with the given options replaced; bad values raise DataError naming the option."""
    if preset not in PRESETS:
        raise DataError(f"option preset (--preset): expected one of {', '.join(PRESETS)}, found {preset!r}")
    config = PRESETS[preset]
    changes: dict = {}
    if n_subjects is not None:
        changes["n_subjects"] = _positive_int("n_subjects (--subjects)", n_subjects)
    if activities is not None:
        acts = tuple(activities)
        unknown = [a for a in acts if a not in ACTIVITIES]
        if not acts or unknown or len(set(acts)) != len(acts):
            raise DataError(f"option activities (--activities): expected distinct names from {', '.join(ACTIVITIES)}, "
                            f"found {', '.join(acts) or 'nothing'}")
        changes["activities"] = acts
    if trials_per_activity is not None:
        k = _positive_int("trials_per_activity (--trials)", trials_per_activity)
        changes["trials"] = {a: k for a in ACTIVITIES}
    if duration_s is not None:
        if not (math.isfinite(duration_s) and duration_s >= 3.0):
            raise DataError(f"option duration_s (--duration): expected seconds >= 3, found {duration_s!r}")
        changes["duration_s"] = {a: float(duration_s) for a in ACTIVITIES}
    if noise is not None:
        if not (math.isfinite(noise) and noise >= 0):
            raise DataError(f"option noise (--noise): expected a number >= 0, found {noise!r}")
        changes["noise"] = float(noise)
    if grid is not None:
        if len(grid) != 2 or any(int(g) != g or g < 8 for g in grid):
            raise DataError(f"option grid (--grid): expected two integers >= 8 (rows x columns), found {grid!r}")
        changes["grid"] = (int(grid[0]), int(grid[1]))
    if sample_rate_hz is not None:
        if not (math.isfinite(sample_rate_hz) and 50.0 <= sample_rate_hz <= 1000.0):
            raise DataError(f"option sample_rate_hz: expected 50-1000 Hz, found {sample_rate_hz!r}")
        changes["sample_rate_hz"] = float(sample_rate_hz)
    return dataclasses.replace(config, **changes)


def _positive_int(option: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise DataError(f"option {option}: expected an integer >= 1, found {value!r}")
    return int(value)


def omit_parts(subject: SubjectInfo, trial: TrialData | None, omit: Iterable[str]) -> tuple[SubjectInfo, TrialData | None]:
    """The subject and trial without the parts in `omit` (a partial recording, see SimulatorConfig.omit)."""
    omit = set(omit)
    unknown = sorted(omit - set(OMITTABLE))
    if unknown:
        raise DataError(f"option omit: expected names from {', '.join(OMITTABLE)}, found {', '.join(unknown)}")
    if "geometry" in omit:
        subject = dataclasses.replace(subject, geometry={}, geometry_cell_size_m=None)
    if trial is not None:
        empty = {"events": {}, "imu": None, "joint_angles": None, "grf": {}, "keypoints": None, "com": None}
        trial = dataclasses.replace(trial, **{k: v for k, v in empty.items() if k in omit})
        if "keypoints" in omit:
            trial.keypoint_names = ()
        trial.clean = {k: v for k, v in trial.clean.items() if k not in omit}
    return subject, trial


def write_dataset(path: str | os.PathLike, config: SimulatorConfig, seed: int, *, preset: str = "") -> Path:
    """Stream every subject and trial of `config` into `path` (atomic: the file appears when complete)."""
    description = (f"Synthetic gait data from the gait-zoo simulator {SIMULATOR_VERSION} (preset {preset or 'custom'}, "
                   f"seed {seed}): physically consistent but simulated, not measured.")
    settings = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
                if field.name != "description"}
    settings = {k: dict(v) if hasattr(v, "items") else v for k, v in settings.items()}
    with RecordingWriter(path, dataset_name=DATASET_NAME, synthetic=True, description=description,
                         attrs={"simulator_version": SIMULATOR_VERSION, "simulator_preset": preset, "seed": seed,
                                "simulator_config": json.dumps(settings, default=list)}) as writer:
        for index in range(config.n_subjects):
            body, footprint = subject_model(seed, index, config)
            writer.add_subject(omit_parts(subject_info(body, footprint), None, config.omit)[0])
            for activity in config.activities:
                for repetition in range(config.trials[activity]):
                    trial = simulate_trial(seed, body, footprint, activity, repetition, config)
                    writer.add_trial(body.subject_id, omit_parts(subject_info(body, footprint), trial,
                                                                 config.omit)[1])
    return Path(path)


def generate_dataset(
    path: str | os.PathLike,
    preset: str = "quick",
    *,
    seed: int = 0,
    n_subjects: int | None = None,
    trials_per_activity: int | None = None,
    activities: Iterable[str] | None = None,
    noise: float | None = None,
    grid: tuple[int, int] | None = None,
    sample_rate_hz: float | None = None,
    duration_s: float | None = None,
) -> Path:
    """Write a synthetic recording to `path` and return it.

    `preset` sets everything (see PRESETS); each keyword option left at None keeps the preset's value and
    any other value overrides it. `noise` scales every measurement-noise source (0 = noisy arrays identical
    to the clean targets). The same seed always gives bit-identical arrays.
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise DataError(f"option seed (--seed): expected an integer >= 0, found {seed!r}")
    config = resolve_config(preset, n_subjects=n_subjects, trials_per_activity=trials_per_activity,
                            activities=activities, noise=noise, grid=None if grid is None else tuple(grid),
                            sample_rate_hz=sample_rate_hz, duration_s=duration_s)
    return write_dataset(path, config, int(seed), preset=preset)
