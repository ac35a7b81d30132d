"""Everything about a suite that can be checked before its first cell starts.

`load_suite` already checked the file itself: keys, value ranges, registered models, model-task support and
preset names. Here, with the data in place (simulator data generated), each distinct (task, model) cell
configuration goes through the same parser `zoo fit` uses (`validate_config`: every key and type of the trainer,
model and data sections), and each distinct (dataset, task, data options) is opened as a `GaitDataModule` reads
it, header only: the trials the task needs, and enough subjects for the folds. No array is read, no model built.

Cost: one `validate_config` per distinct (task, model), about 0.2 s each on a loaded 2-core machine (`python -m
benchmarks.preflight_cost`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from zoo.bench.suite import Cell, Suite, SuiteError


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def check_configs(cells: list[Cell], out_dir: Path, threads: int | None) -> list[str]:
    """Problems of the cells' `zoo fit` configurations, one per distinct (task, model configuration)."""
    from zoo.bench.cell import cell_config
    from zoo.errors import ZooError
    from zoo.lightning_cli import validate_config

    problems, seen = [], set()
    for cell in cells:
        signature = (cell.task, cell.model.label, cell.is_pretraining)  # folds, seeds, fractions: same schema
        if signature in seen:
            continue
        seen.add(signature)
        config = cell_config(cell, out_dir, threads, resolve_pretrained=False)
        try:
            validate_config(config, where=f"{cell.task} / {cell.model.label}")
        except ZooError as exc:
            problems.append(str(exc))
    return problems


def check_data(cells: list[Cell]) -> list[str]:
    """Problems of the data each distinct (dataset, task, data options) would be served from (headers only)."""
    from datamodules.datamodule import GaitDataModule
    from datamodules.errors import DataError
    from zoo.bench.cell import cell_config

    problems, seen = [], set()
    for cell in cells:
        data = dict(cell_config(cell, Path("."), resolve_pretrained=False)["data"])
        for varies in ("fold", "seed", "label_fraction"):  # none of these changes what the header must hold
            data.pop(varies, None)
        signature = _key(data)
        if signature in seen:
            continue
        seen.add(signature)
        where = f"{cell.task} / {cell.model.label}"
        try:
            dm = GaitDataModule(**data)
        except (DataError, OSError, ValueError) as exc:
            problems.append(f"{where}: {' '.join(str(exc).split())}")
            continue
        ctx = dm.task.ctx
        split = data.get("split", "subject_kfold")
        units = {"subject_kfold": ("subjects", {ctx.trials[i].subject_id for i in dm._usable}),
                 "trial": ("trials", set(dm._usable))}  # block folds cut every trial; random_stance samples
        if split in units and len(units[split][1]) < cell.n_folds:
            unit, have = units[split]
            hint = "; with fewer subjects than folds, use data: {split: trial} or {split: block}" \
                if unit == "subjects" else "; use data: {split: block}"
            problems.append(f"{where}: folds: expected at most {len(have)} ({unit} of {dm.path} with data for "
                            f"task '{cell.task}'), found {cell.n_folds}{hint}")
        dm.store.recording.close()
    return problems


def preflight(suite: Suite, cells: list[Cell], out_dir: Path, threads: int | None) -> float:
    """Raise `SuiteError` listing every problem found (one line each) before any cell runs; returns seconds."""
    start = time.perf_counter()
    problems = check_configs(cells, out_dir, threads)
    problems += check_data(cells)
    if problems:
        raise SuiteError(f"{suite.path}: {len(problems)} problem(s) found before running any cell:\n  "
                         + "\n  ".join(problems))
    return time.perf_counter() - start
