"""The task registry: every task's definition is complete and self-consistent, nothing outside the task
modules switches on task names, and the joint task (`imu2kinetics`) lays out, normalises, scores and
penalises its three targets as documented."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from datamodules.datamodule import GaitDataModule
from datamodules.errors import DataError
from datamodules.naming import GRAVITY
from datamodules.tasks import DataSpec, get_task, list_tasks
from datamodules.tasks.imu2kinetics import STANCE_THRESHOLD_BW, blocks, split

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_definition_is_complete(name):
    cls = get_task(name)
    spec = cls.default_spec()
    assert isinstance(spec, DataSpec) and spec.task == name
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.task = "other"  # type: ignore[misc]
    assert DataSpec.from_dict(spec.to_dict()) == spec
    assert cls.primary_metric in cls.metric_info
    assert set(cls.readme_metrics) <= set(cls.metric_info)
    assert cls.paper and cls.description and cls.family
    collection = cls.build_metrics(spec, prefix="val/", primary_only=True)
    assert list(collection.keys(keep_base=True)) == [cls.primary_entry]
    assert cls.planned_samples([60.0], 100.0, {}) > 0
    if cls.reference is not None:
        assert cls.reference.model in zoo.list_models()
        assert set(cls.reference.reported) <= set(cls.readme_metrics)


@pytest.mark.parametrize("name", [n for n in list_tasks() if get_task(n).family == "sequence_to_steps"])
def test_sequence_tasks_lay_out_per_step_vectors_as_their_target(name):
    cls = get_task(name)
    spec = cls.default_spec()
    y = torch.randn(2, cls.step_features(spec), cls.output_steps(spec))
    assert tuple(cls.to_target(y, spec).shape) == (2, *spec.target_shape)


def test_unknown_task_names_list_the_choices():
    with pytest.raises(DataError, match=r"task: expected one of \['imu2grf', 'imu2kinetics'"):
        get_task("imu2moon")


def test_no_task_name_is_compared_outside_the_task_modules():
    """Code asks the task; only `datamodules/tasks/` (and tests, configs) may spell a task's name in a
    comparison or a membership test."""
    names = "|".join(list_tasks())
    pattern = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = []
    for path in [*ROOT.glob("zoo/**/*.py"), *ROOT.glob("datamodules/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        if "datamodules/tasks" in path.as_posix():
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_importing_the_packages_does_not_import_plotting_or_tracking():
    """`import zoo, datamodules` (and the task registry) load neither matplotlib nor wandb (nor torch), and no
    zoo or datamodules module imports them at module level: plots and W&B load when first used. (torchmetrics,
    which Lightning imports, loads matplotlib on its own whenever it is installed; that is outside the zoo.)"""
    code = ("import sys, zoo, datamodules, datamodules.tasks; datamodules.tasks.list_tasks(); "
            "print(sorted(m for m in ('matplotlib', 'wandb', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    import ast

    top_level = []
    for path in [*ROOT.glob("zoo/**/*.py"), *ROOT.glob("datamodules/**/*.py")]:
        for node in ast.parse(path.read_text()).body:  # module level only; imports inside functions are lazy
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("matplotlib", "wandb") for n in names):
                top_level.append(str(path.relative_to(ROOT)))
    assert not top_level, f"module-level matplotlib/wandb imports in {top_level}"


# -- imu2kinetics on the simulator: the targets obey the physics the task's consistency terms encode --------
@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    from datamodules.simulator import generate_dataset

    path = generate_dataset(tmp_path_factory.mktemp("kin") / "tiny.h5", preset="tiny", seed=1)
    dm = GaitDataModule(str(path), task="imu2kinetics", n_folds=2, batch_size=64, target="clean")
    dm.setup()
    return dm


def test_kinetics_target_holds_map_grf_and_cop_of_the_same_steps(kinetics):
    spec = kinetics.spec
    assert spec.target_shape[0] == spec.grid[0] * spec.grid[1] + 5 and spec.input_shape[0] == 18
    batch = next(iter(kinetics.train_dataloader()))
    parts = split(batch["y"], spec)
    cell_area = spec.cell_size_cm[0] * spec.cell_size_cm[1]
    map_bw = parts["pressure"].sum(dim=(-2, -1)) * cell_area / (batch["mass_kg"][:, None] * GRAVITY)
    vertical = parts["grf"][:, 2]
    loaded = vertical > 0.1
    # the simulator's invariant: the map integrates to the foot's vertical GRF within 1 % per frame
    torch.testing.assert_close(map_bw[loaded], vertical[loaded], rtol=0.011, atol=0.0)
    h, w = spec.grid
    maps = parts["pressure"][loaded]  # [N, H, W]
    along = (torch.arange(h) + 0.5) * spec.cell_size_cm[0]
    across = (torch.arange(w) + 0.5) * spec.cell_size_cm[1]
    load = maps.sum(dim=(-2, -1))
    centroid = torch.stack([(maps.sum(-2) * across).sum(-1) / load, (maps.sum(-1) * along).sum(-1) / load], -1)
    torch.testing.assert_close(parts["cop"].transpose(1, 2)[loaded], centroid, atol=1e-3, rtol=0)
    swing = (vertical <= STANCE_THRESHOLD_BW) & (parts["pressure"].sum(dim=(-2, -1)) == 0)
    assert swing.any() and torch.all(parts["pressure"][swing] == 0)
    centre = torch.tensor([w * spec.cell_size_cm[1] / 2, h * spec.cell_size_cm[0] / 2])
    torch.testing.assert_close(parts["cop"].transpose(1, 2)[swing], centre.expand(int(swing.sum()), 2))


def test_kinetics_normalisation_uses_loaded_steps_for_the_cop(kinetics):
    mean, std = kinetics.target_stats()
    rows = blocks(kinetics.spec)
    cops = torch.cat([split(b["y"], kinetics.spec)["cop"].transpose(1, 2)[
        (split(b["y"], kinetics.spec)["grf"][:, 2] > STANCE_THRESHOLD_BW)
        & (split(b["y"], kinetics.spec)["pressure"].sum(dim=(-2, -1)) > 0)] for b in kinetics.train_dataloader()])
    torch.testing.assert_close(mean[rows["cop"], 0], cops.double().mean(0).float(), rtol=1e-3, atol=1e-3)
    cell_std = std[rows["pressure"]]
    assert torch.all(cell_std == cell_std[0, 0])  # one scale for every cell


def test_kinetics_loss_weights_select_terms_and_consistency_is_zero_for_consistent_outputs(kinetics):
    batch = next(iter(kinetics.train_dataloader()))
    spec = kinetics.data_spec

    def model(**weights):
        m = zoo.create_model("tcn", data_spec=spec, loss_weights=weights)
        m.set_target_stats(*kinetics.target_stats())
        return m

    m = model(pressure=0.0, grf=1.0, cop=0.0)
    target = m.normalise(batch["y"])
    rows = blocks(kinetics.spec)
    pred = torch.randn_like(target)
    only_grf = m.compute_loss({"y": pred}, target, batch)
    torch.testing.assert_close(only_grf, torch.nn.functional.mse_loss(pred[:, rows["grf"]], target[:, rows["grf"]]))
    # the clean target obeys both physical links, so the consistency terms vanish on it (up to the 1 % map error)
    m = model(pressure=0.0, grf=0.0, cop=0.0, vgrf_consistency=1.0, cop_consistency=1.0)
    assert float(m.compute_loss({"y": target}, target, batch)) < 1e-3
    shifted = target.clone()
    shifted[:, rows["cop"]] += 1.0  # one std off in both COP axes
    assert float(m.compute_loss({"y": shifted}, target, batch)) > 0.5
    with pytest.raises(zoo.ZooError, match="loss_weights: expected keys among .*'cop'.*found \\['force'\\]"):
        model(force=1.0)


def test_kinetics_metrics_of_a_perfect_and_an_inconsistent_prediction(kinetics):
    m = zoo.create_model("mean", data_spec=kinetics.data_spec)
    metrics = m.task.build_metrics(m.spec)
    batch = next(iter(kinetics.test_dataloader()))
    y = batch["y"]
    m.task.update_metrics(metrics, y, y, batch, {})
    scores = metrics.compute()
    assert float(scores["test/rmse"]) == 0.0 and float(scores["test/cop_error_cm"]) == 0.0
    assert float(scores["test/r_vertical"]) == pytest.approx(1.0, abs=1e-6)
    assert float(scores["test/vgrf_consistency_bw"]) < 0.01 and float(scores["test/cop_consistency_cm"]) < 1e-3
    metrics.reset()
    wrong = y.clone()
    wrong[:, blocks(kinetics.spec)["cop"]] += torch.tensor([3.0, 4.0])[None, :, None]
    m.task.update_metrics(metrics, wrong, y, batch, {})
    scores = metrics.compute()
    assert float(scores["test/cop_error_cm"]) == pytest.approx(5.0, abs=1e-4)  # a 3-4-5 offset
    assert float(scores["test/cop_consistency_cm"]) == pytest.approx(5.0, abs=1e-3)


@pytest.mark.parametrize("name", ["cnn_bilstm_attention", "ssl_transformer", "tcn", "ridge", "mean"])
def test_models_named_by_the_issue_serve_the_joint_task(name):
    assert "imu2kinetics" in zoo.get_model_class(name).supported_tasks


def test_kinetics_swing_steps_never_count_toward_the_cop(kinetics):
    batch = next(iter(kinetics.test_dataloader()))
    y = batch["y"]
    spec = kinetics.spec
    rows = blocks(spec)
    swing = (split(y, spec)["grf"][:, 2] <= STANCE_THRESHOLD_BW)[:, None, :].expand(-1, 2, -1)
    wrong = y.clone()
    wrong[:, rows["cop"]] = torch.where(swing, wrong[:, rows["cop"]] + 100.0, wrong[:, rows["cop"]])
    m = zoo.create_model("mean", data_spec=kinetics.data_spec)
    metrics = m.task.build_metrics(spec)
    m.task.update_metrics(metrics, wrong, y, batch, {})
    assert float(metrics.compute()["test/cop_error_cm"]) == 0.0
    assert np.isfinite(float(metrics.compute()["test/ssim"]))
