"""`zoo tune` end to end on tiny data: pruning, the best configuration reproduced by `zoo fit`, resume, two
workers sharing one storage, and a search that never touches the test subjects of the fold."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from datamodules.datamodule import GaitDataModule
from datamodules.tasks import get_task
from zoo.cli import main as zoo_main
from zoo.errors import ZooError
from zoo.tune.space import load_space_file, parse_space

from fake_recordings import make_fake_recording
from wandb_files import logged_table, offline_runs

optuna = pytest.importorskip("optuna")

# A space where some trials are clearly bad: learning rates down to 1e-6 barely move the network in 4 epochs.
SPACE = {"lr": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
         "hidden": {"type": "categorical", "choices": [16, 32]}}
N_TRIALS, MAX_EPOCHS = 6, 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tune")
    space = root / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    return {"root": root, "data": make_fake_recording(root / "tiny.h5", n_subjects=6, seconds=6.0), "space": space}


def base_args(tiny: dict[str, Path]) -> list[str]:
    return ["--model", "tcn", "--data.path", str(tiny["data"]), "--data.task", "imu2grf", "--data.n_folds", "3",
            "--data.batch_size", "16", "--trainer.max_epochs", str(MAX_EPOCHS), "--trainer.limit_train_batches", "3",
            "--threads", "1", "--space", str(tiny["space"]), "--startup-trials", "2", "--no-wandb"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def study(tiny):
    """A 6-trial study, run in this process while every sample any trial loads is recorded."""
    out = tiny["root"] / "study"
    task = get_task("imu2grf")
    seen_subjects, loaders = set(), []
    original_load, original_loader = task.load, GaitDataModule._loader
    threads = torch.get_num_threads()

    def spy_load(self, row, *args, **kwargs):
        seen_subjects.add(int(row["subject"]))
        return original_load(self, row, *args, **kwargs)

    def spy_loader(self, name, shuffle):
        loaders.append(name)
        return original_loader(self, name, shuffle)

    mp = pytest.MonkeyPatch()
    mp.setattr(task, "load", spy_load)
    mp.setattr(GaitDataModule, "_loader", spy_loader)
    try:
        code = zoo_main(["tune", *base_args(tiny), "--n-trials", str(N_TRIALS), "--out", str(out)])
    finally:
        mp.undo()
        torch.set_num_threads(threads)
    assert code == 0
    return {"out": out, "seen": seen_subjects, "loaders": loaders}


def test_a_six_trial_study_prunes_bad_trials_early_and_writes_its_outputs(study):
    out = study["out"]
    rows = read_csv(out / "trials.csv")
    assert [int(r["number"]) for r in rows] == list(range(N_TRIALS))
    pruned = [r for r in rows if r["state"] == "pruned"]
    complete = [r for r in rows if r["state"] == "complete"]
    assert pruned and complete, [r["state"] for r in rows]
    assert all(int(r["epochs"]) < MAX_EPOCHS for r in pruned)  # stopped early, not merely labelled
    assert all(int(r["epochs"]) == MAX_EPOCHS for r in complete)
    values = {int(r["number"]): float(r["val/r_vertical"]) for r in complete}
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert summary["best"]["trial"] == max(values, key=values.get)
    assert summary["best"]["value"] == pytest.approx(max(values.values()))
    assert summary["trials"]["pruned"] == len(pruned) and summary["trials"]["complete"] == len(complete)
    for name in ("optimization_history", "intermediate_values", "param_importances"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000, name
    assert set(summary["importance"]) == set(SPACE)
    # only the best trial keeps a checkpoint; best.ckpt is its copy
    kept = sorted(p.parent.parent.name for p in (out / "trials").glob("*/checkpoints/*.ckpt"))
    assert kept == [f"{summary['best']['trial']:04d}"]
    assert (out / "best.ckpt").is_file()


def test_the_search_never_loads_a_test_subject(study, tiny):
    dm = GaitDataModule(str(tiny["data"]), "imu2grf", n_folds=3, batch_size=16)
    dm.setup()
    index = {sid: i for i, sid in enumerate(dm.subject_ids)}
    test = {index[s] for s in dm.split.test_subjects}
    val = {index[s] for s in dm.split.val_subjects}
    assert test and val
    assert not study["seen"] & test, "a trial loaded samples of the fold's test subjects"
    assert val <= study["seen"]
    assert set(study["loaders"]) == {"train", "val"}  # the test dataloader was never built


def test_zoo_fit_on_best_yaml_reproduces_the_best_trial(study, tmp_path):
    out = study["out"]
    best = yaml.safe_load((out / "summary.json").read_text())["best"]
    config = yaml.safe_load((out / "best.yaml").read_text())
    assert config["model"]["init_args"]["lr"] == pytest.approx(best["params"]["lr"])
    assert config["data"]["fold"] == 0 and config["checkpoint"]["monitor"] == "val/r_vertical"
    threads = torch.get_num_threads()
    try:
        assert zoo_main(["fit", "--config", str(out / "best.yaml"), f"--trainer.default_root_dir={tmp_path}",
                         f"--checkpoint.dirpath={tmp_path / 'ckpt'}", "--trainer.enable_progress_bar=false"]) == 0
    finally:
        torch.set_num_threads(threads)
    refit = torch.load(tmp_path / "ckpt" / "best.ckpt", map_location="cpu", weights_only=False)
    tuned = torch.load(out / "best.ckpt", map_location="cpu", weights_only=False)
    score = [v["best_model_score"] for k, v in refit["callbacks"].items() if k.startswith("ModelCheckpoint")][0]
    assert float(score) == pytest.approx(best["value"], abs=1e-5)
    assert refit["epoch"] == tuned["epoch"]


def test_resume_continues_the_study_as_w_and_b_runs_and_a_rerun_without_it_refuses(study, tiny, capsys,
                                                                                    monkeypatch):
    out = study["out"]
    assert zoo_main(["tune", *base_args(tiny), "--n-trials", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("WANDB_MODE", "offline")
    threads = torch.get_num_threads()
    try:  # no configuration given: the one stored with the study; W&B on (offline)
        assert zoo_main(["tune", "--resume", "--out", str(out), "--n-trials", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    rows = read_csv(out / "trials.csv")
    assert [int(r["number"]) for r in rows] == list(range(N_TRIALS + 1))
    runs = offline_runs(out)
    name = "tcn-imu2grf-fold0"
    assert sorted(runs.values()) == [(name, "tune"), (name, "tune-summary")]
    [summary_id] = [k for k, v in runs.items() if v[1] == "tune-summary"]
    [summary_dir] = (out / "wandb" / "wandb").glob(f"offline-run-*-{summary_id}")
    images = sorted(p.name.split("_")[0] for p in summary_dir.glob("files/media/images/plots/*.png"))
    assert images == ["intermediate", "optimization", "param"], images
    assert len(logged_table(out, summary_id, "trials")["data"]) == N_TRIALS + 1


def test_two_workers_share_one_storage_without_duplicate_trials(tiny, tmp_path):
    storage = tmp_path / "shared.journal"
    workers = [subprocess.Popen([sys.executable, "-m", "zoo.cli", "tune", *base_args(tiny), "--n-trials", "2",
                                 "--storage", str(storage), "--study-name", "shared", "--resume", "--seed", str(i),
                                 "--out", str(tmp_path / f"worker{i}")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    trials = optuna.load_study(study_name="shared", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(storage)))).trials
    numbers = [t.number for t in trials]
    assert sorted(numbers) == [0, 1, 2, 3]  # unique, and as many as both workers ran
    folders = [{p.name for p in (tmp_path / f"worker{i}" / "trials").iterdir()} for i in range(2)]
    assert len(folders[0]) == len(folders[1]) == 2 and not folders[0] & folders[1]


def test_every_model_declares_a_valid_space_and_bad_spaces_or_trainers_name_the_problem(tmp_path):
    from zoo.registry import get_model_class, list_models
    from zoo.tune.cli import one_device
    from zoo.tune.space import check_names, model_space

    for name in list_models():
        cls = get_model_class(name)
        space = model_space(cls)
        check_names(space, cls, name)
        assert bool(space) == (name not in ("ridge", "mean")), name  # closed forms have nothing to tune
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: {type: float, low: 0.0, high: 0.1, log: true}\n")
    with pytest.raises(ZooError, match=r"bad.yaml: lr: log: expected low > 0 on a log scale, found low=0.0"):
        load_space_file(bad)
    with pytest.raises(ZooError, match=r"x: hidden: missing: high"):
        parse_space({"hidden": {"type": "int", "low": 1}}, "x")
    with pytest.raises(ZooError, match=r"expected an argument of model .tcn. \(.*\), found .hiden."):
        check_names(parse_space({"hiden": {"type": "int", "low": 1, "high": 4}}, "x"), get_model_class("tcn"), "x")
    assert one_device({"devices": "auto", "strategy": "auto"})["devices"] == 1  # never an implicit DDP
    with pytest.raises(ZooError, match=r"trainer: expected one process per trial .* found strategy 'ddp', devices 2"):
        one_device({"devices": 2, "strategy": "ddp"})


def test_with_fewer_than_two_completed_trials_the_summary_says_why_there_are_no_importances(tmp_path, capsys):
    from zoo.tune.report import write_outputs
    from zoo.tune.study import TuneSetup

    space = parse_space(SPACE, "test")
    setup = TuneSetup(name="one", study_dir=tmp_path, base_config={"data": {"fold": 0}}, space=space, metric="val/r_vertical",
                      direction="maximize", model_name="tcn", task="imu2grf")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-6, 1e-2, log=True), n_trials=1)

    def pruned(trial):
        trial.suggest_float("lr", 1e-6, 1e-2, log=True)
        trial.report(0.1, step=0)
        raise optuna.TrialPruned()

    study.optimize(pruned, n_trials=2)
    summary = write_outputs(study, setup, sys.stdout)
    assert summary["importance"] is None and summary["trials"]["complete"] == 1
    note = "no parameter importances: they need at least 2 completed trials, found 1"
    assert summary["importance_note"] == note and note in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == ["intermediate_values.png",
                                                                          "optimization_history.png"]
