"""The skeleton: pelvis placement, leg inverse kinematics, forward kinematics and keypoints.

The feet and the COM are given (the feet by the activity, the COM by Newton's law); the legs are
solved so that forward kinematics from the pelvis through hip, knee and ankle angles puts each foot
exactly where the activity planted it. Hip rotation and knee adduction/rotation come from the
posture (the feet do not determine them); hip flexion/adduction and knee flexion are solved; ankle
angles are whatever rotates the shank onto the foot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.naming import FEET, JOINT_ANGLE_CHANNELS, KEYPOINTS_19, SIDE_PREFIX
from datamodules.simulator.motion import FootTrack, Motion
from datamodules.simulator.population import Body
from datamodules.simulator.rotations import about_z, euler_yxz, to_euler_yxz

SIDE_SIGN = {"right": 1.0, "left": -1.0}  # mirrors anatomical angles of the left side onto the right's
COM_ABOVE_PELVIS = 0.03  # x height: the COM sits near S2, a few cm above the hip-joint centres
DOWN = np.array([0.0, 0.0, -1.0])


@dataclass
class Pose:
    """Segment orientations `[T, 3, 3]` and origins `[T, 3]`, joint angles (deg) and keypoints."""

    rotations: dict[str, np.ndarray]
    origins: dict[str, np.ndarray]
    joint_angles: np.ndarray  # [T, 18] in JOINT_ANGLE_CHANNELS order
    keypoints: np.ndarray  # [T, 19, 3] in KEYPOINTS_19 order
    com: np.ndarray  # [T, 3] COM with its absolute height


def _apply(rotations: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tj->ti", rotations, np.broadcast_to(vectors, (len(rotations), 3)))


def foot_rotation(track: FootTrack) -> np.ndarray:
    """Heading about the vertical, then pitch (toes up > 0) about the foot's transverse axis."""
    return about_z(track.yaw) @ euler_yxz(-track.pitch, 0.0, 0.0)


def foot_point(track: FootTrack, local: np.ndarray) -> np.ndarray:
    """World position of a point given in the foot frame (origin at the heel contact point)."""
    return track.heel + _apply(foot_rotation(track), local)


def _pelvis_height(body: Body, motion: Motion, pelvis_rot: np.ndarray, ankles: dict[str, np.ndarray]) -> float:
    """The constant lifting the COM-shaped pelvis path so the longest leg reach is `reach` x leg length."""
    base = motion.com + (0.0 if motion.pelvis_offset is None else motion.pelvis_offset)
    limit = motion.reach * body.leg_m
    highest = []
    for foot in FEET:
        hip = base + _apply(pelvis_rot, np.array([0.0, SIDE_SIGN[foot] * -body.hip_spacing_m / 2, 0.0]))
        horizontal = np.hypot(*(ankles[foot] - hip)[:, :2].T)
        if horizontal.max() >= limit:
            raise ValueError(f"{foot} foot {horizontal.max():.2f} m from the hip horizontally: out of reach")
        highest.append(ankles[foot][:, 2] + np.sqrt(limit**2 - horizontal**2) - hip[:, 2])
    return float(np.min(highest))


