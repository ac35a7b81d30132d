"""Check a recording file against the format of `docs/recording_format.md`; `zoo data validate`.

The validator lists every problem instead of stopping at the first, so one run tells a user all
they must fix in their converter. It reads attributes and shapes directly but array values only in
time blocks, so a file larger than RAM validates in bounded memory.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from datamodules.naming import (
    ARCH_TYPES,
    FEET,
    GRF_AXES,
    GRF_KEYS,
    IMU_UNITS,
    JOINT_ANGLE_UNIT,
    SCHEMA_VERSION,
    SEXES,
)
from datamodules.recording import EVENT_KINDS, MODALITY_UNITS, Recording

# Values are scanned in time blocks of about this size: whole chunks at a time, yet a multi-GB
# dataset never sits in memory.
SCAN_BLOCK_BYTES = 8 << 20
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))
BODY_MASS_RANGE_KG = (20.0, 300.0)
HEIGHT_RANGE_M = (0.5, 2.5)
FOOT_LENGTH_RANGE_M = (0.1, 0.4)
SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]
_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """One violation of the format: where in the file, what the format wants, what the file holds."""

    path: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{_printable(self.path)}: expected {_printable(self.expected)}, found {_printable(self.found)}"


def _printable(text: str) -> str:
    """One line whatever a (corrupt) file holds: control characters as escapes, `\n` as the two characters."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def validate_file(path: str | os.PathLike) -> list[Problem]:
    """Every problem of the recording at `path`; an empty list means the file follows the format.

    Never raises for a broken file: a missing, non-HDF5 or truncated file is one problem at "/".
    """
    path = Path(path)
    if not path.exists():
        return [Problem("/", "a recording file", f"no such file ({path})")]
    if not path.is_file():
        return [Problem("/", "a recording file", f"a directory ({path})")]
    if not h5py.is_hdf5(path):
        return [Problem("/", "an HDF5 file", f"no HDF5 signature in {path.stat().st_size} bytes")]
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        return [Problem("/", "a readable HDF5 file", _describe_open_error(exc))]
    problems: list[Problem] = []
    with f:
        problems.extend(_guarded("/", lambda: _check_root(f)))
    return problems


# What HDF5 raises for corrupt metadata (a damaged object header, a bad B-tree, a free-space record that makes
# no sense): each becomes a problem at the group being read, and the next subject or trial is still checked.
READ_ERRORS = (OSError, KeyError, RuntimeError)


def _guarded(path: str, check: Callable[[], Iterator[Problem]]) -> Iterator[Problem]:
    try:
        yield from check()
    except READ_ERRORS as exc:
        yield _read_problem(path, exc)


def _read_problem(path: str, exc: Exception) -> Problem:
    return Problem(path, "readable groups, datasets and attributes", f"a read error ({' '.join(str(exc).split())})")


def _describe_open_error(exc: OSError) -> str:
    sizes = re.search(r"eof = (\d+).*stored_eof = (\d+)", str(exc))
    if sizes:
        return f"a truncated file ({sizes[1]} of {sizes[2]} bytes)"
    return f"an unreadable file ({exc})"


# -- attributes ------------------------------------------------------------------------------


def _attr(obj: h5py.HLObject, name: str) -> Any:
    """The attribute as a plain Python value (str, int, float, bool, tuple of str) or an array."""
    if name not in obj.attrs:
        return _MISSING
    value = obj.attrs[name]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel().tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, np.ndarray):
        return _show(tuple(value.ravel().tolist())) if value.size <= 8 else f"an array of shape {_shape(value.shape)}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _in_range(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: _is_number(v) and lo <= v <= hi


def _is_positive_pair(value: Any) -> bool:
    arr = np.asarray(value)
    return arr.shape == (2,) and arr.dtype.kind in "fiu" and bool(np.all(np.isfinite(arr) & (arr > 0)))


