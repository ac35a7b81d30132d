"""Where sample windows are read from: lazily from HDF5, or from arrays cached in memory.

Windowing code asks a store for `(trial, dataset name, time range)` and never cares which it is, so the
same code serves a 50 MB synthetic file (cached: fast epochs) and a file larger than RAM (lazy: one
HDF5 handle per DataLoader worker, opened on first use in that process).

`cache="auto"` decides from what caching would cost: the uncompressed size (shape x itemsize, read from
the file header) of every dataset the task reads, measured or clean, summed over the trials it uses. The
arrays are cached when that sum is at most `CACHE_RAM_FRACTION` of the memory available right now
(`MemAvailable` of /proc/meminfo, else `os.sysconf` available pages); otherwise, or when the available
memory cannot be read, they are streamed. The compressed file size says nothing here: pressure frames are
mostly zeros and compress many times over, so a small file can expand to more than RAM.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datamodules.recording import Recording, trial_path

# Cache when the arrays take at most this share of available memory: DataLoader workers, processed-sample
# memos, the model and its optimiser need the rest.
CACHE_RAM_FRACTION = 0.25


def available_memory_bytes() -> int | None:
    """Memory the system can give without swapping: MemAvailable, else free pages; None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def auto_cache(nbytes: int, available: int | None = None) -> bool:
    """Whether `nbytes` of uncompressed arrays fit the cache budget of `available` bytes (default: now)."""
    if available is None:
        available = available_memory_bytes()
    if available is None:
        return False  # cannot tell: streaming is always safe
    return nbytes <= CACHE_RAM_FRACTION * available


def resolve_cache(cache: bool | str, nbytes: int | Callable[[], int]) -> bool:
    """`True`/`False` as given; `"auto"` caches when the uncompressed arrays (`nbytes`, or a function
    computing it) fit the budget of `auto_cache`."""
    if isinstance(cache, bool):
        return cache
    if cache != "auto":
        raise ValueError(f"cache: expected true, false or 'auto', found {cache!r}")
    return auto_cache(nbytes() if callable(nbytes) else int(nbytes))


class ArrayStore:
    """Reads `[start:stop]` of a trial's dataset; picklable for DataLoader workers."""

    def __init__(self, path: str | os.PathLike, cache: bool) -> None:
        self.path = Path(path)
        self.cache = cache
        self.recording = Recording(self.path)
        self._memory: dict[str, np.ndarray] = {}

    @staticmethod
    def key(subject_id: str, trial_id: str, name: str, clean: bool = False) -> str:
        return f"{trial_path(subject_id, trial_id)}/{'clean/' if clean else ''}{name}"

    def nbytes(self, subject_id: str, trial_id: str, name: str, clean: bool = False) -> int:
        """Uncompressed size of one dataset (what caching it costs), from its header only."""
        ds = self.recording.file[self.key(subject_id, trial_id, name, clean)]
        return int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize

    def read(self, subject_id: str, trial_id: str, name: str, start: int | None = None,
             stop: int | None = None, clean: bool = False) -> np.ndarray:
        key = self.key(subject_id, trial_id, name, clean)
        if self.cache:
            arr = self._memory.get(key)
            if arr is None:
                arr = self._memory[key] = self.recording.file[key][()]
            return arr[start:stop]
        return self.recording.file[key][start:stop]

    def __getstate__(self) -> dict:
        # Workers inherit cached arrays (copy-on-write under fork) but open their own HDF5 handle.
        state = self.__dict__.copy()
        state["recording"] = Recording.__new__(Recording)
        state["recording"].__setstate__(self.recording.__getstate__())
        return state
