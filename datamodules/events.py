"""Gait events (heel strike, toe-off) from one sagittal gyroscope, and `zoo data events`.

The rule is Qian 2025's (after Bötzel et al.): low-pass the angular rate (3rd-order Butterworth,
20 Hz at 100 Hz, zero phase), take heel strike at a gyroscope peak and toe-off at
`peak + 0.49 x (zero crossing - peak)`, where the peak is the last one before the signal crosses
from positive to negative into the swing.

Sign convention (`sign`): the detector expects swing as a large negative trough and heel strike as a
positive peak. That is what a sagittal gyroscope axis pointing to the subject's *left* measures (the
zoo's world frame: x forward, y left, z up), both on the shank (the simulator's `R_SHANK_gyr_y`) and on
the foot (gaitmap's aligned `gyr_y`). By default (`sign=0`, "auto") the sign is read from the signal
itself (`check_polarity`): the swing is the largest excursion that lasts `POLARITY_WINDOW_S` (150 ms),
while the push-off and heel-strike spikes of the other sign are shorter. A flipped axis is inverted and
the summary says so; a signal where neither sign wins by `POLARITY_MARGIN` stops with a message naming
what was seen. `sign=+1` or `-1` (`--sign`, `--invert`) forces the sign and skips the check.

Every stride is anchored on its mid-swing trough, found first: the trough must be deeper than
`swing_fraction` of the typical mid-swing depth, so shuffling steps in a turn or while standing give
no events. Both events are then searched next to that trough:
  toe-off     before it: the positive-to-negative zero crossing into the swing, and the largest peak
              within `to_window_s` before that crossing;
  heel strike after it: the negative-to-positive crossing that ends the swing, then either the
              largest peak within `hs_window_s` (`heel_strike="peak"`, Qian 2025 on the shank) or the
              crossing itself (`heel_strike="zero_crossing"`). A foot gyroscope peaks when the forefoot
              slaps down, about 60 ms after initial contact, so the foot preset uses the crossing.
"""

from __future__ import annotations

import argparse
import glob
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import yaml
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import minimum_filter1d
from scipy.signal import find_peaks

from datamodules.errors import DataError
from datamodules.importers import convert_units, write_events_csv
from datamodules.naming import FEET
from datamodules.preprocessing import lowpass, pair_stances
from datamodules.readers import timeline_start

HEEL_STRIKE_RULES = ("peak", "zero_crossing")
POLARITY_WINDOW_S = 0.15  # the swing stays deep this long; push-off and heel-strike spikes do not
POLARITY_MARGIN = 1.15  # one sign's sustained excursion must exceed the other's by this factor


@dataclass(frozen=True)
class DetectorParams:
    """Parameters of `detect_gait_events`; times in seconds, so they hold at any sample rate.

    heel_strike:     "peak" (Qian 2025, shank) or "zero_crossing" (end of swing; foot sensors).
    sign:            0: read from the signal (`check_polarity`); +1 when swing is negative (sagittal axis
                     pointing left), -1 otherwise (forced, no check).
    cutoff_ratio:    low-pass cutoff as a fraction of the sample rate (0.2: 20 Hz at 100 Hz, 41 Hz at
                     204.8 Hz).
    filter_order:    Butterworth order (applied forward and backward, so zero phase).
    min_stride_s:    shortest time between two mid-swing troughs of one foot.
    swing_fraction:  a trough counts as mid-swing when at least this fraction of the typical (90th
                     percentile) trough depth.
    min_swing_rad_s: and at least this deep in rad/s (keeps a recording of standing still event-free).
    hs_window_s:     how long after the end-of-swing crossing the heel-strike peak is searched.
    to_window_s:     how long before the crossing into swing the toe-off peak is searched.
    to_coefficient:  0.49 in `toe-off = peak + c x (zero crossing - peak)`.
    """

    heel_strike: str = "peak"
    sign: float = 0.0
    cutoff_ratio: float = 0.2
    filter_order: int = 3
    min_stride_s: float = 0.5
    swing_fraction: float = 0.5
    min_swing_rad_s: float = 1.0
    hs_window_s: float = 0.15
    to_window_s: float = 0.3
    to_coefficient: float = 0.49

    def __post_init__(self) -> None:
        if self.heel_strike not in HEEL_STRIKE_RULES:
            raise ValueError(f"heel_strike: expected one of {HEEL_STRIKE_RULES}, found '{self.heel_strike}'")
        if self.sign not in (1.0, -1.0, 0.0):
            raise ValueError(f"sign: expected +1, -1 or 0 (auto), found {self.sign}")


