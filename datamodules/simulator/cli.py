"""`zoo data generate --out FILE.h5 [--preset quick] [--subjects N] [--trials K] [--activities walk,run]
[--seed S] [--noise X] [--grid 32x16] [--duration SECONDS]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from datamodules.errors import DataError
from datamodules.simulator.generate import resolve_config, write_dataset
from datamodules.simulator.presets import PRESETS


def _grid(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise DataError(f"option --grid: expected ROWSxCOLUMNS such as 32x16, found {text!r}")
    return int(parts[0]), int(parts[1])


def _integer(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"option {option}: expected an integer, found {text!r}") from None


def _number(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"option {option}: expected a number, found {text!r}") from None


def run_generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".h5", ".hdf5"):
        raise DataError(f"option --out: expected a file name ending in .h5 or .hdf5, found {args.out!r}")
    seed = _integer("--seed", args.seed)
    if seed < 0:
        raise DataError(f"option --seed: expected an integer >= 0, found {args.seed!r}")
    config = resolve_config(
        args.preset,
        n_subjects=None if args.subjects is None else _integer("--subjects", args.subjects),
        trials_per_activity=None if args.trials is None else _integer("--trials", args.trials),
        activities=None if args.activities is None else [a.strip() for a in args.activities.split(",") if a.strip()],
        noise=None if args.noise is None else _number("--noise", args.noise),
        grid=None if args.grid is None else _grid(args.grid),
        duration_s=None if args.duration is None else _number("--duration", args.duration),
    )
    start = time.perf_counter()
    write_dataset(out, config, seed, preset=args.preset)
    elapsed = time.perf_counter() - start
    trials = config.n_subjects * sum(config.trials[a] for a in config.activities)
    seconds = config.n_subjects * config.seconds_per_subject()
    print(f"wrote {out}: {config.n_subjects} subjects, {trials} trials ({', '.join(config.activities)}), "
          f"{seconds / 60:.1f} min of data at {config.sample_rate_hz:g} Hz, grid {config.grid[0]}x{config.grid[1]}, "
          f"noise {config.noise:g}, seed {seed}; {out.stat().st_size / 1e6:.1f} MB in {elapsed:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write the synthetic gait dataset (simulated, physically consistent, deterministic by seed)",
        description="Simulate subjects walking, running, stepping in place, backward and sideways, squatting, "
                    "lunging and standing, and write IMU, joint angles, GRF, plantar pressure, keypoints and COM "
                    "with noise-free targets under clean/.",
    )
    parser.add_argument("--out", required=True, help="output file (.h5)")
    parser.add_argument("--preset", default="quick", choices=tuple(PRESETS),
                        help="dataset size: " + "; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    parser.add_argument("--subjects", help="number of subjects (overrides the preset)")
    parser.add_argument("--trials", help="trials per activity (overrides the preset)")
    parser.add_argument("--activities", help="comma-separated activities (default: all)")
    parser.add_argument("--seed", default="0", help="random seed; the same seed gives identical arrays")
    parser.add_argument("--noise", help="measurement-noise scale, 0 = noise-free (default 1)")
    parser.add_argument("--grid", help="insole grid ROWSxCOLUMNS (default 32x16)")
    parser.add_argument("--duration", help="seconds per trial for every activity (overrides the preset)")
    parser.set_defaults(func=run_generate)
