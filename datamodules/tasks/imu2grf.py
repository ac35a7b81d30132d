"""`imu2grf` and `pretrain` (Tan 2024): 128-sample IMU windows, 50 % overlap -> right-foot GRF in BW.

Real force data are often partial: a treadmill or a single plate gives the force on both feet summed
(`grf/total`, `grf_target="total"`), an insole or a 1-D plate gives the vertical axis only. The target is
whatever axes the file holds (or `grf_axes`), and metrics exist only for those axes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import AXES, GRF_AXES, GRF_TOTAL, IMU_CHANNELS_48, IMU_SEGMENTS, imu_channel
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import (
    SEQUENCE_TO_STEPS,
    PaperReference,
    Task,
    channel_arrays,
    make_samples,
    missing_channels,
    read_channels,
    stride_keys,
)
from datamodules.tasks.spec import DataSpec
from datamodules.tasks.stride_info import STRIDE_GRF_INFO

FOOT = "right"
# `grf_target` -> the `grf/<key>` dataset it reads
GRF_TARGETS = {"per_foot": FOOT, "total": GRF_TOTAL}
STATIC_ACC_STD = 0.2  # m/s^2: Tan 2024 drops windows whose mean accelerometer std is below this


def imu_subset_channels(imus: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """48-channel order (all accelerometers, then all gyroscopes), restricted to `imus`."""
    if not imus:
        return IMU_CHANNELS_48
    unknown = [i for i in imus if i not in IMU_SEGMENTS]
    if unknown:
        raise DataError(f"imus: expected names from {list(IMU_SEGMENTS)}, found {unknown}")
    keep = [s for s in IMU_SEGMENTS if s in imus]
    return tuple(imu_channel(s, sensor, a) for sensor in ("acc", "gyr") for s in keep for a in AXES)


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    return np.arange(0, n_samples - window + 1, stride, dtype=np.int64) if n_samples >= window else np.zeros(0, int)


GRF_METRIC_INFO: dict[str, tuple[bool, str]] = {
    **{f"r_{axis}": (True, "") for axis in GRF_AXES},
    **{f"rmse_{axis}": (False, "BW") for axis in GRF_AXES},
    "rrmse_vertical": (False, "%"),
    "peak_vgrf_r": (True, ""),
    "peak_vgrf_rmse": (False, "BW"),
}


def with_spreads(info: dict[str, tuple[bool, str]]) -> dict[str, tuple[bool, str]]:
    """Add `<metric>_sd` (the spread across subjects; smaller is better) for every metric."""
    return {**info, **{f"{name}_sd": (False, unit) for name, (_, unit) in info.items()}}


def sliding_window_count(trial_seconds: list[float], rate_hz: float, window: int, stride: int) -> int:
    return sum(max(0, int((d * rate_hz - window) // stride) + 1) for d in trial_seconds)


@register_task
class Imu2Grf(Task):
    """IMU windows -> right-foot GRF per step in body weights (Tan 2024)."""

    name = "imu2grf"
    paper = "Tan 2024"
    description = "8 IMUs (48 ch) at 100 Hz -> right-leg GRF (ML, AP, vertical) per step, 128-sample windows"
    family = SEQUENCE_TO_STEPS
    default_activities = ("walk",)
    x_mean_axes, x_std_axes = (1,), (1,)  # per channel
    y_mean_axes, y_std_axes = (1,), (1,)  # per GRF axis
    metric_info = {**with_spreads(GRF_METRIC_INFO), **STRIDE_GRF_INFO}
    clinical_metrics = frozenset(STRIDE_GRF_INFO)
    primary_metric = "r_vertical"
    primary_entry = "grf"
    # documented choice: NaN targets are refused (not masked out of the loss); an axis not measured is left out
    target_nan_hint = ("; a force axis the lab did not measure is left out of the file (or of --data.grf_axes), "
                       "not filled with NaN")
    readme_metrics = ("r_vertical", "rmse_vertical", "rrmse_vertical", "r_ap")
    reference = PaperReference(
        model="ssl_transformer",
        reported={"r_vertical": "0.94 / 0.97", "r_ap": "0.94 / 0.98"},
        protocol="SSL-pretrained paper-size model, overground / treadmill walking, 5-fold by subject "
                 "(from scratch: vGRF r 0.92 / 0.93)",
    )

    # -- definition ---------------------------------------------------------------------------------
    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        return DataSpec(task=cls.name, input_channels=IMU_CHANNELS_48, input_shape=(48, 128), target_shape=(3, 128),
                        target_names=GRF_AXES).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from zoo.metrics.grf import SubjectGRFMetrics
        from zoo.metrics.stride import StrideGRFMetrics

        axes = tuple(spec.target_names) or GRF_AXES
        metrics: dict[str, Any] = {"grf": SubjectGRFMetrics(axes)}
        if spec.get("grf_target", "per_foot") != "total":  # stride quantities are per foot (see docs/tasks.md)
            metrics["strides"] = StrideGRFMetrics(axes)
        return metrics

    @classmethod
    def update_metrics(cls, metrics, pred, target, batch, extras) -> None:
        """Per-subject scores, and stride quantities of the stances complete inside each window (a stance in
        two overlapping windows counts once: `stride_keys`)."""
        for name, metric in metrics.items(keep_base=True, copy_state=False):
            if name == "strides":
                metric.update(pred, target, 1.0 / metrics.spec.sample_rate_hz, stance_keys=stride_keys(batch))
            else:
                metric.update(pred, target, batch["subject"])

    @classmethod
    def step_features(cls, spec: DataSpec) -> int:
        return int(spec.target_shape[0])

    @classmethod
    def output_steps(cls, spec: DataSpec) -> int:
        return int(spec.target_shape[-1])

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        from datamodules.tasks.figures import grf_figure

        names = [str(n) for n in examples.get("target_names", GRF_AXES)]
        return grf_figure(examples["y_true"][0], examples["y_pred"][0], names, title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        window = int(options.get("window", 128))
        return sliding_window_count(trial_seconds, sample_rate_hz, window, int(options.get("window_stride") or window // 2))

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        return len(options.get("channels") or imu_subset_channels(options.get("imus")))

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "imu"

    def perturbation_context(self, row: np.void, sample: dict[str, np.ndarray]) -> dict[str, Any]:
        return {"channels": self.channels, "model_hz": self.trial(row).sample_rate_hz}


    @property
    def channels(self) -> tuple[str, ...]:
        """`channels`, else the 48-channel order restricted to `imus`; with neither, the channels of that
        order every trial holds (e.g. a 2-axis accelerometer), said in a note."""
        if self.options.get("channels") or self.options.get("imus"):
            return tuple(self.options.get("channels") or imu_subset_channels(self.options.get("imus")))
        if getattr(self, "_channels", None) is None:
            self._channels = self._default_channels()
        return self._channels

    def _default_channels(self) -> tuple[str, ...]:
        activities = self.options.get("activities") or self.default_activities
        held = [set(t.imu_channels) | set(t.joint_angle_channels) for t in self.ctx.trials
                if activities is None or t.activity in activities]
        common = tuple(c for c in IMU_CHANNELS_48 if held and all(c in h for h in held))
        if not common or common == IMU_CHANNELS_48:
            return IMU_CHANNELS_48  # all there, or none: `missing` names what is lacking
        self.note(f"the file holds {len(common)} of the 48 default IMU channels; using "
                  f"{list(common)} (set --data.channels or --data.imus to choose)")
        return common

    @property
    def window(self) -> int:
        return int(self.options["window"])

    @property
    def stride(self) -> int:
        return int(self.options.get("window_stride") or self.window // 2)

    @property
    def grf_key(self) -> str:
        """`right` (`grf_target: per_foot`) or `total` (both feet summed)."""
        target = self.options.get("grf_target") or "per_foot"
        if target not in GRF_TARGETS:
            raise DataError(f"grf_target: expected one of {list(GRF_TARGETS)}, found '{target}'")
        return GRF_TARGETS[target]

    @property
    def axes(self) -> tuple[str, ...]:
        """The GRF axes served as the target: `grf_axes`, else those every trial with the target holds."""
        if getattr(self, "_axes", None) is None:
            self._axes = self._resolve_axes()
        return self._axes

    def _resolve_axes(self) -> tuple[str, ...]:
        key, requested = self.grf_key, self.options.get("grf_axes")
        if requested:
            requested = [requested] if isinstance(requested, str) else list(requested)
            if any(a not in GRF_AXES for a in requested) or "vertical" not in requested:
                raise DataError(f"grf_axes: expected axes from {list(GRF_AXES)} including 'vertical' (stance "
                                f"samples are found on it), found {requested}")
            return tuple(a for a in GRF_AXES if a in requested)
        activities = self.options.get("activities") or self.default_activities
        held = [t.grf_axes_of(key) for t in self.ctx.trials
                if (activities is None or t.activity in activities) and t.grf_axes_of(key)]
        if not held:
            found = sorted({f"grf/{k}" for t in self.ctx.trials for k, _ in t.grf_axes})
            if not found:  # no force at all: `usable_trials` says what is missing and what the trials hold
                return GRF_AXES
            hint = " (use --data.grf_target total)" if f"grf/{GRF_TOTAL}" in found else \
                " (use --data.grf_target per_foot)" if key == GRF_TOTAL else ""
            raise DataError(f"{self.ctx.file}: task '{self.name}' needs grf/{key} (grf_target "
                            f"'{self.options.get('grf_target') or 'per_foot'}'); missing: grf/{key}; "
                            f"found: {', '.join(found)}{hint}")
        common = tuple(a for a in GRF_AXES if all(a in h for h in held))
        if "vertical" not in common:
            raise DataError(f"{self.ctx.file}: task '{self.name}' needs the vertical axis of grf/{key} in every "
                            f"trial; missing: vertical; found: {sorted({'/'.join(h) for h in held})}")
        if common != GRF_AXES:
            extra = sorted({a for h in held for a in h} - set(common))
            dropped = f"; axes {extra} held by only some trials are left out" if extra else ""
            self.note(f"target grf/{key} axes {list(common)} (what the file holds{dropped}); no metric is "
                      f"reported for {[a for a in GRF_AXES if a not in common]}")
        return common

    def needs(self) -> str:
        return f"grf/{self.grf_key} (axes {list(self.axes)}) and channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        held = trial.grf_axes_of(self.grf_key)
        if not held:
            miss = [f"grf/{self.grf_key}"]
        else:
            lacking = [a for a in self.axes if a not in held]
            miss = [f"grf/{self.grf_key} axes {', '.join(lacking)}"] if lacking else []
        return miss + [f"channel {c}" for c in missing_channels(trial, self.channels)]

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return channel_arrays(trial, self.channels)

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"grf/{self.grf_key}"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        starts = window_starts(self.ctx.trials[trial_index].n_samples, self.window, self.stride)
        return make_samples(subject_index, trial_index, starts, starts + self.window, FOOT)

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        x = read_channels(self, row, self.channels, start, stop)
        held = self.trial(row).grf_axes_of(self.grf_key)
        grf = self.read(row, f"grf/{self.grf_key}", start, stop, clean=clean)[:, [held.index(a) for a in self.axes]]
        return {"x": x.T.copy(), "y": (grf / self.body_weight(row)).T.astype(np.float32)}

    def stats(self, samples) -> dict[str, np.ndarray]:
        """As every task, but an axis constant over all training samples (a force axis the lab did not
        measure, filled with zeros) is refused: it would be reported as a perfect score."""
        lo = hi = None

        def watch(it):
            nonlocal lo, hi
            for sample in it:
                if "y" in sample:  # `pretrain` (a subclass) has no target
                    y = np.asarray(sample["y"], np.float64)
                    lo = y.min(axis=1) if lo is None else np.minimum(lo, y.min(axis=1))
                    hi = y.max(axis=1) if hi is None else np.maximum(hi, y.max(axis=1))
                yield sample

        stats = super().stats(watch(samples))
        if lo is not None:
            constant = [a for a, low, high in zip(self.axes, lo, hi) if np.isfinite(high - low) and high - low < 1e-6]
            if constant:
                raise DataError(f"{self.ctx.file}: grf/{self.grf_key} axes {constant} are constant "
                                f"({[float(v) for a, v in zip(self.axes, lo) if a in constant]} BW) in every training "
                                f"sample: a force axis the lab did not measure is left out of the file (or of "
                                f"--data.grf_axes), not filled with zeros; found: constant {', '.join(constant)}")
        return stats

    def spec(self) -> dict[str, Any]:
        return {
            "input_channels": list(self.channels),
            "input_shape": [len(self.channels), self.window],
            "target_shape": [len(self.axes), self.window],
            "target_names": list(self.axes),
            "grf_target": self.options.get("grf_target") or "per_foot",
        }
