"""`imu2kinetics` (Motion2Press, Ren et al. 2025): IMU windows -> right-foot pressure map, 3-axis GRF and COP
per step, jointly.

The target of one window is one vector per step, `[F, T]` with `F = H * W + 3 + 2`: the pressure map's cells
(row-major, N/cm^2), then the GRF (ml, ap, vertical; body weights), then the COP (across, along the foot; cm,
from the heel-medial corner of the pressure grid). In swing the map and the GRF are zero and the COP does not
exist: it is held at the centre of the grid there, and every COP statistic, loss term and metric counts
loaded steps only (true vGRF above `STANCE_THRESHOLD_BW` and a true map with load: `loaded_steps`). The loss weights each target (`loss_terms`), and two optional
physics-consistency terms tie the outputs together: the predicted map's total force against the predicted
vGRF, and the predicted map's centroid against the predicted COP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from datamodules.naming import GRAVITY, GRF_AXES
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.tasks import register_task
from datamodules.tasks.base import (
    DEFAULT_CELL_CM,
    DEFAULT_GRID,
    SEQUENCE_TO_STEPS,
    RunningStats,
    Task,
    channel_arrays,
    make_samples,
    missing_channels,
    read_channels,
    require_cell_size,
    stride_keys,
)
from datamodules.tasks.imu2grf import GRF_METRIC_INFO, imu_subset_channels, sliding_window_count, with_spreads
from datamodules.tasks.imu2pressure import PRESSURE_METRIC_INFO
from datamodules.tasks.spec import DataSpec
from datamodules.tasks.stride_info import STRIDE_GRF_INFO

if TYPE_CHECKING:
    from torch import Tensor

FOOT = "right"
DEFAULT_IMUS = ("PELVIS", "R_SHANK", "R_FOOT")  # a minimal set: the pelvis carries the GRF, the foot the roll-over
STANCE_THRESHOLD_BW = 0.02  # as the GRF metrics: a step is loaded when the true vGRF exceeds this
COP_AXES = ("cop_across", "cop_along")


def blocks(spec: DataSpec) -> dict[str, slice]:
    """Rows of the `[F, T]` target that hold each target."""
    h, w = spec.grid
    cells = h * w
    return {"pressure": slice(0, cells), "grf": slice(cells, cells + 3), "cop": slice(cells + 3, cells + 5)}


def split(y: Tensor, spec: DataSpec) -> dict[str, Tensor]:
    """`[B, F, T]` -> pressure `[B, T, H, W]`, grf `[B, 3, T]`, cop `[B, 2, T]`."""
    from einops import rearrange

    h, w = spec.grid
    parts = blocks(spec)
    return {"pressure": rearrange(y[:, parts["pressure"]], "b (h w) t -> b t h w", h=h, w=w),
            "grf": y[:, parts["grf"]], "cop": y[:, parts["cop"]]}


def loaded_steps(cells: Tensor | np.ndarray, vgrf_bw: Tensor | np.ndarray):
    """Steps with a COP: true vGRF above the threshold and load on the true map. `cells` are the map rows of
    the `[..., H*W, T]` target (any cell layout), `vgrf_bw` the vertical GRF `[..., T]`."""
    return (vgrf_bw > STANCE_THRESHOLD_BW) & (cells.sum(-2) > 0)


def centroid_cm(maps: Tensor, cell_size_cm: tuple[float, float], eps: float = 1e-6) -> Tensor:
    """Pressure-weighted centroid `[..., 2]` (across, along; cm) of non-negative maps `[..., H, W]`; the
    `eps` keeps unloaded maps finite (their centroid is not scored)."""
    import torch

    height, width = maps.shape[-2:]
    along = (torch.arange(height, dtype=maps.dtype, device=maps.device) + 0.5) * cell_size_cm[0]
    across = (torch.arange(width, dtype=maps.dtype, device=maps.device) + 0.5) * cell_size_cm[1]
    load = maps.sum(dim=(-2, -1)) + eps
    return torch.stack([(maps.sum(dim=-2) * across).sum(-1) / load, (maps.sum(dim=-1) * along).sum(-1) / load], -1)


@register_task
class Imu2Kinetics(Task):
    """A few IMUs -> right-foot pressure map, GRF and COP per step, trained jointly (Motion2Press)."""

    name = "imu2kinetics"
    paper = "Motion2Press (Ren 2025)"
    description = ("pelvis + right shank + right foot IMUs (18 ch), 128-sample windows -> right-foot pressure "
                   "map, GRF (ML, AP, vertical) and COP per step, jointly")
    family = SEQUENCE_TO_STEPS
    default_activities = ("walk",)
    metric_info = {
        **{k: v for k, v in PRESSURE_METRIC_INFO.items() if k not in ("vgrf_r", "vgrf_rmse")},
        **with_spreads(GRF_METRIC_INFO),
        "cop_error_cm": (False, "cm"),
        "map_vgrf_r": (True, ""),
        "vgrf_consistency_bw": (False, "BW"),
        "cop_consistency_cm": (False, "cm"),
        **STRIDE_GRF_INFO,
    }
    clinical_metrics = frozenset(STRIDE_GRF_INFO)
    primary_metric = "rmse"
    primary_entry = "rmse"
    loss_terms = {"pressure": 1.0, "grf": 1.0, "cop": 1.0, "vgrf_consistency": 0.0, "cop_consistency": 0.0}
    readme_metrics = ("rmse", "r_vertical", "cop_error_cm", "vgrf_consistency_bw")
    reference = None  # Motion2Press reports no figures we can quote (abstract only)

    # -- definition ---------------------------------------------------------------------------------
    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        grid = tuple(overrides.pop("grid", DEFAULT_GRID))
        channels = imu_subset_channels(DEFAULT_IMUS)
        names = (*(f"p{r}_{c}" for r in range(grid[0]) for c in range(grid[1])), *GRF_AXES, *COP_AXES)
        return DataSpec(task=cls.name, input_channels=channels, input_shape=(len(channels), 128),
                        target_shape=(len(names), 128), target_names=names, grid=grid,
                        cell_size_cm=DEFAULT_CELL_CM).replace(**overrides)

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        from datamodules.tasks.imu2pressure import pressure_sequence_metrics
        from zoo.metrics.consistency import (
            COPStepError,
            MapCOPConsistency,
            MapForceConsistency,
            MapVGRFPearson,
        )
        from zoo.metrics.grf import SubjectGRFMetrics

        cell = require_cell_size(cls.name, spec)
        pressure = {k: v for k, v in pressure_sequence_metrics(cell).items()
                    if k not in ("vgrf_r", "vgrf_rmse", "cop_error_cm")}
        from zoo.metrics.stride import StrideGRFMetrics

        return {**pressure, "grf": SubjectGRFMetrics(), "strides": StrideGRFMetrics(GRF_AXES), "cop_error_cm": COPStepError(),
                "map_vgrf_r": MapVGRFPearson(cell), "vgrf_consistency_bw": MapForceConsistency(cell),
                "cop_consistency_cm": MapCOPConsistency(cell)}

    @classmethod
    def update_metrics(cls, metrics, pred: Tensor, target: Tensor, batch: Mapping[str, Tensor],
                       extras: Mapping[str, Tensor]) -> None:
        """Pressure metrics see the loaded steps' maps (as frames), GRF metrics the GRF rows, COP metrics the
        loaded steps; consistency metrics compare the prediction's own outputs with each other."""
        spec = metrics.spec
        p, t = split(pred, spec), split(target, spec)
        loaded = loaded_steps(target[:, blocks(spec)["pressure"]], t["grf"][:, 2])  # [B, T]
        weight_n = batch["mass_kg"].to(pred.dtype) * GRAVITY
        for name, metric in metrics.items(keep_base=True, copy_state=False):
            if name == "grf":
                metric.update(p["grf"], t["grf"], batch["subject"])
            elif name == "strides":
                metric.update(p["grf"], t["grf"], 1.0 / spec.sample_rate_hz, stance_keys=stride_keys(batch))
            elif name == "ppe":
                metric.update(p["pressure"], t["pressure"])  # per window: its peak over all steps
            elif name == "cop_error_cm":
                metric.update(p["cop"], t["cop"], loaded)
            elif name in ("map_vgrf_r", "vgrf_consistency_bw", "cop_consistency_cm"):
                metric.update(p, t, loaded, weight_n)
            elif loaded.any():
                metric.update(p["pressure"][loaded], t["pressure"][loaded])

    @classmethod
    def step_features(cls, spec: DataSpec) -> int:
        return int(spec.target_shape[0])

    @classmethod
    def output_steps(cls, spec: DataSpec) -> int:
        return int(spec.target_shape[-1])

    @classmethod
    def loss(cls, pred: Tensor, target: Tensor, batch: Mapping[str, Tensor], *,
             elementwise: Callable[[Tensor, Tensor], Tensor], weights: Mapping[str, float],
             denormalise: Callable[[Tensor], Tensor], spec: DataSpec) -> Tensor:
        """Weighted sum of the per-target losses (normalised units; COP on loaded steps only), plus the
        consistency terms in physical units scaled to normalised ones."""
        rows = blocks(spec)
        physical = denormalise(target)
        loaded = loaded_steps(physical[:, rows["pressure"]], physical[:, rows["grf"]][:, 2])  # [B, T]
        total = weights["pressure"] * elementwise(pred[:, rows["pressure"]], target[:, rows["pressure"]])
        total = total + weights["grf"] * elementwise(pred[:, rows["grf"]], target[:, rows["grf"]])
        cop_mask = loaded[:, None, :].expand(-1, 2, -1)
        if cop_mask.any():
            total = total + weights["cop"] * elementwise(pred[:, rows["cop"]][cop_mask], target[:, rows["cop"]][cop_mask])
        if weights["vgrf_consistency"] or weights["cop_consistency"]:
            out = split(denormalise(pred), spec)
            maps = out["pressure"].clamp(min=0)
            cell = spec.cell_size_cm
            if weights["vgrf_consistency"]:
                weight_n = (batch["mass_kg"].to(pred.dtype) * GRAVITY)[:, None]
                map_bw = maps.sum(dim=(-2, -1)) * (cell[0] * cell[1]) / weight_n  # [B, T]
                scale = physical[:, rows["grf"]][:, 2].std().clamp(min=1e-3)
                total = total + weights["vgrf_consistency"] * ((map_bw - out["grf"][:, 2]) / scale).pow(2).mean()
            if weights["cop_consistency"] and loaded.any():
                gap = centroid_cm(maps, cell) - out["cop"].transpose(1, 2)  # [B, T, 2]
                scale = physical[:, rows["cop"]].transpose(1, 2)[loaded].std(dim=0).clamp(min=1e-3)
                total = total + weights["cop_consistency"] * (gap[loaded] / scale).pow(2).mean()
        return total

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        import torch

        from datamodules.tasks.figures import kinetics_figure

        spec = cls.default_spec(grid=tuple(int(n) for n in examples["grid"]),
                                cell_size_cm=tuple(float(c) for c in examples["cell_size_cm"]))
        parts = {k: {n: v[0].numpy() for n, v in split(torch.from_numpy(examples[k]), spec).items()}
                 for k in ("y_true", "y_pred")}
        return kinetics_figure(parts["y_true"], parts["y_pred"], examples["cell_size_cm"], title)

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        window = int(options.get("window", 128))
        return sliding_window_count(trial_seconds, sample_rate_hz, window, int(options.get("window_stride") or window // 2))

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        return len(options.get("channels") or imu_subset_channels(options.get("imus") or DEFAULT_IMUS))

    # -- windowing ----------------------------------------------------------------------------------
    perturbation_kind = "imu"

    def perturbation_context(self, row: np.void, sample: dict[str, np.ndarray]) -> dict[str, Any]:
        return {"channels": self.channels, "model_hz": self.trial(row).sample_rate_hz}

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.options.get("channels") or imu_subset_channels(self.options.get("imus") or DEFAULT_IMUS))

    @property
    def window(self) -> int:
        return int(self.options["window"])

    @property
    def stride(self) -> int:
        return int(self.options.get("window_stride") or self.window // 2)

    def needs(self) -> str:
        return f"pressure/{FOOT}, grf/{FOOT} (3 axes) and channels {list(self.channels)}"

    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        miss = [] if FOOT in trial.pressure_feet else [f"pressure/{FOOT}"]
        held = trial.grf_axes_of(FOOT)
        lacking = [a for a in GRF_AXES if a not in held]
        miss += [f"grf/{FOOT}"] if not held else [f"grf/{FOOT} axes {', '.join(lacking)}"] if lacking else []
        return miss + [f"channel {c}" for c in missing_channels(trial, self.channels)]

    def input_arrays(self, trial: TrialInfo) -> list[str]:
        return channel_arrays(trial, self.channels)

    def target_arrays(self, trial: TrialInfo) -> list[str]:
        return [f"pressure/{FOOT}", f"grf/{FOOT}"]

    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        n = self.ctx.trials[trial_index].n_samples
        starts = np.arange(0, n - self.window + 1, self.stride, dtype=np.int64) if n >= self.window else np.zeros(0, int)
        return make_samples(subject_index, trial_index, starts, starts + self.window, FOOT)

    def _cell_cm(self, row: np.void) -> tuple[float, float]:
        cell = self.trial(row).pressure_cell_size_m
        return 100 * cell[0], 100 * cell[1]

    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        start, stop = int(row["start"]), int(row["stop"])
        x = read_channels(self, row, self.channels, start, stop)
        maps = np.clip(self.read(row, f"pressure/{FOOT}", start, stop, clean=clean), 0.0, None)  # [T, H, W]
        grf = self.read(row, f"grf/{FOOT}", start, stop, clean=clean) / self.body_weight(row)  # [T, 3]
        loaded = loaded_steps(maps.reshape(len(maps), -1).T, grf[:, 2])
        cell = self._cell_cm(row)
        h, w = maps.shape[-2:]
        cop = np.tile([w * cell[1] / 2, h * cell[0] / 2], (len(maps), 1))  # swing: the grid centre (never scored)
        cop[loaded] = _centroid_np(maps[loaded], cell)
        target = np.concatenate([maps.reshape(len(maps), -1), grf, cop], axis=1).T  # [F, T]
        return {"x": x.T.copy(), "y": target.astype(np.float32)}

    def stats(self, samples: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Per input channel; the map cells share one scale (centred per cell on the training mean), the GRF
        per axis, the COP per axis over loaded steps only."""
        xs, ys = RunningStats(), RunningStats()
        cop_sum, cop_sq, cop_n = np.zeros(2), np.zeros(2), 0
        cells = None
        for s in samples:
            xs.update(s["x"])
            y = s["y"].astype(np.float64)
            cells = y.shape[0] - 5
            loaded = loaded_steps(y[:cells], y[cells + 2])
            cop = y[cells + 3:, loaded]
            cop_sum += cop.sum(axis=1)
            cop_sq += (cop ** 2).sum(axis=1)
            cop_n += int(loaded.sum())
            ys.update(y)
        x_mean, x_std = xs.finish((1,), (1,))
        y_mean, y_std = ys.finish((1,), (1,))
        y_mean, y_std = y_mean.astype(np.float64), y_std.astype(np.float64)
        map_mean = ys.sum[:cells].mean(axis=1, keepdims=True) / ys.count
        map_sq = ys.sumsq[:cells].mean() / ys.count
        y_mean[:cells] = map_mean
        y_std[:cells] = np.sqrt(max(map_sq - float((map_mean ** 2).mean()), 1e-12))
        if cop_n:
            mean = cop_sum / cop_n
            y_mean[cells + 3:, 0] = mean
            y_std[cells + 3:, 0] = np.sqrt(np.maximum(cop_sq / cop_n - mean ** 2, 1e-12))
        y_std = np.maximum(y_std, 0.01 * y_std.max())
        return {"x_mean": x_mean, "x_std": x_std, "y_mean": y_mean.astype(np.float32), "y_std": y_std.astype(np.float32)}

    def spec(self) -> dict[str, Any]:
        t = self.ctx.trials[self.usable_trials()[0]]
        h, w = t.pressure_shape
        names = [*(f"p{r}_{c}" for r in range(h) for c in range(w)), *GRF_AXES, *COP_AXES]
        return {"input_channels": list(self.channels), "input_shape": [len(self.channels), self.window],
                "target_shape": [len(names), self.window], "target_names": names}


def _centroid_np(maps: np.ndarray, cell_cm: tuple[float, float]) -> np.ndarray:
    """Centroid `[N, 2]` (across, along; cm) of loaded maps `[N, H, W]`."""
    h, w = maps.shape[-2:]
    along = (np.arange(h) + 0.5) * cell_cm[0]
    across = (np.arange(w) + 0.5) * cell_cm[1]
    load = maps.sum(axis=(-2, -1))
    safe = np.where(load > 0, load, 1.0)
    return np.stack([(maps.sum(axis=-2) * across).sum(-1) / safe, (maps.sum(axis=-1) * along).sum(-1) / safe], -1)
