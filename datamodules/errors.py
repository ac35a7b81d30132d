"""User-facing data errors: the CLI prints their message as one line, without a traceback."""

from __future__ import annotations


class DataError(ValueError):
    """Bad data or data options; the message names the file, the field, what was expected and found."""


class RecordingError(DataError):
    """A recording file is missing something or holds something of the wrong kind."""
