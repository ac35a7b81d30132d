"""Foot trajectories of stepping: roll-over in stance and a smooth swing between footholds.

In stance the rigid foot turns about a fixed pivot (heel or toe tip) and lies flat in between, so the
contact point never slides. The swing is a quintic Hermite curve of the ankle that matches position,
velocity and acceleration at toe-off and at the next contact, plus a lift for ground clearance, and the
foot turns about the ankle, so the foot's acceleration (what a foot IMU measures) is continuous through
the whole cycle.

Walking push-off follows the real foot gyroscope (gaitmap recording, motion-capture toe-off; SPEC 3.3): the
toes-down rate keeps rising until the toe leaves the ground (median 8.8 rad/s there, 7 rad/s 80 ms
before), then the foot snaps toes-up, crossing zero about 18 ms after toe-off. A foot that still rolled
at two thirds of its peak rate at toe-off and kept turning toes-down for 70 ms into the swing (the
earlier model) also dragged the knee into a stall at toe-off, which moved the shank gyroscope's
pre-swing peak and zero crossing away from toe-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 0.0, 1.0])
LANDING_DECELERATION = 6.0  # end-of-swing acceleration, in units of the swing's mean velocity / duration
# Push-off: pitch rate at toe-off / mean pitch rate from heel-off to toe-off (at most 2.5, see _off_poly).
# Real foot IMU (gaitmap): ~8.8 rad/s at toe-off for 62 deg over the roll-off, i.e. about 2.4.
OFF_RATE_RATIO = 2.4
# Time constant of the toes-down -> toes-up reversal after toe-off: the foot gyroscope then crosses zero
# about 18 ms after toe-off, as on the real recording (17-21 ms).
RELEASE_S = 0.02
# Shape of the swing lift (_swing_lift): 3 puts its peak at mid-swing, 6 a third into the swing.
LIFT_DECAY_POWER = 6.0


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
    off_rate_ratio: float = OFF_RATE_RATIO  # pitch rate at toe-off / mean rate of the roll-off (1 to 2.5)
    release_s: float = RELEASE_S  # time constant of the toes-down -> toes-up reversal after toe-off


def _strike_poly(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 - smootherstep(u): from the contact pitch to flat, starting and ending at rest."""
    return 1 - u**3 * (10 - 15 * u + 6 * u**2), -30 * u**2 * (1 - u) ** 2, -60 * u * (1 - u) * (1 - 2 * u)


def _off_coefficients(rate_ratio: float = OFF_RATE_RATIO) -> tuple[float, float, float]:
    """(a, b, c) of p(u) = u^3 (a + b u + c u^2) with p(1) = 1, p'(1) = rate_ratio, p''(1) = 0."""
    c = 3.0 * (2.0 - rate_ratio)
    b = -1.0 - 7.0 * c / 3.0
    return 1.0 - b - c, b, c


def _off_poly(u: np.ndarray, rate_ratio: float = OFF_RATE_RATIO) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0 -> 1 leaving flat smoothly (rate and acceleration 0), reaching `rate_ratio` x the mean rate at
    toe-off (u = 1) with zero angular acceleration. From 2 to 2.5 the rate rises monotonically to its
    maximum at toe-off (a real foot); 1 gives u^3 (6 - 8u + 3u^2), whose rate peaks at u = 0.6."""
    a, b, c = _off_coefficients(rate_ratio)
    return (u**3 * (a + b * u + c * u**2), u**2 * (3 * a + 4 * b * u + 5 * c * u**2),
            u * (6 * a + 12 * b * u + 20 * c * u**2))


def _release(
    ts: np.ndarray, rate: float, acceleration: float, time_s: float = RELEASE_S
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch added after toe-off, `ts (rate + beta ts) exp(-ts / time_s)`, and its two derivatives:
    starts at 0 with the stance's rate and acceleration and decays to 0 (net pitch change 0), so the
    toes-down roll reverses within a few tens of ms while the swing curve itself starts from rest."""
    k = 1.0 / time_s
    beta = (acceleration + 2.0 * k * rate) / 2.0
    decay = np.exp(-k * ts)
    poly, d1, d2 = ts * (rate + beta * ts), rate + 2.0 * beta * ts, 2.0 * beta
    return (poly * decay, (d1 - k * poly) * decay, (d2 - 2.0 * k * d1 + k**2 * poly) * decay)