# Qian 2025 detected on the shank ("shank" is their rule as published); on the foot only the heel-strike
# rule changes (see module docstring), a choice made on the gaitmap recording the benchmark scores it on.
PRESETS = {
    "shank": DetectorParams(),
    "foot": DetectorParams(heel_strike="zero_crossing"),
}


@dataclass
class GaitEvents:
    """Sample indices of one foot's events; `mid_swing` holds the troughs the strides were anchored on."""

    heel_strike: np.ndarray
    toe_off: np.ndarray
    mid_swing: np.ndarray
    polarity: str = ""  # what the sign check saw and did (empty when the sign was forced)

    def as_dict(self) -> dict[str, np.ndarray]:
        """The layout of `TrialData.events[foot]`."""
        return {"heel_strike": self.heel_strike, "toe_off": self.toe_off}


def resolve_params(params: DetectorParams | str = "shank", **overrides: float | str) -> DetectorParams:
    base = PRESETS[params] if isinstance(params, str) else params
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def smoothed_rate(gyro: np.ndarray, sample_rate_hz: float, params: DetectorParams | str = "shank") -> np.ndarray:
    """The signal the detector searches: `sign` x the angular rate low-passed by a Butterworth filter of
    `filter_order` at `cutoff_ratio` x the sample rate (20 Hz at 100 Hz, 40.96 Hz at 204.8 Hz), run forward
    and backward (zero phase, so the gain at the cutoff is 1/2). `sign=0` (auto) is taken as +1 here."""
    p = resolve_params(params)
    fs = float(sample_rate_hz)
    return (p.sign or 1.0) * lowpass(np.asarray(gyro, dtype=np.float64), fs, p.cutoff_ratio * fs, p.filter_order)


@dataclass(frozen=True)
class Polarity:
    """Result of `check_polarity`: the sign to use and the evidence (rad/s)."""

    sign: float  # +1, -1, or 0 when undecided
    negative: float  # 99th percentile of the negative excursion held for POLARITY_WINDOW_S
    positive: float  # the same for the positive excursion

    def describe(self) -> str:
        seen = (f"sustained swing-like excursion {self.negative:.2f} rad/s negative vs {self.positive:.2f} "
                f"positive over {POLARITY_WINDOW_S * 1000:.0f} ms")
        if self.sign > 0:
            return f"sign checked: swing negative as expected ({seen})"
        if self.sign < 0:
            return f"sign flipped: swing seen as positive ({seen}); inverted"
        return f"sign undecided ({seen})"


def check_polarity(gyro: np.ndarray, sample_rate_hz: float, params: DetectorParams | str = "shank") -> Polarity:
    """Which sign makes the swing the negative trough: the swing's excursion lasts (150 ms at over half its
    depth), the push-off and heel-strike spikes of the other sign are shorter. Measured on the gaitmap
    foot IMUs and the simulator's foot and shank gyroscopes, the right sign wins by a factor of 1.25-2.6."""
    p = replace(resolve_params(params), sign=1.0)
    fs = float(sample_rate_hz)
    s = smoothed_rate(gyro, fs, p)
    width = max(1, round(POLARITY_WINDOW_S * fs))
    negative = float(np.percentile(minimum_filter1d(np.clip(-s, 0.0, None), width), 99))
    positive = float(np.percentile(minimum_filter1d(np.clip(s, 0.0, None), width), 99))
    if max(negative, positive) < p.min_swing_rad_s:
        sign = 1.0 if negative >= positive else -1.0  # no walking: no events either way
    elif negative >= POLARITY_MARGIN * positive:
        sign = 1.0
    elif positive >= POLARITY_MARGIN * negative:
        sign = -1.0
    else:
        sign = 0.0
    return Polarity(sign, negative, positive)


