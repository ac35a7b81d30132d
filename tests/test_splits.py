"""Splits for small studies, through `zoo fit` and the documented `GaitDataModule` API: trial-wise and time-block
folds, two-subject cross-validation without validation data, and leakage between overlapping windows."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from datamodules import GaitDataModule
from datamodules.errors import DataError
from zoo.cli import main

from fake_recordings import make_fake_recording

FAST = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--data.stats_samples=50"]


@pytest.fixture(scope="module")
def one_subject(tmp_path_factory):
    """One subject, three walking trials of 6 s: what a single-person pilot study holds."""
    return make_fake_recording(tmp_path_factory.mktemp("splits") / "one.h5", n_subjects=1,
                               trials=("walk", "walk", "walk"), seconds=6.0, grid=(16, 8))


@pytest.fixture(scope="module")
def two_subjects(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("splits") / "two.h5", n_subjects=2, seconds=6.0,
                               grid=(16, 8))


def rows(dm, split):
    return dm.dataset(split).rows


def gaps_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Samples between each window of `a` and each window of `b` of the same trial (negative: they overlap)."""
    same = a["trial"][:, None] == b["trial"][None, :]
    gap = np.maximum(b["start"][None, :] - a["stop"][:, None], a["start"][:, None] - b["stop"][None, :])
    return gap[same]


def test_one_subject_is_cross_validated_trial_wise_end_to_end(one_subject, tmp_path):
    """`zoo fit --data.split trial` trains on one subject; then the folds tile the trials."""
    root = tmp_path / "runs"
    assert main(["fit", "--model", "tcn", f"--data.path={one_subject}", "--data.task=imu2grf",
                 "--data.split=trial", "--data.n_folds=3", "--data.val_subjects=1",
                 f"--trainer.default_root_dir={root}", *FAST]) == 0
    ckpt = next(root.rglob("best-*.ckpt"))
    assert main(["test", "--model", "tcn", f"--data.path={one_subject}", "--data.task=imu2grf",
                 "--data.split=trial", "--data.n_folds=3", "--data.val_subjects=1", f"--ckpt_path={ckpt}",
                 f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false",
                 "--data.stats_samples=50"]) == 0
    tested = []
    for fold in range(3):
        dm = GaitDataModule(str(one_subject), task="imu2grf", split="trial", n_folds=3, fold=fold, val_subjects=1)
        dm.setup()
        trials = {name: set(rows(dm, name)["trial"].tolist()) for name in ("train", "val", "test")}
        assert all(len(t) == 1 for t in trials.values()), trials  # 3 trials: one each
        assert not (trials["train"] & trials["test"] or trials["val"] & trials["test"] or trials["train"] & trials["val"])
        assert dm.split.test_subjects == ("S01",) and dm.split.kind == "trial"
        tested += sorted(trials["test"])
    assert sorted(tested) == [0, 1, 2]  # every trial is tested exactly once over the folds


def test_trial_folds_spread_each_subject_over_the_folds(tmp_path):
    path = make_fake_recording(tmp_path / "three.h5", n_subjects=3, trials=("walk",) * 4, seconds=3.0,
                               grid=(8, 4), keypoints=None)
    for fold in range(2):
        dm = GaitDataModule(str(path), task="imu2grf", split="trial", n_folds=2, fold=fold, val_subjects=0.3)
        dm.setup()
        test_trials = {(int(r["subject"]), int(r["trial"])) for r in rows(dm, "test")}
        # 12 trials into 2 folds: 6 each, 2 of every subject (dealt subject by subject)
        assert len(test_trials) == 6
        assert sorted(np.bincount([s for s, _ in test_trials]).tolist()) == [2, 2, 2]
        assert len(dm.split.test_trials) == 6 and all(re.fullmatch(r"S0\d/T0\d", t) for t in dm.split.test_trials)
        val_trials = {int(t) for t in rows(dm, "val")["trial"]}
        assert len(val_trials) == 2  # round(0.3 * 6) of the non-test trials


