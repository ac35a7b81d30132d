"""Test-time perturbations of one raw input sample, for robustness evaluation and training augmentation.

A trained model is re-tested, without retraining, on inputs that went wrong the way wearables go wrong: a
sensor missing, re-mounted, noisier, sampled at another rate or late; landmark sensors dead or displaced;
insole frames lost in transmission. Every function takes ONE sample in physical units (before
normalisation) and a `numpy.random.Generator`, and returns a new array (the input is never modified), so a
seed reproduces a run exactly. `PERTURBATIONS` names each one with its severities; docs/robustness.md
describes them.

Sample layouts (docs/tasks.md): IMU `[C, T]` with channel names like `R_FOOT_acc_x` (acc in m/s^2 including
gravity, gyro in rad/s; joint-angle channels in deg are left alone except by the noise perturbation);
landmark image `[2, H, W]` (geometry, sparse landmark pressures in N/cm^2); insole window `[2, M, H, W]`
(left and right foot, M frames oldest first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import AXES, IMU_SEGMENTS, JOINT_ANGLE_CHANNELS
from datamodules.preprocessing import ANTIALIAS_HALF_LENGTH, resample
from datamodules.simulator import noise as sim_noise

SENSORS = ("acc", "gyr")
# Nominal white and per-trial bias sd of the simulator at noise level 1 (datamodules/simulator/noise.py).
NOMINAL_NOISE = {
    "acc": (sim_noise.ACC_WHITE, sim_noise.ACC_BIAS),  # m/s^2
    "gyr": (sim_noise.GYR_WHITE, sim_noise.GYR_BIAS),  # rad/s
    "angle": (sim_noise.ANGLE_WHITE_DEG, 0.0),  # deg
}
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows toward the toes, columns toward the lateral edge)


# -- IMU channel bookkeeping ---------------------------------------------------------------------------------
def _parse(channel: str) -> tuple[str, str, str] | None:
    """`R_FOOT_acc_x` -> ("R_FOOT", "acc", "x"); None for a channel that is not an IMU axis."""
    parts = channel.rsplit("_", 2)
    if len(parts) == 3 and parts[1] in SENSORS and parts[2] in AXES:
        return parts[0], parts[1], parts[2]
    return None


def imu_segments(channels: Sequence[str]) -> tuple[str, ...]:
    """The IMUs (segments) with at least one channel in `channels`, in IMU_SEGMENTS order, then others."""
    found = {p[0] for p in map(_parse, channels) if p}
    return tuple(s for s in IMU_SEGMENTS if s in found) + tuple(sorted(found - set(IMU_SEGMENTS)))


def imu_triplets(channels: Sequence[str], segment: str) -> dict[str, np.ndarray]:
    """Sensor ("acc", "gyr") -> the channel indices of its x, y, z axes, for each sensor of `segment` present;
    a sensor with only some of its axes cannot be rotated and is an error."""
    index = {c: i for i, c in enumerate(channels)}
    out = {}
    for sensor in SENSORS:
        names = [f"{segment}_{sensor}_{a}" for a in AXES]
        present = [n in index for n in names]
        if all(present):
            out[sensor] = np.array([index[n] for n in names])
        elif any(present):
            raise DataError(f"IMU {segment}: {sensor} needs all three axes to be rotated; found only "
                            f"{[n for n, p in zip(names, present) if p]}")
    return out


def _segment_channels(channels: Sequence[str], segment: str) -> np.ndarray:
    return np.array([i for i, c in enumerate(channels) if (p := _parse(c)) and p[0] == segment], dtype=np.int64)


def _pick_segment(channels: Sequence[str], rng: np.random.Generator, segment: str | None) -> str:
    present = imu_segments(channels)
    if not present:
        raise DataError(f"no IMU channel (<SEGMENT>_acc|gyr_x|y|z) among {list(channels)}")
    if segment is None:
        return present[int(rng.integers(len(present)))]
    if segment not in present:
        raise DataError(f"IMU {segment!r}: expected one of {list(present)}")
    return segment


def _imu_sample(x: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(channels):
        raise DataError(f"IMU sample: expected [C, T] with C = {len(channels)} channels; found {list(x.shape)}")
    return x


# -- IMU perturbations ------------------------------------------------------------------------------------
def drop_imu_mask(channels: Sequence[str], rng: np.random.Generator, segment: str | None = None) -> np.ndarray:
    """`[C]` bool, True on every channel of one IMU (`segment`, else one drawn at random): what a model with
    a masking convention (e.g. the SSL transformer's `missing_imu` slots) should treat as absent.
    Draws the same IMU as `drop_imu` with an equally seeded generator."""
    mask = np.zeros(len(channels), dtype=bool)
    mask[_segment_channels(channels, _pick_segment(channels, rng, segment))] = True
    return mask


def drop_imu(x: np.ndarray, channels: Sequence[str], rng: np.random.Generator, segment: str | None = None,
             fill: float | np.ndarray = 0.0) -> np.ndarray:
    """One IMU missing: its channels read `fill` (0: a dead sensor's zero stream; pass the per-channel
    training means, `[C]`, to get zeros after normalisation instead)."""
    x = _imu_sample(x, channels).copy()
    mask = drop_imu_mask(channels, rng, segment)
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), (len(channels),))
    x[mask] = fill[mask, None]
    return x


def random_rotation(angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    """`[3, 3]` rotation by exactly `angle_deg` about an axis drawn uniformly on the sphere (Rodrigues)."""
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    theta = math.radians(angle_deg)
    return np.eye(3) + math.sin(theta) * k + (1.0 - math.cos(theta)) * (k @ k)


def rotate_imu(x: np.ndarray, channels: Sequence[str], angle_deg: float, rng: np.random.Generator,
               segments: Sequence[str] | None = None) -> np.ndarray:
    """Every IMU (or `segments`) re-mounted: rotated by `angle_deg` about its own random axis. The sensor's
    accelerometer and gyroscope triplets get the same rotation (they share one housing), so per-sample
    norms are preserved and gravity moves with the mounting."""
    x = _imu_sample(x, channels).copy()
    for segment in imu_segments(channels) if segments is None else segments:
        rotation = random_rotation(angle_deg, rng)
        for idx in imu_triplets(channels, segment).values():
            x[idx] = rotation @ x[idx]
    return x


def add_imu_noise(x: np.ndarray, channels: Sequence[str], factor: float, rng: np.random.Generator,
                  nominal_level: float = 1.0, bias: bool = True) -> np.ndarray:
    """Noisier sensors: adds white noise (and a constant per-channel bias) of sd
    `nominal x nominal_level x sqrt(factor^2 - 1)`, so that with the recording's own noise (the simulator's
    nominal times `nominal_level`, its `noise` setting) the total sd is `factor` x nominal (independent
    sources add in variance). Nominal: acc white 0.05 + bias 0.05 m/s^2, gyro white 0.005 + bias 0.003 rad/s,
    joint angles white 0.5 deg; other channels are left alone."""
    if factor < 1:
        raise DataError(f"noise factor: expected >= 1 (a multiple of the nominal noise), found {factor}")
    x = _imu_sample(x, channels).copy()
    scale = nominal_level * math.sqrt(factor**2 - 1.0)
    joint = set(JOINT_ANGLE_CHANNELS)
    for i, channel in enumerate(channels):
        parsed = _parse(channel)
        kind = parsed[1] if parsed else "angle" if channel in joint else None
        if kind is None:
            continue
        white, offset = NOMINAL_NOISE[kind]
        x[i] += scale * white * rng.standard_normal(x.shape[1])
        if bias and offset:
            x[i] += scale * offset * rng.standard_normal()
    return x


def change_sample_rate(x: np.ndarray, sensor_hz: float, model_hz: float,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """The sensor ran at `sensor_hz`: the sample is resampled to `sensor_hz` and back to `model_hz` with the
    project's anti-aliased polyphase `preprocessing.resample` (flat to 0.9 x the lower Nyquist frequency).

    A real pipeline resamples the continuous stream and cuts windows afterwards, so the window is first
    extended on both sides by odd reflection (value and slope continue across the edge) over the filter's
    reach, and cut back to its own samples at the end; resampling the bare window would add edge ringing
    (2 % of a 2 Hz sinusoid's amplitude at 60 Hz) that no sensor produces. A slower sensor loses the content
    above its Nyquist frequency; a faster one cannot add content the model-rate sample does not hold, so
    it tests the resampling path only. `rng` is unused (the perturbation is deterministic)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    pad = min(n - 1, math.ceil(ANTIALIAS_HALF_LENGTH * model_hz / min(sensor_hz, model_hz)) + 1)
    left = 2 * x[..., :1] - x[..., 1:pad + 1][..., ::-1]
    right = 2 * x[..., -1:] - x[..., n - 1 - pad:n - 1][..., ::-1]
    padded = np.concatenate([left, x, right], axis=-1)
    back = resample(resample(padded, model_hz, sensor_hz, axis=-1), sensor_hz, model_hz, axis=-1)
    return back[..., pad:pad + n]


def shift_signal(x: np.ndarray, shift: float) -> np.ndarray:
    """`y[..., t] = x[..., t - shift]` (a delay for `shift > 0`, in samples, fractional by linear
    interpolation); samples that would come from outside the sample hold the nearest edge value."""
    x = np.asarray(x, dtype=np.float64)
    t = np.arange(x.shape[-1], dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1])
    return np.stack([np.interp(t - shift, t, row) for row in flat]).reshape(x.shape)


