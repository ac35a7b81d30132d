"""What every task shares: its definition (metrics, target layout, README view) and its windowing.

A task is one class in one module (`datamodules/tasks/<name>.py`), registered with `@register_task`. The class
is the single place that knows the task: the data it needs and how samples are cut and normalised (instance
side, bound to a file through `TaskContext`), and, as class attributes and classmethods, its default data spec,
target layout, metrics and primary metric, loss terms, example plot and what the README leaderboard shows.
Everything else (models, runner, reports) asks the task class instead of comparing task names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import GRAVITY
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.store import ArrayStore
from datamodules.tasks.spec import DataSpec

if TYPE_CHECKING:  # torch is imported only where a model or a metric needs it
    from torch import Tensor
    from torchmetrics import MetricCollection

# One row per sample: which subject/trial, which time range, which foot (0 left, 1 right).
SAMPLE_DTYPE = np.dtype([("subject", "i4"), ("trial", "i4"), ("start", "i8"), ("stop", "i8"), ("foot", "i1")])
FOOT_INDEX = {"left": 0, "right": 1}
TARGET_STD_FLOOR = 0.01  # target stds are at least 1 % of the largest one

# Model families: what a network consumes and produces. A model declares the families it serves and so
# supports every task of those families, including tasks added after it was written.
SEQUENCE_TO_STEPS = "sequence_to_steps"          # [C, T] signals -> a vector per (output) step
MASKED_RECONSTRUCTION = "masked_reconstruction"  # [C, T] signals -> themselves (self-supervised)
LANDMARKS_TO_MAP = "landmarks_to_map"            # [2, H, W] geometry + sparse pressure -> [H, W]
INSOLE_TO_POSE = "insole_to_pose"                # [2, M, H, W] insole frames -> [K, 3] keypoints

DEFAULT_GRID = (32, 16)
DEFAULT_CELL_CM = (0.9, 0.8)


@dataclass(frozen=True)
class PaperReference:
    """What the README leaderboard quotes beside a task's synthetic results: the paper architecture's own
    real-data figures (strings, as printed) and the protocol they come from."""

    model: str
    reported: Mapping[str, str] = field(default_factory=dict)
    protocol: str = ""


def stride_keys(batch: Mapping[str, Tensor]) -> Tensor:
    """`[B, 2]` (trial index, first sample) of each window: a stride seen in two windows counts once."""
    import torch

    return torch.stack([batch["trial"], batch["start"]], dim=1)


def make_samples(subject: int, trial: int, starts, stops, foot: str | int = "right") -> np.ndarray:
    starts = np.asarray(starts, dtype=np.int64)
    rows = np.zeros(len(starts), dtype=SAMPLE_DTYPE)
    rows["subject"], rows["trial"] = subject, trial
    rows["start"], rows["stop"] = starts, np.asarray(stops, dtype=np.int64)
    rows["foot"] = FOOT_INDEX[foot] if isinstance(foot, str) else foot
    return rows


@dataclass
class TaskContext:
    """Everything windowing needs to know about the file and the options."""

    store: ArrayStore
    subjects: list[SubjectInfo]
    trials: list[TrialInfo]
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # documented fallbacks the task took (the DataModule's notes)

    @property
    def file(self) -> str:
        return str(self.store.path)


class RunningStats:
    """Streaming sums of samples, reduced afterwards along the axes a task normalises over."""

    def __init__(self) -> None:
        self.sum: np.ndarray | None = None
        self.sumsq: np.ndarray | None = None
        self.count = 0

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if self.sum is None:
            self.sum, self.sumsq = np.zeros_like(x), np.zeros_like(x)
        self.sum += x
        self.sumsq += x * x
        self.count += 1

    def finish(self, mean_axes: tuple[int, ...] | None, std_axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Mean over samples and `mean_axes` (None: no centring), std over samples and `std_axes`."""
        assert self.sum is not None and self.count > 0
        n = self.count
        if mean_axes is None:
            mean = np.zeros((1,) * self.sum.ndim)
        else:
            k = int(np.prod([self.sum.shape[a] for a in mean_axes])) if mean_axes else 1
            mean = self.sum.sum(axis=mean_axes, keepdims=True) / (n * k)
        k = int(np.prod([self.sum.shape[a] for a in std_axes])) if std_axes else 1
        var = (self.sumsq - 2 * mean * self.sum + n * mean * mean).sum(axis=std_axes, keepdims=True) / (n * k)
        std = np.sqrt(np.maximum(var, 0.0))
        std = np.where(std < 1e-8, 1.0, std)  # constant channels (e.g. an unloaded cell) pass through unscaled
        return mean.astype(np.float32), std.astype(np.float32)


