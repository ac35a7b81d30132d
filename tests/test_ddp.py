"""Multi-process training (DDP, 2 CPU processes over gloo) through `zoo fit`'s own path (`build_cli`).

One DDP launch runs one fit and test per task (plus the closed-form baselines) in 2 processes with half the
batch each; the same cases run in this process with the whole batch. The global batches are the same (one
seeded permutation split across the processes) and dropout is off, so the only differences left are
floating-point summation order, the padding sample a distributed sampler adds when
the training set is odd: test metrics agree within `RTOL`. Models with BatchNorm are only checked to run.
Marked `slow`: about 40 s on an idle 2-core machine (2 process start-ups, 7 small fits in each of the 3 processes).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from fake_recordings import make_fake_recording

HERE = Path(__file__).resolve().parent
# Tolerances (relative, on every test metric), measured with `pytest tests/test_ddp.py -s` (it prints the largest
# gap per case): networks without BatchNorm or dropout follow the 1-process run up to floating-point summation
# order (measured 4e-7 for ssl_transformer, 3e-6 for pose_mlp); the closed forms sum the same samples in another
# order (measured <= 5e-7). imu2kinetics's loss averages its COP terms over the loaded steps of the batch and
# scales the consistency term by the batch's COP spread: each process does so over its half batch, and DDP
# averages the two gradients, which is not the gradient of the whole batch (measured 7.9e-3 on COP metrics).
# BatchNorm cannot match: each process normalises its own half batch, and torch's SyncBatchNorm needs GPUs;
# those models are checked to train and test under DDP, not for equality.
RTOL = {"closed_form": 1e-5, "network": 1e-4, "batch_dependent_loss": 2e-2}
BATCH = 8  # global batch: 8 on one process, 4 on each of two

CASES = {  # name: (task, model, model overrides, tolerance group or None: no equality)
    "imu2pressure-ssl_transformer": ("imu2pressure", "ssl_transformer", {"dropout": 0.0}, "network"),
    "imu2grf-ssl_transformer": ("imu2grf", "ssl_transformer", {"dropout": 0.0}, "network"),
    "landmarks2pressure-ridge": ("landmarks2pressure", "ridge", {}, "closed_form"),
    "insole2pose-pose_mlp": ("insole2pose", "pose_mlp", {"dropout": 0.0}, "network"),
    "pretrain-mean": ("pretrain", "mean", {}, "closed_form"),
    "imu2kinetics-ssl_transformer": ("imu2kinetics", "ssl_transformer", {"dropout": 0.0}, "batch_dependent_loss"),
    "landmarks2pressure-unet": ("landmarks2pressure", "unet", {}, None),  # BatchNorm
}


def config(data: Path, root: Path, task: str, model: str, overrides: dict, devices: int) -> dict:
    from zoo.lightning_cli import class_path

    trainer = {"accelerator": "cpu", "devices": devices, "max_epochs": 2, "limit_train_batches": 12,
               "num_sanity_val_steps": 0,
               "enable_progress_bar": False, "enable_model_summary": False, "logger": False,
               "default_root_dir": str(root), "deterministic": True}
    if devices > 1:
        trainer["strategy"] = "ddp"
    return {
        "seed_everything": 0, "threads": 1, "trainer": trainer,
        "model": {"class_path": class_path(model), "init_args": {"preset": "small", **overrides}},
        "data": {"path": str(data), "task": task, "n_folds": 2, "batch_size": BATCH // devices, "frames": 6,
                 "frame_stride": 2, "stats_samples": 200},
        "checkpoint": {"monitor": "val/loss", "mode": "min", "filename": "best",
                       "dirpath": str(root / f"{task}-{model}-{devices}" / "checkpoints")},
        "predictions": {"output": str(root / f"{task}-{model}-{devices}" / "predictions.npz")},
    }


def cases(data: Path, root: Path, devices: int) -> list[dict]:
    return [{"name": name, "config": config(data, root, task, model, overrides, devices)}
            for name, (task, model, overrides, _) in CASES.items()]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_fake_recording(tmp_path_factory.mktemp("ddp") / "tiny.h5", n_subjects=4, seconds=6.0, grid=(16, 8))


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> dict[str, dict]:
    """The 2-process run (one DDP launch of every case) and the 1-process run (in this process)."""
    sys.path.insert(0, str(HERE))
    from ddp_fit import fit_and_test

    root = tmp_path_factory.mktemp("ddp-runs")
    spec = root / "cases.json"
    spec.write_text(json.dumps(cases(data, root, 2)))
    out = root / "ddp.json"
    done = subprocess.run([sys.executable, str(HERE / "ddp_fit.py"), str(spec), str(out)], capture_output=True,
                          text=True, timeout=600, cwd=root)
    assert done.returncode == 0 and out.exists(), done.stderr[-4000:]
    single = {c["name"]: fit_and_test(c["config"]) for c in cases(data, root, 1)}
    return {"ddp": json.loads(out.read_text()), "single": single, "root": str(root)}


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_two_process_ddp_fit_matches_one_process(runs, name):
    ddp, single = runs["ddp"][name], runs["single"][name]
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert len(set(ddp["stats"])) == 1 and ddp["stats"][0] == single["stats"][0]  # same normalisation everywhere
    assert ddp["steps"] == single["steps"] > 0  # same number of (global) optimiser steps
    assert ddp["checkpoints"] == single["checkpoints"] == ["best.ckpt"]  # one file, written once
    assert set(ddp["metrics"]) == set(single["metrics"])
    assert all(math.isfinite(ddp["metrics"][k]) == math.isfinite(v) for k, v in single["metrics"].items())
    group = CASES[name][3]
    gaps = {k: relative_gap(ddp["metrics"][k], v) for k, v in single["metrics"].items() if math.isfinite(v)}
    print(f"{name}: largest relative gap {max(gaps.values()):.2e} ({max(gaps, key=gaps.get)})")
    if group is not None:
        assert max(gaps.values()) <= RTOL[group], gaps


@pytest.mark.slow
def test_ddp_predictions_come_back_in_one_file_in_single_process_order(runs, tmp_path_factory):
    import numpy as np

    root = Path(runs["root"])
    for name, (task, model, _, group) in CASES.items():
        ddp = np.load(root / f"{task}-{model}-2" / "predictions.npz")
        single = np.load(root / f"{task}-{model}-1" / "predictions.npz")
        assert np.array_equal(ddp["subject"], single["subject"]), name
        if "y_true" in single:
            assert np.array_equal(ddp["y_true"], single["y_true"]), name
        if group is not None:
            scale = float(np.abs(single["y_pred"]).max())
            assert np.allclose(ddp["y_pred"], single["y_pred"], rtol=0, atol=RTOL[group] * 10 * scale), name


def test_samplers_split_one_permutation_and_score_every_evaluation_sample_once(data):
    """Without processes: a DataModule told it is rank r of 2 serves, per step, half of the global batch one
    process serves; evaluation shares cover every sample once; `padding_mask` flags the repeated samples."""
    from types import SimpleNamespace

    import torch

    from datamodules.datamodule import GaitDataModule, padding_mask

    def rows(loader) -> list[list[int]]:
        return [batch["row"].tolist() for batch in loader]

    def module(rank: int, world: int, batch: int) -> GaitDataModule:
        dm = GaitDataModule(str(data), task="imu2grf", n_folds=2, batch_size=batch, stats_samples=100, seed=5)
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=world)
        return dm

    one = module(0, 1, 8)
    halves = [module(r, 2, 4) for r in (0, 1)]
    n_train = len(one.dataset("train"))
    single, shares = rows(one.train_dataloader()), [rows(dm.train_dataloader()) for dm in halves]
    assert len(shares[0]) == len(shares[1]) == len(single)  # every process steps as often as one process
    last = len(single) - 1
    for step, batch in enumerate(single[:-1]):  # every full global batch is the union of the two halves
        assert sorted(batch) == sorted(shares[0][step] + shares[1][step])
    for rank, dm in enumerate(halves):
        loader = dm.train_dataloader()
        keep = padding_mask(loader.sampler, last * 4, len(shares[rank][last]))
        real = [r for r, k in zip(shares[rank][last], keep.tolist() if keep is not None else [True] * 8) if k]
        shares[rank][last] = real
    assert sorted(single[last]) == sorted(shares[0][last] + shares[1][last])  # padding left out: the same samples
    assert sum(len(b) for s in shares for b in s) == n_train
    for split in ("val", "test"):
        everything = sorted(r for b in rows(getattr(one, f"{split}_dataloader")()) for r in b)
        split_rows = [r for dm in halves for b in rows(getattr(dm, f"{split}_dataloader")()) for r in b]
        assert sorted(split_rows) == everything  # each sample exactly once, none repeated
    assert torch.equal(next(iter(halves[1].full_dataloader("val")))["row"], next(iter(one.val_dataloader()))["row"][:4])


def test_a_suite_cell_on_two_processes_matches_its_one_process_twin(data, tmp_path):
    """`trainer: {devices: 2, strategy: ddp}` in a suite: the cell runs as its own command (Lightning starts
    the second rank from it), rank 0 writes the cell's files, and its test metrics equal the same cell on one
    process with the same global batch."""
    import yaml

    from zoo.cli import main as zoo_main

    trainer = {"accelerator": "cpu", "max_epochs": 2, "limit_train_batches": 12, "deterministic": True}
    model = {"name": "ssl_transformer", "overrides": {"dropout": 0.0}}
    suite = {"name": "ddp-cell", "dataset": str(data), "folds": 2, "run_folds": [0], "seeds": [0], "wandb": False,
             "threads": 1, "trainer": trainer, "data": {"stats_samples": 200},
             "tasks": {"imu2grf": {"models": [
                 {**model, "label": "one", "data": {"batch_size": BATCH}},
                 {**model, "label": "two", "data": {"batch_size": BATCH // 2},
                  "trainer": {"devices": 2, "strategy": "ddp"}}]}}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = tmp_path / "out"
    assert zoo_main(["bench", str(path), "--out", str(out), "--no-wandb"]) == 0
    one, two = (json.loads((out / "cells" / f"imu2grf__{k}__fold0__seed0" / "metrics.json").read_text())
                for k in ("one", "two"))
    assert one["status"] == two["status"] == "ok"
    assert one["steps"] == two["steps"] > 0
    worst = max(abs(two["metrics"][k] - v) / max(abs(v), 1e-12) for k, v in one["metrics"].items())
    print(f"suite cell, 2 processes vs 1: largest relative gap {worst:.2e}")
    assert worst <= RTOL["network"]
    cell = out / "cells" / "imu2grf__two__fold0__seed0"
    assert (cell / "config.yaml").exists() and (cell / "checkpoints" / "best.ckpt").exists()
    assert not (cell / "cell.pkl").exists()
    assert yaml.safe_load((cell / "config.yaml").read_text())["trainer"]["devices"] == 2