def time_offset(x: np.ndarray, channels: Sequence[str], offset_ms: float, rng: np.random.Generator, *,
                model_hz: float, segment: str | None = None, sign: int | None = None) -> np.ndarray:
    """One IMU (`segment`, else drawn at random) out of sync with the others by `offset_ms`: its channels
    are delayed (`sign=+1`) or advanced (`-1`, else drawn at random) by `offset_ms x model_hz / 1000`
    samples; the edge value is held where the shifted stream has no data."""
    x = _imu_sample(x, channels).copy()
    segment = _pick_segment(channels, rng, segment)
    sign = (1 if rng.random() < 0.5 else -1) if sign is None else int(np.sign(sign))
    idx = _segment_channels(channels, segment)
    x[idx] = shift_signal(x[idx], sign * offset_ms * model_hz / 1000.0)
    return x


# -- sparse landmark insoles ------------------------------------------------------------------------------
def _landmark_image(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] != 2:
        raise DataError(f"landmark sample: expected [2, H, W] (geometry, landmarks); found {list(x.shape)}")
    return x


def drop_landmarks(x: np.ndarray, k: int, rng: np.random.Generator, cells: np.ndarray | None = None) -> np.ndarray:
    """`k` landmark sensors dead: `k` of the `cells` `[L, 2]` (row, column), drawn without replacement, read
    zero. Without `cells`, the landmarks are the non-zero cells of the landmark channel, so only loaded
    sensors are candidates (dropping an unloaded one would change nothing)."""
    x = _landmark_image(x).copy()
    cells = np.argwhere(x[1] != 0) if cells is None else np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    if not 0 <= k <= len(cells):
        raise DataError(f"drop_landmarks: k must lie in [0, {len(cells)}] (the landmark count); found {k}")
    gone = cells[rng.choice(len(cells), size=k, replace=False)]
    x[1, gone[:, 0], gone[:, 1]] = 0.0
    return x


