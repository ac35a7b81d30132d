"""`zoo bench --dry-run`: planned optimiser steps per cell x step time measured here on one batch."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from benchmarks.suite import ORACLE, Cell, Suite


def _spec_and_train_size(cell: Cell) -> tuple[dict, int]:
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
        return dm.data_spec, len(dm.dataset("train"))
    from zoo.specs import default_data_spec

    preset, _ = parse_sim(source)
    n = preset_samples(preset, cell.task, cell.data)
    train = int(n * (1 - 1 / cell.n_folds) * 0.8 * cell.label_fraction)
    return default_data_spec(cell.task, frames=int(cell.data.get("frames", 40))), train


STRIDE_S, DUTY = 1.1, 0.62  # typical walking stride and stance share (SPEC 3.3)


def preset_samples(preset: str, task: str, data: dict) -> int:
    """Samples a simulator preset would give `task`, from its subjects and trial durations (no generation)."""
    from datamodules.simulator import PRESETS
    from datamodules.tasks import TASKS

    cfg = PRESETS[preset]
    activities = data.get("activities") or TASKS[task].default_activities or cfg.activities
    seconds = [cfg.duration_s[a] for a in cfg.activities if a in activities for _ in range(cfg.trials[a])]
    fs = cfg.sample_rate_hz
    if task in ("imu2grf", "pretrain"):
        window = int(data.get("window", 128))
        stride = int(data.get("window_stride") or window // 2)
        per_trial = [max(0, int((d * fs - window) // stride) + 1) for d in seconds]
    elif task == "imu2pressure":
        per_trial = [int(d / STRIDE_S) for d in seconds]
    elif task == "landmarks2pressure":
        per_trial = [int(d * fs * DUTY * 2 / int(data.get("frame_step", 2))) for d in seconds]
    else:  # insole2pose
        span = (int(data.get("frames", 40)) - 1) * int(data.get("frame_stride", 7)) + 1
        step = int(data.get("pose_stride") or data.get("frame_stride", 7))
        per_trial = [max(0, int((d * fs - span) // step) + 1) for d in seconds]
    return cfg.n_subjects * sum(per_trial)


def _step_seconds(cell: Cell, spec: dict) -> float:
    from benchmarks.suite import PRETRAINED
    from zoo.registry import create_model

    # timing needs the architecture, not the pretrained weights (which may not exist yet)
    overrides = {k: v for k, v in cell.model.overrides.items() if v != PRETRAINED}
    model = create_model(cell.model.name, data_spec=spec, preset=cell.model.preset, **overrides)
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
