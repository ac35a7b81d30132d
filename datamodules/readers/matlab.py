"""MATLAB `.mat` structs (`scipy.io.loadmat`) through a mapping from struct paths to zoo channels.

A lab's `.mat` layout is its own, so the sidecar says where things are (docs/real_recordings.md,
"MATLAB structs"). Mobilise-D's mobgap files are the worked example:

    mat:
      trials: data.TimeMeasure1.Test*.Trial*      # each matching struct is one trial
      channels:                                   # struct path (relative to the trial) -> channel names
        SU.LowerBack.Acc: [PELVIS_acc_x, PELVIS_acc_y, PELVIS_acc_z]
        SU.LowerBack.Gyr: [PELVIS_gyr_x, PELVIS_gyr_y, PELVIS_gyr_z]
      sample_rate: SU.LowerBack.Fs.Acc             # struct path or a number (Hz)
      events:                                     # optional reference events, times in s
        path: Standards.INDIP.MicroWB             # a struct or an array of structs (walking bouts)
        heel_strike: InitialContact_Event
        heel_strike_foot: InitialContact_LeftRight
        toe_off: FinalContact_Event
        toe_off_foot: FinalContact_LeftRight

Path parts may hold shell wildcards (`Test*`); `[k]` indexes an array of structs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from datamodules.errors import DataError
from datamodules.readers.table import Table, missing_found

MAT_KEYS = ("trials", "channels", "sample_rate", "events")
EVENT_KEYS = ("path", "heel_strike", "heel_strike_foot", "toe_off", "toe_off_foot", "unit")
FOOT_WORDS = {"left": "left", "l": "left", "right": "right", "r": "right"}


def load_mat(path: str | Path) -> dict[str, Any]:
    """The file's variables as nested `mat_struct`s (MATLAB v5-v7.2; v7.3 files are HDF5)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError:
        raise DataError(f"{path}: expected a MATLAB v5-v7.2 file, found v7.3 (HDF5): save it with "
                        "save(..., '-v7') or read it with h5py") from None
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: expected a MATLAB .mat file, found an unreadable file ({exc})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _fields(obj: Any) -> list[str]:
    return list(getattr(obj, "_fieldnames", None) or [])


def get_path(root: Any, path: str, source: str) -> Any:
    """Follow a dotted struct path (`a.b[2].c`); the error names the first part that is not there and what
    is there instead."""
    obj, done = root, []
    for part in path.split("."):
        m = re.fullmatch(r"(?P<name>[^\[\]]+)(\[(?P<index>\d+)\])?", part)
        if m is None:
            raise DataError(f"{source}: struct path '{path}': expected parts like name or name[0], found '{part}'")
        name = m["name"]
        names = list(obj) if isinstance(obj, dict) else _fields(obj)
        if name not in names:
            raise DataError(f"{source}: struct path '{path}': expected field '{name}' in "
                            f"'{'.'.join(done) or 'the file'}', {missing_found([name], names)}")
        obj = obj[name] if isinstance(obj, dict) else getattr(obj, name)
        if m["index"] is not None:
            items = np.atleast_1d(obj)
            if int(m["index"]) >= len(items):
                raise DataError(f"{source}: struct path '{path}': expected index {m['index']} < {len(items)}")
            obj = items[int(m["index"])]
        done.append(part)
    return obj


def expand_paths(root: Mapping[str, Any], pattern: str) -> list[str]:
    """Every struct path matching `pattern` (wildcards per part), in file order."""
    paths = [""]
    for part in pattern.split("."):
        nxt = []
        for prefix in paths:
            obj = get_path(root, prefix, "") if prefix else root
            names = list(obj) if isinstance(obj, dict) else _fields(obj)
            nxt += [f"{prefix}.{n}" if prefix else n for n in names if fnmatch.fnmatchcase(n, part)]
        paths = nxt
    return paths


def trial_name(path: str, pattern: str) -> str:
    """The parts of `path` matched by wildcards, joined with '_' (`Test5_Trial1`), else the last part."""
    wild = [p for p, q in zip(path.split("."), pattern.split(".")) if any(c in q for c in "*?[")]
    return "_".join(wild) if wild else path.split(".")[-1]