class Task(ABC):
    """One task: its definition (class side) and its windowing of one recording file (instance side)."""

    # -- definition ------------------------------------------------------------------------------
    name: ClassVar[str]
    paper: ClassVar[str]
    description: ClassVar[str] = ""
    family: ClassVar[str]
    # how one sample is cut from a continuous recording (what `zoo export` / streaming inference replay):
    # "window" (sliding windows), "stance" (one time-normalised stance), "frames" (a stack of frames), "frame"
    sample_unit: ClassVar[str] = "window"
    default_activities: ClassVar[tuple[str, ...] | None] = None
    # metric name (without split prefix) -> (higher_is_better, unit); the primary metric ranks models
    metric_info: ClassVar[dict[str, tuple[bool, str]]] = {}
    primary_metric: ClassVar[str]
    primary_entry: ClassVar[str]  # the key of the metric collection entry that reports the primary metric
    self_supervised: ClassVar[bool] = False
    # named terms of the training loss and their default weights (`loss_weights` of a model overrides them)
    loss_terms: ClassVar[dict[str, float]] = {}
    # stride-level (clinical) metric keys: secondary columns, reported in `leaderboard_clinical.md`; and the
    # collection entries that compute them (per-stride storage: test only, never in per-epoch validation)
    clinical_metrics: ClassVar[frozenset[str]] = frozenset()
    clinical_entries: ClassVar[tuple[str, ...]] = ("strides", "map_strides")
    # which perturbations of `datamodules.perturbations` apply to the input ("imu", "landmarks", "insole")
    perturbation_kind: ClassVar[str | None] = None
    # the input is a pressure grid that `grid_pool` may coarsen (insole2pose)
    pools_grid: ClassVar[bool] = False
    # appended to the error that names NaN/Inf in the training targets (what the user should do instead)
    target_nan_hint: ClassVar[str] = ""
    # what the README leaderboard shows: these metrics (primary first), beside the paper's figures
    readme_metrics: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[PaperReference | None] = None

    @classmethod
    def default_spec(cls, **overrides: Any) -> DataSpec:
        """The spec of the zoo's default synthetic data for this task (`overrides` replace fields)."""
        raise NotImplementedError(f"task '{cls.name}' defines no default data spec")

    @classmethod
    def build_metrics(cls, spec: DataSpec, *, prefix: str = "test/", primary_only: bool = False,
                      clinical: bool = True) -> MetricCollection:
        """The task's metrics as one torchmetrics collection whose keys start with `prefix`.

        `primary_only` keeps the entry that reports the primary metric (cheap per-epoch validation);
        `clinical=False` leaves out the stride-level entries.
        """
        from torchmetrics import MetricCollection

        metrics = cls.metrics(spec)
        if primary_only:
            metrics = {k: v for k, v in metrics.items() if k == cls.primary_entry}
        if not clinical:
            metrics = {k: v for k, v in metrics.items() if k not in cls.clinical_entries}
        # compute_groups=False: grouping makes metrics share state when their states are equal after the first
        # update, and metrics of one class fed different inputs (cells vs vGRF) can coincide on a perfect batch.
        collection = MetricCollection(metrics, prefix=prefix, compute_groups=False)
        collection.spec = spec  # `update_metrics` may need the layout, the rate or the cell size
        return collection

    @classmethod
    def metrics(cls, spec: DataSpec) -> dict[str, Any]:
        """Collection entry name -> torchmetrics `Metric` (each `update(pred, target, **batch_extras)`)."""
        raise NotImplementedError

    @classmethod
    def update_metrics(cls, metrics: MetricCollection, pred: Tensor, target: Tensor,
                       batch: Mapping[str, Tensor], extras: Mapping[str, Tensor]) -> None:
        """Feed one batch (physical units) to the collection. Every metric gets the batch's `subject` and the
        model's `mask` (masked reconstruction) too; torchmetrics passes each metric only what it accepts."""
        metrics.update(pred, target, subject=batch["subject"], mask=extras.get("mask"))

    @classmethod
    def metric_description(cls, metric: str) -> tuple[bool | None, str]:
        """(higher_is_better, unit); None for statistics that do not rank models (Bland-Altman bias and limits,
        counts); `*_sd` spreads and unknown metrics count as lower-is-better."""
        if metric in cls.metric_info:
            return cls.metric_info[metric]
        base = metric.removesuffix("_sd")
        if metric.endswith("_sd") and base in cls.metric_info:
            return False, cls.metric_info[base][1]
        return False, ""

    @classmethod
    def target_of(cls, batch: Mapping[str, Tensor]) -> Tensor:
        """The physical target of a batch (the input itself for self-supervised tasks)."""
        return batch["x"] if cls.self_supervised else batch["y"]

    @classmethod
    def step_features(cls, spec: DataSpec) -> int:
        """Values per output step a sequence network must produce (family `sequence_to_steps`)."""
        raise NotImplementedError(f"task '{cls.name}' is not a sequence-to-steps task")

    @classmethod
    def output_steps(cls, spec: DataSpec) -> int:
        """Output steps of a sequence network (family `sequence_to_steps`)."""
        raise NotImplementedError(f"task '{cls.name}' is not a sequence-to-steps task")

    @classmethod
    def to_target(cls, y: Tensor, spec: DataSpec) -> Tensor:
        """A network's output laid out as the target (`[B, F, T]` per-step vectors -> the target's shape)."""
        return y

    @classmethod
    def loss(cls, pred: Tensor, target: Tensor, batch: Mapping[str, Tensor], *,
             elementwise: Callable[[Tensor, Tensor], Tensor], weights: Mapping[str, float],
             denormalise: Callable[[Tensor], Tensor], spec: DataSpec) -> Tensor:
        """Training loss on normalised units; multi-target tasks weight their terms (`loss_terms`)."""
        return elementwise(pred, target)

    @classmethod
    def example_figure(cls, examples: Mapping[str, np.ndarray], title: str):
        """A matplotlib figure of a few test predictions (`y_true`, `y_pred`, `x`, spec values), or None."""
        return None

    @classmethod
    def planned_samples(cls, trial_seconds: list[float], sample_rate_hz: float, options: Mapping[str, Any]) -> int:
        """Samples this task would cut from trials of these durations (for `zoo bench --dry-run`)."""
        raise NotImplementedError

    @classmethod
    def input_channel_count(cls, options: Mapping[str, Any]) -> int:
        """Input channels served with these DataModule options, without opening a file."""
        return len(options.get("channels") or cls.default_spec().input_channels)

    # axes of one sample's x / y to reduce over for the mean (None: no centring) and the std
    x_mean_axes: ClassVar[tuple[int, ...] | None] = (1,)
    x_std_axes: ClassVar[tuple[int, ...]] = (1,)
    y_mean_axes: ClassVar[tuple[int, ...] | None] = None
    y_std_axes: ClassVar[tuple[int, ...]] = ()

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.options = ctx.options

    def note(self, message: str) -> None:
        """Record a documented fallback the task took (shared with `GaitDataModule.notes`; never silent)."""
        if message not in self.ctx.notes:
            self.ctx.notes.append(message)

    def fit(self, train_rows: np.ndarray) -> None:
        """Learn what the task needs from the training samples only (called at setup, before the statistics);
        most tasks need nothing."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What `fit` learnt, as plain lists: it travels with the checkpoint beside the normalisation statistics."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `fit` learnt (from a checkpoint), replacing what this file's own training split gave."""
        return None

    def perturbation_context(self, row: np.void, sample: dict[str, np.ndarray]) -> dict[str, Any]:
        """What the perturbations of this task's input need to know about one raw sample: IMU channel names
        and the rate of the input's time axis (IMU tasks), landmark cells and the measured map (landmarks)."""
        return {}

    # -- windowing of one file: which trials ---------------------------------------------------
    @abstractmethod
    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        """Datasets this trial lacks for the task (empty: usable)."""

    def usable_trials(self) -> list[int]:
        activities = self.options.get("activities") or self.default_activities
        usable, lacking, left_out = [], {}, {}
        subjects = {s.subject_id: s for s in self.ctx.subjects}
        for i, t in enumerate(self.ctx.trials):
            if activities is not None and t.activity not in activities:
                left_out[t.activity] = left_out.get(t.activity, 0) + 1
                continue
            miss = self.missing(t, subjects[t.subject_id])
            if miss:
                lacking.setdefault(", ".join(miss), []).append(f"{t.subject_id}/{t.trial_id}")
            else:
                usable.append(i)
        if not usable:
            if not lacking:  # no trial of the activities at all
                raise DataError(self._no_activity_message(activities))
            what = "; ".join(f"{m} (in {len(v)} trial{'s' if len(v) > 1 else ''}, e.g. {v[0]})"
                             for m, v in lacking.items())
            first = next(iter(lacking.values()))[0]
            trial = next(t for t in self.ctx.trials if f"{t.subject_id}/{t.trial_id}" == first)
            acts = f" among activities {list(activities)}" if activities is not None else ""
            raise DataError(f"{self.ctx.file}: task '{self.name}' needs {self.needs()}{acts}; missing: {what}; "
                            f"found in {first}: {trial_contents(trial)}")
        if left_out and not self.options.get("activities"):  # the task's default chose; say what it left out
            counts = ", ".join(f"{a}: {n}" for a, n in sorted(left_out.items()))
            self.note(f"task '{self.name}' uses activities {list(activities)} by default; left out "
                      f"{sum(left_out.values())} trials of other activities ({counts}); choose with --data.activities")
        return usable

    def _no_activity_message(self, activities) -> str:
        counts: dict[str, int] = {}
        for t in self.ctx.trials:
            counts[t.activity] = counts.get(t.activity, 0) + 1
        found = ", ".join(f"{a} ({n} trial{'s' if n > 1 else ''})" for a, n in sorted(counts.items())) or "no trials"
        given = self.options.get("activities")
        source = "--data.activities" if given else f"task '{self.name}' uses by default"
        return (f"{self.ctx.file}: no trial of activities {list(activities)} ({source}); missing: trials with "
                f"activity {' or '.join(repr(a) for a in activities)}; found: {found}. Choose with "
                f"--data.activities (e.g. --data.activities '[{next(iter(sorted(counts)), 'walk')}]')")

    @abstractmethod
    def needs(self) -> str:
        """Human-readable list of the modalities this task reads."""

    # -- samples -----------------------------------------------------------------------------
    @abstractmethod
    def index(self, trial_index: int, subject_index: int) -> np.ndarray:
        """SAMPLE_DTYPE rows for one trial."""

    @abstractmethod
    def load(self, row: np.void, clean: bool = False) -> dict[str, np.ndarray]:
        """The raw (unnormalised) sample: `x`, `y` (noise-free when `clean`) and extra keys, as numpy arrays."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """Shapes and names a model needs, from metadata only."""

    # -- what loading reads (decides cache="auto") --------------------------------------------
    @abstractmethod
    def input_arrays(self, trial: TrialInfo) -> list[str]:
        """Datasets of `trial` that `index` and `load` read as they are (inputs; never their clean copy)."""

    @abstractmethod
    def target_arrays(self, trial: TrialInfo) -> list[str]:
        """Datasets of `trial` read as the target: measured, or the copy under `clean/`."""

    def arrays_read(self, trial: TrialInfo, *, clean_target: bool, include_clean: bool) -> list[tuple[str, bool]]:
        """`(name, clean)` of every dataset of `trial` the DataModule would read (and cache)."""
        reads = [(name, False) for name in self.input_arrays(trial)]
        targets = self.target_arrays(trial)
        if not clean_target:
            reads += [(name, False) for name in targets]
        if clean_target or include_clean:
            reads += [(name, True) for name in targets]
        return list(dict.fromkeys(reads))

    # -- helpers -----------------------------------------------------------------------------
    def trial(self, row: np.void) -> TrialInfo:
        return self.ctx.trials[int(row["trial"])]

    def subject(self, row: np.void) -> SubjectInfo:
        return self.ctx.subjects[int(row["subject"])]

    def read(self, row: np.void, name: str, start: int | None = None, stop: int | None = None,
             clean: bool = False) -> np.ndarray:
        """A target read with `clean=True` comes from the noise-free copy under `clean/`."""
        t = self.trial(row)
        return self.ctx.store.read(t.subject_id, t.trial_id, name, start, stop, clean=clean)

    def body_weight(self, row: np.void) -> float:
        return self.subject(row).body_mass_kg * GRAVITY

    def stats(self, samples: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Normalisation statistics from training samples only (streamed: any iterable, read once)."""
        xs, ys = RunningStats(), RunningStats()
        for s in samples:
            xs.update(s["x"])
            if "y" in s:
                ys.update(s["y"])
        stats = dict(zip(("x_mean", "x_std"), xs.finish(self.x_mean_axes, self.x_std_axes)))
        if ys.count:  # self-supervised tasks have no target of their own
            y_mean, y_std = ys.finish(self.y_mean_axes, self.y_std_axes)
            # A nearly constant target axis would turn tiny errors into huge normalised losses.
            stats.update(y_mean=y_mean, y_std=np.maximum(y_std, TARGET_STD_FLOOR * y_std.max()))
        return stats


