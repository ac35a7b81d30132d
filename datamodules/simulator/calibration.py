"""Measurements shared by the realism tests and `benchmarks/simulator_calibration.py`.

They compute, the same way for simulated and real recordings, the figures SPEC 3.3 states: stance
curves normalised to 101 points, GRF peaks and their timing, heel / midfoot / forefoot load shares,
COP travel and regional peak pressures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.simulator.footprint import Footprint
from datamodules.simulator.generate import resolve_config, simulate_trial, subject_model
from datamodules.simulator.pressure import pressure_centroid

STANCE_POINTS = 101


def read_mot(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of an OpenSim `.mot` file (text header up to `endheader`, then tab-separated)."""
    lines = Path(path).read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    names = lines[end + 1].split()
    rows = np.array([[float(v) for v in line.split()] for line in lines[end + 2:] if line.strip()])
    return {name: rows[:, i] for i, name in enumerate(names)}


def contact_segments(vertical: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """`[start, stop)` of every contact above `threshold` that the recording holds from start to end."""
    on = np.concatenate([[False], vertical > threshold, [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    segments = list(zip(edges[::2], edges[1::2]))
    return [(a, b) for a, b in segments if a > 0 and b < len(vertical)]


def time_normalise(values: np.ndarray, points: int = STANCE_POINTS) -> np.ndarray:
    """Resample along axis 0 to `points` samples from first to last."""
    source = np.linspace(0.0, 1.0, len(values))
    target = np.linspace(0.0, 1.0, points)
    return np.stack([np.interp(target, source, v) for v in np.atleast_2d(values.T)], axis=-1).squeeze()


def stance_curves(vertical: np.ndarray, ap: np.ndarray, segments: list[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Per stance: vertical / its stance mean and AP / the stance-mean vertical, `[n, 101]` each."""
    vert, horiz = [], []
    for a, b in segments:
        mean = vertical[a:b].mean()
        vert.append(time_normalise(vertical[a:b]) / mean)
        horiz.append(time_normalise(ap[a:b]) / mean)
    return np.asarray(vert), np.asarray(horiz)


@dataclass(frozen=True)
class Peaks:
    """Double-hump landmarks of a vertical curve (values in its units, timing in % of stance)."""

    first: float
    first_at: float
    valley: float
    valley_at: float
    second: float
    second_at: float


def double_hump(curve: np.ndarray) -> Peaks:
    pct = np.linspace(0, 100, len(curve))
    windows = [(pct >= 10) & (pct <= 45), (pct >= 30) & (pct <= 70), (pct >= 55) & (pct <= 92)]
    picks = [np.argmax, np.argmin, np.argmax]
    found = [np.flatnonzero(w)[pick(curve[w])] for w, pick in zip(windows, picks)]
    return Peaks(*(float(v) for i in found for v in (curve[i], pct[i])))


def braking_propulsion(curve: np.ndarray) -> tuple[float, float, float, float, float]:
    """(braking peak, its %, propulsion peak, its %, zero crossing %) of an AP stance curve."""
    pct = np.linspace(0, 100, len(curve))
    brake, propel = int(np.argmin(curve)), int(np.argmax(curve))
    after = np.flatnonzero((pct > pct[brake]) & (curve >= 0))
    crossing = float(pct[after[0]]) if after.size else float("nan")
    return float(curve[brake]), float(pct[brake]), float(curve[propel]), float(pct[propel]), crossing


def load_shares(pressure: np.ndarray, footprint: Footprint) -> np.ndarray:
    """`[T, 3]` share of force under heel / midfoot / forefoot (SPEC 3.3 region bounds)."""
    masks = footprint.region_masks()
    forces = np.stack([pressure[:, masks[r]].sum(axis=1) for r in ("heel", "midfoot", "forefoot")], axis=1)
    return forces / forces.sum(axis=1, keepdims=True)


def regional_peaks(pressure: np.ndarray, footprint: Footprint) -> dict[str, float]:
    """Peak pressure (N/cm^2) under heel, midfoot and forefoot over a stance."""
    masks = footprint.region_masks()
    return {region: float(pressure[:, mask].max()) for region, mask in masks.items()}


def cop_fraction(pressure: np.ndarray, footprint: Footprint) -> np.ndarray:
    """COP position along the foot as a fraction of footprint length, per frame."""
    return footprint.fraction_of_length(pressure_centroid(pressure, footprint.cell_size_m)[:, 0])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def simulated_trials(activity: str, speed: float, n_subjects: int, seconds: float, seed: int = 0):
    """Noise-free trials of `activity` at `speed` for subjects 0..n-1: yields (body, footprint, trial)."""
    config = resolve_config("tiny", noise=0.0, duration_s=seconds)
    for index in range(n_subjects):
        body, footprint = subject_model(seed, index, config)
        yield body, footprint, simulate_trial(seed, body, footprint, activity, 0, config, speed=speed)


def stances(trial, foot: str = "right") -> list[tuple[int, int]]:
    """`[heel strike, toe-off)` sample ranges of complete stances of `foot` in a trial."""
    hs, to = trial.events[foot]["heel_strike"], trial.events[foot]["toe_off"]
    return [(int(h), int(to[to > h][0])) for h in hs if (to > h).any()]