@dataclass(frozen=True)
class Stance:
    """One contact: times, flat-foot heel position (world, z = 0), heading and roll-over."""

    start: float
    end: float
    heel: np.ndarray  # [3]
    yaw: float
    length_m: float
    rollover: Rollover
    ankle_m: tuple[float, float] = (0.0, 0.0)  # ankle joint centre from the heel (forward, up), foot frame

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
            (off, lambda u: _off_poly(u, r.off_rate_ratio), 1.0 - r.flat_until, r.flat_until, r.off_pitch),
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

    def ankle_offset(self, th: np.ndarray, dth: np.ndarray, ddth: np.ndarray) -> tuple[np.ndarray, ...]:
        """Ankle minus heel (world) at pitch `th`, and its first two time derivatives, `[n, 3]` each."""
        e, (ax, az) = self.forward, self.ankle_m
        along = np.cos(th)[:, None] * e + np.sin(th)[:, None] * UP
        normal = -np.sin(th)[:, None] * e + np.cos(th)[:, None] * UP
        turn = ax * normal - az * along  # d(offset)/d(pitch)
        offset = ax * along + az * normal
        return offset, dth[:, None] * turn, ddth[:, None] * turn - (dth**2)[:, None] * offset


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


def _ankle_state(stance: Stance, at: float) -> tuple:
    """Ankle position, velocity, acceleration `[3]` and pitch, rate, angular acceleration at time `at`."""
    pos, vel, acc, th, dth, ddth = stance.heel_state(np.array([at]))
    offset, d_offset, dd_offset = stance.ankle_offset(th, dth, ddth)
    return pos[0] + offset[0], vel[0] + d_offset[0], acc[0] + dd_offset[0], th[0], dth[0], ddth[0]


def _swing_lift(tau: np.ndarray, decay: float = LIFT_DECAY_POWER) -> np.ndarray:
    """Lift over the swing, `tau^3 (1 - tau)^decay` scaled to a peak of 1 at `tau = 3 / (3 + decay)`.

    Value, velocity and acceleration vanish at both ends, so the foot's acceleration stays continuous.
    The peak sits early in the swing, as the real knee's peak flexion (~70-73 % of the gait cycle, a
    quarter to a third into the swing) lifts the foot while it is still behind the body."""
    peak = 3.0 / (3.0 + decay)
    return tau**3 * (1 - tau) ** decay / (peak**3 * (1 - peak) ** decay)


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
        ts = t[swing] - stance.end
        tau = ts / dur
        ankle0, ankle1 = (_ankle_state(s, at) for s, at in ((stance, stance.end), (nxt, nxt.start)))
        (p0, v0, a0, th0, dth0, ddth0), (p1, v1, _, th1, dth1, ddth1) = ankle0, ankle1
        # The foot arrives still decelerating (an impact, not a hover): the acceleration jumps at contact.
        a1 = -LANDING_DECELERATION * (p1 - p0) / dur**2
        lift = stance.rollover.clearance_m * _swing_lift(tau)
        ankle = _hermite5(tau, dur, (p0, v0, a0), (p1, v1, a1)) + lift[:, None] * UP
        # The swing curve leaves toe-off turning toes-up at the swing's mean rate (as real feet do, SPEC 3.3
        # gaitmap: -4 rad/s 50 ms after toe-off for a mean of -4.1); the toes-down roll of push-off carries
        # on as a release that decays within a few tens of ms, with no net pitch change.
        rate = (th1 - th0) / dur
        pitch[swing] = (_hermite5(tau, dur, (th0, rate, 0.0), (th1, dth1, ddth1))
                        + _release(ts, dth0 - rate, ddth0, stance.rollover.release_s)[0])
        yaw[swing] = stance.yaw + (nxt.yaw - stance.yaw) * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
        # The foot turns about the ankle: heel = ankle - R(yaw, pitch) (ankle in the foot frame).
        turned = Stance(stance.start, stance.end, stance.heel, 0.0, stance.length_m, stance.rollover, stance.ankle_m)
        offset = turned.ankle_offset(pitch[swing], np.zeros(len(ts)), np.zeros(len(ts)))[0]
        c, s = np.cos(yaw[swing]), np.sin(yaw[swing])
        heel[swing] = ankle - np.stack([c * offset[:, 0], s * offset[:, 0], offset[:, 2]], axis=1)
    return heel, pitch, yaw
