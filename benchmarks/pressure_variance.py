"""How much of `imu2pressure`'s error no IMU model can remove in a subject-wise split.

    python -m benchmarks.pressure_variance [--data sim:quick] [--folds 3]

Per fold, on the held-out subjects' stance-normalised pressure sequences (N/cm^2, RMSE over every cell and
step, like the leaderboard's `rmse`):
- `train mean`: the training mean sequence (the `mean` baseline's prediction);
- `mass-scaled mean`: the training mean per kg times the subject's body mass (the one subject input the
  task gives);
- `own subject mean`: each test subject's own mean sequence (an oracle that knows the person's footprint;
  what remains is the stance-to-stance variation an ideal model could still explain from the kinematics).
The gap between the first and the last is subject-specific (foot shape, arch, where the foot sits on the
insole), which leg kinematics barely reveal; a model can only beat the `mean` baseline by the part of the
remaining error that speed, timing and body mass explain.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def fold_figures(path: str, fold: int, folds: int) -> dict[str, float]:
    from datamodules.datamodule import GaitDataModule

    dm = GaitDataModule(path, task="imu2pressure", fold=fold, n_folds=folds)
    dm.setup()

    def collect(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ds = dm.dataset(split)
        samples = [ds[i] for i in range(len(ds))]
        return (np.stack([s["y"] for s in samples]).astype(np.float64),
                np.array([int(s["subject"]) for s in samples]), np.array([float(s["mass_kg"]) for s in samples]))

    y_train, _, mass_train = collect("train")
    y_test, subject, mass_test = collect("test")

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(((pred - y_test) ** 2).mean()))

    per_kg = (y_train / mass_train[:, None, None, None]).mean(0)
    own = np.stack([y_test[subject == s].mean(0) for s in subject])
    return {"train mean": rmse(y_train.mean(0)[None]), "mass-scaled mean": rmse(per_kg[None] * mass_test[:, None, None, None]),
            "own subject mean": rmse(own), "test stances": len(y_test), "test subjects": len(set(subject))}


def main(argv: list[str] | None = None) -> int:
    from datamodules.errors import DataError
    from datamodules.sources import resolve_source

    parser = argparse.ArgumentParser(prog="python -m benchmarks.pressure_variance", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="sim:quick", help="a recording file or sim:PRESET[:SEED]")
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        path = str(resolve_source(args.data))
        rows = [fold_figures(path, f, args.folds) for f in range(args.folds)]
    except DataError as exc:  # a missing or broken file, an unknown preset, a file without pressure
        print(f"pressure_variance: error: {exc}", file=sys.stderr)
        return 2
    names = ("train mean", "mass-scaled mean", "own subject mean")
    print(f"imu2pressure on {args.data}: RMSE (N/cm^2) of reference predictors on held-out subjects, "
          f"{args.folds} subject-wise folds")
    print()
    print("| fold | test subjects | stances | " + " | ".join(names) + " |")
    print("|---" * (3 + len(names)) + "|")
    for f, r in enumerate(rows):
        print(f"| {f} | {r['test subjects']} | {r['test stances']} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |")
    print("| mean | | | " + " | ".join(f"{np.mean([r[n] for r in rows]):.3f}" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
