"""Streaming inference on an exported zoo model: numpy, onnxruntime and the sidecar; never torch or lightning.

    from zoo.deploy.stream import load_stream
    stream = load_stream("grf.onnx")                 # reads grf.onnx.json beside it
    for sample in samples:                           # [C] raw values in the sidecar's channel order and units
        for index, y in stream.push(sample):         # per-sample predictions as soon as they are final
            ...
    stream.flush()                                   # what the end of the recording completes

Two kinds, chosen by the sidecar's `window.kind`:

- `sliding` (imu2grf, imu2kinetics): a window of `length` samples every `hop` samples, as in training; each
  window predicts every one of its samples and a sample's prediction is the mean over the windows covering
  it. A sample is emitted once no later window can cover it (at most `length - 1` samples of latency);
  samples after the last full window are never predicted (there is no window for them).
- `stance` (imu2pressure): stances are cut online by the zoo's gait-event detector on the sagittal
  gyroscope the sidecar names (`datamodules.events`, numpy + scipy). The detector filters zero-phase over a
  buffer, so a stance is emitted once its toe-off is `lookahead_s` (default 1.0 s) old: that bounded
  look-ahead lets the trough, the crossings and the filter settle as they do offline. Each stance is
  time-normalised to `length` samples (cubic spline, as in training) and predicted with the body mass.

`predict_offline` runs the same model on a whole recording at once (windows, or stances from the detector on
the whole signal); a test checks the stream reproduces it exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError

STANCE_LIMITS_S = (0.15, 2.5)  # as the imu2pressure task: shorter or longer "stances" are not cut


def read_sidecar(model_path: str | Path) -> dict[str, Any]:
    path = Path(str(model_path) + ".json")
    if not path.is_file():
        raise ZooError(f"{model_path}: missing: its sidecar {path.name} (written by `zoo export`)")
    meta = json.loads(path.read_text())
    if meta.get("format") != "gait-zoo-deploy":
        raise ZooError(f"{path}: expected a gait-zoo-deploy sidecar, found format {meta.get('format')!r}")
    return meta


class OnnxModel:
    """The exported graph in onnxruntime (one thread by default: predictable latency beside other work)."""

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        self.meta = meta if meta is not None else read_sidecar(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    @property
    def channels(self) -> list[str]:
        return list(self.meta["inputs"][0]["channels"])

    def __call__(self, x: np.ndarray, body_mass_kg: np.ndarray | None = None) -> np.ndarray:
        feed = {"x": np.ascontiguousarray(x, dtype=np.float32)}
        if "body_mass_kg" in self.input_names:
            if body_mass_kg is None:
                raise ZooError("model input body_mass_kg: missing: the body mass (kg) of the person")
            feed["body_mass_kg"] = np.asarray(body_mass_kg, dtype=np.float32).reshape(len(x), 1)
        return self.session.run(None, feed)[0]


# -- sliding windows ------------------------------------------------------------------------------
class WindowStream:
    """Per-sample predictions from overlapping windows, averaged where they overlap."""

    def __init__(self, model: OnnxModel) -> None:
        window = model.meta["window"]
        self.model, self.length, self.hop = model, int(window["length"]), int(window["hop"])
        self.n_channels = len(model.channels)
        self.buffer = np.zeros((self.length, self.n_channels), np.float32)  # the last `length` samples (ring)
        self.n = 0  # samples pushed
        self.sums: dict[int, np.ndarray] = {}  # sample index -> summed prediction [F] over covering windows
        self.counts: dict[int, int] = {}
        self.emitted = 0  # samples before this index are final

    def push(self, sample: Sequence[float]) -> list[tuple[int, np.ndarray]]:
        sample = np.asarray(sample, dtype=np.float32).reshape(-1)
        if sample.shape[0] != self.n_channels:
            raise ZooError(f"push: expected {self.n_channels} values ({', '.join(self.model.channels[:4])}, ...), "
                           f"found {sample.shape[0]}")
        self.buffer[self.n % self.length] = sample
        self.n += 1
        start = self.n - self.length
        if start >= 0 and start % self.hop == 0:
            window = np.roll(self.buffer, -(self.n % self.length), axis=0)  # oldest first
            y = self.model(window.T[None])[0].T  # [F, length] per-step vectors -> [length, F]
            for i in range(self.length):
                k = start + i
                self.sums[k] = self.sums.get(k, 0.0) + y[i].astype(np.float64)
                self.counts[k] = self.counts.get(k, 0) + 1
            return self._emit(start + self.hop)
        return []

    def _emit(self, final_before: int) -> list[tuple[int, np.ndarray]]:
        out = []
        while self.emitted < final_before and self.emitted in self.sums:
            k = self.emitted
            out.append((k, (self.sums.pop(k) / self.counts.pop(k)).astype(np.float32)))
            self.emitted += 1
        return out

    def flush(self) -> list[tuple[int, np.ndarray]]:
        return self._emit(self.n)


def window_predictions(model: OnnxModel, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Offline: `x` [T, C] -> (sample indices covered by a window, mean prediction per sample [N, F])."""
    window = model.meta["window"]
    length, hop = int(window["length"]), int(window["hop"])
    starts = np.arange(0, len(x) - length + 1, hop)
    if not len(starts):
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    sums = counts = None
    for i in range(0, len(starts), batch):
        chunk = starts[i:i + batch]
        windows = np.stack([x[s:s + length].T for s in chunk]).astype(np.float32)
        y = model(windows).transpose(0, 2, 1).astype(np.float64)  # [B, F, length] -> [B, length, F]
        if sums is None:
            sums, counts = np.zeros((len(x), y.shape[-1])), np.zeros(len(x))
        for s, yy in zip(chunk, y):
            sums[s:s + length] += yy
            counts[s:s + length] += 1
    covered = np.flatnonzero(counts > 0)
    return covered, (sums[covered] / counts[covered, None]).astype(np.float32)


