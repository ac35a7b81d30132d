"""Streaming inference (`zoo.deploy.stream`, `zoo predict-stream`): samples pushed one at a time give exactly
the offline predictions on the same recording, with numpy + onnxruntime and no torch import.

The ONNX models are small networks with random weights exported here (what is checked is the streaming
machinery, not accuracy); the recording is a 20 s simulated walk (synthetic).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from datamodules.naming import IMU_CHANNELS_48
from datamodules.recording import Recording
from datamodules.tasks import get_task
from zoo.deploy.export import export_model

ROOT = Path(__file__).resolve().parents[1]
FEET = tuple(c for c in IMU_CHANNELS_48 if c.startswith(("L_FOOT", "R_FOOT")))


def export_random(name: str, spec, out: Path, data: dict | None = None) -> Path:
    torch.manual_seed(0)
    model = zoo.create_model(name, data_spec=spec.to_dict(), preset="small").eval()
    model.set_target_stats(torch.rand(spec.target_shape), 0.5 + torch.rand(spec.target_shape))
    shape = (spec.input_shape[0], 1)
    stats = {"x_mean": np.zeros(shape, np.float32), "x_std": np.full(shape, 2.0, np.float32),
             "mass_mean": np.float32([70.0]), "mass_std": np.float32([10.0])}
    export_model(model, stats, out, "onnx", data=data)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    grf = get_task("imu2grf").default_spec().replace(input_channels=FEET, input_shape=[12, 32], target_shape=[3, 32])
    pressure = get_task("imu2pressure").default_spec(grid=(8, 4)).replace(input_shape=[18, 21],
                                                                          target_shape=[21, 8, 4])
    return {"grf": export_random("tcn", grf, root / "grf.onnx", {"window_stride": 12}),
            "pressure": export_random("tcn", pressure, root / "pressure.onnx")}


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    from datamodules.simulator import generate_dataset

    path = generate_dataset(tmp_path_factory.mktemp("walk") / "walk.h5", preset="tiny", seed=1,
                            activities=["walk"], duration_s=20.0)
    return Path(path)


def trial_array(path: Path, channels) -> tuple[np.ndarray, float]:
    from zoo.deploy.stream import read_recording

    x, info = read_recording(path, list(channels), rate=100.0)
    return x, info["body_mass_kg"]


def test_window_stream_equals_offline(models, walk):
    from zoo.deploy.stream import load_stream, predict_offline, run_stream

    meta = json.loads(Path(str(models["grf"]) + ".json").read_text())
    assert meta["window"] == {"kind": "sliding", "length": 32, "hop": 12}
    x, _ = trial_array(walk, FEET)
    index, offline = predict_offline(models["grf"], x)
    emitted = list(run_stream(load_stream(models["grf"]), x))
    streamed_index = np.asarray([k for k, _ in emitted])
    streamed = np.stack([v for _, v in emitted])
    n_windows = (len(x) - 32) // 12 + 1
    assert index[0] == 0 and index[-1] == (n_windows - 1) * 12 + 31  # covered samples only, none invented
    np.testing.assert_array_equal(streamed_index, index)
    np.testing.assert_allclose(streamed, offline, rtol=1e-6, atol=1e-6)
    # a sample seen by two windows is their mean: check one against the windows themselves
    from zoo.deploy.stream import OnnxModel

    model = OnnxModel(models["grf"])
    first, second = model(x[None, 0:32].transpose(0, 2, 1)), model(x[None, 12:44].transpose(0, 2, 1))
    np.testing.assert_allclose(offline[20], (first[0, :, 20] + second[0, :, 8]) / 2, rtol=1e-5, atol=1e-6)


def test_stance_stream_equals_offline(models, walk):
    from zoo.deploy.stream import load_stream, predict_offline, run_stream

    meta = json.loads(Path(str(models["pressure"]) + ".json").read_text())
    assert meta["window"]["detector"] == {"gyro_channel": "R_SHANK_gyr_y", "preset": "shank"}
    x, mass = trial_array(walk, meta["inputs"][0]["channels"])
    offline = predict_offline(models["pressure"], x, body_mass_kg=mass)
    streamed = list(run_stream(load_stream(models["pressure"], body_mass_kg=mass), x))
    assert len(offline) >= 12  # about one right stance per 1.1 s stride in 20 s
    assert [(s.heel_strike, s.toe_off) for s in streamed] == [(s.heel_strike, s.toe_off) for s in offline]
    for a, b in zip(streamed, offline):
        assert a.y.shape == (21, 8, 4)
        np.testing.assert_allclose(a.y, b.y, rtol=1e-6, atol=1e-6)
    # the detector finds the simulator's true right-foot stances (within two samples)
    with Recording(walk) as rec:
        t = rec.trials()[0]
        true_hs = rec.events(t.subject_id, t.trial_id, "right")["heel_strike"]
    found = np.asarray([s.heel_strike for s in streamed])
    assert np.median(np.min(np.abs(found[:, None] - true_hs[None, :]), axis=1)) <= 2


def test_stance_stream_emits_with_bounded_lookahead(models, walk):
    """Each stance is out once its toe-off is `lookahead_s` old, not at the end of the recording."""
    from zoo.deploy.stream import load_stream

    meta = json.loads(Path(str(models["pressure"]) + ".json").read_text())
    x, mass = trial_array(walk, meta["inputs"][0]["channels"])
    stream = load_stream(models["pressure"], body_mass_kg=mass, lookahead_s=1.0, every_s=0.1)
    delays = []
    for i, sample in enumerate(x):
        for stance in stream.push(sample):
            delays.append(i - stance.toe_off)
    assert delays and max(delays) <= 100 + 10 + 1  # look-ahead plus one detection period (samples at 100 Hz)


def run_clean(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_stream_api_and_cli_import_no_torch(models, walk, tmp_path):
    code = f"""
