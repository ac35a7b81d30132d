"""Delimited text (CSV, TSV, whitespace, vendor exports): preamble lines, header rows and delimiter
found from the file itself, or given (`delimiter`, `skip_rows`, `header_rows`).

Vendor software writes a few info lines before the header (Xsens MT Manager: one line, then a
tab-separated header with a `PacketCounter`); hand-written CSVs have one comma-separated header;
PhysioNet's gaitpdb text has no header at all. The layout is read from the first lines: the data
block is the run of numeric lines at the end of the sample that splits into the same number of cells,
for the delimiter that gives the most cells; the header is the line just above it when that line has
the same number of cells and is not numeric; everything above is preamble. Each detected choice is
reported in `Table.notes`, and every choice can be forced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.errors import DataError
from datamodules.readers.table import Table, missing_found

SNIFF_LINES = 200
DELIMITERS: dict[str, str | None] = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "whitespace": None}
DELIMITER_NAMES = {v: k for k, v in DELIMITERS.items()}


def parse_delimiter(text: str) -> str | None:
    """`--delimiter` values: a name (tab, comma, semicolon, pipe, whitespace), `\\t`, or one character."""
    if text in DELIMITERS:
        return DELIMITERS[text]
    if text in ("\\t", "\t"):
        return "\t"
    if len(text) == 1 and text not in "0123456789.-+eE":
        return text
    raise DataError(f"--delimiter: expected one of {list(DELIMITERS)} or one character, found '{text}'")


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split() if delimiter is None else line.split(delimiter)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _numeric(cells: list[str]) -> bool:
    stripped = [c.strip() for c in cells]
    return any(stripped) and all(not c or _is_number(c) for c in stripped)


@dataclass(frozen=True)
class Layout:
    """Where the parts of a delimited file are: lines are 0-based indices into the file's lines."""

    delimiter: str | None
    preamble: int  # lines before the header
    header_rows: int
    n_cells: int
    trailing_delimiter: bool  # every data line ends with the delimiter (an empty last cell to drop)
    data_start: int = -1  # first data line (blank lines may stand between header and data)

    def __post_init__(self) -> None:
        if self.data_start < 0:
            object.__setattr__(self, "data_start", self.preamble + self.header_rows)

    def header_lines(self, lines: list[str]) -> list[int]:
        """The header rows' line indices: the first `header_rows` non-blank lines after the preamble."""
        found = [i for i in range(self.preamble, self.data_start) if lines[i].strip()]
        return found[: self.header_rows]

    def describe(self) -> str:
        return (f"{DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-delimited, "
                f"{self.preamble} preamble line(s), {self.header_rows} header row(s), {self.n_cells} columns")


def _data_run(lines: list[str], delimiter: str | None) -> tuple[int, int, bool]:
    """(first line, cells per line, trailing delimiter) of the data block under `delimiter`: the most
    common cell count among numeric lines (the larger on a tie), starting at the first numeric line with
    that count, provided at least half of the lines from there on are such lines; (len, 0, False) if none."""
    rows = [(i, line.rstrip("\r\n")) for i, line in enumerate(lines) if line.strip()]
    if not rows:
        return len(lines), 0, False
    tail = [text for _, text in rows[-min(len(rows), 20):]]
    trailing = delimiter is not None and all(text.endswith(delimiter) for text in tail)
    counts = []
    for i, text in rows:
        if trailing and text.endswith(delimiter):
            text = text[: -len(delimiter)]
        cells = _split(text, delimiter)
        counts.append((i, len(cells) if _numeric(cells) else 0))
    numeric = [c for _, c in counts if c]
    if not numeric:
        return len(lines), 0, False
    k = max(dict.fromkeys(numeric), key=numeric.count)  # on a tie, the count seen first
    first = next(j for j, (_, c) in enumerate(counts) if c == k)
    after = counts[first:]
    if sum(c == k for _, c in after) < 0.5 * len(after):
        return len(lines), 0, False
    return counts[first][0], k, trailing


