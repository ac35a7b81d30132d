"""`zoo bench`: run a suite, resume it, shard it across machines, merge the shards.

    zoo bench experiments/suites/quick.yaml --out runs/quick [--jobs 2]
    zoo bench experiments/suites/paper_tan2024.yaml --dry-run
    zoo bench SUITE.yaml --out runs/s0 --shard 0/4        # on machine 0 of 4 (array job)
    zoo bench merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all [--suite SUITE.yaml]
    zoo bench SUITE.yaml --out runs/x --launcher slurm [--shards 8] [--slurm partition=gpu ...]  # job array + merge

Exit status: 0 when every cell of the run (or, for `merge`, of the suite) finished ok; 1 when a cell failed
(the failed cells are listed with their error) or, for `merge`, has no result yet; 2 when the suite, an option
or the output folder is wrong (one line naming it; no cell ran).

One runner per output folder (a lock names the PID of the one at work); its workers die with it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from zoo.bench.io import read_json, write_atomic, write_json_atomic
from zoo.bench.lock import FolderLock
from zoo.bench.suite import Cell, Suite, SuiteError, load_suite, shard

MANIFEST = "run.json"  # which suite (and shard) a folder's results belong to; `merge` checks it

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
        write_atomic(target, path.read_bytes())  # a kill mid-copy must not leave half a suite for `merge`


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


def suite_identity(suite: Suite) -> str:
    """Fingerprint of the whole suite: its name and every cell's key and fingerprint (so logging options are
    not part of it, and shards of one suite share it whatever W&B did)."""
    cells = {c.key: c.fingerprint for c in suite.cells()}
    return hashlib.sha1(json.dumps({"name": suite.name, "cells": cells}, sort_keys=True).encode()).hexdigest()[:12]


def reproduce_command(suite_file: str, suite: Suite) -> str:
    """The command that computes these results again: the same for a run and for the merge of its shards."""
    try:
        declared = load_suite(suite.path).dataset
    except SuiteError:
        declared = suite.dataset
    return f"zoo bench {suite_file}" + (f" --dataset {suite.dataset}" if suite.dataset != declared else "")


def write_manifest(out_dir: Path, suite: Suite, suite_file: str, shard_spec: str | None, cells: list[Cell]) -> None:
    write_json_atomic(out_dir / MANIFEST, {
        "suite": suite.name, "suite_id": suite_identity(suite), "suite_file": suite_file,
        "dataset": suite.dataset, "shard": shard_spec, "cells": {c.key: c.fingerprint for c in cells},
    })


def run_suite(suite: Suite, out_dir: Path, *, shard_spec: str | None = None, jobs: int = 1,
              retry_failed: bool = False, command: str = "", stream=None, suite_file: str | None = None) -> list[dict]:
    """Run every unfinished cell of (this shard of) the suite, then write the reports.

    `command` is what leaderboard.md says produced it (default: the `zoo bench` command that reproduces it, the
    same for a run and for the merge of its shards). Holds the output folder's lock throughout: a second runner
    on the same folder stops at once, naming this one's PID."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(out_dir, "zoo bench"):
        return _run_locked(suite, out_dir, shard_spec=shard_spec, jobs=jobs, retry_failed=retry_failed,
                           stream=stream or sys.stdout, suite_file=suite_file or str(suite.path), command=command)