# -- stances --------------------------------------------------------------------------------------
@dataclass
class StancePrediction:
    heel_strike: int  # sample index of the stance's first sample
    toe_off: int  # its last sample (inclusive, as the imu2pressure task cuts it)
    y: np.ndarray  # the prediction for the time-normalised stance (e.g. [101, H, W] in N/cm^2)


def detector_params(meta: dict[str, Any], sign: float | None = None):
    from datamodules.events import resolve_params

    det = meta["window"].get("detector") or {}
    if not det.get("gyro_channel"):
        raise ZooError("stance detection: missing: a sagittal gyroscope among the model's inputs "
                       "(R_SHANK_gyr_y or R_FOOT_gyr_y)")
    return det["gyro_channel"], resolve_params(det["preset"], sign=sign)


def find_stances(gyro: np.ndarray, rate: float, params) -> list[tuple[int, int]]:
    """(heel strike, toe-off) pairs of one foot, with the task's duration limits."""
    from datamodules.events import detect_gait_events
    from datamodules.tasks.base import stance_pairs

    events = detect_gait_events(gyro, rate, params)
    return [(h, o) for h, o in stance_pairs(events.heel_strike, events.toe_off)
            if STANCE_LIMITS_S[0] <= (o - h) / rate <= STANCE_LIMITS_S[1] and o < len(gyro)]


def predict_stance(model: OnnxModel, x: np.ndarray, hs: int, to: int, body_mass_kg: float) -> np.ndarray:
    from datamodules.preprocessing import time_normalise

    length = int(model.meta["window"]["length"])
    stance = time_normalise(x[hs:to + 1], length, axis=0).T[None].astype(np.float32)
    return model(stance, np.float32([[body_mass_kg]]))[0]


