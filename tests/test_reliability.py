"""Runner and command-line reliability (issue 13): W&B is not part of a cell's identity, merges refuse foreign
folders and carry W&B runs, one runner per folder, workers die with their runner, failures exit non-zero,
bad values and NaN data get one-line messages, result files get normal permissions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from zoo.bench.runner import main as bench_main
from zoo.bench.suite import SuiteError, load_suite
from zoo.cli import main as zoo_main

from fake_recordings import make_fake_recording
from wandb_files import logged_table, offline_runs

REPORTS = ("results.csv", "leaderboard.csv", "leaderboard.md")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    return make_fake_recording(tmp_path_factory.mktemp("data") / "tiny.h5", n_subjects=4, seconds=6.0)


def write_suite(path: Path, **changes) -> Path:
    """A 4-cell suite (ridge and the noise floor, 2 folds) whose file asks for W&B, as most suites do."""
    suite = {
        "name": "wb-suite", "dataset": str(changes.pop("dataset")), "folds": 2, "seeds": [0], "oracle": True,
        "data": {"batch_size": 16, "stats_samples": 100}, "trainer": {"max_epochs": 1},
        "wandb": {"project": "zoo-test"},
        "tasks": {"imu2grf": {"models": ["ridge"]}},
        **changes,
    }
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.fixture(scope="module")
def suite_file(data_file, tmp_path_factory) -> Path:
    return write_suite(tmp_path_factory.mktemp("suite") / "suite.yaml", dataset=data_file)


@pytest.fixture(scope="module")
def plain_run(suite_file, tmp_path_factory) -> Path:
    """The unsharded run with --no-wandb: the reference."""
    out = tmp_path_factory.mktemp("plain") / "out"
    assert bench_main([str(suite_file), "--out", str(out), "--no-wandb"]) == 0
    return out


def same_reports(a: Path, b: Path) -> None:
    for name in REPORTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert sorted(p.name for p in (a / "plots").glob("*.png")) == sorted(p.name for p in (b / "plots").glob("*.png"))


# -- 1. identity, merge, W&B ---------------------------------------------------------------------------------
def test_wandb_settings_are_not_part_of_a_cells_identity(suite_file):
    on = load_suite(suite_file)
    off = load_suite(suite_file)
    off.wandb = None
    assert [c.fingerprint for c in on.cells()] == [c.fingerprint for c in off.cells()]
    changed = load_suite(suite_file)
    changed.trainer = {"max_epochs": 2}
    assert all(a.fingerprint != b.fingerprint for a, b in zip(on.cells(), changed.cells()))


def test_merge_of_no_wandb_shards_gives_the_unsharded_files(plain_run, suite_file, tmp_path, capsys):
    shards = [tmp_path / "s0", tmp_path / "s1"]
    for i, d in enumerate(shards):
        assert bench_main([str(suite_file), "--out", str(d), "--shard", f"{i}/2", "--no-wandb"]) == 0
    merged = tmp_path / "merged"
    capsys.readouterr()
    assert bench_main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    assert "merged 4 cells from 2 folders" in capsys.readouterr().out
    same_reports(merged, plain_run)
    assert (plain_run / "leaderboard.md").read_text().count("| ridge |") == 1


def test_rerun_with_wandb_on_reuses_every_cell_and_mirrors_them(plain_run, suite_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    shutil.copytree(plain_run, out)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/metrics.json")}
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # anything W&B writes outside the output folder shows here
    assert bench_main([str(suite_file), "--out", str(out)]) == 0
    assert "4 already finished, 0 to run" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("cells/*/metrics.json")}  # nothing retrained
    same_reports(out, plain_run)
    runs = offline_runs(out)
    mirrored = {json.loads(p.read_text())["run_id"] for p in out.glob("cells/*/wandb.json")}
    assert len(mirrored) == 4 and {runs[i] for i in mirrored} == {("wb-suite", "imu2grf")}
    [summary] = [i for i, meta in runs.items() if meta == ("wb-suite", "summary")]
    table = logged_table(out, summary, "leaderboard")
    columns = table["columns"]
    for row in table["data"]:
        values = dict(zip(columns, row))
        assert isinstance(values["mean"], float) and isinstance(values["n"], int)
        assert isinstance(values["label_fraction"], float)
        # counts and signed biases have no better direction: empty, never a string
        assert isinstance(values["higher_is_better"], bool) or values["higher_is_better"] is None
        assert isinstance(values["is_primary"], bool)
        if values["is_primary"]:
            assert isinstance(values["higher_is_better"], bool)
        assert values["n"] == 2 and isinstance(values["sd"], float)
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*wandb*"))


def test_merge_carries_the_shards_wandb_runs_and_makes_one_summary_run(plain_run, suite_file, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    shards = [tmp_path / "s0", tmp_path / "s1"]
    for i, d in enumerate(shards):
        assert bench_main([str(suite_file), "--out", str(d), "--shard", f"{i}/2"]) == 0
    cell_runs = {}
    for d in shards:
        assert ("wb-suite", "summary") not in offline_runs(d).values()  # a shard makes no summary run
        for record in (json.loads(p.read_text()) for p in d.glob("cells/*/metrics.json")):
            cell_runs[record["wandb_run_id"]] = record["key"]
    assert len(cell_runs) == 4
    merged = tmp_path / "merged"
    assert bench_main(["merge", *map(str, shards), "--out", str(merged)]) == 0
    runs = offline_runs(merged)
    assert {i for i, meta in runs.items() if meta == ("wb-suite", "imu2grf")} == set(cell_runs)
    assert list(runs.values()).count(("wb-suite", "summary")) == 1
    same_reports(merged, plain_run)


def test_merge_refuses_folders_of_another_suite_or_configuration(plain_run, tmp_path, data_file):
    other = tmp_path / "other"
    shutil.copytree(plain_run, other)
    manifest = json.loads((other / "run.json").read_text())
    manifest.update(suite="another-suite", suite_id="0123456789ab")
    (other / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(SuiteError, match=r"other: holds results of suite 'another-suite' \(id 0123456789ab"):
        bench_main(["merge", str(plain_run), str(other), "--out", str(tmp_path / "m1")])
    assert not (tmp_path / "m1" / "cells").exists()
    stale = tmp_path / "stale"
    shutil.copytree(plain_run, stale)
    (stale / "run.json").unlink()  # a folder from before manifests: its records are still checked
    record_path = next(stale.glob("cells/*ridge*/metrics.json"))
    record = json.loads(record_path.read_text())
    record["fingerprint"] = "ffffffffffff"
    record_path.write_text(json.dumps(record))
    with pytest.raises(SuiteError, match=r"a result of another configuration of this cell \(fingerprint ffffffffffff"):
        bench_main(["merge", str(stale), "--out", str(tmp_path / "m2")])


def test_merge_exits_1_naming_the_cells_without_a_result(plain_run, tmp_path, capsys):
    part = tmp_path / "part"
    shutil.copytree(plain_run, part)
    shutil.rmtree(next(part.glob("cells/*noise-floor__fold1*")))
    assert bench_main(["merge", str(part), "--out", str(tmp_path / "m")]) == 1
    assert "1 of the suite's 4 cells have no result yet: imu2grf__noise-floor__fold1__seed0" in capsys.readouterr().err


# -- 2. locks and workers --------------------------------------------------------------------------------------
HOLD_LOCK = textwrap.dedent("""
    import fcntl, os, sys, time
    fh = open(sys.argv[1], "a+")
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    fh.write(f"{os.getpid()}\\n"); fh.flush()
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_second_runner_is_stopped_naming_the_holder_and_a_killed_holders_lock_is_taken_over(suite_file, tmp_path,
                                                                                                capsys):
    from zoo.bench.lock import LOCK_NAME, FolderBusy, FolderLock

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out / LOCK_NAME)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert zoo_main(["bench", str(suite_file), "--out", str(out), "--no-wandb"]) == 2
        err = capsys.readouterr().err
        assert f"another zoo bench (PID {holder.pid}) is working in this folder" in err
        assert not (out / "cells").exists()  # nothing ran
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with FolderLock(out) as lock:  # the kernel released the dead holder's lock: taken over at once
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
        with pytest.raises(FolderBusy, match=f"PID {os.getpid()}"):
            FolderLock(out).acquire()
    assert lock._fh is None


