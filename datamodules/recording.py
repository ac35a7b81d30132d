"""The recording format: in-memory dataclasses, an HDF5 writer and a lazy reader.

One HDF5 file holds many subjects; a subject holds trials; a trial holds time-aligned modalities
at one sample rate. Every modality is optional. The layout is documented in
`docs/recording_format.md`; `zoo data validate` checks a file against it.

Large arrays (pressure frames) are chunked along time and gzip-compressed so that a window can be
read without touching the rest of the file: the DataModule never loads a whole file.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from datamodules.errors import RecordingError
from datamodules.naming import FEET, GRF_AXES, GRF_KEYS, JOINT_ANGLE_UNIT, SCHEMA_VERSION

# Units each fixed modality must carry (the `units` attribute).
MODALITY_UNITS = {
    "grf": "N",
    "pressure": "N/cm^2",
    "keypoints": "m",
    "com": "m",
    "geometry": "mm",
    "cop": "m",
    "insole": "N",
}
EVENT_KINDS = ("heel_strike", "toe_off")
TARGET_MODALITIES = ("grf", "pressure", "keypoints")


@dataclass
class Signals:
    """Named channels sampled in time, stored time-major `[T, C]`."""

    data: np.ndarray
    channels: tuple[str, ...]
    units: tuple[str, ...]

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float32)
        self.channels = tuple(self.channels)
        if isinstance(self.units, str):
            self.units = (self.units,) * len(self.channels)
        self.units = tuple(self.units)
        if self.data.ndim != 2 or self.data.shape[1] != len(self.channels):
            raise RecordingError(
                f"signals: expected data [T, {len(self.channels)}] for {len(self.channels)} channel names, "
                f"found shape {self.data.shape}"
            )
        if len(self.units) != len(self.channels):
            raise RecordingError(f"signals: {len(self.channels)} channels but {len(self.units)} units")

    def select(self, names: Iterable[str]) -> np.ndarray:
        index = {n: i for i, n in enumerate(self.channels)}
        return self.data[:, [index[n] for n in names]]


@dataclass
class SubjectInfo:
    """Subject metadata; `geometry` maps a foot to its plantar height map `[H, W]` in mm."""

    subject_id: str
    body_mass_kg: float
    height_m: float
    sex: str = "unknown"
    foot_length_m: float | None = None
    arch_type: str = "unknown"
    geometry: dict[str, np.ndarray] = field(default_factory=dict)
    geometry_cell_size_m: tuple[float, float] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrialData:
    """One trial: every array shares the time axis `T` at `sample_rate_hz`.

    grf:       foot -> [T, A] in N, force acting on the foot from the ground, axes `grf_axes[foot]` (default
               all three, ml, ap, vertical); the key "total" holds both feet summed (treadmill, single plate).
    pressure:  foot -> [T, H, W] in N/cm^2; row 0 at the heel, column 0 at the medial edge.
    keypoints: [T, K, 3] in m, world frame (x forward, y left, z up, ground at z = 0).
    com:       [T, 3] centre-of-mass position in m, world frame.
    cop:       foot -> [T, 3] centre of pressure in m, world frame (x, y, z); NaN-free, so swing samples
               hold the last stance value (see the format page).
    insole:    foot -> Signals [T, S] of S sparse insole sensors (force in N, named channels).
    events:    foot -> {"heel_strike": idx, "toe_off": idx} sample indices.
    clean:     noise-free copies of the targets, same layout: {"grf": {...}, "pressure": {...},
               "keypoints": array}.
    """

    trial_id: str
    sample_rate_hz: float
    activity: str = "unknown"
    speed_m_s: float | None = None
    imu: Signals | None = None
    joint_angles: Signals | None = None
    grf: dict[str, np.ndarray] = field(default_factory=dict)
    grf_axes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # grf key -> axes (default GRF_AXES)
    pressure: dict[str, np.ndarray] = field(default_factory=dict)
    pressure_cell_size_m: tuple[float, float] | None = None
    keypoints: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()
    com: np.ndarray | None = None
    cop: dict[str, np.ndarray] = field(default_factory=dict)
    insole: dict[str, Signals] = field(default_factory=dict)
    events: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    clean: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        for arr in self._arrays():
            return int(arr.shape[0])
        return 0

    def _arrays(self) -> Iterator[np.ndarray]:
        if self.imu is not None:
            yield self.imu.data
        if self.joint_angles is not None:
            yield self.joint_angles.data
        yield from self.grf.values()
        yield from self.pressure.values()
        if self.keypoints is not None:
            yield self.keypoints
        if self.com is not None:
            yield self.com
        yield from self.cop.values()
        yield from (sig.data for sig in self.insole.values())


def subject_path(subject_id: str) -> str:
    return f"subjects/{subject_id}"


def trial_path(subject_id: str, trial_id: str) -> str:
    return f"subjects/{subject_id}/trials/{trial_id}"


def _str_list(values: Iterable[str]) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


def _grf_axes(ds: h5py.Dataset) -> tuple[str, ...]:
    """A GRF dataset's axis names: its `channels` attribute (format 1.2), else all three (older files)."""
    if "channels" in ds.attrs:
        return tuple(_decode(ds.attrs["channels"]))
    return GRF_AXES


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class RecordingWriter:
    """Streams subjects and trials into one HDF5 file, so a corpus never has to fit in RAM.

    >>> with RecordingWriter("data.h5", dataset_name="my-lab", synthetic=False) as w:
    ...     w.add_subject(SubjectInfo("S01", body_mass_kg=70.0, height_m=1.75))
    ...     w.add_trial("S01", TrialData("T01", sample_rate_hz=100.0, imu=...))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        dataset_name: str,
        synthetic: bool,
        description: str = "",
        attrs: dict[str, Any] | None = None,
        overwrite: bool = True,
        compression: str | None = "gzip",
        compression_level: int = 1,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path}: exists (pass overwrite=True to replace it)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".partial")
        self._file = h5py.File(self._tmp, "w")
        self._compression = compression
        self._compression_opts = compression_level if compression == "gzip" else None
        root = self._file.attrs
        root["schema_version"] = SCHEMA_VERSION
        root["dataset_name"] = dataset_name
        root["synthetic"] = bool(synthetic)
        root["description"] = description
        root["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        for key, value in (attrs or {}).items():
            root[key] = value
        self._file.create_group("subjects")

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(commit=exc_type is None)

    def close(self, commit: bool = True) -> None:
        """Finish the file; it appears under its final name only when complete (atomic)."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if commit:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    # -- writing ---------------------------------------------------------------------------
    def _dataset(self, group: h5py.Group, name: str, data: np.ndarray, units: Any, chunk_t: int, **attrs: Any):
        data = np.asarray(data)
        chunks = None
        if data.ndim >= 1 and data.shape[0] > 0:
            chunks = (min(chunk_t, data.shape[0]),) + data.shape[1:]
        ds = group.create_dataset(
            name,
            data=data,
            chunks=chunks,
            compression=self._compression if chunks else None,
            compression_opts=self._compression_opts if chunks else None,
            shuffle=bool(chunks and self._compression),
        )
        if isinstance(units, str):
            ds.attrs["units"] = units
        else:
            ds.attrs["units"] = _str_list(units)
        for key, value in attrs.items():
            ds.attrs[key] = value
        return ds

    def add_subject(self, subject: SubjectInfo) -> None:
        g = self._file["subjects"].create_group(subject.subject_id)
        g.attrs["body_mass_kg"] = float(subject.body_mass_kg)
        g.attrs["height_m"] = float(subject.height_m)
        g.attrs["sex"] = subject.sex
        g.attrs["arch_type"] = subject.arch_type
        if subject.foot_length_m is not None:
            g.attrs["foot_length_m"] = float(subject.foot_length_m)
        for key, value in subject.attrs.items():
            g.attrs[key] = value
        if subject.geometry:
            geo = g.create_group("geometry")
            for foot, hmap in subject.geometry.items():
                ds = self._dataset(geo, foot, np.asarray(hmap, np.float32), MODALITY_UNITS["geometry"], 1 << 30)
                if subject.geometry_cell_size_m is not None:
                    ds.attrs["cell_size_m"] = np.asarray(subject.geometry_cell_size_m, np.float64)
        g.create_group("trials")

    def add_trial(self, subject_id: str, trial: TrialData) -> None:
        g = self._file[subject_path(subject_id)]["trials"].create_group(trial.trial_id)
        self._write_trial(g, trial)

    def _write_trial(self, g: h5py.Group, trial: TrialData) -> None:
        g.attrs["sample_rate_hz"] = float(trial.sample_rate_hz)
        g.attrs["activity"] = trial.activity
        g.attrs["n_samples"] = trial.n_samples
        if trial.speed_m_s is not None:
            g.attrs["speed_m_s"] = float(trial.speed_m_s)
        for key, value in trial.attrs.items():
            g.attrs[key] = value
        for name in ("imu", "joint_angles"):
            sig: Signals | None = getattr(trial, name)
            if sig is not None:
                units = sig.units if len(set(sig.units)) > 1 else sig.units[0]
                self._dataset(g, name, sig.data.astype(np.float32), units, 4096, channels=_str_list(sig.channels))
        self._write_targets(g, trial.grf, trial.pressure, trial.keypoints, trial)
        if trial.com is not None:  # float64: 40 m of walking in float32 blurs the Newton check to 6e-3 BW
            self._dataset(g, "com", np.asarray(trial.com, np.float64), MODALITY_UNITS["com"], 4096,
                          channels=_str_list(("x", "y", "z")))
        for foot, arr in trial.cop.items():
            self._dataset(g, f"cop/{foot}", np.asarray(arr, np.float32), MODALITY_UNITS["cop"], 4096,
                          channels=_str_list(("x", "y", "z")))
        for foot, sig in trial.insole.items():
            units = sig.units if len(set(sig.units)) > 1 else sig.units[0]
            self._dataset(g, f"insole/{foot}", sig.data.astype(np.float32), units, 4096,
                          channels=_str_list(sig.channels))
        for foot, ev in trial.events.items():
            eg = g.require_group(f"events/{foot}")
            for kind in EVENT_KINDS:
                if kind in ev:
                    eg.create_dataset(kind, data=np.asarray(ev[kind], dtype=np.int64))
        if trial.clean.get("grf") or trial.clean.get("pressure") or trial.clean.get("keypoints") is not None:
            c = g.create_group("clean")  # only when it holds something: an empty clean/ promises targets
            self._write_targets(c, trial.clean.get("grf", {}), trial.clean.get("pressure", {}),
                                trial.clean.get("keypoints"), trial)

    def _write_targets(self, g: h5py.Group, grf, pressure, keypoints, trial: TrialData) -> None:
        for foot, arr in grf.items():
            axes = tuple(trial.grf_axes.get(foot, GRF_AXES))
            arr = np.asarray(arr, np.float32)
            if foot not in GRF_KEYS or any(a not in GRF_AXES for a in axes) or arr.ndim != 2 \
                    or arr.shape[1] != len(axes) or list(axes) != sorted(set(axes), key=GRF_AXES.index):
                raise RecordingError(
                    f"{self.path}: {g.name}/grf/{foot}: expected a key from {list(GRF_KEYS)} and [T, A] data with "
                    f"A distinct axes from {list(GRF_AXES)} in that order; found axes {list(axes)}, shape {arr.shape}")
            self._dataset(g, f"grf/{foot}", arr, MODALITY_UNITS["grf"], 4096, channels=_str_list(axes))
        if pressure and trial.pressure_cell_size_m is None:
            raise RecordingError(
                f"{self.path}: {g.name}/pressure: expected pressure_cell_size_m (row, column pitch in m), found None"
            )
        for foot, arr in pressure.items():
            ds = self._dataset(g, f"pressure/{foot}", np.asarray(arr, np.float32), MODALITY_UNITS["pressure"], 32)
            ds.attrs["cell_size_m"] = np.asarray(trial.pressure_cell_size_m, np.float64)
        if keypoints is not None:
            self._dataset(g, "keypoints", np.asarray(keypoints, np.float32), MODALITY_UNITS["keypoints"], 4096,
                          names=_str_list(trial.keypoint_names))


