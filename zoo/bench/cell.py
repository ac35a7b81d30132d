"""Run one cell (task, model, fold, seed): fit on the training subjects, test on the held-out ones.

Runs inside a worker process; everything it produces lives in `OUT/cells/<key>/`: `metrics.json`
(written last and atomically: its presence with status ok means the cell is done), the Lightning CSV
log, the best checkpoint and a few test predictions for the plots.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.io import read_json, write_atomic, write_json_atomic
from zoo.bench.suite import ORACLE, Cell, pretrain_reference

EXAMPLES = 4  # test samples kept per cell for plots


def cell_dir(out_dir: Path, cell: Cell) -> Path:
    return out_dir / "cells" / cell.key


TRAINER_BASE: dict[str, Any] = {
    "accelerator": "auto", "devices": 1, "precision": "32-true", "max_epochs": 10, "num_sanity_val_steps": 0,
    "deterministic": "warn", "enable_progress_bar": False, "enable_model_summary": False,
}


def cell_config(cell: Cell, out_dir: Path, threads: int | None = None, *,
                resolve_pretrained: bool = True) -> dict[str, Any]:
    """The cell as a `zoo fit` configuration: what `cells/<key>/config.yaml` holds. Output locations (logger,
    checkpoint folder) are not part of it, so `zoo fit --config config.yaml` writes wherever the user runs it.
    Without `resolve_pretrained`, `@pretrain` stays unset (to check the configuration before the pretraining
    checkpoint exists)."""
    from zoo.bench.oracle import NoiseFloor
    from zoo.lightning_cli import class_path

    oracle = cell.model.name == ORACLE
    model_path = f"{NoiseFloor.__module__}.{NoiseFloor.__qualname__}" if oracle else class_path(cell.model.name)
    overrides = (resolve_overrides(cell, out_dir) if resolve_pretrained else
                 {k: v for k, v in cell.model.overrides.items() if pretrain_reference(v) is None})
    init_args = {} if oracle else {"preset": cell.model.preset, **overrides}
    data = {"path": cell.dataset, "task": cell.task, "fold": cell.fold, "n_folds": cell.n_folds,
            "split_seed": cell.split_seed, "seed": cell.seed, "label_fraction": cell.label_fraction,
            **({"include_clean": True} if oracle else {}), **cell.data}
    return {
        "seed_everything": cell.seed,
        "threads": threads,
        "trainer": {**TRAINER_BASE, **cell.trainer},
        "model": {"class_path": model_path, "init_args": init_args},
        "data": data,
        "checkpoint": {"monitor": "val/loss", "mode": "min", "filename": "best"},
    }


def run_cell(cell: Cell, out_dir: Path, threads: int | None = None) -> dict[str, Any]:
    """Train and test one cell; never raises for a failure of the cell itself (it is recorded)."""
    from zoo.bench.lock import CellLock

    quiet_lightning()
    here = cell_dir(out_dir, cell)
    here.mkdir(parents=True, exist_ok=True)
    with CellLock(here):  # no other process trains this cell while we do (it waits for an orphan, if any)
        clear_attempt(here)
        from zoo.lightning_cli import spans_processes

        if spans_processes(cell.trainer):
            return _run_cell_in_processes(cell, out_dir, here, threads)
        return _run_cell(cell, out_dir, here, threads)


def _run_cell_in_processes(cell: Cell, out_dir: Path, here: Path, threads: int | None) -> dict[str, Any]:
    """Run the cell as `python -m zoo.bench.cell_process` (Lightning starts its other ranks from that command;
    rank 0 writes the cell's files) and return the record it wrote, or a failed one with its error output."""
    import pickle
    import subprocess
    import sys

    start = time.time()
    (here / CELL_PICKLE).write_bytes(pickle.dumps(cell))
    command = [sys.executable, "-m", "zoo.bench.cell_process", str(here / CELL_PICKLE), str(out_dir), str(threads or 0)]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (here / CELL_PICKLE).unlink(missing_ok=True)
    record = read_json(here / "metrics.json")
    if record is None or record.get("fingerprint") != cell.fingerprint:
        tail = "\n".join(done.stdout.strip().splitlines()[-15:])
        record = {"key": cell.key, "fingerprint": cell.fingerprint, **cell.to_dict(), "status": "failed",
                  "error": f"the cell's processes exited with code {done.returncode} without a result: {tail[-800:]}",
                  "wall_time_s": round(time.time() - start, 2)}
        write_json_atomic(here / "metrics.json", record)
    return record


# What an attempt at a cell leaves in its folder; a new attempt starts from none of it, so a killed attempt's
# checkpoint is never mistaken for this one's (Lightning would write best-v1.ckpt beside it and fine-tuning
# cells would load the stale best.ckpt).
CELL_PICKLE = "cell.pkl"  # a multi-process cell's definition, read by every one of its processes
ATTEMPT_FILES = ("checkpoints", "log", "examples.npz", "metrics.json", "config.yaml", "wandb.json", CELL_PICKLE)


def clear_attempt(here: Path) -> None:
    import shutil

    for name in ATTEMPT_FILES:
        path = here / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for tmp in here.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _run_cell(cell: Cell, out_dir: Path, here: Path, threads: int | None) -> dict[str, Any]:
    import yaml
    from lightning.pytorch.loggers import CSVLogger, WandbLogger
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from zoo.bench.tracking import start_run
    from zoo.lightning_cli import build_cli

    # in a multi-process cell every process runs this; only rank 0 writes files and talks to W&B
    rank0 = rank_zero_only.rank == 0
    record: dict[str, Any] = {"key": cell.key, "fingerprint": cell.fingerprint, **cell.to_dict()}
    run = None
    start = time.time()
    try:
        oracle = cell.model.name == ORACLE
        config = cell_config(cell, out_dir, threads)
        if rank0:
            write_atomic(here / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        loggers: list = [CSVLogger(here, name="", version="log")]
        run_config = {**config, "checkpoint": {**config["checkpoint"], "dirpath": str(here / "checkpoints")}}
        cli = build_cli(run_config, trainer_overrides={"logger": loggers})
        trainer, model, dm = cli.trainer, cli.model, cli.datamodule
        dm.setup()
        record.update(n_params=model.num_parameters(), test_subjects=list(dm.split.test_subjects),
                      split=dm.split.kind, split_dropped=dm.split.dropped,
                      **({"test_trials": list(dm.split.test_trials)} if dm.split.test_trials else {}),
                      n_train=len(dm.dataset("train")), n_val=len(dm.dataset("val")), n_test=len(dm.dataset("test")),
                      synthetic=dm.spec.synthetic, dataset_name=dm.spec.dataset, threads=torch_threads(),
                      notes=list(dm.notes))  # the documented fallbacks this cell's data took
        run = None if not rank0 else start_run(cell.wandb, out_dir, name=cell.key, group=cell.suite, job_type=cell.task,
                        tags=[cell.model.label, f"fold{cell.fold}", f"seed{cell.seed}", cell.model.preset],
                        config={**cell.to_dict(), "n_params": record["n_params"]})
        if run is not None:
            trainer.loggers = [*trainer.loggers, WandbLogger(experiment=run)]
        checkpoint = trainer.checkpoint_callback
        if not oracle:
            trainer.fit(model, datamodule=dm)
            record.update(epochs=trainer.current_epoch, steps=trainer.global_step,
                          best_val_loss=float(checkpoint.best_model_score) if checkpoint.best_model_score is not None
                          else None)
        train_s = time.time() - start
        ckpt = "best" if not oracle and checkpoint.best_model_path else None
        results = trainer.test(model, datamodule=dm, ckpt_path=ckpt, verbose=False)[0]
        record["metrics"] = {k.removeprefix("test/"): float(v) for k, v in results.items()}
        if not np.isfinite(record["metrics"].get("loss", 0.0)):
            raise FloatingPointError(f"test loss is {record['metrics']['loss']} (non-finite)")
        if rank0:
            save_examples(trainer.lightning_module, dm, here / "examples.npz")
            write_stride_tables(trainer.lightning_module, here)
        record.update(status="ok", train_time_s=round(train_s, 2))
        if run is not None:
            run.summary.update({f"test/{k}": v for k, v in record["metrics"].items()})
            log_example_images(run, here / "examples.npz", cell.key)
    except Exception as exc:  # the cell fails, the suite goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        if run is not None:
            run.summary.update({"status": "failed", "error": record["error"]})
    finally:
        record["wall_time_s"] = round(time.time() - start, 2)
        if run is not None:
            record["wandb_run_id"] = run.id
            run.finish(exit_code=0 if record.get("status") == "ok" else 1)
    if rank0:
        write_json_atomic(here / "metrics.json", record)
    return record


def write_stride_tables(model, here: Path) -> None:
    """`strides.csv` (and `map_strides.csv`, ...): one row per test stride, true and predicted quantities."""
    from zoo.metrics.stride import write_stride_table

    for name, table in getattr(model, "stride_tables", {}).items():
        write_stride_table(table, here / f"{name}.csv")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def resolve_overrides(cell: Cell, out_dir: Path) -> dict[str, Any]:
    """`@pretrain` becomes the best checkpoint of the pretraining cell this cell depends on."""
    overrides = dict(cell.model.overrides)
    if cell.depends_on is None:
        return overrides
    ckpt = cell_dir(out_dir, cell.depends_on) / "checkpoints" / "best.ckpt"
    if not ckpt.exists():
        raise FileNotFoundError(f"pretraining cell {cell.depends_on.key} left no checkpoint at {ckpt}; it must "
                                "finish (status ok) before the cells that fine-tune from it")
    return {k: (str(ckpt) if pretrain_reference(v) is not None else v) for k, v in overrides.items()}


def quiet_lightning() -> None:
    """One progress line per cell is the runner's job: silence Lightning's per-fit banners and tips."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", module="torchmetrics")  # e.g. r of a constant test window: recorded as NaN
    warnings.filterwarnings("ignore", category=UserWarning, message=".*random_stance.*")


def save_examples(model, dm, path: Path) -> None:
    """A few test predictions in physical units (small float16 arrays) for the suite's plots."""
    import torch

    batch = next(iter(dm.test_dataloader()))
    batch = {k: v[:EXAMPLES] for k, v in batch.items()}
    model.eval()
    with torch.no_grad():
        pred = model.predict_batch(batch)
    truth = model.target(batch)
    spec = model.spec
    np.savez_compressed(
        path, y_true=truth.numpy().astype(np.float16), y_pred=pred.numpy().astype(np.float16),
        x=batch["x"].numpy().astype(np.float16),
        cell_size_cm=np.asarray(spec.cell_size_cm or [1.0, 1.0]), grid=np.asarray(spec.grid or []),
        keypoint_names=np.asarray(spec.keypoint_names), target_names=np.asarray(spec.target_names),
        task=np.asarray(spec.task),
    )


def log_example_images(run, examples: Path, title: str) -> None:
    """The cell's example plot as a W&B image (best effort: plotting never fails a finished cell)."""
    try:
        import wandb

        from zoo.bench.plots import example_figure

        fig = example_figure(examples, title=title)
        if fig is not None:
            run.log({"examples": wandb.Image(fig)})
            import matplotlib.pyplot as plt

            plt.close(fig)  # worker processes run many cells; open figures would pile up
    except Exception as exc:  # pragma: no cover - diagnostics only
        run.summary["example_plot_error"] = str(exc)
