"""User-facing zoo errors: the CLI prints them as one line that names the choices."""

from __future__ import annotations


class ZooError(ValueError):
    """A wrong model name, task, preset or shape; the message says what the choices are."""


class NonFiniteLossError(ZooError):
    """A NaN or infinite loss; the message names the batch's subjects and trials and, when the data hold the
    NaN, where in the file."""
