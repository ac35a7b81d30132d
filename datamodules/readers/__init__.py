"""Readers for the files labs have, one module per format, all returning a `Table`.

    delimited text (.csv .tsv .txt .dat, vendor exports)   readers.delimited
    packet counters with gaps (any text table)              readers.counters
    MATLAB structs (.mat, with a sidecar mapping)           readers.matlab
    C3D motion capture (.c3d, needs ezc3d)                  readers.c3d
    OpenSim storage (.mot, .sto)                            readers.opensim

`read_tables(path, options)` picks the reader by suffix, applies the counter rule to text tables, and
returns one `(name, Table)` per trial the file holds (a `.mat` file may hold many; a counter gap too long
to fill splits a text file into parts).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from datamodules.errors import DataError
from datamodules.readers.counters import MAX_FILL_SAMPLES, fill_counter_gaps, find_counter
from datamodules.readers.delimited import parse_delimiter, read_delimited
from datamodules.readers.table import Table, missing_found

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
SUFFIXES = (*TEXT_SUFFIXES, ".mot", ".sto", ".mat", ".c3d")
READER_OPTIONS = ("delimiter", "skip_rows", "header_rows", "column_names", "counter", "max_fill", "mat")


def load_mapping(value: Any, base: Path, where: str) -> Mapping[str, Any]:
    """The `mat` sidecar value: a mapping, or a YAML file (relative to the sidecar) holding one (under `mat:`
    or at its top level)."""
    if isinstance(value, str):
        path = base / value
        if not path.is_file():
            raise DataError(f"{where}, key 'mat': expected a mapping or an existing YAML file, found no {path}")
        value = yaml.safe_load(path.read_text()) or {}
        value = value.get("mat", value) if isinstance(value, dict) else value
    if not isinstance(value, dict):
        raise DataError(f"{where}, key 'mat': expected a mapping of struct paths, found {value!r}")
    return value


def apply_counter(table: Table, counter: Any, max_fill: Any, where: str) -> Table:
    """Counter rule: `counter` names the column, `None`/'auto' finds a known name (PacketCounter, ...),
    `False` turns it off."""
    if counter is False or counter == "none":
        return table
    name = find_counter(list(table.columns)) if counter in (None, "auto") else str(counter)
    if name is None:
        return table
    if name not in table.columns:
        raise DataError(f"{where}, key 'counter': expected a column of {table.source}, "
                        f"{missing_found([name], table.columns)}")
    limit = MAX_FILL_SAMPLES if max_fill is None else max_fill
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise DataError(f"{where}, key 'max_fill': expected a number of samples >= 0, found {limit!r}")
    filled, _ = fill_counter_gaps(table, name, limit)
    return filled


def timeline_start(table: Table, row: int) -> int:
    """Position of `row` on the file's own timeline: the packet counter's (counter - first counter) when a
    counter was read, else the row itself. Event indices of `zoo data events` count on this timeline."""
    position = table.extras.get("counter_position")
    return int(position[row]) if position is not None else row


def split_segments(name: str, table: Table) -> list[tuple[str, Table, int]]:
    """`(name, table, first sample on the timeline)` per continuous segment: `name_part1`, `name_part2`, ...
    after a split."""
    if not table.segments:
        return [(name, table, 0)]
    parts = []
    for k, (a, b) in enumerate(table.segments, start=1):
        part = Table(source=table.source, columns={c: v[a:b] for c, v in table.columns.items()},
                     notes=[*table.notes, f"part {k} of {len(table.segments)}: samples {timeline_start(table, a)}-"
                            f"{timeline_start(table, b - 1)} of the counter timeline"],
                     line_of_row=(lambda row, a=a: table.line_of_row(row + a)) if table.line_of_row else None,
                     sample_rate_hz=table.sample_rate_hz, extras=table.extras)
        parts.append((f"{name}_part{k}", part, timeline_start(table, a)))
    return parts


def read_tables(path: str | Path, options: Mapping[str, Any] | None = None, *, where: str = "",
                base: Path | None = None) -> list[tuple[str, Table]]:
    """Every trial `path` holds as `(name, Table)`; `options` are the sidecar's reader keys."""
    path = Path(path)
    opt = dict(options or {})
    where = where or str(path)
    suffix = path.suffix.lower()
    if suffix == ".c3d":
        from datamodules.readers.c3d import read_c3d

        return [(path.stem, read_c3d(path))]
    if suffix in (".mot", ".sto"):
        from datamodules.readers.opensim import read_opensim

        return [(path.stem, read_opensim(path))]
    if suffix == ".mat":
        from datamodules.readers.matlab import read_mat_trials

        if "mat" not in opt:
            raise DataError(f"{path}: a .mat file needs the sidecar key 'mat' (struct paths -> channels; "
                            "docs/real_recordings.md), found none in {where}")
        return read_mat_trials(path, load_mapping(opt["mat"], base or path.parent, where), where)
    if suffix not in TEXT_SUFFIXES:
        raise DataError(f"{path}: expected one of {list(SUFFIXES)}, found '{suffix or 'no suffix'}'")
    delimiter = opt.get("delimiter", ...)
    if isinstance(delimiter, str):
        delimiter = parse_delimiter(delimiter)
    table = read_delimited(path, delimiter=delimiter, skip_rows=opt.get("skip_rows"),
                           header_rows=opt.get("header_rows"), column_names=opt.get("column_names"))
    table = apply_counter(table, opt.get("counter"), opt.get("max_fill"), where)
    return [(path.stem, table)]


def events_in_part(events: Mapping[str, Mapping[str, np.ndarray]], start: int, n: int
                   ) -> dict[str, dict[str, np.ndarray]]:
    """Events of the counter timeline that fall in rows [start, start + n), shifted to the part."""
    out = {}
    for foot, kinds in events.items():
        out[foot] = {k: np.asarray(v, np.int64)[(np.asarray(v) >= start) & (np.asarray(v) < start + n)] - start
                     for k, v in kinds.items()}
    return out


__all__ = ["READER_OPTIONS", "SUFFIXES", "Table", "apply_counter", "events_in_part", "load_mapping",
           "read_tables", "split_segments", "timeline_start"]
