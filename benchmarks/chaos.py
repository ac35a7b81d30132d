"""Chaos benchmark: SIGKILL a suite's runner at random moments, resume, and compare with an uninterrupted run.

    python -m benchmarks.chaos [--kills 20] [--kills-per-round 5] [--seed 0] [--jobs 1]

A tiny suite (simulator `tiny` preset, tcn + ridge + the noise floor, 2 folds: 6 cells) runs once without
interruption as the reference. Then, round after round in a fresh output folder, the runner alone (not its
process group: what a cluster's OOM killer or `kill -9 PID` does) is killed with SIGKILL at a random moment,
restarted at once, killed again... `--kills-per-round` times, then left to finish. Each round's files are
compared with the reference. Printed per round and in total:

- lost: cells of the suite without a result, or whose result differs from the reference's;
- duplicated: cells trained twice (a `best-v1.ckpt` beside `best.ckpt`) or rows repeated in results.csv;
- orphans: workers still alive 15 s (`ORPHAN_GRACE_S`) after their runner was killed (they would train on beside
  the rerun; a worker the runner had just spawned ends itself once its interpreter is up, seconds under load);
- waits: times a worker found its cell being trained by another process (two trainings of a cell at once);
- files identical: results.csv, leaderboard.csv and leaderboard.md byte-identical to the reference.

Linux only (reads /proc to find a runner's workers). Kill delays are drawn uniformly in
[`--min-delay`, `--max-delay`] x the reference run's wall time, from `--seed`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPORT_FILES = ("results.csv", "leaderboard.csv", "leaderboard.md")
WAIT_MESSAGE = "is being trained by PID"


def tiny_suite(folder: Path, dataset: str, name: str = "chaos") -> Path:
    """A two-fold imu2grf suite of tcn and ridge, a few batches each: the chaos run's and the bench tests'."""
    suite = {
        "name": name, "dataset": dataset, "folds": 2, "seeds": [0], "oracle": True,
        "data": {"batch_size": 16, "stats_samples": 100},
        "trainer": {"max_epochs": 2, "limit_train_batches": 3},
        "wandb": False,
        "tasks": {"imu2grf": {"models": ["tcn", {"name": "ridge", "trainer": {"max_epochs": 1}}]}},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def runner_command(suite: Path, out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "zoo.cli", "bench", str(suite), "--out", str(out), "--jobs", str(jobs)]


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def is_worker(pid: int) -> bool:
    """A runner's cell worker (a `multiprocessing` spawn child), not its resource tracker."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


ORPHAN_GRACE_S = 15.0  # a worker still alive this long after its runner's death counts as an orphan


@dataclass
class Round:
    kills: int = 0
    mid_cell: int = 0  # kills that found a worker at work (the others hit start-up or the reports)
    orphans: int = 0
    waits: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    identical: bool = False
    seconds: float = 0.0


def run_to_end(suite: Path, out: Path, jobs: int, log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "a") as err:
        return subprocess.run(runner_command(suite, out, jobs), stdout=subprocess.DEVNULL, stderr=err,
                              env=env).returncode


