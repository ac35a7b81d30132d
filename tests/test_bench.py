"""The benchmark runner end to end on tiny data: outputs, resume after a kill, shards, W&B offline runs."""

from __future__ import annotations

import csv
import json
import random
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.chaos import tiny_suite
from zoo.bench.results import LEADERBOARD_COLUMNS, RESULT_COLUMNS
from zoo.bench.runner import main as bench_main
from zoo.bench.suite import SuiteError, load_suite

from fake_recordings import make_fake_recording

ZOO = [sys.executable, "-m", "zoo.cli"]


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = make_fake_recording(root / "tiny.h5", n_subjects=4, seconds=6.0)
    return tiny_suite(root, str(data), name="tiny-suite")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


RUN_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def full_run(suite_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    start = time.time()
    assert bench_main([str(suite_file), "--out", str(out)]) == 0
    RUN_SECONDS["full"] = time.time() - start
    return out


def test_every_output_file_and_its_columns(full_run):
    for name in ("results.csv", "leaderboard.csv", "leaderboard.md", "suite.yaml"):
        assert (full_run / name).exists(), name
    results = read_csv(full_run / "results.csv")
    assert tuple(results[0]) == RESULT_COLUMNS
    cells = {(r["task"], r["model"], r["fold"], r["seed"]) for r in results}
    assert cells == {("imu2grf", m, f, "0") for m in ("tcn", "ridge", "noise-floor") for f in ("0", "1")}
    board = read_csv(full_run / "leaderboard.csv")
    assert tuple(board[0]) == LEADERBOARD_COLUMNS
    for model in ("tcn", "ridge", "noise-floor"):
        primary = [r for r in board if r["model"] == model and r["is_primary"] == "True"]
        assert [r["metric"] for r in primary] == ["r_vertical"]
        assert primary[0]["higher_is_better"] == "True" and primary[0]["n"] == "2"
    md = (full_run / "leaderboard.md").read_text()
    assert "synthetic" in md and "noise-floor (oracle)" in md and "| tcn |" in md
    per_cell = sorted((full_run / "cells").glob("*/metrics.json"))
    assert len(per_cell) == 6
    record = json.loads(per_cell[0].read_text())
    assert record["status"] == "ok" and "r_vertical" in record["metrics"] and record["test_subjects"]
    assert (full_run / "plots" / "imu2grf_primary.png").exists()
    assert (full_run / "plots" / "imu2grf_examples.png").exists()


def test_a_rerun_skips_finished_cells(full_run, suite_file, capsys):
    stamps = {p: p.stat().st_mtime_ns for p in (full_run / "cells").glob("*/metrics.json")}
    assert bench_main([str(suite_file), "--out", str(full_run)]) == 0
    assert "6 already finished, 0 to run" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in (full_run / "cells").glob("*/metrics.json")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the runner's workers in /proc")
def test_five_sigkills_at_random_moments_then_resume_give_the_uninterrupted_results(full_run, suite_file, tmp_path):
    """The runner alone is SIGKILLed (as `kill -9 PID` or an OOM killer does), restarted at once, 5 times in a
    row at random moments; the resumed suite equals the uninterrupted run byte for byte, no worker outlives its
    runner, no cell is trained twice, and finished cells are never redone."""
    from benchmarks.chaos import WAIT_MESSAGE, attempt, compare, identical, run_to_end

    rng = random.Random(13)
    # From the runner's start: its imports and worker spawn take a few seconds, then the cells
    delays = (1.0, 4.0 + 0.5 * RUN_SECONDS["full"])
    for round_ in range(3):  # a round the suite completes before its 5th kill is started over
        out, log = tmp_path / f"round{round_}", tmp_path / f"round{round_}.log"
        kills, orphans, stamps = 0, 0, {}
        while kills < 5:
            killed, _, left = attempt(suite_file, out, rng.uniform(*delays), log=log)
            if not killed:
                break
            kills, orphans = kills + 1, orphans + left
            for path, stamp in stamps.items():
                assert path.stat().st_mtime_ns == stamp, f"{path} was redone"
            stamps = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/metrics.json")}
        if kills == 5:
            break
    assert kills == 5, "the suite kept finishing before its 5th kill"
    assert orphans == 0  # workers died with their runner
    assert run_to_end(suite_file, out, 1, log) == 0
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, f"{path} was redone"
    lost, duplicated = compare(out, full_run)
    assert (lost, duplicated) == ([], [])
    assert WAIT_MESSAGE not in log.read_text()  # no worker found its cell being trained by another
    assert identical(out, full_run)
    assert [p.name for p in out.glob("cells/*/checkpoints/*")] == ["best.ckpt"] * len(list(out.glob("cells/*/checkpoints")))


def test_bad_suite_files_name_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "dataset": "sim:quick", "tasks": {"imu2grf": {"models": ["nope"]}}}))
    with pytest.raises(SuiteError, match=r"bad.yaml: tasks.imu2grf.models\[0\].name: expected a registered model"):
        load_suite(bad)
    bad.write_text(yaml.safe_dump({"name": "x", "dataset": "sim:quick", "tasks": {"imu2moon": {"models": ["mean"]}}}))
    with pytest.raises(SuiteError, match="tasks.imu2moon: expected a task among"):
        load_suite(bad)
    bad.write_text(yaml.safe_dump({"name": "x", "dataset": "sim:quick", "folds": 1, "tasks": {"imu2grf": {"models": ["mean"]}}}))
    with pytest.raises(SuiteError, match="folds: expected an integer >= 2, found 1"):
        load_suite(bad)


