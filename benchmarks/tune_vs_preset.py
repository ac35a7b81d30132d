"""Tuned against preset: does `zoo tune` beat a model's small preset on held-out subjects?

    python -m benchmarks.tune_vs_preset [--model tcn] [--task imu2grf] [--data sim:quick] [--n-trials 16]
        [--timeout 900] [--epochs 10] [--out runs/tune_vs_preset]

Runs a `zoo tune` study on one subject-wise fold (trials see its training and validation subjects only),
then evaluates, with the same checkpoint rule (best epoch on the tuned validation metric), the best trial's
checkpoint and the preset trained on the same base configuration: validation metric (what the search saw)
and test metrics (subjects neither saw). One fold and one seed: a first look, not a leaderboard entry.
On `sim:` data the numbers are synthetic.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def evaluate(config: dict[str, Any], ckpt: Path) -> dict[str, float]:
    """Validation and test metrics of a checkpoint under its configuration."""
    from zoo.bench.cell import quiet_lightning
    from zoo.lightning_cli import build_cli

    quiet_lightning()
    cli = build_cli(config, trainer_overrides={"logger": False, "enable_progress_bar": False})
    out = {}
    for split, run in (("val", cli.trainer.validate), ("test", cli.trainer.test)):
        out.update({k: float(v) for k, v in run(cli.model, datamodule=cli.datamodule, ckpt_path=str(ckpt),
                                                 verbose=False)[0].items() if k.startswith(f"{split}/")})
    return out


def parameters(config: dict[str, Any]) -> int:
    from zoo.registry import create_model

    args = {k: v for k, v in config["model"]["init_args"].items() if k != "preset"}
    return create_model(config["model"]["class_path"], task=config["data"]["task"],
                        preset=config["model"]["init_args"].get("preset", "small"), **args).num_parameters()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tcn")
    p.add_argument("--task", default="imu2grf")
    p.add_argument("--data", default="sim:quick")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--n-trials", type=int, default=16)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("runs/tune_vs_preset"))
    args = p.parse_args(argv)
    zoo = [sys.executable, "-m", "zoo.cli"]
    study = args.out / "study"
    base = ["--model", args.model, "--data.path", args.data, "--data.task", args.task, "--data.n_folds",
            str(args.folds), "--data.fold", str(args.fold), "--trainer.max_epochs", str(args.epochs),
            "--threads", str(args.threads)]
    start = time.time()
    subprocess.run([*zoo, "tune", *base, "--n-trials", str(args.n_trials), "--timeout", str(args.timeout),
                    "--out", str(study), "--no-wandb", "--resume"], check=True)
    tune_s = time.time() - start
    tuned = yaml.safe_load((study / "best.yaml").read_text())
    summary = json.loads((study / "summary.json").read_text())
    preset = copy.deepcopy(tuned)  # the same base configuration and checkpoint rule, the preset's values
    preset["model"]["init_args"] = {"preset": tuned["model"]["init_args"].get("preset", "small")}
    (args.out / "preset.yaml").write_text(yaml.safe_dump(preset, sort_keys=False))
    start = time.time()
    subprocess.run([*zoo, "fit", "--config", str(args.out / "preset.yaml"), f"--checkpoint.dirpath={args.out / 'preset'}",
                    f"--trainer.default_root_dir={args.out / 'preset'}", "--trainer.enable_progress_bar=false"],
                   check=True)
    preset_s = time.time() - start
    counts = {name: parameters(config) for name, config in (("preset", preset), ("tuned", tuned))}
    rows = {"preset (small)": evaluate(preset, args.out / "preset" / "best.ckpt"),
            f"tuned (trial {summary['best']['trial']})": evaluate(tuned, study / "best.ckpt")}
    metric = summary["metric"]
    from datamodules.tasks import get_task

    names = [metric, *(f"test/{m}" for m in get_task(args.task).readme_metrics)]
    print(f"\n{args.model} on {args.task}, {args.data}, fold {args.fold} of {args.folds}, {args.epochs} epochs; "
          f"study: {summary['trials']}; tuning {tune_s:.0f} s, preset fit {preset_s:.0f} s")
    print("| configuration | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, values in rows.items():
        print(f"| {label} | " + " | ".join(f"{values.get(n, float('nan')):.4f}" for n in names) + " |")
    print(f"tuned values: {summary['best']['params']}; parameters: preset {counts['preset']}, tuned {counts['tuned']}")
    (args.out / "comparison.json").write_text(json.dumps({"rows": rows, "summary": summary, "tune_s": tune_s,
                                                          "preset_s": preset_s}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
