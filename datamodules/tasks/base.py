"""What every task's windowing shares: the sample index, raw loading, and normalisation statistics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import GRAVITY
from datamodules.recording import SubjectInfo, TrialInfo
from datamodules.store import ArrayStore

# One row per sample: which subject/trial, which time range, which foot (0 left, 1 right).
SAMPLE_DTYPE = np.dtype([("subject", "i4"), ("trial", "i4"), ("start", "i8"), ("stop", "i8"), ("foot", "i1")])
FOOT_INDEX = {"left": 0, "right": 1}
TARGET_STD_FLOOR = 0.01  # target stds are at least 1 % of the largest one


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
    """A task's windowing: which trials it uses, how samples are cut, how they are normalised."""

    name: ClassVar[str]
    paper: ClassVar[str]
    default_activities: ClassVar[tuple[str, ...] | None] = None
    # axes of one sample's x / y to reduce over for the mean (None: no centring) and the std
    x_mean_axes: ClassVar[tuple[int, ...] | None] = (1,)
    x_std_axes: ClassVar[tuple[int, ...]] = (1,)
    y_mean_axes: ClassVar[tuple[int, ...] | None] = None
    y_std_axes: ClassVar[tuple[int, ...]] = ()

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.options = ctx.options

    # -- which trials -------------------------------------------------------------------------
    @abstractmethod
    def missing(self, trial: TrialInfo, subject: SubjectInfo) -> list[str]:
        """Datasets this trial lacks for the task (empty: usable)."""

    def usable_trials(self) -> list[int]:
        activities = self.options.get("activities") or self.default_activities
        usable, lacking = [], {}
        subjects = {s.subject_id: s for s in self.ctx.subjects}
        for i, t in enumerate(self.ctx.trials):
            if activities is not None and t.activity not in activities:
                continue
            miss = self.missing(t, subjects[t.subject_id])
            if miss:
                lacking.setdefault(", ".join(miss), []).append(f"{t.subject_id}/{t.trial_id}")
            else:
                usable.append(i)
        if not usable:
            what = "; ".join(f"{m} (e.g. {v[0]})" for m, v in lacking.items()) or "no trials match"
            acts = f" among activities {list(activities)}" if activities is not None else ""
            raise DataError(f"{self.ctx.file}: task '{self.name}' needs {self.needs()}{acts}; found: {what}")
        return usable

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


def require(condition: bool, message: str) -> None:
    if not condition:
        raise DataError(message)
