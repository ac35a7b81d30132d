"""An ablation suite's README table and figure, rendered from its finished run folder.

    python -m benchmarks.ablation_table runs/ablation_landmarks --figure docs/figures/ablation_landmarks_quick.png

Labels of the form `<family>-<variant>` (`cbam-16`, `ridge-one-foot`) become one row per variant, in the order
the suite lists them, and one column per family; labels without a dash (or with `--no-families`) get one
row each. Cells hold `mean ± sd` of the task's primary metric over folds (metrics given with `--metric` join
as extra columns); a cell that failed or has no value is shown as "not run", never as a number. The figure
draws the primary metric per variant with its fold sd, one line per family. Numbers come only from the run
folder; say where they come from (the suite runs on synthetic data) wherever they are shown.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from zoo.bench.plots import primary_metric

NOT_RUN = "not run"


@dataclass(frozen=True)
class Entry:
    """One leaderboard value (mean, sd over `n` folds)."""

    mean: float
    sd: float
    n: int

    def text(self, digits: int) -> str:
        sd = f" ± {self.sd:.{digits}f}" if self.n > 1 and math.isfinite(self.sd) else ""
        return f"{self.mean:.{digits}f}{sd}"


def suite_labels(run: Path, task: str) -> list[str]:
    """The model labels of `task` in the order the suite file lists them."""
    suite = yaml.safe_load((run / "suite.yaml").read_text())
    tasks = suite.get("tasks") or {}
    if task not in tasks:
        raise SystemExit(f"{run / 'suite.yaml'}: task '{task}' is not in the suite; found: {sorted(tasks)}")
    labels = []
    for m in tasks[task].get("models") or []:
        labels.append(m if isinstance(m, str) else str(m.get("label") or m["name"]))
    return labels


def read_leaderboard(run: Path, task: str) -> dict[tuple[str, str, float], Entry]:
    """(label, metric, label_fraction) -> Entry for `task`; rows without a finite mean are left out."""
    path = run / "leaderboard.csv"
    if not path.exists():
        raise SystemExit(f"{run}: missing: leaderboard.csv (is the suite finished? rerun `zoo bench` to "
                         "complete it); found: " + ", ".join(sorted(p.name for p in run.iterdir())))
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["task"] != task or row["mean"] in ("", "nan"):
                continue
            mean = float(row["mean"])
            if not math.isfinite(mean):
                continue
            sd = float(row["sd"]) if row["sd"] not in ("", "nan") else float("nan")
            out[(row["model"], row["metric"], float(row["label_fraction"] or 1.0))] = Entry(mean, sd, int(row["n"]))
    return out


def split_label(label: str, families: bool) -> tuple[str, str]:
    """`cbam-16` -> (`cbam`, `16`); without families (or a dash) the label is its own row."""
    if families and "-" in label:
        family, variant = label.split("-", 1)
        return family, variant
    return "", label


def table(run: Path, task: str, metrics: Sequence[str], *, families: bool = True, fraction: float | None = None,
          digits: int = 3) -> str:
    """The markdown table: one row per variant, one column per (family, metric)."""
    primary, higher = primary_metric(task)
    metrics = [primary, *[m for m in metrics if m != primary]]
    board = read_leaderboard(run, task)
    fractions = sorted({f for (_, _, f) in board})
    if fraction is None:
        fraction = fractions[-1] if fractions else 1.0
    labels = suite_labels(run, task)
    fams: list[str] = []
    variants: list[str] = []
    for label in labels:
        family, variant = split_label(label, families)
        fams += [family] if family not in fams else []
        variants += [variant] if variant not in variants else []
    columns = [(f, m) for f in fams for m in metrics]
    unit = {m: unit_of(run, task, m) for m in metrics}
    head = ["variant" if any(fams) else "model"]
    for f, m in columns:
        head.append(" ".join(x for x in (f, m + (f" ({unit[m]})" if unit[m] else "")) if x))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant in variants:
        cells = [variant]
        for f, m in columns:
            label = f"{f}-{variant}" if f else variant
            entry = board.get((label, m, fraction))
            cells.append(entry.text(digits) if entry else ("" if label not in labels else NOT_RUN))
        lines.append("| " + " | ".join(cells) + " |")
    direction = "higher" if higher else "lower"
    lines.append("")
    lines.append(f"Primary metric `{primary}` ({direction} is better); mean ± sd over folds, "
                 f"label fraction {fraction:g}; from `{run}/leaderboard.csv`.")
    return "\n".join(lines)


def unit_of(run: Path, task: str, metric: str) -> str:
    with open(run / "leaderboard.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["task"] == task and row["metric"] == metric:
                return row.get("unit") or ""
    return ""


def figure(run: Path, task: str, path: Path, *, families: bool = True, title: str = "",
           fraction: float | None = None) -> Path:
    """The primary metric per variant (x, suite order) with its fold sd, one line per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    primary, higher = primary_metric(task)
    board = read_leaderboard(run, task)
    if fraction is None:
        fraction = max((f for (_, _, f) in board), default=1.0)
    labels = suite_labels(run, task)
    by_family: dict[str, list[tuple[str, Entry | None]]] = {}
    variants: list[str] = []
    for label in labels:
        family, variant = split_label(label, families)
        variants += [variant] if variant not in variants else []
        by_family.setdefault(family, []).append((variant, board.get((label, primary, fraction))))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(variants) + 2), 3.6))
    for family, points in by_family.items():
        xs = [variants.index(v) for v, e in points if e is not None]
        ys = [e.mean for _, e in points if e is not None]
        sds = [e.sd if e.n > 1 and math.isfinite(e.sd) else 0.0 for _, e in points if e is not None]
        if xs:
            ax.errorbar(xs, ys, yerr=sds, marker="o", capsize=3, label=family or None)
    ax.set_xticks(range(len(variants)), variants, rotation=20 if len(variants) > 5 else 0)
    unit = unit_of(run, task, primary)
    ax.set_ylabel(f"{primary}" + (f" ({unit})" if unit else "") + (" ↑" if higher else " ↓"))
    ax.set_title(title or f"{run.name}: {task} (synthetic data, mean ± sd over folds)", fontsize=9)
    if any(by_family):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished suite folder (holds leaderboard.csv and suite.yaml)")
    parser.add_argument("--task", help="the task to tabulate (default: the suite's only task)")
    parser.add_argument("--metric", action="append", default=[], help="extra metric columns (repeatable)")
    parser.add_argument("--no-families", action="store_true", help="one row per label, no family columns")
    parser.add_argument("--fraction", type=float, help="label fraction to tabulate (default: the largest)")
    parser.add_argument("--digits", type=int, default=3)
    parser.add_argument("--figure", type=Path, help="also write the figure here (PNG)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    if not (args.run / "suite.yaml").is_file():
        found = sorted(p.name for p in args.run.iterdir()) if args.run.is_dir() else "no such folder"
        print(f"{args.run}: expected a finished suite folder (suite.yaml, leaderboard.csv); found: {found}",
              file=sys.stderr)
        return 2
    tasks = list(yaml.safe_load((args.run / "suite.yaml").read_text()).get("tasks") or {})
    task = args.task or (tasks[0] if len(tasks) == 1 else None)
    if task is None:
        print(f"{args.run}: the suite has tasks {tasks}; choose one with --task", file=sys.stderr)
        return 2
    families = not args.no_families
    print(table(args.run, task, args.metric, families=families, fraction=args.fraction, digits=args.digits))
    if args.figure:
        print(f"figure: {figure(args.run, task, args.figure, families=families, title=args.title, fraction=args.fraction)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