def _events(trial: Any, spec: Mapping[str, Any], rate: float, n: int, where: str) -> tuple[dict, list[str]]:
    """Reference events (s -> samples) per foot from a struct or array of structs (one per walking bout)."""
    try:
        container = get_path(trial, spec["path"], where)
    except DataError as exc:
        return {}, [f"no reference events ({exc})"]
    bouts = [b for b in np.atleast_1d(container) if _fields(b)]
    if not bouts:
        return {}, [f"no reference events: '{spec['path']}' is empty"]
    scale = {"s": rate, "ms": rate / 1000.0, "samples": 1.0}[spec.get("unit", "s")]
    out: dict[str, dict[str, list[int]]] = {}
    starts_ends = []
    for k, bout in enumerate(bouts):
        for kind in ("heel_strike", "toe_off"):
            if kind not in spec:
                continue
            times = np.atleast_1d(np.asarray(get_path(bout, spec[kind], f"{where}, {spec['path']}[{k}]"), float))
            feet = np.atleast_1d(get_path(bout, spec[f"{kind}_foot"], f"{where}, {spec['path']}[{k}]"))
            if len(feet) != len(times):
                raise DataError(f"{where}, {spec['path']}[{k}].{spec[f'{kind}_foot']}: expected one foot per event "
                                f"({len(times)}), found {len(feet)}")
            for t, foot in zip(times, feet):
                side = FOOT_WORDS.get(str(foot).strip().lower())
                if side is None:
                    raise DataError(f"{where}, {spec['path']}[{k}].{spec[f'{kind}_foot']}: expected Left/Right, "
                                    f"found '{foot}'")
                if np.isfinite(t):
                    out.setdefault(side, {"heel_strike": [], "toe_off": []})[kind].append(int(round(t * scale)))
        if "Start" in _fields(bout) and "End" in _fields(bout):
            starts_ends.append((int(round(float(bout.Start) * scale)), int(round(float(bout.End) * scale))))
    events = {}
    for foot, kinds in out.items():
        events[foot] = {}
        for kind, idx in kinds.items():
            arr = np.unique(np.asarray(idx, dtype=np.int64))
            outside = arr[(arr < 0) | (arr >= n)]
            if len(outside):
                raise DataError(f"{where}, {spec['path']}: {kind} of the {foot} foot: expected times within the "
                                f"{n / rate:g} s of the trial, found {outside[0] / rate:g} s")
            events[foot][kind] = arr
    notes = [f"reference events from {spec['path']} ({len(bouts)} bout(s)): "
             + ", ".join(f"{f} {len(e['heel_strike'])} HS/{len(e['toe_off'])} TO" for f, e in sorted(events.items()))]
    return ({**events, "_bouts": np.asarray(starts_ends, dtype=np.int64).reshape(-1, 2)}, notes)


def read_mat_trials(path: str | Path, mapping: Mapping[str, Any], where: str) -> list[tuple[str, Table]]:
    """One `Table` per trial struct of `path`, channels named by the mapping; `where` names the sidecar."""
    unknown = [k for k in mapping if k not in MAT_KEYS]
    if unknown or "channels" not in mapping:
        raise DataError(f"{where}, key 'mat': expected keys {list(MAT_KEYS)} (channels required), "
                        f"found {list(mapping)}")
    path = Path(path)
    root = load_mat(path)
    pattern = str(mapping.get("trials", ""))
    trial_paths = expand_paths(root, pattern) if pattern else [""]
    if not trial_paths:
        raise DataError(f"{path}: mat trials '{pattern}': expected at least one matching struct, found none "
                        f"(top level: {list(root)})")
    spec = mapping.get("events")
    if spec is not None and (set(spec) - set(EVENT_KEYS) or "path" not in spec):
        raise DataError(f"{where}, key 'mat.events': expected keys {list(EVENT_KEYS)} (path required), "
                        f"found {list(spec)}")
    tables = []
    for tpath in trial_paths:
        trial = get_path(root, tpath, str(path)) if tpath else root
        source = f"{path}:{tpath}" if tpath else str(path)
        columns: dict[str, np.ndarray] = {}
        for struct_path, names in mapping["channels"].items():
            names = [names] if isinstance(names, str) else list(names)
            values = np.asarray(get_path(trial, struct_path, source), dtype=np.float64)
            values = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
            if values.shape[1] != len(names):
                raise DataError(f"{source}.{struct_path}: expected {len(names)} column(s) for {names}, "
                                f"found shape {list(values.shape)}")
            columns.update({name: values[:, i] for i, name in enumerate(names)})
        lengths = {name: len(v) for name, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{source}: expected every mapped channel with the same number of samples, "
                            f"found {lengths}")
        rate_spec = mapping.get("sample_rate")
        rate = None
        if rate_spec is not None:
            rate = float(rate_spec) if isinstance(rate_spec, int | float) else float(get_path(trial, rate_spec, source))
        table = Table(source=source, columns=columns, sample_rate_hz=rate,
                      notes=[])
        if spec is not None:
            if rate is None:
                raise DataError(f"{where}, key 'mat.sample_rate': expected a rate to turn event times into "
                                "samples, found none")
            events, notes = _events(trial, spec, rate, table.n_rows, source)
            bouts = events.pop("_bouts", None)
            table.events = events or None
            table.notes += notes
            if bouts is not None and len(bouts):
                table.extras["reference_bouts"] = bouts
        tables.append((trial_name(tpath, pattern) if tpath else path.stem, table))
    return tables


__all__ = ["expand_paths", "get_path", "load_mat", "read_mat_trials", "trial_name"]