def _solve_leg(
    body: Body, d: np.ndarray, hip_rot: np.ndarray, knee_add: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hip angles about y and x and knee flexion putting the ankle at `d` (pelvis frame, from the hip).

    With the knee's adduction `knee_add` and the hip's axial rotation `hip_rot` given, the ankle sits
    at `q = (0, 0, -L1) + R_y(k) R_x(b) (0, 0, -L2)` in the thigh frame; `|q| = |d|` fixes the knee,
    the y component of `R_x(a) R_z(c) q` fixes `a`, and the rotation in the sagittal plane fixes `y`.
    """
    l1, l2 = body.thigh_m, body.shank_m
    reach2 = (d**2).sum(axis=1)
    cos_knee = (reach2 - l1**2 - l2**2) / (2 * l1 * l2 * np.cos(knee_add))
    knee = np.arccos(np.clip(cos_knee, -1.0, 1.0))
    q = np.stack([-l2 * np.cos(knee_add) * np.sin(knee), l2 * np.sin(knee_add),
                  -l1 - l2 * np.cos(knee_add) * np.cos(knee)], axis=1)
    qx = q[:, 0] * np.cos(hip_rot) - q[:, 1] * np.sin(hip_rot)
    qy = q[:, 0] * np.sin(hip_rot) + q[:, 1] * np.cos(hip_rot)
    qz = q[:, 2]
    rho = np.hypot(qy, qz)
    about_x = -np.arccos(np.clip(d[:, 1] / rho, -1.0, 1.0)) - np.arctan2(qz, qy)
    zz = qy * np.sin(about_x) + qz * np.cos(about_x)
    about_y = np.arctan2(d[:, 0], d[:, 2]) - np.arctan2(qx, zz)
    about_y = (about_y + np.pi) % (2 * np.pi) - np.pi
    return about_y, about_x, knee


def build_pose(body: Body, motion: Motion) -> Pose:
    """Skeleton, joint angles, keypoints and the absolute COM for `motion`."""
    posture = motion.posture
    pelvis_rot = euler_yxz(*posture.pelvis.T)
    trunk_rot = euler_yxz(*posture.trunk.T)
    ankle_local = np.array([*body.ankle_in_foot_m[:1], 0.0, body.ankle_in_foot_m[1]])
    foot_rots = {f: foot_rotation(motion.feet[f]) for f in FEET}
    ankles = {f: motion.feet[f].heel + _apply(foot_rots[f], ankle_local) for f in FEET}

    lift = _pelvis_height(body, motion, pelvis_rot, ankles)
    pelvis = motion.com + (0.0 if motion.pelvis_offset is None else motion.pelvis_offset) + [0.0, 0.0, lift]
    com = motion.com + [0.0, 0.0, lift + COM_ABOVE_PELVIS * body.height_m]

    rotations = {"PELVIS": pelvis_rot, "TRUNK": trunk_rot}
    origins = {"PELVIS": pelvis, "TRUNK": pelvis}
    angles: dict[str, np.ndarray] = {}
    points: dict[str, np.ndarray] = {}
    for foot in FEET:
        side, sign = SIDE_PREFIX[foot], SIDE_SIGN[foot]
        hip = pelvis + _apply(pelvis_rot, np.array([0.0, -sign * body.hip_spacing_m / 2, 0.0]))
        hip_rot, knee_add, knee_rot = (sign * a for a in posture.legs[foot].T)
        d = np.einsum("tji,tj->ti", pelvis_rot, ankles[foot] - hip)
        about_y, about_x, knee = _solve_leg(body, d, hip_rot, knee_add)
        thigh_rot = pelvis_rot @ euler_yxz(about_y, about_x, hip_rot)
        shank_rot = thigh_rot @ euler_yxz(knee, knee_add, knee_rot)
        knee_pos = hip + _apply(thigh_rot, DOWN * body.thigh_m)
        ankle_pos = knee_pos + _apply(shank_rot, DOWN * body.shank_m)
        ankle_y, ankle_x, ankle_z = to_euler_yxz(np.transpose(shank_rot, (0, 2, 1)) @ foot_rots[foot]).T
        anatomical = {
            "HIP": (-about_y, sign * about_x, sign * hip_rot),
            "KNEE": (knee, sign * knee_add, sign * knee_rot),
            "ANKLE": (-ankle_y, sign * ankle_x, sign * ankle_z),
        }
        for joint, (flex, add, rot) in anatomical.items():
            angles.update({f"{side}_{joint}_flex": flex, f"{side}_{joint}_add": add, f"{side}_{joint}_rot": rot})
        rotations.update({f"{side}_THIGH": thigh_rot, f"{side}_SHANK": shank_rot, f"{side}_FOOT": foot_rots[foot]})
        origins.update({f"{side}_THIGH": hip, f"{side}_SHANK": knee_pos, f"{side}_FOOT": motion.feet[foot].heel})
        length, width = body.foot_length_m, body.foot_width_m
        points.update({
            f"{foot}_hip": hip, f"{foot}_knee": knee_pos, f"{foot}_ankle": ankle_pos,
            f"{foot}_heel": foot_point(motion.feet[foot], np.array([0.0, 0.0, 0.025])),
            f"{foot}_big_toe": foot_point(motion.feet[foot], np.array([0.97 * length, sign * 0.28 * width, 0.02])),
            f"{foot}_small_toe": foot_point(motion.feet[foot], np.array([0.8 * length, -sign * 0.33 * width, 0.015])),
        })
    points.update(_upper_body(body, motion, pelvis, trunk_rot))
    return Pose(
        rotations=rotations,
        origins=origins,
        joint_angles=np.degrees(np.stack([angles[c] for c in JOINT_ANGLE_CHANNELS], axis=1)),
        keypoints=np.stack([points[k] for k in KEYPOINTS_19], axis=1),
        com=com,
    )


def _upper_body(body: Body, motion: Motion, pelvis: np.ndarray, trunk_rot: np.ndarray) -> dict[str, np.ndarray]:
    """Shoulders on the trunk, arms hanging from them, nose above the shoulder line."""
    h = body.height_m
    neck = pelvis + _apply(trunk_rot, np.array([0.0, 0.0, body.trunk_m]))
    points = {"nose": neck + _apply(trunk_rot, np.array([0.05 * h, 0.0, 0.105 * h]))}
    for foot in FEET:
        sign = SIDE_SIGN[foot]
        shoulder = neck + _apply(trunk_rot, np.array([0.0, -sign * body.shoulder_width_m / 2, 0.0]))
        flexion, abduction, elbow = motion.posture.arms[foot].T
        upper_rot = trunk_rot @ euler_yxz(-flexion, -sign * abduction, 0.0)
        elbow_pos = shoulder + _apply(upper_rot, DOWN * body.upper_arm_m)
        wrist = elbow_pos + _apply(upper_rot @ euler_yxz(-elbow, 0.0, 0.0), DOWN * body.forearm_m)
        points.update({f"{foot}_shoulder": shoulder, f"{foot}_elbow": elbow_pos, f"{foot}_wrist": wrist})
    return points
