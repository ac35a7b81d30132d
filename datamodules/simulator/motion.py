"""What an activity generator hands to the shared body model: forces, COM, feet and posture over time.

An activity decides *what happens* (contacts, forces, where the feet are, how the trunk and arms move);
`kinematics.py` turns that into a consistent skeleton, and `imu.py` into sensor readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datamodules.naming import FEET


@dataclass
class FootTrack:
    """A rigid foot: heel contact point (world, m), pitch (rad, toes up > 0) and heading (rad)."""

    heel: np.ndarray  # [T, 3]
    pitch: np.ndarray  # [T]
    yaw: np.ndarray  # [T]


@dataclass
class Posture:
    """Orientation of pelvis and trunk (world Euler angles about y, x, z: tilt, obliquity, rotation),
    leg angles the feet do not fix (hip rotation, knee adduction, knee rotation; + = internal /
    adduction) and arm angles (shoulder flexion, shoulder abduction, elbow flexion), all in radians."""

    pelvis: np.ndarray  # [T, 3]
    trunk: np.ndarray  # [T, 3]
    legs: dict[str, np.ndarray]  # foot -> [T, 3]
    arms: dict[str, np.ndarray]  # side -> [T, 3]


@dataclass
class Motion:
    t: np.ndarray  # [T] s
    com: np.ndarray  # [T, 3]; height up to a constant the skeleton decides
    grf: dict[str, np.ndarray]  # foot -> [T, 3] (x, y, z) world N, noise-free
    feet: dict[str, FootTrack]
    loads: dict[str, np.ndarray]  # foot -> [T, K] kernel weights (rows sum to 1 in stance, 0 in swing)
    posture: Posture
    events: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    pelvis_offset: np.ndarray | None = None  # [T, 3] pelvis minus COM (besides the height constant)
    reach: float = 0.999  # longest hip-ankle distance allowed, as a fraction of leg length

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])

    def crop(self, start: int, stop: int) -> Motion:
        """Samples `[start, stop)`, events shifted and restricted to them (an event on the first sample
        is dropped: nothing in the cropped data shows that the contact changed there)."""
        cut = slice(start, stop)
        events = {
            foot: {kind: idx[(idx > start) & (idx < stop)] - start for kind, idx in ev.items()}
            for foot, ev in self.events.items()
        }
        return Motion(
            t=self.t[cut] - self.t[start],
            com=self.com[cut],
            grf={f: g[cut] for f, g in self.grf.items()},
            feet={f: FootTrack(ft.heel[cut], ft.pitch[cut], ft.yaw[cut]) for f, ft in self.feet.items()},
            loads={f: w[cut] for f, w in self.loads.items()},
            posture=Posture(
                self.posture.pelvis[cut], self.posture.trunk[cut],
                {f: a[cut] for f, a in self.posture.legs.items()}, {f: a[cut] for f, a in self.posture.arms.items()},
            ),
            events=events,
            pelvis_offset=None if self.pelvis_offset is None else self.pelvis_offset[cut],
            reach=self.reach,
        )


def empty_events() -> dict[str, dict[str, np.ndarray]]:
    """Feet that never leave the ground: the event arrays exist and are empty."""
    return {foot: {"heel_strike": np.zeros(0, np.int64), "toe_off": np.zeros(0, np.int64)} for foot in FEET}