def write_recording(
    path: str | os.PathLike,
    subjects: Iterable[tuple[SubjectInfo, Iterable[TrialData]]],
    *,
    dataset_name: str,
    synthetic: bool,
    **kwargs: Any,
) -> Path:
    """Write `(subject, trials)` pairs to `path` in one go."""
    with RecordingWriter(path, dataset_name=dataset_name, synthetic=synthetic, **kwargs) as w:
        for subject, trials in subjects:
            w.add_subject(subject)
            for trial in trials:
                w.add_trial(subject.subject_id, trial)
    return Path(path)


@dataclass(frozen=True)
class TrialInfo:
    """What a trial holds, read from attributes and shapes only (no array data)."""

    subject_id: str
    trial_id: str
    sample_rate_hz: float
    activity: str
    speed_m_s: float | None
    n_samples: int
    imu_channels: tuple[str, ...]
    joint_angle_channels: tuple[str, ...]
    grf_feet: tuple[str, ...]
    pressure_feet: tuple[str, ...]
    pressure_shape: tuple[int, int] | None
    pressure_cell_size_m: tuple[float, float] | None
    keypoint_names: tuple[str, ...]
    event_feet: tuple[str, ...]
    has_clean: bool
    cop_feet: tuple[str, ...] = ()
    insole_feet: tuple[str, ...] = ()
    # (grf key, axes) for every `grf/<foot>` and `grf/total` the trial holds (files before 1.2: all three axes)
    grf_axes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def path(self) -> str:
        return trial_path(self.subject_id, self.trial_id)

    def grf_axes_of(self, key: str) -> tuple[str, ...]:
        """The axes `grf/<key>` holds (`key`: a foot or "total"); () when the trial has no such dataset."""
        return dict(self.grf_axes).get(key, ())


