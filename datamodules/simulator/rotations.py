"""Rotation matrices over time, `[T, 3, 3]`, in the joint-angle convention of the simulator.

Every segment frame has x anterior, y to the subject's left and z up (proximal). Joint rotations
use the clinical order flexion (about y), then adduction (about x), then axial rotation (about z):
`R = R_y(a) R_x(b) R_z(c)`, scipy's intrinsic "YXZ" sequence.
"""

from __future__ import annotations

import numpy as np


def euler_yxz(about_y: np.ndarray, about_x: np.ndarray, about_z: np.ndarray) -> np.ndarray:
    """`R_y(about_y) @ R_x(about_x) @ R_z(about_z)` (radians), `[T, 3, 3]`, broadcast over time."""
    a, b, c = (np.atleast_1d(np.asarray(v, float)) for v in np.broadcast_arrays(about_y, about_x, about_z))
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    return np.stack([
        np.stack([ca * cc + sa * sb * sc, sa * sb * cc - ca * sc, sa * cb], axis=-1),
        np.stack([cb * sc, cb * cc, -sb], axis=-1),
        np.stack([ca * sb * sc - sa * cc, sa * sc + ca * sb * cc, ca * cb], axis=-1),
    ], axis=-2)


def to_euler_yxz(matrices: np.ndarray) -> np.ndarray:
    """`[T, 3]` angles (about y, about x, about z) with `euler_yxz(*angles.T) == matrices`."""
    return np.stack([
        np.arctan2(matrices[:, 0, 2], matrices[:, 2, 2]),
        np.arcsin(np.clip(-matrices[:, 1, 2], -1.0, 1.0)),
        np.arctan2(matrices[:, 1, 0], matrices[:, 1, 1]),
    ], axis=1)


def about_z(angle: np.ndarray) -> np.ndarray:
    """Heading rotations `R_z(angle)`, `[T, 3, 3]`."""
    angle = np.atleast_1d(angle)
    return euler_yxz(np.zeros_like(angle), np.zeros_like(angle), angle)


def body_angular_velocity(matrices: np.ndarray, dt: float) -> np.ndarray:
    """Angular velocity in the rotating (body) frame, `[T, 3]` rad/s.

    Central difference on the rotation group: `omega[n] = log(R[n-1]^T R[n+1]) / (2 dt)`, which is
    exact for a constant-rate rotation; the two end samples repeat their neighbours.
    """
    step = np.einsum("tji,tjk->tik", matrices[:-2], matrices[2:])
    cos_angle = np.clip((np.trace(step, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos_angle)
    skew = np.stack([step[:, 2, 1] - step[:, 1, 2], step[:, 0, 2] - step[:, 2, 0], step[:, 1, 0] - step[:, 0, 1]], 1)
    sine = np.sin(angle)
    scale = np.where(sine > 1e-9, angle / np.where(sine > 1e-9, 2.0 * sine, 1.0), 0.5)  # log map of a rotation
    omega = np.empty((len(matrices), 3))
    omega[1:-1] = skew * scale[:, None] / (2.0 * dt)
    omega[0], omega[-1] = omega[1], omega[-2]
    return omega


def second_difference(positions: np.ndarray, dt: float) -> np.ndarray:
    """Central second difference along axis 0, ends repeated: the acceleration of sampled positions."""
    acc = np.empty_like(positions)
    acc[1:-1] = (positions[2:] - 2.0 * positions[1:-1] + positions[:-2]) / dt**2
    acc[0], acc[-1] = acc[1], acc[-2]
    return acc
