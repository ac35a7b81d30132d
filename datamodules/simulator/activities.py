"""The eight activities of naming.ACTIVITIES: speed ranges and the parameters that make each one.

The five stepping activities share `locomotion.simulate_locomotion` and differ only in their `Gait`;
squat, lunge and stand design the COM first (`static.py`).
"""

from __future__ import annotations

import numpy as np

from datamodules.simulator import grf as grf_lib
from datamodules.simulator import pressure as loads_lib
from datamodules.simulator import static
from datamodules.simulator.feet import Rollover
from datamodules.simulator.footprint import Footprint
from datamodules.simulator.locomotion import Gait, GaitPosture, simulate_locomotion
from datamodules.simulator.motion import Motion
from datamodules.simulator.population import Body
from datamodules.simulator.timing import (
    running_stance_s,
    running_stride_s,
    walking_duty,
    walking_stance_s,
)

# Progression speed (m/s) drawn per trial; 0 for activities without progression.
SPEED_RANGE = {
    "walk": (0.8, 2.0),
    "run": (2.5, 4.0),
    "walk_in_place": (0.0, 0.0),
    "backward_walk": (0.5, 1.0),
    "side_walk": (0.3, 0.6),
    "squat": (0.0, 0.0),
    "lunge": (0.0, 0.0),
    "stand": (0.0, 0.0),
}
TIMING_CV = 0.02
# Share of the heel load on the compact heel core: (at 1.11 m/s, increase per m/s). Heel peak pressure
# then rises faster with speed than forefoot peak pressure (forefoot/heel 1.10 / 0.96 / 0.81, SPEC 3.3).
HEEL_FOCUS = (0.15, 0.7)


def _walk_timing(body: Body, speed: float) -> tuple[float, float]:
    """(stride, stance) of walking at `speed` for this subject."""
    stance = walking_stance_s(speed) * body.style.stride_factor
    return stance / walking_duty(speed), stance


def _midfoot(body: Body, speed: float) -> float:
    """Midfoot share: arch type, and less at higher speed (midfoot/heel peak 0.32 -> 0.15, SPEC 3.3)."""
    return loads_lib.ARCH_MIDFOOT[body.arch_type] * float(np.clip(1.43 / max(speed, 0.5), 0.6, 1.6)) ** 0.8


def walk_gait(body: Body, speed: float) -> Gait:
    stride, stance = _walk_timing(body, speed)
    fast = speed - 1.43
    return Gait(
        velocity=(speed, 0.0), stride_s=stride, stance_s=stance, timing_cv=TIMING_CV,
        vertical=grf_lib.walking_vertical(speed), ap=grf_lib.walking_ap(), ap_axis=(1.0, 0.0),
        ap_scale=0.22 * (speed / 1.43) ** 0.9, ml_bw=0.035,
        loads=loads_lib.pattern(loads_lib.WALK_TABLE, warp=(speed / 1.43) ** -0.35,
                                midfoot=_midfoot(body, speed), heel=body.style.heel_load,
                                heel_focus=float(np.clip(HEEL_FOCUS[0] + HEEL_FOCUS[1] * (speed - 1.11), 0.0, 0.8))),
        # heel-off at 60 % of stance (37 % of the cycle at 1.43 m/s; typical gait 30-40 %): an earlier one
        # started the pre-swing knee flexion too soon and put the shank's pre-swing peak at ~52 % of the cycle
        rollover=Rollover("heel", np.radians(17.0 + 4.0 * fast), 0.15, 0.6 - 0.05 * fast,
                          "toe", -np.radians(55.0 + 10.0 * fast), 0.035),
        step_width_m=body.style.step_width_m, lead=0.4, in_place=False,
        posture=GaitPosture(pelvis=(1.0, 1.0, speed / 1.3), arm_swing=speed / 1.4),
    )


def run_gait(body: Body, speed: float) -> Gait:
    stride = running_stride_s(speed) * body.style.stride_factor
    return Gait(
        velocity=(speed, 0.0), stride_s=stride, stance_s=running_stance_s(speed) * body.style.stride_factor,
        timing_cv=TIMING_CV, vertical=grf_lib.running_vertical(), ap=grf_lib.running_ap(), ap_axis=(1.0, 0.0),
        ap_scale=0.28, ml_bw=0.03,
        loads=loads_lib.pattern(loads_lib.WALK_TABLE, warp=0.6, midfoot=_midfoot(body, speed),
                                heel=body.style.heel_load),
        # no running foot recording to calibrate on: the roll-off keeps its earlier profile (rate at toe-off
        # = the mean rate), whose ankle leaves toe-off without walking's steep centripetal dip
        rollover=Rollover("heel", np.radians(10.0), 0.2, 0.45, "toe", -np.radians(55.0), 0.12, off_rate_ratio=1.0),
        step_width_m=0.4 * body.style.step_width_m, lead=0.15, in_place=False,
        posture=GaitPosture(pelvis=(1.5, 1.0, 1.6), trunk_lean_deg=6.0, arm_swing=1.8, elbow_deg=65.0),
    )


