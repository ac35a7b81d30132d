"""Importers into the recording format: from named arrays (Python) and from CSV files (`zoo data import`).

Both paths meet in `trial_from_arrays`: columns are recognised by name, converted to the format's
units and optionally resampled, so a CSV import is only "read the files, then call it". The CSV
layout (one file per trial, a `subject.yaml` sidecar per subject) is documented in
docs/real_recordings.md.

Column names (case-sensitive):
  time                              seconds; only used to find or check the sample rate
  <SEGMENT>_acc_<x|y|z>             accelerometer, e.g. R_FOOT_acc_x (m/s^2, or g)
  <SEGMENT>_gyr_<x|y|z>             gyroscope (rad/s, or deg/s)
  R_HIP_flex ... L_ANKLE_rot        joint angles of datamodules.naming (deg, or rad)
  grf_<foot>_<ml|ap|vertical>       ground reaction force per foot, any subset of the axes (N, or kN);
                                    <foot> may be `total` (both feet summed: a treadmill, a single plate)
  p_<foot>_r<row>_c<col>            one pressure cell per column, any grid (N/cm^2, kPa, Pa, MPa)
  kp_<name>_<x|y|z>                 keypoint positions (m, cm, mm)
  com_<x|y|z>                       centre of mass position (m, cm, mm)
  cop_<foot>_<x|y|z>                centre of pressure, world frame (m, cm, mm)
  insole_<foot>_<sensor>            force under one sparse insole sensor (N, kN)

Files are read by `datamodules.readers` (delimited text with preamble and any delimiter, packet
counters with gaps, MATLAB structs, C3D, OpenSim .mot/.sto).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

from datamodules.errors import DataError
from datamodules.naming import (
    ACTIVITIES,
    ARCH_TYPES,
    FEET,
    GRAVITY,
    GRF_AXES,
    IMU_SEGMENTS,
    IMU_UNITS,
    JOINT_ANGLE_CHANNELS,
    SEXES,
)
from datamodules.preprocessing import resample, resample_indices
from datamodules.readers import READER_OPTIONS, SUFFIXES, events_in_part, read_tables, split_segments
from datamodules.readers.delimited import read_delimited
from datamodules.readers.table import missing_found
from datamodules.recording import (
    EVENT_KINDS,
    JOINT_ANGLE_UNIT,
    RecordingWriter,
    Signals,
    SubjectInfo,
    TrialData,
)

# Accepted units per kind of column: factor to the recording format's unit (the first entry).
UNITS: dict[str, dict[str, float]] = {
    "time": {"s": 1.0, "ms": 1e-3},
    "acc": {"m/s^2": 1.0, "g": GRAVITY},
    "gyr": {"rad/s": 1.0, "deg/s": math.pi / 180.0},
    "joint": {"deg": 1.0, "rad": 180.0 / math.pi},
    "grf": {"N": 1.0, "kN": 1e3},
    "pressure": {"N/cm^2": 1.0, "kPa": 0.1, "Pa": 1e-4, "MPa": 100.0},
    "position": {"m": 1.0, "cm": 1e-2, "mm": 1e-3},
    "force": {"N": 1.0, "kN": 1e3},
}
COLUMN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("time", re.compile(r"time")),
    ("imu", re.compile(r"(?P<segment>[A-Z][A-Z0-9_]*)_(?P<sensor>acc|gyr)_(?P<axis>[xyz])")),
    ("joint", re.compile("|".join(JOINT_ANGLE_CHANNELS))),
    ("grf", re.compile(r"grf_(?P<foot>left|right|total)_(?P<axis>ml|ap|vertical)")),
    ("pressure", re.compile(r"p_(?P<foot>left|right)_r(?P<row>\d+)_c(?P<col>\d+)")),
    ("keypoint", re.compile(r"kp_(?P<name>.+)_(?P<axis>[xyz])")),
    ("com", re.compile(r"com_(?P<axis>[xyz])")),
    ("cop", re.compile(r"cop_(?P<foot>left|right)_(?P<axis>[xyz])")),
    ("insole", re.compile(r"insole_(?P<foot>left|right)_(?P<name>.+)")),
)
EXPECTED_COLUMNS = ("time, <SEGMENT>_<acc|gyr>_<x|y|z>, R_HIP_flex..L_ANKLE_rot, "
                    "grf_<foot>_<ml|ap|vertical>, p_<foot>_r<row>_c<col>, kp_<name>_<x|y|z>, com_<x|y|z>, "
                    "cop_<foot>_<x|y|z>, insole_<foot>_<sensor>")
RATE_TOLERANCE = 0.01  # a `time` column may deviate this much (relative) from the declared rate

SIDECAR_NAMES = ("subject.yaml", "subject.yml", "subject.json")
SUBJECT_KEYS = ("subject_id", "body_mass_kg", "height_m", "sex", "foot_length_m", "arch_type", "attrs")
TRIAL_KEYS = ("sample_rate_hz", "activity", "speed_m_s", "header_rows", "columns", "ignore_columns", "units",
              "pressure_cell_size_m", "negate_columns", *(k for k in READER_OPTIONS if k != "header_rows"))
TRIAL_ONLY_KEYS = ("file", "events", "pressure_frames")
AUTO_SUFFIXES = tuple(s for s in SUFFIXES if s not in (".txt", ".dat"))
EVENTS_HEADER = ("foot", "event", "sample")


# -- numbers from CSV --------------------------------------------------------------------------------
def convert_units(values: np.ndarray, unit: str, kind: str, where: str) -> np.ndarray:
    """`values` in `unit` -> the recording format's unit for `kind` (a key of UNITS)."""
    factors = UNITS[kind]
    if unit not in factors:
        raise DataError(f"{where}: unit: expected one of {list(factors)} for {kind}, found '{unit}'")
    return np.asarray(values, dtype=np.float64) * factors[unit]


