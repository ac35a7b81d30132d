"""Inertial sensors derived from the skeleton: specific force and angular rate in each sensor frame.

accelerometer = R_sensor^T (a_world - g_world), with g_world = (0, 0, -9.81): a sensor at rest reads
+9.81 m/s^2 along its up axis, and the pelvis sensor carries (summed GRF) / mass, as on a real body.
gyroscope = angular velocity of the sensor frame expressed in that frame.
"""

from __future__ import annotations

import numpy as np

from datamodules.naming import GRAVITY, IMU_CHANNELS_48, IMU_SEGMENTS, IMU_UNITS
from datamodules.recording import Signals
from datamodules.simulator.kinematics import Pose
from datamodules.simulator.population import Body
from datamodules.simulator.rotations import body_angular_velocity, euler_yxz, second_difference

GRAVITY_WORLD = np.array([0.0, 0.0, -GRAVITY])
MOUNT_LIMIT_DEG = 10.0


def sensor_offset(body: Body, segment: str) -> np.ndarray:
    """Where the sensor sits in its segment frame (m): sternum, sacrum, lateral thigh and shank, instep."""
    lateral = -1.0 if segment.startswith("R_") else 1.0  # the right side's outside is -y
    kind = segment.split("_")[-1]
    return {
        "TRUNK": np.array([0.08, 0.0, 0.7 * body.trunk_m]),
        "PELVIS": np.array([-0.10, 0.0, 0.05]),
        "THIGH": np.array([0.0, lateral * 0.07, -0.5 * body.thigh_m]),
        "SHANK": np.array([0.02, lateral * 0.05, -0.4 * body.shank_m]),
        "FOOT": np.array([0.45 * body.foot_length_m, 0.0, 0.05]),
    }[kind]


def random_mounting(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-trial sensor misalignment: uniform within +-10 deg about each axis (degrees, y-x-z order)."""
    return {seg: rng.uniform(-MOUNT_LIMIT_DEG, MOUNT_LIMIT_DEG, 3) for seg in IMU_SEGMENTS}


def synthesize_imu(
    body: Body, pose: Pose, dt: float, mounting_deg: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free `[T, 8, 3]` accelerometer and gyroscope readings in IMU_SEGMENTS order."""
    acc, gyr = [], []
    for segment in IMU_SEGMENTS:
        seg_rot, origin = pose.rotations[segment], pose.origins[segment]
        position = origin + np.einsum("tij,j->ti", seg_rot, sensor_offset(body, segment))
        sensor_rot = seg_rot @ euler_yxz(*np.radians(mounting_deg[segment]))
        specific_force = second_difference(position, dt) - GRAVITY_WORLD
        acc.append(np.einsum("tji,tj->ti", sensor_rot, specific_force))
        gyr.append(body_angular_velocity(sensor_rot, dt))
    return np.stack(acc, axis=1), np.stack(gyr, axis=1)


def imu_signals(acc: np.ndarray, gyr: np.ndarray) -> Signals:
    """Pack `[T, 8, 3]` readings into the 48 named channels (24 accelerometer, then 24 gyroscope)."""
    data = np.concatenate([acc.reshape(len(acc), -1), gyr.reshape(len(gyr), -1)], axis=1)
    units = tuple(IMU_UNITS["acc" if "_acc_" in c else "gyr"] for c in IMU_CHANNELS_48)
    return Signals(data, IMU_CHANNELS_48, units)
