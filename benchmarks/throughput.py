"""DataModule throughput: windows per second served per task, with 0 and 2 workers, plus the time the
simulator takes to generate the `quick` preset. Prints figures; asserts nothing.

    python -m benchmarks.throughput [--preset quick] [--seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from datamodules.tasks import list_tasks


def windows_per_second(path: Path, task: str, workers: int, seconds: float, cache: bool) -> tuple[float, int]:
    from datamodules.datamodule import GaitDataModule

    dm = GaitDataModule(str(path), task=task, n_folds=3, batch_size=32, num_workers=workers, cache=cache)
    dm.setup()
    n, start = 0, time.perf_counter()
    loader = dm.train_dataloader()
    while time.perf_counter() - start < seconds:
        for batch in loader:
            n += batch["x"].shape[0]
            if time.perf_counter() - start >= seconds:
                break
    return n / (time.perf_counter() - start), len(dm.dataset("train"))


def main(argv: list[str] | None = None) -> int:
    from datamodules.simulator import generate_dataset

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per configuration")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.preset}.h5"
        start = time.perf_counter()
        generate_dataset(path, preset=args.preset, seed=0)
        gen = time.perf_counter() - start
        print(f"simulator preset '{args.preset}': generated in {gen:.1f} s, file {path.stat().st_size / 1e6:.1f} MB")
        print(f"{'task':<20}{'train windows':>14}{'cached, 0 workers':>20}{'lazy, 0 workers':>18}{'lazy, 2 workers':>18}")
        for task in list_tasks():
            cached, n = windows_per_second(path, task, 0, args.seconds, cache=True)
            lazy0, _ = windows_per_second(path, task, 0, args.seconds, cache=False)
            lazy2, _ = windows_per_second(path, task, 2, args.seconds, cache=False)
            print(f"{task:<20}{n:>14}{cached:>18.0f}/s{lazy0:>16.0f}/s{lazy2:>16.0f}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
