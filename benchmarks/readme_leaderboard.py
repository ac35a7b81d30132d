"""The README's leaderboard block, rendered from a finished suite's `leaderboard.csv`.

    python -m benchmarks.readme_leaderboard runs/quick --wall-time "13 min" [--write README.md]

Numbers come only from the run folder; the papers' real-data figures beside them are quoted from the papers
(SPEC section 4) with their protocol, because they were measured on other data under other splits and are
not comparable one to one. With `--write`, the block between the two marker lines of the file is replaced.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

from datamodules.tasks import TASKS as TASK_CLASSES
from zoo.bench.results import LEADERBOARD_COLUMNS
from zoo.bench.suite import ORACLE

START, END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"

# Per task: the metrics shown (primary first) and the paper architecture's reported real-data figures for
# those metrics, with the protocol they come from. The paper's name comes from the task class, units from the
# leaderboard's `unit` column.
TASKS: dict[str, dict] = {
    "imu2pressure": {
        "model": "cnn_bilstm_attention",
        "metrics": ("rmse", "r2", "ssim", "ppe"),
        "reported": {"rmse": "0.933", "r2": "0.894", "ssim": "0.891", "ppe": "4.02"},
        "protocol": "25 people, stance-wise random split (subjects on both sides), 10-fold CV",
    },
    "imu2grf": {
        "model": "ssl_transformer",
        "metrics": ("r_vertical", "rmse_vertical", "rrmse_vertical", "r_ap"),
        "reported": {"r_vertical": "0.94 / 0.97", "r_ap": "0.94 / 0.98"},
        "protocol": "SSL-pretrained paper-size model, overground / treadmill walking, 5-fold by subject "
                    "(from scratch: vGRF r 0.92 / 0.93)",
    },
    "landmarks2pressure": {
        "model": "cbam_unet",
        "metrics": ("cop_error_cm", "vgrf_accuracy", "peak_pressure_accuracy", "ssim"),
        "reported": {"cop_error_cm": "0.8", "vgrf_accuracy": "97.1", "peak_pressure_accuracy": "98.2"},
        "protocol": "35 people, 16 landmarks, 5-fold CV",
    },
    "insole2pose": {
        "model": "insole_pose_cnn",
        "metrics": ("mpjpe_cm", "mpjpe_cm_legs", "mpjpe_cm_arms"),
        "reported": {"mpjpe_cm": "7.43"},
        "protocol": "5 people, 30 x 22 insoles at 14 Hz, 63k / 21k / 21k frames for train / val / test",
    },
}


def read_board(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """Rows of `leaderboard.csv` by (task, model, metric), at full labels (a label-efficiency suite's smaller
    fractions are not leaderboard rows)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in LEADERBOARD_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: expected the columns {', '.join(LEADERBOARD_COLUMNS)}; "
                             f"found {', '.join(reader.fieldnames or []) or 'no header'}")
        return {(r["task"], r["model"], r["metric"]): r for r in reader
                if r["label_fraction"] in ("", "1", "1.0")}


def mean_sd(mean: float, sd: float) -> str:
    """`mean ± sd` with the sd to two significant figures and the mean to the same decimals."""
    decimals = 0 if sd <= 0 or not math.isfinite(sd) else min(4, max(0, 1 - math.floor(math.log10(sd))))
    decimals = decimals if sd > 0 else 4
    return f"{mean:.{decimals}f} ± {sd:.{decimals}f}"