def attempt(suite: Path, out: Path, delay_s: float, *, jobs: int = 1, env: dict[str, str] | None = None,
            log: Path | None = None) -> tuple[bool, int, int]:
    """Start the runner and SIGKILL it (alone, as `kill -9 PID` does) after `delay_s`, unless it finished first.
    Returns (killed, its cell workers at the kill, those still alive `ORPHAN_GRACE_S` after it). A worker dies
    with its runner at once when it is at work; one the runner had just spawned ends itself as soon as its
    interpreter has started (`die_with_parent` finds the parent gone), which under load can take seconds."""
    log = log or out.parent / f"{out.name}.stderr.log"
    with open(log, "a") as err:
        proc = subprocess.Popen(runner_command(suite, out, jobs), stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        proc.wait(timeout=delay_s)
        return False, 0, 0
    except subprocess.TimeoutExpired:
        pass
    workers = [c for c in children_of(proc.pid) if is_worker(c)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + ORPHAN_GRACE_S
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    return True, len(workers), sum(alive(w) for w in workers)


def kill_and_resume(suite: Path, out: Path, reference: Path, *, kills: int, delays: tuple[float, float],
                    rng: random.Random, jobs: int = 1, env: dict[str, str] | None = None) -> Round:
    """One round: up to `kills` SIGKILLs of the runner at random moments, each followed at once by a restart;
    then a run to the end and the comparison with `reference` (an uninterrupted run's folder)."""
    result, start = Round(), time.time()
    log = out.parent / f"{out.name}.stderr.log"
    while result.kills < kills:
        killed, workers, orphans = attempt(suite, out, rng.uniform(*delays), jobs=jobs, env=env, log=log)
        if not killed:
            break  # the suite finished before this kill: the round has its kills so far
        result.kills += 1
        result.mid_cell += workers > 0
        result.orphans += orphans
    run_to_end(suite, out, jobs, log, env)
    result.seconds = time.time() - start
    result.waits = log.read_text().count(WAIT_MESSAGE) if log.exists() else 0
    result.lost, result.duplicated = compare(out, reference)
    result.identical = identical(out, reference)
    return result


def identical(out: Path, reference: Path) -> bool:
    """results.csv, leaderboard.csv and leaderboard.md byte for byte the same."""
    return all((out / f).is_file() and (out / f).read_bytes() == (reference / f).read_bytes() for f in REPORT_FILES)


def compare(out: Path, reference: Path) -> tuple[list[str], list[str]]:
    """(lost, duplicated) cells of `out` against the uninterrupted run in `reference`."""
    def rows(folder: Path) -> list[tuple[str, ...]]:
        path = folder / "results.csv"
        if not path.is_file():
            return []
        with open(path, newline="") as fh:
            return [tuple(r.values()) for r in csv.DictReader(fh)]

    def cells(rows_: list[tuple[str, ...]]) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
        by_cell: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for r in rows_:
            by_cell.setdefault(r[:5], []).append(r)  # task, model, fold, seed, label_fraction
        return by_cell

    ours, theirs = cells(rows(out)), cells(rows(reference))
    lost = [" ".join(k) for k, v in theirs.items() if sorted(ours.get(k, [])) != sorted(v)]
    duplicated = [" ".join(k) for k, v in ours.items() if len(v) != len(set(v))]
    duplicated += [str(p.relative_to(out)) for p in out.glob("cells/*/checkpoints/*-v[0-9]*.ckpt")]
    return lost, duplicated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in total")
    parser.add_argument("--kills-per-round", type=int, default=5, help="kills in a row before a round resumes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--min-delay", type=float, default=0.15, help="x the reference wall time")
    parser.add_argument("--max-delay", type=float, default=0.6, help="x the reference wall time")
    parser.add_argument("--dataset", default="sim:tiny")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("benchmarks.chaos reads /proc: Linux only", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "ZOO_DATA_DIR": str(root / "data"), "WANDB_MODE": "disabled"}
        suite = tiny_suite(root, args.dataset)
        reference = root / "reference"
        t0 = time.time()
        code = run_to_end(suite, reference, args.jobs, root / "reference.stderr.log", env)
        t_ref = time.time() - t0
        if code != 0:
            print((root / "reference.stderr.log").read_text(), file=sys.stderr)
            return code
        print(f"reference run: {t_ref:.1f} s; kill delays uniform in [{args.min_delay * t_ref:.1f}, "
              f"{args.max_delay * t_ref:.1f}] s; seed {args.seed}; load average {os.getloadavg()[0]:.2f}")
        delays = (args.min_delay * t_ref, args.max_delay * t_ref)
        total = Round()
        r = 0
        while total.kills < args.kills:
            r += 1
            want = min(args.kills_per_round, args.kills - total.kills)
            one = kill_and_resume(suite, root / f"round{r}", reference, kills=want, delays=delays, rng=rng,
                                  jobs=args.jobs, env=env)
            print(f"round {r}: {one.kills} kills ({one.mid_cell} with a worker at work), {len(one.lost)} lost, "
                  f"{len(one.duplicated)} duplicated, "
                  f"{one.orphans} orphaned workers, {one.waits} waits for a cell in training, files identical: "
                  f"{one.identical} ({one.seconds:.0f} s)", flush=True)
            for what, items in (("lost", one.lost), ("duplicated", one.duplicated)):
                for item in items:
                    print(f"  {what}: {item}")
            total.kills += one.kills
            total.mid_cell += one.mid_cell
            total.orphans += one.orphans
            total.waits += one.waits
            total.lost += one.lost
            total.duplicated += one.duplicated
            total.identical = (r == 1 or total.identical) and one.identical
        print(f"total: {total.kills} kills ({total.mid_cell} with a worker at work) in {r} rounds: "
              f"{len(total.lost)} lost and {len(total.duplicated)} "
              f"duplicated cells, {total.orphans} orphaned workers, {total.waits} cells trained twice at once "
              f"(waits), every round's files identical to the reference: {total.identical}; "
              f"load average {os.getloadavg()[0]:.2f}")
    return 0 if not (total.lost or total.duplicated or total.orphans or total.waits) and total.identical else 1


if __name__ == "__main__":
    sys.exit(main())