def polarity_sign(gyro: np.ndarray, rate: float, params) -> float:
    """The gyroscope's sign, read once from the signal (or as forced in `params`)."""
    from datamodules.events import check_polarity

    if params.sign:
        return float(params.sign)
    found = check_polarity(gyro, rate, params)
    if found.sign == 0.0:
        raise ZooError(f"stance detection: cannot tell the gyroscope's sign ({found.describe()}); force it with "
                       "--sign 1 or --sign -1")
    return found.sign


class StanceStream:
    """Stances cut online by the gait-event detector over a sliding buffer, emitted with a bounded look-ahead."""

    def __init__(self, model: OnnxModel, body_mass_kg: float, *, sign: float | None = None,
                 lookahead_s: float = 1.0, buffer_s: float = 8.0, every_s: float = 0.25) -> None:
        from dataclasses import replace

        self.model, self.body_mass_kg = model, float(body_mass_kg)
        self.rate = float(model.meta["sample_rate_hz"])
        channel, self.params = detector_params(model.meta, sign)
        self.gyro_index = model.channels.index(channel)
        self.lookahead = int(round(lookahead_s * self.rate))
        self.capacity = int(round(buffer_s * self.rate))
        self.every = max(1, int(round(every_s * self.rate)))
        self.warmup = int(round(2 * self.params.min_stride_s * self.rate))
        self.samples: list[np.ndarray] = []
        self.offset = 0  # absolute index of self.samples[0]
        self.n = 0
        self.last_heel_strike = -1
        self._replace = replace

    def push(self, sample: Sequence[float]) -> list[StancePrediction]:
        sample = np.asarray(sample, dtype=np.float32).reshape(-1)
        if sample.shape[0] != len(self.model.channels):
            raise ZooError(f"push: expected {len(self.model.channels)} values, found {sample.shape[0]}")
        self.samples.append(sample)
        self.n += 1
        if len(self.samples) > self.capacity:
            drop = len(self.samples) - self.capacity
            del self.samples[:drop]
            self.offset += drop
        return self._detect(final=False) if self.n % self.every == 0 else []

    def flush(self) -> list[StancePrediction]:
        return self._detect(final=True)

    def _detect(self, final: bool) -> list[StancePrediction]:
        if len(self.samples) < self.warmup:
            return []
        x = np.stack(self.samples)
        gyro = x[:, self.gyro_index].astype(np.float64)
        if not self.params.sign:  # read once from the first buffer, then kept
            self.params = self._replace(self.params, sign=polarity_sign(gyro, self.rate, self.params))
        out = []
        for hs, to in find_stances(gyro, self.rate, self.params):
            a_hs, a_to = hs + self.offset, to + self.offset
            settled = final or to + self.lookahead < len(x)
            clear_of_start = self.offset == 0 or hs >= self.lookahead  # the buffer's start has settled too
            if settled and clear_of_start and a_hs > self.last_heel_strike:
                out.append(StancePrediction(a_hs, a_to, predict_stance(self.model, x, hs, to, self.body_mass_kg)))
                self.last_heel_strike = a_hs
        return out


def stance_predictions(model: OnnxModel, x: np.ndarray, body_mass_kg: float,
                       sign: float | None = None) -> list[StancePrediction]:
    """Offline: the detector on the whole recording, every stance predicted."""
    channel, params = detector_params(model.meta, sign)
    gyro = x[:, model.channels.index(channel)].astype(np.float64)
    from dataclasses import replace

    params = replace(params, sign=polarity_sign(gyro, float(model.meta["sample_rate_hz"]), params))
    return [StancePrediction(hs, to, predict_stance(model, x, hs, to, body_mass_kg))
            for hs, to in find_stances(gyro, float(model.meta["sample_rate_hz"]), params)]


