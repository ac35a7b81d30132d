"""Every registered model, on every task it supports, through a real DataModule batch.

Parametrised over the registry: a new model (built in or plugin) is tested with no new test code.
"""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

import zoo
from datamodules.datamodule import GaitDataModule
from zoo.models.closed_form import ClosedFormModel
from zoo.models.mean import MeanPredictor
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


def build(name: str, dm: GaitDataModule) -> zoo.ZooModel:
    torch.manual_seed(0)
    model = zoo.create_model(name, data_spec=dm.data_spec, preset="small")
    model.set_target_stats(*dm.target_stats())
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
        out = model.outputs(batch)["y"]
    assert tuple(out.shape) == (batch["x"].shape[0], *dm.data_spec["target_shape"])
    assert torch.isfinite(out).all()


BASE_BUFFERS = {"target_mean", "target_std", "stats_ready"}  # ZooModel's own: set by setup(), not by fitting


def output_layer_parameters(model: zoo.ZooModel, batch: dict[str, torch.Tensor]) -> set[str]:
    """Names of the parameters nearest the output in the autograd graph (the output layer's weights)."""
    leaves = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
    frontier, seen = [model.outputs(batch)["y"].grad_fn], {}
    while frontier:
        found = {leaves[id(f.variable)] for f in frontier if hasattr(f, "variable") and id(f.variable) in leaves}
        if found:
            return found
        seen.update((id(f), f) for f in frontier)  # keep the nodes alive, or their ids get reused
        frontier = list({id(g): g for f in frontier for g, _ in f.next_functions
                         if g is not None and id(g) not in seen}.values())
    return set()


@pytest.mark.parametrize(("name", "task"), CASES)
def test_one_training_step_changes_the_model_and_gives_a_finite_loss(name, task, datamodules):
    dm = datamodules(task)
    model = build(name, dm)
    closed_form = isinstance(model, ClosedFormModel)
    if closed_form:  # no parameters: the fit lives in the buffers the model adds to BaseTask's
        before = {n: b.clone() for n, b in model.named_buffers() if n not in BASE_BUFFERS}
        assert before, "a closed-form model without fitted buffers"
    else:
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        output_layer = output_layer_parameters(model, first_batch(dm))
        assert output_layer
    t = trainer(max_steps=1, limit_val_batches=2, num_sanity_val_steps=0)
    t.fit(model, datamodule=dm)
    if closed_form:
        after = dict(model.named_buffers())
        unchanged = [n for n in before if torch.equal(before[n], after[n])]
        assert len(unchanged) < len(before), f"no fitted buffer changed: {unchanged}"
        train_targets = torch.cat([model.normalise(model.target(b)) for b in dm.train_dataloader()])
        if train_targets.any():  # all-zero normalised targets (constant fake pressure) leave y-side sums at zero
            assert not unchanged, f"fitted buffers unchanged by the fit: {unchanged}"
    else:
        assert t.global_step == 1
        assert torch.isfinite(t.callback_metrics["train/loss"])
        params = dict(model.named_parameters())
        changed = {n for n in before if not torch.equal(before[n], params[n].detach())}
        # Lightning zeroes gradients before each backward, so after the one step they are that step's
        with_grad = {n for n, p in params.items() if p.grad is not None and bool(p.grad.abs().sum() > 0)}
        assert with_grad, "the step computed no gradient"
        assert with_grad <= changed, f"got a gradient but did not change: {sorted(with_grad - changed)}"
        assert output_layer <= changed, f"output layer unchanged: {sorted(output_layer - changed)}"
    batch = first_batch(dm)
    loss = model.compute_loss(model.outputs(batch), model.normalise(model.target(batch)), batch)
    assert torch.isfinite(loss)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_a_tiny_batch_is_overfitted(name, task, datamodules):
    dm = datamodules(task)
    model = build(name, dm)
    batch = {k: v[:4] for k, v in first_batch(dm).items()}
    target = model.normalise(model.target(batch))

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            return float(model.compute_loss(model.outputs(batch), target, batch))

    start = loss_now()
    if isinstance(model, MeanPredictor):
        # No capacity to fit single samples: its best is the loss of predicting the batch mean everywhere.
        assert model.train_cfg.loss == "mse"
        model.fit_closed_form([batch])
        mean_prediction = target.mean(dim=0, keepdim=True).expand_as(target)
        floor = float(model.compute_loss({"y": mean_prediction}, target, batch))
        assert loss_now() == pytest.approx(floor, rel=1e-5, abs=1e-7)
        with torch.no_grad():
            torch.testing.assert_close(model.outputs(batch)["y"], target.mean(dim=0).expand_as(target))
        return
    if isinstance(model, ClosedFormModel):
        model.fit_closed_form([batch])
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(300):
            opt.zero_grad()
            loss = model.compute_loss(model.outputs(batch), target, batch)
            loss.backward()
            opt.step()
            # stop once the training loss is low and the evaluation loss (dropout off, e.g. the masked
            # reconstruction's fixed eval masks) agrees: one lucky training draw is not a fit
            if loss.item() < 0.2 * start:
                if loss_now() <= 0.4 * start:
                    break
                model.train()
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
        assert torch.equal(model.outputs(batch)["y"], loaded._outputs(batch)["y"])
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
        class Impostor(zoo.ZooModel):
            supported_tasks = ("imu2grf",)


