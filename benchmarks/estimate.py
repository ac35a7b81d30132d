"""`zoo bench --dry-run`: planned optimiser steps per cell x step time measured here on one batch."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from benchmarks.suite import ORACLE, Cell, Suite


def _spec_and_train_size(cell: Cell) -> tuple[dict, int]:
    """The cell's data spec and training-set size: from the file when it exists, else from the preset."""
    from datamodules.sources import SIM_PREFIX, data_dir, parse_sim

    source = cell.dataset
    path = Path(source)
    if source.startswith(SIM_PREFIX):
        preset, seed = parse_sim(source)
        path = data_dir() / f"{preset}-seed{seed}.h5"
    if path.exists():
        from datamodules.datamodule import GaitDataModule

        dm = GaitDataModule(str(path), task=cell.task, fold=cell.fold, n_folds=cell.n_folds,
                            label_fraction=cell.label_fraction, **{**cell.data, "stats_samples": 1})
        dm.setup()
        return dm.data_spec, len(dm.dataset("train"))
    from datamodules.simulator import estimate_samples
    from zoo.specs import default_data_spec

    preset, _ = parse_sim(source)
    n = estimate_samples(preset, cell.task, window=cell.data.get("window", 128))
    train = int(n * (1 - 1 / cell.n_folds) * 0.8 * cell.label_fraction)
    return default_data_spec(cell.task), train


def _step_seconds(cell: Cell, spec: dict) -> float:
    from zoo.registry import create_model

    model = create_model(cell.model.name, data_spec=spec, preset=cell.model.preset, **cell.model.overrides)
    b = int(cell.data.get("batch_size", 32))
    batch = {"x": torch.randn(b, *spec["input_shape"]), "y": torch.randn(b, *spec["target_shape"]),
             "body_mass": torch.randn(b, 1), "subject": torch.zeros(b, dtype=torch.long),
             "mass_kg": torch.full((b,), 70.0), "activity": torch.zeros(b, dtype=torch.long)}
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:  # closed form: one pass of sufficient statistics
        start = time.perf_counter()
        model.accumulate(batch, model.normalise(model.target(batch)))
        return time.perf_counter() - start
    opt = torch.optim.Adam(params, lr=1e-4)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        opt.zero_grad()
        out = model._outputs(batch)
        model.compute_loss(out, model.normalise(model.target(batch)), batch).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def estimate_cells(suite: Suite, cells: list[Cell]) -> tuple[list[tuple[int, float]], float]:
    cache: dict[tuple, tuple[int, float]] = {}
    rows = []
    for cell in cells:
        key = (cell.task, cell.model.label, cell.label_fraction)
        if key not in cache:
            if cell.model.name == ORACLE:
                cache[key] = (0, 1.0)
            else:
                spec, n_train = _spec_and_train_size(cell)
                batches = max(1, math.ceil(n_train / int(cell.data.get("batch_size", 32))))
                limit = cell.trainer.get("limit_train_batches")
                if isinstance(limit, int) and limit > 0:
                    batches = min(batches, limit)
                elif isinstance(limit, float):
                    batches = max(1, int(batches * limit))
                epochs = cell.trainer.get("max_epochs", 10)
                steps = cell.trainer.get("max_steps", -1)
                steps = steps if steps and steps > 0 else batches * epochs
                step_s = _step_seconds(cell, spec)
                cache[key] = (steps, steps * step_s * 1.5 + 5)  # x1.5 for validation and data loading
        rows.append(cache[key])
    return rows, sum(s for _, s in rows)
