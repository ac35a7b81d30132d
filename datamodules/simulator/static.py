"""Activities with both feet planted: squat, lunge and quiet standing.

Here the COM is designed first (a smooth trajectory) and the total ground force follows from it,
`F_left + F_right = m (a_com - g)`, with `a_com` the central second difference of the sampled COM,
so Newton's law holds exactly as in the stepping activities. The feet never leave the ground, so
their event arrays are empty.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from datamodules.naming import FEET, GRAVITY
from datamodules.simulator import pressure as loads_lib
from datamodules.simulator.footprint import Footprint
from datamodules.simulator.motion import FootTrack, Motion, Posture, empty_events
from datamodules.simulator.population import Body
from datamodules.simulator.pressure import analytic_cop
from datamodules.simulator.rotations import second_difference

SIDE = {"right": -1.0, "left": 1.0}  # +y is the subject's left
# Longest hip-ankle distance when upright (knees ~7 deg): a straighter leg would make the knee angle,
# and so the thigh and shank gyroscopes, over-sensitive to millimetre sway near full extension.
STANDING_REACH = 0.998


def _cycles(t: np.ndarray, period_s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Phase in cycles (C2, from standing) and a per-cycle depth factor, both smooth in time."""
    n = int(np.ceil(t[-1] / period_s)) + 3
    bounds = np.concatenate([[0.0], np.cumsum(period_s * (1 + 0.05 * rng.standard_normal(n)))])
    bounds -= rng.uniform(0.0, 0.3 * period_s)  # start upright, shortly before or after a rep begins
    phase = CubicSpline(bounds, np.arange(len(bounds), dtype=float))(t)
    depth = CubicSpline(bounds[:-1] + np.diff(bounds) / 2, 1 + 0.05 * rng.standard_normal(n))(t)
    return phase, depth


def _sway(t: np.ndarray, amplitude_m: float, rng: np.random.Generator) -> np.ndarray:
    """Slow postural sway: three sinusoids between 0.05 and 0.4 Hz."""
    freq, offset = rng.uniform(0.05, 0.4, 3), rng.uniform(0, 2 * np.pi, 3)
    return amplitude_m / np.sqrt(3) * np.sin(2 * np.pi * freq[None] * t[:, None] + offset[None]).sum(axis=1)


def _flat_foot(t: np.ndarray, heel: np.ndarray, yaw: float, pitch: float = 0.0) -> FootTrack:
    return FootTrack(np.tile(heel, (len(t), 1)), np.full(len(t), pitch), np.full(len(t), yaw))


def _heel_for_cop(target_xy: np.ndarray, yaw: float, cop_u: float) -> np.ndarray:
    """Heel point that puts a COP `cop_u` along the foot at `target_xy` (lateral offsets ignored)."""
    return np.array([target_xy[0] - cop_u * np.cos(yaw), target_xy[1] - cop_u * np.sin(yaw), 0.0])


def _still_posture(body: Body, n: int, trunk_lean_deg: np.ndarray | float = 0.0,
                   arms: tuple[np.ndarray | float, float, float] = (5.0, 6.0, 12.0)) -> Posture:
    style, zeros = body.style, np.zeros(n)
    leg = np.radians([style.hip_rotation[0], style.knee_adduction[0], style.knee_rotation[0]])
    trunk = np.stack([np.radians(style.trunk_lean_deg + trunk_lean_deg) + zeros, zeros, zeros], axis=1)
    arm = np.stack([np.radians(np.broadcast_to(a, (n,))) for a in arms], axis=1)
    return Posture(np.zeros((n, 3)), trunk, {f: np.tile(leg, (n, 1)) for f in FEET}, {f: arm.copy() for f in FEET})


def _forces(body: Body, com: np.ndarray, dt: float, left_share: np.ndarray) -> dict[str, np.ndarray]:
    total = body.mass_kg * (second_difference(com, dt) + [0.0, 0.0, GRAVITY])
    return {"left": total * left_share[:, None], "right": total * (1 - left_share)[:, None]}


def _static_loads(body: Body, heel_bias: np.ndarray) -> np.ndarray:
    """Kernel weights of a planted foot, shifting toward the heel as `heel_bias` goes 0 -> 1."""
    midfoot = loads_lib.ARCH_MIDFOOT[body.arch_type]
    flat = loads_lib.pattern(loads_lib.STATIC_TABLE, midfoot=midfoot, heel=body.style.heel_load)(np.zeros(1))
    back = loads_lib.pattern(loads_lib.HEEL_LOADED_TABLE, midfoot=midfoot, heel=body.style.heel_load)(np.zeros(1))
    return (1 - heel_bias)[:, None] * flat + heel_bias[:, None] * back