def test_dry_run_lists_cells_with_an_estimate(suite_file, capsys):
    assert bench_main([str(suite_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "imu2grf__tcn__fold1__seed0" in out and "6 cells; estimated" in out


@pytest.fixture(scope="module")
def ssl_suite_file(suite_file):
    """A label-efficiency suite: one pretraining stage, scratch vs pretrained twins, two label fractions."""
    data = str(suite_file.parent / "tiny.h5")
    suite = {
        "name": "tiny-ssl", "dataset": data, "folds": 2, "seeds": [0], "label_fractions": [0.5, 1.0],
        "data": {"batch_size": 16, "stats_samples": 100},
        "trainer": {"max_steps": 3, "max_epochs": -1},
        "wandb": False,
        "pretrain": {"model": "ssl_transformer", "preset": "small", "dataset": data, "n_folds": 2,
                     "trainer": {"max_steps": 3, "max_epochs": -1}},
        "tasks": {"imu2grf": {"models": [
            {"name": "ssl_transformer", "label": "ssl_transformer-scratch"},
            {"name": "ssl_transformer", "label": "ssl_transformer-pretrained", "overrides": {"pretrained": "@pretrain"}},
        ]}},
    }
    path = suite_file.parent / "ssl_suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.fixture(scope="module")
def ssl_run(ssl_suite_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("ssl")
    assert bench_main([str(ssl_suite_file), "--out", str(out), "--jobs", "2"]) == 0
    return out


def test_pretraining_runs_once_and_the_pretrained_cells_start_from_it(ssl_run):
    records = [json.loads(p.read_text()) for p in sorted((ssl_run / "cells").glob("*/metrics.json"))]
    pretraining = [r for r in records if r["task"] == "pretrain"]
    assert len(pretraining) == 1 and pretraining[0]["status"] == "ok"
    assert (ssl_run / "cells" / pretraining[0]["key"] / "checkpoints").exists()
    tuned = [r for r in records if r["task"] == "imu2grf"]
    assert len(tuned) == 2 * 2 * 2  # twins x folds x label fractions
    for r in tuned:
        assert r["status"] == "ok"
        expected = pretraining[0]["fingerprint"] if r["label"].endswith("-pretrained") else None
        assert r["depends_on"] == expected, r["key"]
    board = read_csv(ssl_run / "leaderboard.csv")
    primary = {(r["model"], float(r["label_fraction"])) for r in board
               if r["is_primary"] == "True" and r["task"] == "imu2grf"}
    assert primary == {(m, f) for m in ("ssl_transformer-scratch", "ssl_transformer-pretrained") for f in (0.5, 1.0)}


def test_shards_of_a_pretraining_suite_merge_to_the_unsharded_results(ssl_run, ssl_suite_file, tmp_path):
    shards = [tmp_path / "s0", tmp_path / "s1"]
    for i, d in enumerate(shards):  # same worker count (so threads per cell) as the unsharded run: bitwise equal
        assert bench_main([str(ssl_suite_file), "--out", str(d), "--shard", f"{i}/2", "--jobs", "2"]) == 0
    for d in shards:  # a shard with pretrained cells also ran the pretraining they need
        keys = [p.name for p in d.glob("cells/*")]
        if any("-pretrained__" in k for k in keys):
            assert any(k.startswith("pretrain__") for k in keys)
    merged = tmp_path / "merged"
    assert bench_main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    assert len([p for p in merged.glob("cells/*") if p.name.startswith("pretrain__")]) == 1
    assert (merged / "results.csv").read_text() == (ssl_run / "results.csv").read_text()
    assert (merged / "leaderboard.csv").read_text() == (ssl_run / "leaderboard.csv").read_text()


def test_readme_leaderboard_renders_the_run_and_replaces_only_its_block(full_run, tmp_path):
    from benchmarks.readme_leaderboard import END, START, render, write_block

    board = {(r["model"], r["metric"]): r for r in read_csv(full_run / "leaderboard.csv")}
    block = render(full_run, wall_time="1 min")
    assert block.startswith(START) and block.endswith(END) and "synthetic" in block and "1 min wall time" in block
    assert "2-fold" in block and "`tiny-suite`" in block
    rows = {line.split(" | ")[0]: line for line in block.splitlines() if line.startswith(("| `", "| noise floor"))}
    assert set(rows) == {"| `tcn`", "| `ridge`", "| noise floor (oracle)"}
    best, other = sorted(("tcn", "ridge"), key=lambda m: -float(board[(m, "r_vertical")]["mean"]))
    assert rows[f"| `{best}`"].split(" | ")[1].startswith("**")  # r_vertical, the primary metric, comes first
    assert not rows[f"| `{other}`"].split(" | ")[1].startswith("**")
    assert "**" not in rows["| noise floor (oracle)"]  # the oracle is never marked best
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{START}\nSTALE BLOCK\n{END}\n\n## after\n")
    write_block(readme, block)
    text = readme.read_text()
    assert text.startswith("# title\n\n") and text.endswith("\n\n## after\n") and "STALE" not in text


def test_readme_leaderboard_names_the_missing_columns(tmp_path):
    from benchmarks.readme_leaderboard import read_board

    bad = tmp_path / "leaderboard.csv"
    bad.write_text("task,model\nimu2grf,ridge\n")
    with pytest.raises(SystemExit, match=r"leaderboard.csv: expected the columns task, model, metric.*found task, model"):
        read_board(bad)


@pytest.mark.parametrize("model", ["tcn", "ridge"])
def test_a_cell_config_reproduces_its_test_metrics_through_zoo_fit_and_zoo_test(full_run, model, tmp_path):
    """One way to train: `cells/<key>/config.yaml` is a `zoo fit` config; fitting and testing it again gives the
    cell's own test metrics."""
    import torch

    from zoo.cli import main as zoo_main

    cell = full_run / "cells" / f"imu2grf__{model}__fold1__seed0"
    config = yaml.safe_load((cell / "config.yaml").read_text())
    assert config["model"]["init_args"]["preset"] == "small" and config["data"]["fold"] == 1
    assert "dirpath" not in config["checkpoint"] and "logger" not in config["trainer"]  # outputs are not part of it
    expected = json.loads((cell / "metrics.json").read_text())["metrics"]
    threads = torch.get_num_threads()
    try:
        config = ["--config", str(cell / "config.yaml")]
        assert zoo_main(["fit", *config, f"--trainer.default_root_dir={tmp_path / 'fit'}",
                         f"--checkpoint.dirpath={tmp_path / 'ckpt'}"]) == 0
        assert zoo_main(["test", *config, f"--trainer.default_root_dir={tmp_path / 'test'}",
                         "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                         f"--trainer.logger.save_dir={tmp_path / 'test'}",
                         f"--ckpt_path={tmp_path / 'ckpt' / 'best.ckpt'}"]) == 0
    finally:
        torch.set_num_threads(threads)
    logged = read_csv(next((tmp_path / "test").rglob("metrics.csv")))
    tested = {k.removeprefix("test/"): float(v) for row in logged for k, v in row.items() if k.startswith("test/") and v}
    assert set(tested) == set(expected)
    for name, value in expected.items():
        assert tested[name] == pytest.approx(value, rel=1e-6, abs=1e-9, nan_ok=True), name


def test_stride_metrics_join_as_secondary_columns_with_a_per_stride_table_and_a_clinical_leaderboard(full_run):
    cell = full_run / "cells" / "imu2grf__tcn__fold0__seed0"
    strides = read_csv(cell / "strides.csv")
    assert strides and {"trial", "onset_sample", "vgrf_peak1_true", "vgrf_peak1_pred", "vgrf_peak1_error"} <= set(strides[0])
    keys = [(r["trial"], r["onset_sample"]) for r in strides]
    assert len(keys) == len(set(keys))  # a stance seen in two overlapping windows is one row
    metrics = json.loads((cell / "metrics.json").read_text())["metrics"]
    assert metrics["strides"] == len(strides)
    scored = [float(r["vgrf_peak1_error"]) for r in strides if r["vgrf_peak1_error"]]
    assert metrics["vgrf_peak1_mae"] == pytest.approx(sum(abs(e) for e in scored) / len(scored), rel=1e-6)
    board = read_csv(full_run / "leaderboard.csv")
    assert any(r["metric"] == "vgrf_peak1_mae" and r["model"] == "tcn" for r in board)  # a secondary column
    primary = {r["metric"] for r in board if r["is_primary"] == "True"}
    assert primary == {"r_vertical"}  # the primary metric does not change
    main = (full_run / "leaderboard.md").read_text()
    clinical = (full_run / "leaderboard_clinical.md").read_text()
    assert "vgrf_peak1" not in main and "vgrf_peak1 (BW)" in clinical and "Bland-Altman" in clinical
    assert (full_run / "plots" / "imu2grf_bland_altman.png").exists()


def test_robustness_retests_trained_cells_under_every_perturbation_without_retraining(full_run, suite_file, capsys):
    checkpoint = full_run / "cells" / "imu2grf__tcn__fold0__seed0" / "checkpoints" / "best.ckpt"
    trained = checkpoint.stat().st_mtime_ns
    assert bench_main([str(suite_file), "--out", str(full_run), "--robustness"]) == 0
    out = capsys.readouterr().out
    assert "0 to run" in out and "[robustness 4/4]" in out  # tcn and ridge, 2 folds; the oracle is not re-tested
    assert checkpoint.stat().st_mtime_ns == trained  # re-tested, not retrained
    record = json.loads((full_run / "cells" / "imu2grf__tcn__fold0__seed0" / "robustness.json").read_text())
    assert record["status"] == "ok" and record["metric"] == "r_vertical"
    metrics = json.loads((full_run / "cells" / "imu2grf__tcn__fold0__seed0" / "metrics.json").read_text())
    assert record["clean"] == pytest.approx(metrics["metrics"]["r_vertical"], rel=1e-6)
    names = {(p["perturbation"], p["severity"]) for p in record["perturbed"]}
    assert {("imu_rotation", 20.0), ("imu_noise", 4.0), ("imu_sample_rate", 60.0), ("imu_time_offset", 30.0),
            ("imu_drop", "PELVIS")} <= names
    dropped = {p["severity"] for p in record["perturbed"] if p["perturbation"] == "imu_drop"}
    assert dropped == {"TRUNK", "PELVIS", "R_THIGH", "L_THIGH", "R_SHANK", "L_SHANK", "R_FOOT", "L_FOOT"}
    rows = read_csv(full_run / "robustness.csv")
    assert {r["model"] for r in rows} == {"tcn", "ridge"} and len(rows) == 4 * (1 + len(record["perturbed"]))
    assert "worst change" in (full_run / "robustness.md").read_text()
    assert (full_run / "plots" / "imu2grf_robustness.png").exists()
    assert bench_main([str(suite_file), "--out", str(full_run), "--robustness"]) == 0
    assert "[robustness" not in capsys.readouterr().out  # a rerun skips cells already re-tested


def test_a_perturbed_test_set_is_reproducible_and_differs_from_the_clean_one(tmp_path):
    import torch

    from datamodules.datamodule import GaitDataModule

    data = make_fake_recording(tmp_path / "f.h5", n_subjects=4, seconds=6.0)
    dm = GaitDataModule(str(data), task="imu2grf", n_folds=2, batch_size=64)
    clean = next(iter(dm.test_dataloader()))["x"]
    a = next(iter(dm.perturbed_test_dataloader("imu_rotation", 10.0, seed=3)))["x"]
    b = next(iter(dm.perturbed_test_dataloader("imu_rotation", 10.0, seed=3)))["x"]
    assert torch.equal(a, b) and not torch.allclose(a, clean)
    with pytest.raises(ValueError, match="perturbation 'landmark_drop' perturbs landmarks inputs; task 'imu2grf'"):
        dm.perturbed_test_dataloader("landmark_drop", 1)
    augmented = GaitDataModule(str(data), task="imu2grf", n_folds=2, batch_size=64, augment=1.0)
    first, second = (next(iter(augmented.train_dataloader()))["x"] for _ in range(2))
    assert not torch.equal(first, second)  # drawn anew at every read
    assert torch.equal(next(iter(augmented.test_dataloader()))["x"], clean)  # evaluation stays clean
    with pytest.raises(ValueError, match=r"augment: expected a share of training samples in \[0, 1\], found 2"):
        GaitDataModule(str(data), task="imu2grf", n_folds=2, augment=2)