@pytest.mark.parametrize("task", ["imu2grf", "imu2pressure"])
def test_block_split_keeps_windows_of_different_splits_a_window_apart(one_subject, task):
    val = 0.5  # half the non-test time: room for windows of 0.64 s (imu2grf) or stances of 0.6 s, and gaps
    covered = []
    for fold in range(3):
        dm = GaitDataModule(str(one_subject), task=task, split="block", n_folds=3, fold=fold, val_subjects=val,
                            window=64, window_stride=16)
        dm.setup()
        parts = {name: rows(dm, name) for name in ("train", "val", "test")}
        assert all(len(p) for p in parts.values()), {k: len(v) for k, v in parts.items()}
        longest = int((dm.samples["stop"] - dm.samples["start"]).max())
        for a, b in itertools.combinations(parts, 2):
            gaps = gaps_between(parts[a], parts[b])
            assert gaps.min() >= longest, (task, fold, a, b, gaps.min(), longest)  # never overlapping, a window apart
        # every test window lies in the fold's third of its trial
        for r in parts["test"]:
            n = dm.task.ctx.trials[int(r["trial"])].n_samples
            assert fold * n / 3 - longest <= r["start"] and r["stop"] <= (fold + 1) * n / 3 + longest
        covered.append(len(parts["test"]))
        assert dm.split.dropped == len(dm.samples) - sum(len(p) for p in parts.values())
    assert min(covered) > 0


def test_random_stance_drops_windows_overlapping_a_held_out_window(one_subject):
    with pytest.warns(UserWarning, match=r"dropped \d+ training/validation windows"):
        dm = GaitDataModule(str(one_subject), task="imu2grf", split="random_stance", n_folds=4,
                            window=64, window_stride=32)
        dm.setup()
    train, val, test = (rows(dm, n) for n in ("train", "val", "test"))
    assert gaps_between(train, test).min() >= 0 and gaps_between(val, test).min() >= 0
    assert gaps_between(train, val).min() >= 0
    assert dm.split.dropped > 0 and len(train) + len(val) + len(test) + dm.split.dropped == len(dm.samples)


def test_two_subjects_without_validation_from_the_cli(two_subjects, tmp_path, capsys):
    """`--data.val_subjects 0` stays 0 (not 0.0 -> 1 subject): ridge fits, says which penalty it used, and the
    checkpoint holds that fit (the last epoch: there is no validation loss to pick a best one)."""
    import torch

    root = tmp_path / "runs"
    with pytest.warns(UserWarning) as caught:
        assert main(["fit", "--model", "ridge", f"--data.path={two_subjects}", "--data.task=imu2grf",
                     "--model.max_features=256", "--data.n_folds=2", "--data.val_subjects", "0", f"--trainer.default_root_dir={root}",
                     "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false", "--data.stats_samples=50"]) == 0
    messages = " ".join(str(w.message) for w in caught)
    used = re.search(r"ridge: no validation data to choose the penalty; used ([0-9.e+-]+)", messages)
    assert used, messages
    assert "checkpoint keeps the last epoch's model" in messages
    ckpt = next(root.rglob("*.ckpt"))
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    assert float(state["penalty"]) == pytest.approx(float(used[1]), rel=1e-3)
    assert float(state["net.coef"].abs().sum()) > 0  # fitted, not the zero-initialised mean model
    dm = GaitDataModule(str(two_subjects), task="imu2grf", n_folds=2, val_subjects=0)
    dm.setup()
    assert len(dm.dataset("val")) == 0 and not dm.has_validation
    assert len(dm.split.train_subjects) == 1 and len(dm.split.test_subjects) == 1


def test_ridge_without_validation_is_fitted_through_the_api(two_subjects):
    """`val_subjects=0` in Python: ridge solves with its default penalty, and predicts more than the mean."""
    import lightning.pytorch as pl
    import torch

    from zoo import create_model

    dm = GaitDataModule(str(two_subjects), task="imu2grf", n_folds=2, val_subjects=0, stats_samples=50)
    model = create_model("ridge", data_spec=dm.data_spec, max_features=256)  # a small Gram matrix: fast
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    with pytest.warns(UserWarning, match="ridge: no validation data to choose the penalty; used"):
        trainer.fit(model, datamodule=dm)
    assert model.fitted and np.isfinite(float(model.penalty))
    batch = next(iter(dm.test_dataloader()))
    with torch.no_grad():
        pred = model.predict_batch(batch)
    mean_model = model.target_mean.expand_as(pred)  # what an unfitted ridge (zero weights) would predict
    assert float((pred - mean_model).abs().mean()) > 0.05 * float(batch["y"].abs().mean())


def test_plateau_scheduler_without_validation_is_refused(two_subjects, tmp_path, capsys):
    assert main(["fit", "--model", "tcn", "--model.scheduler=plateau", f"--data.path={two_subjects}",
                 "--data.task=imu2grf", "--data.n_folds=2", "--data.val_subjects=0",
                 f"--trainer.default_root_dir={tmp_path}", *FAST]) != 0
    assert re.search(r"scheduler 'plateau' steps on val/loss.*missing: validation data", capsys.readouterr().err)