def walk_in_place_gait(body: Body) -> Gait:
    stride, stance = _walk_timing(body, 1.1)
    return Gait(
        velocity=(0.0, 0.0), stride_s=stride, stance_s=stance, timing_cv=TIMING_CV,
        vertical=grf_lib.walking_vertical(0.8), ap=grf_lib.walking_ap(), ap_axis=(1.0, 0.0),
        ap_scale=0.04, ml_bw=0.05,
        loads=loads_lib.pattern(loads_lib.FLAT_TABLE, midfoot=_midfoot(body, 1.1), heel=body.style.heel_load),
        rollover=Rollover("toe", -np.radians(6.0), 0.2, 0.7, "toe", -np.radians(22.0), 0.09),
        step_width_m=0.1 * body.height_m, lead=0.0, in_place=True,
        posture=GaitPosture(pelvis=(0.5, 1.3, 0.3), arm_swing=0.8),
    )


def backward_walk_gait(body: Body, speed: float) -> Gait:
    stride, stance = _walk_timing(body, 1.5 * speed)  # shorter, quicker steps than forward at that speed
    return Gait(
        velocity=(-speed, 0.0), stride_s=stride, stance_s=stance, timing_cv=TIMING_CV,
        vertical=grf_lib.walking_vertical(1.5 * speed)[::-1].copy(), ap=grf_lib.walking_ap(),
        ap_axis=(-1.0, 0.0), ap_scale=0.15,
        loads=loads_lib.pattern(loads_lib.WALK_TABLE, reverse=True, midfoot=_midfoot(body, 1.2),
                                heel=body.style.heel_load),
        ml_bw=0.035,
        rollover=Rollover("toe", -np.radians(15.0), 0.3, 0.8, "heel", np.radians(12.0), 0.04),
        step_width_m=body.style.step_width_m + 0.03, lead=0.4, in_place=False,
        posture=GaitPosture(pelvis=(0.8, 0.8, 0.6), trunk_lean_deg=-2.0, arm_swing=0.5),
    )


def side_walk_gait(body: Body, speed: float, leftward: bool) -> Gait:
    stride, stance = _walk_timing(body, 1.0)
    direction = 1.0 if leftward else -1.0
    return Gait(
        velocity=(0.0, direction * speed), stride_s=stride, stance_s=stance, timing_cv=TIMING_CV,
        vertical=grf_lib.walking_vertical(0.8), ap=grf_lib.walking_ap(), ap_axis=(0.0, direction),
        ap_scale=0.12, ml_bw=0.0,
        loads=loads_lib.pattern(loads_lib.FLAT_TABLE, midfoot=_midfoot(body, 1.0), heel=body.style.heel_load),
        rollover=Rollover("toe", -np.radians(5.0), 0.15, 0.75, "toe", -np.radians(15.0), 0.05),
        step_width_m=0.18 + speed * stride / 2.0,  # never closer than 18 cm: the feet must not cross
        lead=0.4, in_place=False,
        posture=GaitPosture(pelvis=(0.5, 1.2, 0.2), arm_swing=0.3, arm_abduction_deg=15.0),
    )


def simulate_activity(
    activity: str,
    body: Body,
    footprint: Footprint,
    speed: float,
    duration_s: float,
    rate_hz: float,
    rng: np.random.Generator,
) -> Motion:
    """Noise-free motion of one trial of `activity` at `speed` (ignored where it has no progression)."""
    if activity in ("squat", "lunge", "stand"):
        return static.simulate(activity, body, footprint, duration_s, rate_hz, rng)
    gait = {
        "walk": lambda: walk_gait(body, speed),
        "run": lambda: run_gait(body, speed),
        "walk_in_place": lambda: walk_in_place_gait(body),
        "backward_walk": lambda: backward_walk_gait(body, speed),
        "side_walk": lambda: side_walk_gait(body, speed, leftward=bool(rng.random() < 0.5)),
    }[activity]()
    return simulate_locomotion(body, gait, duration_s, rate_hz, rng)
