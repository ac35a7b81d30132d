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