def test_one_subject_subject_split_points_to_trial_and_block(one_subject):
    dm = GaitDataModule(str(one_subject), task="imu2grf", n_folds=2)
    with pytest.raises(DataError, match=r"at least 2 subjects with data.*found 1; use --data.split trial .* "
                                        r"--data.split block"):
        dm.setup()


def test_fit_help_documents_every_split(capsys):
    from datamodules.splits import SPLITS

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name in SPLITS:
        assert f"`{name}`" in help_text, name
    assert "0 keeps no validation set" in help_text and "at least one window apart" in help_text


def test_val_subjects_zero_and_split_names_are_checked_values():
    from datamodules.options import check_data_options

    check_data_options({"val_subjects": 0, "split": "block"})
    with pytest.raises(DataError, match=r"split: expected one of \['subject_kfold', 'trial', 'block', "
                                        r"'random_stance'\], found 'trials'"):
        check_data_options({"split": "trials"})
    with pytest.raises(DataError, match=r"val_subjects: expected 0 \(no validation set\).*found 1.5"):
        check_data_options({"val_subjects": 1.5})


def test_no_trial_of_the_default_activity_lists_the_activities(tmp_path):
    path = make_fake_recording(tmp_path / "run.h5", n_subjects=2, trials=("run", "run", "stairs"), seconds=2.0,
                               grid=(8, 4), keypoints=None)
    with pytest.raises(DataError) as info:
        GaitDataModule(str(path), task="imu2grf")
    message = str(info.value)
    assert "no trial of activities ['walk'] (task 'imu2grf' uses by default)" in message
    assert "missing: trials with activity 'walk'" in message
    assert "found: run (4 trials), stairs (2 trials)" in message
    assert GaitDataModule(str(path), task="imu2grf", activities=["run"]).spec.activities == ("run", "stairs")


def test_missing_data_says_missing_then_found(tmp_path):
    path = make_fake_recording(tmp_path / "no_grf.h5", n_subjects=2, seconds=2.0, grid=(8, 4), grf=False,
                               keypoints=None)
    with pytest.raises(DataError) as info:
        GaitDataModule(str(path), task="imu2grf")
    message = str(info.value)
    missing, found = message.index("missing: grf/right (in 4 trials"), message.index("found in S01/T01: imu (48 ch)")
    assert missing < found and "grf/" not in message[found:]


def test_suites_accept_a_split_and_preflight_counts_its_units(one_subject, tmp_path):
    from zoo.bench.preflight import check_data
    from zoo.bench.suite import SuiteError, load_suite

    def suite(split: str, folds: int):
        path = tmp_path / f"{split}{folds}.yaml"
        path.write_text(f"name: s\ndataset: {one_subject}\nfolds: {folds}\nsplit_seed: 3\nrun_folds: [0]\n"
                        f"data: {{split: {split}, val_subjects: 0}}\ntasks:\n  imu2grf:\n    models: [ridge]\n")
        return load_suite(path)

    loaded = suite("trial", 3)
    assert loaded.data["split"] == "trial" and loaded.split_seed == 3 and loaded.run_folds == [0]
    assert check_data(loaded.cells()) == []
    assert check_data(suite("block", 5).cells()) == []
    assert any("folds: expected at most 3 (trials" in p for p in check_data(suite("trial", 4).cells()))
    assert any("folds: expected at most 1 (subjects" in p for p in check_data(suite("subject_kfold", 2).cells()))
    with pytest.raises(SuiteError, match="data.split: expected one of"):
        suite("trials", 2)


def test_a_suite_cross_validates_one_subject_trial_wise(one_subject, tmp_path):
    """`zoo bench` with `data: {split: trial, val_subjects: 0}`: the cell trains, tests one held-out trial and
    records the split; the leaderboard row stands on that fold alone."""
    import json

    from zoo.bench.runner import main as bench_main

    suite = tmp_path / "small.yaml"
    suite.write_text(f"name: small\ndataset: {one_subject}\nfolds: 3\nrun_folds: [1]\nwandb: false\n"
                     "data: {split: trial, val_subjects: 0, stats_samples: 50}\ntrainer: {max_epochs: 1}\n"
                     "tasks:\n  imu2grf:\n    models:\n      - {name: ridge, overrides: {max_features: 256}}\n")
    out = tmp_path / "out"
    assert bench_main([str(suite), "--out", str(out)]) == 0
    (record_file,) = (out / "cells").glob("*/metrics.json")
    record = json.loads(record_file.read_text())
    assert record["status"] == "ok", record.get("error")
    assert record["split"] == "trial" and record["n_val"] == 0 and len(record["test_trials"]) == 1
    assert record["test_subjects"] == ["S01"] and np.isfinite(record["metrics"]["r_vertical"])
