"""The shared stepping generator behind walk, run, walk_in_place, backward_walk and side_walk.

Order of construction, each step using only what came before:
1. contact times (timing.py); 2. per-stance GRF with impulse balance (grf.py); 3. the COM by
integrating Newton's law; 4. footholds a fixed fraction of a step ahead of the COM at contact;
5. foot roll-over and swing (feet.py); 6. posture as smooth functions of each leg's gait phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.naming import FEET, GRAVITY
from datamodules.simulator import grf as grf_lib
from datamodules.simulator.feet import Rollover, Stance, foot_trajectory
from datamodules.simulator.footprint import KERNEL_NAMES
from datamodules.simulator.motion import FootTrack, Motion, Posture
from datamodules.simulator.population import Body
from datamodules.simulator.pressure import LoadPattern
from datamodules.simulator.timing import alternating_contacts, cycle_phase

MEDIAL_Y = {"right": 1.0, "left": -1.0}  # medial is +y for the right foot, -y for the left
SHAPE_JITTER = 0.015  # stride-to-stride variation of the force shape


@dataclass(frozen=True)
class GaitPosture:
    """How strongly one gait moves pelvis and arms, relative to the subject's own walking style."""

    pelvis: tuple[float, float, float] = (1.0, 1.0, 1.0)  # factors on the style's tilt, obliquity, rotation
    trunk_lean_deg: float = 0.0  # added to the style's lean
    arm_swing: float = 1.0  # factor on the style's arm swing
    elbow_deg: float = 0.0  # added to the style's elbow flexion
    arm_abduction_deg: float = 8.0


@dataclass(frozen=True)
class Gait:
    """Everything the stepping generator needs for one trial."""

    velocity: tuple[float, float]  # mean COM velocity (m/s, world x and y)
    stride_s: float
    stance_s: float
    timing_cv: float
    vertical: np.ndarray  # unit-mean template on grf.S_GRID
    ap: np.ndarray  # braking/propulsion template, units of the braking peak
    ap_axis: tuple[float, float]  # direction of "propulsion"
    ap_scale: float  # braking peak / stance-mean vertical force
    ml_bw: float  # mean medial force over a stance, body weights
    loads: LoadPattern
    rollover: Rollover
    step_width_m: float
    lead: float  # the contact pivot lands this fraction of a step length ahead of the COM
    in_place: bool
    posture: GaitPosture