def trial_contents(trial: TrialInfo) -> str:
    """`imu (48 ch), joint_angles (18 ch), grf/right, pressure/left+right 32x16, events/right`: what a trial
    holds, from its metadata (for "found: ..." in errors)."""
    def feet(name: str, which: tuple[str, ...], extra: str = "") -> list[str]:
        return [f"{name}/{'+'.join(which)}{extra}"] if which else []

    parts = [f"imu ({len(trial.imu_channels)} ch)"] if trial.imu_channels else []
    parts += [f"joint_angles ({len(trial.joint_angle_channels)} ch)"] if trial.joint_angle_channels else []
    parts += feet("grf", trial.grf_feet) + feet("cop", trial.cop_feet)
    shape = f" {trial.pressure_shape[0]}x{trial.pressure_shape[1]}" if trial.pressure_shape else ""
    parts += feet("pressure", trial.pressure_feet, shape)
    parts += [f"keypoints ({len(trial.keypoint_names)})"] if trial.keypoint_names else []
    parts += feet("events", trial.event_feet)
    return ", ".join(parts) or "no datasets"


def read_channels(task: Task, row: np.void, channels: tuple[str, ...], start: int, stop: int) -> np.ndarray:
    """`[stop - start, C]` block of the named channels, whichever dataset each lives in."""
    t = task.trial(row)
    imu = {c: i for i, c in enumerate(t.imu_channels)}
    ja = {c: i for i, c in enumerate(t.joint_angle_channels)}
    blocks = {}
    if any(c in imu for c in channels):
        blocks["imu"] = task.read(row, "imu", start, stop)
    if any(c not in imu for c in channels):
        blocks["joint_angles"] = task.read(row, "joint_angles", start, stop)
    cols = [blocks["imu"][:, imu[c]] if c in imu else blocks["joint_angles"][:, ja[c]] for c in channels]
    return np.stack(cols, axis=1).astype(np.float32, copy=False)


