"""`zoo data ...`: generate, validate, import recordings and detect gait events.

Each subcommand lives next to the code it drives and exposes `register(subparsers)`; this module
only collects them, so adding a subcommand never touches the others.
"""

from __future__ import annotations

import argparse
import importlib

SUBCOMMAND_MODULES = (
    "datamodules.simulator.cli",   # zoo data generate
    "datamodules.validate",        # zoo data validate
    "datamodules.importers",       # zoo data import
    "datamodules.events",          # zoo data events
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo data", description="Create, check and import gait recordings.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
