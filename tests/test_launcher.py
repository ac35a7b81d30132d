"""`zoo bench --launcher`: the shards as one submitit job array, then their merge, through submitit's local
executor (the code path of `--launcher slurm`, run on this machine), against a plain `zoo bench` run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zoo.bench.launcher import (
    check_slurm_block,
    executor_parameters,
    parse_flags,
    parse_gigabytes,
    parse_minutes,
)
from zoo.bench.runner import main as bench_main
from zoo.bench.suite import SuiteError, load_suite

from fake_recordings import make_fake_recording

pytest.importorskip("submitit")


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("launcher")
    data = make_fake_recording(root / "tiny.h5", n_subjects=4, seconds=6.0)
    suite = {
        "name": "tiny-array", "dataset": str(data), "folds": 2, "run_folds": [0], "seeds": [0], "threads": 1, "wandb": False,
        "data": {"batch_size": 16, "stats_samples": 100},
        "trainer": {"max_epochs": 1, "limit_train_batches": 2},
        "slurm": {"partition": "gpu", "gpus_per_task": 1, "cpus_per_task": 2, "time": "00:20:00", "mem": "4G"},
        "tasks": {"imu2grf": {"models": ["tcn", "ridge"]}},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.mark.slow
def test_local_array_gives_the_files_of_one_plain_run(suite_file, tmp_path):
    plain, array = tmp_path / "plain", tmp_path / "array"
    assert bench_main([str(suite_file), "--out", str(plain)]) == 0
    assert bench_main([str(suite_file), "--out", str(array), "--launcher", "local", "--shards", "2"]) == 0
    assert sorted(p.name for p in (array / "shards").iterdir()) == ["0-of-2", "1-of-2"]
    for shard in ("0-of-2", "1-of-2"):  # each array task ran its own shard: one of the two cells
        assert len(list((array / "shards" / shard / "cells").iterdir())) == 1
    for name in ("results.csv", "leaderboard.csv", "leaderboard.md"):
        assert (array / name).read_bytes() == (plain / name).read_bytes(), name
    assert any((array / "slurm").rglob("*_log.out"))  # submitit's job logs


def test_the_slurm_block_becomes_executor_parameters(suite_file):
    suite = load_suite(suite_file)
    params = executor_parameters({**suite.slurm, **parse_flags(["time=90", "account=lab"])}, 4, suite.name)
    assert params["slurm_partition"] == "gpu" and params["gpus_per_node"] == 1 and params["cpus_per_task"] == 2
    assert params["timeout_min"] == 90 and params["mem_gb"] == 4.0 and params["slurm_account"] == "lab"
    assert params["slurm_array_parallelism"] == 4 and params["tasks_per_node"] == 1


@pytest.mark.parametrize(("text", "minutes"), [("04:00:00", 240), ("1-00:00:00", 1440), ("90:30", 91), (45, 45)])
def test_time_limits(text, minutes):
    assert parse_minutes(text, "slurm.time") == minutes


def test_memory_sizes():
    assert parse_gigabytes("32G", "m") == 32.0 and parse_gigabytes("512M", "m") == 0.5 and parse_gigabytes(8, "m") == 8


@pytest.mark.parametrize(("block", "message"), [
    ({"partitions": "gpu"}, "slurm: expected keys among"),
    ({"gpus_per_task": -1}, "slurm.gpus_per_task: expected an integer >= 0, found -1"),
    ({"time": "four hours"}, "slurm.time: expected minutes or HH:MM:SS (e.g. 04:00:00), found 'four hours'"),
    ({"mem": "lots"}, "slurm.mem: expected a memory size such as 32G or 500M, found 'lots'"),
])
def test_a_bad_slurm_block_is_named(block, message):
    with pytest.raises(SuiteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_slurm_block(block, "slurm")


def test_shard_and_launcher_together_are_refused(suite_file, tmp_path):
    with pytest.raises(SuiteError, match="--shard and --launcher"):
        bench_main([str(suite_file), "--out", str(tmp_path), "--launcher", "local", "--shard", "0/2"])


def test_dry_run_prints_gpu_hours_and_memory_per_cell(suite_file, capsys):
    from zoo.bench.estimate import estimate_cells
    from zoo.registry import create_model

    suite = load_suite(suite_file)
    rows, _ = estimate_cells(suite, suite.cells())
    tcn = next(r for c, r in zip(suite.cells(), rows) if c.model.name == "tcn")
    params = create_model("tcn", task="imu2grf").num_parameters()
    assert tcn.memory_bytes > 16 * params  # weights, gradients, Adam moments, plus activations and the batch
    from zoo.bench.estimate import GPU_STEP_FLOOR_S, OVERHEAD

    # a small TCN on 16 windows is far below the A100's per-step floor
    assert tcn.steps >= 1 and tcn.gpu_seconds == pytest.approx(tcn.steps * GPU_STEP_FLOOR_S * OVERHEAD + 5)
    assert bench_main([str(suite_file), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["cell", "steps", "here", "A100", "memory"]
    assert "imu2grf__tcn__fold0__seed0" in out[1] and out[1].rstrip().endswith(("kB", "MB", "GB"))
    assert out[-1].startswith("estimated ") and "GPU-hours on an A100" in out[-1] and "largest cell needs" in out[-1]


def test_recurrent_layers_are_counted_from_their_sizes():
    import torch

    from zoo.bench.estimate import _rnn_flop_hooks

    lstm = torch.nn.LSTM(6, 10, num_layers=2, bidirectional=True, batch_first=True)
    total = [0.0]
    hooks = _rnn_flop_hooks(lstm, total)
    lstm(torch.randn(3, 7, 6))
    for h in hooks:
        h.remove()
    per_step = 2 * 4 * 10 * ((6 + 10) + (20 + 10))  # two layers, 4 gates, multiply-adds; the second sees 2 x 10
    assert total[0] == 3 * per_step * 7 * 3 * 2  # x3 backward, 7 steps, batch 3, 2 directions
