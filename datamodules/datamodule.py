"""One LightningDataModule for every task of the zoo (see docs/tasks.md for the batch contract)."""

from __future__ import annotations

import os
import sys
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from datamodules.errors import DataError
from datamodules.options import check_data_options
from datamodules.recording import Recording
from datamodules.sources import resolve_source
from datamodules.splits import (
    SPLITS,
    Split,
    random_stance,
    subject_kfold,
    subsample,
    time_blocks,
    trial_kfold,
)
from datamodules.store import ArrayStore, resolve_cache
from datamodules.tasks import SAMPLE_DTYPE, TASKS, DataSpec, Task, TaskContext, get_task

TARGETS = ("measured", "clean")


MEMO_BUDGET_BYTES = 1 << 30  # processed samples are kept in memory when all of them fit in 1 GiB


class WindowDataset(Dataset):
    """Samples of one split, normalised with the training statistics held by the DataModule.

    With `memoise`, each processed sample (spline-normalised stance, sparse image, ...) is computed once
    and reused by later epochs; the DataModule turns it on only when every sample fits its budget.
    `perturb = (name, severity, seed)` applies one perturbation of `datamodules.perturbations` to every raw
    input before normalisation (robustness tests; reproducible per sample); `augment = p` draws a random
    perturbation of the task's kind for a share `p` of the samples, anew at every read (training).
    """

    def __init__(self, task: Task, rows: np.ndarray, stats: dict[str, np.ndarray], *,
                 clean_target: bool, include_clean: bool, memoise: bool = False,
                 perturb: tuple[str, Any, int] | None = None, augment: float = 0.0, seed: int = 0,
                 positions: np.ndarray | None = None) -> None:
        self.task, self.rows, self.stats = task, rows, stats
        # where each row sits in the DataModule's sample table (`row` of a batch), to trace a bad batch back
        self.positions = np.arange(len(rows)) if positions is None else np.asarray(positions, dtype=np.int64)
        self.clean_target, self.include_clean = clean_target, include_clean
        self.perturb, self.augment, self.seed = perturb, augment, seed
        self.reads = np.zeros(len(rows), np.int64)  # per-sample draw counter: augmentation differs per epoch
        memoise = memoise and not augment  # an augmented sample must be drawn again at every read
        self.memo: dict[int, dict[str, Any]] | None = {} if memoise else None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.memo is None:
            return self._make(i)
        if i not in self.memo:
            self.memo[i] = self._make(i)
        return self.memo[i]

    def _perturbed(self, i: int, row: np.void, sample: dict[str, np.ndarray]) -> np.ndarray:
        from datamodules.perturbations import PERTURBATIONS, augment

        context = self.task.perturbation_context(row, sample)
        if self.perturb is not None:
            name, severity, seed = self.perturb
            rng = np.random.default_rng([seed, int(row["trial"]), int(row["start"]), int(row["foot"])])
            return PERTURBATIONS[name](sample["x"], severity, rng, **context)
        self.reads[i] += 1
        rng = np.random.default_rng([self.seed, i, int(self.reads[i])])
        return augment(sample["x"], self.task.perturbation_kind, rng, p=self.augment, **context)[0]

    def _make(self, i: int) -> dict[str, Any]:
        row = self.rows[i]
        sample = self.task.load(row, clean=self.clean_target)
        if self.perturb is not None or self.augment:
            sample["x"] = self._perturbed(i, row, sample).astype(np.float32)
        st = self.stats
        sample["x"] = ((sample["x"] - st["x_mean"]) / st["x_std"]).astype(np.float32)
        if "body_mass" in sample:
            sample["body_mass"] = ((sample["body_mass"] - st["mass_mean"]) / st["mass_std"]).astype(np.float32)
        if self.include_clean:
            sample["y_clean"] = self.task.load(row, clean=True)["y"]
        sample["subject"] = np.int64(row["subject"])
        sample["row"] = np.int64(self.positions[i])
        sample["mass_kg"] = np.float32(self.task.subject(row).body_mass_kg)
        # where the sample comes from (trial index, first sample) and how long it lasts: stride metrics key and
        # time their strides with these, and errors can name the data
        sample["trial"] = np.int64(row["trial"])
        sample["start"] = np.int64(row["start"])
        sample["duration_s"] = np.float32((row["stop"] - row["start"]) / self.task.trial(row).sample_rate_hz)
        return sample


