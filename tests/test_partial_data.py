"""Tasks on partial data, as real recordings hold it: vertical-only or both-feet-total force, a 2-channel
accelerometer, 13 keypoints at 8 Hz with gaps. Every fallback is a note, every absence a one-line error, and no
metric is reported for data that are not there."""

from __future__ import annotations

import json

import h5py
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml

import zoo
from datamodules.cli import main as data_main
from datamodules.datamodule import GaitDataModule
from datamodules.errors import DataError
from datamodules.recording import Recording, RecordingWriter
from datamodules.tasks.insole2pose import frame_stride_at
from datamodules.validate import validate_file
from zoo.bench.runner import main as bench_main
from zoo.cli import main as zoo_main
from zoo.registry import get_model_class

from fake_recordings import make_fake_recording

ML_AP = ("r_ml", "r_ap", "rmse_ml", "rmse_ap")
ACC_2CH = ["PELVIS_acc_x", "PELVIS_acc_z"]  # a sacral accelerometer with two axes
KEYPOINTS_13 = ("head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("partial") / "full.h5", n_subjects=4, seconds=6.0)


def strip(source, dest, *args: str):
    assert data_main(["strip", str(source), str(dest), *args]) == 0
    assert validate_file(dest) == []
    return dest


@pytest.fixture(scope="module")
def vertical(full, tmp_path_factory):
    return strip(full, tmp_path_factory.mktemp("v") / "vertical.h5", "--drop", "geometry", "events",
                 "--grf-axes", "vertical")


@pytest.fixture(scope="module")
def total(full, tmp_path_factory):
    """What a treadmill gives: the vertical force on both feet summed."""
    return strip(full, tmp_path_factory.mktemp("t") / "total.h5", "--grf-total", "replace", "--grf-axes", "vertical")


def test_strip_writes_axis_subsets_and_the_total_force(full, vertical, total):
    with Recording(full) as rec:
        source = rec.read_trial("S01", "T01")
    with Recording(vertical) as rec:
        info = rec.trial_info("S01", "T01")
        assert dict(info.grf_axes) == {"left": ("vertical",), "right": ("vertical",)}
        assert not info.event_feet and not rec.subject("S01").geometry
        np.testing.assert_allclose(rec.read_trial("S01", "T01").grf["right"][:, 0], source.grf["right"][:, 2])
    with Recording(total) as rec:
        info = rec.trial_info("S01", "T01")
        assert dict(info.grf_axes) == {"total": ("vertical",)} and info.grf_feet == ()
        np.testing.assert_allclose(rec.read_trial("S01", "T01").grf["total"][:, 0],
                                   source.grf["left"][:, 2] + source.grf["right"][:, 2], rtol=1e-6)
        assert "grf/total (replace)" in rec.attrs["stripped"]


def test_a_vertical_only_and_a_total_force_import_from_named_columns(tmp_path):
    from datamodules.importers import trial_from_arrays

    vertical = np.array([0.0, 500.0, 700.0, 0.0])
    trial = trial_from_arrays("T01", 100.0, {"grf_left_vertical": vertical, "grf_total_vertical": 2 * vertical,
                                             "grf_total_ap": vertical / 10})
    assert trial.grf_axes == {"left": ("vertical",), "total": ("ap", "vertical")}
    np.testing.assert_allclose(trial.grf["total"], np.stack([vertical / 10, 2 * vertical], axis=1))


def test_irregular_time_stamps_are_reported_at_import():
    from datamodules.importers import trial_from_arrays

    time = np.arange(50) / 8.0
    time[20:] += 0.0625  # one interval of 0.1875 s instead of 0.125 s (a dropped half-frame)
    trial = trial_from_arrays("T01", None, {"time": time, "grf_right_vertical": np.zeros(50)})
    assert trial.sample_rate_hz == 8.0
    assert trial.attrs["time_irregularity"].startswith(
        "column 'time': 1 of 49 sample intervals differ from the median 0.125 s by more than 10% (largest 0.1875 s "
        "after sample 19)")


def run_suite(path, out, tmp_path):
    suite = {"name": "partial", "dataset": str(path), "folds": 2, "run_folds": [0], "seeds": [0], "wandb": False,
             "data": {"batch_size": 16, "stats_samples": 100, **({"grf_target": "total"} if "total" in path.name else {})},
             "trainer": {"max_epochs": 1, "limit_train_batches": 2},
             "tasks": {"imu2grf": {"models": ["tcn", "ridge"]}}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    assert bench_main([str(tmp_path / "suite.yaml"), "--out", str(out)]) == 0
    return [json.loads(p.read_text()) for p in sorted(out.glob("cells/*/metrics.json"))]


@pytest.mark.parametrize("kind", ["vertical", "total"])
def test_vertical_only_and_total_force_train_and_report_no_ml_ap_metric(kind, vertical, total, tmp_path):
    records = run_suite({"vertical": vertical, "total": total}[kind], tmp_path / "out", tmp_path)
    assert len(records) == 2 and {r["status"] for r in records} == {"ok"}
    for r in records:
        metrics = r["metrics"]
        assert np.isfinite(metrics["r_vertical"]) and np.isfinite(metrics["rmse_vertical"])
        assert not [m for m in metrics if m.removesuffix("_sd") in ML_AP]
        if kind == "total":  # stride quantities are per foot: left out, and the target is the summed force
            assert "vgrf_peak1_mae" not in metrics and "strides" not in metrics
        else:
            assert "vgrf_peak1_mae" in metrics and "peak_braking_mae" not in metrics
        assert any("axes ['vertical']" in n for n in r["notes"])
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "r_vertical" in board and not any(m in board for m in ML_AP)


def test_the_total_force_of_every_axis_is_scored_on_every_axis(full, tmp_path):
    path = strip(full, tmp_path / "total3.h5", "--grf-total", "add")
    dm = GaitDataModule(str(path), task="imu2grf", grf_target="total", n_folds=2, stats_samples=50)
    assert dm.spec.target_names == ("ml", "ap", "vertical") and dm.spec["grf_target"] == "total"
    metrics = dm.task.build_metrics(dm.spec)
    assert set(metrics.keys()) == {"test/grf"}  # no per-foot stride entry
    assert GaitDataModule(str(path), task="imu2grf").task.target_arrays(dm.task.ctx.trials[0]) == ["grf/right"]


def test_a_missing_target_names_what_the_file_holds(full, total):
    with pytest.raises(DataError, match=r"missing: grf/total; found: grf/left, grf/right"):
        GaitDataModule(str(full), task="imu2grf", grf_target="total")
    with pytest.raises(DataError, match=r"missing: grf/right; found: grf/total \(use --data.grf_target total\)"):
        GaitDataModule(str(total), task="imu2grf")
    with pytest.raises(DataError, match=r"grf_axes: expected axes .* including 'vertical'"):
        GaitDataModule(str(full), task="imu2grf", grf_axes=["ap"])


def test_nan_or_zero_filled_axes_are_refused_with_a_hint_and_train_when_left_out(full, tmp_path):
    path = tmp_path / "nan.h5"
    path.write_bytes(full.read_bytes())
    with h5py.File(path, "r+") as f:
        for sid in f["subjects"]:
            for tid in f[f"subjects/{sid}/trials"]:
                for group in ("", "clean/"):
                    ds = f[f"subjects/{sid}/trials/{tid}/{group}grf/right"]
                    ds[:, :2] = np.nan  # ML and AP not measured
    dm = GaitDataModule(str(path), task="imu2grf", n_folds=2, stats_samples=50)
    with pytest.raises(DataError, match=r"channel ml\).*not filled with NaN"):
        dm.setup()
    dm = GaitDataModule(str(path), task="imu2grf", n_folds=2, stats_samples=50, grf_axes=["vertical"])
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["y"].shape[1] == 1 and torch.isfinite(batch["y"]).all()
    path = tmp_path / "zero.h5"
    path.write_bytes(full.read_bytes())
    with h5py.File(path, "r+") as f:  # zeros instead: would score rmse_ml 0.0000, the "best" of any board
        for sid in f["subjects"]:
            for tid in f[f"subjects/{sid}/trials"]:
                f[f"subjects/{sid}/trials/{tid}/grf/right"][:, :2] = 0.0
    with pytest.raises(DataError, match=r"grf/right axes \['ml', 'ap'\] are constant \(\[0.0, 0.0\] BW\)"):
        GaitDataModule(str(path), task="imu2grf", n_folds=2, stats_samples=50).setup()


IMU2GRF_MODELS = [name for name in zoo.list_models() if "imu2grf" in get_model_class(name).supported_tasks]


@pytest.fixture(scope="module")
def accelerometer(full, tmp_path_factory):
    path = strip(full, tmp_path_factory.mktemp("acc") / "acc.h5", "--channels", *ACC_2CH, "--drop", "joint_angles")
    dm = GaitDataModule(str(path), task="imu2grf", n_folds=2, batch_size=8, stats_samples=100, window=64)
    dm.setup()
    return dm


@pytest.mark.parametrize("name", IMU2GRF_MODELS)
def test_a_two_channel_accelerometer_trains_every_imu2grf_model(name, accelerometer):
    dm = accelerometer
    assert dm.spec.input_channels == tuple(ACC_2CH)  # what the file holds, said in a note
    assert any("holds 2 of the 48 default IMU channels" in n for n in dm.notes)
    torch.manual_seed(0)
    model = zoo.create_model(name, data_spec=dm.data_spec, preset="small")
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, max_epochs=1, limit_train_batches=1, limit_val_batches=0,
                         limit_test_batches=2)
    trainer.fit(model, datamodule=dm)
    results = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert np.isfinite(results["test/r_vertical"]) and np.isfinite(results["test/rmse_ap"])


def test_the_imus_option_keeps_one_sensor_through_the_cli(full, tmp_path):
    assert zoo_main(["fit", "--model", "tcn", f"--data.path={full}", "--data.task=imu2grf", "--data.n_folds=2",
                         "--data.imus=[PELVIS]", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                         "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false",
                         f"--trainer.default_root_dir={tmp_path}"]) == 0


# -- insole2pose -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pose8(tmp_path_factory):
    """13 keypoints (a `head`, no feet) at 8 Hz, with a run of untracked pose frames in S01/T01."""
    path = make_fake_recording(tmp_path_factory.mktemp("pose") / "pose8.h5", n_subjects=4, seconds=40.0, rate=8.0,
                               grid=(12, 6), keypoints=KEYPOINTS_13, imu_channels=(), joint_angles=False)
    with h5py.File(path, "r+") as f:
        f["subjects/S01/trials/T01/keypoints"][100:112] = np.nan
    return path


def test_the_default_window_keeps_its_span_in_seconds():
    assert frame_stride_at({"frames": 40}, 100.0) == 7  # the paper setting: 40 frames 7 samples apart at 100 Hz
    assert frame_stride_at({"frames": 8, "window_s": 3.5}, 8.0) == 4
    assert frame_stride_at({"frames": 8, "window_s": 3.5}, 100.0) == 50
    with pytest.raises(DataError, match=r"40 frames at 8 Hz span at least 4.88 s .* --data.window_s >= 4.88"):
        frame_stride_at({"frames": 40}, 8.0)


def test_insole2pose_at_8_hz_reports_gaps_and_the_body_part_map(pose8, capsys):
    dm = GaitDataModule(str(pose8), task="insole2pose", n_folds=2, frames=8, window_s=3.5, batch_size=16)
    dm.setup()
    notes = "\n".join(dm.notes)
    assert "window_s 3.5 s -> 8 Hz: frame_stride 4, 8 frames span 3.50 s" in notes
    assert "S01/T01: 12 of 320 pose frames lack keypoints (NaN) in 1 run(s), longest 12 frames (samples 100..111)" \
        in notes
    assert "keypoints in no part (scored in mpjpe_cm only): head" in notes
    assert "insole2pose: note: S01/T01: 12 of 320" in capsys.readouterr().err
    centres = dm.samples["start"] + 4 * 4
    s01t01 = dm.samples["trial"] == 0
    assert s01t01.any() and not ((centres[s01t01] >= 100) & (centres[s01t01] <= 111)).any()
    assert dm.spec.keypoint_names == KEYPOINTS_13 and "head" not in dm.spec["body_parts"]


def test_insole2pose_with_13_keypoints_at_8_hz_trains_through_the_cli_with_a_user_body_part_map(pose8, tmp_path):
    parts = json.dumps({"head": ["head"], "arms": ["left_wrist", "right_wrist"]})
    args = ["--model", "insole_pose_cnn", f"--data.path={pose8}", "--data.task=insole2pose", "--data.n_folds=2",
            "--data.frames=8", "--data.window_s=3.5", f"--data.body_parts={parts}", "--data.batch_size=16",
            "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"]
    assert zoo_main(["fit", *args]) == 0
    dm = GaitDataModule(str(pose8), task="insole2pose", n_folds=2, frames=8, window_s=3.5,
                        body_parts={"head": ["head"], "arms": ["left_wrist", "right_wrist"]})
    assert set(dm.task.build_metrics(dm.spec)["test/mpjpe"].part_keypoints) == {"head", "arms"}
    with pytest.raises(DataError, match=r"body_parts: every keypoint must be in the file; missing: \['nose'\]"):
        GaitDataModule(str(pose8), task="insole2pose", frames=8, window_s=3.5, body_parts={"head": ["nose"]})
    with pytest.raises(DataError, match=r"--data.window_s >= 4.88 or --data.frames <= 22"):
        GaitDataModule(str(pose8), task="insole2pose")


def test_mixed_rates_are_reported_and_keep_the_same_span(pose8, tmp_path):
    fast = make_fake_recording(tmp_path / "fast.h5", n_subjects=2, seconds=8.0, rate=100.0, grid=(12, 6),
                               keypoints=KEYPOINTS_13, imu_channels=(), joint_angles=False)
    mixed = tmp_path / "mixed.h5"
    with RecordingWriter(mixed, dataset_name="mixed", synthetic=True) as w:
        for path, sids in ((pose8, ("S01", "S02")), (fast, ("S01", "S02"))):
            with Recording(path) as rec:
                for sid in sids:
                    subject = rec.subject(sid)
                    subject.subject_id = f"{sid}_{int(rec.trial_info(sid, 'T01').sample_rate_hz)}hz"
                    w.add_subject(subject)
                    for tid in rec.trial_ids(sid):
                        w.add_trial(subject.subject_id, rec.read_trial(sid, tid))
    dm = GaitDataModule(str(mixed), task="insole2pose", n_folds=2, frames=8, window_s=3.5)
    notes = "\n".join(dm.notes)
    assert "trials at mixed sample rates (8 Hz: S01_8hz/T01" in notes and "100 Hz: S01_100hz/T01" in notes
    assert "8 Hz: frame_stride 4, 8 frames span 3.50 s; 100 Hz: frame_stride 50, 8 frames span 3.50 s" in notes


def test_trials_the_default_activity_leaves_out_are_reported_not_dropped_silently(tmp_path):
    path = make_fake_recording(tmp_path / "mixed.h5", n_subjects=4, trials=("walk", "run", "run"), seconds=4.0)
    dm = GaitDataModule(str(path), task="imu2grf", n_folds=2)
    assert ("task 'imu2grf' uses activities ['walk'] by default; left out 8 trials of other activities (run: 8); "
            "choose with --data.activities") in dm.notes
    chosen = GaitDataModule(str(path), task="imu2grf", n_folds=2, activities=["walk"])
    assert not any("left out" in n for n in chosen.notes)
