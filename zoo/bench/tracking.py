"""Weights & Biases mirroring of local results (local files stay the source of truth).

One W&B run per cell (group = suite, job_type = task, tags = model, fold, seed), one summary run per
suite with the leaderboard as a table. Offline unless the user is logged in; every W&B file goes under
the suite's output folder (wandb writes to $HOME otherwise, even offline).
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any


def point_wandb_at(out_dir: Path) -> Path:
    """Keep wandb's run, cache, data and config files inside `out_dir`."""
    root = (out_dir / "wandb").resolve()
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", ".cache"), ("WANDB_DATA_DIR", ".data"),
                     ("WANDB_CONFIG_DIR", ".config"), ("WANDB_ARTIFACT_DIR", ".artifacts")):
        path = root / sub if sub else root
        path.mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(path)
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_CONSOLE", "off")
    return root


def logged_in() -> bool:
    """True when an API key is configured (env var or ~/.netrc), i.e. `wandb login` was run."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_mode(settings: dict[str, Any] | None) -> str:
    """`disabled` (switched off), `online` (logged in) or `offline` (sync later with `wandb sync`)."""
    env = os.environ.get("WANDB_MODE")
    if settings is None or env == "disabled":
        return "disabled"
    if env in ("online", "offline"):
        return env
    return settings.get("mode") or ("online" if logged_in() else "offline")


def start_run(settings: dict[str, Any] | None, out_dir: Path, *, name: str, group: str, job_type: str,
              tags: list[str], config: dict[str, Any]):
    """A finished-on-exit W&B run, or None when W&B is off. Callers must `finish()` it."""
    mode = wandb_mode(settings)
    if mode == "disabled":
        return None
    root = point_wandb_at(out_dir)
    import wandb

    return wandb.init(
        project=settings.get("project", "gait-zoo"), entity=settings.get("entity"), name=name, group=group,
        job_type=job_type, tags=tags, config=config, dir=str(root), mode=mode, reinit="finish_previous",
    )


def run_folders(out_dir: Path, run_id: str) -> list[Path]:
    """The local folders of W&B run `run_id` under `out_dir` (offline or synced online runs)."""
    root = out_dir / "wandb" / "wandb"
    return sorted(p for p in root.glob(f"*run-*-{run_id}") if p.is_dir()) if root.is_dir() else []


def mirrored_run_id(out_dir: Path, record: dict[str, Any]) -> str | None:
    """The W&B run that mirrors a cell's record: made while the cell ran, or afterwards by `mirror_record`."""
    if record.get("wandb_run_id"):
        return str(record["wandb_run_id"])
    import json

    try:
        return json.loads((out_dir / "cells" / record["key"] / "wandb.json").read_text())["run_id"]
    except (FileNotFoundError, KeyError, ValueError):
        return None


def mirror_record(settings: dict[str, Any] | None, out_dir: Path, record: dict[str, Any]) -> str | None:
    """A W&B run for a cell that finished while W&B was off: its config, training curves (replayed from the
    cell's CSV log), test metrics and example image, from the local files; no training. Returns the run id."""
    import csv
    import json

    from zoo.bench.io import write_atomic

    tags = [record["label"], f"fold{record['fold']}", f"seed{record['seed']}", record.get("preset", "small")]
    config = {k: v for k, v in record.items() if k not in ("metrics", "traceback", "error", "status")}
    run = start_run(settings, out_dir, name=record["key"], group=record["suite"], job_type=record["task"],
                    tags=tags, config=config)
    if run is None:
        return None
    here = out_dir / "cells" / record["key"]
    try:
        log = here / "log" / "metrics.csv"
        if log.is_file():
            with open(log, newline="") as fh:
                for row in csv.DictReader(fh):
                    values = {k: float(v) for k, v in row.items() if k not in ("step", "epoch") and v not in ("", None)}
                    if values and row.get("step") not in ("", None):
                        run.log(values, step=int(float(row["step"])))
        if record.get("status") == "ok":
            run.summary.update({f"test/{k}": v for k, v in record["metrics"].items()})
            if (here / "examples.npz").is_file():
                from zoo.bench.cell import log_example_images

                log_example_images(run, here / "examples.npz", record["key"])
        else:
            run.summary.update({"status": "failed", "error": record.get("error", "")})
        run_id = run.id
    finally:
        run.finish(exit_code=0 if record.get("status") == "ok" else 1)
    write_atomic(here / "wandb.json", json.dumps({"run_id": run_id, "mirrored_after_the_run": True}) + "\n")
    return run_id

