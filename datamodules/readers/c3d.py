"""C3D motion-capture files (`ezc3d`): force plates to per-foot GRF and COP, markers to keypoints, events.

What the reader decides, and reports in the import notes:
- frame: the lab's vertical axis is z (C3D convention); the walking direction is the lab's horizontal
  axis (sign included) nearest to the travel of the markers' mean (else of the COP from plate to plate).
  World x = that direction, z = up, y = left, so GRF becomes (ml, ap, vertical) and positions world x, y, z.
- plates: each plate's unloaded offset (median of each axis over the samples whose vertical force lies
  within `UNLOADED_BAND_N` of its lowest value) is subtracted; a contact is a run of at least
  `MIN_CONTACT_S` with vertical force above `CONTACT_THRESHOLD_N`. Outside contacts a plate adds nothing.
- feet: each contact goes to the foot whose heel strike (file events) lies within `EVENT_TOLERANCE_S` of
  its onset; without such an event, to the side (R/L) of the foot markers nearest the COP at mid-contact.
  A contact neither can assign stops the import with the plate and time.
- COP: the contact's COP in m; outside contacts the nearest stance value is held (mask by vertical GRF).
- markers: mm -> m; gaps up to `MAX_MARKER_GAP` frames are filled by cubic interpolation, markers with
  longer gaps are left out (named in the notes); then interpolated to the analog rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from datamodules.errors import DataError
from datamodules.readers.table import Table

CONTACT_THRESHOLD_N = 20.0
UNLOADED_BAND_N = 10.0
MIN_CONTACT_S = 0.1
EVENT_TOLERANCE_S = 0.2
MAX_MARKER_GAP = 10
POSITION_SCALE = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
FORCE_SCALE = {"N": 1.0, "nt": 1.0, "kN": 1e3}


def _ezc3d():
    try:
        import ezc3d
    except ImportError:
        raise DataError("reading C3D files needs the ezc3d package: pip install gait-zoo[c3d]") from None
    return ezc3d


def _value(params: dict, group: str, name: str, default: Any = None) -> Any:
    try:
        return params[group][name]["value"]
    except (KeyError, TypeError):
        return default


def _event_kind(label: str, context: str) -> tuple[str, str] | None:
    """(foot, kind) of a C3D event: `RIC`/`RHS`/`LTO` short labels, or Vicon's context + `Foot Strike`."""
    text = f"{context} {label}".strip().lower()
    side = "right" if context.lower().startswith("r") else "left" if context.lower().startswith("l") else None
    short = re.fullmatch(r"([rl])(ic|hs|fs|to|fo)", label.strip().lower())
    if short:
        side = "right" if short[1] == "r" else "left"
        return side, "heel_strike" if short[2] in ("ic", "hs", "fs") else "toe_off"
    if side is None:
        return None
    if "strike" in text or "contact" in text and "final" not in text:
        return side, "heel_strike"
    if "off" in text or "final" in text:
        return side, "toe_off"
    return None


def read_events(c3d: Any) -> list[tuple[str, str, float, str]]:
    """(foot, kind, time s, label) from the EVENT parameters, else from the header's event block."""
    params = c3d["parameters"]
    labels = _value(params, "EVENT", "LABELS")
    out = []
    if labels:
        times = np.asarray(_value(params, "EVENT", "TIMES"), float).reshape(2, -1) if _value(
            params, "EVENT", "TIMES") is not None else None
        contexts = _value(params, "EVENT", "CONTEXTS", [""] * len(labels))
        for i, label in enumerate(labels):
            kind = _event_kind(label, contexts[i] if i < len(contexts) else "")
            if kind and times is not None:
                out.append((*kind, float(times[0, i] * 60 + times[1, i]), f"{contexts[i]} {label}".strip()))
        return out
    header = c3d["header"]["events"]
    for t, label in zip(header["events_time"], header["events_label"]):
        kind = _event_kind(label, "")
        if label.strip() and kind:
            out.append((*kind, float(t), label.strip()))
    return out


def _contacts(fz: np.ndarray, rate: float) -> list[tuple[int, int]]:
    loaded = fz > CONTACT_THRESHOLD_N
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loaded.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= MIN_CONTACT_S * rate]