def shift_landmarks(x: np.ndarray, full_map: np.ndarray, cells: np.ndarray, rng: np.random.Generator,
                    direction: tuple[int, int] | None = None) -> np.ndarray:
    """The insole slipped by one cell: every landmark sensor (at `cells` `[L, 2]`) reads the pressure of
    the neighbouring cell of the measured `full_map` `[H, W]` in one common `direction` (drawn from the four
    neighbours unless given); a neighbour off the grid reads 0. The model still takes the reading as coming
    from the nominal cell. Needs the full map: the sparse image does not hold the neighbour's pressure."""
    x = _landmark_image(x).copy()
    full_map = np.asarray(full_map, dtype=np.float64)
    if full_map.shape != x.shape[1:]:
        raise DataError(f"shift_landmarks: full_map must be [H, W] = {list(x.shape[1:])}; found {list(full_map.shape)}")
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    dr, dc = NEIGHBOURS[int(rng.integers(4))] if direction is None else direction
    rows, cols = cells[:, 0] + dr, cells[:, 1] + dc
    inside = (rows >= 0) & (rows < full_map.shape[0]) & (cols >= 0) & (cols < full_map.shape[1])
    x[1] = 0.0
    x[1, cells[:, 0], cells[:, 1]] = np.where(inside, full_map[rows.clip(0, full_map.shape[0] - 1),
                                                                 cols.clip(0, full_map.shape[1] - 1)], 0.0)
    return x