import sys
from zoo.deploy.stream import load_stream, read_recording, run_stream
from zoo.cli import main
stream = load_stream({str(models['grf'])!r})
x, _ = read_recording({str(walk)!r}, stream.model.channels, rate=100.0)
n = len(list(run_stream(stream, x[:200])))
assert main(["predict-stream", {str(models['pressure'])!r}, "--recording", {str(walk)!r},
             "--out", {str(tmp_path / 'p.npz')!r}]) == 0
print("emitted", n, "torch" in sys.modules, "lightning" in sys.modules)
"""
    done = run_clean(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "emitted 200 False False" in done.stdout, done.stdout  # windows at 0, 12, ..., 168 cover all 200
    assert "torch imported: False" in done.stdout
    saved = np.load(tmp_path / "p.npz")
    assert saved["y"].shape[1:] == (21, 8, 4) and len(saved["heel_strike"]) == len(saved["y"]) >= 12


def test_predict_stream_errors_name_what_is_missing(models, walk, tmp_path, capsys):
    from zoo.cli import main

    assert main(["predict-stream", str(models["grf"]), "--recording", str(walk), "--imus", "R_FOOT"]) == 2
    assert "--imus: the model reads IMUs ['L_FOOT', 'R_FOOT']" in capsys.readouterr().err
    csv = tmp_path / "only_right.csv"
    csv.write_text("R_FOOT_acc_x,R_FOOT_acc_y\n1,2\n")
    assert main(["predict-stream", str(models["grf"]), "--recording", str(csv)]) == 2
    assert "missing: columns ['R_FOOT_acc_z', 'L_FOOT_acc_x'" in capsys.readouterr().err
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(Path(models["grf"]).read_bytes())
    assert main(["predict-stream", str(lonely), "--recording", str(walk)]) == 2
    assert "missing: its sidecar lonely.onnx.json" in capsys.readouterr().err


@pytest.mark.realdata
def test_predict_stream_on_the_gaitmap_recording_foot_imus_only(models, shared_data, tmp_path):
    """The real gaitmap walk (two foot IMUs, 204.8 Hz, deg/s) imported to the recording format at 100 Hz, then
    streamed through a foot-IMU imu2grf model with onnxruntime in a process that never imports torch."""
    from zoo.cli import main

    assert (shared_data / "gaitmap_example" / "imu_sample.csv").is_file()
    h5 = tmp_path / "gaitmap.h5"
    assert main(["data", "import", str(ROOT / "examples" / "gaitmap_import"), "--resample-hz", "100",
                 "--out", str(h5)]) == 0
    out = tmp_path / "grf.npz"
    done = run_clean(f"""
import sys
from zoo.cli import main
code = main(["predict-stream", {str(models['grf'])!r}, "--recording", {str(h5)!r}, "--imus", "L_FOOT,R_FOOT",
             "--out", {str(out)!r}])
assert code == 0, code
assert "torch" not in sys.modules and "lightning" not in sys.modules
""")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch imported: False" in done.stdout
    assert "on gaitmap01/walk: 3872 samples at 100 Hz" in done.stdout, done.stdout
    y = np.load(out)["y"]
    assert y.shape == ((3872 - 32) // 12 * 12 + 32, 3) and np.isfinite(y).all()
