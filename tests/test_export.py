"""`zoo export`: every registered model on every task it serves exports to ONNX (onnxruntime) and TorchScript,
and the exported graph (normalisation inside) matches the PyTorch model within the stated tolerance.

Parametrised over the registry, like test_models.py, on tiny shapes (short windows, an 8 x 4 grid) so the
dynamo exporter stays fast: TorchScript and ONNX on every model x task (ZOO_TEST_EXPORT_ALL=0 keeps ONNX to
each model's first deployable task, for a quicker local run). Closed-form baselines (ridge, mean) are included, with their fitted buffers filled
at random so the check is not trivially zero; the self-supervised `pretrain` task is refused with its reason.
"""

from __future__ import annotations

import json
import os

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

import zoo
from datamodules.datamodule import GaitDataModule
from datamodules.tasks import get_task
from zoo.deploy.export import (
    PARITY_ATOL,
    PARITY_RTOL,
    DeployableModel,
    example_inputs,
    export_model,
    parity_error,
    run_exported,
    sidecar_path,
)
from zoo.registry import get_model_class

from fake_recordings import make_fake_recording

GRID = (8, 4)
CASES = [(name, task) for name in zoo.list_models() for task in get_model_class(name).supported_tasks
         if not get_task(task).self_supervised]
# ONNX export (dynamo) costs seconds per graph (26 graphs: about a minute); ZOO_TEST_EXPORT_ALL=0 exports each
# model once, on its first deployable task, for a quicker local run (TorchScript still covers every pair).
ONNX_ALL = os.environ.get("ZOO_TEST_EXPORT_ALL", "1") != "0"
FIRST = {name: next(t for n, t in CASES if n == name) for name, _ in CASES}
PARITY_CASES = [(name, task, "torchscript") for name, task in CASES] + \
    [(name, task, "onnx") for name, task in CASES if ONNX_ALL or FIRST[name] == task]
REFUSED = [(name, task) for name in zoo.list_models() for task in get_model_class(name).supported_tasks
           if get_task(task).self_supervised]


@pytest.fixture(autouse=True)
def no_onednn():
    """oneDNN's first LSTM call per shape builds kernels for seconds of CPU; the parity checked here is the
    exported graph's, so the PyTorch side runs on the plain CPU kernels."""
    with torch.backends.mkldnn.flags(enabled=False):
        yield


def tiny_spec(task: str):
    """The task's default spec at tiny sizes: 16-sample windows, 11-sample stances, 8 insole frames, 8 x 4 maps."""
    spec = get_task(task).default_spec(grid=GRID)
    if task in ("imu2grf", "imu2kinetics"):
        return spec.replace(input_shape=[spec.input_shape[0], 16], target_shape=[spec.target_shape[0], 16])
    if task == "imu2pressure":
        return spec.replace(input_shape=[18, 11], target_shape=[11, *GRID])
    if task == "insole2pose":  # 8 frames: pose_mlp pools to 4, and ONNX has no adaptive pooling with uneven bins
        return spec.replace(input_shape=[2, 8, *GRID], frames=8)
    return spec


def random_model(name: str, task: str):
    """The small preset with random weights, random target statistics and random fitted closed-form buffers."""
    torch.manual_seed(0)
    spec = tiny_spec(task)
    model = zoo.create_model(name, data_spec=spec.to_dict(), preset="small").eval()
    model.set_target_stats(torch.rand(spec.target_shape), 0.5 + torch.rand(spec.target_shape))
    closed_form = not any(True for _ in model.parameters())
    with torch.no_grad():
        for _, buffer in model.net.named_buffers() if closed_form else ():
            if buffer.is_floating_point():
                buffer.copy_(0.1 * torch.randn_like(buffer))
    rng = np.random.default_rng(0)
    shape = (spec.input_shape[0],) + (1,) * (len(spec.input_shape) - 1)
    stats = {"x_mean": rng.normal(size=shape).astype(np.float32),
             "x_std": (0.5 + rng.random(shape)).astype(np.float32),
             "mass_mean": np.float32([72.0]), "mass_std": np.float32([9.0])}
    return model, stats


@pytest.mark.parametrize(("name", "task", "fmt"), PARITY_CASES)
def test_exported_graph_matches_pytorch(name, task, fmt, tmp_path):
    model, stats = random_model(name, task)
    out = tmp_path / f"model.{fmt}"
    meta = export_model(model, stats, out, fmt)
    # what PyTorch predicts in physical units from raw inputs, normalised as the DataModule does
    inputs = example_inputs(model.spec, batch=4, seed=7, stats=stats)
    batch = {"x": (inputs[0] - torch.as_tensor(stats["x_mean"])) / torch.as_tensor(stats["x_std"])}
    if model.spec.has_body_mass:
        batch["body_mass"] = (inputs[1] - 72.0) / 9.0
    with torch.no_grad():
        reference = model.predict_batch(batch).numpy()
    got = run_exported(out, fmt, inputs)
    assert got.shape == reference.shape == (4, *model.spec.target_shape)
    error, ok = parity_error(got, reference)
    assert ok, f"{name}/{task} {fmt}: max |exported - torch| = {error:.3g} (atol {PARITY_ATOL}, rtol {PARITY_RTOL})"
    assert np.abs(reference).max() > 0  # the comparison is not between two zero outputs
    assert meta["inputs"][0]["channels"] == list(model.spec.input_channels)
    assert json.loads(sidecar_path(out).read_text())["parity"]["max_abs_diff"] == pytest.approx(meta["parity"]["max_abs_diff"])


