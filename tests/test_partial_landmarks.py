"""`landmarks2pressure` on partial data (issue 12): pressure alone, an all-zero geometry, explicit landmark
cells, and a footprint learnt from the training subjects only. Every fallback is a note, never silent."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import yaml

from datamodules import GaitDataModule
from datamodules.errors import DataError
from datamodules.recording import Recording
from datamodules.tasks.footprint import contact_frames
from datamodules.tasks.landmarks import landmark_cells
from zoo.bench.runner import main as bench_main

from fake_recordings import make_fake_recording

TASK = "landmarks2pressure"
FAST = {"batch_size": 16, "stats_samples": 100, "frame_step": 3}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """6 subjects, one walk each, 12 x 6 grid whose footprint leaves columns 0 and 5 unloaded."""
    return make_fake_recording(tmp_path_factory.mktemp("partial") / "fake.h5", n_subjects=6, trials=("walk",),
                               seconds=4.0, keypoints=None, imu_channels=(), joint_angles=False, grf=False)


def copy_with(src, dst, edit) -> str:
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        edit(f)
    return str(dst)


def test_pressure_only_recording_trains_end_to_end_and_reports_the_fallbacks(tmp_path):
    from datamodules.simulator import generate_dataset

    data = generate_dataset(tmp_path / "plate.h5", preset="pressure_only", n_subjects=4, duration_s=4.0)
    with Recording(data) as rec:  # what a pressure plate gives: pressure maps, no geometry, no events
        assert all(not rec.subject(s).geometry for s in rec.subject_ids)
        assert all(t.pressure_feet and not t.event_feet and not t.imu_channels for t in rec.trials())
    suite = {"name": "plate", "dataset": str(data), "folds": 2, "run_folds": [0], "seeds": [0], "oracle": False,
             "wandb": False,
             "data": {"batch_size": 16, "stats_samples": 100, "frame_step": 4},
             "trainer": {"max_epochs": 1, "limit_train_batches": 2},
             "tasks": {TASK: {"models": ["cbam_unet", "ridge"]}}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    assert bench_main([str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out"), "--no-wandb"]) == 0
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "out" / "cells").glob("*/metrics.json"))]
    assert sorted(r["model"] for r in records) == ["cbam_unet", "ridge"]
    for record in records:
        assert record["status"] == "ok" and np.isfinite(record["metrics"]["cop_error_cm"]), record.get("error")
        notes = " | ".join(record["notes"])
        assert "stance: no events in" in notes and "contact_threshold=0.05" in notes
        assert "geometry: no valid subject geometry" in notes and "S001/right: missing" in notes
    import torch

    ckpt = next((tmp_path / "out" / "cells").glob("*cbam_unet*/checkpoints/*.ckpt"))
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["GaitDataModule"]
    assert saved["notes"] == records[0]["notes"] and set(saved["task"]["footprint"]) == {"right", "left"}
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "## Data notes" in board and "footprint outline of the training subjects' pressure" in board


def test_contact_frames_keep_complete_runs_above_the_threshold():
    force = np.array([5, 5, 0, 0, 10, 10, 10, 0, 0.4, 0, 3, 3, 0, 7, 7], float)
    # runs: [0, 2) touches the start, [4, 7) complete, [8] under 5 % of the peak, [10, 12) complete, [13, 15) the end
    assert contact_frames(force, 0.05).tolist() == [4, 5, 6, 10, 11]
    assert contact_frames(force, 0.05, min_frames=3).tolist() == [4, 5, 6]
    assert contact_frames(force, 0.5).tolist() == [4, 5, 6]  # 3 N is under half the peak


def test_stance_from_pressure_matches_the_events_and_follows_the_threshold(fake):
    def frames(**options):
        dm = GaitDataModule(str(fake), task=TASK, n_folds=3, frame_step=1, **options)
        dm.setup()
        return {(int(r["trial"]), int(r["foot"]), int(r["start"])) for r in dm.samples}, dm

    from_events, dm_events = frames(stance="events")
    from_pressure, dm = frames(stance="pressure")
    assert not dm_events.notes  # events and valid geometry: nothing to fall back on
    # the threshold trims the lightest frames of each stance; pressure also finds a first stance that begins
    # one frame into the trial, where the events have no heel strike
    assert len(from_events & from_pressure) / len(from_events) > 0.95
    assert len(from_events & from_pressure) / len(from_pressure) > 0.8
    stricter, _ = frames(stance="pressure", contact_threshold=0.3)
    assert stricter < from_pressure
    with pytest.raises(DataError, match=r"contact_threshold: expected a share of the peak foot force in \(0, 1\)"):
        GaitDataModule(str(fake), task=TASK, contact_threshold=1.5)


def test_all_zero_geometry_is_refused_or_replaced_by_the_footprint(fake, tmp_path):
    def zero(f):
        f["subjects/S02/geometry/right"][...] = 0.0

    path = copy_with(fake, tmp_path / "zero.h5", zero)
    with pytest.raises(DataError, match=r"geometry='subject' needs a valid .*found: S02/right: all values equal \(0\)"):
        GaitDataModule(path, task=TASK, geometry="subject")
    without = make_fake_recording(tmp_path / "without.h5", n_subjects=3, trials=("walk",), seconds=3.0,
                                  geometry=False, keypoints=None, imu_channels=(), joint_angles=False, grf=False)
    with pytest.raises(DataError, match=r"needs pressure/<foot> .* and subject geometry.*found: subjects/S01/geometry/right"):
        GaitDataModule(str(without), task=TASK, geometry="subject")
    dm = GaitDataModule(path, task=TASK, n_folds=3, **FAST)
    dm.setup()
    assert dm.task.geometry_mode == "footprint"
    assert len(dm.notes) == 1 and "S02/right: all values equal (0)" in dm.notes[0]
    footprint = dm.task.footprint["right"]
    cells = dm.task.cells("S02", "right")
    assert footprint[cells[:, 0], cells[:, 1]].all()  # every landmark on the loaded footprint
    # what the all-zero map would have done: its outline is the whole grid, so landmarks land off the foot
    naive = landmark_cells(np.zeros_like(footprint, dtype=float) >= 0, 16)
    assert not footprint[naive[:, 0], naive[:, 1]].all()
    x = dm.dataset("train")[0]["x"]
    assert len(np.unique(x[0])) == 2  # channel 0 is the outline (normalised 1 inside / 0 outside)


def test_explicit_landmark_cells(fake):
    cells = [[1, 2], [5, 3], [10, 4]]
    dm = GaitDataModule(str(fake), task=TASK, n_folds=3, landmark_cells=cells, **FAST)
    dm.setup()
    assert dm.spec.landmarks == 3 and dm.task.geometry_mode == "subject"
    nonzero = {tuple(c) for i in range(10) for c in np.argwhere(dm.dataset("train")[i]["x"][1] != 0).tolist()}
    assert nonzero == {tuple(c) for c in cells}  # the sensors read these cells and no other
    with pytest.raises(DataError, match=r"landmark_cells: expected cells inside the 12 x 6 pressure grid, found \[\(12, 0\)\]"):
        GaitDataModule(str(fake), task=TASK, landmark_cells=[[12, 0]])
    with pytest.raises(DataError, match="landmark_cells: expected each cell once"):
        GaitDataModule(str(fake), task=TASK, landmark_cells=[[1, 2], [1, 2]])


def test_footprint_comes_from_the_training_subjects_only(fake, tmp_path):
    def footprint(path):
        dm = GaitDataModule(path, task=TASK, n_folds=3, geometry="footprint", **FAST)
        dm.setup()
        assert dm.task.geometry_mode == "footprint" and not dm.notes  # asked for: no fallback to report
        return dm, dm.task.footprint["right"]

    dm, outline = footprint(str(fake))
    assert not outline[:, 0].any()  # the fake footprint leaves column 0 unloaded

    def load_column_0(subjects):
        def edit(f):
            for s in subjects:  # column 0 loaded like its neighbour
                maps = f[f"subjects/{s}/trials/T01/pressure/right"]
                maps[:, :, 0] = maps[:, :, 1]
        return edit

    held_out = [*dm.split.test_subjects, *dm.split.val_subjects]
    _, with_test_changed = footprint(copy_with(fake, tmp_path / "test_changed.h5", load_column_0(held_out)))
    np.testing.assert_array_equal(with_test_changed, outline)  # test and validation pressure: no effect
    _, with_train_changed = footprint(copy_with(fake, tmp_path / "train_changed.h5",
                                                load_column_0(dm.split.train_subjects[:1])))
    assert with_train_changed[:, 0].all()  # a training subject's pressure does shape it


def test_the_training_footprint_travels_with_the_checkpoint(fake):
    trained = GaitDataModule(str(fake), task=TASK, n_folds=3, fold=0, geometry="footprint", **FAST)
    other = GaitDataModule(str(fake), task=TASK, n_folds=3, fold=1, geometry="footprint", **FAST)
    trained.setup()
    other.setup()
    state = trained.state_dict()
    assert set(state["task"]["footprint"]) == {"right", "left"}
    other.load_state_dict(state)
    for foot in ("right", "left"):
        np.testing.assert_array_equal(other.task.footprint[foot], trained.task.footprint[foot])
        np.testing.assert_array_equal(other.task.cells("S01", foot), trained.task.cells("S01", foot))
    own = GaitDataModule(str(fake), task=TASK, n_folds=3, geometry="subject", **FAST)
    own.setup()
    assert "task" not in own.state_dict()  # the subjects' own geometry: nothing learnt from the training split
