"""Mixed precision (`--trainer.precision bf16-mixed`): every model trains under it, in `zoo fit` and in suites,
and the metrics still see float32 predictions and targets, outside autocast."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

import zoo
from datamodules.tasks import get_task
from zoo.lightning_cli import build_cli, class_path
from zoo.registry import get_model_class

from fake_recordings import make_fake_recording

DATA = {"n_folds": 2, "batch_size": 8, "frames": 6, "frame_stride": 2, "stats_samples": 100}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("bf16") / "tiny.h5", n_subjects=4, seconds=6.0, grid=(16, 8))


def fit_config(data, root, model: str, task: str, **trainer) -> dict:
    return {
        "seed_everything": 0, "threads": 1,
        "trainer": {"accelerator": "cpu", "devices": 1, "precision": "bf16-mixed", "max_epochs": 1,
                    "limit_train_batches": 2, "limit_val_batches": 1, "limit_test_batches": 2,
                    "num_sanity_val_steps": 0, "enable_progress_bar": False, "enable_model_summary": False,
                    "logger": False, "default_root_dir": str(root), **trainer},
        "model": {"class_path": class_path(model), "init_args": {"preset": "small"}},
        "data": {"path": str(data), "task": task, **DATA},
        "checkpoint": {"dirpath": str(root / f"{model}-{task}"), "filename": "best"},
    }


def test_bf16_fit_runs_the_network_in_bfloat16_and_the_metrics_in_float32(data, tmp_path, monkeypatch):
    cli = build_cli(fit_config(data, tmp_path, "tcn", "imu2grf"))
    model, trainer, dm = cli.model, cli.trainer, cli.datamodule
    seen: dict[str, list] = {"net": [], "metrics": []}
    model.net.register_forward_hook(lambda m, i, out: seen["net"].append(out.dtype))
    task = model.task
    original = task.update_metrics

    def spy(collection, pred, target, batch, out):
        seen["metrics"].append((pred.dtype, target.dtype, torch.is_autocast_enabled("cpu")))
        return original(collection, pred, target, batch, out)

    monkeypatch.setattr(task, "update_metrics", spy)
    trainer.fit(model, datamodule=dm)
    metrics = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert trainer.precision == "bf16-mixed"
    assert torch.bfloat16 in seen["net"]  # autocast really ran the network in bfloat16
    assert seen["metrics"] and set(seen["metrics"]) == {(torch.float32, torch.float32, False)}
    assert all(state.dtype == torch.float32 for m in model.test_metrics.values() for state in m.metric_state.values()
               if isinstance(state, torch.Tensor) and state.is_floating_point())
    primary = get_task("imu2grf").primary_metric
    assert math.isfinite(metrics[f"test/{primary}"])


CASES = [(name, get_model_class(name).supported_tasks[0]) for name in zoo.list_models()]


@pytest.mark.parametrize(("name", "task"), CASES)
def test_every_model_fits_and_tests_under_bf16(data, tmp_path, name, task):
    cli = build_cli(fit_config(data, tmp_path, name, task))
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    assert math.isfinite(metrics["test/loss"])
    primary = f"test/{get_task(task).primary_metric}"
    assert primary in metrics


def test_a_bf16_suite_runs_and_its_cells_keep_the_precision(data, tmp_path):
    from zoo.bench.runner import main as bench_main

    suite = {"name": "bf16", "dataset": str(data), "folds": 2, "run_folds": [0], "seeds": [0], "threads": 1,
             "wandb": False, "data": {"batch_size": 8, "stats_samples": 100},
             "trainer": {"precision": "bf16-mixed", "max_epochs": 1, "limit_train_batches": 2},
             "tasks": {"imu2grf": {"models": ["ssl_transformer", "ridge"]}}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = tmp_path / "out"
    assert bench_main([str(path), "--out", str(out)]) == 0
    for cell in ("imu2grf__ssl_transformer__fold0__seed0", "imu2grf__ridge__fold0__seed0"):
        config = yaml.safe_load((out / "cells" / cell / "config.yaml").read_text())
        assert config["trainer"]["precision"] == "bf16-mixed"
    assert "imu2grf,ssl_transformer" in (out / "leaderboard.csv").read_text()


def test_a_suite_with_an_unknown_precision_stops_before_any_cell(data, tmp_path, capsys):
    from zoo.cli import main as zoo_main

    suite = {"name": "bad-precision", "dataset": str(data), "folds": 2, "seeds": [0], "wandb": False,
             "trainer": {"precision": "bf17-mixed"}, "tasks": {"imu2grf": {"models": ["mean"]}}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert zoo_main(["bench", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("trainer.precision: expected one of ['32-true', 'bf16-mixed', '16-mixed', 'bf16-true', "
                        "'16-true', '64-true', '32', '16', 'bf16', '64', 32, 16, 64] (16-mixed needs a GPU), "
                        "found 'bf17-mixed'") and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "cells").exists()


@pytest.mark.parametrize(("trainer", "spans"), [
    ({"devices": 2, "strategy": "ddp"}, True), ({"num_nodes": 2}, True), ({"strategy": "ddp_find_unused_parameters_true"}, True),
    ({"devices": [0, 1]}, True), ({"devices": 1}, False), ({"devices": [3]}, False), ({}, False),
])
def test_suite_cells_accept_the_trainer_keys_of_zoo_fit_and_know_when_they_span_processes(data, tmp_path, trainer, spans):
    from zoo.bench.suite import load_suite
    from zoo.lightning_cli import spans_processes

    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "dataset": str(data), "trainer": trainer,
                                    "tasks": {"imu2grf": {"models": ["mean"]}}}))
    cell = load_suite(path).cells()[0]
    assert spans_processes(cell.trainer) is spans