def _fill_markers(points: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Markers [T, K, 3] with short gaps filled; the kept labels, and notes on the ones left out."""
    kept, names, dropped = [], [], []
    t = np.arange(points.shape[0])
    for k, label in enumerate(labels):
        xyz = points[:, k, :]
        ok = np.isfinite(xyz).all(axis=1)
        if ok.all():
            kept.append(xyz)
            names.append(label)
            continue
        runs = np.flatnonzero(np.diff(np.concatenate([[0], (~ok).astype(np.int8), [0]])))
        longest = int((runs[1::2] - runs[::2]).max())
        inner = ok[0] and ok[-1]
        if ok.sum() >= 4 and longest <= MAX_MARKER_GAP and inner:
            kept.append(CubicSpline(t[ok], xyz[ok])(t))
            names.append(label)
        else:
            dropped.append(f"{label} {int((~ok).sum())}")
    return (np.stack(kept, axis=1) if kept else np.zeros((points.shape[0], 0, 3))), names, dropped


def _nearest_foot(markers: np.ndarray, names: list[str], cop: np.ndarray, a: int, b: int, analog_rate: float,
                  point_rate: float) -> tuple[str, float] | None:
    """(side, horizontal distance in m) of the foot markers (R*/L* with FT, FOOT, HEE, TOE, MT or ANK) nearest
    the COP at mid-contact; None without foot markers."""
    mid = (a + b) // 2
    frame = min(int(round(mid / analog_rate * point_rate)), markers.shape[0] - 1)
    sides: dict[str, float] = {}
    for k, name in enumerate(names):
        side = {"R": "right", "L": "left"}.get(name[:1].upper())
        if side and re.search(r"FT|FOOT|HEE|TOE|MT|ANK", name.upper()):
            d = float(np.linalg.norm((markers[frame, k] - cop[mid])[:2]))
            sides[side] = min(d, sides.get(side, np.inf))
    if not sides:
        return None
    side = min(sides, key=sides.get)
    return side, sides[side]


def _world_axes(travel: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows x, y, z of the world frame in lab coordinates: x along the walking direction (a lab axis), z up."""
    horizontal = np.array([travel[0], travel[1], 0.0])
    axis = int(np.argmax(np.abs(horizontal[:2])))
    forward = np.zeros(3)
    forward[axis] = np.sign(horizontal[axis]) or 1.0
    up = np.array([0.0, 0.0, 1.0])
    left = np.cross(up, forward)
    name = ("+" if forward[axis] > 0 else "-") + "xy"[axis]
    return np.stack([forward, left, up]), name


def read_c3d(path: str | Path, events_from_file: bool = True) -> Table:
    """Per-foot GRF (N) and COP (m), markers as keypoints (m) and the file's events, at the analog rate."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    ezc3d = _ezc3d()
    try:
        c3d = ezc3d.c3d(str(path), extract_forceplat_data=True)
    except Exception as exc:  # ezc3d raises plain RuntimeError/IOError for a broken file
        raise DataError(f"{path}: expected a C3D file, found one ezc3d cannot read ({exc})") from None
    params, data = c3d["parameters"], c3d["data"]
    point_rate = float(c3d["header"]["points"]["frame_rate"])
    analog_rate = float(c3d["header"]["analogs"]["frame_rate"]) or point_rate
    notes: list[str] = []
    plates = data.get("platform", [])
    if not plates:
        notes.append("no force plates")
    n = plates[0]["force"].shape[1] if plates else int(round(data["points"].shape[2] * analog_rate / point_rate))
    t_analog = np.arange(n) / analog_rate

    # markers -> [T, K, 3] in m (lab frame for now)
    labels = [str(v) for v in (_value(params, "POINT", "LABELS") or [])][: data["points"].shape[1]]
    unit = str((_value(params, "POINT", "UNITS") or ["mm"])[0]).strip()
    if unit not in POSITION_SCALE:
        raise DataError(f"{path}, POINT:UNITS: expected one of {list(POSITION_SCALE)}, found '{unit}'")
    points = np.moveaxis(data["points"][:3], 0, -1).transpose(1, 0, 2) * POSITION_SCALE[unit]  # [T, K, 3]
    markers, names, dropped = _fill_markers(points, labels)
    if dropped:
        notes.append(f"{len(dropped)} of {len(labels)} markers left out (frames missing at an end of the trial or in a "
                     f"gap over {MAX_MARKER_GAP} frames): {', '.join(dropped)}")

    # plates -> offset-free forces, contacts
    forces, cops, contacts = [], [], []
    for i, plate in enumerate(plates):
        f = np.asarray(plate["force"], float).T * FORCE_SCALE.get(str(plate.get("unit_force", "N")), 1.0)
        cop = np.asarray(plate["center_of_pressure"], float).T * POSITION_SCALE.get(
            str(plate.get("unit_position", "mm")), 1e-3)
        if np.median(f[:, 2]) + np.percentile(f[:, 2], 99) < 0 or np.percentile(f[:, 2], 1) < -CONTACT_THRESHOLD_N * 5:
            f = -f  # force on the plate, not on the foot
        unloaded = f[:, 2] <= f[:, 2].min() + UNLOADED_BAND_N
        offset = np.median(f[unloaded], axis=0)
        f = f - offset
        found = _contacts(f[:, 2], analog_rate)
        notes.append(f"plate {i + 1}: offset {offset[2]:.1f} N vertical removed, {len(found)} contact(s)")
        forces.append(f)
        cops.append(cop)
        contacts += [(i, a, b) for a, b in found]

    # world frame from the travel of the markers (or the COP across contacts)
    if markers.shape[1]:
        centre = markers.mean(axis=1)
        travel = centre[-1] - centre[0]
    elif len(contacts) >= 2:
        first, last = contacts[0], contacts[-1]
        travel = cops[last[0]][(last[1] + last[2]) // 2] - cops[first[0]][(first[1] + first[2]) // 2]
    else:
        travel = np.array([1.0, 0.0, 0.0])
    axes, axis_name = _world_axes(travel)
    notes.append(f"walking along lab {axis_name}: world x = lab {axis_name}, z = lab z (up)")

    events = read_events(c3d) if events_from_file else []
    columns: dict[str, np.ndarray] = {}
    grf = {foot: np.zeros((n, 3)) for foot in ("left", "right")}
    cop = {foot: np.full((n, 3), np.nan) for foot in ("left", "right")}
    used = set()
    for i, a, b in sorted(contacts, key=lambda c: c[1]):
        onset = a / analog_rate
        near = [(abs(t - onset), foot, label, t) for foot, kind, t, label in events if kind == "heel_strike"
                and abs(t - onset) <= EVENT_TOLERANCE_S]
        by_markers = _nearest_foot(markers, names, cops[i], a, b, analog_rate, point_rate)
        if near:
            _, foot, label, t = min(near)
            how = f"event {label} at {t:.2f} s"
            if by_markers is not None and by_markers[0] != foot:
                how += f"; the nearest foot markers are {by_markers[0]}'s ({by_markers[1] * 100:.0f} cm), check"
        elif by_markers is not None:
            foot = by_markers[0]
            how = f"nearest foot markers ({by_markers[1] * 100:.0f} cm from the COP)"
        else:
            raise DataError(f"{path}: plate {i + 1}, contact at {onset:.2f} s: expected a heel-strike event "
                            f"within {EVENT_TOLERANCE_S} s or foot markers (R*/L* FT, HEE, TOE, ANK, MT) "
                            "to tell the foot, found neither")
        grf[foot][a:b] += forces[i][a:b]
        cop[foot][a:b] = cops[i][a:b]
        used.add(foot)
        notes.append(f"plate {i + 1} contact {onset:.2f}-{b / analog_rate:.2f} s -> {foot} foot ({how})")
    for foot in sorted(used):
        g = grf[foot] @ axes.T  # world x (ap), y (ml, left), z (vertical)
        columns |= {f"grf_{foot}_ml": g[:, 1], f"grf_{foot}_ap": g[:, 0], f"grf_{foot}_vertical": g[:, 2]}
        c = cop[foot]
        ok = np.isfinite(c).all(axis=1)
        held = np.flatnonzero(ok)[np.clip(np.searchsorted(np.flatnonzero(ok), np.arange(n)), 0, ok.sum() - 1)]
        c = c[held] @ axes.T
        columns |= {f"cop_{foot}_{ax}": c[:, j] for j, ax in enumerate("xyz")}
    if markers.shape[1]:
        t_points = np.arange(markers.shape[0]) / point_rate
        inside = np.clip(t_analog, t_points[0], t_points[-1])
        up = CubicSpline(t_points, markers, axis=0)(inside) @ axes.T
        for k, name in enumerate(names):
            columns |= {f"kp_{name}_{ax}": up[:, k, j] for j, ax in enumerate("xyz")}
        notes.append(f"{len(names)} markers from {point_rate:g} Hz to {analog_rate:g} Hz (cubic spline)")
    file_events: dict[str, dict[str, list[int]]] = {}
    for foot, kind, t, _ in events:
        idx = int(round(t * analog_rate))
        if 0 <= idx < n:
            file_events.setdefault(foot, {"heel_strike": [], "toe_off": []})[kind].append(idx)
    if events:
        notes.append(f"{len(events)} event(s) from the file: " + ", ".join(f"{lab} {t:.2f} s" for _, _, t, lab in events))
    return Table(
        source=str(path),
        columns=columns,
        notes=notes,
        sample_rate_hz=analog_rate,
        events={f: {k: np.unique(np.asarray(v, np.int64)) for k, v in e.items()} for f, e in file_events.items()}
        or None,
        extras={"subject": {k: _value(params, "SUBJECT", k) for k in ("WEIGHT", "HEIGHT", "GENDER")}},
    )


__all__ = ["read_c3d", "read_events"]