# -- insole streams ---------------------------------------------------------------------------------------
def hold_last(frames: np.ndarray, received: np.ndarray) -> np.ndarray:
    """Sample-and-hold along axis 0: a frame not `received` repeats the last received frame before it (a
    stream receiver keeps showing the last packet); leading lost frames take the first received one."""
    last = np.maximum.accumulate(np.where(received, np.arange(len(received)), -1))
    first = int(np.argmax(received))
    return frames[np.where(last >= 0, last, first)]


def drop_insole_frames(x: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Lost insole packets: `round(fraction x M)` of the M frames of each foot (independently: one wireless
    link per insole), at most M - 1, are replaced by sample-and-hold (`hold_last`)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[0] != 2:
        raise DataError(f"insole sample: expected [2, M, H, W] (left, right); found {list(x.shape)}")
    if not 0 <= fraction <= 1:
        raise DataError(f"drop_insole_frames: fraction must lie in [0, 1]; found {fraction}")
    frames = x.shape[1]
    lost = min(int(round(fraction * frames)), frames - 1)
    out = np.empty_like(x)
    for foot in range(2):
        received = np.ones(frames, dtype=bool)
        received[rng.choice(frames, size=lost, replace=False)] = False
        out[foot] = hold_last(x[foot], received)
    return out


# -- registry ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Perturbation:
    """A named perturbation: `apply(x, severity, rng, **context)` on one raw sample of the `applies_to`
    kind ("imu", "landmarks", "insole"). `needs` lists the context keys it reads: `channels` (IMU channel
    names), `model_hz` (the model's sample rate), `cells` (landmark cells `[L, 2]`), `full_map` (the
    measured pressure map `[H, W]` of a landmark frame)."""

    name: str
    applies_to: str
    severities: tuple[Any, ...]
    unit: str
    needs: tuple[str, ...]
    apply: Callable[..., np.ndarray]
    description: str

    def __call__(self, x: np.ndarray, severity: Any, rng: np.random.Generator, **context: Any) -> np.ndarray:
        missing = [k for k in self.needs if k not in context]
        if missing:
            raise DataError(f"perturbation {self.name}: needs context {list(self.needs)}; missing: "
                            f"{', '.join(missing)}; found: {', '.join(sorted(context)) or 'none'}")
        return self.apply(x, severity, rng, **{k: context[k] for k in self.needs})


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in (
    Perturbation("imu_drop", "imu", IMU_SEGMENTS, "IMU", ("channels",),
                 lambda x, s, rng, channels: drop_imu(x, channels, rng, segment=s),
                 "one IMU missing (its channels read 0); severity = which IMU"),
    Perturbation("imu_rotation", "imu", (5.0, 10.0, 20.0), "deg", ("channels",),
                 lambda x, s, rng, channels: rotate_imu(x, channels, s, rng),
                 "every IMU re-mounted, rotated by the severity about its own random axis"),
    Perturbation("imu_noise", "imu", (2.0, 4.0), "x nominal", ("channels",),
                 lambda x, s, rng, channels: add_imu_noise(x, channels, s, rng),
                 "sensor noise (white + bias) raised to the severity x the simulator's nominal"),
    Perturbation("imu_sample_rate", "imu", (60.0, 200.0), "Hz", ("model_hz",),
                 lambda x, s, rng, model_hz: change_sample_rate(x, s, model_hz),
                 "sensor sampled at the severity, resampled to the model's rate"),
    Perturbation("imu_time_offset", "imu", (10.0, 30.0), "ms", ("channels", "model_hz"),
                 lambda x, s, rng, channels, model_hz: time_offset(x, channels, s, rng, model_hz=model_hz),
                 "one IMU delayed or advanced by the severity"),
    Perturbation("landmark_drop", "landmarks", (1, 2, 4), "cells", ("cells",),
                 lambda x, s, rng, cells: drop_landmarks(x, s, rng, cells),
                 "the severity's number of landmark sensors read 0"),
    Perturbation("landmark_shift", "landmarks", (1,), "cell", ("cells", "full_map"),
                 lambda x, s, rng, cells, full_map: shift_landmarks(x, full_map, cells, rng),
                 "every landmark sensor reads its neighbour's pressure (insole slipped one cell)"),
    Perturbation("insole_frame_drop", "insole", (0.1, 0.25, 0.5), "fraction", (),
                 lambda x, s, rng: drop_insole_frames(x, s, rng),
                 "the severity's fraction of insole frames lost, sample-and-hold"),
)}


