"""Names shared by the recording format, the simulator, the DataModule and the models.

Keeping every channel, segment and keypoint name in one place is what lets a model trained on
the simulator read a user's recording: both spell `R_FOOT_gyr_x` the same way.
"""

from __future__ import annotations

SCHEMA_VERSION = "1.2"

FEET = ("left", "right")
SIDE_PREFIX = {"left": "L", "right": "R"}

# IMU placement order of the SSL reference code (Tan 2024).
IMU_SEGMENTS = ("TRUNK", "PELVIS", "R_THIGH", "L_THIGH", "R_SHANK", "L_SHANK", "R_FOOT", "L_FOOT")
AXES = ("x", "y", "z")


def imu_channel(segment: str, sensor: str, axis: str) -> str:
    """`R_FOOT`, `acc`, `x` -> `R_FOOT_acc_x`."""
    return f"{segment}_{sensor}_{axis}"


# 48 channels: the 24 accelerometer channels first, then the 24 gyroscope channels.
IMU_CHANNELS_48 = tuple(
    imu_channel(seg, sensor, ax) for sensor in ("acc", "gyr") for seg in IMU_SEGMENTS for ax in AXES
)
IMU_UNITS = {"acc": "m/s^2", "gyr": "rad/s"}

# Joint angles, both legs; `flex` = flexion(+)/extension, `add` = adduction(+)/abduction
# (inversion for the ankle), `rot` = internal(+)/external rotation.
JOINTS = ("HIP", "KNEE", "ANKLE")
JOINT_PLANES = ("flex", "add", "rot")
JOINT_ANGLE_CHANNELS = tuple(
    f"{side}_{joint}_{plane}" for side in ("R", "L") for joint in JOINTS for plane in JOINT_PLANES
)
JOINT_ANGLE_UNIT = "deg"

# Qian 2025 input: angular rate of right thigh, shank, foot + right hip, knee, ankle angles (18 ch).
QIAN_CHANNELS_18 = tuple(
    [imu_channel(seg, "gyr", ax) for seg in ("R_THIGH", "R_SHANK", "R_FOOT") for ax in AXES]
    + [f"R_{joint}_{plane}" for joint in JOINTS for plane in JOINT_PLANES]
)

# 19 keypoints (Han): nose, shoulders, elbows, wrists, hips, knees, ankles, and per foot
# big toe, small toe, heel.
KEYPOINTS_19 = (
    "nose",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
BODY_PARTS = {
    "head": ("nose",),
    "arms": ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "hips": ("left_hip", "right_hip"),
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "feet": ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel"),
}

GRF_AXES = ("ml", "ap", "vertical")
# `grf/total`: the force on both feet summed (a treadmill or a single plate); a `grf/<foot>` or `grf/total`
# dataset may hold any subset of GRF_AXES, in this order, named by its `channels` attribute (format 1.2)
GRF_TOTAL = "total"
GRF_KEYS = (*FEET, GRF_TOTAL)

ACTIVITIES = ("walk", "run", "walk_in_place", "backward_walk", "side_walk", "squat", "lunge", "stand")
ARCH_TYPES = ("low", "normal", "high", "unknown")
SEXES = ("F", "M", "unknown")

GRAVITY = 9.81  # m/s^2
