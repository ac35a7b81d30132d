"""Train / validation / test splits.

The default is subject-wise K-fold: no subject is ever on both sides, which is what a model deployed
on a new person faces. Small studies cannot always afford that, so two more splits keep subjects on both
sides but never let one stretch of signal feed both training and testing:

- `trial`: trial-wise K-fold. Trials are dealt to folds subject by subject, so each fold holds trials of
  as many subjects as possible (one subject with several trials can be cross-validated).
- `block`: every trial is cut into K contiguous time blocks; fold k tests on block k of every trial. A
  window must lie inside its block, at least half a window from a boundary with another split, so windows
  of different splits are at least one window apart and overlapping windows never straddle two splits.

Qian 2025 split stances at random, so a subject's other stances sit in training; `random_stance`
reproduces that for comparison only, and says so when used. Where a task's windows overlap (imu2grf,
insole2pose), it drops the training and validation windows that overlap a test window (and training windows
that overlap a validation window) and says how many.

The validation set is carved from the non-test data in the split's own unit (`val_subjects`): subjects
(`subject_kfold`), trials (`trial`) or blocks (`block`; a fraction is a share of the non-test time);
`val_subjects=0` keeps no validation set. `random_stance` validates on fold k of its non-test samples.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np

from datamodules.errors import DataError
from datamodules.options import SPLITS  # noqa: F401  (re-exported: the split names)

SMALL_STUDY_HINT = "--data.split trial (trial-wise folds) or --data.split block (time blocks within each trial)"


@dataclass(frozen=True)
class Split:
    """Sample indices of each split (into the task's sample list) and the subjects behind them.

    `dropped` counts samples left out to keep the splits apart (block gaps, windows overlapping a test
    window under `random_stance`); `test_trials` names the test trials (`S01/T02`) of a trial split.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    kind: str = "subject_kfold"
    dropped: int = 0
    test_trials: tuple[str, ...] = ()

    def replace(self, **changes) -> Split:
        return dataclasses.replace(self, **changes)


def n_validation(val: int | float, n_remaining: int) -> int:
    """How many of `n_remaining` units validate: 0, a fraction (< 1, at least one unit) or a count."""
    if val == 0:
        return 0
    if val < 1:
        return max(1, round(val * n_remaining))
    return int(val)


def _check_val(n_val: int, n_rest: int, unit: str, fold: int) -> None:
    if not 0 <= n_val < n_rest:
        raise DataError(
            f"val_subjects: expected fewer than the {n_rest} non-test {unit} of fold {fold} (training needs one), "
            f"found {n_val}; val_subjects 0 keeps no validation set"
        )


def _check_folds(n_folds: int, n: int, unit: str, task_hint: str = "") -> None:
    other = SMALL_STUDY_HINT if unit == "subjects" else "--data.split block (time blocks within each trial)"
    if n < 2:
        raise DataError(f"n_folds: a {unit[:-1]}-wise split needs at least 2 {unit} with data{task_hint}, "
                        f"found {n}; use {other}")
    if not 2 <= n_folds <= n:
        hint = f"; with fewer {unit} than folds, use {other}"
        raise DataError(f"n_folds: expected 2..{n} (the number of {unit} with data{task_hint}), found {n_folds}{hint}")


def _check_fold(fold: int, n_folds: int) -> None:
    if not 0 <= fold < n_folds:
        raise DataError(f"fold: expected 0..{n_folds - 1}, found {fold}")


def _names(subjects: list[str], sample_subject: np.ndarray, idx: np.ndarray) -> tuple[str, ...]:
    names = np.asarray(subjects)
    return tuple(sorted(set(names[sample_subject[idx]].tolist()))) if len(idx) else ()


def subject_kfold(
    subjects: list[str], sample_subject: np.ndarray, *, fold: int, n_folds: int,
    val_subjects: int | float = 0.2, seed: int = 0, task_hint: str = "",
) -> Split:
    """Fold `fold` of `n_folds`: its subjects are the test set; validation subjects are drawn from the rest."""
    n = len(subjects)
    _check_folds(n_folds, n, "subjects", task_hint)
    _check_fold(fold, n_folds)
    rng = np.random.default_rng(seed)
    order = [subjects[i] for i in rng.permutation(n)]
    folds = np.array_split(np.arange(n), n_folds)
    test = [order[i] for i in folds[fold]]
    rest = [s for s in order if s not in test]
    n_val = n_validation(val_subjects, len(rest))
    _check_val(n_val, len(rest), "subjects", fold)
    rest = [rest[i] for i in np.random.default_rng(seed + 1000 + fold).permutation(len(rest))]
    val, train = rest[:n_val], rest[n_val:]
    names = np.asarray(subjects)[sample_subject] if len(sample_subject) else np.asarray([], dtype=str)
    pick = lambda group: np.flatnonzero(np.isin(names, group))  # noqa: E731
    return Split(pick(train), pick(val), pick(test), tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)))


