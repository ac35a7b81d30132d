"""Checks of the DataModule's user-facing values, before any file is opened.

`GaitDataModule` calls `check_data_options` first thing, and so do `zoo fit --data.*` (through the CLI's
config check) and the suite loader: a batch size of 0 or a label fraction of 2 is one line naming the option,
what was expected and what was found, not a traceback from deep inside a DataLoader. Importing this module
costs nothing (no torch), so the suite loader can use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

from datamodules.errors import DataError

SPLITS = ("subject_kfold", "trial", "block", "random_stance")  # datamodules.splits implements them


def is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def int_at_least(low: int) -> tuple[str, Callable[[Any], bool]]:
    return f"an integer >= {low}", lambda v: is_int(v) and v >= low


def optional(rule: tuple[str, Callable[[Any], bool]]) -> tuple[str, Callable[[Any], bool]]:
    text, ok = rule
    return f"{text} or null", lambda v: v is None or ok(v)


def fraction(low_open: bool = True, high_closed: bool = True) -> tuple[str, Callable[[Any], bool]]:
    lo, hi = ("(0" if low_open else "[0"), ("1]" if high_closed else "1)")

    def ok(v: Any) -> bool:
        if not is_number(v):
            return False
        above = v > 0 if low_open else v >= 0
        below = v <= 1 if high_closed else v < 1
        return above and below

    return f"a number in {lo}, {hi}", ok


# option -> (what is expected, test). Options not listed (paths, names, lists of channels) are checked
# where they are used, against the file.
DATA_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "fold": int_at_least(0),
    "n_folds": int_at_least(2),
    "split": (f"one of {list(SPLITS)}", lambda v: v in SPLITS),
    "val_subjects": ("0 (no validation set), a fraction in (0, 1) or a count >= 1 (subjects, trials or blocks, "
                     "as the split counts)",
                     lambda v: is_number(v) and (0 <= v < 1 or (float(v).is_integer() and v >= 1))),
    "test_fraction": fraction(high_closed=False),
    "split_seed": ("an integer", is_int),
    "seed": ("an integer", is_int),
    "batch_size": int_at_least(1),
    "num_workers": int_at_least(0),
    "window": int_at_least(2),
    "window_stride": optional(int_at_least(1)),
    "stance_length": int_at_least(2),
    "frames": int_at_least(1),
    "frame_stride": optional(int_at_least(1)),
    "window_s": optional(("a positive number of seconds", lambda v: is_number(v) and v > 0)),
    "grf_target": ("'per_foot' or 'total'", lambda v: v in ("per_foot", "total")),
    "pose_stride": optional(int_at_least(1)),
    "grid_pool": int_at_least(1),
    "frame_step": int_at_least(1),
    "label_fraction": fraction(),
    "stats_samples": int_at_least(1),
    "cache": ("true, false or 'auto'", lambda v: isinstance(v, bool) or v == "auto"),
    "geometry": ("one of 'auto', 'subject', 'footprint'", lambda v: v in ("auto", "subject", "footprint")),
    "stance": ("one of 'auto', 'events', 'pressure'", lambda v: v in ("auto", "events", "pressure")),
    "contact_threshold": ("a share of the peak foot force in (0, 1)", lambda v: is_number(v) and 0 < v < 1),
}


def check_data_options(options: Mapping[str, Any], where: str = "") -> None:
    """Raise `DataError` for the first out-of-range option: `[where.]option: expected ..., found ...`."""
    prefix = f"{where}." if where else ""
    for key, (expected, ok) in DATA_RULES.items():
        if key in options and not ok(options[key]):
            raise DataError(f"{prefix}{key}: expected {expected}, found {options[key]!r}")
    fold, n_folds = options.get("fold"), options.get("n_folds")
    if is_int(fold) and is_int(n_folds) and not fold < n_folds:
        raise DataError(f"{prefix}fold: expected 0..{n_folds - 1} (n_folds is {n_folds}), found {fold}")
