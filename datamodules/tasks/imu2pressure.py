"""`imu2pressure` (Qian 2025): right-leg kinematics over one stance -> right-foot pressure maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from datamodules.naming import GRAVITY, QIAN_CHANNELS_18
from datamodules.preprocessing import time_normalise
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import (
    DEFAULT_CELL_CM,
    DEFAULT_GRID,
    SEQUENCE_TO_STEPS,
    PaperReference,
    Task,
    channel_arrays,
    make_samples,
    missing_channels,
    read_channels,
    require_cell_size,
    stance_pairs,
    stride_keys,
)
from datamodules.tasks.spec import DataSpec
from datamodules.tasks.stride_info import MAP_STRIDE_GRF_INFO, STRIDE_PRESSURE_INFO

if TYPE_CHECKING:
    from torch import Tensor

FOOT = "right"
MIN_STANCE_S, MAX_STANCE_S = 0.15, 2.5
TYPICAL_STRIDE_S = 1.1  # walking stride (SPEC 3.3): one right stance per stride, for dry-run estimates

PRESSURE_METRIC_INFO: dict[str, tuple[bool, str]] = {
    "mse": (False, "(N/cm^2)^2"),
    "mae": (False, "N/cm^2"),
    "rmse": (False, "N/cm^2"),
    "r2": (True, ""),
    "ssim": (True, ""),
    "ppe": (False, "N/cm^2"),
    "vgrf_r": (True, ""),
    "vgrf_rmse": (False, "N"),
    "cop_error_cm": (False, "cm"),
}


def pressure_sequence_metrics(cell_size_cm) -> dict[str, Any]:
    """Qian 2025's map metrics plus vGRF and COP derived from the maps, for `[B, T, H, W]` sequences."""
    from zoo.metrics.pressure import (
        VGRFRMSE,
        COPError,
        PeakPressureError,
        PressureMAE,
        PressureMSE,
        PressureR2Score,
        PressureRMSE,
        PressureSSIM,
        VGRFPearson,
    )

    return {
        "mse": PressureMSE(), "mae": PressureMAE(), "rmse": PressureRMSE(), "r2": PressureR2Score(),
        "ssim": PressureSSIM(), "ppe": PeakPressureError(), "vgrf_r": VGRFPearson(cell_size_cm),
        "vgrf_rmse": VGRFRMSE(cell_size_cm), "cop_error_cm": COPError(cell_size_cm),
    }