def simulate_locomotion(
    body: Body, gait: Gait, duration_s: float, rate_hz: float, rng: np.random.Generator
) -> Motion:
    """Noise-free motion of one stepping trial; simulated with two strides of lead-in and lead-out so the
    trial starts and ends in steady gait."""
    dt = 1.0 / rate_hz
    n = int(round(duration_s * rate_hz))
    margin = 2.0 * gait.stride_s + 1.0
    contacts = alternating_contacts(gait.stride_s, gait.stance_s, -margin, duration_s + margin, rng, gait.timing_cv)
    k0 = int(np.ceil(max(contacts.heel_strike[f][0] for f in FEET) * rate_hz))
    k1 = int(np.floor(min(contacts.toe_off[f][-1] for f in FEET) * rate_hz))
    t = np.arange(k0, k1 + 1) * dt
    crop = slice(-k0, -k0 + n)

    # -- 2. forces: vertical shapes per stance, impulses balanced over the whole sequence ------------
    stances = [(f, hs, to) for f in FEET for hs, to in contacts.stances(f) if to > t[0] and hs < t[-1]]
    other = {"left": "right", "right": "left"}
    shapes, nominal, phases = [], [], []
    pins: dict[str, list[int]] = {"contact": [], "mid-stance": []}
    for foot, hs, to in stances:
        j = np.arange(int(np.floor(hs * rate_hz)) + 1, int(np.ceil(to * rate_hz)))  # samples inside the stance
        s = (j * dt - hs) / (to - hs)
        wobble = 1.0 + SHAPE_JITTER * rng.standard_normal() * (s - 0.5)
        values = grf_lib.sample_stance(gait.vertical, s) * wobble
        values /= values.sum() * dt  # unit impulse over the whole stance, also when the grid cuts it
        keep = (j >= k0) & (j <= k1)
        shapes.append((int(j[keep][0] - k0) if keep.any() else 0, values[keep]))
        phases.append((j[keep] - k0, s[keep]))
        contra = contacts.heel_strike[other[foot]]
        before, after = contra[contra <= hs], contra[contra > hs]
        step_pair = (after[0] - before[-1]) if before.size and after.size else gait.stride_s
        nominal.append(body.weight_n * step_pair / 2.0)
        if j[0] > k0:
            pins["contact"].append(j[0] - k0)
        if k0 < j[len(j) // 2] <= k1:
            pins["mid-stance"].append(j[len(j) // 2] - k0)
    impulses, step0 = grf_lib.balanced_impulses(
        shapes, np.asarray(nominal), [np.asarray(p) for p in pins.values()], body.mass_kg, dt)

    forces = {f: np.zeros((len(t), 3)) for f in FEET}
    loads = {f: np.zeros((len(t), len(KERNEL_NAMES))) for f in FEET}
    ap_axis = np.array([*gait.ap_axis, 0.0])
    medial_unit = grf_lib.medial_shape()
    for (foot, hs, to), (_, unit), (idx, s), impulse in zip(stances, shapes, phases, impulses):
        if idx.size == 0:
            continue
        mean_vertical = impulse / (to - hs)
        ap = grf_lib.zero_net(grf_lib.sample_stance(gait.ap, s)) * gait.ap_scale * mean_vertical
        medial = grf_lib.sample_stance(medial_unit, s) * gait.ml_bw * body.weight_n * gait.stance_s / (to - hs)
        forces[foot][idx] = (ap[:, None] * ap_axis + (medial * MEDIAL_Y[foot])[:, None] * [0.0, 1.0, 0.0])
        forces[foot][idx, 2] = impulse * unit
        loads[foot][idx] = gait.loads(s)

    # -- 3. COM from Newton's law, then the mean velocity of the activity -----------------------------
    acc = (forces["left"] + forces["right"]) / body.mass_kg + [0.0, 0.0, -GRAVITY]
    com = grf_lib.verlet(acc, dt, np.array([0.0, 0.0, step0]))
    first, last = crop.start, crop.stop - 1
    drift = (com[last, :2] - com[first, :2]) / (t[last] - t[first])  # heights are already pinned
    com[:, :2] += (np.asarray(gait.velocity) - drift) * (t - t[first])[:, None]

    # -- 4-5. footholds relative to the COM, roll-over and swing ---------------------------------------
    com[:, :2] -= com[first, :2]
    step = np.array([*gait.velocity, 0.0]) * gait.stride_s / 2.0
    centre = com[crop].mean(axis=0)
    feet = {}
    for foot in FEET:
        yaw = MEDIAL_Y[foot] * -np.radians(body.style.toe_out_deg[FEET.index(foot)])
        forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        pivot_to_heel = -body.foot_length_m * forward if gait.rollover.strike_pivot == "toe" else 0.0
        plan = []
        for hs, to in contacts.stances(foot):
            if gait.in_place:  # the same spot every step, the foot centred under the hips
                heel = centre + 0.01 * rng.standard_normal(3) - 0.45 * body.foot_length_m * forward
            else:  # the contact pivot lands `lead` of a step ahead of the COM (heel ~0.29 m at 1.4 m/s)
                heel = np.array([np.interp(hs, t, com[:, i]) for i in range(3)]) + gait.lead * step + pivot_to_heel
            heel = heel - [0.0, MEDIAL_Y[foot] * gait.step_width_m / 2.0, 0.0]
            heel[2] = 0.0
            plan.append(Stance(hs, to, heel, yaw, body.foot_length_m, gait.rollover, body.ankle_in_foot_m))
        heel, pitch, heading = foot_trajectory(t, plan)
        feet[foot] = FootTrack(heel, pitch, heading)

    # -- 6. posture and events -------------------------------------------------------------------------
    phase = {f: cycle_phase(t, contacts.heel_strike[f]) for f in FEET}
    events = {
        f: {"heel_strike": np.searchsorted(t, contacts.heel_strike[f], side="right"),
            "toe_off": np.searchsorted(t, contacts.toe_off[f], side="left")}
        for f in FEET
    }
    motion = Motion(
        t=t, com=com, grf=forces, feet=feet, loads=loads,
        posture=gait_posture(body, phase, gait.posture), events=events,
    )
    return motion.crop(crop.start, crop.stop)


def gait_posture(body: Body, phase: dict[str, np.ndarray], amp: GaitPosture) -> Posture:
    """Pelvis, trunk, leg and arm angles as smooth periodic functions of each leg's gait phase."""
    style = body.style
    cycle = {f: 2 * np.pi * phase[f] for f in FEET}
    right = cycle["right"]
    tilt, obliquity, rotation = (np.radians(f * a) for f, a in zip(amp.pelvis, style.pelvis_amplitude))
    pelvis = np.stack([0.5 * tilt * np.sin(2 * right), -obliquity * np.sin(right), rotation * np.cos(right)], axis=1)
    trunk = np.stack([
        np.radians(style.trunk_lean_deg + amp.trunk_lean_deg) + np.radians(1.0) * np.sin(2 * right + 0.5),
        0.3 * obliquity * np.sin(right), -0.6 * rotation * np.cos(right),
    ], axis=1)
    legs, arms = {}, {}
    for foot in FEET:
        c = cycle[foot]
        legs[foot] = np.radians(np.stack([
            style.hip_rotation[0] + style.hip_rotation[1] * np.sin(c + 0.3),
            style.knee_adduction[0] + style.knee_adduction[1] * np.sin(c),
            style.knee_rotation[0] + style.knee_rotation[1] * np.cos(c),
        ], axis=1))
        swing = amp.arm_swing * style.arm_swing_deg
        arms[foot] = np.radians(np.stack([
            5.0 - swing * np.cos(c),  # the arm is furthest back at its own side's heel strike
            np.full_like(c, amp.arm_abduction_deg),
            amp.elbow_deg + style.elbow_flexion_deg + 0.4 * swing * (1 - np.cos(c)) / 2,
        ], axis=1))
    return Posture(pelvis, trunk, legs, arms)
