"""`zoo data strip`: write a partial copy of a recording, as a lab's data would hold it.

Real recordings hold less than the simulator: no foot geometry, no gait events, the vertical force only, the
force on both feet summed (a treadmill), a few keypoints at a camera's rate, one accelerometer. Stripping a
simulated file to that is how the zoo tests its fallbacks, and how a user checks what a task does with data
like theirs before collecting it:

    zoo data strip sim.h5 partial.h5 --drop geometry events --grf-axes vertical --grf-total replace
    zoo data strip sim.h5 pose8.h5 --keypoints nose left_shoulder ... --rate 8

The copy says what was removed in its root attribute `stripped`; it stays `synthetic` if the source was.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datamodules.errors import DataError
from datamodules.naming import FEET, GRF_AXES, GRF_TOTAL
from datamodules.recording import Recording, RecordingWriter, Signals, TrialData

DROPPABLE = ("geometry", "events", "clean", "imu", "joint_angles", "grf", "pressure", "keypoints", "com", "cop",
             "insole")
GRF_TOTAL_MODES = ("add", "replace")


def strip_recording(
    source: str | Path,
    dest: str | Path,
    *,
    drop: Sequence[str] = (),
    grf_axes: Sequence[str] | None = None,
    grf_total: str | None = None,
    keypoints: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    rate_hz: float | None = None,
) -> Path:
    """Copy `source` to `dest` without `drop` (names of DROPPABLE), keeping only `grf_axes` of every force,
    adding (`grf_total="add"`) or substituting (`"replace"`) the both-feet total `grf/total`, keeping only
    the `keypoints` and IMU `channels` named, and resampling every trial to `rate_hz`."""
    unknown = [d for d in drop if d not in DROPPABLE]
    if unknown:
        raise DataError(f"strip --drop: expected names from {list(DROPPABLE)}, found {unknown}")
    if grf_axes is not None and (not grf_axes or any(a not in GRF_AXES for a in grf_axes)):
        raise DataError(f"strip --grf-axes: expected axes from {list(GRF_AXES)}, found {list(grf_axes)}")
    if grf_total is not None and grf_total not in GRF_TOTAL_MODES:
        raise DataError(f"strip --grf-total: expected one of {list(GRF_TOTAL_MODES)}, found '{grf_total}'")
    if Path(source).resolve() == Path(dest).resolve():
        raise DataError(f"strip: the copy must be a new file; found the source {source} as destination")
    done = [f"dropped {', '.join(drop)}"] if drop else []
    done += [f"grf axes {list(grf_axes)}"] if grf_axes else []
    done += [f"grf/total ({grf_total})"] if grf_total else []
    done += [f"keypoints {list(keypoints)}"] if keypoints else []
    done += [f"imu channels {list(channels)}"] if channels else []
    done += [f"resampled to {rate_hz:g} Hz"] if rate_hz else []
    with Recording(source) as rec:
        attrs = {k: v for k, v in rec.attrs.items()
                 if k not in ("schema_version", "dataset_name", "synthetic", "description", "created")}
        attrs["stripped"] = f"from {Path(source).name}: " + ("; ".join(done) or "nothing removed")
        with RecordingWriter(dest, dataset_name=rec.dataset_name, synthetic=rec.synthetic,
                             description=str(rec.attrs.get("description", "")), attrs=attrs) as writer:
            for sid in rec.subject_ids:
                subject = rec.subject(sid)
                if "geometry" in drop:
                    subject.geometry, subject.geometry_cell_size_m = {}, None
                writer.add_subject(subject)
                for tid in rec.trial_ids(sid):
                    trial = _strip_trial(rec.read_trial(sid, tid), drop, grf_axes, grf_total, keypoints, channels,
                                         f"{source}: {sid}/{tid}")
                    if rate_hz and rate_hz != trial.sample_rate_hz:
                        from datamodules.importers import resample_trial

                        clean = trial.clean
                        trial = resample_trial(trial, rate_hz)  # measured modalities; clean/ is left out
                        if clean and "clean" not in drop:
                            trial.attrs["stripped_clean"] = "clean/ left out by resampling"
                    writer.add_trial(sid, trial)
    return Path(dest)


def _strip_trial(trial: TrialData, drop: Sequence[str], grf_axes: Sequence[str] | None, grf_total: str | None,
                 keypoints: Sequence[str] | None, channels: Sequence[str] | None, where: str) -> TrialData:
    for name in ("imu", "joint_angles", "com"):
        if name in drop:
            setattr(trial, name, None)
    for name in ("pressure", "cop", "insole", "events"):
        if name in drop:
            setattr(trial, name, {})
    if "keypoints" in drop:
        trial.keypoints, trial.keypoint_names = None, ()
    if "clean" in drop:
        trial.clean = {}
    if channels is not None and trial.imu is not None:
        lacking = [c for c in channels if c not in trial.imu.channels]
        if lacking:
            raise DataError(f"{where}: strip --channels: missing: {lacking}; found: {list(trial.imu.channels)}")
        units = dict(zip(trial.imu.channels, trial.imu.units))
        trial.imu = Signals(trial.imu.select(channels), tuple(channels), tuple(units[c] for c in channels))
    if keypoints is not None and trial.keypoints is not None:
        lacking = [k for k in keypoints if k not in trial.keypoint_names]
        if lacking:
            raise DataError(f"{where}: strip --keypoints: missing: {lacking}; found: {list(trial.keypoint_names)}")
        index = [trial.keypoint_names.index(k) for k in keypoints]
        trial.keypoints = trial.keypoints[:, index]
        if trial.clean.get("keypoints") is not None:
            trial.clean["keypoints"] = trial.clean["keypoints"][:, index]
        trial.keypoint_names = tuple(keypoints)
    if "grf" in drop:
        trial.grf, trial.grf_axes = {}, {}
        trial.clean.pop("grf", None)
        return trial
    held = {k: tuple(trial.grf_axes.get(k, GRF_AXES)) for k in trial.grf}
    groups = [trial.grf] + ([trial.clean["grf"]] if trial.clean.get("grf") else [])
    if grf_total is not None:
        feet = [f for f in FEET if f in trial.grf]
        if len(feet) < 2:
            raise DataError(f"{where}: strip --grf-total: needs grf of both feet; missing: "
                            f"{[f'grf/{f}' for f in FEET if f not in feet]}; found: {[f'grf/{f}' for f in feet]}")
        axes = tuple(a for a in GRF_AXES if all(a in held[f] for f in feet))
        for g in groups:
            g[GRF_TOTAL] = sum(g[f][:, [held[f].index(a) for a in axes]] for f in feet)
            if grf_total == "replace":
                for f in feet:
                    g.pop(f, None)
        held[GRF_TOTAL] = axes
        if grf_total == "replace":
            held = {GRF_TOTAL: axes}
    if grf_axes is not None:
        for key, axes in list(held.items()):
            lacking = [a for a in grf_axes if a not in axes]
            if lacking:
                raise DataError(f"{where}: strip --grf-axes: grf/{key} missing: {lacking}; found: {list(axes)}")
            keep = [axes.index(a) for a in GRF_AXES if a in grf_axes]
            for g in groups:
                if key in g:
                    g[key] = np.asarray(g[key])[:, keep]
            held[key] = tuple(a for a in GRF_AXES if a in grf_axes)
    trial.grf_axes = held
    return trial


def run_strip(args: argparse.Namespace) -> int:
    out = strip_recording(args.source, args.dest, drop=args.drop or (), grf_axes=args.grf_axes,
                          grf_total=args.grf_total, keypoints=args.keypoints, channels=args.channels,
                          rate_hz=args.rate)
    with Recording(out) as rec:
        print(f"{out}: {rec.attrs['stripped']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `zoo data strip SOURCE DEST [--drop ...] [--grf-axes ...] [--grf-total add|replace] ...`."""
    parser = subparsers.add_parser(
        "strip", help="write a partial copy of a recording (what a lab's data would hold)",
        description="Copy a recording without some of its data: modalities, geometry, events, GRF axes, "
                    "per-foot GRF (replaced by the both-feet total), keypoints or IMU channels, optionally "
                    "resampled. For testing what a task does with partial data.")
    parser.add_argument("source", type=Path, help="recording to copy (.h5)")
    parser.add_argument("dest", type=Path, help="the partial copy to write (.h5)")
    parser.add_argument("--drop", nargs="+", choices=DROPPABLE, metavar="NAME",
                        help=f"remove these ({', '.join(DROPPABLE)})")
    parser.add_argument("--grf-axes", nargs="+", choices=GRF_AXES, metavar="AXIS",
                        help="keep only these GRF axes (e.g. vertical)")
    parser.add_argument("--grf-total", choices=GRF_TOTAL_MODES,
                        help="add grf/total (both feet summed), or replace the per-foot GRF with it")
    parser.add_argument("--keypoints", nargs="+", metavar="NAME", help="keep only these keypoints")
    parser.add_argument("--channels", nargs="+", metavar="CHANNEL", help="keep only these IMU channels")
    parser.add_argument("--rate", type=float, metavar="HZ", help="resample every trial to this rate")
    parser.set_defaults(func=run_strip)


__all__ = ["DROPPABLE", "register", "run_strip", "strip_recording"]
