"""`zoo bench SUITE --launcher slurm|local`: the suite's shards as one submitit job array, then their merge.

    zoo bench experiments/suites/paper_tan2024.yaml --out runs/tan --launcher slurm --shards 8
    zoo bench SUITE --out runs/x --launcher slurm --slurm partition=gpu --slurm time=4:00:00 --no-wait

Shard i of n runs `zoo bench SUITE --shard i/n --out OUT/shards/i-of-n` in array task i (the runner's own
sharding, resumable like any run); when every task has ended, the shards are merged into OUT with
`zoo bench merge`, so OUT holds the same files as one `zoo bench` run (byte-identical when the suite pins
`threads:`). `--launcher local` runs the same array through submitit's local executor (each shard a
subprocess of this machine): the code path of a cluster run, testable anywhere.

Resources come from the suite's `slurm:` block, then `--slurm KEY=VALUE` flags (which win):

    slurm:
      partition: gpu          # sbatch --partition
      account: my-lab         # --account (optional); qos, constraint likewise
      gpus_per_task: 1        # GPUs for each shard (one task per shard)
      cpus_per_task: 8
      mem: 32G                # per shard; G or M suffix, or a number of GB
      time: "04:00:00"        # per shard: HH:MM:SS, MM:SS or minutes
      shards: 8               # array size (default: --shards, else one shard per 4 cells)
      jobs: 1                 # cells in parallel inside a shard (zoo bench --jobs)
      array_parallelism: 8    # at most this many shards run at once
      setup: ["module load cuda/12.1"]   # shell lines run before each shard
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Any

from zoo.bench.suite import Suite, SuiteError

LAUNCHERS = ("slurm", "local")
SLURM_KEYS = {"partition", "account", "qos", "constraint", "gpus_per_task", "cpus_per_task", "mem", "time",
              "shards", "jobs", "array_parallelism", "setup"}
CELLS_PER_SHARD = 4  # default array size: one shard per this many cells


def parse_minutes(value: Any, where: str) -> int:
    """`04:00:00`, `1-00:00:00` (days), `90:00` (MM:SS) or a number of minutes -> whole minutes (>= 1)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return max(1, math.ceil(value))
    text = str(value).strip()
    found = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not found or isinstance(value, bool):
        raise SuiteError(f"{where}: expected minutes or HH:MM:SS (e.g. 04:00:00), found {value!r}")
    days, a, b, c = (int(g) if g else 0 for g in found.groups())
    if found.group(4) is not None:
        seconds = a * 3600 + b * 60 + c
    elif found.group(3) is not None:
        seconds = a * 60 + b
    else:
        seconds = a * 60
    minutes = days * 1440 + math.ceil(seconds / 60)
    if minutes < 1:
        raise SuiteError(f"{where}: expected a time limit of at least one minute, found {value!r}")
    return minutes


def parse_gigabytes(value: Any, where: str) -> float:
    """`32G`, `500M`, `1T` or a number of GB -> GB."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([MGT]?)B?", str(value).strip(), flags=re.IGNORECASE)
    if not found or float(found[1]) <= 0:
        raise SuiteError(f"{where}: expected a memory size such as 32G or 500M, found {value!r}")
    return float(found[1]) * {"M": 1 / 1024, "G": 1.0, "T": 1024.0, "": 1.0}[found[2].upper()]


def check_slurm_block(block: Any, where: str) -> dict[str, Any]:
    """The suite's `slurm:` block (or the `--slurm` flags), checked: one line naming the key on error."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise SuiteError(f"{where}: expected a mapping of {sorted(SLURM_KEYS)}, found {block!r}")
    unknown = set(block) - SLURM_KEYS
    if unknown:
        raise SuiteError(f"{where}: expected keys among {sorted(SLURM_KEYS)}, found {sorted(unknown)}")
    for key in ("gpus_per_task", "cpus_per_task", "shards", "jobs", "array_parallelism"):
        value = block.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < (key == "gpus_per_task" and 0 or 1)):
            raise SuiteError(f"{where}.{key}: expected an integer >= {0 if key == 'gpus_per_task' else 1}, "
                             f"found {value!r}")
    for key in ("partition", "account", "qos", "constraint"):
        value = block.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise SuiteError(f"{where}.{key}: expected a name, found {value!r}")
    setup = block.get("setup")
    if setup is not None and (not isinstance(setup, list) or not all(isinstance(s, str) for s in setup)):
        raise SuiteError(f"{where}.setup: expected a list of shell lines, found {setup!r}")
    if block.get("time") is not None:
        parse_minutes(block["time"], f"{where}.time")
    if block.get("mem") is not None:
        parse_gigabytes(block["mem"], f"{where}.mem")
    return dict(block)


def parse_flags(flags: list[str]) -> dict[str, Any]:
    """`--slurm partition=gpu --slurm gpus_per_task=1` -> {"partition": "gpu", "gpus_per_task": 1}."""
    import yaml

    out: dict[str, Any] = {}
    for flag in flags:
        key, sep, value = flag.partition("=")
        if not sep or not key:
            raise SuiteError(f"--slurm: expected KEY=VALUE (e.g. partition=gpu), found {flag!r}")
        out[key.strip()] = yaml.safe_load(value) if key.strip() != "partition" else value
    return check_slurm_block(out, "--slurm")


