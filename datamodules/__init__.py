"""Data for the gait zoo: recording format, synthetic simulator, preprocessing, the shared DataModule."""

from datamodules.errors import DataError, RecordingError
from datamodules.recording import Recording, RecordingWriter, Signals, SubjectInfo, TrialData, write_recording

__all__ = [
    "DataError",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Signals",
    "SubjectInfo",
    "TrialData",
    "write_recording",
]