# -- one entry point ------------------------------------------------------------------------------
def load_stream(model_path: str | Path, *, body_mass_kg: float | None = None, threads: int = 1,
                **stance_options: Any) -> WindowStream | StanceStream:
    model = OnnxModel(model_path, threads=threads)
    kind = model.meta["window"]["kind"]
    if kind == "sliding":
        return WindowStream(model)
    if kind == "stance":
        if body_mass_kg is None:
            raise ZooError(f"{model_path}: task {model.meta['task']} needs the body mass; missing: --body-mass KG")
        return StanceStream(model, body_mass_kg, **stance_options)
    raise ZooError(f"{model_path}: streaming serves sliding windows and stances; task {model.meta['task']} cuts "
                   f"'{kind}' samples (found window.kind '{kind}')")


def predict_offline(model_path: str | Path, x: np.ndarray, *, body_mass_kg: float | None = None,
                    **stance_options: Any) -> tuple[np.ndarray, np.ndarray] | list[StancePrediction]:
    model = OnnxModel(model_path)
    if model.meta["window"]["kind"] == "sliding":
        return window_predictions(model, x)
    return stance_predictions(model, x, body_mass_kg, sign=stance_options.get("sign"))


def run_stream(stream: WindowStream | StanceStream, x: Iterable[np.ndarray]) -> Iterator[Any]:
    """Push every sample of `x` one at a time; yield what the stream emits."""
    for sample in x:
        yield from stream.push(sample)
    yield from stream.flush()