def render(run_dir: Path, wall_time: str | None = None, command: str = "make bench") -> str:
    import yaml

    board = read_board(run_dir / "leaderboard.csv")
    suite = yaml.safe_load((run_dir / "suite.yaml").read_text()) if (run_dir / "suite.yaml").exists() else {}
    folds, seeds = suite.get("folds", "?"), suite.get("seeds", [0])
    lines = [START, "## Leaderboard (synthetic data)", ""]
    timing = f", {wall_time} wall time on this 2-core CPU, set-up included" if wall_time else ""
    lines += [
        f"Made by `{command}` (suite `{suite.get('name', run_dir.name)}`{timing}); rendered with "
        f"`python -m benchmarks.readme_leaderboard {run_dir}`. **These numbers are measured on the zoo's synthetic "
        f"gait data**, subject-wise {folds}-fold cross-validation with seeds {seeds}, small presets trained for minutes: "
        "they rank architectures on the simulator, they are not real-data results. The last column quotes what "
        "each paper reports for its own architecture on its real data and protocol, for orientation only. "
        "`mean ± sd` over folds and seeds; **bold** = best non-oracle model per metric; the noise floor is the error of the "
        "clean target against the noisy one (what a perfect model would score).",
        "",
    ]
    for task, info in TASKS.items():
        models = sorted({m for (t, m, _) in board if t == task})
        if not models:
            continue
        # only metrics the results hold: a vertical-only GRF run has no r_ap column (not an empty or 0 one)
        metrics = [m for m in info["metrics"] if any((task, model, m) in board for model in models)]
        if not metrics:
            continue
        primary = next((k[2] for k, r in board.items() if k[0] == task and r["is_primary"] == "True"), metrics[0])
        higher = {m: board.get((task, models[0], m), {}).get("higher_is_better") == "True" for m in metrics}
        contenders = [m for m in models if m != ORACLE]
        best = {}
        for metric in metrics:
            values = {m: float(board[(task, m, metric)]["mean"]) for m in contenders if (task, m, metric) in board}
            if values:
                best[metric] = (max if higher[metric] else min)(values, key=values.get)
        order = sorted(contenders, key=lambda m: float(board[(task, m, primary)]["mean"]), reverse=higher[primary])
        units = {m: board.get((task, models[0], m), {}).get("unit", "").replace("^2", "²") for m in metrics}
        header = [f"{m} ({units[m]})" if units[m] else m for m in metrics]
        arrows = ["↑" if higher[m] else "↓" for m in metrics]
        lines += [f"**{task}** ({TASK_CLASSES[task].paper}), primary metric `{primary}`", ""]
        lines.append("| model | " + " | ".join(f"{h} {a}" for h, a in zip(header, arrows)) + " | paper, real data |")
        lines.append("|---" * (len(metrics) + 2) + "|")
        for model in [*order, ORACLE]:
            cells = []
            for metric in metrics:
                row = board.get((task, model, metric))
                if row is None:
                    cells.append("")
                    continue
                text = mean_sd(float(row["mean"]), float(row["sd"]))
                cells.append(f"**{text}**" if best.get(metric) == model else text)
            reported = ""
            if model == info["model"]:
                reported = "; ".join(f"{m} {info['reported'][m]}" for m in metrics if m in info["reported"])
                reported += f" ({info['protocol']})"
            name = "noise floor (oracle)" if model == ORACLE else f"`{model}`"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {reported} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_block(path: Path, block: str) -> None:
    if not path.is_file():
        raise SystemExit(f"{path}: expected a file holding the marker lines {START} ... {END}; found no such file")
    text = path.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: expected the marker lines {START} ... {END}; found none")
    path.write_text(pattern.sub(lambda _: block, text, count=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme_leaderboard", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished suite's output folder (holds leaderboard.csv)")
    parser.add_argument("--wall-time", help="measured wall time of the command that made it, e.g. '13 min'")
    parser.add_argument("--command", default="make bench")
    parser.add_argument("--write", type=Path, help="replace the marked block of this file (README.md)")
    args = parser.parse_args(argv)
    if not (args.run_dir / "leaderboard.csv").exists():
        print(f"{args.run_dir}: expected leaderboard.csv from a finished suite; found none", file=sys.stderr)
        return 2
    block = render(args.run_dir, args.wall_time, args.command)
    if args.write:
        write_block(args.write, block)
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
