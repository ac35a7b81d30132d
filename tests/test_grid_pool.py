"""`grid_pool`: the insole resolution ablation (Han et al.: 30 x 22 -> 15 x 11, 8 x 6, 4 x 3)."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.datamodule import GaitDataModule
from datamodules.errors import DataError
from datamodules.tasks.insole2pose import pool_grid, pooled_shape
from zoo.cli import main as zoo_main

from fake_recordings import make_fake_recording


def test_pooling_averages_blocks_and_keeps_partial_edge_blocks_by_hand():
    x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float32)
    expected = np.array([[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9]], dtype=np.float32)
    assert np.array_equal(pool_grid(x, 2), expected)
    assert pool_grid(x, 2).dtype == np.float32
    assert pool_grid(x, 1) is x
    assert np.array_equal(pool_grid(x, 3), [[45 / 9]])
    # leading axes (feet, frames) pass through; a grid k divides keeps its mean pressure exactly
    frames = np.random.default_rng(0).random((2, 5, 32, 16)).astype(np.float32)
    pooled = pool_grid(frames, 4)
    assert pooled.shape == (2, 5, 8, 4)
    assert np.allclose(pooled.mean(axis=(-2, -1)), frames.mean(axis=(-2, -1)), atol=1e-6)


@pytest.mark.parametrize("k, shape", [(1, (30, 22)), (2, (15, 11)), (4, (8, 6)), (8, (4, 3))])
def test_the_papers_grid_sizes(k, shape):
    assert pooled_shape((30, 22), k) == shape
    assert pool_grid(np.zeros((30, 22), np.float32), k).shape == shape


@pytest.fixture(scope="module")
def insoles(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("pool") / "insoles.h5", n_subjects=4, seconds=8.0,
                               grid=(12, 6), imu_channels=(), joint_angles=False)


def test_the_datamodule_serves_pooled_frames_and_says_so(insoles):
    full = GaitDataModule(str(insoles), task="insole2pose", n_folds=2, frames=4, frame_stride=5, pose_stride=20)
    pooled = GaitDataModule(str(insoles), task="insole2pose", n_folds=2, frames=4, frame_stride=5, pose_stride=20,
                            grid_pool=4)
    full.setup()
    pooled.setup()
    assert pooled.spec.input_shape == (2, 4, 3, 2) and pooled.spec.grid == (3, 2)
    assert pooled.spec.cell_size_cm == pytest.approx([4 * c for c in full.spec.cell_size_cm])
    assert "grid_pool 4: each 4 x 4 block of insole cells averaged, 12 x 6 -> 3 x 2 cells" in pooled.notes
    raw = full.task.load(full.samples[0])["x"]
    assert np.allclose(pooled.task.load(pooled.samples[0])["x"], pool_grid(raw, 4))
    assert not any("grid_pool" in n for n in full.notes)


def test_grid_pool_is_refused_where_the_input_is_no_grid_and_below_one(insoles):
    with pytest.raises(DataError, match=r"grid_pool: only tasks whose input is a pressure grid .*'insole2pose'.* "
                                        r"found grid_pool=2 with task 'landmarks2pressure'"):
        GaitDataModule(str(insoles), task="landmarks2pressure", grid_pool=2)
    with pytest.raises(DataError, match=r"grid_pool: expected an integer >= 1, found 0"):
        GaitDataModule(str(insoles), task="insole2pose", grid_pool=0)


def test_a_pooled_insole_model_trains_through_the_cli(insoles, tmp_path):
    args = ["--model", "insole_pose_cnn", f"--data.path={insoles}", "--data.task=insole2pose", "--data.n_folds=2",
            "--data.frames=4", "--data.frame_stride=5", "--data.grid_pool=2", "--data.batch_size=8",
            "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"]
    assert zoo_main(["fit", *args]) == 0


def test_the_export_sidecar_gives_the_frame_hop_and_the_pooling(insoles):
    from zoo.deploy.export import window_info

    dm = GaitDataModule(str(insoles), task="insole2pose", n_folds=2, frames=4, window_s=0.3, grid_pool=4)
    info = window_info(dm.spec, dict(dm.hparams))
    assert info == {"kind": "frames", "frames": 4, "frame_stride": 10, "grid_pool": 4}  # 0.3 s / 3 hops at 100 Hz
