"""The suite's W&B summary run: the leaderboard as a table and the plots as images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zoo.bench.suite import Suite
from zoo.bench.tracking import start_run

# Leaderboard columns as W&B table columns, with the type each keeps (W&B sorts and plots numbers only).
TABLE_TYPES = {"mean": float, "sd": float, "n": int, "label_fraction": float, "higher_is_better": bool,
               "is_primary": bool}


def table_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Leaderboard rows (`results.leaderboard_rows`) as table columns and typed values; an undefined value
    (the sd of a single fold) is left empty, never NaN."""
    if not rows:
        return [], []
    columns = list(rows[0])
    data = []
    for r in rows:
        line = []
        for c in columns:
            value = r[c]
            kind = TABLE_TYPES.get(c)
            if kind is not None and value is not None:
                value = kind(value)
                if kind is float and not math.isfinite(value):
                    value = None
            line.append(value)
        data.append(line)
    return columns, data


def log_summary_run(suite: Suite, out_dir: Path, rows: list[dict[str, Any]]) -> str | None:
    run = start_run(suite.wandb, out_dir, name=f"{suite.name}-summary", group=suite.name, job_type="summary",
                    tags=["summary"], config={"suite": suite.name, "dataset": suite.dataset,
                                              "folds": suite.run_folds, "seeds": suite.seeds})
    if run is None:
        return None
    import wandb

    try:
        columns, data = table_rows(rows)
        if data:
            run.log({"leaderboard": wandb.Table(columns=columns, data=data)})
        for png in sorted((out_dir / "plots").glob("*.png")):
            run.log({f"plots/{png.stem}": wandb.Image(str(png))})
        run_id = run.id
    finally:
        run.finish()
    return run_id
