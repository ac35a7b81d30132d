"""`make bench`: the default quick suite on the embedded synthetic data, then the leaderboard.

Resumable: a second `make bench` reuses finished cells in runs/quick/. Two worker processes use this
machine's two cores; set ZOO_BENCH_JOBS to change that.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from zoo.bench.runner import print_leaderboard, run_suite
from zoo.bench.suite import load_suite

SUITE = Path(__file__).resolve().parents[1] / "experiments" / "suites" / "quick.yaml"


def main() -> int:
    start = time.time()
    out = Path(os.environ.get("ZOO_BENCH_OUT", "runs/quick"))
    jobs = int(os.environ.get("ZOO_BENCH_JOBS", "2"))
    suite = load_suite(SUITE)
    records = run_suite(suite, out, jobs=jobs, command="make bench")
    print_leaderboard(out)
    failed = [r for r in records if r.get("status") != "ok"]
    print(f"make bench: {len(records) - len(failed)} cells ok, {len(failed)} failed, "
          f"wall time {time.time() - start:.0f} s (suite only; setup not included). Results in {out}/.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
