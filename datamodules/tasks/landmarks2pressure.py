"""`landmarks2pressure` (Wang, J Biomech): foot geometry + pressure at a few landmarks -> the full map."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import (
    DEFAULT_CELL_CM,
    DEFAULT_GRID,
    FOOT_INDEX,
    LANDMARKS_TO_MAP,
    PaperReference,
    Task,
    TaskContext,
    make_samples,
    require_cell_size,
    stance_pairs,
)
from datamodules.tasks.footprint import (
    CONTACT_THRESHOLD,
    MIN_CONTACT_S,
    check_cells,
    contact_frames,
    footprint_outline,
    geometry_problem,
)
from datamodules.tasks.footprint import shorten as _shorten
from datamodules.tasks.landmarks import landmark_cells
from datamodules.tasks.spec import DataSpec

FEET_DEFAULT = ("right", "left")  # the left foot is stored mirrored, so both share one layout
STANCE_SHARE = 0.62  # stance share of the gait cycle (SPEC 3.3), for dry-run estimates
GEOMETRY_MODES = ("auto", "subject", "footprint")
STANCE_MODES = ("auto", "events", "pressure")


@register_task
class Landmarks2Pressure(Task):
    """Foot geometry + pressure at a few landmark cells -> the full pressure map of that frame (Wang)."""

    name = "landmarks2pressure"
    paper = "Wang (J Biomech)"
    description = "plantar geometry + pressure at 16 (or 2) landmark cells -> the full map of that stance frame"
    family = LANDMARKS_TO_MAP
    sample_unit = "frame"
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
        return {"cells": self.cells(self.subject(row).subject_id, foot), "full_map": full_map}

    x_mean_axes, x_std_axes = (1, 2), (1, 2)  # per input channel (geometry, landmarks)
    y_mean_axes, y_std_axes = (), (0, 1)      # centred on the training mean map, one scale

    def __init__(self, ctx: TaskContext) -> None:
        super().__init__(ctx)
        self._footprint: dict[str, np.ndarray] | None = None
        self._no_events: list[str] = []  # trial/foot whose stance came from pressure (auto), said at fit

    @property
    def feet(self) -> tuple[str, ...]:
        return tuple(self.options.get("feet") or FEET_DEFAULT)

    # -- what the recording must hold, and the documented fallbacks (docs/tasks.md) -------------------
    @cached_property
    def geometry_mode(self) -> str:
        """`subject` (each subject's plantar height map) or `footprint` (the training subjects' pressure
        outline); `auto` picks `subject` only when every subject has a valid map for every foot."""
        mode = self.options.get("geometry") or "auto"
        if mode not in GEOMETRY_MODES:
            raise DataError(f"geometry: expected one of {list(GEOMETRY_MODES)}, found {mode!r}")
        if mode == "footprint":
            return mode
        problems = self._geometry_problems()
        if mode == "subject":
            bad = [p for p in problems if not p.endswith(": missing")]
            if bad:
                raise DataError(f"{self.ctx.file}: geometry='subject' needs a valid plantar height map per subject "
                                f"and foot (cells >= 0 inside the foot, < 0 outside, same grid as pressure); "
                                f"found: {'; '.join(bad)} (geometry='auto' falls back to the training footprint)")
            return mode
        if not problems:
            return "subject"
        cells = ("the landmark cells are the given landmark_cells" if self.options.get("landmark_cells") is not None
                 else "the landmark cells are placed on it")
        self.note(f"geometry: no valid subject geometry ({_shorten(problems)}); channel 0 is the footprint outline "
                  f"of the training subjects' pressure (1 inside, 0 outside) and {cells}, the same for every subject")
        return "footprint"

    def _geometry_problems(self) -> list[str]:
        """`S01/right: all values equal (0)`-style reasons why subject geometry cannot be used."""
        shapes = {t.pressure_shape for t in self.ctx.trials if t.pressure_shape}
        grid = next(iter(shapes)) if len(shapes) == 1 else None
        problems = []
        for s in self.ctx.subjects:
            for foot in self.feet:
                if foot not in s.geometry:
                    problems.append(f"{s.subject_id}/{foot}: missing")
                    continue
                reason = geometry_problem(np.asarray(s.geometry[foot]), grid)
                if reason:
                    problems.append(f"{s.subject_id}/{foot}: {reason}")
        return problems

    @cached_property
    def stance_mode(self) -> str:
        mode = self.options.get("stance") or "auto"
        if mode not in STANCE_MODES:
            raise DataError(f"stance: expected one of {list(STANCE_MODES)}, found {mode!r}")
        return mode

    @property
    def contact_threshold(self) -> float:
        value = self.options.get("contact_threshold", CONTACT_THRESHOLD)
        value = CONTACT_THRESHOLD if value is None else float(value)
        if not 0.0 < value < 1.0:
            raise DataError(f"contact_threshold: expected a share of the peak foot force in (0, 1), found {value}")
        return value

    @cached_property
    def explicit_cells(self) -> np.ndarray | None:
        """`landmark_cells` as an `[L, 2]` (row, column) array checked against the pressure grid, or None."""
        given = self.options.get("landmark_cells")
        if given is None:
            return None
        grid = next((t.pressure_shape for t in self.ctx.trials if t.pressure_shape), None)
        return check_cells(given, grid)

    def needs(self) -> str:
        geometry = {"subject": "subject geometry", "footprint": "no geometry (training footprint)",
                    "auto": "subject geometry or, without it, nothing (training footprint)"}
        stance = {"events": "events/<foot>", "pressure": "no events (contact from pressure)",
                  "auto": "events/<foot> or, without them, nothing (contact from pressure)"}
        return (f"pressure/<foot> for feet {list(self.feet)}, {stance[self.stance_mode]} and "
                f"{geometry[self.options.get('geometry') or 'auto']}")

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [f"pressure/{f}" for f in self.feet if f not in trial.pressure_feet]
        if self.stance_mode == "events":
            miss += [f"events/{f}" for f in self.feet if f not in trial.event_feet]
        if (self.options.get("geometry") or "auto") == "subject":
            miss += [f"subjects/{subject.subject_id}/geometry/{f}" for f in self.feet if f not in subject.geometry]
        return miss

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{f}" for f in self.feet]  # the landmark sensors read the measured map

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{f}" for f in self.feet]

    # -- the footprint fallback: learnt from the training subjects only --------------------------------
    def fit(self, train_rows: np.ndarray) -> None:
        """Compute the footprint outline from the measured pressure of `train_rows` (training samples only,
        so test subjects never shape it); only needed with the footprint fallback."""
        if self._no_events:
            self.note(f"stance: no events in {_shorten(self._no_events)}; stance = contact frames whose total "
                      f"force exceeds contact_threshold={self.contact_threshold:g} of the foot's peak in that trial "
                      f"(runs shorter than {MIN_CONTACT_S:g} s or touching the trial's ends dropped)")
            self._no_events = []
        self._footprint = None
        if self.geometry_mode != "footprint":
            return
        self._footprint = {foot: footprint_outline(self._training_maps(train_rows, foot), foot)
                           for foot in self.feet}
        self.__dict__.pop("_shared_cells", None)

    def state_dict(self) -> dict[str, Any]:
        if self._footprint is None:
            return {}
        return {"footprint": {foot: outline.astype(int).tolist() for foot, outline in self._footprint.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "footprint" in state:  # the outline (and so the landmark cells) the model was trained with
            self._footprint = {foot: np.asarray(v, dtype=bool) for foot, v in state["footprint"].items()}
            self.__dict__.pop("_shared_cells", None)

    def _training_maps(self, rows: np.ndarray, foot: str) -> np.ndarray:
        """Mean measured map `[H, W]` over the training stance frames of `foot` (read trial by trial)."""
        rows = rows[rows["foot"] == FOOT_INDEX[foot]]
        if not len(rows):
            raise DataError(f"{self.ctx.file}: the footprint fallback needs training stance frames of the {foot} "
                            f"foot; found none")
        total, count = None, 0
        for trial_index in np.unique(rows["trial"]):
            t = self.ctx.trials[int(trial_index)]
            frames = rows["start"][rows["trial"] == trial_index]
            maps = np.asarray(self.ctx.store.read(t.subject_id, t.trial_id, f"pressure/{foot}"))[frames]
            block = np.nan_to_num(maps.astype(np.float64)).sum(axis=0)
            total = block if total is None else total + block
            count += len(frames)
        return total / count

    @property
    def footprint(self) -> dict[str, np.ndarray]:
        """foot -> boolean outline `[H, W]` from the training subjects' pressure (after `setup`)."""
        if getattr(self, "_footprint", None) is None:
            raise DataError(f"{self.ctx.file}: the footprint outline is computed from the training subjects at "
                            f"setup(); missing: setup() before reading samples")
        return self._footprint

    @cached_property
    def _subject_cells(self) -> dict[tuple[str, str], np.ndarray]:
        n = int(self.options["landmarks"])
        return {
            (s.subject_id, foot): landmark_cells(s.geometry[foot] >= 0, n)
            for s in self.ctx.subjects for foot in self.feet if foot in s.geometry
        }

    @cached_property
    def _shared_cells(self) -> dict[str, np.ndarray]:
        return {foot: landmark_cells(self.footprint[foot], int(self.options["landmarks"])) for foot in self.feet}

    def cells(self, subject_id: str, foot: str) -> np.ndarray:
        """`[L, 2]` landmark cells of this subject's foot: given, on its own geometry, or on the footprint."""
        if self.explicit_cells is not None:
            return self.explicit_cells
        if self.geometry_mode == "subject":
            return self._subject_cells[(subject_id, foot)]
        return self._shared_cells[foot]

    def geometry_image(self, subject: SubjectInfo, foot: str) -> np.ndarray:
        if self.geometry_mode == "subject":
            return subject.geometry[foot].astype(np.float32)
        return self.footprint[foot].astype(np.float32)

    # -- samples -----------------------------------------------------------------------------------
    def stance_frames(self, t: TrialInfo, foot: str) -> np.ndarray:
        """Stance frames of one foot: from the events, or (no events, or stance='pressure') the contact frames."""
        if self.stance_mode == "events" or (self.stance_mode == "auto" and foot in t.event_feet):
            ev = self.ctx.store.recording.events(t.subject_id, t.trial_id, foot)
            pairs = stance_pairs(ev.get("heel_strike", np.zeros(0, np.int64)), ev.get("toe_off", np.zeros(0, np.int64)))
            return np.concatenate([np.arange(h, o) for h, o in pairs]) if pairs else np.zeros(0, np.int64)
        if self.stance_mode == "auto":
            self._no_events.append(f"{t.subject_id}/{t.trial_id}/{foot}")
        force = np.asarray(self.ctx.store.read(t.subject_id, t.trial_id, f"pressure/{foot}"), np.float64)
        return contact_frames(np.nan_to_num(force).sum(axis=(1, 2)), self.contact_threshold,
                              max(1, int(round(MIN_CONTACT_S * t.sample_rate_hz))))

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        t = self.ctx.trials[trial_index]
        step = int(self.options.get("frame_step") or 1)
        rows = []
        for foot in self.feet:
            frames = self.stance_frames(t, foot)[::step]
            rows.append(make_samples(subject_index, trial_index, frames, frames + 1, foot))
        return np.concatenate(rows)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        foot = "left" if int(row["foot"]) == FOOT_INDEX["left"] else "right"
        subject = self.subject(row)
        frame = int(row["start"])
        measured = self.ctx.store.read(self.trial(row).subject_id, self.trial(row).trial_id,
                                       f"pressure/{foot}", frame, frame + 1)[0]
        target = self.read(row, f"pressure/{foot}", frame, frame + 1, clean=clean)[0]
        cells = self.cells(subject.subject_id, foot)
        sparse = np.zeros_like(measured)
        sparse[cells[:, 0], cells[:, 1]] = measured[cells[:, 0], cells[:, 1]]  # what the sensors read
        geometry = self.geometry_image(subject, foot)
        return {"x": np.stack([geometry, sparse]).astype(np.float32), "y": target.astype(np.float32)}

    def stats(self, samples: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        stats = super().stats(samples)
        # The landmark channel holds pressures: scale it like the target and keep zero at zero.
        stats["x_mean"][1] = 0.0
        stats["x_std"][1] = stats["y_std"].reshape(-1)[0]
        return stats

    def spec(self) -> dict[str, Any]:
        # decide (and check) the options now: a bad value or a fallback is said when the DataModule is built
        _ = self.geometry_mode, self.stance_mode, self.contact_threshold, self.explicit_cells
        grid = self.ctx.trials[self.usable_trials()[0]].pressure_shape
        return {
            "input_channels": ["geometry", "landmarks"],
            "input_shape": [2, *grid],
            "target_shape": list(grid),
            "landmarks": len(self.explicit_cells) if self.explicit_cells is not None else int(self.options["landmarks"]),
        }
