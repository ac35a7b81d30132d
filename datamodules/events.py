"""Gait events (heel strike, toe-off) from one sagittal gyroscope, and `zoo data events`.

The rule is Qian 2025's (after Bötzel et al.): low-pass the angular rate (3rd-order Butterworth,
20 Hz at 100 Hz, zero phase), take heel strike at a gyroscope peak and toe-off at
`peak + 0.49 x (zero crossing - peak)`, where the peak is the last one before the signal crosses
from positive to negative into the swing.

Sign convention (`sign`): the detector expects swing as a large negative trough and heel strike as a
positive peak. That is what a sagittal gyroscope axis pointing to the subject's *left* measures (the
zoo's world frame: x forward, y left, z up), both on the shank (the simulator's `R_SHANK_gyr_y`) and on
the foot (gaitmap's aligned `gyr_y`). An axis pointing right (or any sensor whose swing is positive)
needs `sign=-1` (`--invert`).

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
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import find_peaks

from datamodules.errors import DataError
from datamodules.importers import convert_units, read_csv_table, write_events_csv
from datamodules.naming import FEET
from datamodules.preprocessing import lowpass, pair_stances

HEEL_STRIKE_RULES = ("peak", "zero_crossing")


@dataclass(frozen=True)
class DetectorParams:
    """Parameters of `detect_gait_events`; times in seconds, so they hold at any sample rate.

    heel_strike:     "peak" (Qian 2025, shank) or "zero_crossing" (end of swing; foot sensors).
    sign:            +1 when swing is negative (sagittal axis pointing left), -1 otherwise.
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
    sign: float = 1.0
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
        if self.sign not in (1.0, -1.0):
            raise ValueError(f"sign: expected +1 or -1, found {self.sign}")


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

    def as_dict(self) -> dict[str, np.ndarray]:
        """The layout of `TrialData.events[foot]`."""
        return {"heel_strike": self.heel_strike, "toe_off": self.toe_off}


def resolve_params(params: DetectorParams | str = "shank", **overrides: float | str) -> DetectorParams:
    base = PRESETS[params] if isinstance(params, str) else params
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def smoothed_rate(gyro: np.ndarray, sample_rate_hz: float, params: DetectorParams | str = "shank") -> np.ndarray:
    """The signal the detector searches: `sign` x the angular rate low-passed by a Butterworth filter of
    `filter_order` at `cutoff_ratio` x the sample rate (20 Hz at 100 Hz, 40.96 Hz at 204.8 Hz), run forward
    and backward (zero phase, so the gain at the cutoff is 1/2)."""
    p = resolve_params(params)
    fs = float(sample_rate_hz)
    return p.sign * lowpass(np.asarray(gyro, dtype=np.float64), fs, p.cutoff_ratio * fs, p.filter_order)


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
    s = smoothed_rate(gyro, fs, p)

    troughs, props = find_peaks(-s, height=p.min_swing_rad_s, distance=max(1, round(p.min_stride_s * fs)))
    empty = np.zeros(0, dtype=np.int64)
    if not len(troughs):
        return GaitEvents(empty, empty, empty)
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
    "sign": {"type": float, "choices": (1.0, -1.0)},
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
    "sign": "+1 when the swing is negative (axis pointing left), -1 otherwise",
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
        help="detect heel strikes and toe-offs from gyroscope columns of a CSV recording",
        description="Detect heel strikes and toe-offs from the sagittal angular rate of a shank or foot "
        "gyroscope (Qian 2025) and write a CSV with columns foot,event,sample (sample indices of the input "
        "rows). Give one --gyro-column per foot; --foot pairs with them in order.",
    )
    p.add_argument("csv", type=Path, help="CSV recording, one row per sample")
    p.add_argument("--gyro-column", action="append", required=True, dest="gyro_columns", metavar="NAME",
                   help="sagittal gyroscope column; with --header-rows 2 named 'ROW1/ROW2', "
                   "e.g. right_sensor/gyr_y")
    p.add_argument("--foot", action="append", dest="feet", choices=FEET,
                   help="foot of each --gyro-column (default: from the column name, R_/L_ or right/left)")
    p.add_argument("--unit", required=True, choices=("rad/s", "deg/s"), help="unit of the gyroscope columns")
    p.add_argument("--rate", required=True, type=float, help="sample rate in Hz")
    p.add_argument("--header-rows", type=int, default=1, help="header rows, joined with '/' (default 1)")
    p.add_argument("--sensor", choices=tuple(PRESETS),
                   help="parameter preset (default: from the column name, e.g. R_SHANK_gyr_y -> shank)")
    detector = p.add_argument_group(
        "detector parameters", "override single fields of the preset (DetectorParams, docs/real_recordings.md)")
    for f in fields(DetectorParams):
        detector.add_argument(f"--{f.name.replace('_', '-')}", **DETECTOR_OPTIONS[f.name],
                              help=f"{DETECTOR_HELP[f.name]} (shank/foot preset: "
                              f"{getattr(PRESETS['shank'], f.name)}/{getattr(PRESETS['foot'], f.name)})")
    detector.add_argument("--invert", action="store_const", const=-1.0, dest="sign",
                          help="the same as --sign -1: for axes whose swing is positive")
    p.add_argument("--out", type=Path, help="output CSV (default: standard output)")
    p.set_defaults(func=run_events)


def run_events(args: argparse.Namespace) -> int:
    feet = args.feet or [_foot_of(c) for c in args.gyro_columns]
    if len(feet) != len(args.gyro_columns) or None in feet:
        found = args.feet or "none, and no R_/L_/right/left in the column names"
        raise DataError(f"{args.csv}: --foot: expected one foot per --gyro-column "
                        f"({len(args.gyro_columns)}), found {found}")
    if len(set(feet)) != len(feet):
        raise DataError(f"{args.csv}: --foot: expected each foot at most once, found {feet}")
    table = read_csv_table(args.csv, header_rows=args.header_rows, columns=args.gyro_columns)
    overrides = {f.name: getattr(args, f.name) for f in fields(DetectorParams)}
    events, lines = {}, []
    for column, foot in zip(args.gyro_columns, feet):
        sensor = args.sensor or _sensor_of(column)
        if sensor is None:
            raise DataError(f"{args.csv}: column '{column}': cannot tell shank from foot by its name; "
                            f"pass --sensor {'|'.join(PRESETS)}")
        gyro = convert_units(table[column], args.unit, "gyr", where=f"{args.csv}, column '{column}'")
        try:
            found = detect_gait_events(gyro, args.rate, sensor, **overrides)
        except ValueError as exc:
            raise DataError(f"{args.csv}, column '{column}': {exc}") from None
        events[foot] = found.as_dict()
        lines.append(f"{foot} ({column}, {sensor}): {gait_summary(found, args.rate)}")
    write_events_csv(args.out or sys.stdout, events)
    report = sys.stdout if args.out else sys.stderr
    for line in lines:
        print(line, file=report)
    if args.out:
        print(f"wrote {args.out}", file=report)
    return 0


__all__ = [
    "DetectorParams",
    "GaitEvents",
    "HEEL_STRIKE_RULES",
    "PRESETS",
    "detect_gait_events",
    "gait_summary",
    "smoothed_rate",
]