def executor_parameters(resources: dict[str, Any], n_shards: int, name: str) -> dict[str, Any]:
    """submitit's `update_parameters` from our keys: generic ones for every executor, `slurm_*` for Slurm."""
    params: dict[str, Any] = {"name": f"zoo-bench-{name}", "nodes": 1, "tasks_per_node": 1,
                              "stderr_to_stdout": True, "slurm_array_parallelism": resources.get("array_parallelism",
                                                                                                 n_shards)}
    if resources.get("time") is not None:
        params["timeout_min"] = parse_minutes(resources["time"], "slurm.time")
    if resources.get("mem") is not None:
        params["mem_gb"] = parse_gigabytes(resources["mem"], "slurm.mem")
    if resources.get("cpus_per_task") is not None:
        params["cpus_per_task"] = resources["cpus_per_task"]
    if resources.get("gpus_per_task") is not None:
        params["gpus_per_node"] = resources["gpus_per_task"]  # one task per node: the same thing
    for key in ("partition", "account", "qos", "constraint", "setup"):
        if resources.get(key) is not None:
            params[f"slurm_{key}"] = resources[key]
    return params


def run_shard(argv: list[str]) -> int:
    """One array task: `zoo bench` on one shard (in the job's own process, with its own workers)."""
    from zoo.bench.runner import main

    return main(argv)


def launch(suite: Suite, suite_file: Path, out_dir: Path, *, launcher: str, shards: int | None, jobs: int | None,
           flags: list[str], dataset: str | None, no_wandb: bool, retry_failed: bool, wait: bool = True,
           stream=None) -> int:
    """Submit the shards as one array, wait for them, merge into `out_dir`; the exit status of `zoo bench`."""
    stream = stream or sys.stdout
    if launcher not in LAUNCHERS:
        raise SuiteError(f"--launcher: expected one of {list(LAUNCHERS)}, found {launcher!r}")
    try:
        import submitit
    except ImportError:
        raise SuiteError("--launcher needs submitit: pip install 'gait-zoo[cluster]' (or pip install submitit)") from None
    resources = {**suite.slurm, **parse_flags(flags)}
    n_cells = len(suite.cells())
    n = shards or resources.get("shards") or max(1, math.ceil(n_cells / CELLS_PER_SHARD))
    n = min(n, n_cells)
    workers = jobs or resources.get("jobs") or 1
    out_dir = out_dir.resolve()
    shard_dirs = [out_dir / "shards" / f"{i}-of-{n}" for i in range(n)]
    argv_common = ["--jobs", str(workers)] + (["--dataset", dataset] if dataset else []) + \
        (["--no-wandb"] if no_wandb else []) + (["--retry-failed"] if retry_failed else []) + \
        (["--robustness"] if suite.robustness else [])
    executor = submitit.AutoExecutor(folder=out_dir / "slurm" / "%j", cluster=launcher)
    executor.update_parameters(**executor_parameters(resources, n, suite.name))
    # the suite path as given: jobs start in this folder (sbatch and the local executor keep the working
    # directory), and the merged leaderboard.md then names the same command as a plain run's
    args = [[str(suite_file), "--out", str(d), "--shard", f"{i}/{n}", *argv_common]
            for i, d in enumerate(shard_dirs)]
    jobs_ = executor.map_array(run_shard, args)
    ids = ", ".join(j.job_id for j in jobs_)
    print(f"zoo bench: submitted {n} shard(s) of {n_cells} cells as one {launcher} job array ({ids}); "
          f"logs in {out_dir / 'slurm'}", file=stream, flush=True)
    merge_command = f"zoo bench merge {' '.join(str(d) for d in shard_dirs)} --out {out_dir}"
    if not wait:
        print(f"when the array has finished: {merge_command}", file=stream)
        return 0
    failed_shards = []
    for i, job in enumerate(jobs_):
        try:
            code = job.result()
        except Exception as exc:  # the task died (time limit, memory, node): its cells stay unfinished
            failed_shards.append(f"shard {i}/{n} (job {job.job_id}): {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:300]}")
            continue
        if code != 0:
            failed_shards.append(f"shard {i}/{n} (job {job.job_id}): exit status {code}; see {job.paths.stdout}")
    started = time.time()
    from zoo.bench.runner import merge

    present = [d for d in shard_dirs if (d / "cells").is_dir()]
    if not present:
        print("zoo bench: no shard produced results:\n  " + "\n  ".join(failed_shards), file=sys.stderr)
        return 1
    status = merge(present, out_dir, suite_file, stream=stream, wandb=not no_wandb)
    print(f"zoo bench: merged {len(present)} shard folder(s) into {out_dir} in {time.time() - started:.1f} s",
          file=stream)
    if failed_shards:
        print(f"{len(failed_shards)} shard(s) did not finish cleanly:\n  " + "\n  ".join(failed_shards),
              file=sys.stderr)
        return 1
    return status
