"""`zoo bench`: run a suite, resume it, shard it across machines, merge the shards.

    zoo bench experiments/suites/quick.yaml --out runs/quick [--jobs 2]
    zoo bench experiments/suites/paper_tan2024.yaml --dry-run
    zoo bench SUITE.yaml --out runs/s0 --shard 0/4        # on machine 0 of 4 (array job)
    zoo bench merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all --suite SUITE.yaml
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from zoo.bench.io import read_json
from zoo.bench.suite import Cell, Suite, SuiteError, load_suite, shard

DONE = ("ok", "failed")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _keep_suite_copy(path: Path, out_dir: Path) -> None:
    """The output folder carries the suite it ran, so `merge` and reruns need nothing else."""
    target = out_dir / "suite.yaml"
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)


def with_dependencies(cells: list[Cell]) -> list[Cell]:
    """A shard also runs the pretraining cells its cells fine-tune from (deterministic, so every shard
    computes the same checkpoint; `merge` keeps one copy)."""
    have = {c.key for c in cells}
    extra: dict[str, Cell] = {}
    for c in cells:
        if c.depends_on is not None and c.depends_on.key not in have:
            extra.setdefault(c.depends_on.key, c.depends_on)
    return [*extra.values(), *cells]


def queue_rank(cell: Cell) -> int:
    """Longest jobs first, so no worker is left alone with a long cell at the end of the suite: pretraining,
    then trained networks, then closed-form baselines and the noise floor (seconds each). The sort is stable:
    within a rank the suite's order holds."""
    from zoo.bench.suite import ORACLE
    from zoo.models.closed_form import ClosedFormModel
    from zoo.registry import get_model_class

    if cell.is_pretraining:
        return 0
    if cell.model.name == ORACLE or issubclass(get_model_class(cell.model.name), ClosedFormModel):
        return 2
    return 1


def finished(out_dir: Path, cell: Cell, retry_failed: bool) -> bool:
    record = read_json(out_dir / "cells" / cell.key / "metrics.json")
    if not record or record.get("fingerprint") != cell.fingerprint:
        return False
    return record.get("status") == "ok" or (record.get("status") == "failed" and not retry_failed)


def summarise(record: dict) -> str:
    from datamodules.tasks import get_task

    if record.get("status") != "ok":
        return f"FAILED  {record.get('error', '')[:120]}"
    primary = get_task(record["task"]).primary_metric
    value = record["metrics"].get(primary, float("nan"))
    return f"ok      {primary}={value:.4g}"


def run_suite(suite: Suite, out_dir: Path, *, shard_spec: str | None = None, jobs: int = 1,
              retry_failed: bool = False, command: str = "", stream=None) -> list[dict]:
    """Run every unfinished cell of (this shard of) the suite, then write the reports."""
    stream = stream or sys.stdout
    from datamodules.sources import resolve_source
    from zoo.bench.pool import run_isolated
    from zoo.bench.results import load_records, write_reports

    cells = with_dependencies(shard(suite.cells(), shard_spec))
    todo = [c for c in cells if not finished(out_dir, c, retry_failed)]
    out_dir.mkdir(parents=True, exist_ok=True)
    _keep_suite_copy(suite.path, out_dir)
    print(f"suite {suite.name}: {len(cells)} cells{f' in shard {shard_spec}' if shard_spec else ''}, "
          f"{len(cells) - len(todo)} already finished, {len(todo)} to run, {jobs} worker(s) -> {out_dir}",
          file=stream, flush=True)
    if todo:
        resolve_source(suite.dataset)  # generate a simulator dataset once, before workers race for it
    threads = suite.threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    start = time.time()
    durations: list[float] = []
    # Two stages: pretraining cells (first in the queue) together with every cell that needs no checkpoint,
    # then the cells that fine-tune from a pretraining checkpoint. No worker idles while one pretrains.
    independent = [c for c in todo if c.depends_on is None]
    stages = [sorted(independent, key=queue_rank), [c for c in todo if c.depends_on is not None]]
    records_iter = (r for stage in stages if stage
                    for r in run_isolated(stage, out_dir, jobs=jobs, threads=threads, timeout_s=suite.cell_timeout_s))
    for i, record in enumerate(records_iter, start=1):
        durations.append(float(record.get("wall_time_s", 0.0)))
        elapsed = time.time() - start
        remaining = len(todo) - i
        eta = elapsed / i * remaining
        print(f"[{i:>{len(str(len(todo)))}}/{len(todo)}] {record['task']:<18} {record['label']:<26} "
              f"fold {record['fold']} seed {record['seed']}"
              + (f" lf {record['label_fraction']:g}" if record.get("label_fraction", 1.0) != 1.0 else "")
              + f"  {summarise(record):<36} {record.get('wall_time_s', 0):6.1f} s  "
              f"elapsed {_duration(elapsed)}  eta {_duration(eta)}", file=stream, flush=True)
    if suite.robustness:
        run_robustness_stage(suite, cells, out_dir, threads, stream)
    records = load_records(out_dir, cells)
    write_reports(out_dir, records, suite_name=suite.name, dataset=suite.dataset,
                  command=command or f"zoo bench {suite.path}")
    from zoo.bench.plots import write_plots
    from zoo.bench.tracking import wandb_mode

    try:
        write_plots(out_dir, records)
    except Exception as exc:  # plots are a view of the results, never a reason to lose them
        print(f"warning: plots failed: {type(exc).__name__}: {exc}", file=stream)
    if wandb_mode(suite.wandb) != "disabled" and not shard_spec:
        from zoo.bench.summary_run import log_summary_run

        log_summary_run(suite, out_dir)
    return records