def simulate_squat(body: Body, footprint: Footprint, t: np.ndarray, rng: np.random.Generator) -> Motion:
    dt = t[1] - t[0]
    phase, depth_factor = _cycles(t, rng.uniform(2.5, 4.0), rng)
    depth_m = rng.uniform(0.30, 0.40)
    down = depth_factor * (1 - np.cos(2 * np.pi * np.clip(phase, 0, None))) / 2  # 0 upright, ~1 at the bottom
    com = np.stack([-0.15 * depth_m * down + _sway(t, 0.002, rng), _sway(t, 0.002, rng), -depth_m * down], axis=1)
    share = body.style.left_share + 0.03 * rng.standard_normal() + 0.01 * np.sin(2 * np.pi * phase)
    loads = _static_loads(body, np.clip(down, 0, 1))
    cop_u = analytic_cop(loads[:1], footprint)[0, 0]
    width = 0.17 * body.height_m
    feet = {}
    for foot in FEET:
        yaw = SIDE[foot] * np.radians(body.style.toe_out_deg[FEET.index(foot)] + 10.0)
        feet[foot] = _flat_foot(t, _heel_for_cop(np.array([0.0, SIDE[foot] * width / 2]), yaw, cop_u), yaw)
    posture = _still_posture(body, len(t), trunk_lean_deg=35.0 * down, arms=(10.0 + 70.0 * down, 6.0, 10.0))
    posture.pelvis[:, 0] = np.radians(20.0) * down  # anterior pelvic tilt as the hips go back
    offset = np.zeros_like(com)
    offset[:, 0] = -0.35 * depth_m * down
    return Motion(t, com, _forces(body, com, dt, share), feet, {f: loads for f in FEET}, posture,
                  events=empty_events(), pelvis_offset=offset, reach=STANDING_REACH)


def simulate_lunge(body: Body, footprint: Footprint, t: np.ndarray, rng: np.random.Generator) -> Motion:
    dt = t[1] - t[0]
    front = "left" if rng.random() < 0.5 else "right"
    back = "right" if front == "left" else "left"
    phase, depth_factor = _cycles(t, rng.uniform(2.5, 4.0), rng)
    depth_m = rng.uniform(0.25, 0.35)
    down = depth_factor * (1 - np.cos(2 * np.pi * np.clip(phase, 0, None))) / 2
    com = np.stack([0.04 * down + _sway(t, 0.002, rng), _sway(t, 0.002, rng), -depth_m * down], axis=1)
    front_share = np.clip(0.55 + 0.05 * rng.standard_normal() + 0.12 * down, 0.3, 0.8)
    share = front_share if front == "left" else 1 - front_share
    gap = 0.42 * body.height_m  # front heel to rear toe tip
    length = body.foot_length_m
    rear_pitch = -np.radians(30.0 + 12.0 * down)  # the rear heel rises as the rear knee drops
    toe = np.array([-gap / 2, SIDE[back] * 0.08, 0.0])
    rear_heel = toe - length * np.stack([np.cos(rear_pitch), np.zeros_like(t), np.sin(rear_pitch)], axis=1)
    feet = {
        front: _flat_foot(t, np.array([gap / 2, SIDE[front] * 0.08, 0.0]), SIDE[front] * 0.09),
        back: FootTrack(rear_heel, rear_pitch, np.zeros(len(t))),
    }
    toe_loads = loads_lib.pattern(loads_lib.TOE_STANCE_TABLE)(np.zeros(len(t)))
    loads = {front: _static_loads(body, 0.3 * np.clip(down, 0, 1)), back: toe_loads}
    posture = _still_posture(body, len(t), arms=(5.0, 12.0, 15.0 + 20.0 * down))
    return Motion(t, com, _forces(body, com, dt, share), feet, loads, posture, events=empty_events(),
                  reach=STANDING_REACH)


def simulate_stand(body: Body, footprint: Footprint, t: np.ndarray, rng: np.random.Generator) -> Motion:
    dt = t[1] - t[0]
    com = np.stack([_sway(t, 0.003, rng), _sway(t, 0.002, rng), _sway(t, 0.0002, rng)], axis=1)
    share = np.full(len(t), body.style.left_share) + 0.01 * np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6.3))
    loads = _static_loads(body, np.zeros(len(t)))
    cop_u = analytic_cop(loads[:1], footprint)[0, 0]
    feet = {}
    for foot in FEET:
        yaw = SIDE[foot] * np.radians(body.style.toe_out_deg[FEET.index(foot)])
        feet[foot] = _flat_foot(t, _heel_for_cop(np.array([0.0, SIDE[foot] * 0.1 * body.height_m / 2]), yaw, cop_u), yaw)
    posture = _still_posture(body, len(t))
    posture.trunk[:, 0] += com[:, 0] / 0.5  # the trunk leans with the sway (about 0.3 deg)
    return Motion(t, com, _forces(body, com, dt, share), feet, {f: loads for f in FEET}, posture,
                  events=empty_events(), reach=STANDING_REACH)


def simulate(activity: str, body: Body, footprint: Footprint, duration_s: float, rate_hz: float,
             rng: np.random.Generator) -> Motion:
    t = np.arange(int(round(duration_s * rate_hz))) / rate_hz
    generator = {"squat": simulate_squat, "lunge": simulate_lunge, "stand": simulate_stand}[activity]
    return generator(body, footprint, t, rng)