def trial_kfold(
    trials: list[tuple[str, str]], sample_trial: np.ndarray, *, fold: int, n_folds: int,
    val_subjects: int | float = 0.2, seed: int = 0, task_hint: str = "",
) -> Split:
    """Trial-wise K-fold over `trials` ((subject, trial) of each trial with samples; `sample_trial` indexes it).

    Trials are dealt to the folds subject by subject, in a seeded random order, continuing the deal from one
    subject to the next: every fold holds trials of as many subjects as possible and fold sizes differ by at
    most one. Validation trials are drawn from the non-test trials, cycling through the subjects.
    """
    n = len(trials)
    _check_folds(n_folds, n, "trials", task_hint)
    _check_fold(fold, n_folds)
    rng = np.random.default_rng(seed)
    subjects = sorted({s for s, _ in trials})
    assigned = np.zeros(n, int)
    slot = int(rng.integers(n_folds))
    for subject in (subjects[i] for i in rng.permutation(len(subjects))):
        mine = [i for i, (s, _) in enumerate(trials) if s == subject]
        for i in rng.permutation(mine):
            assigned[i], slot = slot, (slot + 1) % n_folds
    test = np.flatnonzero(assigned == fold)
    rest = np.flatnonzero(assigned != fold)
    n_val = n_validation(val_subjects, len(rest))
    _check_val(n_val, len(rest), "trials", fold)
    # round-robin over subjects in a seeded order: the first n_val trials spread over subjects
    vrng = np.random.default_rng(seed + 1000 + fold)
    shuffled = rest[vrng.permutation(len(rest))]
    rank = {}
    keyed = []
    for i in shuffled:
        s = trials[i][0]
        keyed.append((rank.get(s, 0), i))
        rank[s] = rank.get(s, 0) + 1
    ordered = [i for _, i in sorted(keyed, key=lambda k: k[0])]  # stable: keeps the shuffle within a rank
    val, train = np.asarray(ordered[:n_val], int), np.asarray(ordered[n_val:], int)
    pick = lambda group: np.flatnonzero(np.isin(sample_trial, group))  # noqa: E731
    subj = lambda group: tuple(sorted({trials[i][0] for i in group}))  # noqa: E731
    return Split(pick(train), pick(val), pick(test), subj(train), subj(val), subj(test), kind="trial",
                 test_trials=tuple(sorted(f"{trials[i][0]}/{trials[i][1]}" for i in test)))


def _segments(lo: int, hi: int, fold: int, n_folds: int, val: int | float) -> list[tuple[int, int, str]]:
    """(start, stop, split) of one trial's span [lo, hi): block `fold` tests, validation just before it."""
    edges = np.round(np.linspace(lo, hi, n_folds + 1)).astype(np.int64)
    t0, t1 = int(edges[fold]), int(edges[fold + 1])
    rest = (hi - lo) - (t1 - t0)
    block = (hi - lo) / n_folds
    n_val = 0 if val == 0 else val * rest if val < 1 else int(val) * block
    n_val = int(round(min(n_val, rest)))
    labels = np.full(hi - lo, 2, np.int8)  # 0 train, 1 val, 2 test; built on a sample axis for clarity
    labels[: t0 - lo] = 0
    labels[t1 - lo:] = 0
    # validation: the n_val non-test samples just before the test block, wrapping to the trial's end
    before = np.arange(t0 - lo)[::-1]
    after = np.arange(t1 - lo, hi - lo)[::-1]
    labels[np.concatenate([before, after])[:n_val]] = 1
    cuts = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [hi - lo]])
    names = ("train", "val", "test")
    return [(lo + int(a), lo + int(b), names[labels[a]]) for a, b in zip(starts, stops)]


