"""The shared DataModule: splits, statistics, batch contract, worker loading, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.datamodule import GaitDataModule
from datamodules.errors import DataError
from datamodules.naming import IMU_CHANNELS_48, QIAN_CHANNELS_18

from fake_recordings import make_fake_recording

TASK_OPTIONS = {"frames": 5, "frame_stride": 2}


@pytest.fixture(scope="module")
def fake_file(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("data") / "fake.h5", n_subjects=7)


def dm_for(path, task, **kw):
    opts = {**TASK_OPTIONS, "n_folds": 3, "batch_size": 4, **kw}
    dm = GaitDataModule(str(path), task=task, **opts)
    dm.setup()
    return dm


def subjects_of(dm, split):
    return {dm.subject_ids[i] for i in dm.dataset(split).rows["subject"]}


@pytest.mark.parametrize("task", ["imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose", "pretrain"])
def test_subject_kfold_never_mixes_subjects_and_tests_each_once(fake_file, task):
    tested = []
    for fold in range(3):
        dm = dm_for(fake_file, task, fold=fold)
        train, val, test = subjects_of(dm, "train"), subjects_of(dm, "val"), subjects_of(dm, "test")
        assert train and val and test
        assert not (train & val) and not (train & test) and not (val & test)
        assert test == set(dm.split.test_subjects)
        tested += sorted(test)
    assert sorted(tested) == sorted(set(tested)) == [f"S{i:02d}" for i in range(1, 8)]


def test_statistics_come_from_training_subjects_only(fake_file):
    a, b = dm_for(fake_file, "imu2grf", fold=0), dm_for(fake_file, "imu2grf", fold=1)
    assert set(a.split.train_subjects) != set(b.split.train_subjects)
    assert not np.allclose(a.stats["x_mean"], b.stats["x_mean"])
    assert not np.allclose(a.stats["mass_mean"], b.stats["mass_mean"])
    # the training inputs are standardised with those statistics
    x = torch.cat([batch["x"] for batch in a.train_dataloader()])
    assert x.mean(dim=(0, 2)).abs().max() < 0.05
    assert (x.std(dim=(0, 2)) - 1).abs().max() < 0.05
    masses = [a.task.ctx.subjects[i].body_mass_kg for i in np.unique(a.dataset("train").rows["subject"])]
    assert a.stats["mass_mean"][0] == pytest.approx(np.mean(masses))


EXPECTED = {
    "imu2pressure": {"x": (18, 101), "y": (101, 12, 6), "body_mass": (1,)},
    "imu2grf": {"x": (48, 128), "y": (3, 128)},
    "landmarks2pressure": {"x": (2, 12, 6), "y": (12, 6)},
    "insole2pose": {"x": (2, 5, 12, 6), "y": (19, 3), "activity": ()},
    "pretrain": {"x": (48, 128)},
}


@pytest.mark.parametrize("task", list(EXPECTED))
def test_batches_match_the_documented_contract(fake_file, task):
    dm = dm_for(fake_file, task)
    batch = next(iter(dm.train_dataloader()))
    for key, shape in EXPECTED[task].items():
        assert tuple(batch[key].shape) == (4, *shape), key
        assert batch[key].dtype == (torch.int64 if key == "activity" else torch.float32)
    assert batch["subject"].dtype == torch.int64 and batch["mass_kg"].dtype == torch.float32
    assert list(dm.data_spec["input_shape"]) == list(EXPECTED[task]["x"])
    assert list(dm.data_spec["target_shape"]) == list(EXPECTED[task].get("y", EXPECTED[task]["x"]))


def test_grf_target_is_in_body_weights(fake_file):
    dm = dm_for(fake_file, "imu2grf")
    batch = next(iter(dm.test_dataloader()))
    # the fake vertical GRF peaks at 1.1 body weights
    assert batch["y"][:, 2].max() == pytest.approx(1.1, abs=0.02)


def test_worker_loading_gives_the_same_batches(fake_file):
    serial = dm_for(fake_file, "imu2pressure", num_workers=0)
    workers = dm_for(fake_file, "imu2pressure", num_workers=2, cache=False)
    for a, b in zip(serial.test_dataloader(), workers.test_dataloader(), strict=True):
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_lazy_reading_keeps_nothing_in_memory(fake_file):
    dm = dm_for(fake_file, "insole2pose", cache=False, stats_samples=100)
    next(iter(dm.train_dataloader()))
    assert dm.store._memory == {}
    cached = dm_for(fake_file, "insole2pose", cache=True, stats_samples=100)
    np.testing.assert_array_equal(dm.dataset("test")[3]["x"], cached.dataset("test")[3]["x"])


def test_channel_and_imu_subsets_by_name(fake_file):
    dm = dm_for(fake_file, "imu2grf", imus=["R_FOOT", "PELVIS"])
    assert dm.data_spec["input_channels"] == [c for c in IMU_CHANNELS_48 if c.startswith(("PELVIS", "R_FOOT"))]
    assert next(iter(dm.train_dataloader()))["x"].shape[1] == 12
    picked = ["R_KNEE_flex", "R_SHANK_gyr_y"]
    dm = dm_for(fake_file, "imu2pressure", channels=picked)
    assert dm.data_spec["input_channels"] == picked
    full = dm_for(fake_file, "imu2pressure")
    # the same raw values, wherever the channel sits
    row = full.dataset("test").rows[0]
    a = full.task.load(row)["x"][QIAN_CHANNELS_18.index("R_KNEE_flex")]
    b = dm.task.load(row)["x"][0]
    np.testing.assert_allclose(a, b)


def test_random_stance_split_is_named_and_leaks_subjects(fake_file):
    with pytest.warns(UserWarning, match="same subject in train and test"):
        dm = dm_for(fake_file, "imu2pressure", split="random_stance", n_folds=10)
    n = len(dm.samples)
    assert len(dm.dataset("test")) == int(np.ceil(0.3 * n))
    assert subjects_of(dm, "train") & subjects_of(dm, "test")
    all_rows = np.concatenate([dm.split.train, dm.split.val, dm.split.test])
    assert sorted(all_rows.tolist()) == list(range(n))


def test_label_fraction_subsamples_training_only(fake_file):
    full, tenth = dm_for(fake_file, "imu2grf"), dm_for(fake_file, "imu2grf", label_fraction=0.1)
    assert len(tenth.dataset("train")) == int(np.ceil(0.1 * len(full.dataset("train"))))
    assert len(tenth.dataset("test")) == len(full.dataset("test"))
    assert set(tenth.split.train) <= set(full.split.train)


def test_statistics_travel_with_the_checkpoint(fake_file):
    trained = dm_for(fake_file, "imu2grf", fold=0)
    other = dm_for(fake_file, "imu2grf", fold=2)
    before = other.dataset("test")[0]["x"].copy()
    other.load_state_dict(trained.state_dict())
    np.testing.assert_array_equal(other.stats["x_mean"], trained.stats["x_mean"])
    assert not np.allclose(other.dataset("test")[0]["x"], before)  # datasets use the restored stats


def test_clean_targets_and_noise_floor_key(fake_file):
    dm = dm_for(fake_file, "imu2grf", include_clean=True)
    batch = next(iter(dm.test_dataloader()))
    assert batch["y_clean"].shape == batch["y"].shape


def test_missing_modality_fails_at_setup_naming_task_and_modality(tmp_path):
    path = make_fake_recording(tmp_path / "no_pressure.h5", n_subjects=3, pressure=False)
    with pytest.raises(DataError, match=r"imu2pressure.*pressure/right"):
        GaitDataModule(str(path), task="imu2pressure")
    path = make_fake_recording(tmp_path / "no_grf.h5", n_subjects=3, grf=False)
    with pytest.raises(DataError, match=r"imu2grf.*grf/right"):
        GaitDataModule(str(path), task="imu2grf")


def test_bad_options_are_named(fake_file):
    with pytest.raises(DataError, match="task: expected one of"):
        GaitDataModule(str(fake_file), task="imu2moon")
    with pytest.raises(DataError, match=r"channel R_EAR_acc_x"):
        GaitDataModule(str(fake_file), task="imu2grf", channels=["R_EAR_acc_x"])
    with pytest.raises(DataError, match="n_folds: expected 2..7"):
        dm_for(fake_file, "imu2grf", n_folds=9)
    with pytest.raises(DataError, match="imus: expected names from"):
        GaitDataModule(str(fake_file), task="imu2grf", imus=["HEAD"])


def test_any_grid_imu_subset_and_keypoint_count(tmp_path):
    kps = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ankle", "right_ankle", "nose")
    path = make_fake_recording(tmp_path / "odd.h5", n_subjects=4, grid=(20, 9),
                               imu_channels=IMU_CHANNELS_48[18:24] + IMU_CHANNELS_48[42:48], keypoints=kps)
    dm = dm_for(path, "insole2pose", n_folds=2)
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape[-2:] == (20, 9) and batch["y"].shape[1:] == (7, 3)
    dm = dm_for(path, "imu2grf", n_folds=2, imus=["R_FOOT"])
    assert next(iter(dm.train_dataloader()))["x"].shape[1] == 6


def test_pose_targets_are_pelvis_relative_and_shoulder_aligned(fake_file):
    dm = dm_for(fake_file, "insole2pose")
    y = dm.dataset("test")[0]["y"]
    names = dm.data_spec["keypoint_names"]
    hips = y[[names.index("left_hip"), names.index("right_hip")]]
    np.testing.assert_allclose(hips[:, :2].mean(axis=0), 0, atol=1e-5)
    shoulders = y[names.index("right_shoulder")] - y[names.index("left_shoulder")]
    assert abs(shoulders[1]) < 1e-5 and shoulders[0] > 0