def _run_locked(suite: Suite, out_dir: Path, *, shard_spec: str | None, jobs: int, retry_failed: bool, stream,
                suite_file: str, command: str) -> list[dict]:
    from datamodules.sources import resolve_source
    from zoo.bench.pool import run_isolated
    from zoo.bench.preflight import preflight
    from zoo.bench.results import load_records, write_reports
    from zoo.lightning_cli import available_cores

    cells = with_dependencies(shard(suite.cells(), shard_spec))
    todo = [c for c in cells if not finished(out_dir, c, retry_failed)]
    _keep_suite_copy(suite.path, out_dir)
    write_manifest(out_dir, suite, suite_file, shard_spec, cells)
    print(f"suite {suite.name}: {len(cells)} cells{f' in shard {shard_spec}' if shard_spec else ''}, "
          f"{len(cells) - len(todo)} already finished, {len(todo)} to run, {jobs} worker(s) -> {out_dir}",
          file=stream, flush=True)
    threads = suite.threads or max(1, available_cores() // max(1, jobs))  # each worker's share of the cores
    if todo:
        for source in sorted({c.dataset for c in todo}):  # generate simulator data once, before workers race
            resolve_source(source)
        preflight(suite, todo, out_dir, threads)
    start = time.time()
    # Two stages: pretraining cells (first in the queue) together with every cell that needs no checkpoint,
    # then the cells that fine-tune from a pretraining checkpoint. No worker idles while one pretrains.
    independent = [c for c in todo if c.depends_on is None]
    stages = [sorted(independent, key=queue_rank), [c for c in todo if c.depends_on is not None]]
    records_iter = (r for stage in stages if stage
                    for r in run_isolated(stage, out_dir, jobs=jobs, threads=threads, timeout_s=suite.cell_timeout_s))
    for i, record in enumerate(records_iter, start=1):
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
                  command=command or reproduce_command(suite_file, suite))
    from zoo.bench.plots import write_plots

    try:
        write_plots(out_dir, records)
    except Exception as exc:  # plots are a view of the results, never a reason to lose them
        print(f"warning: plots failed: {type(exc).__name__}: {exc}", file=stream)
    mirror_to_wandb(suite, out_dir, records, summary=not shard_spec, stream=stream)
    return records


def mirror_to_wandb(suite: Suite, out_dir: Path, records: list[dict], *, summary: bool, stream) -> None:
    """W&B mirrors the local files: cells that finished while W&B was off get their run now (from their files,
    without training), and the whole suite gets its summary run."""
    from zoo.bench.tracking import mirror_record, mirrored_run_id, wandb_mode

    if wandb_mode(suite.wandb) == "disabled":
        return
    late = [r for r in records if mirrored_run_id(out_dir, r) is None]
    for record in late:
        mirror_record(suite.wandb, out_dir, record)
    if late:
        print(f"W&B: mirrored {len(late)} cell(s) that had finished without W&B", file=stream)
    if summary:
        from zoo.bench.results import leaderboard_rows
        from zoo.bench.summary_run import log_summary_run

        log_summary_run(suite, out_dir, leaderboard_rows(records))
    if late or summary:
        import wandb

        wandb.teardown()  # W&B's service writes run files after `finish()`: have them complete before we return


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
    """`--dry-run`: list the cells and estimate their cost here and on a GPU, and their memory."""
    stream = stream or sys.stdout
    from zoo.bench.estimate import GPU_STEP_FLOOR_S, GPU_TFLOPS, estimate_cells

    cells = shard(suite.cells(), shard_spec)
    rows, total = estimate_cells(suite, cells)
    width = max(len(c.key) for c in cells)
    print(f"{'cell':<{width}}  {'steps':>8}  {'here':>9}  {'A100':>9}  {'memory':>9}", file=stream)
    for cell, row in zip(cells, rows):
        print(f"{cell.key:<{width}}  {row.steps:>8}  ~{_duration(row.seconds):>8}  ~{_duration(row.gpu_seconds):>8}"
              f"  {_size(row.memory_bytes):>9}", file=stream)
    gpu_hours = sum(r.gpu_seconds for r in rows) / 3600
    print(f"{len(cells)} cells; estimated {_duration(total)} on this machine with 1 worker "
          f"(measured step times x planned steps; data generation not included)", file=stream)
    print(f"estimated {gpu_hours:.2f} GPU-hours on an A100 (counted FLOPs per step at an assumed {GPU_TFLOPS:g} "
          f"TFLOP/s effective, at least {GPU_STEP_FLOOR_S * 1000:g} ms per step; see zoo/bench/estimate.py); "
          f"largest cell needs {_size(max(r.memory_bytes for r in rows))} "
          f"for training (weights, gradients, Adam state, saved activations, batch; CUDA context not included)",
          file=stream)
    return total


