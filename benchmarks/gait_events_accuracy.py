"""Accuracy of the gait-event detector on a real recording with motion-capture reference events.

    python -m benchmarks.gait_events_accuracy [--data ../shared/data/gaitmap_example]

It also scores the detector against the true events of the simulator (shank and foot gyroscopes).

The gaitmap example (MIT licence, MaD-Lab Erlangen) holds foot IMUs at 204.8 Hz and, per stride, the
initial contact (`ic`) and terminal contact (`tc`) seen by optical motion capture. Strides run from
mid-stance to mid-stance, so each holds exactly one toe-off and one heel strike. A walking bout runs from
the first stride's start to the last stride's end of a series of consecutive strides. Inside a bout a
detected event is matched to the reference event of the stride it falls in when it lies within
`tolerance_s` of it; every other detected event inside a bout is spurious. Events outside the bouts
(standing, the first and last steps) are not judged: the reference does not cover them.

Misses are reported and never dropped from the figures: a reference event with no detection within
`tolerance_s` counts as an infinitely large error in every percentile (so 2 misses in 100 leave the median
alone but make the p99 infinite), and its count is printed beside the percentiles. Signed medians (the
bias) are over the matched events only.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.events import PRESETS, detect_gait_events
from datamodules.importers import convert_units, read_csv_table
from datamodules.naming import FEET
from datamodules.recording import Recording
from datamodules.simulator import generate_dataset

GAITMAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gaitmap_example"
GAITMAP_RATE_HZ = 204.8
GAITMAP_GYRO = "{foot}_sensor/gyr_y"  # sagittal axis of the aligned foot frame (y left): swing is negative
MATCH_TOLERANCE_S = 0.15


@dataclass(frozen=True)
class ReferenceStrides:
    """One foot's reference strides: borders and events as sample indices."""

    start: np.ndarray
    end: np.ndarray
    heel_strike: np.ndarray
    toe_off: np.ndarray

    def bouts(self) -> list[tuple[int, int]]:
        """(first start, last end) of each series of consecutive strides (each ends where the next starts)."""
        breaks = np.flatnonzero(self.start[1:] != self.end[:-1]) + 1
        firsts = np.append(0, breaks)
        lasts = np.append(breaks - 1, len(self.start) - 1)
        return [(int(self.start[a]), int(self.end[b])) for a, b in zip(firsts, lasts)]


@dataclass(frozen=True)
class EventAccuracy:
    """Matched errors (detected - reference, ms) of one event kind and the count of spurious events."""

    errors_ms: np.ndarray
    matched: np.ndarray  # per reference stride: was its event found
    spurious: int

    @property
    def missed(self) -> int:
        return int((~self.matched).sum())

    def abs_percentile(self, q: float) -> float:
        """Percentile of |error| over all reference events, a missed one counting as an infinite error."""
        return abs_percentile_with_misses(self.errors_ms, self.missed, q)


def abs_percentile_with_misses(errors_ms: np.ndarray, n_missed: int, q: float) -> float:
    """`q`-th percentile of |error| with `n_missed` infinite errors added (nearest-rank on the sorted list,
    interpolated like numpy's default between finite neighbours); nan when there is nothing to score."""
    values = np.sort(np.abs(np.asarray(errors_ms, dtype=np.float64)))
    n = len(values) + n_missed
    if n == 0:
        return float("nan")
    position = q / 100.0 * (n - 1)
    lo, hi = int(np.floor(position)), int(np.ceil(position))
    if hi >= len(values):
        return float("inf")
    return float(values[lo] + (values[hi] - values[lo]) * (position - lo))