ORPHAN_PARENT = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
        "import os, sys, time; from zoo.bench.lock import die_with_parent; "
        "print(die_with_parent(int(sys.argv[1])), flush=True); time.sleep(120)", sys.argv[1]])
    print(child.pid, flush=True)
    time.sleep(120)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_busy_worker_dies_with_its_parent(tmp_path):
    """The worker is not reading its pipe (as when it trains): only the parent-death signal can end it."""
    from benchmarks.chaos import alive

    parent = subprocess.Popen([sys.executable, "-c", "import os, sys; sys.argv.append(str(os.getpid())); "
                               f"exec({ORPHAN_PARENT!r})"], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "prctl"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 5
    while alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(child)


# -- 3. exit codes and checks before the first cell ----------------------------------------------------------
def test_a_suite_naming_an_unsupported_model_task_pair_fails_before_any_cell(tmp_path, data_file, capsys):
    suite = write_suite(tmp_path / "s.yaml", dataset=data_file, tasks={"imu2grf": {"models": ["ridge", "cbam_unet"]}})
    out = tmp_path / "out"
    assert zoo_main(["bench", str(suite), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"zoo bench: error: {suite}: tasks.imu2grf.models[1].name: expected a model that supports "
                          "task 'imu2grf' (")
    assert "found 'cbam_unet'" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_every_problem_the_data_or_configuration_holds_is_listed_before_any_cell(tmp_path, capsys):
    no_grf = make_fake_recording(tmp_path / "no_grf.h5", n_subjects=3, seconds=4.0, grf=False)
    suite = write_suite(tmp_path / "s.yaml", dataset=no_grf, folds=4, oracle=False,
                        tasks={"imu2grf": {"models": [{"name": "tcn", "overrides": {"hiden": 3}}]},
                               "insole2pose": {"models": ["insole_pose_cnn"]}})
    out = tmp_path / "out"
    assert zoo_main(["bench", str(suite), "--out", str(out), "--no-wandb"]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s) found before running any cell" in err
    assert "imu2grf / tcn:" in err and "hiden" in err  # the parser `zoo fit` uses rejects the unknown key
    assert f"imu2grf / tcn: {no_grf}: task 'imu2grf' needs" in err and "grf/right" in err
    assert (f"insole2pose / insole_pose_cnn: folds: expected at most 3 (subjects of {no_grf} with data for task "
            "'insole2pose'), found 4") in err
    assert not (out / "cells").exists()


def nan_recording(path: Path) -> Path:
    """4 subjects; subject S02's IMU channel 5 holds NaN from sample 40 on in both trials."""
    make_fake_recording(path, n_subjects=4, seconds=6.0)
    with h5py.File(path, "r+") as f:
        for trial in ("T01", "T02"):
            f[f"/subjects/S02/trials/{trial}/imu"][40:, 5] = np.nan
    return path


def test_a_suite_whose_cells_all_fail_exits_1_listing_each_with_its_error(tmp_path, capsys):
    data = nan_recording(tmp_path / "nan.h5")
    suite = write_suite(tmp_path / "s.yaml", dataset=data, oracle=False, wandb=False)
    assert zoo_main(["bench", str(suite), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "0 cells ok, 2 failed" in captured.out
    err = captured.err
    assert "2 cell(s) failed:" in err
    lines = {line.split(":", 1)[0].strip(): line for line in err.splitlines() if line.startswith("  imu2grf")}
    assert set(lines) == {"imu2grf__ridge__fold0__seed0", "imu2grf__ridge__fold1__seed0"}
    from datamodules.naming import IMU_CHANNELS_48  # the fake file's channel order

    # 2 folds of 4 subjects: S02 validates fold 0 and is tested in fold 1 (it never trains, so the statistics
    # are finite and the NaN surfaces as a loss)
    assert "NonFiniteLossError: val loss is nan (non-finite) in a batch of 16 samples from S02/T01" in \
        lines["imu2grf__ridge__fold0__seed0"]
    assert "NonFiniteLossError: test loss is nan (non-finite) in a batch of 16 samples from S02/T01" in \
        lines["imu2grf__ridge__fold1__seed0"]
    for line in lines.values():
        assert (f"its inputs or targets are not finite: {data}: /subjects/S02/trials/T01/imu holds 88 NaN and 0 Inf "
                f"in samples 0..127 (first at sample 40, channel {IMU_CHANNELS_48[5]})") in line


# -- 4. values -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "value", "message"), [
    ("batch_size", 0, "batch_size: expected an integer >= 1, found 0"),
    ("batch_size", -4, "batch_size: expected an integer >= 1, found -4"),
    ("n_folds", 1, "n_folds: expected an integer >= 2, found 1"),
    ("fold", 5, r"fold: expected 0..4 \(n_folds is 5\), found 5"),
    ("label_fraction", 0.0, r"label_fraction: expected a number in \(0, 1\], found 0.0"),
    ("label_fraction", 1.5, r"label_fraction: expected a number in \(0, 1\], found 1.5"),
    ("window", 0, "window: expected an integer >= 2, found 0"),
    ("window_stride", 0, "window_stride: expected an integer >= 1 or null, found 0"),
    ("stance_length", 1, "stance_length: expected an integer >= 2, found 1"),
    ("num_workers", -1, "num_workers: expected an integer >= 0, found -1"),
    ("val_subjects", -1, r"val_subjects: expected 0 \(no validation set\), a fraction in \(0, 1\) or a count >= 1 "
                         r"\(subjects, trials or blocks, as the split counts\), found -1"),
    ("cache", "yes", "cache: expected true, false or 'auto', found 'yes'"),
])
def test_datamodule_values_are_checked_with_one_line_naming_the_option(option, value, message):
    from datamodules.datamodule import GaitDataModule
    from datamodules.errors import DataError

    with pytest.raises(DataError, match=f"^{message}$"):
        GaitDataModule("no-such-file.h5", task="imu2grf", **{option: value})  # checked before the file is opened


@pytest.mark.parametrize(("option", "value", "message"), [
    ("lr", 0.0, "lr: expected a positive number, found 0.0"),
    ("lr", float("nan"), "lr: expected a positive number, found nan"),
    ("weight_decay", -0.1, "weight_decay: expected a number >= 0, found -0.1"),
    ("betas", (0.9, 1.5), r"betas: expected two numbers in \[0, 1\), found \(0.9, 1.5\)"),
    ("warmup_fraction", 2.0, r"warmup_fraction: expected a number in \[0, 1\], found 2.0"),
    ("step_size", 0, "step_size: expected an integer >= 1, found 0"),
    ("optimizer", "adamax", r"optimizer: expected one of \['adam', 'adamw', 'sgd'\], found 'adamax'"),
])
def test_model_values_are_checked_with_one_line_naming_the_option(option, value, message):
    from zoo import create_model
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match=f"^model 'tcn': {message}$"):
        create_model("tcn", task="imu2grf", **{option: value})


@pytest.mark.parametrize(("argv", "message"), [
    (["--data.batch_size", "0"], "data.batch_size: expected an integer >= 1, found 0"),
    (["--data.label_fraction", "2"], r"data.label_fraction: expected a number in (0, 1], found 2.0"),
    (["--model.init_args.lr", "-1"], "model 'tcn': lr: expected a positive number, found -1.0"),
    (["--trainer.max_epochs", "0"], "trainer.max_epochs: expected an integer >= 1, or -1 (no limit, with max_steps), "
                                    "found 0"),
    (["--threads", "0"], "threads: expected an integer >= 1, found 0"),
])
def test_zoo_fit_rejects_bad_values_in_one_line(data_file, argv, message, capsys):
    code = zoo_main(["fit", "--model", "tcn", "--data.path", str(data_file), "--data.task", "imu2grf", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"zoo fit: error: {message}"


@pytest.mark.parametrize(("changes", "message"), [
    ({"data": {"batch_size": 0}}, "data.batch_size: expected an integer >= 1, found 0"),
    ({"tasks": {"imu2grf": {"data": {"window": 1}, "models": ["ridge"]}}},
     "tasks.imu2grf.data.window: expected an integer >= 2, found 1"),
    ({"tasks": {"imu2grf": {"models": [{"name": "tcn", "overrides": {"lr": -0.1}}]}}},
     r"tasks.imu2grf.models\[0\].overrides: model 'tcn': lr: expected a positive number, found -0.1"),
    ({"tasks": {"imu2grf": {"models": [{"name": "tcn", "preset": "huge"}]}}},
     r"tasks.imu2grf.models\[0\].preset: expected a preset of 'tcn' \(small, paper\), found 'huge'"),
    ({"trainer": {"max_epochs": 0}}, r"trainer.max_epochs: expected an integer >= 1, or -1"),
    ({"seeds": [0, 0]}, r"seeds: expected no repeated values"),
    ({"label_fractions": [0.5, 0]}, r"label_fractions: expected a non-empty list of numbers in \(0, 1\]"),
    ({"threads": 0}, "threads: expected an integer >= 1"),
    ({"cell_timeout_s": -5}, "cell_timeout_s: expected a number of seconds > 0 or null, found -5"),
    ({"wandb": {"mode": "cloud"}}, "wandb.mode: expected one of 'online', 'offline', 'disabled', found 'cloud'"),
])
def test_suite_values_are_checked_naming_file_and_field(tmp_path, data_file, changes, message):
    suite = write_suite(tmp_path / "s.yaml", dataset=data_file, **changes)
    with pytest.raises(SuiteError, match=f"^{suite}: {message}"):
        load_suite(suite)


def test_zoo_bench_rejects_a_non_positive_jobs_count_and_a_bad_shard(suite_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench_main([str(suite_file), "--jobs", "0"])
    assert "argument --jobs: expected an integer >= 1, found '0'" in capsys.readouterr().err
    assert zoo_main(["bench", str(suite_file), "--shard", "2/2", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "zoo bench: error: --shard: expected 0 <= i < n, found '2/2'"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("rate", ["0", "-5", "nan", "inf"])
def test_zoo_data_import_rejects_a_resample_rate_that_is_not_positive(tmp_path, rate, capsys):
    with pytest.raises(SystemExit):
        zoo_main(["data", "import", str(tmp_path), "--out", str(tmp_path / "x.h5"), f"--resample-hz={rate}"])
    assert f"argument --resample-hz: expected a rate in Hz > 0, found '{rate}'" in capsys.readouterr().err


# -- NaN data and non-finite losses ----------------------------------------------------------------------------
def test_nan_in_training_data_is_named_before_training(tmp_path):
    from datamodules.datamodule import GaitDataModule
    from datamodules.errors import DataError
    from datamodules.naming import IMU_CHANNELS_48

    data = nan_recording(tmp_path / "nan.h5")
    dm = GaitDataModule(str(data), task="imu2grf", n_folds=4, fold=0, batch_size=8, stats_samples=10_000)  # S02 trains
    with pytest.raises(DataError) as info:
        dm.setup()
    message = str(info.value)
    # the first training window, samples 0..127, holds samples 40..127 of one channel: 88 NaN
    assert message == (f"{data}: /subjects/S02/trials/T01/imu holds 88 NaN and 0 Inf in samples 0..127 (first at "
                       f"sample 40, channel {IMU_CHANNELS_48[5]}), so the normalisation statistics (x_mean, x_std) of "
                       f"task 'imu2grf' are not finite; `zoo data validate {data}` lists every such place")


def test_a_non_finite_loss_names_the_batch_and_says_whether_the_data_or_the_model(tmp_path):
    import torch

    from zoo import create_model

    model = create_model("tcn", task="imu2grf")
    batch = {"x": torch.zeros(2, 48, 128), "y": torch.zeros(2, 3, 128), "subject": torch.tensor([3, 1])}
    message = model.non_finite_message(torch.tensor(float("inf")), batch, "train")
    assert message == ("train loss is inf (non-finite) in a batch of subjects [1, 3]; its inputs and targets are "
                       "finite, so the model diverged (try a lower lr or gradient clipping)")
    batch["x"][1, 4, 7] = float("nan")
    message = model.non_finite_message(torch.tensor(float("nan")), batch, "val")
    assert message.endswith("; 1 of its samples hold NaN or Inf in their inputs or targets")


# -- 6. small things ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_result_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    from zoo.bench.io import write_atomic, write_json_atomic

    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.csv", "x\n")
        write_json_atomic(tmp_path / "b.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == mode
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == mode
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_runs_result_files_get_the_umasks_mode(plain_run):
    umask = os.umask(0)
    os.umask(umask)
    files = [*(plain_run / n for n in (*REPORTS, "run.json")), *plain_run.glob("cells/*/metrics.json"),
             *plain_run.glob("cells/*/config.yaml")]
    assert len(files) == 12
    assert {path.stat().st_mode & 0o777 for path in files} == {0o666 & ~umask}


def test_leaderboard_headers_carry_units_as_the_readme_renders_them(plain_run):
    from zoo.bench.results import metric_header

    header = next(line for line in (plain_run / "leaderboard.md").read_text().splitlines() if line.startswith("| model"))
    assert "| r_vertical ↑ |" in header and "| rmse_vertical (BW) ↓ |" in header and "| rrmse_vertical (%) ↓ |" in header
    assert metric_header("imu2pressure", "mse") == "mse ((N/cm²)²) ↓"
    assert metric_header("imu2pressure", "rmse") == "rmse (N/cm²) ↓"


def test_wandb_table_rows_keep_numbers_numeric_and_leave_undefined_values_empty():
    from zoo.bench.summary_run import table_rows

    rows = [{"task": "imu2grf", "model": "ridge", "metric": "r_vertical", "mean": "0.5", "sd": "nan", "n": 1,
             "higher_is_better": True, "is_primary": True, "label_fraction": 1.0, "unit": ""}]
    columns, data = table_rows(rows)
    assert dict(zip(columns, data[0])) == {"task": "imu2grf", "model": "ridge", "metric": "r_vertical", "mean": 0.5,
                                           "sd": None, "n": 1, "higher_is_better": True, "is_primary": True,
                                           "label_fraction": 1.0, "unit": ""}
