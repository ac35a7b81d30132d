"""`zoo data ...`: generate, validate, import and strip recordings and detect gait events.

Each subcommand lives next to the code it drives and exposes `register(subparsers)`; this module
only collects them, so adding a subcommand never touches the others. The imports are plain: a
missing or broken subcommand module fails loudly instead of vanishing from `zoo data --help`.
"""

from __future__ import annotations

import argparse

from datamodules import events, importers, strip, validate
from datamodules.simulator import cli as simulator_cli

SUBCOMMAND_MODULES = (
    simulator_cli,  # zoo data generate
    validate,       # zoo data validate
    importers,      # zoo data import
    events,         # zoo data events
    strip,          # zoo data strip
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo data", description="Create, check and import gait recordings.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