def match_events(detected: np.ndarray, reference: np.ndarray, strides: ReferenceStrides,
                 sample_rate_hz: float, tolerance_s: float = MATCH_TOLERANCE_S) -> EventAccuracy:
    """Match each reference event to the nearest detected event inside its stride (within the tolerance)."""
    detected = np.asarray(detected, dtype=np.int64)
    in_bout = np.zeros(len(detected), dtype=bool)
    for lo, hi in strides.bouts():
        in_bout |= (detected >= lo) & (detected < hi)
    candidates = detected[in_bout]
    stride = np.searchsorted(strides.start, candidates, side="right") - 1
    error = candidates - reference[stride]
    close = np.abs(error) <= tolerance_s * sample_rate_hz
    order = np.argsort(np.abs(error[close]), kind="stable")
    matched_strides, first = np.unique(stride[close][order], return_index=True)
    matched = np.zeros(len(reference), dtype=bool)
    matched[matched_strides] = True
    errors_ms = error[close][order][first] / sample_rate_hz * 1000.0
    return EventAccuracy(errors_ms=errors_ms, matched=matched, spurious=int(len(candidates) - len(first)))


def load_gaitmap(folder: Path = GAITMAP) -> tuple[dict[str, np.ndarray], dict[str, ReferenceStrides]]:
    """Sagittal foot angular rate (rad/s) and reference strides per foot."""
    columns = [GAITMAP_GYRO.format(foot=foot) for foot in FEET]
    table = read_csv_table(folder / "imu_sample.csv", header_rows=2, columns=columns)
    gyro = {foot: convert_units(table[column], "deg/s", "gyr", str(folder))
            for foot, column in zip(FEET, columns)}
    with (folder / "stride_events_sample.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    strides = {}
    for foot in FEET:
        mine = sorted((r for r in rows if r["foot"] == foot), key=lambda r: float(r["start"]))
        col = {k: np.array([round(float(r[k])) for r in mine], dtype=np.int64)
               for k in ("start", "end", "ic", "tc")}
        strides[foot] = ReferenceStrides(col["start"], col["end"], col["ic"], col["tc"])
    return gyro, strides


@dataclass(frozen=True)
class FootResult:
    foot: str
    rule: str
    n_strides: int
    heel_strike: EventAccuracy
    toe_off: EventAccuracy

    @property
    def detected_share(self) -> float:
        """Share of reference strides whose heel strike and toe-off were both found."""
        return float((self.heel_strike.matched & self.toe_off.matched).mean())

    def row(self) -> str:
        hs, to = self.heel_strike, self.toe_off
        found = int(round(self.detected_share * self.n_strides))
        cells = [self.foot, self.rule, f"{found}/{self.n_strides} ({100 * self.detected_share:.1f} %)",
                 *(f"{acc.abs_percentile(q):.1f}" for acc in (hs, to) for q in (50, 95)),
                 f"{hs.missed}/{to.missed}", str(hs.spurious + to.spurious)]
        return "| " + " | ".join(cells) + " |"


def evaluate(
    folder: Path = GAITMAP, heel_strike_rules: tuple[str, ...] = ("zero_crossing", "peak")
) -> list[FootResult]:
    """Run the foot preset (and the same with Qian's peak rule) on both feet of the gaitmap recording."""
    gyro, strides = load_gaitmap(folder)
    results = []
    for rule in heel_strike_rules:
        for foot in FEET:
            events = detect_gait_events(gyro[foot], GAITMAP_RATE_HZ, PRESETS["foot"], heel_strike=rule)
            ref = strides[foot]
            results.append(FootResult(
                foot=foot,
                rule=rule,
                n_strides=len(ref.start),
                heel_strike=match_events(events.heel_strike, ref.heel_strike, ref, GAITMAP_RATE_HZ),
                toe_off=match_events(events.toe_off, ref.toe_off, ref, GAITMAP_RATE_HZ),
            ))
    return results


@dataclass(frozen=True)
class SimulatorResult:
    """Signed errors (detected - true, ms) of the true events that have a detection within the tolerance,
    per event kind, and the number of true events; the rest are misses (`missed`)."""

    channel: str
    preset: str
    errors_ms: dict[str, np.ndarray]
    n_true: dict[str, int]

    def missed(self, kind: str) -> int:
        return self.n_true[kind] - len(self.errors_ms[kind])

    def abs_percentile(self, kind: str, q: float) -> float:
        """Percentile of |error| over every true event, a missed one counting as an infinite error."""
        return abs_percentile_with_misses(self.errors_ms[kind], self.missed(kind), q)

    def row(self) -> str:
        cells = [self.channel, self.preset]
        for kind, errors in self.errors_ms.items():
            signed = f"{np.median(errors):+.1f}" if len(errors) else "nan"
            cells += [f"{len(errors)}/{self.n_true[kind]}", f"{self.abs_percentile(kind, 50):.1f}", signed,
                      f"{self.abs_percentile(kind, 95):.1f}"]
        return "| " + " | ".join(cells) + " |"


def simulator_accuracy(path: Path, channel: str = "R_SHANK_gyr_y", preset: str = "shank", foot: str = "right",
                       tolerance_s: float = MATCH_TOLERANCE_S) -> SimulatorResult:
    """Detector vs the simulator's true events on every trial holding `channel` and events of `foot`.

    Each true event takes the nearest detected event of its kind; farther than `tolerance_s` it is a miss
    (kept in the counts and scored as an infinite error by `abs_percentile`, never silently dropped)."""
    errors: dict[str, list[np.ndarray]] = {"heel_strike": [], "toe_off": []}
    n_true = dict.fromkeys(errors, 0)
    with Recording(path) as rec:
        for info in rec.trials():
            if channel not in info.imu_channels or foot not in info.event_feet:
                continue
            fs = info.sample_rate_hz
            gyro = rec.dataset(info.subject_id, info.trial_id, "imu")[:, info.imu_channels.index(channel)]
            found = detect_gait_events(gyro, fs, preset).as_dict()
            for kind, true in rec.events(info.subject_id, info.trial_id, foot).items():
                n_true[kind] += len(true)
                if len(found[kind]) and len(true):
                    nearest = found[kind][np.abs(found[kind][None, :] - true[:, None]).argmin(axis=1)]
                    error = (nearest - true) / fs * 1000.0
                    errors[kind].append(error[np.abs(error) <= tolerance_s * 1000.0])
    merged = {k: np.concatenate(v) if v else np.zeros(0) for k, v in errors.items()}
    return SimulatorResult(channel, preset, merged, n_true)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=GAITMAP, help="folder of the gaitmap example recording")
    parser.add_argument("--sim-subjects", type=int, default=8, help="simulated subjects (walking)")
    parser.add_argument("--sim-seconds", type=float, default=30.0, help="seconds per simulated trial")
    parser.add_argument("--sim-seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"gaitmap example not found at {args.data}; pass --data")
        return 2
    print(f"Gait events vs motion capture, gaitmap example ({os.path.relpath(args.data)}), "
          f"foot gyroscope gyr_y at {GAITMAP_RATE_HZ} Hz, match tolerance {MATCH_TOLERANCE_S * 1000:.0f} ms\n")
    print("| foot | heel-strike rule | strides found | HS median ms | HS p95 ms | TO median ms | TO p95 ms "
          "| missed HS/TO | spurious in bouts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for result in evaluate(args.data):
        print(result.row())

    print("\nPercentiles of |error| count every reference event; a miss (no detection within "
          f"{MATCH_TOLERANCE_S * 1000:.0f} ms) counts as an infinite error.")
    print(f"\nGait events vs the simulator's true events ({args.sim_subjects} subjects x "
          f"{args.sim_seconds:g} s walking, seed {args.sim_seed}, right foot)\n")
    print("| channel | preset | HS found | HS median abs ms | HS median signed ms | HS p95 ms "
          "| TO found | TO median abs ms | TO median signed ms | TO p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_dataset(Path(tmp) / "sim.h5", preset="tiny", seed=args.sim_seed, activities=["walk"],
                                n_subjects=args.sim_subjects, duration_s=args.sim_seconds)
        for channel, preset in (("R_SHANK_gyr_y", "shank"), ("R_FOOT_gyr_y", "foot")):
            print(simulator_accuracy(path, channel, preset).row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
