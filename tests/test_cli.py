"""The `zoo` command end to end on tiny data: list, fit/test through LightningCLI, configs, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from zoo.cli import main

from fake_recordings import make_fake_recording

ROOT = Path(__file__).resolve().parents[1]
ZOO = [sys.executable, "-m", "zoo.cli"]
FAST = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
        "--trainer.limit_test_batches=2", "--trainer.enable_progress_bar=false", "--data.stats_samples=50"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("cli") / "tiny.h5", n_subjects=4, seconds=6.0, grid=(16, 8))


def zoo(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*ZOO, *args], capture_output=True, text=True, cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_list_shows_every_model_with_tasks_and_sizes(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, task in (("cnn_bilstm_attention", "imu2pressure"), ("ssl_transformer", "pretrain"),
                       ("cbam_unet", "landmarks2pressure"), ("insole_pose_cnn", "insole2pose"),
                       ("ridge", "imu2grf"), ("mean", "insole2pose"), ("tcn", "imu2grf")):
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert task in line and "small" in line
    assert main(["list", "*unet*"]) == 0
    assert {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]} == {"cbam_unet", "unet"}


def test_fit_then_test_from_the_checkpoint(tiny, tmp_path):
    root = tmp_path / "runs"
    assert main(["fit", "--model", "tcn", f"--data.path={tiny}", "--data.task=imu2grf", "--data.n_folds=2",
                 f"--trainer.default_root_dir={root}", *FAST]) == 0
    ckpt = next(root.rglob("best-*.ckpt"))
    assert main(["test", "--model", "tcn", f"--data.path={tiny}", "--data.task=imu2grf", "--data.n_folds=2",
                 f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={root}", *FAST]) == 0


TCN_GRF = ["--model", "tcn", "--data.task=imu2grf", "--data.n_folds=2"]


@pytest.fixture(scope="module")
def trained_tcn(tiny, tmp_path_factory):
    """One `zoo fit` of the TCN on the tiny data; its best checkpoint serves validate and predict."""
    root = tmp_path_factory.mktemp("trained")
    assert main(["fit", *TCN_GRF, f"--data.path={tiny}", f"--trainer.default_root_dir={root}", *FAST]) == 0
    return next(root.rglob("best-*.ckpt"))


def tiny_datamodule(tiny):
    from datamodules.datamodule import GaitDataModule

    dm = GaitDataModule(str(tiny), task="imu2grf", n_folds=2, stats_samples=50)  # as FAST and TCN_GRF say
    dm.setup()
    return dm


def test_validate_prints_the_validation_loss_and_primary_metric_of_the_checkpoint(tiny, trained_tcn, tmp_path,
                                                                                  capsys):
    import re

    import torch

    from zoo.models.tcn import TemporalCNN

    capsys.readouterr()
    assert main(["validate", *TCN_GRF, f"--data.path={tiny}", f"--ckpt_path={trained_tcn}",
                 f"--trainer.default_root_dir={tmp_path}", *FAST]) == 0
    out = capsys.readouterr().out
    printed = {m[1]: float(m[2]) for m in re.finditer(r"(val/[a-z_]+)\s+│?\s*([-+0-9.eE]+|nan)\b", out)}
    assert "val/loss" in printed and "val/r_vertical" in printed, out
    assert -1.0 <= printed["val/r_vertical"] <= 1.0
    # The same number, computed here from the checkpoint over the first two validation batches (limit_val_batches).
    model = TemporalCNN.load_from_checkpoint(trained_tcn).eval()
    dm = tiny_datamodule(tiny)
    total, count = 0.0, 0
    with torch.no_grad():
        for i, batch in enumerate(dm.val_dataloader()):
            if i == 2:
                break
            loss = model.compute_loss(model._outputs(batch), model.normalise(model.target(batch)), batch)
            total, count = total + float(loss) * len(batch["x"]), count + len(batch["x"])
    assert printed["val/loss"] == pytest.approx(total / count, rel=1e-4)


def test_predict_writes_every_test_window_in_physical_units(tiny, trained_tcn, tmp_path, capsys):
    import numpy as np
    import torch

    from zoo.models.tcn import TemporalCNN

    out_file = tmp_path / "preds.npz"
    assert main(["predict", *TCN_GRF, f"--data.path={tiny}", f"--ckpt_path={trained_tcn}",
                 f"--trainer.default_root_dir={tmp_path}", f"--predictions.output={out_file}", *FAST]) == 0
    assert f"to {out_file}" in capsys.readouterr().out
    saved = np.load(out_file)
    dm = tiny_datamodule(tiny)
    test = dm.dataset("test")
    assert set(saved.files) == {"y_pred", "subject", "y_true"}
    assert saved["y_pred"].shape == (len(test), *dm.data_spec["target_shape"]) == (len(test), 3, 128)
    assert saved["subject"].shape == (len(test),)
    model = TemporalCNN.load_from_checkpoint(trained_tcn).eval()
    with torch.no_grad():
        batches = list(dm.predict_dataloader())
        expected = torch.cat([model.denormalise(model._outputs(b)["y"]) for b in batches])
    np.testing.assert_allclose(saved["y_pred"], expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(saved["y_true"], torch.cat([b["y"] for b in batches]).numpy())
    np.testing.assert_array_equal(saved["subject"], torch.cat([b["subject"] for b in batches]).numpy())
    # predict serves the held-out test subjects, none of whom the model trained on
    assert set(saved["subject"].tolist()) == set(test.rows["subject"].tolist())
    assert not set(saved["subject"].tolist()) & set(dm.dataset("train").rows["subject"].tolist())


def test_predict_help_documents_the_prediction_file():
    result = zoo("predict", "--help")
    assert "--predictions.output" in result.stdout and "y_pred" in result.stdout


def test_print_config_works():
    result = zoo("fit", "--model", "ssl_transformer", "--data.path=sim:tiny", "--data.task=imu2grf", "--print_config")
    assert "class_path: zoo.models.ssl_transformer" in result.stdout and "task: imu2grf" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "transformerr", "--data.task=imu2grf"], "unknown model 'transformerr'"),
    (["--model", "cbam_unet", "--data.task=imu2grf"], "does not support task 'imu2grf'; it supports: landmarks2pressure"),
    (["--model", "tcn", "--model.in_channels=18", "--data.task=imu2grf"], "in_channels=18 but the data provides 48"),
    (["--model", "tcn", "--data.task=imu2moon"], "task: expected one of"),
    (["--model", "collections.OrderedDict", "--data.task=imu2grf"],
     "model 'collections.OrderedDict': expected a subclass of zoo.ZooModel, found class collections.OrderedDict"),
])
def test_bad_input_gets_a_one_line_error_naming_the_choices(tiny, args, message):
    result = zoo("fit", *args, f"--data.path={tiny}", *FAST, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("zoo fit: error: ") and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_named(tmp_path):
    result = zoo("fit", "--model", "tcn", f"--data.path={tmp_path / 'nope.h5'}", *FAST, check=False)
    assert result.returncode == 2 and "nope.h5: no such recording file" in result.stderr


CONFIGS = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_experiment_config_trains_validates_and_tests(config, tiny, tmp_path):
    overrides = [f"--data.path={tiny}", "--data.n_folds=2", "--data.frames=6", "--data.frame_stride=2",
                 f"--trainer.default_root_dir={tmp_path}", *FAST]
    assert main(["fit", "--config", str(config), *overrides]) == 0
    assert main(["test", "--config", str(config), *overrides]) == 0


def test_plugin_is_listed_and_trains(tiny, tmp_path, capsys):
    if not any(ep.name == "bigru" for ep in entry_points(group="zoo.models")):
        pytest.fail("the example plugin is not installed; `make` installs examples/zoo_plugin_example")
    assert main(["list", "bigru"]) == 0
    assert "plugin: zoo_plugin_example.bigru" in capsys.readouterr().out
    assert main(["fit", "--model", "bigru", f"--data.path={tiny}", "--data.task=imu2grf", "--data.n_folds=2",
                 f"--trainer.default_root_dir={tmp_path}", *FAST]) == 0
