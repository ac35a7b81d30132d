"""Simulated subjects: anthropometry (Qian 2025 participants) and individual movement style.

Segment lengths are fixed fractions of height (Winter's anthropometric table); what makes two
subjects move differently lives in `Style`, drawn once per subject so that every trial of a subject
shares it, as a real person's gait signature does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.naming import ARCH_TYPES, GRAVITY

HEIGHT_MEAN_M, HEIGHT_SD_M = 1.742, 0.055
MASS_MEAN_KG, MASS_SD_KG = 73.3, 10.6
SEX_SHIFT = {"M": (0.02, 3.0), "F": (-0.03, -4.5)}  # (height m, mass kg); 60 % M keeps the pooled means
ARCH_PROBABILITY = {"low": 0.2, "normal": 0.6, "high": 0.2}
ARCH_HEIGHT_MM = {"low": (3.0, 5.0), "normal": (8.5, 11.5), "high": (18.0, 22.0)}  # uniform ranges
MAX_FOOT_LENGTH_M = 0.279  # fits the 0.288 m insole with half a cell to spare at both ends
MAX_FOOT_WIDTH_M = 0.118


@dataclass(frozen=True)
class Style:
    """Individual gait signature: offsets and amplitudes (deg unless named) shared by all trials."""

    toe_out_deg: tuple[float, float]  # (left, right), toes pointing away from the midline
    step_width_m: float
    stride_factor: float  # >1: longer, slower strides than the population at the same speed
    hip_rotation: tuple[float, float]  # (offset, amplitude)
    knee_adduction: tuple[float, float]
    knee_rotation: tuple[float, float]
    pelvis_amplitude: tuple[float, float, float]  # (tilt, obliquity, rotation)
    trunk_lean_deg: float
    arm_swing_deg: float
    elbow_flexion_deg: float
    heel_load: float  # >1: heavier heel loading than average (pressure style)
    left_share: float  # fraction of body weight on the left foot in double stance


@dataclass(frozen=True)
class Body:
    subject_id: str
    index: int
    mass_kg: float
    height_m: float
    sex: str
    foot_length_m: float
    foot_width_m: float
    arch_type: str
    arch_height_mm: float
    style: Style

    # Segment model (fractions of height after Winter; the hip-joint spacing after Bell et al.).
    @property
    def thigh_m(self) -> float:
        return 0.245 * self.height_m

    @property
    def shank_m(self) -> float:
        return 0.246 * self.height_m

    @property
    def leg_m(self) -> float:
        return self.thigh_m + self.shank_m

    @property
    def hip_spacing_m(self) -> float:
        return 0.10 * self.height_m

    @property
    def trunk_m(self) -> float:
        return 0.30 * self.height_m

    @property
    def shoulder_width_m(self) -> float:
        return 0.23 * self.height_m

    @property
    def upper_arm_m(self) -> float:
        return 0.186 * self.height_m

    @property
    def forearm_m(self) -> float:
        return 0.146 * self.height_m

    @property
    def ankle_in_foot_m(self) -> tuple[float, float]:
        """Ankle joint centre from the heel contact point: (forward, up)."""
        return (0.22 * self.foot_length_m, 0.039 * self.height_m)

    @property
    def weight_n(self) -> float:
        return self.mass_kg * GRAVITY


def sample_body(seed: int, index: int) -> Body:
    """Subject `index` of the population drawn with `seed`; independent of how many are drawn."""
    rng = np.random.default_rng([seed, index])
    sex = "M" if rng.random() < 0.6 else "F"
    dh, dm = SEX_SHIFT[sex]
    height = float(np.clip(rng.normal(HEIGHT_MEAN_M + dh, 0.05), 1.55, 1.95))
    mass = float(np.clip(rng.normal(MASS_MEAN_KG + dm, 10.0), 45.0, 120.0))
    foot_length = float(min(0.15 * height * (1.0 + 0.03 * rng.standard_normal()), MAX_FOOT_LENGTH_M))
    foot_width = float(min(0.38 * foot_length * (1.0 + 0.04 * rng.standard_normal()), MAX_FOOT_WIDTH_M))
    arches = [a for a in ARCH_TYPES if a in ARCH_PROBABILITY]
    arch = str(rng.choice(arches, p=[ARCH_PROBABILITY[a] for a in arches]))
    style = Style(
        toe_out_deg=tuple(float(v) for v in np.clip(rng.normal(7.0, 3.0) + rng.normal(0.0, 1.5, 2), -2, 16)),
        step_width_m=float(np.clip(rng.normal(0.10, 0.02), 0.05, 0.16)),
        stride_factor=float(np.clip(1.0 + 0.03 * rng.standard_normal(), 0.92, 1.08)),
        hip_rotation=(float(rng.normal(0.0, 3.0)), float(rng.uniform(3.0, 6.0))),
        knee_adduction=(float(rng.normal(0.0, 1.5)), float(rng.uniform(1.0, 3.0))),
        knee_rotation=(float(rng.normal(0.0, 2.0)), float(rng.uniform(3.0, 7.0))),
        pelvis_amplitude=(float(rng.uniform(1.0, 3.0)), float(rng.uniform(3.0, 6.0)), float(rng.uniform(3.0, 7.0))),
        trunk_lean_deg=float(rng.normal(3.0, 1.5)),
        arm_swing_deg=float(rng.uniform(12.0, 22.0)),
        elbow_flexion_deg=float(rng.uniform(10.0, 25.0)),
        heel_load=float(np.clip(1.0 + 0.06 * rng.standard_normal(), 0.85, 1.15)),
        left_share=float(np.clip(0.5 + 0.02 * rng.standard_normal(), 0.44, 0.56)),
    )
    lo, hi = ARCH_HEIGHT_MM[arch]
    return Body(
        subject_id=f"S{index + 1:03d}",
        index=index,
        mass_kg=mass,
        height_m=height,
        sex=sex,
        foot_length_m=foot_length,
        foot_width_m=foot_width,
        arch_type=arch,
        arch_height_mm=float(rng.uniform(lo, hi)),
        style=style,
    )