def fake_plugins(monkeypatch, tmp_path, plugins: dict[str, str]) -> list:
    """Install plugin modules (name -> source) on sys.path, announce them as `zoo.models` entry points and
    give the registry a fresh, unloaded state (restored after the test)."""
    import sys
    from importlib.metadata import EntryPoint

    from zoo import registry

    for module, source in plugins.items():
        (tmp_path / f"{module}.py").write_text(source)
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint(module, module, registry.ENTRY_POINT_GROUP) for module in plugins]
    monkeypatch.setattr(registry, "entry_points", lambda group: list(eps) if group == registry.ENTRY_POINT_GROUP
                        else [])
    monkeypatch.setattr(registry, "_REGISTRY", {k: v for k, v in registry._REGISTRY.items() if k != "bigru"})
    monkeypatch.setattr(registry, "_loaded", False)
    return eps


PLUGIN = '''
from zoo import ZooModel, register_model


@register_model("{name}")
class {cls}(ZooModel):
    supported_tasks = ("imu2grf",)
'''


def test_a_name_clash_in_a_plugin_is_reported_on_every_load_and_leaves_no_half_registry(monkeypatch, tmp_path):
    from zoo import registry

    clashing = PLUGIN.format(name="clash_first", cls="First") + PLUGIN.format(name="ridge", cls="Impostor")
    eps = fake_plugins(monkeypatch, tmp_path, {"clash_plugin": clashing,
                                                "good_plugin": PLUGIN.format(name="good_one", cls="Good")})
    for _ in range(2):  # the second call must not see a registry marked loaded after the first failed
        with pytest.raises(zoo.ZooError, match="'ridge' from clash_plugin.Impostor clashes with 'ridge'"):
            zoo.list_models()
        assert "clash_first" not in registry._REGISTRY  # the failed plugin's partial registrations are gone
        assert registry._loaded is False
    eps.pop(0)  # uninstall the clashing plugin: the next call loads the rest
    assert "good_one" in zoo.list_models() and "clash_first" not in zoo.list_models()
    assert registry.model_entry("ridge").cls.__module__ == "zoo.models.ridge"
    assert registry._loaded is True


def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning(monkeypatch, tmp_path, capsys):
    broken = PLUGIN.format(name="half_done", cls="Half") + "\nraise RuntimeError('broken on purpose')\n"
    fake_plugins(monkeypatch, tmp_path, {"broken_plugin": broken,
                                         "good_plugin": PLUGIN.format(name="good_one", cls="Good")})
    names = zoo.list_models()
    assert "good_one" in names and "half_done" not in names
    assert "plugin 'broken_plugin' (broken_plugin) failed to load: broken on purpose" in capsys.readouterr().err


@pytest.mark.parametrize(("path", "found"), [
    ("collections.OrderedDict", "class collections.OrderedDict"),
    ("torch.nn.Linear", "class torch.nn.modules.linear.Linear"),
    ("math.pi", "float"),
])
def test_a_dotted_path_must_name_a_zoo_model_subclass(path, found):
    with pytest.raises(zoo.ZooError) as error:
        get_model_class(path)
    message = str(error.value)
    assert message.startswith(f"model '{path}': expected a subclass of zoo.ZooModel, found {found}; ")
    assert "registered names: " in message and "\n" not in message


