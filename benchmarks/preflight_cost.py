"""What `zoo bench` spends checking a suite before its first cell (`zoo.bench.preflight`). Prints figures.

    python -m benchmarks.preflight_cost [SUITE.yaml ...] [--data]

Per suite: cells, distinct (task, model) configurations, the time of the first `validate_config` (imports
and the LightningCLI parser's first build included), the mean of the others (each builds its parser anew),
and with `--data` the header check of every distinct data configuration (generates simulator data first;
that generation is not counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from zoo.bench.suite import load_suite

DEFAULT_SUITES = ("experiments/suites/quick.yaml", "experiments/suites/extended.yaml",
                  "experiments/suites/ssl_data_efficiency_quick.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", default=list(DEFAULT_SUITES))
    parser.add_argument("--data", action="store_true", help="also time the data checks (generates sim data)")
    args = parser.parse_args(argv)
    from zoo.bench.cell import cell_config
    from zoo.lightning_cli import validate_config

    print(f"load average {os.getloadavg()[0]:.2f}")
    for path in args.suites:
        suite = load_suite(path)
        cells = suite.cells()
        seen, times = set(), []
        for cell in cells:
            key = (cell.task, cell.model.label, cell.is_pretraining)
            if key in seen:
                continue
            seen.add(key)
            config = cell_config(cell, Path("."), 1, resolve_pretrained=False)
            start = time.perf_counter()
            validate_config(config, where=cell.key)
            times.append(time.perf_counter() - start)
        rest = times[1:] or times
        line = (f"{path}: {len(cells)} cells, {len(times)} distinct (task, model) configurations; validate_config "
                f"first {times[0]:.2f} s, then {statistics.mean(rest):.3f} s each (median "
                f"{statistics.median(rest):.3f} s), total {sum(times):.2f} s")
        if args.data:
            from datamodules.sources import resolve_source
            from zoo.bench.preflight import check_data

            for source in sorted({c.dataset for c in cells}):
                resolve_source(source)
            start = time.perf_counter()
            problems = check_data(cells)
            line += f"; data headers {time.perf_counter() - start:.2f} s ({len(problems)} problems)"
        print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
