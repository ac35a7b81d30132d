"""Accuracy of the gait-event detector against reference events, on any recording that has them.

    python -m benchmarks.gait_events_accuracy [--data ../shared/data/gaitmap_example]
    python -m benchmarks.gait_events_accuracy --recording lab.h5 --gyro-column R_FOOT_gyr_y [--yaw-column ...]
    python -m benchmarks.gait_events_accuracy --csv imu.csv --events ref.csv --rate 204.8 --unit deg/s \
        --gyro-column right_sensor/gyr_y [--foot right] [--yaw-column right_sensor/gyr_z]

Without `--recording`/`--csv` it scores the gaitmap example (as recorded and with the gyroscope sign
flipped on purpose, which the detector must notice) and the simulator's true events. Every mode prints
found %, median and p90 |error| and spurious detections, separately for steady strides, bout starts
and ends, and turns (benchmarks.event_scoring).

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
    folder: Path = GAITMAP, heel_strike_rules: tuple[str, ...] = ("zero_crossing", "peak"), flip: float = 1.0
) -> list[FootResult]:
    """Run the foot preset (and the same with Qian's peak rule) on both feet of the gaitmap recording;
    `flip=-1` inverts the gyroscope first (the detector must notice and correct it)."""
    gyro, strides = load_gaitmap(folder)
    results = []
    for rule in heel_strike_rules:
        for foot in FEET:
            events = detect_gait_events(flip * gyro[foot], GAITMAP_RATE_HZ, PRESETS["foot"], heel_strike=rule)
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


def _print_scores(title: str, rows: list) -> None:
    from benchmarks.event_scoring import table

    print(f"\n{title}\n")
    print(table(rows))


def gaitmap_categories(folder: Path = GAITMAP, flip: float = 1.0) -> list:
    """Per foot: the foot preset with the sign read from the signal, scored by category (turns from gyr_z)."""
    from benchmarks.event_scoring import score_foot

    gyro, strides = load_gaitmap(folder)
    table = read_csv_table(folder / "imu_sample.csv", header_rows=2)
    rows = []
    for foot in FEET:
        yaw = convert_units(table[f"{foot}_sensor/gyr_z"], "deg/s", "gyr", str(folder))
        ref = strides[foot]
        found = detect_gait_events(flip * gyro[foot], GAITMAP_RATE_HZ, "foot")
        rows.append((foot, score_foot(found.as_dict(), {"heel_strike": ref.heel_strike, "toe_off": ref.toe_off},
                                      GAITMAP_RATE_HZ, ref.bouts(), yaw), found.polarity))
    return rows


def score_recording(path: Path, gyro_column: str, sensor: str | None, yaw_column: str | None, foot: str,
                    flip: float, overrides: dict) -> list:
    """Every trial of a recording file with reference events: (label, FootScore, polarity note).
    `foot` = "both" pools both feet's reference events (a trunk or pelvis sensor sees every step)."""
    from benchmarks.event_scoring import bouts_from_events, score_foot

    rows = []
    with Recording(path) as rec:
        for info in rec.trials():
            if gyro_column not in info.imu_channels or not info.event_feet:
                continue
            imu = rec.dataset(info.subject_id, info.trial_id, "imu")
            gyro = flip * imu[:, info.imu_channels.index(gyro_column)]
            yaw = imu[:, info.imu_channels.index(yaw_column)] if yaw_column else None
            feet = [f for f in FEET if f in info.event_feet] if foot == "both" else [foot]
            ref = {k: np.sort(np.concatenate([rec.events(info.subject_id, info.trial_id, f).get(k, np.zeros(0, int))
                                              for f in feet])).astype(np.int64) for k in ("heel_strike", "toe_off")}
            if not len(ref["heel_strike"]):
                continue
            attrs = rec.file[info.path].attrs
            bouts = [tuple(int(v) for v in b) for b in attrs["reference_bouts"]] if "reference_bouts" in attrs \
                else bouts_from_events(ref["heel_strike"])
            found = detect_gait_events(gyro, info.sample_rate_hz, sensor or _sensor(gyro_column), **overrides)
            rows.append((f"{info.subject_id}/{info.trial_id}",
                         score_foot(found.as_dict(), ref, info.sample_rate_hz, bouts, yaw), found.polarity))
    return rows


def _sensor(column: str) -> str:
    return "foot" if "foot" in column.lower() else "shank"


def detect_in_segments(gyro: np.ndarray, rate: float, table, sensor: str, overrides: dict
                       ) -> tuple[dict[str, np.ndarray], str]:
    """Events of each continuous segment (counter gaps too long to fill split a file), on the file's timeline
    (the packet counter's when there is one)."""
    from datamodules.readers import timeline_start

    found, notes = {"heel_strike": [], "toe_off": []}, []
    for a, b in table.segments or [(0, len(gyro))]:
        if b - a < 2 * rate:
            continue
        events = detect_gait_events(gyro[a:b], rate, sensor, **overrides)
        for kind in found:
            found[kind].append(events.as_dict()[kind] + timeline_start(table, a))
        notes.append(events.polarity)
    return ({k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in found.items()},
            next((n for n in notes if "flipped" in n), notes[0] if notes else ""))


def score_csv(path: Path, events: Path, rate: float | None, unit: str, columns: list[str], feet: list[str],
              yaw_columns: list[str], sensor: str | None, flip: float, overrides: dict, header_rows: int | None
              ) -> list:
    """A text recording (layout detected, packet counters handled as by `zoo data events`) with one gyroscope
    column per foot, against a foot,event,sample CSV on the same timeline."""
    from benchmarks.event_scoring import score_foot
    from datamodules.importers import read_events_csv
    from datamodules.readers import read_tables

    options = {"header_rows": header_rows} if header_rows is not None else {}
    (_, table), = read_tables(path, options)
    table.require([*columns, *yaw_columns], "column(s)")
    rate = rate or table.sample_rate_hz
    reference = read_events_csv(events)
    rows = []
    for i, (column, foot) in enumerate(zip(columns, feet)):
        gyro = flip * convert_units(table.columns[column], unit, "gyr", str(path))
        yaw = convert_units(table.columns[yaw_columns[i]], unit, "gyr", str(path)) if i < len(yaw_columns) else None
        found, polarity = detect_in_segments(gyro, rate, table, sensor or _sensor(column), overrides)
        rows.append((f"{path.name} {foot}", score_foot(found, reference[foot], rate, None, yaw), polarity))
    return rows


def _report(title: str, rows: list) -> None:
    from benchmarks.event_scoring import merge

    if len(rows) > 1:
        rows = [*rows, ("all", merge([r[1] for r in rows]), "")]
    _print_scores(title, [(label, score) for label, score, _ in rows])
    flipped = sum("flipped" in note for *_, note in rows)
    print(f"\nsign read from the signal: {flipped} of {len([r for r in rows if r[0] != 'all'])} flipped and "
          "inverted" if any(note for *_, note in rows) else "\nsign forced")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=GAITMAP, help="folder of the gaitmap example recording")
    parser.add_argument("--recording", type=Path, help="a recording file (HDF5) with events to score against")
    parser.add_argument("--csv", type=Path, help="a CSV recording, with --events, --rate, --unit")
    parser.add_argument("--events", type=Path, help="reference events CSV (foot,event,sample) for --csv")
    parser.add_argument("--rate", type=float, help="sample rate of --csv, Hz")
    parser.add_argument("--unit", choices=("rad/s", "deg/s"), default="rad/s", help="gyroscope unit of --csv")
    parser.add_argument("--header-rows", type=int, help="header rows of --csv (default: detected)")
    parser.add_argument("--gyro-column", action="append", default=[], help="sagittal gyroscope column (per foot)")
    parser.add_argument("--yaw-column", action="append", default=[], help="vertical-axis gyroscope (finds turns)")
    parser.add_argument("--foot", action="append", default=[], help="foot per --gyro-column; 'both' pools "
                        "both feet's reference events (recording mode, trunk or pelvis sensors)")
    parser.add_argument("--sensor", choices=tuple(PRESETS), help="detector preset (default from the name)")
    parser.add_argument("--sign", type=float, choices=(1.0, -1.0, 0.0), help="force the sign (default: read)")
    parser.add_argument("--flip", action="store_true", help="invert the gyroscope on purpose before detecting")
    parser.add_argument("--sim-subjects", type=int, default=8, help="simulated subjects (walking)")
    parser.add_argument("--sim-seconds", type=float, default=30.0, help="seconds per simulated trial")
    parser.add_argument("--sim-seed", type=int, default=1)
    args = parser.parse_args(argv)
    flip = -1.0 if args.flip else 1.0
    overrides = {"sign": args.sign} if args.sign is not None else {}
    if args.recording is not None:
        if len(args.gyro_column) != 1:
            parser.error("--recording takes one --gyro-column")
        rows = score_recording(args.recording, args.gyro_column[0], args.sensor,
                               args.yaw_column[0] if args.yaw_column else None,
                               (args.foot or ["right"])[0], flip, overrides)
        _report(f"Gait events vs the reference events of {args.recording} ({args.gyro_column[0]}"
                f"{', flipped on purpose' if args.flip else ''})", rows)
        return 0
    if args.csv is not None:
        if args.events is None or not args.gyro_column:
            parser.error("--csv needs --events and --gyro-column (and --rate unless the file states it)")
        feet = args.foot or [("left" if "l" in c.lower()[:2] or "left" in c.lower() else "right")
                             for c in args.gyro_column]
        rows = score_csv(args.csv, args.events, args.rate, args.unit, args.gyro_column, feet, args.yaw_column,
                         args.sensor, flip, overrides, args.header_rows)
        _report(f"Gait events vs {args.events}", rows)
        return 0
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
    for result in evaluate(args.data, ("zero_crossing",), flip=-1.0):
        print(result.row().replace("zero_crossing", "zero_crossing, sign flipped on purpose"))

    print("\nPercentiles of |error| count every reference event; a miss (no detection within "
          f"{MATCH_TOLERANCE_S * 1000:.0f} ms) counts as an infinite error.")
    for flip_, what in ((1.0, "as recorded"), (-1.0, "gyroscope sign flipped on purpose")):
        rows = gaitmap_categories(args.data, flip_)
        _report(f"By step category, gaitmap foot preset, {what} (turns: |heading change| >= 25 deg over a "
                "stride, from gyr_z)", rows)
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
