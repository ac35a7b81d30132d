"""Shared machinery of the stride-level (clinical) metrics: exact per-stride storage, summary statistics
(mean absolute and relative error, Bland-Altman bias and limits of agreement), de-duplication by stride key,
and the per-stride table a benchmark cell writes as `strides.csv`.

Every stride is stored (true and predicted value of each quantity, NaN where the stride cannot be scored
for that quantity) in `dist_reduce_fx="cat"` states, so every statistic after any number of `update()` calls,
or under DDP, equals the statistic of the concatenated data. docs/metrics.md defines each quantity.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from datamodules.tasks.stride_info import Quantity, summary_info

LOA_Z = 1.96  # Bland-Altman 95 % limits of agreement: bias +- 1.96 sd of the differences
KEY_COLUMNS = ("trial", "onset_sample", "window_start")
NO_KEY = -1


def bland_altman(diff: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Bias (mean of pred - true) and the 95 % limits of agreement, bias -+ 1.96 sd (sample sd, ddof 1).

    The limits need two differences; with fewer they are NaN (undefined), the bias with none.
    """
    nan = diff.new_tensor(math.nan)
    bias = diff.mean() if diff.numel() else nan
    if diff.numel() < 2:
        return bias, nan, nan
    sd = diff.std(correction=1)
    return bias, bias - LOA_Z * sd, bias + LOA_Z * sd


def quantity_summary(name: str, true: Tensor, pred: Tensor, bland_altman_stats: bool) -> dict[str, Tensor]:
    """MAE, mean relative error (%), Bland-Altman (optional) and counts of one quantity over strides `[n]`.

    A stride is scored when both values are finite. The relative error `100 |pred - true| / |true|` is
    averaged over scored strides with `true != 0` (every quantity's scoring rule keeps true away from 0).
    """
    scored = true.isfinite() & pred.isfinite()
    t, p = true[scored], pred[scored]
    diff = p - t
    nan = true.new_tensor(math.nan)
    nonzero = t != 0
    out = {
        f"{name}_mae": diff.abs().mean() if diff.numel() else nan,
        f"{name}_mre": 100.0 * (diff[nonzero].abs() / t[nonzero].abs()).mean() if nonzero.any() else nan,
    }
    if bland_altman_stats:
        out[f"{name}_bias"], out[f"{name}_loa_lower"], out[f"{name}_loa_upper"] = bland_altman(diff)
    out[f"{name}_n"] = torch.tensor(int(scored.sum()))
    out[f"{name}_excluded"] = torch.tensor(int((~scored).sum()))
    return out


def first_of_each_key(keys: np.ndarray) -> np.ndarray:
    """Indices of the rows to keep from `[n, 3]` keys (trial, onset, window start): one row per
    (trial, onset), the one from the earliest window, whatever the order the rows arrived in (batches,
    DDP ranks); rows whose trial is negative carry no key and are all kept. Kept rows come back in their
    original order."""
    keyed = np.flatnonzero(keys[:, 0] >= 0)
    order = keyed[np.lexsort((keys[keyed, 2], keys[keyed, 1], keys[keyed, 0]))]
    sorted_keys = keys[order, :2]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)
    return np.sort(np.concatenate([np.flatnonzero(keys[:, 0] < 0), order[first]]))


class StrideMetric(Metric):
    """Base: keeps per-stride true and predicted values of `quantities` and reports their statistics.

    Subclasses call `_add_strides(true, pred, keys)` from `update()` with `[n, Q]` values (NaN = that
    quantity cannot be scored on that stride) and `[n, 3]` integer keys (`NO_KEY` rows are never merged).
    """

    full_state_update = False
    higher_is_better = None  # many statistics; `info()` says which way each one is better

    def __init__(self, quantities: tuple[Quantity, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.quantities = quantities
        # flattened [n * Q] and [n * 3]: one dimension, so a rank without data (an empty 1-D tensor) concatenates
        for name in ("stride_true", "stride_pred", "stride_keys"):
            self.add_state(name, [], dist_reduce_fx="cat")
        self.set_dtype(torch.float64)  # keys in float64 stay exact up to 2**53

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.quantities)

    def info(self) -> dict[str, tuple[bool | None, str]]:
        """Statistic key -> (higher_is_better or None when it does not rank, unit), for this instance."""
        return summary_info(self.quantities) | self._count_info()

    def _count_info(self) -> dict[str, tuple[bool | None, str]]:
        return {}

    def _add_strides(self, true: Tensor, pred: Tensor, keys: Tensor) -> None:
        q = len(self.quantities)
        self.stride_true.append(true.reshape(-1, q).to(self.device, torch.float64).flatten())
        self.stride_pred.append(pred.reshape(-1, q).to(self.device, torch.float64).flatten())
        self.stride_keys.append(keys.reshape(-1, 3).to(self.device, torch.float64).flatten())

    def strides(self) -> tuple[Tensor, Tensor, Tensor]:
        """De-duplicated `[n, Q]` true and predicted values and `[n, 3]` int64 keys of every stride seen."""
        q = len(self.quantities)
        if isinstance(self.stride_true, list) and not self.stride_true:  # a tensor after a DDP sync
            empty = torch.zeros(0, q, dtype=torch.float64, device=self.device)
            return empty, empty.clone(), torch.zeros(0, 3, dtype=torch.int64, device=self.device)
        true = dim_zero_cat(self.stride_true).reshape(-1, q)
        pred = dim_zero_cat(self.stride_pred).reshape(-1, q)
        keys = dim_zero_cat(self.stride_keys).reshape(-1, 3).to(torch.int64)
        keep = torch.as_tensor(first_of_each_key(keys.cpu().numpy()), device=keys.device)
        return true[keep], pred[keep], keys[keep]

    def compute(self) -> dict[str, Tensor]:
        true, pred, _ = self.strides()
        out: dict[str, Tensor] = {"strides": torch.tensor(len(true))}
        for i, q in enumerate(self.quantities):
            out.update(quantity_summary(q.name, true[:, i], pred[:, i], q.bland_altman))
        stored = dim_zero_cat(self.stride_true).numel() // len(self.quantities) if len(self.stride_true) else 0
        return out | self._counts(duplicates=stored - len(true))

    def _counts(self, duplicates: int) -> dict[str, Tensor]:
        """Extra counts a subclass reports; `duplicates` = strides merged by their keys."""
        return {}

    def stride_table(self) -> dict[str, list]:
        """Columns of the per-stride table: the keys (`trial`, `onset_sample`, `window_start`; -1 when not
        given), then `<quantity>_true`, `_pred`, `_error` (pred - true) per quantity; None where a stride
        is not scored for a quantity. Rows are the de-duplicated strides in arrival order."""
        true, pred, keys = self.strides()
        table: dict[str, list] = {c: keys[:, i].tolist() for i, c in enumerate(KEY_COLUMNS)}
        for i, q in enumerate(self.quantities):
            scored = (true[:, i].isfinite() & pred[:, i].isfinite()).tolist()
            for suffix, values in (("true", true[:, i]), ("pred", pred[:, i]), ("error", pred[:, i] - true[:, i])):
                table[f"{q.name}_{suffix}"] = [v if ok else None for v, ok in zip(values.tolist(), scored)]
        return table


def write_stride_table(table: dict[str, list], path: str | Path) -> None:
    """Write a `stride_table()` as CSV (one row per stride; an unscored value is an empty cell)."""
    columns = list(table)
    n = len(table[columns[0]]) if columns else 0
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i in range(n):
            writer.writerow(["" if table[c][i] is None else table[c][i] for c in columns])