@pytest.mark.parametrize(("name", "task"), REFUSED)
def test_pretraining_is_refused_with_its_reason(name, task):
    model = zoo.create_model(name, task=task, preset="small")
    with pytest.raises(zoo.ZooError, match="self-supervised.*nothing to deploy"):
        DeployableModel(model, {"x_mean": np.zeros((48, 1), np.float32), "x_std": np.ones((48, 1), np.float32)})


def test_normalisation_is_inside_the_graph():
    """Shifting the raw input by the training mean and scaling by the std is what the graph undoes: a model
    given raw inputs equals the network given normalised ones."""
    model, stats = random_model("tcn", "imu2grf")
    wrapper = DeployableModel(model, stats)
    raw = example_inputs(model.spec, batch=2, stats=stats)[0]
    with torch.no_grad():
        net_out = model.net((raw - torch.as_tensor(stats["x_mean"])) / torch.as_tensor(stats["x_std"]))
        expected = net_out * model.target_std + model.target_mean
        assert torch.allclose(wrapper(raw), expected, atol=1e-5)
        assert not torch.allclose(wrapper(raw + 1.0), expected, atol=1e-3)


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A real checkpoint: tcn on foot IMUs only, one short epoch on a fake recording, saved by Lightning."""
    root = tmp_path_factory.mktemp("ckpt")
    path = make_fake_recording(root / "fake.h5", n_subjects=4, seconds=6.0, grid=GRID)
    dm = GaitDataModule(str(path), task="imu2grf", imus=["L_FOOT", "R_FOOT"], window=32, n_folds=2,
                        batch_size=16, stats_samples=100)
    dm.setup()
    model = zoo.create_model("tcn", data_spec=dm.data_spec, preset="small")
    trainer = pl.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1)
    trainer.fit(model, datamodule=dm)
    ckpt = root / "tcn.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, dm, model


def test_zoo_export_from_a_checkpoint(trained_checkpoint, tmp_path, capsys):
    from zoo.cli import main

    ckpt, dm, model = trained_checkpoint
    out = tmp_path / "grf.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    assert "max |exported - torch|" in capsys.readouterr().out
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["model"] == "tcn" and meta["task"] == "imu2grf"
    assert meta["inputs"][0]["channels"] == list(dm.data_spec["input_channels"])
    assert len(meta["inputs"][0]["channels"]) == 12 and set(meta["inputs"][0]["units"]) == {"m/s^2", "rad/s"}
    assert meta["window"] == {"kind": "sliding", "length": 32, "hop": 16}
    assert meta["sample_rate_hz"] == 100.0 and meta["output"]["units"] == "BW"
    assert meta["training_data"]["synthetic"] is not None and len(meta["training_data"]["fingerprint"]) == 64
    assert meta["training_data"]["train_subjects"] == [str(s) for s in dm.split.train_subjects]
    assert meta["zoo_version"] and meta["torch_version"] == torch.__version__
    # the exported graph predicts the test windows of the DataModule from their raw values
    test = dm.dataset("test")
    raw = np.stack([test.task.load(row)["x"] for row in test.rows[:5]])
    batch = {"x": torch.as_tensor((raw - dm.stats["x_mean"]) / dm.stats["x_std"])}
    with torch.no_grad():
        reference = model.eval().predict_batch(batch).numpy()
    error, ok = parity_error(run_exported(out, "onnx", (torch.as_tensor(raw),)), reference)
    assert ok, error


def test_export_errors_are_one_line(trained_checkpoint, tmp_path, capsys):
    from zoo.cli import main

    assert main(["export", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "no file at" in capsys.readouterr().err
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    assert main(["export", str(tmp_path / "text.ckpt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "text.ckpt: expected a Lightning checkpoint (torch.save file); found a file torch cannot read" \
        in capsys.readouterr().err
    ckpt, _, _ = trained_checkpoint
    state = torch.load(ckpt, weights_only=False)
    del state["zoo_model"]
    bare = tmp_path / "bare.ckpt"
    torch.save(state, bare)
    assert main(["export", str(bare), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "missing: zoo_model" in capsys.readouterr().err
    assert main(["export", str(bare), "--model", "tcn", "--format", "torchscript", "--out",
                 str(tmp_path / "m.pt")]) == 0
