"""The shared DataModule: splits, statistics, batch contract, worker loading, clear errors."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
import torch

from datamodules import store
from datamodules.datamodule import GaitDataModule
from datamodules.errors import DataError
from datamodules.naming import IMU_CHANNELS_48, QIAN_CHANNELS_18
from datamodules.tasks import input_channel_count

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


ALL_TASKS = ["imu2pressure", "imu2grf", "landmarks2pressure", "insole2pose", "pretrain"]
PARITY_BATCHES = 4


def first_batches(loader, n: int = PARITY_BATCHES) -> list[dict]:
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == n:
            break
    return out


def assert_same_batches(serial: list[dict], workers: list[dict]) -> None:
    assert len(serial) == len(workers) == PARITY_BATCHES
    for a, b in zip(serial, workers, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("task", ALL_TASKS)
def test_worker_loading_gives_the_same_batches(fake_file, task):
    """Two lazily reading workers (one HDF5 handle each) serve exactly what one cached process serves."""
    serial = dm_for(fake_file, task, num_workers=0, cache=True, stats_samples=100)
    workers = dm_for(fake_file, task, num_workers=2, cache=False, stats_samples=100)
    assert not workers.store.cache and serial.store.cache
    assert_same_batches(first_batches(serial.test_dataloader()), first_batches(workers.test_dataloader()))


def test_worker_loading_gives_the_same_seeded_shuffled_training_batches(fake_file):
    serial = dm_for(fake_file, "imu2grf", num_workers=0, seed=3)
    workers = dm_for(fake_file, "imu2grf", num_workers=2, cache=False, seed=3)
    a, b = first_batches(serial.train_dataloader()), first_batches(workers.train_dataloader())
    assert_same_batches(a, b)
    in_order = torch.from_numpy(np.stack([serial.dataset("train")[i]["x"] for i in range(4)]))
    assert not torch.equal(a[0]["x"], in_order)  # the training loader really shuffles ...
    other_seed = first_batches(dm_for(fake_file, "imu2grf", seed=4).train_dataloader(), 1)
    assert not torch.equal(a[0]["x"], other_seed[0]["x"])  # ... in an order set by the seed


def test_lazy_reading_keeps_nothing_in_memory(fake_file):
    dm = dm_for(fake_file, "insole2pose", cache=False, stats_samples=100)
    next(iter(dm.train_dataloader()))
    assert dm.store._memory == {}
    cached = dm_for(fake_file, "insole2pose", cache=True, stats_samples=100)
    np.testing.assert_array_equal(dm.dataset("test")[3]["x"], cached.dataset("test")[3]["x"])


def test_auto_cache_decides_on_the_uncompressed_arrays_the_task_reads(fake_file, monkeypatch):
    trials, samples = 7 * 2, 800  # 7 subjects x 2 walking trials of 8 s at 100 Hz, float32 throughout
    reads = trials * samples * (48 + 3) * 4  # imu2grf reads imu [T, 48] and grf/right [T, 3]
    monkeypatch.setattr(store, "available_memory_bytes", lambda: 4 * reads)  # a quarter is exactly enough
    dm = GaitDataModule(str(fake_file), task="imu2grf")
    assert dm.cache_bytes() == reads and dm.store.cache
    monkeypatch.setattr(store, "available_memory_bytes", lambda: 4 * reads - 4)  # one float short
    assert not GaitDataModule(str(fake_file), task="imu2grf").store.cache
    assert GaitDataModule(str(fake_file), task="imu2grf", cache=True).store.cache  # explicit choices stand
    # the clean copies of the target count when they are served too
    assert GaitDataModule(str(fake_file), task="imu2grf", include_clean=True).cache_bytes() == \
        reads + trials * samples * 3 * 4
    assert GaitDataModule(str(fake_file), task="imu2grf", target="clean").cache_bytes() == reads
    # insole2pose reads both insoles [T, 12, 6] and the keypoints [T, 19, 3]
    assert GaitDataModule(str(fake_file), task="insole2pose").cache_bytes() == \
        trials * samples * (2 * 12 * 6 + 19 * 3) * 4
    monkeypatch.setattr(store, "available_memory_bytes", lambda: None)  # unknown memory: stream
    assert not GaitDataModule(str(fake_file), task="imu2grf").store.cache


def test_auto_cache_budget_is_a_fraction_of_available_memory():
    assert store.CACHE_RAM_FRACTION == 0.25
    assert store.auto_cache(100, available=400) and not store.auto_cache(101, available=400)
    assert store.resolve_cache("auto", lambda: 100) == store.auto_cache(100)
    assert store.resolve_cache(False, lambda: 0) is False and store.resolve_cache(True, lambda: 1 << 60) is True
    with pytest.raises(ValueError, match="cache: expected"):
        store.resolve_cache("sometimes", 0)
    available = store.available_memory_bytes()
    assert 0 < available <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _peak_python_bytes(make, batches: int = 3):
    tracemalloc.start()
    try:
        dm = make()
        dm.setup()
        loader = iter(dm.train_dataloader())
        for _ in range(batches):
            next(loader)
        return dm, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_lazy_reading_keeps_memory_far_below_the_uncompressed_pressure(tmp_path, monkeypatch):
    grid, subjects, samples = (48, 32), 4, 800
    path = make_fake_recording(tmp_path / "big.h5", n_subjects=subjects, trials=("walk",), grid=grid, clean=False)
    pressure = subjects * 2 * samples * grid[0] * grid[1] * 4  # both feet, float32: 39 MB uncompressed
    assert path.stat().st_size < pressure / 3  # the compressed file looks small
    monkeypatch.setattr(store, "available_memory_bytes", lambda: pressure)  # a cap of a quarter of the pressure

    def make(cache):
        return GaitDataModule(str(path), task="insole2pose", cache=cache, n_folds=2, batch_size=8, stats_samples=50,
                              **TASK_OPTIONS)

    lazy, lazy_peak = _peak_python_bytes(lambda: make("auto"))
    assert not lazy.store.cache and lazy.store._memory == {}
    cached, cached_peak = _peak_python_bytes(lambda: make(True))
    held = sum(a.nbytes for a in cached.store._memory.values())
    assert held >= pressure / 4 and cached_peak >= held  # the measurement sees cached arrays ...
    assert lazy_peak < pressure / 20  # ... and lazy reading holds a few windows, not the file (about 1 MB here)


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


def test_pretrain_honours_the_imu_subset_exactly_as_imu2grf(fake_file):
    imus = ["R_FOOT", "PELVIS"]
    subset = [c for c in IMU_CHANNELS_48 if c.startswith(("PELVIS", "R_FOOT"))]
    assert subset[:3] == ["PELVIS_acc_x", "PELVIS_acc_y", "PELVIS_acc_z"] and len(subset) == 12
    pre, grf = dm_for(fake_file, "pretrain", imus=imus), dm_for(fake_file, "imu2grf", imus=imus)
    assert pre.data_spec["input_channels"] == grf.data_spec["input_channels"] == subset
    assert pre.data_spec["input_shape"] == pre.data_spec["target_shape"] == [12, 128]
    assert input_channel_count("pretrain", imus=imus) == input_channel_count("imu2grf", imus=imus) == 12
    assert input_channel_count("pretrain") == 48
    assert next(iter(pre.train_dataloader()))["x"].shape == (4, 12, 128)
    # the same raw values as imu2grf for the same window, and those of the full 48-channel layout
    row = grf.dataset("test").rows[0]
    np.testing.assert_array_equal(pre.task.load(row)["x"], grf.task.load(row)["x"])
    full = dm_for(fake_file, "pretrain").task.load(row)["x"]
    np.testing.assert_array_equal(pre.task.load(row)["x"], full[[IMU_CHANNELS_48.index(c) for c in subset]])
    # the SSL encoder takes that subset into its 48-slot layout, substituting the absent IMUs
    from zoo.models.ssl_transformer import SslEncoder

    encoder = SslEncoder(pre.data_spec["input_channels"], 128, d_model=8, layers=1, heads=2, feedforward=8,
                         dropout=0.0)
    assert encoder.n_slots == 48 and encoder.missing_imu is not None
    assert encoder.slot_index.tolist() == [IMU_CHANNELS_48.index(c) for c in subset]


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


@pytest.mark.parametrize("task, lacking, named", [
    ("imu2pressure", dict(pressure=False), r"'imu2pressure' needs pressure/right.*missing: pressure/right.*; found in S01/T01: imu"),
    ("imu2grf", dict(grf=False), r"'imu2grf' needs grf/right.*missing: grf/right.*; found in S01/T01: imu \(48 ch\)"),
    ("landmarks2pressure", dict(pressure=False), r"'landmarks2pressure' needs pressure/<foot>.*missing: pressure/right"),
    ("insole2pose", dict(keypoints=None), r"'insole2pose' needs .*keypoints.*missing: keypoints \(in 3 trials, e\.g\. S01/T01\)"),
    ("pretrain", dict(imu_channels=()), r"'pretrain' needs channels .*missing: channel TRUNK_acc_x, channel TRUNK_acc_y"),
])
def test_missing_modality_fails_at_setup_naming_task_and_modality(tmp_path, task, lacking, named):
    path = make_fake_recording(tmp_path / "lacking.h5", n_subjects=3, trials=("walk",), seconds=3.0, **lacking)
    with pytest.raises(DataError, match=named):
        GaitDataModule(str(path), task=task)
    complete = make_fake_recording(tmp_path / "complete.h5", n_subjects=3, trials=("walk",), seconds=3.0)
    GaitDataModule(str(complete), task=task, **TASK_OPTIONS)  # the same file with the modality is fine


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