class Recording:
    """Lazy, picklable reader. The HDF5 handle opens on first use in each process, so a
    DataLoader worker gets its own handle instead of sharing one across a fork."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such recording file")
        self._file: h5py.File | None = None
        self._pid: int | None = None
        f = self.file
        version = _decode(f.attrs.get("schema_version", ""))
        if not version:
            raise RecordingError(f"{self.path}: attribute /schema_version: expected '{SCHEMA_VERSION}', found nothing")
        if str(version).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise RecordingError(
                f"{self.path}: attribute /schema_version: expected {SCHEMA_VERSION.split('.')[0]}.x, found {version}"
            )

    # -- file handle -----------------------------------------------------------------------
    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as exc:
                raise RecordingError(f"{self.path}: not a readable HDF5 file ({exc})") from None
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_file": None, "_pid": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- metadata --------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _decode(v) for k, v in self.file.attrs.items()}

    @property
    def dataset_name(self) -> str:
        return str(self.attrs.get("dataset_name", self.path.stem))

    @property
    def synthetic(self) -> bool:
        return bool(self.attrs.get("synthetic", False))

    @property
    def subject_ids(self) -> list[str]:
        return sorted(self.file["subjects"].keys()) if "subjects" in self.file else []

    def subject(self, subject_id: str) -> SubjectInfo:
        g = self.file[subject_path(subject_id)]
        a = {k: _decode(v) for k, v in g.attrs.items()}
        geometry, cell = {}, None
        if "geometry" in g:
            for foot, ds in g["geometry"].items():
                geometry[foot] = ds[()]
                if "cell_size_m" in ds.attrs:
                    cell = tuple(float(v) for v in ds.attrs["cell_size_m"])
        known = {"body_mass_kg", "height_m", "sex", "foot_length_m", "arch_type"}
        return SubjectInfo(
            subject_id=subject_id,
            body_mass_kg=float(a["body_mass_kg"]),
            height_m=float(a["height_m"]),
            sex=str(a.get("sex", "unknown")),
            foot_length_m=float(a["foot_length_m"]) if "foot_length_m" in a else None,
            arch_type=str(a.get("arch_type", "unknown")),
            geometry=geometry,
            geometry_cell_size_m=cell,
            attrs={k: v for k, v in a.items() if k not in known},
        )

    def trial_ids(self, subject_id: str) -> list[str]:
        return sorted(self.file[subject_path(subject_id)]["trials"].keys())

    def trials(self) -> list[TrialInfo]:
        return [self.trial_info(s, t) for s in self.subject_ids for t in self.trial_ids(s)]

    def trial_info(self, subject_id: str, trial_id: str) -> TrialInfo:
        g = self.file[trial_path(subject_id, trial_id)]
        a = {k: _decode(v) for k, v in g.attrs.items()}

        def channels(name: str) -> tuple[str, ...]:
            return tuple(_decode(g[name].attrs["channels"])) if name in g else ()

        pressure_feet = tuple(f for f in FEET if f"pressure/{f}" in g)
        shape = cell = None
        if pressure_feet:
            ds = g[f"pressure/{pressure_feet[0]}"]
            shape = tuple(int(v) for v in ds.shape[1:])
            if "cell_size_m" in ds.attrs:
                cell = tuple(float(v) for v in ds.attrs["cell_size_m"])
        return TrialInfo(
            subject_id=subject_id,
            trial_id=trial_id,
            sample_rate_hz=float(a["sample_rate_hz"]),
            activity=str(a.get("activity", "unknown")),
            speed_m_s=float(a["speed_m_s"]) if "speed_m_s" in a else None,
            n_samples=int(a.get("n_samples", 0)),
            imu_channels=channels("imu"),
            joint_angle_channels=channels("joint_angles"),
            grf_feet=tuple(f for f in FEET if f"grf/{f}" in g),
            pressure_feet=pressure_feet,
            pressure_shape=shape,  # type: ignore[arg-type]
            pressure_cell_size_m=cell,  # type: ignore[arg-type]
            keypoint_names=tuple(_decode(g["keypoints"].attrs["names"])) if "keypoints" in g else (),
            event_feet=tuple(f for f in FEET if f"events/{f}" in g),
            has_clean="clean" in g,
            cop_feet=tuple(f for f in FEET if f"cop/{f}" in g),
            insole_feet=tuple(f for f in FEET if f"insole/{f}" in g),
            grf_axes=tuple((k, _grf_axes(g[f"grf/{k}"])) for k in GRF_KEYS if f"grf/{k}" in g),
        )

    # -- arrays ----------------------------------------------------------------------------
    def dataset(self, subject_id: str, trial_id: str, name: str, clean: bool = False) -> h5py.Dataset:
        """The lazy h5py dataset `name` (for example `pressure/right`); slice it to read."""
        prefix = trial_path(subject_id, trial_id) + ("/clean" if clean else "")
        return self.file[f"{prefix}/{name}"]

    def has(self, subject_id: str, trial_id: str, name: str, clean: bool = False) -> bool:
        prefix = trial_path(subject_id, trial_id) + ("/clean" if clean else "")
        return f"{prefix}/{name}" in self.file

    def events(self, subject_id: str, trial_id: str, foot: str) -> dict[str, np.ndarray]:
        g = self.file[trial_path(subject_id, trial_id)]
        if f"events/{foot}" not in g:
            return {}
        return {k: g[f"events/{foot}/{k}"][()] for k in EVENT_KINDS if k in g[f"events/{foot}"]}

    def read_trial(self, subject_id: str, trial_id: str) -> TrialData:
        """Load one whole trial into memory (small trials, tests, export)."""
        info = self.trial_info(subject_id, trial_id)
        g = self.file[info.path]

        def signals(name: str) -> Signals | None:
            if name not in g:
                return None
            ds = g[name]
            units = _decode(ds.attrs["units"])
            return Signals(ds[()], _decode(ds.attrs["channels"]), units if isinstance(units, tuple) else str(units))

        def targets(prefix: h5py.Group) -> tuple[dict, dict, np.ndarray | None]:
            grf = {f: prefix[f"grf/{f}"][()] for f in GRF_KEYS if f"grf/{f}" in prefix}
            pressure = {f: prefix[f"pressure/{f}"][()] for f in FEET if f"pressure/{f}" in prefix}
            kp = prefix["keypoints"][()] if "keypoints" in prefix else None
            return grf, pressure, kp

        grf, pressure, keypoints = targets(g)
        clean: dict[str, Any] = {}
        if "clean" in g:
            cg, cp, ck = targets(g["clean"])
            clean = {"grf": cg, "pressure": cp, "keypoints": ck}
        known = {"sample_rate_hz", "activity", "speed_m_s", "n_samples"}
        return TrialData(
            trial_id=trial_id,
            sample_rate_hz=info.sample_rate_hz,
            activity=info.activity,
            speed_m_s=info.speed_m_s,
            imu=signals("imu"),
            joint_angles=signals("joint_angles"),
            grf=grf,
            grf_axes=dict(info.grf_axes),
            pressure=pressure,
            pressure_cell_size_m=info.pressure_cell_size_m,
            keypoints=keypoints,
            keypoint_names=info.keypoint_names,
            com=g["com"][()] if "com" in g else None,
            cop={f: g[f"cop/{f}"][()] for f in info.cop_feet},
            insole={f: signals(f"insole/{f}") for f in info.insole_feet},
            events={f: self.events(subject_id, trial_id, f) for f in info.event_feet},
            clean=clean,
            attrs={k: _decode(v) for k, v in g.attrs.items() if k not in known},
        )


__all__ = [
    "EVENT_KINDS",
    "JOINT_ANGLE_UNIT",
    "MODALITY_UNITS",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Signals",
    "SubjectInfo",
    "TrialData",
    "TrialInfo",
    "subject_path",
    "trial_path",
    "write_recording",
]