# -- recordings -----------------------------------------------------------------------------------
def read_recording(path: str | Path, channels: list[str], *, rate: float, trial: str | None = None,
                   gyro_unit: str = "rad/s") -> tuple[np.ndarray, dict[str, Any]]:
    """`[T, C]` of the model's channels from a recording file (HDF5, docs/recording_format.md) or a CSV with
    one header row of channel names; returns the array and what was read (trial, rate, body mass)."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"--recording: no file at {path}")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _read_h5(path, channels, rate, trial)
    return _read_csv(path, channels, rate, gyro_unit)


def _read_h5(path: Path, channels: list[str], rate: float, trial: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    from datamodules.recording import Recording

    with Recording(path) as rec:
        trials = rec.trials()
        names = [f"{t.subject_id}/{t.trial_id}" for t in trials]
        if trial is None:
            trial = names[0]
        if trial not in names:
            raise ZooError(f"{path}: --trial: expected one of {names[:6]}, found '{trial}'")
        info = trials[names.index(trial)]
        if abs(info.sample_rate_hz - rate) > 1e-6:
            raise ZooError(f"{path}: {trial} is sampled at {info.sample_rate_hz:g} Hz; the model expects {rate:g} Hz "
                           f"(resample on import: zoo data import --resample-hz {rate:g})")
        columns = {}
        for name, have in (("imu", info.imu_channels), ("joint_angles", info.joint_angle_channels)):
            if have and any(c in have for c in channels):
                data = rec.dataset(info.subject_id, info.trial_id, name)[()]
                columns.update({c: data[:, have.index(c)] for c in channels if c in have})
        missing = [c for c in channels if c not in columns]
        if missing:
            raise ZooError(f"{path}: {trial}: missing: channels {missing}; found: "
                           f"{list(info.imu_channels + info.joint_angle_channels)[:12]}")
        mass = rec.subject(info.subject_id).body_mass_kg
    return np.stack([columns[c] for c in channels], axis=1).astype(np.float32), \
        {"trial": trial, "rate": info.sample_rate_hz, "body_mass_kg": mass}


def _read_csv(path: Path, channels: list[str], rate: float, gyro_unit: str) -> tuple[np.ndarray, dict[str, Any]]:
    with path.open() as f:
        header = [h.strip() for h in f.readline().strip().split(",")]
    missing = [c for c in channels if c not in header]
    if missing:
        raise ZooError(f"{path}: missing: columns {missing} (one header row of channel names expected); "
                       f"found: {header[:12]}")
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[header.index(c) for c in channels], ndmin=2)
    if gyro_unit == "deg/s":
        gyro = [i for i, c in enumerate(channels) if "_gyr_" in c]
        data[:, gyro] = np.deg2rad(data[:, gyro])
    return data.astype(np.float32), {"trial": path.name, "rate": rate, "body_mass_kg": None}


def check_imus(channels: list[str], imus: list[str] | None) -> None:
    """`--imus`: the model must read exactly these IMUs (foot IMUs only, say): say so when it does not."""
    if not imus:
        return
    used = sorted({c.split("_acc_")[0].split("_gyr_")[0] for c in channels if "_acc_" in c or "_gyr_" in c})
    if sorted(imus) != used:
        raise ZooError(f"--imus: the model reads IMUs {used}, not {sorted(imus)}; export a model trained with "
                       f"--data.imus '{imus}'")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zoo predict-stream", description="Run an exported ONNX model over a "
                                     "continuous recording sample by sample (numpy + onnxruntime, no torch).")
    parser.add_argument("model", help="the .onnx file written by `zoo export` (its .json sidecar beside it)")
    parser.add_argument("--recording", required=True, help="recording file (.h5) or CSV with a header of channel names")
    parser.add_argument("--trial", default=None, help="SUBJECT/TRIAL in an .h5 file (default: the first)")
    parser.add_argument("--imus", default=None, help="IMUs the model must read, comma-separated (e.g. L_FOOT,R_FOOT)")
    parser.add_argument("--body-mass", type=float, default=None, help="kg (imu2pressure; default: from the .h5)")
    parser.add_argument("--gyro-unit", choices=("rad/s", "deg/s"), default="rad/s", help="CSV gyroscope unit")
    parser.add_argument("--sign", type=float, choices=(1.0, -1.0), default=None, help="force the gyroscope sign")
    parser.add_argument("--lookahead", type=float, default=1.0, help="stance look-ahead, s (imu2pressure)")
    parser.add_argument("--out", default=None, help="write predictions to this .npz")
    args = parser.parse_args(argv)
    meta = read_sidecar(args.model)
    channels = list(meta["inputs"][0]["channels"])
    check_imus(channels, args.imus.split(",") if args.imus else None)
    x, info = read_recording(args.recording, channels, rate=float(meta["sample_rate_hz"]), trial=args.trial,
                             gyro_unit=args.gyro_unit)
    mass = args.body_mass if args.body_mass is not None else info["body_mass_kg"]
    options = {"sign": args.sign, "lookahead_s": args.lookahead} if meta["window"]["kind"] == "stance" else {}
    stream = load_stream(args.model, body_mass_kg=mass, **options)
    emitted = list(run_stream(stream, x))
    what = f"{meta['model']} ({meta['task']}) on {info['trial']}: {len(x)} samples at {meta['sample_rate_hz']:g} Hz"
    if isinstance(stream, WindowStream):
        index = np.asarray([k for k, _ in emitted], np.int64)
        y = np.stack([v for _, v in emitted]) if emitted else np.zeros((0, 0), np.float32)
        print(f"{what} -> {len(index)} per-sample predictions ({y.shape[-1] if y.size else 0} values each, "
              f"{meta['output']['units']}), windows of {meta['window']['length']} every {meta['window']['hop']}")
        arrays = {"index": index, "y": y}
    else:
        print(f"{what} -> {len(emitted)} stances, each {tuple(emitted[0].y.shape) if emitted else '-'} in "
              f"{meta['output']['units']} (look-ahead {args.lookahead:g} s)")
        arrays = {"heel_strike": np.asarray([s.heel_strike for s in emitted], np.int64),
                  "toe_off": np.asarray([s.toe_off for s in emitted], np.int64),
                  "y": np.stack([s.y for s in emitted]) if emitted else np.zeros(0, np.float32)}
    if args.out:
        np.savez_compressed(args.out, **arrays)
        print(f"wrote {args.out}")
    print(f"torch imported: {'torch' in sys.modules}")
    return 0
