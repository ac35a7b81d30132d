"""Dataset sizes: `tiny` for tests, `quick` for a 2-core laptop, `standard` and `large` for real hardware."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from datamodules.naming import ACTIVITIES

# Walking speeds span the range of the pressure-plate and force-plate studies the simulator is
# calibrated against (SPEC 3.3); the other activities use the ranges of activities.py.
DEFAULT_GRID = (32, 16)
INSOLE_SIZE_M = (0.288, 0.128)  # along the foot x across; 32 x 16 cells of 9 x 8 mm by default
Number = TypeVar("Number", int, float)
# what `omit` may leave out of a simulated recording (subject geometry, or trial modalities)
OMITTABLE = ("geometry", "events", "imu", "joint_angles", "grf", "keypoints", "com")


def _per_activity(walk: Number, run: Number, other: Number) -> Mapping[str, Number]:
    values = {a: other for a in ACTIVITIES}
    values.update(walk=walk, run=run)
    return MappingProxyType(values)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that decides the generated arrays, apart from the seed.

    trials: number of trials per activity (every subject performs each listed activity that often).
    duration_s: seconds per trial, by activity.
    noise: multiplies every measurement-noise source; 0 gives noisy arrays equal to the clean ones.
    imu_only: write IMU, joint angles, GRF and events only (no pressure maps or keypoints): an unlabeled
        pretraining corpus many times the labeled sets, at a fraction of the time and disk.
    omit: what the written file leaves out (OMITTABLE), to simulate partial recordings: `("geometry", "events",
        ...)` everything but pressure gives what a pressure plate or a bare insole export holds.
    """

    n_subjects: int
    trials: Mapping[str, int]
    duration_s: Mapping[str, float]
    activities: tuple[str, ...] = ACTIVITIES
    noise: float = 1.0
    grid: tuple[int, int] = DEFAULT_GRID
    sample_rate_hz: float = 100.0
    imu_only: bool = False
    omit: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    @property
    def cell_size_m(self) -> tuple[float, float]:
        """Insole cell (along, across the foot): the insole keeps its size whatever the grid."""
        return (INSOLE_SIZE_M[0] / self.grid[0], INSOLE_SIZE_M[1] / self.grid[1])

    def seconds_per_subject(self) -> float:
        return sum(self.trials[a] * self.duration_s[a] for a in self.activities)


PRESETS: Mapping[str, SimulatorConfig] = MappingProxyType({
    "tiny": SimulatorConfig(
        n_subjects=4,
        trials=_per_activity(1, 1, 1),
        duration_s=_per_activity(6.0, 4.0, 3.0),
        description="tests: 4 subjects, one short trial per activity, about 2 s to generate",
    ),
    "quick": SimulatorConfig(
        n_subjects=24,
        trials=_per_activity(3, 1, 1),
        duration_s=_per_activity(15.0, 10.0, 6.0),
        description="a 2-core machine: 24 subjects (subject-wise folds need people more than seconds), "
                    "3 x 15 s of walking and 6-10 s of every other activity",
    ),
    "pressure_only": SimulatorConfig(
        n_subjects=12,
        trials=_per_activity(2, 1, 1),
        duration_s=_per_activity(15.0, 10.0, 6.0),
        activities=("walk",),
        omit=OMITTABLE,
        description="a pressure plate's view: 12 subjects, 2 x 15 s of walking, pressure maps only (no subject "
                    "geometry, no gait events, no IMU, GRF or keypoints)",
    ),
    "standard": SimulatorConfig(
        n_subjects=25,
        trials=_per_activity(6, 2, 2),
        duration_s=_per_activity(60.0, 30.0, 20.0),
        description="25 subjects as in Qian 2025, 6 min of walking each",
    ),
    "pretrain": SimulatorConfig(
        n_subjects=100,
        trials=_per_activity(2, 1, 1),  # type: ignore[arg-type]
        duration_s=_per_activity(30.0, 20.0, 15.0),
        imu_only=True,
        description="SSL pretraining corpus for this machine: 100 subjects, every activity, IMU only "
                    "(about 4.7 h, ~25 k moving windows)",
    ),
    "pretrain_large": SimulatorConfig(
        n_subjects=2000,
        trials=_per_activity(4, 2, 2),  # type: ignore[arg-type]
        duration_s=_per_activity(60.0, 30.0, 30.0),
        imu_only=True,
        description="SSL pretraining corpus for GPU hardware: 2000 subjects, IMU only (streamed; ~10 GB)",
    ),
    "large": SimulatorConfig(
        n_subjects=120,
        trials=_per_activity(6, 3, 3),
        duration_s=_per_activity(60.0, 30.0, 30.0),
        description="GPU hardware: 120 subjects",
    ),
})