def time_blocks(
    samples: np.ndarray, subjects: list[str], sample_subject: np.ndarray, *, fold: int, n_folds: int,
    val_subjects: int | float = 0.2,
) -> Split:
    """Fold `fold` of `n_folds` contiguous time blocks of every trial (`samples`: SAMPLE_DTYPE rows).

    Within a trial, windows span [start, stop); the gap is the trial's longest window w. A window belongs to a
    segment if it lies inside it, ceil(w / 2) samples clear of each boundary with another split (a trial's own
    ends need no gap): windows of different splits are then at least w samples apart. Validation takes the
    non-test time just before the test block (wrapping round to the trial's end): a fraction of the non-test
    time (`val_subjects` < 1) or a number of blocks.
    """
    if n_folds < 2:
        raise DataError(f"n_folds: expected at least 2 time blocks per trial, found {n_folds}")
    _check_fold(fold, n_folds)
    if val_subjects >= 1 and int(val_subjects) > n_folds - 2:
        raise DataError(f"val_subjects: expected at most {n_folds - 2} of the {n_folds - 1} non-test blocks "
                        f"(training needs one), found {val_subjects}; a fraction < 1 takes a share of the "
                        "non-test time")
    side = np.full(len(samples), -1, np.int8)
    for t in np.unique(samples["trial"]):
        rows = np.flatnonzero(samples["trial"] == t)
        start, stop = samples["start"][rows], samples["stop"][rows]
        lo, hi = int(start.min()), int(stop.max())
        half = math.ceil(int((stop - start).max()) / 2)
        for a, b, name in _segments(lo, hi, fold, n_folds, val_subjects):
            a_eff = a + (half if a > lo else 0)
            b_eff = b - (half if b < hi else 0)
            inside = (start >= a_eff) & (stop <= b_eff)
            side[rows[inside]] = ("train", "val", "test").index(name)
    train, val, test = (np.flatnonzero(side == k) for k in range(3))
    needed = {"train": train, "test": test, **({"val": val} if val_subjects else {})}
    empty = [name for name, idx in needed.items() if not len(idx)]
    if empty:
        found = ", ".join(f"{len(idx)} {name}" for name, idx in needed.items() if len(idx)) or "none"
        raise DataError(f"split 'block': fold {fold} of {n_folds} fits no window into the {' or '.join(empty)} "
                        f"stretch of any trial once the gaps are kept; missing: {', '.join(empty)} windows; found: "
                        f"{found} windows (and {int((side < 0).sum())} in gaps); use fewer folds, a shorter window, "
                        f"{'a larger val_subjects, ' if 'val' in empty else ''}longer trials or split 'trial'")
    return Split(train, val, test, _names(subjects, sample_subject, train), _names(subjects, sample_subject, val),
                 _names(subjects, sample_subject, test), kind="block", dropped=int((side < 0).sum()))


def overlapping(rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Mask of `rows` whose time span [start, stop) overlaps that of any of `others` in the same trial."""
    out = np.zeros(len(rows), bool)
    for t in np.unique(rows["trial"]):
        mine = np.flatnonzero(rows["trial"] == t)
        theirs = others[others["trial"] == t]
        if not len(theirs):
            continue
        order = np.argsort(theirs["start"], kind="stable")
        t_start, t_stop = theirs["start"][order], np.maximum.accumulate(theirs["stop"][order])
        # others starting before this row ends: does the latest-ending of them end after this row starts?
        k = np.searchsorted(t_start, rows["stop"][mine], side="left")
        has = k > 0
        out[mine[has]] = t_stop[k[has] - 1] > rows["start"][mine[has]]
    return out


def random_stance(
    subjects: list[str], sample_subject: np.ndarray, *, fold: int, n_folds: int,
    test_fraction: float = 0.3, seed: int = 0, samples: np.ndarray | None = None,
) -> Split:
    """Qian 2025: a fixed random 30 % of samples is the test set; fold `fold` of a K-fold split of the
    remaining 70 % is validation. Subjects appear on both sides: results are optimistic. With `samples`
    (SAMPLE_DTYPE rows), training and validation windows that overlap a test window in time, and training
    windows that overlap a validation window, are dropped (stances do not overlap; 50 %-overlap windows do)."""
    n = len(sample_subject)
    _check_fold(fold, n_folds)
    order = np.random.default_rng(seed).permutation(n)
    n_test = math.ceil(test_fraction * n)
    test, rest = np.sort(order[:n_test]), order[n_test:]
    folds = np.array_split(rest, n_folds)
    val = np.sort(folds[fold])
    train = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != fold]))
    dropped = 0
    if samples is not None:
        val_keep = ~overlapping(samples[val], samples[test])
        train_keep = ~overlapping(samples[train], samples[test]) & ~overlapping(samples[train], samples[val[val_keep]])
        dropped = int((~val_keep).sum() + (~train_keep).sum())
        val, train = val[val_keep], train[train_keep]
    warnings.warn(
        "split='random_stance' puts stances of the same subject in train and test (Qian 2025 protocol); "
        "use it to reproduce the paper, not to estimate performance on new people"
        + (f"; dropped {dropped} training/validation windows that overlapped a held-out window" if dropped else ""),
        stacklevel=2,
    )
    return Split(train, val, test, _names(subjects, sample_subject, train), _names(subjects, sample_subject, val),
                 _names(subjects, sample_subject, test), kind="random_stance", dropped=dropped)


def subsample(indices: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A random `fraction` of training samples (label-efficiency experiments), at least one."""
    if not 0 < fraction <= 1:
        raise DataError(f"label_fraction: expected a number in (0, 1], found {fraction}")
    if fraction == 1:
        return indices
    k = max(1, math.ceil(fraction * len(indices)))
    return np.sort(np.random.default_rng(seed).choice(indices, size=k, replace=False))
