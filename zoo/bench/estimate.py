"""`zoo bench --dry-run`: planned optimiser steps per cell x step time measured here on one batch."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from datamodules.tasks import DataSpec, get_task
from zoo.bench.suite import ORACLE, Cell, Suite


def _spec_and_train_size(cell: Cell) -> tuple[DataSpec, int]:
    """The cell's data spec and training-set size: from the file when it exists, else from the preset."""
    from datamodules.sources import SIM_PREFIX, parse_sim, sim_cache_path

    source = cell.dataset
    path = Path(source)
    if source.startswith(SIM_PREFIX):
        preset, seed = parse_sim(source)
        path = sim_cache_path(preset, seed)
    if path.exists():
        from datamodules.datamodule import GaitDataModule

        dm = GaitDataModule(str(path), task=cell.task, fold=cell.fold, n_folds=cell.n_folds,
                            label_fraction=cell.label_fraction, **{**cell.data, "stats_samples": 1})
        dm.setup()
        return dm.spec, len(dm.dataset("train"))
    preset, _ = parse_sim(source)
    n = preset_samples(preset, cell.task, cell.data)
    train = int(n * (1 - 1 / cell.n_folds) * 0.8 * cell.label_fraction)
    frames = {"frames": int(cell.data["frames"])} if "frames" in cell.data else {}
    return get_task(cell.task).default_spec(**frames), train


def preset_samples(preset: str, task: str, data: dict) -> int:
    """Samples a simulator preset would give `task`, from its subjects and trial durations (no generation)."""
    from datamodules.simulator import PRESETS

    cfg = PRESETS[preset]
    cls = get_task(task)
    activities = data.get("activities") or cls.default_activities or cfg.activities
    seconds = [cfg.duration_s[a] for a in cfg.activities if a in activities for _ in range(cfg.trials[a])]
    return cfg.n_subjects * cls.planned_samples(seconds, cfg.sample_rate_hz, data)


def _step_seconds(cell: Cell, spec: DataSpec) -> float:
    from zoo.bench.suite import pretrain_reference
    from zoo.models.closed_form import ClosedFormModel
    from zoo.registry import create_model

    # timing needs the architecture, not the pretrained weights (which may not exist yet)
    overrides = {k: v for k, v in cell.model.overrides.items() if pretrain_reference(v) is None}
    model = create_model(cell.model.name, data_spec=spec, preset=cell.model.preset, **overrides)
    b = int(cell.data.get("batch_size", 32))
    batch = {"x": torch.randn(b, *spec.input_shape), "y": torch.randn(b, *spec.target_shape),
             "body_mass": torch.randn(b, 1), "subject": torch.zeros(b, dtype=torch.long),
             "mass_kg": torch.full((b,), 70.0), "activity": torch.zeros(b, dtype=torch.long)}
    if isinstance(model, ClosedFormModel):  # one pass of sufficient statistics
        start = time.perf_counter()
        model.accumulate(batch, model.normalise(model.target(batch)))
        return time.perf_counter() - start
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        opt.zero_grad()
        model.training_loss(batch).backward()
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