def test_a_dotted_path_to_a_model_class_works_and_a_missing_class_is_named():
    from zoo.models.tcn import TemporalCNN

    assert get_model_class("zoo.models.tcn.TemporalCNN") is TemporalCNN
    with pytest.raises(zoo.ZooError, match="no class Nope in module zoo.models.tcn; registered names: .*tcn"):
        get_model_class("zoo.models.tcn.Nope")


# -- networks are plain modules -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "task"), CASES)
def test_every_network_builds_from_shapes_and_runs_without_lightning(name, task, datamodules):
    """`create_network` gives a plain nn.Module (no LightningModule), and its forward takes tensors."""
    dm = datamodules(task)
    net = zoo.create_network(name, data_spec=dm.data_spec)
    assert isinstance(net, torch.nn.Module) and not isinstance(net, pl.LightningModule)
    batch = first_batch(dm)
    inputs = (batch["x"], batch["body_mass"]) if dm.spec.has_body_mass else (batch["x"],)
    with torch.no_grad():
        out = net.eval()(*inputs)
    assert torch.isfinite(out).all() and out.shape[0] == batch["x"].shape[0]
    model = build(name, dm).eval()
    with torch.no_grad():  # the Lightning model computes with the same network class
        assert type(model.net) is type(net)


@pytest.mark.parametrize("name", zoo.list_models())
def test_presets_keep_network_optimiser_and_loss_keys_apart(name):
    import inspect

    from zoo.model import LOSS_DEFAULTS, OPTIM_DEFAULTS, SECTIONS

    cls = get_model_class(name)
    init = set(inspect.signature(cls.__init__).parameters)
    for preset, sections in cls.presets.items():
        assert set(sections) <= set(SECTIONS), f"{name}/{preset}: sections {sorted(sections)}"
        net_params = set(inspect.signature(cls.network.__init__).parameters)
        assert set(sections.get("net", {})) <= net_params, f"{name}/{preset}: net keys not in {cls.network.__name__}"
        assert set(sections.get("optim", {})) <= set(OPTIM_DEFAULTS), f"{name}/{preset}: unknown optim keys"
        assert set(sections.get("loss", {})) <= set(LOSS_DEFAULTS) | init, f"{name}/{preset}: unknown loss keys"


def test_create_network_applies_preset_and_overrides():
    small = zoo.create_network("tcn", task="imu2grf")
    paper = zoo.create_network("tcn", task="imu2grf", preset="paper")
    wide = zoo.create_network("tcn", task="imu2grf", hidden=32)
    assert small.stem.out_channels == 64 and paper.stem.out_channels == 128 and wide.stem.out_channels == 32
    assert len(paper.blocks) == 6
    with pytest.raises(zoo.ZooError, match="does not support task 'insole2pose'"):
        zoo.create_network("tcn", task="insole2pose")


def test_old_base_class_name_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="zoo.ZooModel"):
        base = zoo.BaseTask
    assert base is zoo.ZooModel
    with pytest.warns(DeprecationWarning):
        from zoo.task import BaseTask  # noqa: F401


def test_pretrained_loads_matching_network_weights_and_names_the_new_ones(tmp_path):
    donor = zoo.create_model("tcn", task="imu2grf")
    path = tmp_path / "donor.ckpt"
    torch.save({"state_dict": donor.state_dict()}, path)
    with pytest.warns(UserWarning, match="stay newly initialised .*stem"):
        model = zoo.create_model("tcn", task="imu2pressure", pretrained=str(path))  # other inputs and head
    assert torch.equal(model.net.blocks[0].net[0].weight, donor.net.blocks[0].net[0].weight)
    assert model.net.head.net[-1].weight.shape != donor.net.head.net[-1].weight.shape
    torch.save({"state_dict": zoo.create_model("pose_mlp").state_dict()}, tmp_path / "other.ckpt")
    with pytest.raises(zoo.ZooError, match="none of its weights fits this network"):
        zoo.create_model("tcn", task="imu2grf", pretrained=str(tmp_path / "other.ckpt"))