def severities_for(name: str, **context: Any) -> tuple[Any, ...]:
    """The severities of `name` that apply to this input: `imu_drop` only over the IMUs in
    `context["channels"]`, `landmark_drop` only up to the number of `context["cells"]`."""
    p = PERTURBATIONS[name]
    if name == "imu_drop" and "channels" in context:
        present = set(imu_segments(context["channels"]))
        return tuple(s for s in p.severities if s in present)
    if name == "landmark_drop" and "cells" in context:
        return tuple(s for s in p.severities if s <= len(np.asarray(context["cells"]).reshape(-1, 2)))
    return p.severities


def augment(x: np.ndarray, kind: str, rng: np.random.Generator, *, p: float = 0.5,
            names: Sequence[str] | None = None, **context: Any) -> tuple[np.ndarray, str | None, Any]:
    """Training augmentation from the same perturbations: with probability `p`, one perturbation of `kind`
    (from `names`, else every registered one whose `needs` the `context` satisfies) drawn uniformly, at a
    severity drawn uniformly from `severities_for`. Returns (sample, name, severity); name and severity are
    None when the sample is returned unchanged (a copy)."""
    candidates = [PERTURBATIONS[n] for n in names] if names is not None else [
        q for q in PERTURBATIONS.values() if q.applies_to == kind and all(k in context for k in q.needs)]
    candidates = [q for q in candidates if q.applies_to == kind and severities_for(q.name, **context)]
    if not candidates or rng.random() >= p:
        return np.array(x, dtype=np.float64), None, None
    chosen = candidates[int(rng.integers(len(candidates)))]
    options = severities_for(chosen.name, **context)
    severity = options[int(rng.integers(len(options)))]
    return chosen(x, severity, rng, **context), chosen.name, severity


def perturbations_for(kind: str) -> Mapping[str, Perturbation]:
    """The registered perturbations of one input kind ("imu", "landmarks", "insole")."""
    return {n: q for n, q in PERTURBATIONS.items() if q.applies_to == kind}
