"""Train / validation / test splits.

The default is subject-wise K-fold: no subject is ever on both sides, which is what a model deployed
on a new person faces. Qian 2025 split stances at random, so a subject's other stances sit in
training; `random_stance` reproduces that for comparison only, and says so when used.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from datamodules.errors import DataError

SPLITS = ("subject_kfold", "random_stance")


@dataclass(frozen=True)
class Split:
    """Sample indices of each split (into the task's sample list) and the subjects behind them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]


def _n_val(val_subjects: int | float, n_remaining: int) -> int:
    if isinstance(val_subjects, float) and val_subjects < 1:
        return max(1, round(val_subjects * n_remaining))
    return int(val_subjects)


def subject_kfold(
    subjects: list[str], sample_subject: np.ndarray, *, fold: int, n_folds: int,
    val_subjects: int | float = 0.2, seed: int = 0,
) -> Split:
    """Fold `fold` of `n_folds`: its subjects are the test set; validation subjects are drawn from the rest."""
    n = len(subjects)
    if n_folds < 2 or n_folds > n:
        raise DataError(f"n_folds: expected 2..{n} (the number of subjects with data for this task), found {n_folds}")
    if not 0 <= fold < n_folds:
        raise DataError(f"fold: expected 0..{n_folds - 1}, found {fold}")
    rng = np.random.default_rng(seed)
    order = [subjects[i] for i in rng.permutation(n)]
    folds = np.array_split(np.arange(n), n_folds)
    test = [order[i] for i in folds[fold]]
    rest = [s for s in order if s not in test]
    n_val = _n_val(val_subjects, len(rest))
    if not 0 <= n_val < len(rest):
        raise DataError(
            f"val_subjects: expected fewer than the {len(rest)} non-test subjects of fold {fold}, found {n_val}"
        )
    rest = [rest[i] for i in np.random.default_rng(seed + 1000 + fold).permutation(len(rest))]
    val, train = rest[:n_val], rest[n_val:]
    names = np.asarray(subjects)[sample_subject] if len(sample_subject) else np.asarray([], dtype=str)
    pick = lambda group: np.flatnonzero(np.isin(names, group))  # noqa: E731
    return Split(pick(train), pick(val), pick(test), tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)))


def random_stance(
    subjects: list[str], sample_subject: np.ndarray, *, fold: int, n_folds: int,
    test_fraction: float = 0.3, seed: int = 0,
) -> Split:
    """Qian 2025: a fixed random 30 % of samples is the test set; fold `fold` of a K-fold split of the
    remaining 70 % is validation. Subjects appear on both sides: results are optimistic."""
    warnings.warn(
        "split='random_stance' puts stances of the same subject in train and test (Qian 2025 protocol); "
        "use it to reproduce the paper, not to estimate performance on new people.",
        stacklevel=2,
    )
    n = len(sample_subject)
    if not 0 <= fold < n_folds:
        raise DataError(f"fold: expected 0..{n_folds - 1}, found {fold}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = math.ceil(test_fraction * n)
    test, rest = np.sort(order[:n_test]), order[n_test:]
    folds = np.array_split(rest, n_folds)
    val = np.sort(folds[fold])
    train = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != fold]))
    names = np.asarray(subjects)
    used = lambda idx: tuple(sorted(set(names[sample_subject[idx]].tolist())))  # noqa: E731
    return Split(train, val, test, used(train), used(val), used(test))


def subsample(indices: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A random `fraction` of training samples (label-efficiency experiments), at least one."""
    if not 0 < fraction <= 1:
        raise DataError(f"label_fraction: expected a number in (0, 1], found {fraction}")
    if fraction == 1:
        return indices
    k = max(1, math.ceil(fraction * len(indices)))
    return np.sort(np.random.default_rng(seed).choice(indices, size=k, replace=False))