def channel_arrays(trial: TrialInfo, channels: tuple[str, ...]) -> list[str]:
    """The datasets `read_channels` reads for `channels` in `trial`."""
    imu = set(trial.imu_channels)
    return (["imu"] if any(c in imu for c in channels) else []) + \
        (["joint_angles"] if any(c not in imu for c in channels) else [])


def missing_channels(trial: TrialInfo, channels: tuple[str, ...]) -> list[str]:
    have = set(trial.imu_channels) | set(trial.joint_angle_channels)
    return [c for c in channels if c not in have]


def stance_pairs(heel_strikes: np.ndarray, toe_offs: np.ndarray) -> list[tuple[int, int]]:
    """(heel strike, toe-off) pairs where the toe-off comes before the next heel strike."""
    pairs = []
    hs = np.sort(heel_strikes)
    to = np.sort(toe_offs)
    for i, h in enumerate(hs):
        later = to[to > h]
        if not len(later):
            break
        t = int(later[0])
        if i + 1 < len(hs) and t > hs[i + 1]:
            continue  # a missed toe-off: do not merge two stances
        pairs.append((int(h), t))
    return pairs


def require_cell_size(task: str, spec: DataSpec) -> tuple[float, float]:
    """The pressure cell size (cm) the map metrics need to derive vGRF and COP."""
    if spec.cell_size_cm is None:
        raise DataError(f"task '{task}' needs cell_size_cm (the pressure cell size, from the recording's "
                        "pressure cell_size_m attribute) to derive vGRF and COP; missing: cell_size_cm")
    return spec.cell_size_cm


def require(condition: bool, message: str) -> None:
    if not condition:
        raise DataError(message)