def _one_of(choices: Sequence[str]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in choices


def _choices(choices: Sequence[str]) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


def _check_attr(
    obj: h5py.HLObject, name: str, expected: str, ok: Callable[[Any], bool], *, required: bool = True
) -> Iterator[Problem]:
    value = _attr(obj, name)
    if value is _MISSING:
        if required:
            yield Problem(obj.name, f"attribute {name} = {expected}", "nothing")
    elif not ok(value):
        yield Problem(obj.name, f"attribute {name} = {expected}", _show(value))


def _check_cell_size(ds: h5py.Dataset, *, required: bool) -> Iterator[Problem]:
    yield from _check_attr(ds, "cell_size_m", "2 positive numbers (row and column pitch, m)",
                           _is_positive_pair, required=required)


# -- file, subjects, trials ------------------------------------------------------------------


def _check_root(f: h5py.File) -> Iterator[Problem]:
    yield from _check_attr(f, "schema_version", f"'{SCHEMA_MAJOR}.x' (this reader: {SCHEMA_VERSION})",
                           lambda v: isinstance(v, str) and v.split(".")[0] == SCHEMA_MAJOR)
    yield from _check_attr(f, "dataset_name", "a non-empty string", lambda v: isinstance(v, str) and bool(v))
    yield from _check_attr(f, "synthetic", "a boolean", lambda v: isinstance(v, bool))
    subjects = _member(f, "subjects")
    if not isinstance(subjects, h5py.Group):
        yield Problem("/subjects", "a group of subjects", "nothing" if subjects is None else "a dataset")
        return
    names = list(subjects)
    if not names:  # a Group is truthy while open, whatever it holds
        yield Problem("/subjects", "at least one subject", "an empty group")
    for name in names:
        yield from _guarded(f"/subjects/{name}", lambda name=name: _check_subject(subjects[name]))


def _check_subject(g: h5py.HLObject) -> Iterator[Problem]:
    if not isinstance(g, h5py.Group):
        yield Problem(g.name, "a subject group", "a dataset")
        return
    yield from _check_attr(g, "body_mass_kg", "a number in [20, 300] kg", _in_range(*BODY_MASS_RANGE_KG))
    yield from _check_attr(g, "height_m", "a number in [0.5, 2.5] m", _in_range(*HEIGHT_RANGE_M))
    yield from _check_attr(g, "sex", _choices(SEXES), _one_of(SEXES))
    yield from _check_attr(g, "arch_type", _choices(ARCH_TYPES), _one_of(ARCH_TYPES))
    yield from _check_attr(g, "foot_length_m", "a number in [0.1, 0.4] m", _in_range(*FOOT_LENGTH_RANGE_M),
                           required=False)
    if "geometry" in g:
        yield from _check_geometry(g["geometry"])
    trials = _member(g, "trials")
    if not isinstance(trials, h5py.Group):
        yield Problem(f"{g.name}/trials", "a group of trials", "nothing" if trials is None else "a dataset")
        return
    names = list(trials)
    if not names:
        yield Problem(trials.name, "at least one trial", "an empty group")
    for name in names:
        yield from _guarded(f"{trials.name}/{name}", lambda name=name: _check_trial(trials[name]))


def _check_geometry(g: h5py.HLObject) -> Iterator[Problem]:
    problems, feet = _feet(g, "geometry")
    yield from problems
    for ds in feet.values():
        yield from _check_array(ds, None, ("H", "W"), time_axis=False)
        yield from _check_units(ds, MODALITY_UNITS["geometry"])
        if isinstance(ds, h5py.Dataset):
            yield from _check_cell_size(ds, required=False)


def _check_trial(g: h5py.HLObject) -> Iterator[Problem]:
    if not isinstance(g, h5py.Group):
        yield Problem(g.name, "a trial group", "a dataset")
        return
    yield from _check_attr(g, "sample_rate_hz", "a number > 0 (Hz)", lambda v: _is_number(v) and v > 0)
    yield from _check_attr(g, "activity", "a string", lambda v: isinstance(v, str))
    yield from _check_attr(g, "speed_m_s", "a number (m/s)", _is_number, required=False)
    yield from _check_attr(g, "n_samples", "an integer >= 0 (length of every time axis)", _is_count)
    n = _attr(g, "n_samples") if _is_count(_attr(g, "n_samples")) else None
    if not _modalities_present(g):
        found = "only " + ", ".join(sorted(g.keys())) if len(g) else "nothing"
        yield Problem(g.name, f"at least one modality ({', '.join(MODALITY_NAMES)})", found)
    yield from _check_modalities(g, n)
    if "events" in g:
        yield from _check_events(g["events"], n)
    if "clean" in g:
        clean = g["clean"]
        if isinstance(clean, h5py.Group) and not _modalities_present(clean):
            found = "only " + ", ".join(sorted(clean.keys())) if len(clean) else "an empty group"
            yield Problem(clean.name, f"at least one noise-free modality ({', '.join(MODALITY_NAMES)})", found)
        yield from _check_modalities(clean, n)
        yield from _check_clean_counterparts(g)


# -- modalities ------------------------------------------------------------------------------

SINGLE_MODALITIES = ("imu", "joint_angles", "keypoints", "com")
PER_FOOT_MODALITIES = ("grf", "pressure", "cop", "insole")
MODALITY_NAMES = ("imu", "joint_angles", "grf/<foot>", "pressure/<foot>", "keypoints", "com", "cop/<foot>",
                  "insole/<foot>")


def _modality_paths(g: h5py.Group) -> list[str]:
    """The format's modalities a trial (or its clean group) holds, as paths relative to it."""
    paths = [name for name in SINGLE_MODALITIES if name in g]
    for name in PER_FOOT_MODALITIES:
        member = _member(g, name)
        if isinstance(member, h5py.Group):
            paths += [f"{name}/{foot}" for foot in (GRF_KEYS if name == "grf" else FEET) if foot in member]
    return paths


def _modalities_present(g: h5py.Group) -> bool:
    return bool(_modality_paths(g))


def _member(g: h5py.Group, name: str) -> h5py.HLObject | None:
    """`g[name]`, or None when there is no such member. Unlike `g.get`, a member that is there but cannot be
    read raises (a read error, reported as such) instead of passing for a missing one."""
    return g[name] if name in g else None


def _feet(g: h5py.HLObject, what: str,
          keys: tuple[str, ...] = FEET) -> tuple[list[Problem], dict[str, h5py.HLObject]]:
    """The members of a per-foot group by foot, and a problem for each member not named after a foot or
    for a group that holds no foot at all."""
    if not isinstance(g, h5py.Group):
        return [Problem(g.name, f"a {what} group with one member per foot", "a dataset")], {}
    members, problems = {}, []
    for k in g:  # not g.items(): it hides an unreadable member as None
        try:
            members[k] = g[k]
        except READ_ERRORS as exc:
            problems.append(_read_problem(f"{g.name}/{k}", exc))
    problems += [Problem(m.name, f"a member named {_choices(keys)}", repr(k)) for k, m in members.items()
                 if k not in keys]
    feet = {k: m for k, m in members.items() if k in keys}
    if not feet:
        found = "only " + ", ".join(repr(k) for k in g) if len(g) else "an empty group"
        problems.append(Problem(g.name, f"a {what} member for at least one foot ({_choices(keys)})", found))
    return problems, feet


def _check_modalities(g: h5py.HLObject, n: int | None) -> Iterator[Problem]:
    """The array rules shared by a trial and its `clean` group; unknown members are left alone."""
    if not isinstance(g, h5py.Group):
        yield Problem(g.name, "a group", "a dataset")
        return
    for name, unit_rule in SIGNAL_UNIT_RULES.items():
        if name in g:
            yield from _check_signals(g[name], n, unit_rule)
    if "grf" in g:
        yield from _check_grf(g["grf"], n)
    if "pressure" in g:
        yield from _check_pressure(g["pressure"], n)
    if "keypoints" in g:
        ds = g["keypoints"]
        yield from _check_array(ds, n, ("K", 3), allow_nan=True)  # NaN: the pose was not tracked (format 1.2)
        yield from _check_units(ds, MODALITY_UNITS["keypoints"])
        if isinstance(ds, h5py.Dataset) and ds.ndim == 3:
            yield from _check_names(ds, "names", ds.shape[1], "keypoint")
    if "com" in g:
        yield from _check_array(g["com"], n, (3,))
        yield from _check_units(g["com"], MODALITY_UNITS["com"], channels=("x", "y", "z"))
    if "cop" in g:
        problems, feet = _feet(g["cop"], "cop")
        yield from problems
        for ds in feet.values():
            yield from _check_array(ds, n, (3,))
            yield from _check_units(ds, MODALITY_UNITS["cop"], channels=("x", "y", "z"))
    if "insole" in g:
        problems, feet = _feet(g["insole"], "insole")
        yield from problems
        for ds in feet.values():
            yield from _check_signals(ds, n, lambda channel: MODALITY_UNITS["insole"])


def _check_signals(ds: h5py.HLObject, n: int | None, unit_rule: Callable[[str], str | None]) -> Iterator[Problem]:
    """`imu` / `joint_angles`: `[T, C]` with C named channels in the units `unit_rule(name)` gives."""
    yield from _check_array(ds, n, ("C",))
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 2:
        return
    name_problems = list(_check_names(ds, "channels", ds.shape[1], "channel"))
    yield from name_problems
    if name_problems:  # without names, only the form of `units` can be checked
        yield from _check_units(ds, None, channels=tuple(str(i) for i in range(ds.shape[1])))
        return
    channels = _attr(ds, "channels")
    yield from _check_units(ds, tuple(unit_rule(c) for c in channels), channels=channels)


def _imu_unit(channel: str) -> str | None:
    """`R_FOOT_gyr_x` -> 'rad/s'; None for a sensor the format has no unit rule for."""
    for sensor, unit in IMU_UNITS.items():
        if f"_{sensor}_" in channel:
            return unit
    return None


SIGNAL_UNIT_RULES: dict[str, Callable[[str], str | None]] = {
    "imu": _imu_unit,
    "joint_angles": lambda channel: JOINT_ANGLE_UNIT,
}


def _check_grf(g: h5py.HLObject, n: int | None) -> Iterator[Problem]:
    """`grf/<foot>` and `grf/total`: `[T, A]` with A distinct axes of GRF_AXES, in that order, named by the
    `channels` attribute (format 1.2); without it (older files) all three axes."""
    problems, feet = _feet(g, "grf", GRF_KEYS)
    yield from problems
    for ds in feet.values():
        if not isinstance(ds, h5py.Dataset) or "channels" not in ds.attrs:
            yield from _check_array(ds, n, (len(GRF_AXES),))
            yield from _check_units(ds, MODALITY_UNITS["grf"], channels=GRF_AXES)
            continue
        axes = _attr(ds, "channels")
        ordered = [a for a in GRF_AXES if a in axes] if isinstance(axes, tuple) else []
        if not isinstance(axes, tuple) or not axes or list(axes) != ordered:
            yield Problem(ds.name, f"attribute channels = distinct axes from {list(GRF_AXES)}, in that order",
                          _show(axes))
            continue
        yield from _check_array(ds, n, (len(axes),))
        yield from _check_units(ds, MODALITY_UNITS["grf"], channels=axes)


def _check_pressure(g: h5py.HLObject, n: int | None) -> Iterator[Problem]:
    problems, feet = _feet(g, "pressure")
    yield from problems
    grids: dict[str, tuple[int, ...]] = {}
    for foot, ds in feet.items():
        yield from _check_array(ds, n, ("H", "W"), nonnegative=True)
        yield from _check_units(ds, MODALITY_UNITS["pressure"])
        if isinstance(ds, h5py.Dataset):
            yield from _check_cell_size(ds, required=True)
            if _is_3d(ds):
                grids[foot] = ds.shape[1:]
    if len(set(grids.values())) > 1:
        shapes = ", ".join(f"{foot} {h}x{w}" for foot, (h, w) in grids.items())
        yield Problem(g.name, "the same H x W grid for every foot", shapes)


def _check_events(g: h5py.HLObject, n: int | None) -> Iterator[Problem]:
    problems, feet = _feet(g, "events")
    yield from problems
    for foot_group in feet.values():
        if not isinstance(foot_group, h5py.Group):
            yield Problem(foot_group.name, "a group of event index arrays", "a dataset")
            continue
        if not any(kind in foot_group for kind in EVENT_KINDS):
            found = "only " + ", ".join(repr(k) for k in foot_group) if len(foot_group) else "an empty group"
            yield Problem(foot_group.name, "at least one of " + ", ".join(repr(k) for k in EVENT_KINDS), found)
        for kind in EVENT_KINDS:
            if kind in foot_group:
                yield from _check_event_indices(foot_group[kind], n)


def _check_event_indices(ds: h5py.HLObject, n: int | None) -> Iterator[Problem]:
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype.kind not in "iu":
        found = f"{ds.dtype} {_shape(ds.shape)}" if isinstance(ds, h5py.Dataset) else "a group"
        yield Problem(ds.name, "a 1-D integer array of sample indices", found)
        return
    idx = ds[()].astype(np.int64)  # one index per stride: small even for long trials
    backwards = np.flatnonzero(np.diff(idx) <= 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        yield Problem(ds.name, "strictly increasing sample indices", f"{idx[i]} after {idx[i - 1]} at position {i}")
    outside = idx[(idx < 0) | (idx >= (np.inf if n is None else n))]
    if outside.size:
        bounds = f"within [0, {n})" if n is not None else ">= 0"
        yield Problem(ds.name, f"indices {bounds}", f"{outside.size} outside, first {outside[0]}")


def _check_clean_counterparts(trial: h5py.Group) -> Iterator[Problem]:
    """Every clean modality has its measured counterpart, and a clean grid or keypoint set matches it
    (time is checked by n_samples)."""
    clean = trial["clean"]
    if not isinstance(clean, h5py.Group):
        return
    for name in _modality_paths(clean):
        group = name.split("/")[0] if "/" in name else None
        if group is not None and group in trial and not isinstance(trial[group], h5py.Group):
            continue  # a malformed per-foot group already has its problem
        if name not in trial:
            yield Problem(f"{trial.name}/{name}", f"a dataset (the measured counterpart of {clean.name}/{name})",
                          "nothing")
    free_axes = {"keypoints": slice(1, 2), **{f"pressure/{foot}": slice(1, 3) for foot in FEET}}  # K; H, W
    for name, free in free_axes.items():
        ds, noisy = _member(clean, name), _member(trial, name)
        if _is_3d(ds) and _is_3d(noisy) and ds.shape[free] != noisy.shape[free]:
            yield Problem(ds.name, f"shape {_shape(noisy.shape)} as {noisy.name}", _shape(ds.shape))


def _is_3d(ds: h5py.HLObject | None) -> bool:
    """A well-formed `[T, H, W]` or `[T, K, 3]` dataset (malformed ones already have a problem)."""
    return isinstance(ds, h5py.Dataset) and ds.ndim == 3 and min(ds.shape[1:]) >= 1


# -- datasets --------------------------------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_array(
    ds: h5py.HLObject,
    n: int | None,
    trailing: tuple[int | str, ...],
    *,
    time_axis: bool = True,
    nonnegative: bool = False,
    allow_nan: bool = False,
) -> Iterator[Problem]:
    """Type, shape, time alignment and finiteness: the rules every array dataset shares.

    `trailing` is the shape after the time axis (the whole shape when `time_axis` is False); a
    letter such as "H" stands for any size >= 1.
    """
    if not isinstance(ds, h5py.Dataset):
        yield Problem(ds.name, "a dataset", "a group")
        return
    if ds.dtype not in FLOAT_DTYPES:
        yield Problem(ds.name, "dtype float32 or float64", str(ds.dtype))
    dims = (("T",) if time_axis else ()) + tuple(str(d) for d in trailing)
    rest = ds.shape[1:] if time_axis else ds.shape
    if ds.ndim != len(dims) or any(s < 1 if isinstance(d, str) else s != d for s, d in zip(rest, trailing)):
        yield Problem(ds.name, f"shape [{', '.join(dims)}]", _shape(ds.shape))
    elif time_axis and n is not None and ds.shape[0] != n:
        yield Problem(ds.name, f"{n} samples along axis 0 (trial n_samples)", str(ds.shape[0]))
    if ds.dtype.kind == "f":
        yield from _check_values(ds, nonnegative=nonnegative, unit="sample" if time_axis else "row",
                                 allow_nan=allow_nan)


def _check_values(ds: h5py.Dataset, *, nonnegative: bool, unit: str, allow_nan: bool = False) -> Iterator[Problem]:
    """NaN/Inf, and negative values where forbidden, read one block along axis 0 at a time."""
    n_nan = n_inf = n_negative = 0
    first_bad: int | None = None
    minimum = np.inf
    try:
        for start, block in _blocks(ds):
            finite = ~np.isinf(block) if allow_nan else np.isfinite(block)
            if not finite.all():
                n_nan += int(np.count_nonzero(np.isnan(block)))
                n_inf += int(np.count_nonzero(np.isinf(block)))
                if first_bad is None:
                    first_bad = start + int(np.argmin(finite.reshape(len(block), -1).all(axis=1)))
            negative = int(np.count_nonzero(block < 0)) if nonnegative else 0
            if negative:
                n_negative += negative
                minimum = min(minimum, float(np.nanmin(block)))
            del block, finite  # free before the next read, so at most one block is in memory
    except OSError as exc:
        yield Problem(ds.name, "readable data", f"a read error ({exc})")
        return
    if n_inf or (n_nan and not allow_nan):
        expected = "no Inf (NaN marks an untracked frame)" if allow_nan else "finite values"
        yield Problem(ds.name, expected, f"{n_nan} NaN and {n_inf} Inf (first at {unit} {first_bad})")
    if n_negative:
        yield Problem(ds.name, "values >= 0", f"{n_negative} negative (min {minimum:g})")


def _blocks(ds: h5py.Dataset) -> Iterator[tuple[int, np.ndarray]]:
    """`(start, ds[start:stop])` over axis 0 in whole chunks of about SCAN_BLOCK_BYTES."""
    if ds.ndim == 0:
        yield 0, np.atleast_1d(ds[()])
        return
    row_bytes = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))
    rows = max(1, SCAN_BLOCK_BYTES // row_bytes)
    if ds.chunks:
        rows = max(ds.chunks[0], rows - rows % ds.chunks[0])
    for start in range(0, ds.shape[0], rows):
        yield start, ds[start : start + rows]


def _check_units(
    ds: h5py.HLObject, expected: str | Sequence[str | None] | None, *, channels: Sequence[str] = ()
) -> Iterator[Problem]:
    """The `units` attribute: one string, or one string per channel for a dataset with channels.

    `expected` is one unit, one unit per channel (None: no rule for that channel) or None (form only).
    """
    if not isinstance(ds, h5py.Dataset):
        return
    units = _attr(ds, "units")
    if units is _MISSING:
        yield Problem(ds.name, "attribute units" + (f" = '{expected}'" if isinstance(expected, str) else ""),
                      "nothing")
        return
    if isinstance(units, str):
        found = (units,) * max(len(channels), 1)
    elif isinstance(units, tuple) and channels and len(units) == len(channels):
        found = units
    else:
        per_channel = f" or {len(channels)} strings (one per channel)" if channels else ""
        yield Problem(ds.name, f"attribute units = a string{per_channel}", _show(units))
        return
    if expected is not None:
        wanted = (expected,) * len(found) if isinstance(expected, str) else tuple(expected)
        yield from _unit_mismatches(ds.name, wanted, found, tuple(channels) or ("",))


def _unit_mismatches(
    path: str, wanted: Sequence[str | None], found: Sequence[str], channels: Sequence[str]
) -> Iterator[Problem]:
    """One problem per (expected, found) unit pair, naming the channels unless it is all of them."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, want, got in zip(channels, wanted, found):
        if want is not None and got != want:
            groups.setdefault((want, got), []).append(name)
    for (want, got), names in groups.items():
        where = ""
        if len(names) < len(channels):
            where = " for " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        yield Problem(path, f"units '{want}'", f"'{got}'{where}")


def _check_names(ds: h5py.Dataset, attr: str, count: int, entry: str) -> Iterator[Problem]:
    """`channels` / `names`: one unique string per channel or keypoint."""
    names = _attr(ds, attr)
    expected = f"attribute {attr} = {count} strings (one per {entry})"
    if names is _MISSING:
        yield Problem(ds.name, expected, "nothing")
    elif not isinstance(names, tuple) or len(names) != count:
        yield Problem(ds.name, expected, f"{len(names)} strings" if isinstance(names, tuple) else _show(names))
    else:
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            yield Problem(ds.name, f"unique {entry} names", "duplicates " + ", ".join(map(repr, duplicates)))


# -- command line ----------------------------------------------------------------------------


def summarize(path: str | os.PathLike) -> str:
    """What a valid file holds, e.g. `2 subjects, 4 trials, modalities imu (48 ch), pressure (31x11)`."""
    with Recording(path) as rec:
        trials = rec.trials()
        n_subjects = len(rec.subject_ids)
        has_com = any(rec.has(t.subject_id, t.trial_id, "com") for t in trials)
    imu = {c for t in trials for c in t.imu_channels}
    angles = {c for t in trials for c in t.joint_angle_channels}
    grf_feet = [f"{k} {'/'.join(a)}" if a != GRF_AXES else k
                for k, a in dict.fromkeys((k, a) for t in trials for k, a in t.grf_axes)]
    grids = sorted({t.pressure_shape for t in trials if t.pressure_shape})
    keypoints = sorted({len(t.keypoint_names) for t in trials if t.keypoint_names})
    cop_feet = [f for f in FEET if any(f in t.cop_feet for t in trials)]
    insole_feet = [f for f in FEET if any(f in t.insole_feet for t in trials)]
    labels = [
        f"imu ({len(imu)} ch)" if imu else "",
        f"joint_angles ({len(angles)} ch)" if angles else "",
        f"grf ({', '.join(grf_feet)})" if grf_feet else "",
        f"pressure ({', '.join(f'{h}x{w}' for h, w in grids)})" if grids else "",
        f"keypoints ({', '.join(map(str, keypoints))})" if keypoints else "",
        "com" if has_com else "",
        f"cop ({', '.join(cop_feet)})" if cop_feet else "",
        f"insole ({', '.join(insole_feet)})" if insole_feet else "",
        "events" if any(t.event_feet for t in trials) else "",
        "clean" if any(t.has_clean for t in trials) else "",
    ]
    modalities = ", ".join(label for label in labels if label) or "none"
    return f"{_plural(n_subjects, 'subject')}, {_plural(len(trials), 'trial')}, modalities {modalities}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found '{text}'")
    return int(text)


def run_validate(args: argparse.Namespace) -> int:
    """Print `FILE: OK (...)` or every problem of each file; exit 1 if any file is broken."""
    broken = 0
    for path in args.files:
        problems = validate_file(path)
        if not problems:
            print(f"{path}: OK ({summarize(path)})")
            continue
        broken += 1
        shown = problems[: args.max_problems]
        for problem in shown:
            print(f"{path}:{problem}")
        note = f" (first {len(shown)} shown)" if len(shown) < len(problems) else ""
        print(f"{path}: {_plural(len(problems), 'problem')}{note}")
    return 1 if broken else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `zoo data validate FILE.h5 [FILE ...] [--max-problems N]`."""
    parser = subparsers.add_parser(
        "validate",
        help="check recording files against the format",
        description="Check HDF5 recordings against docs/recording_format.md and list every problem "
        "(path in the file, expected, found). Exits 1 if any file is broken.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recording files (.h5)")
    parser.add_argument("--max-problems", type=_positive_int, default=None, metavar="N",
                        help="print at most N problems per file (all are counted; default: all)")
    parser.set_defaults(func=run_validate)


__all__ = ["Problem", "register", "run_validate", "summarize", "validate_file"]
