"""OpenSim `.mot` / `.sto` storage files: a `name=value` header closed by `endheader`, then a header
line of column names and whitespace- or tab-separated rows; the first column is `time` in seconds.

The rate comes from the time column as (n - 1) / (last - first): OpenSim writes times rounded to a few
decimals (600 Hz as 0.0017, 0.0033, ...), so the median step would be several percent off. Times that
stray more than half a sample from that uniform grid are an error naming the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datamodules.errors import DataError
from datamodules.readers.delimited import read_delimited
from datamodules.readers.table import Table


def read_opensim(path: str | Path, columns: list[str] | None = None) -> Table:
    """Columns by name (without `time`), the rate from `time`, and the header keys in `extras['header']`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    header: dict[str, str] = {}
    with path.open(errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            text = line.strip()
            if text.lower() == "endheader":
                header_end = line_no
                break
            key, sep, value = text.partition("=")
            if sep:
                header[key.strip()] = value.strip()
        else:
            raise DataError(f"{path}: expected an OpenSim header closed by a line 'endheader', found none")
    table = read_delimited(path, skip_rows=header_end, header_rows=1,
                           delimiter="\t" if "\t" in _line(path, header_end) else None,
                           columns=None if columns is None else ["time", *[c for c in columns if c != "time"]])
    table.require(["time"], "OpenSim column")
    time = table.columns.pop("time")
    n = len(time)
    if n < 2:
        raise DataError(f"{path}: expected at least 2 rows of data, found {n}")
    rate = (n - 1) / float(time[-1] - time[0])
    stray = np.abs(time - time[0] - np.arange(n) / rate) * rate
    if not rate > 0 or stray.max() > 0.5:
        row = int(np.argmax(stray))
        raise DataError(f"{table.where(row)}, column 'time': expected uniform sampling ({rate:.4g} Hz from the "
                        f"first and last time), found {time[row]:g} s, {stray[row]:.2f} samples off")
    declared = header.get("nRows")
    if declared is not None and declared.isdigit() and int(declared) != n:
        raise DataError(f"{path}, header nRows: expected {n} (the rows of data), found {declared}")
    table.sample_rate_hz = rate
    table.notes = [f"OpenSim {path.suffix}: {n} rows, {rate:.6g} Hz from the time column "
                   f"({time[0]:g}-{time[-1]:g} s)"]
    table.extras["header"] = header
    table.extras["time_s"] = time
    return table


def _line(path: Path, index: int) -> str:
    with path.open(errors="replace") as f:
        for i, line in enumerate(f):
            if i == index:
                return line
    return ""


__all__ = ["read_opensim"]