def _read_numbers(path: Path, names: list[str], header_rows: int) -> np.ndarray:
    """Numbers of a comma-separated file with `header_rows` header lines (pressure frames: 0)."""
    table = read_delimited(path, delimiter=",", skip_rows=0, header_rows=header_rows,
                           column_names=names if header_rows == 0 else None)
    return np.stack(list(table.columns.values()), axis=1) if table.columns else np.zeros((0, len(names)))


def read_csv_table(
    path: str | Path, header_rows: int | None = 1, columns: list[str] | None = None, *,
    delimiter: str | None | type[Ellipsis] = ..., skip_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Columns of a numeric text table by name (`datamodules.readers.delimited`): delimiter and preamble
    detected unless given. With several header rows a column is named by its header cells joined with '/'
    (gaitmap's `right_sensor` over `gyr_y` -> `right_sensor/gyr_y`). `columns` restricts the result and
    must all be present."""
    return read_delimited(path, delimiter=delimiter, skip_rows=skip_rows, header_rows=header_rows,
                          columns=columns).columns


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def read_pressure_frames(folder: str | Path) -> np.ndarray:
    """`[T, H, W]` from a folder of one CSV per frame (H lines of W values, no header), in natural name
    order (frame_2 before frame_10)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"), key=_natural_key)
    if not files:
        raise DataError(f"{folder}: expected one CSV file per pressure frame, found none")
    frames = []
    for path in files:
        with path.open(newline="") as f:
            width = len(next(csv.reader(f), []))
        frame = _read_numbers(path, [f"c{c}" for c in range(width)], 0)
        if frames and frame.shape != frames[0].shape:
            raise DataError(f"{path}: expected a {frames[0].shape[0]} x {frames[0].shape[1]} grid as in "
                            f"{files[0].name}, found {frame.shape[0]} x {frame.shape[1]}")
        frames.append(frame)
    return np.stack(frames)


def read_events_csv(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The `foot,event,sample` CSV written by `zoo data events` -> `{foot: {event: sample indices}}`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such events file")
    found: dict[str, dict[str, list[int]]] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = tuple(c.strip() for c in next(reader, ()))
        if header != EVENTS_HEADER:
            raise DataError(f"{path}, line 1: expected header {','.join(EVENTS_HEADER)}, "
                            f"found {','.join(header)}")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            foot, event, sample = (c.strip() for c in (row + ["", "", ""])[:3])
            if len(row) != 3 or foot not in FEET or event not in EVENT_KINDS or not sample.isdigit():
                raise DataError(f"{path}, line {line_no}: expected foot in {list(FEET)}, event in "
                                f"{list(EVENT_KINDS)} and a sample index >= 0, found {','.join(row)}")
            found.setdefault(foot, {k: [] for k in EVENT_KINDS})[event].append(int(sample))
    return {foot: {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in ev.items()}
            for foot, ev in found.items()}


def write_events_csv(dest: str | Path | IO[str], events: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write `{foot: {event: samples}}` as `foot,event,sample` rows (read by `zoo data import --events`), with
    plain `\n` line endings; a file's missing parent folders are created."""
    rows = [(foot, kind, int(s)) for foot in FEET if foot in events
            for kind in EVENT_KINDS for s in np.sort(events[foot].get(kind, []))]
    if isinstance(dest, str | Path):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        with Path(dest).open("w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([EVENTS_HEADER, *rows])
    else:
        csv.writer(dest, lineterminator="\n").writerows([EVENTS_HEADER, *rows])


# -- arrays -> TrialData ------------------------------------------------------------------------------
def _classify(name: str, source: str) -> tuple[str, re.Match[str]]:
    for kind, pattern in COLUMN_PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return kind, match
    raise DataError(f"{source}, column '{name}': expected a name of the form {EXPECTED_COLUMNS} "
                    "(rename it with `columns` or skip it with `ignore_columns` in the sidecar)")


def _unit_for(name: str, kind: str, units: Mapping[str, str]) -> str:
    """The unit given for `name` exactly, else for the first glob pattern matching it, else the default."""
    if name in units:
        return units[name]
    for pattern, unit in units.items():
        if fnmatch.fnmatchcase(name, pattern):
            return unit
    return next(iter(UNITS[kind]))


def _axes_block(source: str, what: str, by_axis: dict[str, np.ndarray], axes: tuple[str, ...]) -> np.ndarray:
    missing = [a for a in axes if a not in by_axis]
    if missing:
        raise DataError(f"{source}: {what}: expected the axes {list(axes)}, {missing_found(missing, sorted(by_axis))}")
    return np.stack([by_axis[a] for a in axes], axis=-1)


def _pressure_grid(source: str, foot: str, cells: dict[tuple[int, int], np.ndarray], n: int) -> np.ndarray:
    rows = 1 + max(r for r, _ in cells)
    cols = 1 + max(c for _, c in cells)
    missing = [f"p_{foot}_r{r}_c{c}" for r in range(rows) for c in range(cols) if (r, c) not in cells]
    if missing:
        raise DataError(f"{source}: pressure grid of the {foot} foot is {rows} x {cols}: expected every cell "
                        f"column, {missing_found(missing, sorted(f'p_{foot}_r{r}_c{c}' for r, c in cells), 5)}")
    grid = np.empty((n, rows, cols))
    for (r, c), values in cells.items():
        grid[:, r, c] = values
    return grid


def _imu_order(channel: str) -> tuple[str, int, str, str]:
    """The 48-channel order (accelerometers first, segments as IMU_SEGMENTS); others after, by name."""
    segment, sensor, axis = channel.rsplit("_", 2)
    known = IMU_SEGMENTS.index(segment) if segment in IMU_SEGMENTS else len(IMU_SEGMENTS)
    return sensor, known, segment, axis


def _where_row(source: str, row: int, line_of_row: Callable[[int], int] | None) -> str:
    """`file, line N` (1-based, header rows included) when the rows come from a file, else `sample i`."""
    return f"{source}, line {line_of_row(row)}" if line_of_row is not None else f"{source}, sample {row}"


def _rate_from_time(time_s: np.ndarray, declared: float | None, source: str,
                    line_of_row: Callable[[int], int] | None = None) -> float:
    step = np.diff(time_s)
    if len(step) == 0:
        raise DataError(f"{source}, column 'time': expected at least 2 samples, found {len(time_s)}")
    if not np.isfinite(time_s).all():
        row = int(np.argmax(~np.isfinite(time_s)))
        raise DataError(f"{_where_row(source, row, line_of_row)}, column 'time': expected a time in every "
                        f"row, found {time_s[row]}")
    if (step <= 0).any():
        row = int(np.argmax(step <= 0)) + 1  # the sample whose time does not exceed the one before
        raise DataError(f"{_where_row(source, row, line_of_row)}, column 'time': expected strictly increasing "
                        f"times, found {time_s[row]:g} s after {time_s[row - 1]:g} s")
    rate = 1.0 / float(np.median(step))
    if declared is not None and abs(rate - declared) > RATE_TOLERANCE * declared:
        raise DataError(f"{source}, column 'time': expected samples at the declared {declared:g} Hz, "
                        f"found {rate:.4g} Hz")
    return declared if declared is not None else rate


IRREGULAR_STEP = 0.1  # a sample interval this far (relative) from the median one is irregular


def time_irregularity(time_s: np.ndarray) -> str | None:
    """`k of n sample intervals differ from the median ... by more than 10 %` for irregular time stamps
    (dropped or jittered samples), else None."""
    step = np.diff(np.asarray(time_s, dtype=np.float64))
    if not len(step) or not np.isfinite(step).all() or (step <= 0).any():
        return None  # not a time axis at all: `_rate_from_time` names what is wrong
    median = float(np.median(step))
    off = np.abs(step - median) > IRREGULAR_STEP * median
    if not off.any():
        return None
    worst = int(np.argmax(np.abs(step - median)))
    return (f"column 'time': {int(off.sum())} of {len(step)} sample intervals differ from the median {median:.4g} s "
            f"by more than {IRREGULAR_STEP:.0%} (largest {step[worst]:.4g} s after sample {worst}); stored at "
            f"{1 / median:.4g} Hz as if regular")


def trial_from_arrays(
    trial_id: str,
    sample_rate_hz: float | None,
    columns: Mapping[str, np.ndarray],
    *,
    units: Mapping[str, str] | None = None,
    pressure: Mapping[str, np.ndarray] | None = None,
    pressure_cell_size_m: tuple[float, float] | None = None,
    events: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    activity: str = "unknown",
    speed_m_s: float | None = None,
    resample_hz: float | None = None,
    attrs: Mapping[str, Any] | None = None,
    source: str = "arrays",
    line_of_row: Callable[[int], int] | None = None,
) -> TrialData:
    """A `TrialData` from named 1-D columns (see the module docstring for the names).

    units:     unit per column name or glob pattern (`{"*_gyr_*": "deg/s"}`); unlisted columns take the
               format's unit. Values are converted (deg/s -> rad/s, kPa -> N/cm^2, ...).
    pressure:  foot -> frames `[T, H, W]` (row 0 at the heel, column 0 medial); their unit is the one
               given for `p_<foot>`.
    events:    foot -> {"heel_strike": samples, "toe_off": samples} at `sample_rate_hz`.
    sample_rate_hz: may be None when a `time` column gives it.
    resample_hz: resample every signal (polyphase, anti-aliased) and rescale the events.
    `source` names the origin (a file) in error messages; `line_of_row` maps a sample index to its
    1-based line in that file (CSV import), so row errors name the line instead of the sample.
    """
    units = dict(units or {})
    shapes = {name: np.shape(v) for name, v in columns.items()}
    shapes.update({f"pressure frames of the {foot} foot": np.shape(v)[:1]
                   for foot, v in (pressure or {}).items()})
    n = next(iter(shapes.values()), (0,))[0]
    bad = {name: shape for name, shape in shapes.items()
           if shape[:1] != (n,) or (name in columns and len(shape) != 1)}
    if bad:
        raise DataError(f"{source}: expected every column as 1-D array of {n} samples, found {bad}")

    imu: dict[str, tuple[np.ndarray, str]] = {}
    joints: dict[str, np.ndarray] = {}
    grf: dict[str, dict[str, np.ndarray]] = {}
    cells: dict[str, dict[tuple[int, int], np.ndarray]] = {}
    keypoints: dict[str, dict[str, np.ndarray]] = {}
    com: dict[str, np.ndarray] = {}
    cop: dict[str, dict[str, np.ndarray]] = {}
    insole: dict[str, dict[str, np.ndarray]] = {}
    rate = sample_rate_hz
    for name, values in columns.items():
        kind, m = _classify(name, source)
        unit_kind = (m["sensor"] if kind == "imu" else "position" if kind in ("keypoint", "com", "cop")
                     else "force" if kind == "insole" else kind)
        x = convert_units(values, _unit_for(name, unit_kind, units), unit_kind, f"{source}, column '{name}'")
        if kind == "time":
            rate = _rate_from_time(x, sample_rate_hz, source, line_of_row)
            irregular = time_irregularity(x)
            if irregular:  # kept in the file, not silently accepted (`zoo data import` also prints it)
                attrs = {**(attrs or {}), "time_irregularity": irregular}
        elif kind == "imu":
            imu[name] = (x, IMU_UNITS[m["sensor"]])
        elif kind == "joint":
            joints[name] = x
        elif kind == "grf":
            grf.setdefault(m["foot"], {})[m["axis"]] = x
        elif kind == "pressure":
            cells.setdefault(m["foot"], {})[(int(m["row"]), int(m["col"]))] = x
        elif kind == "keypoint":
            keypoints.setdefault(m["name"], {})[m["axis"]] = x
        elif kind == "cop":
            cop.setdefault(m["foot"], {})[m["axis"]] = x
        elif kind == "insole":
            insole.setdefault(m["foot"], {})[m["name"]] = x
        else:
            com[m["axis"]] = x
    if rate is None or not rate > 0:
        raise DataError(f"{source}: expected a sample rate (a `time` column or sample_rate_hz), found {rate}")

    imu = dict(sorted(imu.items(), key=lambda item: _imu_order(item[0])))
    frames = {foot: _pressure_grid(source, foot, c, n) for foot, c in cells.items()}
    for foot, p in (pressure or {}).items():
        if foot in frames:
            raise DataError(f"{source}: pressure of the {foot} foot: expected cell columns or frames, "
                            "found both")
        frames[foot] = convert_units(p, _unit_for(f"p_{foot}", "pressure", units), "pressure",
                                     f"{source}, pressure frames of the {foot} foot")
    if frames and (pressure_cell_size_m is None or len(pressure_cell_size_m) != 2
                   or not all(v > 0 for v in pressure_cell_size_m)):
        raise DataError(f"{source}: pressure: expected pressure_cell_size_m = [row pitch, column pitch] in m "
                        f"(a sidecar key), found {pressure_cell_size_m}")
    trial = TrialData(
        trial_id=trial_id,
        sample_rate_hz=float(rate),
        activity=activity,
        speed_m_s=speed_m_s,
        imu=Signals(np.stack([v for v, _ in imu.values()], axis=1), tuple(imu),
                    tuple(u for _, u in imu.values())) if imu else None,
        joint_angles=Signals(np.stack(list(joints.values()), axis=1), tuple(joints), JOINT_ANGLE_UNIT)
        if joints else None,
        grf={foot: np.stack([by_axis[a] for a in GRF_AXES if a in by_axis], axis=-1) for foot, by_axis in grf.items()},
        grf_axes={foot: tuple(a for a in GRF_AXES if a in by_axis) for foot, by_axis in grf.items()},
        pressure=frames,
        pressure_cell_size_m=tuple(pressure_cell_size_m) if pressure_cell_size_m is not None else None,
        keypoints=np.stack([_axes_block(source, f"keypoint '{k}'", v, ("x", "y", "z"))
                            for k, v in keypoints.items()], axis=1) if keypoints else None,
        keypoint_names=tuple(keypoints),
        com=_axes_block(source, "centre of mass", com, ("x", "y", "z")) if com else None,
        cop={foot: _axes_block(source, f"COP of the {foot} foot", v, ("x", "y", "z")) for foot, v in cop.items()},
        insole={foot: Signals(np.stack(list(v.values()), axis=1), tuple(v), "N") for foot, v in insole.items()},
        events=_check_events(events or {}, n, source),
        attrs=dict(attrs or {}),
    )
    if resample_hz and resample_hz != trial.sample_rate_hz:
        return resample_trial(trial, resample_hz)
    return trial


def _check_events(
    events: Mapping[str, Mapping[str, np.ndarray]], n: int, source: str
) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for foot, kinds in events.items():
        if foot not in FEET or set(kinds) - set(EVENT_KINDS):
            raise DataError(f"{source}: events: expected feet {list(FEET)} with kinds {list(EVENT_KINDS)}, "
                            f"found {foot}: {sorted(kinds)}")
        out[foot] = {k: np.asarray(v, dtype=np.int64) for k, v in kinds.items()}
        for kind, idx in out[foot].items():
            if len(idx) and (idx.min() < 0 or idx.max() >= n):
                raise DataError(f"{source}: events/{foot}/{kind}: expected sample indices in [0, {n}), "
                                f"found {idx.min()}..{idx.max()}")
    return out


def resample_trial(trial: TrialData, fs_out: float) -> TrialData:
    """Every signal of `trial` at `fs_out` Hz, events moved to the nearest new sample. Pressure is clipped
    at 0 afterwards: the anti-aliasing filter rings slightly below zero at the edges of a stance."""
    fs = trial.sample_rate_hz

    def signals(sig: Signals | None) -> Signals | None:
        return None if sig is None else Signals(resample(sig.data, fs, fs_out), sig.channels, sig.units)

    out = TrialData(
        trial_id=trial.trial_id,
        sample_rate_hz=float(fs_out),
        activity=trial.activity,
        speed_m_s=trial.speed_m_s,
        imu=signals(trial.imu),
        joint_angles=signals(trial.joint_angles),
        grf={f: resample(v, fs, fs_out) for f, v in trial.grf.items()},
        grf_axes=dict(trial.grf_axes),
        pressure={f: np.clip(resample(v, fs, fs_out), 0.0, None) for f, v in trial.pressure.items()},
        pressure_cell_size_m=trial.pressure_cell_size_m,
        keypoints=None if trial.keypoints is None else resample(trial.keypoints, fs, fs_out),
        keypoint_names=trial.keypoint_names,
        com=None if trial.com is None else resample(trial.com, fs, fs_out),
        cop={f: resample(v, fs, fs_out) for f, v in trial.cop.items()},
        insole={f: signals(v) for f, v in trial.insole.items()},
        attrs={**trial.attrs, "source_sample_rate_hz": fs},
    )
    out.events = {foot: {k: np.unique(resample_indices(v, fs, fs_out, out.n_samples)) for k, v in ev.items()}
                  for foot, ev in trial.events.items()}
    return out


# -- CSV folders -> recording ---------------------------------------------------------------------------
@dataclass
class TrialSource:
    """Where one trial's files are and the sidecar options that apply to it."""

    trial_id: str
    csv: Path | None
    frames: dict[str, Path] = field(default_factory=dict)
    events: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedTrial:
    """What `import_csv` wrote for one trial (for the command's report)."""

    subject_id: str
    trial_id: str
    sample_rate_hz: float
    n_samples: int
    contents: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line per trial, then one indented line per thing the readers did (`  - ...`)."""
        line = (f"{self.subject_id}/{self.trial_id}: {self.n_samples} samples at {self.sample_rate_hz:g} Hz; "
                f"{'; '.join(self.contents)}")
        return "\n".join([line, *(f"  - {note}" for note in self.notes)])


def _check_keys(where: str, mapping: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise DataError(f"{where}: expected a mapping of keys {list(allowed)}, "
                        f"found {type(mapping).__name__}")
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise DataError(f"{where}: key(s) {unknown}: expected only {list(allowed)}")
    return mapping


def _number(path: Path, key: str, value: Any, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise DataError(f"{path}, key '{key}': expected a positive number{' or null' if optional else ''}, "
                        f"found {value!r}")
    return float(value)


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is not None and not isinstance(value, dict):
        raise DataError(f"{path}, key '{key}': expected a mapping, found {value!r}")
    return dict(value or {})


def _choice(path: Path, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DataError(f"{path}, key '{key}': expected one of {list(choices)}, found {value!r}")
    return value


def _is_text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_name(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) not in ("", ".", "..") \
        and "/" not in str(value)


def _unencodable(value: Any, where: str = "") -> str | None:
    """The key path of the first string (key or value) UTF-8 cannot encode (a lone surrogate from JSON)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
    elif isinstance(value, dict):
        for k, v in value.items():
            found = _unencodable(k, f"{where}/{k!r}".lstrip("/")) or _unencodable(v, f"{where}/{k}".lstrip("/"))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _unencodable(v, f"{where}[{i}]")
            if found:
                return found
    return None


def _is_attr_scalar(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63  # HDF5 stores 64-bit integers
    return isinstance(value, str | float | bool)


def _is_attr_value(value: Any) -> bool:
    """What an HDF5 attribute can hold: a string, a number, a boolean or a flat list of one kind of them."""
    return _is_attr_scalar(value) or (isinstance(value, list) and bool(value) and len({type(v) for v in value}) == 1
                                      and all(_is_attr_scalar(v) for v in value))


def _is_attrs(value: Any) -> bool:
    """Extra subject attributes: named (not after the subject's own attributes, which they would overwrite)."""
    return isinstance(value, dict) and all(isinstance(k, str) and k and k not in SUBJECT_KEYS and _is_attr_value(x)
                                           for k, x in value.items())


# Sidecar keys whose value must have a certain form before anything reads it (ranges are checked where used).
SIDECAR_VALUE_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "subject_id": ("a name without '/' (it names an HDF5 group)", lambda v: _is_name(v)),
    "attrs": ("a mapping of new attribute names to strings, numbers or lists of them", _is_attrs),
    "header_rows": ("an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "columns": ("a mapping of CSV column names to format names", _is_text_map),
    "ignore_columns": ("a list of column names", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)),
    "units": ("a mapping of column names or patterns to units", _is_text_map),
    "pressure_cell_size_m": ("[row pitch, column pitch] in m",
                             lambda v: isinstance(v, list) and len(v) == 2
                             and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)),
    "file": ("a CSV file name", lambda v: isinstance(v, str) and v != ""),
    "events": ("an events CSV file name", lambda v: isinstance(v, str) and v != ""),
    "pressure_frames": ("a mapping of foot to a folder of frame CSVs",
                        lambda v: _is_text_map(v) and all(k in FEET for k in v)),
}


NULL_MEANS_UNSET = ("attrs", "columns", "ignore_columns", "units", "pressure_cell_size_m", "file", "events",
                    "pressure_frames")


def _check_sidecar_values(where: str, mapping: Mapping[str, Any]) -> None:
    for key, (expected, ok) in SIDECAR_VALUE_RULES.items():
        if key in mapping and not (mapping[key] is None and key in NULL_MEANS_UNSET) and not ok(mapping[key]):
            raise DataError(f"{where}, key '{key}': expected {expected}, found {mapping[key]!r}")


def load_sidecar(path: Path) -> dict[str, Any]:
    """The subject sidecar (YAML or JSON), keys checked."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise DataError(f"{path}{line}: expected YAML or JSON, found a syntax error ({problem})") from None
    bad_text = _unencodable(data)
    if bad_text is not None:
        raise DataError(f"{path}, key '{bad_text}': expected text UTF-8 can encode, found a lone surrogate")
    data = _check_keys(str(path), data or {}, SUBJECT_KEYS + TRIAL_KEYS + ("trials",))
    _check_sidecar_values(str(path), data)
    trials = data.get("trials")
    if trials is not None and not isinstance(trials, dict):
        raise DataError(f"{path}, key 'trials': expected a mapping of trial names to their options, found {trials!r}")
    for trial_id, entry in (trials or {}).items():
        if not _is_name(trial_id):
            raise DataError(f"{path}, key 'trials': expected trial names without '/' (they name HDF5 groups), "
                            f"found {trial_id!r}")
        _check_keys(f"{path}, trials/{trial_id}", entry or {}, TRIAL_KEYS + TRIAL_ONLY_KEYS)
        _check_sidecar_values(f"{path}, trials/{trial_id}", entry or {})
    return data


def subject_from_sidecar(path: Path, sidecar: Mapping[str, Any]) -> SubjectInfo:
    """Body mass and height are required (the tasks scale by body weight); the rest may be omitted."""
    return SubjectInfo(
        subject_id=str(sidecar.get("subject_id", path.parent.name)),
        body_mass_kg=_number(path, "body_mass_kg", sidecar.get("body_mass_kg"), optional=False),
        height_m=_number(path, "height_m", sidecar.get("height_m"), optional=False),
        sex=_choice(path, "sex", sidecar.get("sex", "unknown"), SEXES),
        foot_length_m=_number(path, "foot_length_m", sidecar.get("foot_length_m"), optional=True),
        arch_type=_choice(path, "arch_type", sidecar.get("arch_type", "unknown"), ARCH_TYPES),
        attrs=_mapping(path, "attrs", sidecar.get("attrs")),
    )


def _merge_units(first: Mapping[str, str] | None, then: Mapping[str, str] | None) -> dict[str, str]:
    """Trial units before the subject's defaults: the first matching pattern wins."""
    merged = dict(first or {})
    merged.update({k: v for k, v in (then or {}).items() if k not in merged})
    return merged


def discover_trials(path: Path, sidecar: Mapping[str, Any]) -> list[TrialSource]:
    """Trials of one subject: `trials` entries of the sidecar, every other data file beside it (`*.csv`,
    `*.tsv`, `*.mot`, `*.sto`, `*.c3d`, `*.mat`; not `*.events.csv`), and `<trial>_pressure_<foot>/` folders
    of per-frame CSVs. A `.txt` or `.dat` file is a trial only when a `trials` entry names it."""
    folder = path.parent
    defaults = {k: sidecar[k] for k in TRIAL_KEYS if k in sidecar}
    entries = {str(k): dict(v or {}) for k, v in (sidecar.get("trials") or {}).items()}
    named = {(folder / e["file"]).resolve() for e in entries.values() if e.get("file")}
    for data_path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUTO_SUFFIXES):
        if not data_path.name.endswith(".events.csv") and data_path.resolve() not in named:
            entries.setdefault(data_path.stem, {"file": data_path.name})
    frames: dict[str, dict[str, Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        m = re.fullmatch(r"(?P<trial>.+)_pressure_(?P<foot>left|right)", sub.name)
        if m:
            frames.setdefault(m["trial"], {})[m["foot"]] = sub
            entries.setdefault(m["trial"], {})
    sources = []
    for trial_id, entry in entries.items():
        file = entry.pop("file", None)
        csv_path = folder / file if file is not None else folder / f"{trial_id}.csv"
        if file is not None and not csv_path.is_file():
            raise DataError(f"{path}, trials/{trial_id}/file: expected an existing file, found no {csv_path}")
        trial_frames = {**frames.get(trial_id, {}),
                        **{f: folder / d for f, d in (entry.pop("pressure_frames", None) or {}).items()}}
        events = entry.pop("events", None)
        sources.append(TrialSource(
            trial_id=trial_id,
            csv=csv_path if csv_path.is_file() else None,
            frames=trial_frames,
            events=folder / events if events is not None else None,
            options={**defaults, **entry, "units": _merge_units(entry.get("units"), defaults.get("units"))},
        ))
        if sources[-1].csv is None and not trial_frames:
            raise DataError(f"{path}, trials/{trial_id}: expected {csv_path.name} or a pressure_frames "
                            "folder, found neither")
    return sources


def _columns_of(table_columns: Mapping[str, np.ndarray], opt: Mapping[str, Any], source: str,
                sidecar_path: Path) -> dict[str, np.ndarray]:
    """Rename (`columns`), skip (`ignore_columns`) and negate (`negate_columns`, after renaming)."""
    rename = opt.get("columns") or {}
    absent = [c for c in rename if c not in table_columns]
    if absent:
        raise DataError(f"{source}: expected the column(s) renamed in {sidecar_path}: "
                        f"{missing_found(absent, table_columns)}")
    ignore = set(opt.get("ignore_columns") or ())
    columns = {rename.get(name, name): v for name, v in table_columns.items() if name not in ignore}
    negate = list(opt.get("negate_columns") or ())
    absent = [c for c in negate if c not in columns]
    if absent:
        raise DataError(f"{sidecar_path}, key 'negate_columns': expected columns of {source} (after renaming), "
                        f"{missing_found(absent, columns)}")
    for name in negate:
        columns[name] = -columns[name]
    return columns


def load_trials(src: TrialSource, sidecar_path: Path, resample_hz: float | None = None
                ) -> list[tuple[TrialData, tuple[str, ...]]]:
    """Read one trial entry's files: one `TrialData` per trial they hold (a `.mat` file may hold several,
    a counter gap too long to fill splits a file into parts), each with the readers' notes."""
    opt = src.options
    activity = opt.get("activity", "unknown")
    if activity not in ACTIVITIES + ("unknown",):
        raise DataError(f"{sidecar_path}, trial '{src.trial_id}', key 'activity': expected one of "
                        f"{list(ACTIVITIES) + ['unknown']}, found {activity!r}")
    declared = _number(sidecar_path, "sample_rate_hz", opt.get("sample_rate_hz"), optional=True)
    cell = opt.get("pressure_cell_size_m")
    given_events = read_events_csv(src.events) if src.events is not None else None
    frames = {foot: read_pressure_frames(folder) for foot, folder in src.frames.items()}
    if src.csv is None:
        tables = []
    else:
        reader_options = {k: opt[k] for k in READER_OPTIONS if k in opt}
        tables = read_tables(src.csv, reader_options, where=f"{sidecar_path}, trial '{src.trial_id}'",
                             base=sidecar_path.parent)
    if len(tables) == 1:
        tables = [(src.trial_id, tables[0][1])]
    out = []
    for table_name, table in tables or [(src.trial_id, None)]:
        parts = split_segments(table_name, table) if table is not None else [(table_name, None, 0)]
        for trial_id, part, first in parts:
            columns = _columns_of(part.columns, opt, part.source, sidecar_path) if part is not None else {}
            rate = declared
            if part is not None and part.sample_rate_hz is not None:
                if declared is not None and abs(declared - part.sample_rate_hz) > RATE_TOLERANCE * declared:
                    raise DataError(f"{part.source}: expected the rate of {sidecar_path} ({declared:g} Hz), "
                                    f"found {part.sample_rate_hz:g} Hz in the file")
                rate = declared or part.sample_rate_hz
            notes = list(part.notes) if part is not None else []
            events = part.events if part is not None else None
            n = part.n_rows if part is not None else 0
            if given_events is not None:
                if events:
                    notes.append(f"events from {src.events} replace the events of the file")
                events = events_in_part(given_events, first, n) if len(parts) > 1 else given_events
            attrs = {}
            if part is not None and "reference_bouts" in part.extras:
                attrs["reference_bouts"] = np.asarray(part.extras["reference_bouts"], np.int64)
            if part is not None and "time" in columns:
                irregular = time_irregularity(columns["time"])
                if irregular:
                    notes.append(irregular)
            if notes:
                attrs["import_notes"] = "\n".join(notes)
            source = part.source if part is not None else str(next(iter(src.frames.values())))
            trial = trial_from_arrays(
                trial_id,
                rate,
                columns,
                units=opt.get("units") or {},
                pressure=frames,
                pressure_cell_size_m=tuple(cell) if cell is not None else None,
                events=events,
                activity=activity,
                speed_m_s=_number(sidecar_path, "speed_m_s", opt.get("speed_m_s"), optional=True),
                resample_hz=resample_hz,
                attrs=attrs,
                source=source,
                line_of_row=part.line_of_row if part is not None else None,
            )
            out.append((trial, tuple(notes)))
    return out


def load_trial(src: TrialSource, sidecar_path: Path, resample_hz: float | None = None) -> TrialData:
    """The one trial of a trial entry (see `load_trials` for files holding several)."""
    trials = load_trials(src, sidecar_path, resample_hz)
    if len(trials) != 1:
        raise DataError(f"{src.csv}: expected one trial, found {len(trials)} ({[t.trial_id for t, _ in trials]})")
    return trials[0][0]


def find_sidecars(source: Path) -> list[Path]:
    """A sidecar file, a subject folder holding one, or a study folder of subject folders."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder")
    here = [source / n for n in SIDECAR_NAMES if (source / n).is_file()]
    if here:
        return here[:1]
    found = [next(sub / n for n in SIDECAR_NAMES if (sub / n).is_file())
             for sub in sorted(p for p in source.iterdir() if p.is_dir())
             if any((sub / n).is_file() for n in SIDECAR_NAMES)]
    if not found:
        raise DataError(f"{source}: expected {SIDECAR_NAMES[0]} in it or in its subject subfolders, "
                        "found none")
    return found


def _contents(trial: TrialData) -> tuple[str, ...]:
    parts = []
    if trial.imu is not None:
        parts.append(f"imu {len(trial.imu.channels)} ch")
    if trial.joint_angles is not None:
        parts.append(f"joint angles {len(trial.joint_angles.channels)} ch")
    parts += [f"grf {foot}" for foot in trial.grf]
    parts += [f"pressure {foot} {v.shape[1]}x{v.shape[2]}" for foot, v in trial.pressure.items()]
    if trial.keypoints is not None:
        parts.append(f"{trial.keypoints.shape[1]} keypoints")
    if trial.com is not None:
        parts.append("com")
    parts += [f"cop {foot}" for foot in trial.cop]
    parts += [f"insole {foot} {len(sig.channels)} sensors" for foot, sig in trial.insole.items()]
    parts += [f"events {foot} {len(ev.get('heel_strike', []))} HS/{len(ev.get('toe_off', []))} TO"
              for foot, ev in trial.events.items()]
    return tuple(parts)


def iter_subjects(source: str | Path, events: Mapping[str, str | Path] | None = None
                  ) -> Iterator[tuple[SubjectInfo, list[tuple[TrialSource, Path]]]]:
    """Subjects with their trial sources; `events` maps `TRIAL` or `SUBJECT/TRIAL` to an events CSV that
    replaces the sidecar's."""
    events = dict(events or {})
    used: set[str] = set()
    seen: set[str] = set()
    for path in find_sidecars(Path(source)):
        sidecar = load_sidecar(path)
        subject = subject_from_sidecar(path, sidecar)
        if subject.subject_id in seen:
            raise DataError(f"{path}: subject_id '{subject.subject_id}' is used by another subject")
        seen.add(subject.subject_id)
        trials = discover_trials(path, sidecar)
        for t in trials:
            for key in (t.trial_id, f"{subject.subject_id}/{t.trial_id}"):
                if key in events:
                    t.events = Path(events[key])
                    used.add(key)
        yield subject, [(t, path) for t in trials]
    unused = sorted(set(events) - used)
    if unused:
        raise DataError(f"--events: expected TRIAL or SUBJECT/TRIAL of an imported trial, found {unused}")


def import_csv(
    source: str | Path,
    out: str | Path,
    *,
    dataset_name: str | None = None,
    description: str = "",
    resample_hz: float | None = None,
    events: Mapping[str, str | Path] | None = None,
) -> list[ImportedTrial]:
    """Import a study folder, a subject folder or a sidecar into one recording file, trial by trial."""
    source = Path(source)
    name = dataset_name or (source.parent.name if source.is_file() else source.name)
    written = []
    with RecordingWriter(out, dataset_name=name, synthetic=False, description=description,
                         attrs={"imported_from": str(source)}) as writer:
        for subject, trials in iter_subjects(source, events):
            writer.add_subject(subject)
            for src, sidecar_path in trials:
                for trial, notes in load_trials(src, sidecar_path, resample_hz):
                    writer.add_trial(subject.subject_id, trial)
                    written.append(ImportedTrial(subject.subject_id, trial.trial_id, trial.sample_rate_hz,
                                                 trial.n_samples, _contents(trial), notes))
    return written


# -- zoo data import -------------------------------------------------------------------------------
def _positive_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise argparse.ArgumentTypeError(f"expected a rate in Hz > 0, found '{text}'")
    return rate


def _events_arg(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected TRIAL=FILE or SUBJECT/TRIAL=FILE, found '{text}'")
    return key, path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import",
        help="import CSV recordings (one file per trial, a subject.yaml sidecar) into a recording file",
        description="Import CSV trials into the HDF5 recording format. SOURCE is a subject.yaml sidecar, a "
        "subject folder holding one, or a study folder of subject folders (layout: docs/real_recordings.md).",
    )
    p.add_argument("source", type=Path, help="sidecar file, subject folder or study folder")
    p.add_argument("--out", type=Path, required=True, help="recording file to write (.h5)")
    p.add_argument("--name", help="dataset name (default: the source folder's name)")
    p.add_argument("--description", default="", help="free text stored in the file")
    p.add_argument("--resample-hz", type=_positive_rate, help="resample every trial to this rate (e.g. 100)")
    p.add_argument("--events", type=_events_arg, action="append", default=[], metavar="TRIAL=FILE",
                   help="attach a foot,event,sample CSV (from `zoo data events`) to a trial; repeatable")
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    written = import_csv(args.source, args.out, dataset_name=args.name, description=args.description,
                         resample_hz=args.resample_hz, events=dict(args.events))
    for trial in written:
        print(trial.describe())
    n_subjects = len({t.subject_id for t in written})
    print(f"wrote {args.out}: {n_subjects} subject(s), {len(written)} trial(s)")
    return 0


__all__ = [
    "UNITS",
    "ImportedTrial",
    "TrialSource",
    "convert_units",
    "load_trials",
    "discover_trials",
    "import_csv",
    "load_sidecar",
    "load_trial",
    "read_csv_table",
    "read_events_csv",
    "read_pressure_frames",
    "resample_trial",
    "subject_from_sidecar",
    "trial_from_arrays",
    "write_events_csv",
]