def _size(n_bytes: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"


def merge(dirs: list[Path], out_dir: Path, suite_path: Path | None, stream=None, wandb: bool = True) -> int:
    """Join shard folders of one suite: every cell folder is copied once, with its W&B run; reports are
    rebuilt from the union and the merged suite gets one W&B summary run.

    Refuses (SuiteError, nothing written) folders of different suites and results of a configuration that is
    not the suite's; returns 1 when a cell of the suite failed or has no result yet, else 0."""
    stream = stream or sys.stdout
    for d in dirs:
        if not (d / "cells").is_dir():
            raise SuiteError(f"{d}: not a suite output folder (no cells/ inside)")
    manifests = [read_json(d / MANIFEST) for d in dirs]
    first = next((m for m in manifests if isinstance(m, dict)), None)
    dataset = first.get("dataset") if first else None  # what the shards ran on (`--dataset` included)
    suite = load_suite(suite_path or dirs[0] / "suite.yaml", dataset=dataset)
    if not wandb:
        suite.wandb = None
    identity = suite_identity(suite)
    for d, m in zip(dirs, manifests):
        if isinstance(m, dict) and m.get("suite_id") != identity:
            raise SuiteError(f"{d}: holds results of suite '{m.get('suite')}' (id {m.get('suite_id')}, dataset "
                             f"{m.get('dataset')}), not of suite '{suite.name}' (id {identity}, dataset {suite.dataset}); "
                             "merge only shards of one suite run with the same settings")
    expected = {c.key: c for c in suite.cells()}
    out_dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(out_dir, "zoo bench merge"):
        picked: dict[str, Path] = {}
        for d in dirs:
            for cell in sorted(p for p in (d / "cells").iterdir() if p.is_dir()):
                record = read_json(cell / "metrics.json")
                if not record:
                    continue  # unfinished in that shard
                want = expected.get(cell.name)
                if want is None:
                    raise SuiteError(f"{cell}: not a cell of suite '{suite.name}' ({suite.path}); merge only shards "
                                     "of one suite")
                if record.get("fingerprint") != want.fingerprint:
                    raise SuiteError(f"{cell}: a result of another configuration of this cell (fingerprint "
                                     f"{record.get('fingerprint')}; suite '{suite.name}' expects {want.fingerprint}); "
                                     "rerun that shard with the suite's settings or leave the folder out")
                if cell.name in picked and picked[cell.name].parent.parent != d:
                    if cell.name.startswith("pretrain__"):
                        continue  # every shard that needed it ran the same pretraining; keep the first copy
                    raise SuiteError(f"cell {cell.name} is in both {picked[cell.name].parent.parent} and {d}; "
                                     "shards must not overlap")
                picked[cell.name] = cell
        for name, cell in picked.items():
            target = out_dir / "cells" / name
            if cell.resolve() != target.resolve():
                shutil.copytree(cell, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock", ".*.tmp"))
        copied = _copy_wandb_runs(picked, out_dir)
        _keep_suite_copy(suite.path, out_dir)
        cells = suite.cells()
        write_manifest(out_dir, suite, (first or {}).get("suite_file", str(suite.path)), None, cells)
        from zoo.bench.plots import write_plots
        from zoo.bench.results import load_records, write_reports

        records = load_records(out_dir, cells)

        write_reports(out_dir, records, suite_name=suite.name, dataset=suite.dataset,
                      command=reproduce_command((first or {}).get("suite_file", str(suite.path)), suite))
        write_plots(out_dir, records)
        mirror_to_wandb(suite, out_dir, records, summary=True, stream=stream)
    done = {r["key"] for r in records}
    missing = [c.key for c in cells if c.key not in done]
    failed = [r for r in records if r.get("status") != "ok"]
    print(f"merged {len(picked)} cells from {len(dirs)} folders into {out_dir}"
          + (f" with {copied} W&B run(s)" if copied else ""), file=stream)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        print(f"zoo bench merge: {len(missing)} of the suite's {len(cells)} cells have no result yet: {shown}",
              file=sys.stderr)
    report_failed(failed)
    return 1 if missing or failed else 0


def _copy_wandb_runs(picked: dict[str, Path], out_dir: Path) -> int:
    """The W&B run folder of each merged cell (offline runs: `wandb sync` them from the merged folder)."""
    from zoo.bench.tracking import mirrored_run_id, run_folders

    copied = 0
    for name, cell in picked.items():
        shard_dir = cell.parent.parent
        record = read_json(cell / "metrics.json") or {}
        run_id = mirrored_run_id(shard_dir, {**record, "key": name})
        for folder in run_folders(shard_dir, run_id) if run_id else []:
            target = out_dir / "wandb" / "wandb" / folder.name
            if folder.resolve() != target.resolve():
                shutil.copytree(folder, target, dirs_exist_ok=True)
                copied += 1
    return copied


def report_failed(failed: list[dict], stream=None) -> None:
    """The failed cells, one line each with their error (on stderr)."""
    if not failed:
        return
    stream = stream or sys.stderr
    print(f"{len(failed)} cell(s) failed:", file=stream)
    for r in failed:
        error = " ".join(str(r.get("error", "unknown error")).split())
        print(f"  {r['key']}: {error[:2000]}", file=stream)


def print_leaderboard(out_dir: Path, stream=None) -> None:
    stream = stream or sys.stdout
    print((out_dir / "leaderboard.md").read_text(), file=stream)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found '{text}'")
    return int(text)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "merge":
        parser = argparse.ArgumentParser(prog="zoo bench merge", description="Merge shard output folders.")
        parser.add_argument("dirs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--suite", type=Path, default=None, help="suite file (default: the first folder's copy)")
        parser.add_argument("--no-wandb", action="store_true", help="no W&B summary run for the merged suite")
        args = parser.parse_args(argv[1:])
        return merge(args.dirs, args.out, args.suite, wandb=not args.no_wandb)
    parser = argparse.ArgumentParser(prog="zoo bench", description="Run a benchmark suite (see `zoo bench -h`).")
    parser.add_argument("suite", type=Path, help="suite YAML file")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default runs/<suite name>)")
    parser.add_argument("--shard", default=None, help="run only shard i/n of the cells, e.g. 0/4")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and estimate their cost")
    parser.add_argument("--jobs", type=_positive, default=1, help="cells run in parallel (worker processes)")
    parser.add_argument("--dataset", default=None, help="override the suite's dataset (file or sim:PRESET[:SEED])")
    parser.add_argument("--no-wandb", action="store_true", help="do not mirror to Weights & Biases")
    parser.add_argument("--retry-failed", action="store_true", help="rerun cells that failed before")
    parser.add_argument("--robustness", action="store_true",
                        help="re-test every trained cell under input perturbations (robustness.md)")
    parser.add_argument("--launcher", choices=("slurm", "local"), default=None,
                        help="run the shards as one submitit job array (slurm; local: subprocesses of this "
                             "machine), then merge them into --out")
    parser.add_argument("--shards", type=_positive, default=None,
                        help="array size for --launcher (default: the suite's slurm.shards, else 1 per 4 cells)")
    parser.add_argument("--slurm", action="append", default=[], metavar="KEY=VALUE",
                        help="a resource for --launcher, beating the suite's slurm: block (partition=gpu, "
                             "gpus_per_task=1, cpus_per_task=8, mem=32G, time=04:00:00, ...)")
    parser.add_argument("--no-wait", action="store_true",
                        help="with --launcher: submit, print the merge command and return")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite, dataset=args.dataset)
    suite.robustness = suite.robustness or args.robustness
    shard(suite.cells(), args.shard)  # a malformed --shard fails here, before anything is written
    if args.no_wandb:
        suite.wandb = None
    if args.dry_run:
        estimate(suite, args.shard)
        return 0
    out_dir = args.out or Path("runs") / suite.name
    if args.launcher:
        if args.shard:
            raise SuiteError("--shard and --launcher: the launcher makes the shards itself (use --shards N)")
        from zoo.bench.launcher import launch

        return launch(suite, args.suite, out_dir, launcher=args.launcher, shards=args.shards,
                      jobs=args.jobs if args.jobs != 1 else None, flags=args.slurm, dataset=args.dataset,
                      no_wandb=args.no_wandb, retry_failed=args.retry_failed, wait=not args.no_wait)
    records = run_suite(suite, out_dir, shard_spec=args.shard, jobs=args.jobs, retry_failed=args.retry_failed,
                        suite_file=str(args.suite))
    print_leaderboard(out_dir)
    failed = [r for r in records if r.get("status") != "ok"]
    print(f"results: {out_dir}/results.csv, leaderboard.csv, leaderboard.md, plots/; "
          f"{len(records) - len(failed)} cells ok, {len(failed)} failed")
    report_failed(failed)
    return 1 if failed else 0