def run_robustness_stage(suite: Suite, cells: list[Cell], out_dir: Path, threads: int, stream) -> None:
    """Re-test every trained cell under input perturbations (one cell at a time, in this process), then write
    robustness.csv / .md and the plots. Cells already re-tested are skipped."""
    from zoo.bench import robustness

    todo = robustness.pending(cells, out_dir)
    start = time.time()
    for i, cell in enumerate(todo, start=1):
        record = robustness.run_robustness(cell, out_dir, threads)
        state = "ok" if record["status"] == "ok" else f"FAILED  {record.get('error', '')[:100]}"
        print(f"[robustness {i}/{len(todo)}] {cell.key}  {state}  {record['wall_time_s']:.1f} s  "
              f"elapsed {_duration(time.time() - start)}", file=stream, flush=True)
    robustness.write_reports(out_dir, robustness.load(out_dir, cells), suite.name)


def estimate(suite: Suite, shard_spec: str | None, stream=None) -> float:
    """`--dry-run`: list the cells and estimate their cost on this machine."""
    stream = stream or sys.stdout
    from zoo.bench.estimate import estimate_cells

    cells = shard(suite.cells(), shard_spec)
    rows, total = estimate_cells(suite, cells)
    width = max(len(c.key) for c in cells)
    for cell, (steps, seconds) in zip(cells, rows):
        print(f"{cell.key:<{width}}  {steps:>8} steps  ~{_duration(seconds):>8}", file=stream)
    print(f"{len(cells)} cells; estimated {_duration(total)} on this machine with 1 worker "
          f"(measured step times x planned steps; data generation not included)", file=stream)
    return total


def merge(dirs: list[Path], out_dir: Path, suite_path: Path | None, stream=None) -> int:
    """Join shard folders: every cell folder is copied once; reports are rebuilt from the union."""
    stream = stream or sys.stdout
    from zoo.bench.results import load_records, write_reports

    out_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Path] = {}
    for d in dirs:
        if not (d / "cells").is_dir():
            raise SuiteError(f"{d}: not a suite output folder (no cells/ inside)")
        for cell in sorted((d / "cells").iterdir()):
            record = read_json(cell / "metrics.json")
            if not record:
                continue  # unfinished in that shard
            if cell.name in seen and seen[cell.name] != d:
                if cell.name.startswith("pretrain__"):
                    continue  # every shard that needed it ran the same pretraining; keep the first copy
                raise SuiteError(f"cell {cell.name} is in both {seen[cell.name]} and {d}; shards must not overlap")
            seen[cell.name] = d
            target = out_dir / "cells" / cell.name
            if cell.resolve() != target.resolve():
                shutil.copytree(cell, target, dirs_exist_ok=True)
    suite = load_suite(suite_path or dirs[0] / "suite.yaml")
    _keep_suite_copy(suite.path, out_dir)
    cells = suite.cells()
    records = load_records(out_dir, cells)
    missing = len(cells) - len(records)
    write_reports(out_dir, records, suite_name=suite.name, dataset=suite.dataset,
                  command=f"zoo bench merge {' '.join(map(str, dirs))} --out {out_dir}")
    from zoo.bench.plots import write_plots

    write_plots(out_dir, records)
    print(f"merged {len(seen)} cells from {len(dirs)} folders into {out_dir}"
          + (f"; {missing} cells of the suite have no result yet" if missing else ""), file=stream)
    return 0


def print_leaderboard(out_dir: Path, stream=None) -> None:
    stream = stream or sys.stdout
    print((out_dir / "leaderboard.md").read_text(), file=stream)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "merge":
        parser = argparse.ArgumentParser(prog="zoo bench merge", description="Merge shard output folders.")
        parser.add_argument("dirs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--suite", type=Path, default=None, help="suite file (default: the first folder's copy)")
        args = parser.parse_args(argv[1:])
        return merge(args.dirs, args.out, args.suite)
    parser = argparse.ArgumentParser(prog="zoo bench", description="Run a benchmark suite (see `zoo bench -h`).")
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/<suite name>)")
    parser.add_argument("--shard", default=None, help="run only shard i/n of the cells, e.g. 0/4")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and estimate their cost")
    parser.add_argument("--jobs", type=int, default=1, help="cells run in parallel (worker processes)")
    parser.add_argument("--dataset", default=None, help="override the suite's dataset (file or sim:PRESET[:SEED])")
    parser.add_argument("--no-wandb", action="store_true", help="do not mirror to Weights & Biases")
    parser.add_argument("--retry-failed", action="store_true", help="rerun cells that failed before")
    parser.add_argument("--robustness", action="store_true",
                        help="re-test every trained cell under input perturbations (robustness.md)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite, dataset=args.dataset)
    suite.robustness = suite.robustness or args.robustness
    if args.no_wandb:
        suite.wandb = None
    if args.dry_run:
        estimate(suite, args.shard)
        return 0
    out_dir = args.out or Path("runs") / suite.name
    records = run_suite(suite, out_dir, shard_spec=args.shard, jobs=args.jobs, retry_failed=args.retry_failed,
                        command="zoo bench " + " ".join(argv))
    print_leaderboard(out_dir)
    failed = [r for r in records if r.get("status") != "ok"]
    print(f"results: {out_dir}/results.csv, leaderboard.csv, leaderboard.md, plots/; "
          f"{len(records) - len(failed)} cells ok, {len(failed)} failed")
    return 0
