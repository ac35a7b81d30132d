"""Data for the gait zoo: recording format, synthetic simulator, preprocessing, tasks, the shared DataModule.

`GaitDataModule` loads on first use (PEP 562), so reading or writing recordings does not import torch.
"""

from __future__ import annotations

from typing import Any

from datamodules.errors import DataError, RecordingError
from datamodules.recording import Recording, RecordingWriter, Signals, SubjectInfo, TrialData, write_recording

__all__ = [
    "DataError",
    "GaitDataModule",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Signals",
    "SubjectInfo",
    "TrialData",
    "write_recording",
]


def __getattr__(name: str) -> Any:
    if name == "GaitDataModule":
        from datamodules.datamodule import GaitDataModule

        return GaitDataModule
    raise AttributeError(f"module 'datamodules' has no attribute '{name}'")
