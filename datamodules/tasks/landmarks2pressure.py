"""`landmarks2pressure` (Wang, J Biomech): foot geometry + pressure at a few landmarks -> the full map."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import (
    DEFAULT_CELL_CM,
    DEFAULT_GRID,
    FOOT_INDEX,
    LANDMARKS_TO_MAP,
    PaperReference,
    Task,
    make_samples,
    require_cell_size,
    stance_pairs,
)
from datamodules.tasks.landmarks import landmark_cells
from datamodules.tasks.spec import DataSpec

FEET_DEFAULT = ("right", "left")  # the left foot is stored mirrored, so both share one layout
STANCE_SHARE = 0.62  # stance share of the gait cycle (SPEC 3.3), for dry-run estimates


@register_task
class Landmarks2Pressure(Task):
    """Foot geometry + pressure at a few landmark cells -> the full pressure map of that frame (Wang)."""

    name = "landmarks2pressure"
    paper = "Wang (J Biomech)"
    description = "plantar geometry + pressure at 16 (or 2) landmark cells -> the full map of that stance frame"
    family = LANDMARKS_TO_MAP
    default_activities = ("walk",)
    metric_info = {
        "vgrf_accuracy": (True, "%"),
        "peak_pressure_accuracy": (True, "%"),
        "cop_error_cm": (False, "cm"),
        "ssim": (True, ""),
        "nrmse": (False, "%"),
    }
    primary_metric = "cop_error_cm"
    primary_entry = "cop_error_cm"
    readme_metrics = ("cop_error_cm", "vgrf_accuracy", "peak_pressure_accuracy", "ssim")
    reference = PaperReference(
        model="cbam_unet",
        reported={"cop_error_cm": "0.8", "vgrf_accuracy": "97.1", "peak_pressure_accuracy": "98.2"},
        protocol="35 people, 16 landmarks, 5-fold CV",
    )

    # -- definition ---------------------------------------------------------------------------------
    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        grid = tuple(overrides.pop("grid", DEFAULT_GRID))
        return DataSpec(task=cls.name, input_channels=("geometry", "landmarks"), input_shape=(2, *grid),
                        target_shape=grid, grid=grid, cell_size_cm=DEFAULT_CELL_CM, landmarks=16).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from zoo.metrics.pressure import (
            COPError,
            NormalisedRMSE,
            PeakPressureAccuracy,
            PressureSSIM,
            VGRFAccuracy,
        )

        cell = require_cell_size(cls.name, spec)
        return {"vgrf_accuracy": VGRFAccuracy(cell), "peak_pressure_accuracy": PeakPressureAccuracy(),
                "cop_error_cm": COPError(cell), "ssim": PressureSSIM(), "nrmse": NormalisedRMSE()}

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        from datamodules.tasks.figures import maps_figure

        return maps_figure(examples["x"], examples["y_true"], examples["y_pred"], title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        feet = len(options.get("feet") or FEET_DEFAULT)
        step = int(options.get("frame_step", 2))
        return sum(int(d * sample_rate_hz * STANCE_SHARE * feet / step) for d in trial_seconds)

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        return 2

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "landmarks"

    def perturbation_context(self, row: np.void, sample: dict[str, np.ndarray]) -> dict[str, Any]:
        """The landmark cells of this foot, and the measured map they read (a slipped insole reads a neighbour)."""
        foot = "left" if int(row["foot"]) == FOOT_INDEX["left"] else "right"
        t = self.trial(row)
        frame = int(row["start"])
        full_map = self.ctx.store.read(t.subject_id, t.trial_id, f"pressure/{foot}", frame, frame + 1)[0]
        return {"cells": self._cells[(self.subject(row).subject_id, foot)], "full_map": full_map}

    x_mean_axes, x_std_axes = (1, 2), (1, 2)  # per input channel (geometry, landmarks)
    y_mean_axes, y_std_axes = (), (0, 1)      # centred on the training mean map, one scale

    @property
    def feet(self) -> tuple[str, ...]:
        return tuple(self.options.get("feet") or FEET_DEFAULT)

    def needs(self) -> str:
        return f"pressure/<foot> and events/<foot> for feet {list(self.feet)} and subject geometry"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [f"pressure/{f}" for f in self.feet if f not in trial.pressure_feet]
        miss += [f"events/{f}" for f in self.feet if f not in trial.event_feet]
        miss += [f"subjects/{subject.subject_id}/geometry/{f}" for f in self.feet if f not in subject.geometry]
        return miss

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{f}" for f in self.feet]  # the landmark sensors read the measured map

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{f}" for f in self.feet]

    @cached_property
    def _cells(self) -> dict[tuple[str, str], np.ndarray]:
        n = int(self.options["landmarks"])
        return {
            (s.subject_id, foot): landmark_cells(s.geometry[foot] >= 0, n)
            for s in self.ctx.subjects for foot in self.feet if foot in s.geometry
        }

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        t = self.ctx.trials[trial_index]
        step = int(self.options.get("frame_step") or 1)
        rows = []
        for foot in self.feet:
            ev = self.ctx.store.recording.events(t.subject_id, t.trial_id, foot)
            frames = [np.arange(h, o, step) for h, o in stance_pairs(ev["heel_strike"], ev["toe_off"])]
            frames = np.concatenate(frames) if frames else np.zeros(0, np.int64)
            rows.append(make_samples(subject_index, trial_index, frames, frames + 1, foot))
        return np.concatenate(rows)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        foot = "left" if int(row["foot"]) == FOOT_INDEX["left"] else "right"
        subject = self.subject(row)
        frame = int(row["start"])
        measured = self.ctx.store.read(self.trial(row).subject_id, self.trial(row).trial_id,
                                       f"pressure/{foot}", frame, frame + 1)[0]
        target = self.read(row, f"pressure/{foot}", frame, frame + 1, clean=clean)[0]
        cells = self._cells[(subject.subject_id, foot)]
        sparse = np.zeros_like(measured)
        sparse[cells[:, 0], cells[:, 1]] = measured[cells[:, 0], cells[:, 1]]  # what the sensors read
        geometry = subject.geometry[foot].astype(np.float32)
        return {"x": np.stack([geometry, sparse]).astype(np.float32), "y": target.astype(np.float32)}

    def stats(self, samples: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        stats = super().stats(samples)
        # The landmark channel holds pressures: scale it like the target and keep zero at zero.
        stats["x_mean"][1] = 0.0
        stats["x_std"][1] = stats["y_std"].reshape(-1)[0]
        return stats

    def spec(self) -> dict[str, Any]:
        grid = self.ctx.trials[self.usable_trials()[0]].pressure_shape
        return {
            "input_channels": ["geometry", "landmarks"],
            "input_shape": [2, *grid],
            "target_shape": list(grid),
            "landmarks": int(self.options["landmarks"]),
        }
