"""Where sample windows are read from: lazily from HDF5, or from arrays cached in memory.

Windowing code asks a store for `(trial, dataset name, time range)` and never cares which it is, so the
same code serves a 50 MB synthetic file (cached: fast epochs) and a file larger than RAM (lazy: one
HDF5 handle per DataLoader worker, opened on first use in that process).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datamodules.recording import Recording, trial_path

CACHE_AUTO_LIMIT_BYTES = 1 << 30  # files below 1 GiB are cached in memory when cache="auto"


def resolve_cache(cache: bool | str, path: str | os.PathLike) -> bool:
    """`cache="auto"` keeps small files in memory and streams large ones."""
    if isinstance(cache, bool):
        return cache
    if cache != "auto":
        raise ValueError(f"cache: expected true, false or 'auto', found {cache!r}")
    return Path(path).stat().st_size < CACHE_AUTO_LIMIT_BYTES


class ArrayStore:
    """Reads `[start:stop]` of a trial's dataset; picklable for DataLoader workers."""

    def __init__(self, path: str | os.PathLike, cache: bool) -> None:
        self.path = Path(path)
        self.cache = cache
        self.recording = Recording(self.path)
        self._memory: dict[str, np.ndarray] = {}

    def read(self, subject_id: str, trial_id: str, name: str, start: int | None = None,
             stop: int | None = None, clean: bool = False) -> np.ndarray:
        key = f"{trial_path(subject_id, trial_id)}/{'clean/' if clean else ''}{name}"
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