class EvaluationSampler(DistributedSampler):
    """Process `rank` of `num_replicas` gets samples rank, rank + n, rank + 2n, ... and no padding, so
    validation and test under DDP score every sample exactly once (Lightning's evaluation sampler repeats
    samples to even out the processes). A `DistributedSampler`, so Lightning keeps it as it is."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        self.num_samples = len(range(rank, len(dataset), num_replicas))
        self.total_size = len(dataset)

    def __iter__(self):
        return iter(range(self.rank, self.total_size, self.num_replicas))


def padding_mask(sampler: Any, first: int, count: int) -> torch.Tensor | None:
    """Which of this process's samples `first` .. `first + count - 1` of an epoch are real (not the padding
    a `DistributedSampler` with `drop_last=False` repeats so every process gets as many); None: no padding."""
    if not isinstance(sampler, DistributedSampler) or isinstance(sampler, EvaluationSampler):
        return None
    n = len(sampler.dataset)
    if sampler.drop_last or sampler.total_size <= n:
        return None
    local = torch.arange(first, first + count)
    return sampler.rank + local * sampler.num_replicas < n


class GaitDataModule(pl.LightningDataModule):
    """Serves `task` from the recording at `path` with K-fold splits (subject-wise by default).

    Args:
        path: recording file (HDF5, see docs/recording_format.md), or `sim:PRESET[:SEED]` for the simulator.
        task: a registered task (`datamodules.tasks.list_tasks()`), e.g. imu2grf.
        fold, n_folds: which of the K folds is the test set (K subjects, trials or time blocks, as `split` says).
        split: how samples are divided (datamodules/splits.py; docs/tasks.md "Splits"):
            `subject_kfold` (default): K folds of subjects; no subject in both training and test.
            `trial`: K folds of trials, dealt subject by subject so each fold holds trials of as many subjects
            as possible; one subject with several trials can be cross-validated (subjects are on both sides).
            `block`: every trial cut into K contiguous time blocks, fold k tests on block k; windows of
            different splits (train/val/test) are at least one window apart (those in the gap are dropped),
            so overlapping windows never straddle two splits; works with one subject and one trial.
            `random_stance`: Qian 2025's stance-wise random split (subjects leak; training and validation
            windows that overlap a test window are dropped, and the warning says how many).
        val_subjects: validation set carved from the non-test data, in the split's unit: subjects, trials or
            blocks (a fraction < 1 of them, at least one; or a count); for `block` a fraction is a share of the
            non-test time just before the test block. 0 keeps no validation set: the last epoch's model is
            kept instead of the best-validation one, and `ridge` uses its default penalty (both say so).
            Not used by `random_stance`, which validates on fold k of its non-test samples.
        test_fraction: share of samples held out for test by `random_stance`.
        split_seed: seed of the subject (or trial) shuffle: the same seed gives the same folds for every model;
            `block` folds are fixed by time and need no seed.
        channels: input channel names (any subset; default: the task's paper set).
        imus: IMU segments to keep for `imu2grf` / `pretrain` (e.g. ["R_FOOT"]), in the 48-channel order; both
            tasks serve only those IMUs' channels (models that need all 8 substitute the absent ones).
        activities: trial activities to use (default: the task's own, e.g. walking for imu2pressure).
        target: `measured` (noisy, as a lab records it) or `clean` (noise-free simulator targets).
        include_clean: also serve `y_clean` (the noise-free target) for the noise-floor row.
        grf_target: `imu2grf`'s target: `per_foot` (grf/right) or `total` (grf/total, both feet summed, as a
            treadmill or a single plate gives; no stride metrics then).
        grf_axes: `imu2grf`'s target axes (a subset of ml, ap, vertical holding vertical); default: the axes
            every trial holds (a vertical-only file trains on vertical; metrics exist only for those axes).
        window, window_stride: window length and hop for `imu2grf` / `pretrain` (default hop: 50 %).
        stance_length: samples per time-normalised stance for `imu2pressure` (T = 101).
        frames, window_s, pose_stride: `insole2pose` input frames M, the time they span (default 2.73 s: 40
            frames 7 samples apart at 100 Hz; each trial's hop follows its rate) and the hop between windows.
        frame_stride: `insole2pose` samples between input frames, instead of `window_s` (same at every rate).
        grid_pool: `insole2pose` averages each k x k block of insole cells (1: the recorded grid; 2, 4, 8: Han et
            al.'s resolution ablation, 30 x 22 -> 15 x 11, 8 x 6, 4 x 3; partial blocks at edges k does not divide).
        body_parts: `insole2pose` keypoint-to-part map of the per-part scores (default: the zoo's map for the
            keypoints present); printed as a note with the keypoints no part holds.
        landmarks: 16 or 2 landmark sensors for `landmarks2pressure`; `frame_step` keeps every n-th stance frame.
        feet: feet used by `landmarks2pressure`.
        geometry: `landmarks2pressure`'s foot geometry: `subject` (each subject's plantar height map; refused if
            missing or invalid), `footprint` (the outline of the training subjects' pressure), or `auto` (subject
            geometry when every subject has a valid one, else the footprint, with a note).
        landmark_cells: explicit `[[row, column], ...]` landmark cells for every subject (instead of `landmarks`).
        stance: `landmarks2pressure`'s stance frames: `events`, `pressure` (contact frames, see
            `contact_threshold`) or `auto` (events where the trial has them, else pressure, with a note).
        contact_threshold: a frame is in contact when the foot's total force exceeds this share of its peak
            (99th percentile) in the trial (default 0.05).
        label_fraction: share of training samples kept (label-efficiency experiments).
        seed: seed of the label subsample and the training shuffle.
        cache: keep the arrays the task reads in memory (`True`), stream them from disk (`False`), or `auto`:
            cache when their uncompressed size (`cache_bytes()`) is at most a quarter of the memory available
            now (see datamodules/store.py), so a file larger than RAM is always streamed.
        stats_samples: at most this many training samples are read to compute normalisation statistics.
        augment: share of training samples (0 to 1) that get a random perturbation of the task's input kind
            (`datamodules.perturbations`: IMU re-mounting, noise, sample rate, time offset, a missing IMU; landmark
            loss or slip; insole frame loss), drawn anew at every epoch; validation and test stay clean.
    """

    def __init__(
        self,
        path: str,
        task: str = "imu2grf",
        *,
        fold: int = 0,
        n_folds: int = 5,
        split: str = "subject_kfold",
        val_subjects: int | float = 0.2,
        test_fraction: float = 0.3,
        split_seed: int = 0,
        batch_size: int = 32,
        num_workers: int = 0,
        channels: list[str] | None = None,
        imus: list[str] | None = None,
        activities: list[str] | None = None,
        target: str = "measured",
        include_clean: bool = False,
        grf_target: str = "per_foot",
        grf_axes: list[str] | None = None,
        window: int = 128,
        window_stride: int | None = None,
        stance_length: int = 101,
        frames: int = 40,
        frame_stride: int | None = None,
        window_s: float | None = None,
        pose_stride: int | None = None,
        grid_pool: int = 1,
        body_parts: dict[str, list[str]] | None = None,
        landmarks: int = 16,
        frame_step: int = 2,
        feet: list[str] | None = None,
        geometry: str = "auto",
        landmark_cells: list[list[int]] | None = None,
        stance: str = "auto",
        contact_threshold: float = 0.05,
        label_fraction: float = 1.0,
        seed: int = 0,
        cache: bool | str = "auto",
        stats_samples: int = 2000,
        augment: float = 0.0,
    ) -> None:
        super().__init__()
        check_data_options(locals())
        self.save_hyperparameters()
        task_class = get_task(task)  # an unknown name fails here, listing the tasks
        if split not in SPLITS:
            raise DataError(f"split: expected one of {list(SPLITS)}, found '{split}'")
        if target not in TARGETS:
            raise DataError(f"target: expected one of {list(TARGETS)}, found '{target}'")
        if not 0.0 <= augment <= 1.0:
            raise DataError(f"augment: expected a share of training samples in [0, 1], found {augment}")
        if grid_pool != 1 and not task_class.pools_grid:
            raise DataError(f"grid_pool: only tasks whose input is a pressure grid pool it ("
                            f"{[n for n, c in TASKS.items() if c.pools_grid]}); found grid_pool={grid_pool} "
                            f"with task '{task}'")
        if augment and task_class.perturbation_kind is None:
            raise DataError(f"augment: task '{task}' has no input perturbations to draw from; found augment={augment}")
        self.path = os.fspath(resolve_source(path))
        self.task_name = task
        recording = Recording(self.path)
        self.store = ArrayStore(self.path, cache=False)  # decided below, once the task knows what it reads
        subjects = [recording.subject(s) for s in recording.subject_ids]
        trials = recording.trials()
        activity_names = sorted({t.activity for t in trials})
        options = dict(self.hparams)
        options["activity_names"] = activity_names
        # documented fallbacks taken for this data (the task adds its own); printed once at setup, and stored
        # with each run's results
        self.notes: list[str] = []
        self._notes_printed = 0  # notes[:_notes_printed] are already printed
        self.task: Task = task_class(TaskContext(self.store, subjects, trials, options, notes=self.notes))
        self._usable = self.task.usable_trials()  # fails here, naming task and modality, if the file lacks it
        if (target == "clean" or include_clean) and not all(trials[i].has_clean for i in self._usable):
            lack = [f"{trials[i].subject_id}/{trials[i].trial_id}" for i in self._usable if not trials[i].has_clean]
            option = "target='clean'" if target == "clean" else "include_clean=True"
            raise DataError(f"{self.path}: {option} needs the clean/ group (noise-free targets) in every trial; "
                            f"missing: clean/ in {len(lack)} of {len(self._usable)} trials ({', '.join(lack[:5])}"
                            f"{', ...' if len(lack) > 5 else ''}); found: clean/ in {len(self._usable) - len(lack)}")
        self.store.cache = resolve_cache(cache, self.cache_bytes)
        self.subject_ids = [s.subject_id for s in subjects]
        first = trials[self._usable[0]]
        cell = first.pressure_cell_size_m
        self.spec = DataSpec.from_dict({
            "task": task,
            "dataset": recording.dataset_name,
            "synthetic": recording.synthetic,
            "sample_rate_hz": first.sample_rate_hz,
            "grid": list(first.pressure_shape) if first.pressure_shape else None,
            "cell_size_cm": [100 * cell[0], 100 * cell[1]] if cell else None,
            "activities": activity_names,
            "has_body_mass": False,
            **self.task.spec(),
        })
        recording.close()
        self.stats: dict[str, np.ndarray] = {}
        self.split: Split | None = None
        self.samples = np.zeros(0, SAMPLE_DTYPE)
        self._datasets: dict[str, WindowDataset] = {}

    @property
    def data_spec(self) -> dict[str, Any]:
        """The spec as a plain dict (what LightningCLI links into `model.init_args.data_spec`)."""
        return self.spec.to_dict()

    # -- Lightning hooks ---------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self._datasets:
            return
        hp = self.hparams
        self.samples = np.concatenate(
            [self.task.index(i, self.subject_ids.index(self.task.ctx.trials[i].subject_id)) for i in self._usable]
        )
        if not len(self.samples):
            raise DataError(f"{self.path}: task '{self.task_name}' found no complete samples in the usable trials")
        self.split = self._make_split()
        train = self.split.train
        self.task.fit(self.samples[train])  # what the task learns from data comes from training samples only
        if not self.stats:
            self.stats.update(self._compute_stats(self.samples[train]))
            self._check_stats(train)
        clean = hp.target == "clean"
        memoise = self.store.cache and self._sample_bytes() * len(self.samples) < MEMO_BUDGET_BYTES
        for name, idx in (("train", train), ("val", self.split.val), ("test", self.split.test)):
            self._datasets[name] = WindowDataset(self.task, self.samples[idx], self.stats, clean_target=clean,
                                                 include_clean=hp.include_clean and name == "test",
                                                 memoise=memoise, augment=hp.augment if name == "train" else 0.0,
                                                 seed=hp.seed, positions=idx)
        self._print_notes()

    def note(self, message: str) -> None:
        """Record a documented fallback taken for this data: printed at setup, stored with the run's results."""
        if message not in self.notes:
            self.notes.append(message)

    def _print_notes(self) -> None:
        for message in self.notes[self._notes_printed:]:
            print(f"{self.task_name}: note: {message}", file=sys.stderr)
        self._notes_printed = len(self.notes)

    def _make_split(self) -> Split:
        """The split of `self.samples` the options ask for, with the label subsample applied to training."""
        hp = self.hparams
        with_data = sorted({self.subject_ids[i] for i in np.unique(self.samples["subject"])})
        sample_subject = np.asarray([with_data.index(self.subject_ids[i]) for i in self.samples["subject"]])
        hint = f" for task '{self.task_name}' in {self.path}"
        if hp.split == "subject_kfold":
            split = subject_kfold(with_data, sample_subject, fold=hp.fold, n_folds=hp.n_folds,
                                  val_subjects=hp.val_subjects, seed=hp.split_seed, task_hint=hint)
        elif hp.split == "trial":
            trials = self.task.ctx.trials
            used = np.unique(self.samples["trial"])
            keys = [(trials[i].subject_id, trials[i].trial_id) for i in used]
            split = trial_kfold(keys, np.searchsorted(used, self.samples["trial"]), fold=hp.fold, n_folds=hp.n_folds,
                                val_subjects=hp.val_subjects, seed=hp.split_seed, task_hint=hint)
        elif hp.split == "block":
            split = time_blocks(self.samples, with_data, sample_subject, fold=hp.fold, n_folds=hp.n_folds,
                                val_subjects=hp.val_subjects)
        else:
            split = random_stance(with_data, sample_subject, fold=hp.fold, n_folds=hp.n_folds,
                                  test_fraction=hp.test_fraction, seed=hp.split_seed, samples=self.samples)
        return split.replace(train=subsample(split.train, hp.label_fraction, hp.seed))

    def cache_bytes(self) -> int:
        """Uncompressed size of every array the task reads from its usable trials: what `cache=True` holds."""
        hp, trials = self.hparams, self.task.ctx.trials
        return sum(
            self.store.nbytes(trials[i].subject_id, trials[i].trial_id, name, clean)
            for i in self._usable
            for name, clean in self.task.arrays_read(trials[i], clean_target=hp.target == "clean",
                                                     include_clean=hp.include_clean)
        )

    def _sample_bytes(self) -> int:
        copies = 3 if self.hparams.include_clean else 2
        return 4 * (int(np.prod(self.data_spec["input_shape"])) + copies * int(np.prod(self.data_spec["target_shape"])))

    def _compute_stats(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        hp = self.hparams
        if len(rows) > hp.stats_samples:
            rows = rows[np.sort(np.random.default_rng(hp.seed).choice(len(rows), hp.stats_samples, replace=False))]
        # A generator: statistics stream over the samples, so memory holds one sample, not stats_samples of them.
        stats = self.task.stats(self.task.load(r, clean=hp.target == "clean") for r in rows)
        masses = np.asarray([self.task.ctx.subjects[s].body_mass_kg for s in np.unique(rows["subject"])])
        stats["mass_mean"] = np.float32([masses.mean()])
        stats["mass_std"] = np.float32([masses.std() if len(masses) > 1 and masses.std() > 0 else 1.0])
        return stats

    def _check_stats(self, train: np.ndarray) -> None:
        """Non-finite normalisation statistics mean NaN/Inf in the training data: name where, before training."""
        bad = sorted(k for k, v in self.stats.items() if not np.isfinite(v).all())
        if not bad:
            return
        found = self.find_non_finite(train) or f"{self.path}: the training samples hold NaN or Inf"
        hint = self.task.target_nan_hint if "y_mean" in bad or "y_std" in bad else ""
        raise DataError(f"{found}, so the normalisation statistics ({', '.join(bad)}) of task '{self.task_name}' "
                        f"are not finite; `zoo data validate {self.path}` lists every such place{hint}")

    # -- tracing a bad batch back to the file ---------------------------------------------------
    def describe_rows(self, positions) -> str:
        """`S02/T01 samples 0..703, S03/T01 samples 64..191`: the trials (and sample spans) of rows of the
        sample table, such as a batch's `row`."""
        spans: dict[tuple[str, str], list[int]] = {}
        for pos in np.atleast_1d(np.asarray(positions)):
            row = self.samples[int(pos)]
            t = self.task.ctx.trials[int(row["trial"])]
            span = spans.setdefault((t.subject_id, t.trial_id), [int(row["start"]), int(row["stop"])])
            span[0], span[1] = min(span[0], int(row["start"])), max(span[1], int(row["stop"]))
        return ", ".join(f"{s}/{t} samples {a}..{b - 1}" for (s, t), (a, b) in sorted(spans.items()))

    def find_non_finite(self, positions) -> str | None:
        """Where the file holds NaN/Inf read by these rows of the sample table (file, dataset, sample range,
        channel), scanning the arrays each row's task reads over the row's time range; None if all finite."""
        hp, trials, store = self.hparams, self.task.ctx.trials, self.store
        seen: set[tuple[int, int, int]] = set()
        for pos in np.atleast_1d(np.asarray(positions)):
            row = self.samples[int(pos)]
            key = (int(row["trial"]), int(row["start"]), int(row["stop"]))
            if key in seen:
                continue
            seen.add(key)
            t = trials[key[0]]
            for name, clean in self.task.arrays_read(t, clean_target=hp.target == "clean",
                                                     include_clean=hp.include_clean):
                block = np.asarray(store.read(t.subject_id, t.trial_id, name, key[1], key[2], clean=clean))
                if block.dtype.kind != "f":
                    continue
                finite = np.isfinite(block)
                if finite.all():
                    continue
                where = np.argwhere(~finite)
                first = where[0]
                channel = _channel_name(t, name, tuple(int(i) for i in first[1:]))
                dataset = f"/{t.path.lstrip('/')}/{'clean/' if clean else ''}{name}"
                n_nan, n_inf = int(np.isnan(block).sum()), int(np.isinf(block).sum())
                return (f"{self.path}: {dataset} holds {n_nan} NaN and {n_inf} Inf in samples {key[1]}..{key[2] - 1} "
                        f"(first at sample {key[1] + int(first[0])}{f', {channel}' if channel else ''})")
        return None

    def _world(self) -> tuple[int, int]:
        """(rank, number of processes) of the Trainer this DataModule serves; (0, 1) outside one."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _loader(self, name: str, shuffle: bool, *, distributed: bool = True) -> DataLoader:
        """Training: every process draws from one seeded permutation per epoch (`DistributedSampler` over
        all processes, or over one), so N processes with batch B/N see the global batches of one process
        with batch B. Evaluation under DDP: each process gets its own share of the samples, none repeated
        (metrics sync their states, so each sample is scored exactly once); `distributed=False` gives every
        process all of them."""
        if not self._datasets:
            self.setup()
        hp = self.hparams
        dataset = self._datasets[name]
        rank, world = self._world() if distributed else (0, 1)
        if shuffle:
            # drop_last=False pads the last round with samples from the start of the permutation, as
            # Lightning's own sampler does; closed-form models leave the padding out (`padding_mask`).
            sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=hp.seed)
        elif world > 1:
            sampler = EvaluationSampler(dataset, num_replicas=world, rank=rank)
        else:
            sampler = None
        return DataLoader(
            dataset, batch_size=hp.batch_size, sampler=sampler,
            num_workers=hp.num_workers, persistent_workers=hp.num_workers > 0,
        )

    def full_dataloader(self, split: str) -> DataLoader:
        """Every sample of `split` in order, on every process (e.g. the ridge penalty's validation data)."""
        return self._loader(split, shuffle=False, distributed=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def perturbed_test_dataloader(self, name: str, severity: Any, seed: int = 0) -> DataLoader:
        """The test split with perturbation `name` at `severity` applied to every raw input (robustness)."""
        from datamodules.perturbations import PERTURBATIONS

        if name not in PERTURBATIONS:
            raise DataError(f"perturbation: expected one of {sorted(PERTURBATIONS)}, found '{name}'")
        if PERTURBATIONS[name].applies_to != self.task.perturbation_kind:
            raise DataError(f"perturbation '{name}' perturbs {PERTURBATIONS[name].applies_to} inputs; task "
                            f"'{self.task_name}' has {self.task.perturbation_kind} inputs")
        test = self.dataset("test")
        dataset = WindowDataset(self.task, test.rows, self.stats, clean_target=test.clean_target,
                                include_clean=test.include_clean, perturb=(name, severity, seed))
        return DataLoader(dataset, batch_size=self.hparams.batch_size, shuffle=False,
                          num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    # -- statistics travel with the checkpoint ------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"stats": {k: v.tolist() for k, v in self.stats.items()}, "data_spec": self.data_spec}
        task_state = self.task.state_dict()  # e.g. landmarks2pressure's training footprint
        if task_state:
            state["task"] = task_state
        if self.notes:  # the fallbacks the training data took, kept with the checkpoint (not restored)
            state["notes"] = list(self.notes)
        if self.split is not None:  # who the model learnt from (`zoo export` puts it in the sidecar)
            state["train_subjects"] = [str(s) for s in self.split.train_subjects]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Update in place: datasets already built hold a reference to this dict; their memos are stale.
        self.stats.update({k: np.asarray(v, dtype=np.float32) for k, v in state["stats"].items()})
        if state.get("task"):
            self.task.load_state_dict(state["task"])
        for dataset in self._datasets.values():
            if dataset.memo is not None:
                dataset.memo.clear()

    # -- conveniences --------------------------------------------------------------------------
    @property
    def has_validation(self) -> bool:
        """Whether the split holds validation samples (`val_subjects 0` keeps none)."""
        return len(self.dataset("val")) > 0

    def dataset(self, split: str) -> WindowDataset:
        if not self._datasets:
            self.setup()
        return self._datasets[split]

    def target_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Target mean and std broadcast to one sample's target shape (models keep them as buffers)."""
        if not self.stats:
            self.setup()
        shape = self.data_spec["target_shape"]
        mean = np.broadcast_to(self.stats.get("y_mean", np.zeros(1, np.float32)), shape)
        std = np.broadcast_to(self.stats.get("y_std", np.ones(1, np.float32)), shape)
        return torch.from_numpy(mean.copy()), torch.from_numpy(std.copy())


def _channel_name(trial, dataset: str, index: tuple[int, ...]) -> str:
    """`channel R_FOOT_acc_x`, `cell (3, 4)`, `keypoint heel z`: the element of a dataset at `index`."""
    if not index:
        return ""
    head = dataset.split("/")[0]
    grf_axes = trial.grf_axes_of(dataset.split("/")[-1]) if head == "grf" else ()
    names = {"imu": trial.imu_channels, "joint_angles": trial.joint_angle_channels, "grf": grf_axes,
             "com": ("x", "y", "z")}.get(head)
    if names is not None and index[0] < len(names):
        return f"channel {names[index[0]]}"
    if head == "keypoints" and index[0] < len(trial.keypoint_names):
        return f"keypoint {trial.keypoint_names[index[0]]} {'xyz'[index[1]] if len(index) > 1 else ''}".rstrip()
    if head == "pressure" and len(index) == 2:
        return f"cell ({index[0]}, {index[1]})"
    return "index " + ", ".join(map(str, index))
