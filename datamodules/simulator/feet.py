"""Foot trajectories of stepping: roll-over in stance and a smooth swing between footholds.

In stance the rigid foot turns about a fixed pivot (heel or toe tip) and lies flat in between, so the
contact point never slides. The swing is a quintic Hermite curve that matches position, velocity and
acceleration of the foot at toe-off and at the next contact, plus a lift for ground clearance, so the
foot's acceleration (what a foot IMU measures) is continuous through the whole cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 0.0, 1.0])
LANDING_DECELERATION = 6.0  # end-of-swing acceleration, in units of the swing's mean velocity / duration


@dataclass(frozen=True)
class Rollover:
    """How a foot meets and leaves the ground: pivots ("heel" / "toe"), pitches (rad, toes up > 0) and
    the stance fractions between which the sole lies flat."""

    strike_pivot: str
    strike_pitch: float
    flat_from: float
    flat_until: float
    off_pivot: str
    off_pitch: float
    clearance_m: float


def _strike_poly(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 - smootherstep(u): from the contact pitch to flat, starting and ending at rest."""
    return 1 - u**3 * (10 - 15 * u + 6 * u**2), -30 * u**2 * (1 - u) ** 2, -60 * u * (1 - u) * (1 - 2 * u)


def _off_poly(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u^3 (6 - 8u + 3u^2): 0 -> 1 leaving flat smoothly, still rotating at the mean rate at toe-off."""
    return u**3 * (6 - 8 * u + 3 * u**2), u**2 * (18 - 32 * u + 15 * u**2), u * (36 - 96 * u + 60 * u**2)


@dataclass(frozen=True)
class Stance:
    """One contact: times, flat-foot heel position (world, z = 0), heading and roll-over."""

    start: float
    end: float
    heel: np.ndarray  # [3]
    yaw: float
    length_m: float
    rollover: Rollover

    @property
    def forward(self) -> np.ndarray:
        return np.array([np.cos(self.yaw), np.sin(self.yaw), 0.0])

    def pitch(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pitch and its first two time derivatives at times `t` within the stance."""
        r, dur = self.rollover, self.end - self.start
        s = (np.asarray(t, float) - self.start) / dur
        out = [np.zeros_like(s) for _ in range(3)]
        strike, off = s < r.flat_from, s > r.flat_until
        for mask, poly, span, origin, pitch in (
            (strike, _strike_poly, r.flat_from, 0.0, r.strike_pitch),
            (off, _off_poly, 1.0 - r.flat_until, r.flat_until, r.off_pitch),
        ):
            values = poly((s[mask] - origin) / span)
            for k in range(3):
                out[k][mask] = pitch * values[k] / (span * dur) ** k
        return out[0], out[1], out[2]

    def heel_state(self, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Heel position, velocity, acceleration `[n, 3]` and pitch, rate, angular acceleration `[n]`."""
        t = np.atleast_1d(np.asarray(t, float))
        th, dth, ddth = self.pitch(t)
        s = (t - self.start) / (self.end - self.start)
        e, length = self.forward, self.length_m
        toe_pivot = ((s < self.rollover.flat_from) & (self.rollover.strike_pivot == "toe")) | (
            (s > self.rollover.flat_until) & (self.rollover.off_pivot == "toe"))
        # About the toe tip: heel = toe - L (cos th e + sin th z); about the heel: heel fixed.
        along = np.cos(th)[:, None] * e + np.sin(th)[:, None] * UP
        normal = -np.sin(th)[:, None] * e + np.cos(th)[:, None] * UP
        pivot = toe_pivot[:, None]
        pos = self.heel + np.where(pivot, length * (e - along), 0.0)
        vel = np.where(pivot, -length * dth[:, None] * normal, 0.0)
        acc = np.where(pivot, -length * (ddth[:, None] * normal - dth[:, None] ** 2 * along), 0.0)
        return pos, vel, acc, th, dth, ddth


def _hermite5(tau: np.ndarray, dur: float, start: tuple, end: tuple) -> np.ndarray:
    """Quintic Hermite through (value, rate, acceleration) at both ends of a span of `dur` seconds."""
    t = tau[:, None] if np.ndim(start[0]) else tau
    t2, t3, t4, t5 = t**2, t**3, t**4, t**5
    h0 = 1 - 10 * t3 + 15 * t4 - 6 * t5
    h1 = t - 6 * t3 + 8 * t4 - 3 * t5
    h2 = (t2 - 3 * t3 + 3 * t4 - t5) / 2
    h3 = (t3 - 2 * t4 + t5) / 2
    h4 = -4 * t3 + 7 * t4 - 3 * t5
    h5 = 10 * t3 - 15 * t4 + 6 * t5
    return (h0 * start[0] + h1 * start[1] * dur + h2 * start[2] * dur**2
            + h5 * end[0] + h4 * end[1] * dur + h3 * end[2] * dur**2)


def foot_trajectory(t: np.ndarray, stances: list[Stance]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heel position `[T, 3]`, pitch `[T]` and heading `[T]` over `t`, which must lie within the
    first stance's start and the last stance's end."""
    heel, pitch, yaw = np.zeros((len(t), 3)), np.zeros(len(t)), np.zeros(len(t))
    for k, stance in enumerate(stances):
        inside = (t >= stance.start) & (t <= stance.end)
        pos, *_, th, _, _ = stance.heel_state(t[inside])
        heel[inside], pitch[inside], yaw[inside] = pos, th, stance.yaw
        if k + 1 == len(stances):
            break
        nxt = stances[k + 1]
        swing = (t > stance.end) & (t < nxt.start)
        if not swing.any():
            continue
        dur = nxt.start - stance.end
        tau = (t[swing] - stance.end) / dur
        p0, v0, a0, th0, dth0, ddth0 = (x[0] for x in stance.heel_state(np.array([stance.end])))
        p1, v1, _, th1, dth1, ddth1 = (x[0] for x in nxt.heel_state(np.array([nxt.start])))
        # The foot arrives still decelerating (an impact, not a hover): the acceleration jumps at contact.
        a1 = -LANDING_DECELERATION * (p1 - p0) / dur**2
        lift = stance.rollover.clearance_m * 64 * tau**3 * (1 - tau) ** 3
        heel[swing] = _hermite5(tau, dur, (p0, v0, a0), (p1, v1, a1)) + lift[:, None] * UP
        pitch[swing] = _hermite5(tau, dur, (th0, dth0, ddth0), (th1, dth1, ddth1))
        yaw[swing] = stance.yaw + (nxt.yaw - stance.yaw) * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
    return heel, pitch, yaw
