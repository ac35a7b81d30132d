"""The suite's W&B summary run: the leaderboard as a table and the plots as images."""

from __future__ import annotations

import csv
from pathlib import Path

from zoo.bench.suite import Suite
from zoo.bench.tracking import start_run


def log_summary_run(suite: Suite, out_dir: Path) -> str | None:
    run = start_run(suite.wandb, out_dir, name=f"{suite.name}-summary", group=suite.name, job_type="summary",
                    tags=["summary"], config={"suite": suite.name, "dataset": suite.dataset,
                                              "folds": suite.run_folds, "seeds": suite.seeds})
    if run is None:
        return None
    import wandb

    with open(out_dir / "leaderboard.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows:
        columns = list(rows[0])
        run.log({"leaderboard": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])})
    for png in sorted((out_dir / "plots").glob("*.png")):
        run.log({f"plots/{png.stem}": wandb.Image(str(png))})
    run_id = run.id
    run.finish()
    return run_id
