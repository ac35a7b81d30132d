"""`zoo bench --dry-run`: per cell, planned optimiser steps x step time measured here on one batch, the same on
the target GPU, and the memory a training step holds.

The GPU estimate is arithmetic, not a measurement: the floating-point operations of one training step (forward
and backward, counted by torch's FlopCounterMode on the suite's batch; recurrent layers, which it does not see,
counted from their sizes: 2 x gates x hidden x (input + hidden) per step and direction, x3 with the backward)
divided by an A100's assumed effective throughput, `GPU_TFLOPS` = 40 TFLOP/s (about a quarter of its TF32
tensor-core peak of 156, what small convolutional, recurrent and transformer models reach), and never less than
`GPU_STEP_FLOOR_S` = 10 ms per step (Lightning's loop, kernel launches, optimiser, host-to-device copy of a batch),
which dominates for the small presets and for most paper presets at their batch sizes. Validation and data loading add the same 1.5x as the CPU estimate. Under `bf16-mixed` the tensor
cores' peak doubles; the estimate does not assume it. It does not depend on how busy this machine is.

Memory per cell: weights + gradients + Adam's two moments (4 x 4 bytes per parameter; closed forms: their
sufficient statistics), plus the activations a training step saves for its backward pass at the suite's batch
size (measured by a hook on one step here), plus the batch itself. CUDA's context (~0.5 GB) and the allocator's
slack come on top.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
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


GPU_TFLOPS = 40.0        # A100 effective float32/TF32 throughput assumed for these models (see module docstring)
GPU_STEP_FLOOR_S = 0.010  # shortest training step on the GPU: Lightning's loop, launches, optimiser, batch copy
OVERHEAD = 1.5            # validation and data loading on top of the training steps


@dataclass
class CellEstimate:
    steps: int
    seconds: float        # here, with 1 worker
    gpu_seconds: float    # on the target GPU (A100, see GPU_TFLOPS)
    memory_bytes: int     # weights, gradients, optimiser state, saved activations and the batch


RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _rnn_flop_hooks(model: torch.nn.Module, total: list[float]) -> list:
    """Forward hooks adding each recurrent layer's forward + backward FLOPs (FlopCounterMode misses them)."""

    def hook(module, inputs, output) -> None:
        x = inputs[0]
        steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
        if x.ndim == 2:
            steps, batch = x.shape[0], 1
        gates, hidden = RNN_GATES[type(module).__name__], module.hidden_size
        directions = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            width = module.input_size if layer == 0 else hidden * directions
            total[0] += 3 * 2 * gates * hidden * (width + hidden) * steps * batch * directions

    return [m.register_forward_hook(hook) for m in model.modules() if type(m).__name__ in RNN_GATES
            and isinstance(m, torch.nn.RNNBase)]


def _tensor_bytes(value) -> int:
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0


def _step_profile(cell: Cell, spec: DataSpec) -> tuple[float, int, float]:
    """(seconds of one training step here, bytes a training step holds, its FLOPs) for the cell's model and
    batch."""
    from torch.utils.flop_counter import FlopCounterMode

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
    batch_bytes = sum(_tensor_bytes(v) for v in batch.values())
    state_bytes = sum(_tensor_bytes(t) for t in model.buffers())
    if isinstance(model, ClosedFormModel):  # one pass of sufficient statistics
        start = time.perf_counter()
        with FlopCounterMode(display=False) as counter:
            model.accumulate(batch, model.normalise(model.target(batch)))
            model.finish_accumulation()  # what a model holds back for one larger product is part of the step
        return time.perf_counter() - start, state_bytes + batch_bytes, float(counter.get_total_flops())
    params = [p for p in model.parameters() if p.requires_grad]
    state_bytes += 4 * sum(_tensor_bytes(p) for p in params)  # weights, gradients, Adam's two moments
    opt = torch.optim.Adam(params, lr=1e-4)
    times, saved = [], [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += _tensor_bytes(t)
        return t

    rnn_flops = [0.0]
    for i in range(3):
        start = time.perf_counter()
        opt.zero_grad()
        if i == 0:  # untimed: memory and FLOPs
            hooks = _rnn_flop_hooks(model, rnn_flops)
            with FlopCounterMode(display=False) as counter:
                with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    loss = model.training_loss(batch)
                loss.backward()
            for h in hooks:
                h.remove()
            flops = float(counter.get_total_flops()) + rnn_flops[0]
        else:
            loss = model.training_loss(batch)
            loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return min(times[1:]), state_bytes + saved[0] + batch_bytes, flops


def estimate_cells(suite: Suite, cells: list[Cell]) -> tuple[list[CellEstimate], float]:
    """One estimate per cell (cells of the same task, model and label fraction share it) and the total seconds
    here with one worker."""
    cache: dict[tuple, CellEstimate] = {}
    rows = []
    for cell in cells:
        key = (cell.task, cell.model.label, cell.label_fraction)
        if key not in cache:
            if cell.model.name == ORACLE:
                cache[key] = CellEstimate(0, 1.0, 1.0, 0)
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
                step_s, memory, flops = _step_profile(cell, spec)
                gpu_step = max(GPU_STEP_FLOOR_S, flops / (GPU_TFLOPS * 1e12))
                cache[key] = CellEstimate(steps, steps * step_s * OVERHEAD + 5, steps * gpu_step * OVERHEAD + 5,
                                          memory)
        rows.append(cache[key])
    return rows, sum(r.seconds for r in rows)