@register_task
class Imu2Pressure(Task):
    """Right-leg kinematics over one stance -> right-foot pressure map per normalised stance step (Qian 2025)."""

    name = "imu2pressure"
    paper = "Qian 2025"
    description = ("right-leg kinematics (18 ch) over one stance, time-normalised to 101 samples -> right-foot "
                   "pressure map per step")
    family = SEQUENCE_TO_STEPS
    sample_unit = "stance"
    default_activities = ("walk",)
    metric_info = {**PRESSURE_METRIC_INFO, **STRIDE_PRESSURE_INFO, **MAP_STRIDE_GRF_INFO}
    clinical_metrics = frozenset(STRIDE_PRESSURE_INFO) | frozenset(MAP_STRIDE_GRF_INFO)
    primary_metric = "rmse"
    primary_entry = "rmse"
    readme_metrics = ("rmse", "r2", "ssim", "ppe")
    reference = PaperReference(
        model="cnn_bilstm_attention",
        reported={"rmse": "0.933", "r2": "0.894", "ssim": "0.891", "ppe": "4.02"},
        protocol="25 people, stance-wise random split (subjects on both sides), 10-fold CV",
    )
    x_mean_axes, x_std_axes = (1,), (1,)      # per channel
    # Centred on the training mean map per step and cell: a model's zero output is the mean predictor, so
    # networks learn residuals instead of re-learning (and over-fitting) each training subject's footprint.
    y_mean_axes, y_std_axes = (), (0, 1, 2)

    # -- definition ---------------------------------------------------------------------------------
    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        grid = tuple(overrides.pop("grid", DEFAULT_GRID))
        return DataSpec(task=cls.name, input_channels=QIAN_CHANNELS_18, input_shape=(18, 101),
                        target_shape=(101, *grid), grid=grid, cell_size_cm=DEFAULT_CELL_CM,
                        has_body_mass=True).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from zoo.metrics.stride import MapStrideGRFMetrics, StridePressureMetrics

        cell = require_cell_size(cls.name, spec)
        return {**pressure_sequence_metrics(cell), "strides": StridePressureMetrics(cell),
                "map_strides": MapStrideGRFMetrics(cell)}

    @classmethod
    def update_metrics(cls, metrics, pred, target, batch, extras) -> None:
        """Map metrics per stance; stride quantities per stance: regional peaks and COP path of the maps, and
        the vGRF quantities of the force the maps imply (time step = stance duration / (T - 1))."""
        for name, metric in metrics.items(keep_base=True, copy_state=False):
            if name == "strides":
                metric.update(pred, target, keys=stride_keys(batch))
            elif name == "map_strides":
                dt = batch["duration_s"].double() / (pred.shape[1] - 1)
                metric.update(pred, target, batch["mass_kg"].to(pred.dtype) * GRAVITY, dt,
                              stance_keys=stride_keys(batch))
            else:
                metric.update(pred, target)

    @classmethod
    def step_features(cls, spec: DataSpec) -> int:
        _, h, w = spec.target_shape
        return int(h * w)

    @classmethod
    def output_steps(cls, spec: DataSpec) -> int:
        return int(spec.target_shape[0])

    @classmethod
    def to_target(cls, y: Tensor, spec: DataSpec) -> Tensor:
        """`[B, H*W, T]` per-step vectors -> `[B, T, H, W]` maps."""
        from einops import rearrange

        _, h, w = spec.target_shape
        return rearrange(y, "b (h w) t -> b t h w", h=h, w=w).contiguous()  # metrics call .view()

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        from datamodules.tasks.figures import pressure_figure

        return pressure_figure(examples["y_true"][0], examples["y_pred"][0], examples["cell_size_cm"], title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        return sum(int(d / TYPICAL_STRIDE_S) for d in trial_seconds)

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "imu"

    def perturbation_context(self, row: np.void, sample: dict[str, np.ndarray]) -> dict[str, Any]:
        """The input is one stance time-normalised to `stance_length` samples: its time axis runs at
        (length - 1) / stance duration samples per second, the rate the time-based perturbations act on."""
        duration = (int(row["stop"]) - 1 - int(row["start"])) / self.trial(row).sample_rate_hz
        return {"channels": self.channels, "model_hz": (self.length - 1) / duration}

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.options.get("channels") or QIAN_CHANNELS_18)

    @property
    def length(self) -> int:
        return int(self.options["stance_length"])

    def needs(self) -> str:
        return f"pressure/{FOOT}, events/{FOOT} and channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [] if FOOT in trial.pressure_feet else [f"pressure/{FOOT}"]
        miss += [] if FOOT in trial.event_feet else [f"events/{FOOT}"]
        miss += [f"channel {c}" for c in missing_channels(trial, self.channels)]
        return miss

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return channel_arrays(trial, self.channels)

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{FOOT}"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        t = self.ctx.trials[trial_index]
        ev = self.ctx.store.recording.events(t.subject_id, t.trial_id, FOOT)
        pairs = [
            (h, o) for h, o in stance_pairs(ev.get("heel_strike", np.zeros(0)), ev.get("toe_off", np.zeros(0)))
            if MIN_STANCE_S <= (o - h) / t.sample_rate_hz <= MAX_STANCE_S and o < t.n_samples
        ]
        starts = [h for h, _ in pairs]
        stops = [o + 1 for _, o in pairs]  # inclusive of the toe-off sample: 0 % .. 100 % of stance
        return make_samples(subject_index, trial_index, starts, stops, FOOT)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        x = read_channels(self, row, self.channels, start, stop)
        y = self.read(row, f"pressure/{FOOT}", start, stop, clean=clean)
        return {
            "x": time_normalise(x, self.length, axis=0).T.copy(),
            "y": np.clip(time_normalise(y, self.length, axis=0), 0.0, None),
            "body_mass": np.float32([self.subject(row).body_mass_kg]),
        }

    def spec(self) -> dict[str, Any]:
        grid = self.ctx.trials[self.usable_trials()[0]].pressure_shape
        return {
            "input_channels": list(self.channels),
            "input_shape": [len(self.channels), self.length],
            "target_shape": [self.length, *grid],
            "has_body_mass": True,
        }
