"""Hypothesis strategies for the fuzz tests: corruptions of a valid recording, and CSV folders to import.

Extending: a new corruption is one entry of `CORRUPTIONS` (a strategy drawing a `Corruption` from the
template's inventory); a new importer input is a strategy returning file texts for `write_study`. A new
reader on another branch gets its own `*_text` strategy and entry point in test_fuzz.py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml
from hypothesis import strategies as st

# -- the template's inventory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    """What a valid recording holds: its size, groups, datasets (float ones apart), attributes, event arrays."""

    size: int
    groups: tuple[str, ...]
    datasets: tuple[str, ...]
    float_datasets: tuple[str, ...]
    attributes: tuple[tuple[str, str], ...]
    events: tuple[str, ...]


def inventory(path: Path) -> Inventory:
    groups, datasets, floats, events = ["/"], [], [], []
    with h5py.File(path, "r") as f:
        attrs = [("/", k) for k in f.attrs]

        def visit(name: str, obj: Any) -> None:
            full = "/" + name
            (groups if isinstance(obj, h5py.Group) else datasets).append(full)
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                floats.append(full)
            if "/events/" in full and isinstance(obj, h5py.Dataset):
                events.append(full)
            attrs.extend((full, k) for k in obj.attrs)

        f.visititems(visit)
    return Inventory(path.stat().st_size, tuple(groups), tuple(datasets), tuple(floats), tuple(attrs), tuple(events))


# -- corruptions ----------------------------------------------------------------------------------------------


@dataclass
class Corruption:
    """One change to a recording file; `structural` ones go through h5py, the others rewrite bytes."""

    what: str
    apply: Callable[[Any], None] = field(repr=False)
    structural: bool = True

    def __repr__(self) -> str:
        return self.what


def _replace(f: h5py.File, path: str, data: Any) -> None:
    """Rewrite a dataset with other data, keeping its attributes (so only the data are wrong)."""
    attrs = dict(f[path].attrs)
    del f[path]
    ds = f.create_dataset(path, data=data)
    for key, value in attrs.items():
        ds.attrs[key] = value


ATTRIBUTE_VALUES = st.one_of(
    st.none().map(lambda _: np.float64(np.nan)),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4).map(np.asarray),
    st.lists(st.text(max_size=6), min_size=1, max_size=4).map(lambda v: np.asarray(v, dtype=h5py.string_dtype())),
    st.lists(st.integers(-5, 5), max_size=4).map(lambda v: np.asarray(v, dtype=np.int64)),
)
DTYPES = ("int8", "int32", "int64", "uint8", "float16", "complex64", "bool", "S4")
SHAPE_CHANGES = ("drop_axis", "add_axis", "transpose", "shorten", "empty", "scalar", "lengthen")


def _reshape(data: np.ndarray, how: str, cut: int) -> np.ndarray:
    if how == "drop_axis":
        return data[..., 0] if data.ndim > 1 else data[:0]
    if how == "add_axis":
        return data[..., None]
    if how == "transpose":
        return data.T
    if how == "shorten":
        return data[: cut % max(1, len(data))] if data.ndim else data
    if how == "empty":
        return data[:0] if data.ndim else np.zeros(0)
    if how == "lengthen":
        return np.concatenate([data, data[: 1 + cut % max(1, len(data))]]) if data.ndim else data
    return np.asarray(data.ravel()[0] if data.size else 0.0)


def corruptions(inv: Inventory) -> st.SearchStrategy[Corruption]:
    not_root = [g for g in inv.groups if g != "/"] + list(inv.datasets)

    def nan(path: str, index: int, value: float) -> Corruption:
        def apply(f: h5py.File) -> None:
            ds = f[path]
            if ds.size:
                flat = np.asarray(ds[()])
                flat.reshape(-1)[index % ds.size] = value
                ds[...] = flat
        return Corruption(f"{value} in {path}[{index}]", apply)

    def dtype(path: str, kind: str) -> Corruption:
        def apply(f: h5py.File) -> None:
            data = np.asarray(f[path][()])
            _replace(f, path, data.astype(kind) if kind != "S4" else data.astype(str).astype("S4"))
        return Corruption(f"{path} as {kind}", apply)

    def shape(path: str, how: str, cut: int) -> Corruption:
        return Corruption(f"{path} {how} {cut}", lambda f: _replace(f, path, _reshape(np.asarray(f[path][()]), how, cut)))

    def del_attr(where: tuple[str, str]) -> Corruption:
        return Corruption(f"no attribute {where[1]} on {where[0]}", lambda f: f[where[0]].attrs.__delitem__(where[1]))

    def set_attr(where: tuple[str, str], value: Any) -> Corruption:
        return Corruption(f"{where[0]}.{where[1]} = {value!r}", lambda f: f[where[0]].attrs.__setitem__(where[1], value))

    def events(path: str, values: list[Any]) -> Corruption:
        return Corruption(f"{path} = {values}", lambda f: _replace(f, path, np.asarray(values)))

    def delete(path: str) -> Corruption:
        return Corruption(f"delete {path}", lambda f: f.__delitem__(path))

    def swap(path: str, data: list[float]) -> Corruption:
        def apply(f: h5py.File) -> None:
            del f[path]
            f.create_dataset(path, data=np.asarray(data, dtype=np.float32))
        return Corruption(f"{path} replaced by a dataset", apply)

    def stray(group: str, name: str, data: list[float]) -> Corruption:
        return Corruption(f"stray {group}/{name}", lambda f: f[group].create_dataset(name, data=np.asarray(data)))

    # Byte positions are drawn as fractions of the file's length, so the cases do not depend on the exact size
    # of the template (which HDF5's allocation may change by a few bytes between library versions).
    def truncate(share: float) -> Corruption:
        return Corruption(f"truncated to {share:.4f} of its bytes", lambda raw: raw[:int(share * len(raw))],
                          structural=False)

    def scribble(spots: list[tuple[float, bytes]]) -> Corruption:
        def apply(raw: bytes) -> bytes:
            out = bytearray(raw)
            for share, chunk in spots:
                start = int(share * len(out)) % max(1, len(out))
                out[start:start + len(chunk)] = chunk
            return bytes(out)
        return Corruption(f"bytes at {[round(s, 5) for s, _ in spots]} of the file", apply, structural=False)

    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
    return st.one_of(
        st.builds(nan, st.sampled_from(inv.float_datasets), st.integers(0, 10**6),
                  st.sampled_from([np.nan, np.inf, -np.inf])),
        st.builds(dtype, st.sampled_from(inv.datasets), st.sampled_from(DTYPES)),
        st.builds(shape, st.sampled_from(inv.datasets), st.sampled_from(SHAPE_CHANGES), st.integers(0, 500)),
        st.builds(del_attr, st.sampled_from(inv.attributes)),
        st.builds(set_attr, st.sampled_from(inv.attributes), ATTRIBUTE_VALUES),
        st.builds(events, st.sampled_from(inv.events),
                  st.one_of(st.lists(st.integers(-(2**31), 2**31), max_size=6),
                            st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6))),
        st.builds(delete, st.sampled_from(not_root)),
        st.builds(swap, st.sampled_from([g for g in inv.groups if g != "/"]), st.lists(floats, max_size=4)),
        st.builds(stray, st.sampled_from(inv.groups), st.sampled_from(["imu", "grf", "x", "events", "clean", "pressure"]),
                  st.lists(floats, max_size=4)),
        st.builds(truncate, st.floats(0.0, 1.0, exclude_max=True)),
        st.builds(scribble, st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.binary(min_size=1, max_size=32)),
                                     min_size=1, max_size=8)),
    )


def corrupt(template_bytes: bytes, path: Path, changes: list[Corruption]) -> list[str]:
    """Write the template to `path` with `changes` applied (structural first, then bytes); returns what was
    applied (a structural change whose target an earlier change removed is skipped)."""
    path.write_bytes(template_bytes)
    applied = []
    structural = [c for c in changes if c.structural]
    if structural:
        with h5py.File(path, "r+") as f:
            for change in structural:
                try:
                    change.apply(f)
                except (KeyError, ValueError, TypeError, OSError, RuntimeError, OverflowError, AttributeError):
                    continue  # e.g. its dataset was deleted by an earlier change: the harness's problem, not the file's
                applied.append(change.what)
    raw = path.read_bytes()
    for change in changes:
        if not change.structural:
            raw = change.apply(raw)
            applied.append(change.what)
    path.write_bytes(raw)
    return applied


# -- importer inputs ------------------------------------------------------------------------------------------

GOOD_COLUMNS = ("time", "R_FOOT_acc_x", "R_FOOT_acc_y", "R_FOOT_gyr_z", "TRUNK_acc_x", "R_KNEE_flex", "L_HIP_flex",
                "grf_right_ml", "grf_right_ap", "grf_right_vertical", "p_right_r0_c0", "p_right_r0_c1",
                "p_right_r1_c0", "p_right_r1_c1", "kp_heel_x", "kp_heel_y", "kp_heel_z", "com_x", "com_y", "com_z")
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.just(""),
    st.text(max_size=8),
    st.sampled_from(["nan", "inf", "-inf", "1e400", " 3 ", "0x10", "1,5", '"', "\x00"]),
)
COLUMN_NAMES = st.one_of(st.sampled_from(GOOD_COLUMNS), st.text(max_size=10))


@st.composite
def csv_text(draw) -> str:
    """A trial CSV: well-formed with any columns and cells, ragged, or arbitrary text."""
    form = draw(st.sampled_from(["table", "table", "table", "ragged", "text"]))
    if form == "text":
        return draw(st.text(max_size=200))
    header = draw(st.lists(COLUMN_NAMES, min_size=1, max_size=8))
    n_rows = draw(st.integers(0, 12))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    if form == "table" and draw(st.booleans()):  # mostly numbers: gets past the parser to the checks behind it
        rate = draw(st.sampled_from([50.0, 100.0, 0.0, -10.0]))
        for i in range(n_rows):
            writer.writerow([repr(i / rate) if name == "time" and rate else repr(draw(st.floats(-1e3, 1e3)))
                             for name in header])
    else:
        for _ in range(n_rows):
            width = len(header) if form == "table" else draw(st.integers(0, len(header) + 2))
            writer.writerow(draw(st.lists(CELLS, min_size=width, max_size=width)))
    return buf.getvalue()


SIDECAR_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=True),
                           st.text(max_size=8), st.lists(st.floats(0, 1), max_size=3),
                           st.dictionaries(st.text(max_size=6), st.integers(), max_size=2))
SIDECAR_KEYS = ("subject_id", "body_mass_kg", "height_m", "sex", "foot_length_m", "arch_type", "attrs",
                "sample_rate_hz", "activity", "speed_m_s", "header_rows", "columns", "ignore_columns", "units",
                "pressure_cell_size_m", "trials")
BASE_SIDECAR = {"subject_id": "S01", "body_mass_kg": 70.0, "height_m": 1.75, "sex": "F", "sample_rate_hz": 100.0,
                "activity": "walk", "pressure_cell_size_m": [0.01, 0.01]}


@st.composite
def sidecar_text(draw, trial: str = "walk") -> str:
    """A subject sidecar: the valid base with keys dropped, changed or added (as YAML or JSON), or any text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=120))
    data: dict[str, Any] = dict(BASE_SIDECAR)
    for key in draw(st.lists(st.sampled_from(sorted(data)), max_size=2, unique=True)):
        del data[key]
    for key in draw(st.lists(st.sampled_from(SIDECAR_KEYS + ("weight", "trial")), max_size=3, unique=True)):
        data[key] = draw(SIDECAR_VALUES)
    if draw(st.booleans()):
        entry = draw(st.dictionaries(st.sampled_from(["activity", "events", "file", "header_rows", "units",
                                                      "speed_m_s", "pressure_frames"]), SIDECAR_VALUES, max_size=2))
        if draw(st.booleans()):
            entry["events"] = f"{trial}.events.csv"
        data["trials"] = {trial: entry}
    return json.dumps(data) if draw(st.booleans()) else yaml.safe_dump(data)


@st.composite
def events_text(draw) -> str:
    """The foot,event,sample CSV `--events` and sidecar `events:` read."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=80))
    header = draw(st.sampled_from(["foot,event,sample", "foot,event", "sample,foot,event", ""]))
    rows = draw(st.lists(st.tuples(st.sampled_from(["left", "right", "middle", ""]),
                                   st.sampled_from(["heel_strike", "toe_off", "step"]),
                                   st.one_of(st.integers(-5, 30).map(str), st.text(max_size=3))), max_size=6))
    return "\n".join([header, *(",".join(r) for r in rows)]) + "\n"


def write_study(root: Path, sidecar: str, trial_csv: str, events: str | None, trial: str = "walk") -> Path:
    """One subject folder: `subject.yaml`, `<trial>.csv` and, if given, `<trial>.events.csv`."""
    folder = root / "S01"
    folder.mkdir(parents=True)
    (folder / "subject.yaml").write_text(sidecar)
    (folder / f"{trial}.csv").write_text(trial_csv)
    if events is not None:
        (folder / f"{trial}.events.csv").write_text(events)
    return root