def _crossing(s: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Fractional position of the zero crossing between samples i and i + 1 (linear interpolation)."""
    return i + s[i] / (s[i] - s[i + 1])


def _window_argmax(s: np.ndarray, starts: np.ndarray, width: int, lower: np.ndarray) -> np.ndarray:
    """Index of the maximum of `s[max(start, lower) : start + width]` for each start (vectorised)."""
    padded = np.concatenate([np.full(width, -np.inf), s, np.full(width, -np.inf)])
    windows = sliding_window_view(padded, width)[starts + width].copy()
    windows[np.arange(width)[None, :] < (lower - starts)[:, None]] = -np.inf
    return starts + windows.argmax(axis=1)


def detect_gait_events(
    gyro: np.ndarray,
    sample_rate_hz: float,
    params: DetectorParams | str = "shank",
    **overrides: float | str,
) -> GaitEvents:
    """Heel strikes and toe-offs of one foot from its sagittal angular rate `gyro` in rad/s.

    `params` is a `DetectorParams` or a preset name (`shank`, `foot`); keyword overrides replace single
    fields, e.g. `detect_gait_events(g, 100.0, "foot", sign=-1)`.
    """
    p = resolve_params(params, **overrides)
    gyro = np.asarray(gyro, dtype=np.float64)
    if gyro.ndim != 1:
        raise ValueError(f"detect_gait_events: expected one gyroscope axis [T], found shape {gyro.shape}")
    if not np.isfinite(gyro).all():
        n_bad = int((~np.isfinite(gyro)).sum())
        raise ValueError(f"detect_gait_events: {n_bad} samples are NaN or infinite; fill or cut them first")
    fs = float(sample_rate_hz)
    polarity = ""
    if p.sign == 0.0:
        found = check_polarity(gyro, fs, p)
        if found.sign == 0.0:
            raise ValueError(f"cannot tell the gyroscope's sign: {found.describe()}; the swing should be the "
                             "larger one. Check the axis is sagittal, or force it with --sign 1 / --invert")
        p = replace(p, sign=found.sign)
        polarity = found.describe()
    s = smoothed_rate(gyro, fs, p)

    troughs, props = find_peaks(-s, height=p.min_swing_rad_s, distance=max(1, round(p.min_stride_s * fs)))
    empty = np.zeros(0, dtype=np.int64)
    if not len(troughs):
        return GaitEvents(empty, empty, empty, polarity)
    depth = props["peak_heights"]
    mid_swing = troughs[depth >= p.swing_fraction * np.percentile(depth, 90)]

    positive = s > 0
    down = np.flatnonzero(positive[:-1] & ~positive[1:])  # s[i] > 0 >= s[i + 1]: into the swing
    up = np.flatnonzero(~positive[:-1] & positive[1:])  # s[i] <= 0 < s[i + 1]: end of the swing
    previous = np.append(-1, mid_swing[:-1])
    following = np.append(mid_swing[1:], len(s))

    # heel strike: after each trough, before the next one
    iu = np.searchsorted(up, mid_swing)
    has_up = iu < len(up)
    u = np.append(up, len(s))[iu]
    has_up &= u < following
    if p.heel_strike == "zero_crossing":
        hs_pos = _crossing(s, u[has_up])
    else:
        width = max(1, round(p.hs_window_s * fs))
        hs_pos = _window_argmax(s, u[has_up] + 1, width, u[has_up] + 1).astype(np.float64)
    heel_strike = np.full(len(mid_swing), -1.0)
    heel_strike[has_up] = hs_pos

    # toe-off: before each trough, after the previous one and after the previous heel strike
    idn = np.searchsorted(down, mid_swing) - 1
    d = np.append(down, -1)[idn]
    lower = np.maximum(previous, np.append(-1, heel_strike[:-1]).astype(np.int64)) + 1
    has_down = (idn >= 0) & (d >= lower)
    width = max(1, round(p.to_window_s * fs)) + 1
    d_ok = d[has_down]
    peak = _window_argmax(s, d_ok - width + 1, width, lower[has_down])
    toe_off = peak + p.to_coefficient * (_crossing(s, d_ok) - peak)

    return GaitEvents(
        heel_strike=np.rint(heel_strike[has_up]).astype(np.int64),
        toe_off=np.rint(toe_off).astype(np.int64),
        mid_swing=mid_swing.astype(np.int64),
        polarity=polarity,
    )


def gait_summary(events: GaitEvents, sample_rate_hz: float) -> str:
    """One line: event counts, median stride time and stance share of the stride (about 60 % in walking)."""
    text = f"{len(events.heel_strike)} heel strikes, {len(events.toe_off)} toe-offs"
    hs, to, _ = pair_stances(events.heel_strike, events.toe_off)
    if len(hs) < 2:
        return text
    stride = np.diff(hs)
    stance = (to[:-1] - hs[:-1]) / stride
    ok = stride <= 2 * np.median(stride)  # a gap between bouts is not a stride
    return (f"{text}; median stride {np.median(stride[ok]) / sample_rate_hz:.2f} s, "
            f"stance {100 * np.median(stance[ok]):.0f} % of the stride")


# -- zoo data events -------------------------------------------------------------------------------
def _foot_of(column: str) -> str | None:
    name = column.lower()
    for foot, prefix in (("right", "r_"), ("left", "l_")):
        if name.startswith(prefix) or foot in name:
            return foot
    return None


def _sensor_of(column: str) -> str | None:
    name = column.lower()
    found = [sensor for sensor in PRESETS if sensor in name]
    return found[0] if len(found) == 1 else None


# Every DetectorParams field is a `zoo data events` option, typed as the field (tests check the match).
DETECTOR_OPTIONS: dict[str, dict] = {
    "heel_strike": {"choices": HEEL_STRIKE_RULES},
    "sign": {"type": float, "choices": (1.0, -1.0, 0.0)},
    "cutoff_ratio": {"type": float},
    "filter_order": {"type": int},
    "min_stride_s": {"type": float},
    "swing_fraction": {"type": float},
    "min_swing_rad_s": {"type": float},
    "hs_window_s": {"type": float},
    "to_window_s": {"type": float},
    "to_coefficient": {"type": float},
}
DETECTOR_HELP = {
    "heel_strike": "heel strike at the peak after the swing (Qian 2025) or at the end-of-swing crossing",
    "sign": "0: read from the signal; +1 when the swing is negative (axis pointing left), -1 otherwise",
    "cutoff_ratio": "low-pass cutoff / sample rate",
    "filter_order": "Butterworth order (run forward and backward)",
    "min_stride_s": "shortest time between two mid-swings of a foot, s",
    "swing_fraction": "a mid-swing reaches this fraction of the typical depth",
    "min_swing_rad_s": "and this absolute depth, rad/s",
    "hs_window_s": "search window for the heel-strike peak after the end-of-swing crossing, s",
    "to_window_s": "search window for the toe-off peak before the crossing into swing, s",
    "to_coefficient": "c in toe-off = peak + c x (zero crossing - peak)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "events",
        help="detect heel strikes and toe-offs from gyroscope columns of one or many recordings",
        description="Detect heel strikes and toe-offs from the sagittal angular rate of a shank or foot "
        "gyroscope (Qian 2025) and write CSVs with columns foot,event,sample (sample indices of the input "
        "rows; on a packet-counter timeline when the file has a counter). Give one --gyro-column per foot; "
        "--foot pairs with them in order. Reads delimited text (preamble, header rows and delimiter detected), "
        "OpenSim .mot/.sto and MATLAB .mat (with --mapping).",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="recordings: paths or glob patterns ('data/*.txt')")
    p.add_argument("--gyro-column", action="append", required=True, dest="gyro_columns", metavar="NAME",
                   help="sagittal gyroscope column; with two header rows named 'ROW1/ROW2', "
                   "e.g. right_sensor/gyr_y")
    p.add_argument("--foot", action="append", dest="feet", choices=FEET,
                   help="foot of each --gyro-column (default: from the column name, R_/L_ or right/left)")
    p.add_argument("--unit", required=True, choices=("rad/s", "deg/s"), help="unit of the gyroscope columns")
    p.add_argument("--rate", type=float, help="sample rate in Hz (required unless the file states it)")
    reader = p.add_argument_group("reading the files", "detected when not given (docs/real_recordings.md)")
    reader.add_argument("--header-rows", type=int, help="header rows above the data, joined with '/'")
    reader.add_argument("--skip-rows", type=int, help="preamble lines before the header")
    reader.add_argument("--delimiter", help="tab, comma, semicolon, pipe, whitespace or one character")
    reader.add_argument("--counter", help="packet-counter column (default: a column named PacketCounter, "
                        "counter, ... if there is one; 'none' to ignore)")
    reader.add_argument("--max-fill", type=int, help="fill counter gaps of at most this many missing samples "
                        "(default 5); longer gaps split the recording")
    reader.add_argument("--mapping", type=Path, help="YAML with the 'mat' mapping (struct paths -> channels) "
                        "for .mat files, e.g. a subject sidecar")
    p.add_argument("--sensor", choices=tuple(PRESETS),
                   help="parameter preset (default: from the column name, e.g. R_SHANK_gyr_y -> shank)")
    detector = p.add_argument_group(
        "detector parameters", "override single fields of the preset (DetectorParams, docs/real_recordings.md)")
    for f in fields(DetectorParams):
        detector.add_argument(f"--{f.name.replace('_', '-')}", **DETECTOR_OPTIONS[f.name],
                              help=f"{DETECTOR_HELP[f.name]} (shank/foot preset: "
                              f"{getattr(PRESETS['shank'], f.name)}/{getattr(PRESETS['foot'], f.name)})")
    detector.add_argument("--invert", action="store_const", const=-1.0, dest="sign",
                          help="the same as --sign -1: force the sign for axes whose swing is positive")
    p.add_argument("--out", type=Path, help="output: a .csv file for one recording, else a folder (created) "
                   "that gets <name>.events.csv per recording (default: standard output)")
    p.set_defaults(func=run_events)


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Paths and glob patterns -> existing files, in order, each once; a pattern matching nothing is an error."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(Path(m) for m in glob.glob(pattern)) if glob.has_magic(pattern) else [Path(pattern)]
        if not matches:
            raise DataError(f"{pattern}: expected files matching this pattern, found none")
        for path in matches:
            if not path.is_file():
                raise DataError(f"{path}: no such file")
            if path not in found:
                found.append(path)
    return found


@dataclass
class FootResult:
    """One foot of one recording, for the report."""

    name: str
    foot: str
    column: str
    sensor: str
    events: GaitEvents
    rate: float
    parts: int = 1

    def line(self) -> str:
        sign = ("sign forced" if not self.events.polarity else "sign flipped, inverted"
                if "flipped" in self.events.polarity else "sign as expected")
        split = f"; {self.parts} parts (counter gaps)" if self.parts > 1 else ""
        return f"{self.foot} ({self.column}, {self.sensor}): {gait_summary(self.events, self.rate)}; {sign}{split}"


def _trials(path: Path, args: argparse.Namespace):
    from datamodules.readers import load_mapping, read_tables

    options = {k: getattr(args, k) for k in ("header_rows", "skip_rows", "delimiter", "counter", "max_fill")
               if getattr(args, k) is not None}
    if args.mapping is not None:
        sidecar = yaml.safe_load(args.mapping.read_text()) or {}
        options["mat"] = load_mapping(sidecar.get("mat", sidecar), args.mapping.parent, str(args.mapping))
    return read_tables(path, options, where=str(path))


def _detect(table, column: str, foot: str, args: argparse.Namespace, overrides: dict, name: str
            ) -> tuple[FootResult, dict[str, np.ndarray]]:
    rate = args.rate or table.sample_rate_hz
    if rate is None:
        raise DataError(f"{table.source}: --rate: expected the sample rate (the file does not state it), found none")
    sensor = args.sensor or _sensor_of(column)
    if sensor is None:
        raise DataError(f"{table.source}: column '{column}': cannot tell shank from foot by its name; "
                        f"pass --sensor {'|'.join(PRESETS)}")
    gyro = convert_units(table.columns[column], args.unit, "gyr", where=f"{table.source}, column '{column}'")
    segments = table.segments or [(0, len(gyro))]
    hs, to, mid, notes = [], [], [], []
    for a, b in segments:
        if len(segments) > 1 and b - a < 2 * rate:  # a sliver between two long gaps holds no stride
            continue
        try:
            found = detect_gait_events(gyro[a:b], rate, sensor, **overrides)
        except ValueError as exc:
            raise DataError(f"{table.source}, column '{column}': {exc}") from None
        start = timeline_start(table, a)  # the counter's timeline when a counter was read
        hs.append(found.heel_strike + start)
        to.append(found.toe_off + start)
        mid.append(found.mid_swing + start)
        notes.append(found.polarity)
    empty = [np.zeros(0, np.int64)]
    merged = GaitEvents(np.concatenate(hs or empty), np.concatenate(to or empty), np.concatenate(mid or empty),
                        next((n for n in notes if "flipped" in n), notes[0] if notes else ""))
    return FootResult(name, foot, column, sensor, merged, rate, len(segments)), merged.as_dict()


def run_events(args: argparse.Namespace) -> int:
    feet = args.feet or [_foot_of(c) for c in args.gyro_columns]
    if len(feet) != len(args.gyro_columns) or None in feet:
        found = args.feet or "none, and no R_/L_/right/left in the column names"
        raise DataError(f"--foot: expected one foot per --gyro-column ({len(args.gyro_columns)}), found {found}")
    if len(set(feet)) != len(feet):
        raise DataError(f"--foot: expected each foot at most once, found {feet}")
    overrides = {f.name: getattr(args, f.name) for f in fields(DetectorParams)}
    recordings = []
    for path in expand_inputs(args.inputs):
        for trial_name, table in _trials(path, args):
            table.require(args.gyro_columns, "--gyro-column")
            name = str(path) if trial_name == path.stem else f"{path}:{trial_name}"
            results, events = [], {}
            for column, foot in zip(args.gyro_columns, feet):
                result, events[foot] = _detect(table, column, foot, args, overrides, name)
                results.append(result)
            recordings.append((path, trial_name, table, results, events))
    single = len(recordings) == 1
    if args.out is not None and single and args.out.suffix.lower() == ".csv":
        targets = [args.out]
    elif args.out is not None:
        targets = [args.out / (f"{p.stem}.events.csv" if t == p.stem else f"{p.stem}_{t}.events.csv")
                   for p, t, *_ in recordings]
    else:
        targets = [None] * len(recordings)
    report = sys.stdout if args.out else sys.stderr
    for (_path, _trial, table, results, events), target in zip(recordings, targets):
        if target is None:
            if not single:
                print(f"# {results[0].name}", file=sys.stdout)
            write_events_csv(sys.stdout, events)
        else:
            write_events_csv(target, events)
        if not single:
            print(f"{results[0].name}:", file=report)
        for note in table.notes:
            if not note.startswith("read as") and not note.startswith("MATLAB struct"):
                print(f"  - {note}" if not single else f"- {note}", file=report)
        for result in results:
            print(("  " if not single else "") + result.line(), file=report)
        for result in results:
            if "flipped" in result.events.polarity:
                print(("  " if not single else "") + f"  {result.column}: {result.events.polarity}", file=report)
        if target is not None:
            print(("  " if not single else "") + f"wrote {target}", file=report)
    if not single:
        print(summary_table([r for *_, results, _ in recordings for r in results]), file=report)
    return 0


def summary_table(results: list[FootResult]) -> str:
    """One markdown row per recording and foot: counts, stride, stance, sign."""
    lines = ["| recording | foot | heel strikes | toe-offs | median stride s | stance % | sign |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        hs, to, _ = pair_stances(r.events.heel_strike, r.events.toe_off)
        stride = stance = float("nan")
        if len(hs) >= 2:
            d = np.diff(hs)
            ok = d <= 2 * np.median(d)
            stride = float(np.median(d[ok])) / r.rate
            stance = 100 * float(np.median(((to[:-1] - hs[:-1]) / d)[ok]))
        sign = "forced" if not r.events.polarity else "flipped, inverted" if "flipped" in r.events.polarity \
            else "as expected"
        lines.append(f"| {r.name} | {r.foot} | {len(r.events.heel_strike)} | {len(r.events.toe_off)} | "
                     f"{stride:.2f} | {stance:.0f} | {sign} |")
    return "\n".join(lines)


__all__ = [
    "DetectorParams",
    "GaitEvents",
    "HEEL_STRIKE_RULES",
    "PRESETS",
    "check_polarity",
    "detect_gait_events",
    "gait_summary",
    "smoothed_rate",
]