def sniff_layout(
    path: Path,
    lines: list[str],
    *,
    delimiter: str | None | type[Ellipsis] = ...,
    skip_rows: int | None = None,
    header_rows: int | None = None,
) -> Layout:
    """Find (or check) delimiter, preamble and header rows from the first lines of the file."""
    candidates = [delimiter] if delimiter is not ... else list(DELIMITERS.values())
    best: tuple[int, int, bool, str | None] | None = None
    for d in candidates:
        start, count, trailing = _data_run(lines, d)
        if count and (best is None or count > best[1]):
            best = (start, count, trailing, d)
    if best is None:
        shown = DELIMITER_NAMES.get(delimiter, repr(delimiter)) if delimiter is not ... else "any delimiter"
        raise DataError(f"{path}: expected lines of numbers separated by {shown} after the header, found none "
                        f"in the first {len(lines)} lines (pass --delimiter / --skip-rows, or sidecar keys "
                        "delimiter / skip_rows)")
    start, count, trailing, d = best
    if skip_rows is not None:
        rows = 1 if header_rows is None else header_rows
        return Layout(d, skip_rows, rows, count, trailing)
    if header_rows is None:
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        header_rows = 0
        if above >= 0:
            text = lines[above].rstrip("\r\n")
            if trailing and text.endswith(d):
                text = text[: -len(d)]
            cells = _split(text, d)
            if len(cells) == count and not _numeric(cells):
                header_rows = 1
    above = [i for i in range(start) if lines[i].strip()]
    if header_rows > len(above):
        raise DataError(f"{path}: expected {header_rows} header row(s) before the data, found the numbers "
                        f"starting on line {start + 1}")
    preamble = above[len(above) - header_rows] if header_rows else start
    return Layout(d, preamble, header_rows, count, trailing, start)


def _cells(line: str, layout: Layout) -> list[str]:
    text = line.rstrip("\r\n")
    if layout.trailing_delimiter and text.endswith(layout.delimiter):
        text = text[: -len(layout.delimiter)]
    return [c.strip() for c in _split(text, layout.delimiter)]


def _column_names(path: Path, lines: list[str], layout: Layout, names: Sequence[str] | None,
                  more_rows_possible: bool = False) -> list[str] | int:
    """The column names; with `more_rows_possible`, 1 (not names) when the names repeat and the line above
    the header splits into as many non-numeric cells (a second header row, as in gaitmap's files)."""
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != layout.n_cells:
            raise DataError(f"{path}: column_names: expected {layout.n_cells} names (one per column), "
                            f"found {len(names)}")
        return names
    if layout.header_rows == 0:
        return [f"col{i + 1}" for i in range(layout.n_cells)]
    header_lines = layout.header_lines(lines)
    header = [_cells(lines[i], layout) for i in header_lines]
    for r, cells in enumerate(header):
        if len(cells) > layout.n_cells and not any(cells[layout.n_cells:]):
            header[r] = cells = cells[: layout.n_cells]
        if len(cells) != layout.n_cells:
            raise DataError(f"{path}, line {header_lines[r] + 1}: expected {layout.n_cells} header cells "
                            f"(as many as data columns), found {len(cells)}")
    joined = ["/".join(cells) for cells in zip(*header)]
    duplicates = sorted({n for n in joined if joined.count(n) > 1})
    if duplicates and more_rows_possible and layout.header_rows >= 1 and layout.preamble >= 1:
        above = _cells(lines[layout.preamble - 1], layout)
        if len(above) == layout.n_cells and not _numeric(above):
            return 1
    if duplicates or "" in joined:
        raise DataError(f"{path}, header: expected unique, non-empty column names, found "
                        f"{'duplicates ' + str(duplicates) if duplicates else 'an empty name'} "
                        f"(line {header_lines[0] + 1})")
    return joined


