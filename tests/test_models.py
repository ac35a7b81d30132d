"""Every registered model, on every task it supports, through a real DataModule batch.

Parametrised over the registry: a new model (built in or plugin) is tested with no new test code.
"""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import pytest
import torch

import zoo
from datamodules.datamodule import GaitDataModule
from zoo.models.closed_form import ClosedFormTask
from zoo.registry import get_model_class

from fake_recordings import make_fake_recording

CASES = [(name, task) for name in zoo.list_models() for task in get_model_class(name).supported_tasks]
DATA_OPTIONS = {"frames": 6, "frame_stride": 2, "n_folds": 2, "batch_size": 8, "stats_samples": 200}


@pytest.fixture(scope="module")
def fake_file(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("models") / "fake.h5", n_subjects=4, grid=(16, 8))


@pytest.fixture(scope="module")
def datamodules(fake_file):
    cache: dict[str, GaitDataModule] = {}

    def get(task: str) -> GaitDataModule:
        if task not in cache:
            cache[task] = GaitDataModule(str(fake_file), task=task, **DATA_OPTIONS)
            cache[task].setup()
        return cache[task]

    return get


def build(name: str, dm: GaitDataModule) -> zoo.BaseTask:
    torch.manual_seed(0)
    model = zoo.create_model(name, data_spec=dm.data_spec, preset="small")
    mean, std = dm.target_stats()
    model.target_mean.copy_(mean)
    model.target_std.copy_(std)
    return model


def first_batch(dm: GaitDataModule) -> dict[str, torch.Tensor]:
    return next(iter(dm.train_dataloader()))


def trainer(**kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kw)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_output_has_the_target_shape(name, task, datamodules):
    dm = datamodules(task)
    model = build(name, dm).eval()
    batch = first_batch(dm)
    with torch.no_grad():
        out = model._outputs(batch)["y"]
    assert tuple(out.shape) == (batch["x"].shape[0], *dm.data_spec["target_shape"])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "task"), CASES)
def test_one_training_step_changes_the_model_and_gives_a_finite_loss(name, task, datamodules):
    dm = datamodules(task)
    model = build(name, dm)
    before = copy.deepcopy(model.state_dict())
    trainer(max_steps=1, limit_val_batches=2, num_sanity_val_steps=0).fit(model, datamodule=dm)
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no parameter or fitted buffer changed"
    batch = first_batch(dm)
    loss = model.compute_loss(model._outputs(batch), model.normalise(model.target(batch)), batch)
    assert torch.isfinite(loss)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_a_tiny_batch_is_overfitted(name, task, datamodules):
    dm = datamodules(task)
    model = build(name, dm)
    if name == "mean":
        pytest.skip("the mean predictor has no capacity to fit individual samples (tested in test_baselines.py)")
    batch = {k: v[:4] for k, v in first_batch(dm).items()}
    target = model.normalise(model.target(batch))

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            return float(model.compute_loss(model._outputs(batch), target, batch))

    start = loss_now()
    if isinstance(model, ClosedFormTask):
        model.accumulate(batch, target)
        model.solve()
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(300):
            opt.zero_grad()
            loss = model.compute_loss(model._outputs(batch), target, batch)
            loss.backward()
            opt.step()
            if loss.item() < 0.2 * start:
                break
    assert loss_now() <= 0.5 * start, f"loss {start:.4f} -> {loss_now():.4f}"


@pytest.mark.parametrize(("name", "task"), CASES)
def test_checkpoint_round_trip_gives_identical_predictions(name, task, datamodules, tmp_path):
    dm = datamodules(task)
    model = build(name, dm)
    t = trainer(max_steps=2, limit_val_batches=2, num_sanity_val_steps=0)
    t.fit(model, datamodule=dm)
    path = tmp_path / "model.ckpt"
    t.save_checkpoint(path)
    loaded = type(model).load_from_checkpoint(path).eval()
    model.eval()
    batch = first_batch(dm)
    with torch.no_grad():
        assert torch.equal(model._outputs(batch)["y"], loaded._outputs(batch)["y"])
    assert torch.equal(loaded.target_std, model.target_std)


def test_unknown_names_and_tasks_fail_with_the_choices(datamodules):
    with pytest.raises(zoo.ZooError, match="unknown model 'nope'.*choices: .*ridge"):
        zoo.create_model("nope")
    dm = datamodules("insole2pose")
    with pytest.raises(zoo.ZooError, match="does not support task 'insole2pose'; it supports: imu2grf"):
        zoo.create_model("tcn", data_spec=dm.data_spec)
    with pytest.raises(zoo.ZooError, match="in_channels=18 but the data provides 48"):
        zoo.create_model("tcn", data_spec=datamodules("imu2grf").data_spec, in_channels=18)
    with pytest.raises(zoo.ZooError, match="unknown preset 'huge'; choices: small, paper"):
        zoo.create_model("tcn", preset="huge")


def test_list_models_wildcards_and_task_filter():
    names = zoo.list_models()
    assert {"mean", "ridge", "tcn"} <= set(names)
    assert zoo.list_models("r*") == [n for n in names if n.startswith("r")]
    assert all("insole2pose" in get_model_class(n).supported_tasks for n in zoo.list_models(task="insole2pose"))


def test_name_clash_is_reported_with_both_classes():
    from zoo.registry import register_model

    with pytest.raises(zoo.ZooError, match="'ridge' from .*Impostor clashes with 'ridge' already registered by "
                                           "zoo.models.ridge.Ridge"):
        @register_model("ridge")
        class Impostor(zoo.BaseTask):
            supported_tasks = ("imu2grf",)