def _parse(path: Path, lines: list[str], layout: Layout, names: list[str]) -> tuple[np.ndarray, list[int]]:
    """Numbers of the data block (empty cells -> NaN) and the 0-based file line of each data row: numpy's
    C parser first, the cell-by-cell parser (which names the bad line) when that fails."""
    line_index = [i for i in range(layout.data_start, len(lines)) if lines[i].strip()]
    if not layout.trailing_delimiter:
        try:
            data = np.loadtxt([lines[i] for i in line_index], delimiter=layout.delimiter, ndmin=2,
                              dtype=np.float64, comments=None)
            if data.shape == (len(line_index), len(names)):
                return data, line_index
        except ValueError:
            pass
    rows, line_index = [], []
    for i in range(layout.data_start, len(lines)):
        if not lines[i].strip():
            continue
        cells = _cells(lines[i], layout)
        if len(cells) != len(names):
            shown = DELIMITER_NAMES.get(layout.delimiter, repr(layout.delimiter))
            raise DataError(f"{path}, line {i + 1}: expected {len(names)} {shown}-separated values (as many as "
                            f"header columns), found {len(cells)}")
        values = []
        for name, cell in zip(names, cells):
            try:
                values.append(float(cell) if cell else math.nan)
            except ValueError:
                raise DataError(f"{path}, line {i + 1}, column '{name}': expected a number "
                                f"(or an empty cell for a missing value), found '{cell}'") from None
        rows.append(values)
        line_index.append(i)
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names)), line_index


def read_delimited(
    path: str | Path,
    *,
    delimiter: str | None | type[Ellipsis] = ...,
    skip_rows: int | None = None,
    header_rows: int | None = None,
    column_names: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> Table:
    """Columns of a delimited numeric text file by name.

    delimiter:   `...` (detect), None (runs of whitespace) or a string.
    skip_rows:   preamble lines before the header (default: detected).
    header_rows: header rows above the data, joined with '/' into one name per column (gaitmap's
                 `right_sensor` over `gyr_y` -> `right_sensor/gyr_y`); 0 for none. Default: detected (0 or 1).
    column_names: names for a file without header (default col1, col2, ...), or to replace the header's.
    columns:     keep only these (all must exist).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        lines = path.read_text(errors="strict").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: expected a text file, found bytes that are not UTF-8 at offset {exc.start}"
                        ) from None
    layout = sniff_layout(path, lines[:SNIFF_LINES] if skip_rows is None else lines[:SNIFF_LINES + skip_rows],
                          delimiter=delimiter, skip_rows=skip_rows, header_rows=header_rows)
    names = _column_names(path, lines, layout, column_names, more_rows_possible=header_rows is None)
    while isinstance(names, int):  # detected header's names repeat: the line above is a header row too
        layout = Layout(layout.delimiter, layout.preamble - 1, layout.header_rows + 1, layout.n_cells,
                        layout.trailing_delimiter, layout.data_start)
        names = _column_names(path, lines, layout, column_names, more_rows_possible=header_rows is None)
    if columns is not None:
        absent = [c for c in columns if c not in names]
        if absent:
            raise DataError(f"{path}, line {layout.data_start}: expected column(s) {absent}: "
                            f"{missing_found(absent, names)}")
    data, line_index = _parse(path, lines, layout, names)
    notes = []
    unusual = ((delimiter is ... and layout.delimiter != ",") or (skip_rows is None and layout.preamble > 0)
               or (header_rows is None and layout.header_rows != 1))
    if unusual:  # say what was detected when it is not a plain one-header CSV
        notes.append(f"read as {layout.describe()}")
    keep = list(columns) if columns is not None else names
    return Table(
        source=str(path),
        columns={n: data[:, names.index(n)] for n in keep},
        notes=notes,
        line_of_row=lambda row: line_index[row] + 1,
        extras={"layout": layout},
    )


__all__ = ["DELIMITERS", "Layout", "parse_delimiter", "read_delimited", "sniff_layout"]
