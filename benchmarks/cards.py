"""Model cards: `python -m benchmarks.cards --write [--leaderboard runs/quick]`, `zoo card MODEL`.

One card per built-in model, `docs/models/<name>.md`, generated from:
- the registry: paper, the class docstring (what was reproduced and how), presets, supported tasks and inputs;
- parameters and FLOPs per window of each preset (deterministic: `benchmarks.latency.count_flops` on the
  model's first deployable task, the zoo's default data spec);
- the leaderboard on the zoo's SYNTHETIC data: README's leaderboard block by default, or a finished suite's
  `leaderboard.csv` (`--leaderboard runs/quick`), with folds and seeds;
- latency: quoted from the committed `docs/models/latency.md` (machine-dependent, written by
  `python -m benchmarks.latency --write docs/models/latency.md`; the card check never regenerates it);
- known limitations (below, and the 100x real-time check of the IMU paper architectures' small presets).

`python -m benchmarks.cards --check` exits 1 when a committed card differs from what these sources give
(tests/test_cards.py runs it).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CARDS_DIR = ROOT / "docs" / "models"
LATENCY_FILE = CARDS_DIR / "latency.md"
README = ROOT / "README.md"
REALTIME_TARGET = 100.0  # IMU paper architectures' small presets: at least this real-time factor
IMU_PAPER_MODELS = ("cnn_bilstm_attention", "ssl_transformer")
WEIGHTS_LICENCE = ("No trained weights are distributed with the zoo. Weights you train here are yours; the code "
                   "that makes them is MIT-licensed (LICENSE), and weights trained on the synthetic data carry no "
                   "third-party data licence. Weights trained on a real data set inherit that data set's terms.")

# What each architecture does not do, or does differently from its paper (beyond "synthetic data only").
LIMITATIONS: dict[str, list[str]] = {
    "cnn_bilstm_attention": [
        "The paper gives no hidden, attention or decoder sizes; the paper preset's choices are documented in "
        "the class docstring, so its parameter count is not the paper's.",
        "On `imu2pressure` it needs joint angles (hip, knee, ankle) besides the gyroscopes; a foot-IMU-only "
        "deployment must use another task or input set.",
    ],
    "ssl_transformer": [
        "The `pretrain` task (masked reconstruction) is not exportable: fine-tune on a downstream task first.",
        "The paper's pretraining corpus is not available here; pretraining runs on the simulator.",
    ],
    "cbam_unet": ["Needs the plantar geometry of the person's foot and landmark sensors at fixed cells."],
    "insole_pose_cnn": ["Trained on simulated 32 x 16 insoles at 100 Hz, not the paper's 30 x 22 at 14 Hz."],
    "ridge": ["Closed form: no gradient training, no presets of its own (both presets are the same model); its "
              "weight matrix grows with input x output size (hundreds of MB for full pressure maps)."],
    "mean": ["Ignores its input: a floor to beat, not a model to deploy."],
    "tcn": ["A generic baseline, not a paper architecture."],
    "unet": ["A generic baseline, not a paper architecture."],
    "pose_mlp": ["A generic baseline, not a paper architecture."],
}


def builtin_models() -> list[str]:
    from zoo.registry import list_models, model_entry

    return [n for n in list_models() if model_entry(n).source.startswith("zoo.")]


# -- sources --------------------------------------------------------------------------------------
@cache
def preset_cost(name: str, preset: str) -> tuple[int | None, int, str]:
    """(trainable parameters or None for closed form, FLOPs per window at batch 1, task)."""
    import torch

    from benchmarks.latency import build, count_flops
    from zoo.deploy.export import example_inputs

    wrapper, spec = build(name, preset)
    params = sum(p.numel() for p in wrapper.model.parameters() if p.requires_grad)
    closed_form = not any(True for _ in wrapper.model.parameters())
    with torch.no_grad():
        flops = count_flops(wrapper, example_inputs(spec, batch=1))
    return (None if closed_form else params), flops, spec.task


def readme_leaderboard(readme: Path = README) -> tuple[dict[str, dict[str, Any]], str]:
    """Per task: its header, metric columns and rows by model, from README's leaderboard block; and the
    protocol sentence (folds and seeds)."""
    text = readme.read_text()
    block = text.split("<!-- leaderboard:start -->", 1)[-1].split("<!-- leaderboard:end -->", 1)[0]
    found = re.search(r"(subject-wise \d+-fold cross-validation with seeds \[[^\]]*\])", block)
    protocol = found.group(1) if found else "protocol not stated in README"
    made = re.search(r"Made by `([^`]*)` \(suite `([^`]*)`", block)
    source = f"README leaderboard (`{made.group(1)}`, suite `{made.group(2)}`)" if made else "README leaderboard"
    tasks: dict[str, dict[str, Any]] = {}
    for section in re.split(r"\n(?=\*\*[a-z0-9_]+\*\* )", block):
        head = re.match(r"\*\*([a-z0-9_]+)\*\* (.*)", section)
        if not head:
            continue
        rows = [line for line in section.splitlines() if line.startswith("|")]
        if len(rows) < 3:
            continue
        columns = [c.strip() for c in rows[0].strip("|").split("|")]
        by_model = {}
        for line in rows[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            by_model[cells[0].strip("`")] = cells
        tasks[head.group(1)] = {"title": head.group(2).strip(), "columns": columns, "rows": by_model}
    return tasks, f"{source}: {protocol}"


def csv_leaderboard(run_dir: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """The same view from a suite's `leaderboard.csv` (every metric of the task, `mean ± sd`)."""
    import yaml

    from benchmarks.readme_leaderboard import mean_sd, read_board

    board = read_board(run_dir / "leaderboard.csv")
    suite = yaml.safe_load((run_dir / "suite.yaml").read_text()) if (run_dir / "suite.yaml").exists() else {}
    tasks: dict[str, dict[str, Any]] = {}
    for (task, model, metric), r in sorted(board.items()):
        entry = tasks.setdefault(task, {"title": "", "metrics": [], "rows": {}})
        if metric not in entry["metrics"]:
            entry["metrics"].append(metric)
        entry["rows"].setdefault(model, {})[metric] = mean_sd(float(r["mean"]), float(r["sd"]))
    for entry in tasks.values():
        entry["columns"] = ["model", *entry["metrics"]]
        entry["rows"] = {m: [m, *(v.get(k, "") for k in entry["metrics"])] for m, v in entry["rows"].items()}
    protocol = (f"`{run_dir}/leaderboard.csv` (suite `{suite.get('name', run_dir.name)}`): subject-wise "
                f"{suite.get('folds', '?')}-fold cross-validation with seeds {suite.get('seeds', '?')}")
    return tasks, protocol


def latency_rows(path: Path = LATENCY_FILE) -> tuple[dict[tuple[str, str], list[str]], list[str], str]:
    """Rows of the committed latency table by (model, preset), its header, and its note."""
    if not path.is_file():
        return {}, [], f"missing: {path.relative_to(ROOT)} (run `python -m benchmarks.latency --write {path.relative_to(ROOT)}`)"
    lines = path.read_text().splitlines()
    table = [line for line in lines if line.startswith("|")]
    note = next((line for line in lines if line.startswith("Batch 1")), "")
    rows = {}
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[(cells[0].strip("`"), cells[1])] = cells
    return rows, table[:2], note


# -- rendering ------------------------------------------------------------------------------------
def describe(cls: type) -> str:
    """The class docstring up to its argument list: what the architecture is and what was reproduced."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    return doc.split("\nArgs:")[0].strip()


def realtime_verdict(name: str, latency: dict[tuple[str, str], list[str]]) -> str | None:
    if name not in IMU_PAPER_MODELS:
        return None
    row = latency.get((name, "small"))
    if row is None:
        return f"Real-time check (>= {REALTIME_TARGET:.0f}x at batch 1, one thread): not measured yet."
    try:
        factor = float(row[-1].rstrip("x").replace(",", ""))
    except ValueError:
        return f"Real-time check: not measured ({row[2]})."
    if factor >= REALTIME_TARGET:
        return (f"Real-time check: the small preset runs {factor:,.0f}x faster than real time at batch 1 on one "
                f"thread (onnxruntime; target >= {REALTIME_TARGET:.0f}x): met on the machine of the latency table.")
    return (f"Real-time check: the small preset runs only {factor:,.0f}x faster than real time at batch 1 on one "
            f"thread (target >= {REALTIME_TARGET:.0f}x): not met on the machine of the latency table, which was "
            "shared with other jobs at the load average it states; re-measure on an idle machine.")


def render_card(name: str, leaderboard: tuple[dict[str, dict[str, Any]], str],
                latency: tuple[dict[tuple[str, str], list[str]], list[str], str]) -> str:
    from datamodules.tasks import get_task
    from zoo.registry import format_count, get_model_class

    cls = get_model_class(name)
    lines = ["<!-- generated by `python -m benchmarks.cards --write`; do not edit by hand -->",
             f"# `{name}`", "", f"**Paper:** {cls.paper or '-'}", "", describe(cls), ""]
    lines += ["## Presets", "", "| preset | task | parameters | FLOPs / window (batch 1) |", "|---|---|---|---|"]
    from benchmarks.latency import format_flops

    for preset in cls.presets:
        params, flops, task = preset_cost(name, preset)
        lines.append(f"| {preset} | {task} | {'closed form' if params is None else format_count(params)} | "
                     f"{format_flops(flops)} |")
    lines += ["", "Counted on the zoo's default data spec of the task (the paper's input sizes for the paper "
              "preset); FLOPs by `torch.utils.flop_counter.FlopCounterMode`, recurrent layers analytically.", ""]
    lines += ["## Tasks and inputs", "", "| task | input | shape | target | exportable |", "|---|---|---|---|---|"]
    for task in cls.supported_tasks:
        spec = cls.default_data_spec("small", task)
        channels = ", ".join(spec.input_channels[:3]) + (", ..." if len(spec.input_channels) > 3 else "")
        extra = " + body mass (kg)" if spec.has_body_mass else ""
        ok = "no (self-supervised)" if get_task(task).self_supervised else "ONNX, TorchScript"
        lines.append(f"| {task} | {len(spec.input_channels)} ch ({channels}){extra} | {list(spec.input_shape)} | "
                     f"{list(spec.target_shape)} | {ok} |")
    boards, protocol = leaderboard
    lines += ["", "## Leaderboard (synthetic data)", "",
              f"**Synthetic:** measured on the zoo's simulated gait data, not on real recordings. Source: {protocol}; "
              "`mean ± sd` over folds and seeds.", ""]
    shown = False
    for task, board in boards.items():
        if name not in board["rows"]:
            continue
        shown = True
        title = f" {board['title']}" if board.get("title") else ""
        lines += [f"**{task}**{title}", "", "| " + " | ".join(board["columns"]) + " |",
                  "|" + "---|" * len(board["columns"]), "| " + " | ".join(board["rows"][name]) + " |", ""]
    if not shown:
        lines += ["Not in this leaderboard (no run of this model in that suite).", ""]
    rows, header, note = latency
    lines += ["## Latency and cost", ""]
    mine = [rows[(name, p)] for p in cls.presets if (name, p) in rows]
    if mine:
        lines += [*header, *("| " + " | ".join(r) + " |" for r in mine), "", note,
                  "(Machine-dependent: quoted from [latency.md](latency.md).)", ""]
    else:
        lines += [f"Not measured: {note or 'no row in latency.md'}.", ""]
    lines += ["## Known limitations", "", "- Trained and evaluated here on synthetic data only (see the leaderboard "
              "note); real-data accuracy is the paper's, under its own protocol."]
    lines += [f"- {item}" for item in LIMITATIONS.get(name, [])]
    verdict = realtime_verdict(name, rows)
    if verdict:
        lines.append(f"- {verdict}")
    lines += ["", "## Licence of weights", "", WEIGHTS_LICENCE, ""]
    return "\n".join(lines)


LATENCY_START, LATENCY_END = "<!-- latency:start -->", "<!-- latency:end -->"


def readme_with_latency(readme: str) -> str:
    """README with its latency block replaced by the committed latency table (what `--write` keeps in sync)."""
    if LATENCY_START not in readme or LATENCY_END not in readme:
        raise SystemExit(f"{README}: missing: the {LATENCY_START} ... {LATENCY_END} markers")
    body = LATENCY_FILE.read_text().split("\n", 3)[-1].strip() if LATENCY_FILE.is_file() else \
        f"Not measured yet: run `python -m benchmarks.latency --write {LATENCY_FILE.relative_to(ROOT)}`."
    block = (f"{LATENCY_START}\n**Latency and cost** (`python -m benchmarks.latency`, every built-in model on its first "
             f"deployable task; from [docs/models/latency.md](docs/models/latency.md)):\n\n{body}\n{LATENCY_END}")
    head, rest = readme.split(LATENCY_START, 1)
    return head + block + rest.split(LATENCY_END, 1)[1]


def render_all(leaderboard_dir: Path | None = None) -> dict[str, str]:
    board = csv_leaderboard(leaderboard_dir) if leaderboard_dir else readme_leaderboard()
    latency = latency_rows()
    return {name: render_card(name, board, latency) for name in builtin_models()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cards", description="Write or check docs/models/*.md.")
    parser.add_argument("--write", action="store_true", help="write docs/models/<name>.md for every model")
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed card is out of date")
    parser.add_argument("--leaderboard", type=Path, default=None, help="a run folder with leaderboard.csv "
                        "(default: README's leaderboard block)")
    args = parser.parse_args(argv)
    if args.leaderboard is not None and not (args.leaderboard / "leaderboard.csv").is_file():
        print(f"--leaderboard: missing: {args.leaderboard / 'leaderboard.csv'}", file=sys.stderr)
        return 2
    cards = render_all(args.leaderboard)
    stale = [n for n, text in cards.items() if not (CARDS_DIR / f"{n}.md").is_file()
             or (CARDS_DIR / f"{n}.md").read_text() != text]
    readme = README.read_text()
    if readme_with_latency(readme) != readme:
        stale.append("README latency block")
    if args.write:
        CARDS_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in cards.items():
            (CARDS_DIR / f"{name}.md").write_text(text)
        README.write_text(readme_with_latency(readme))
        print(f"wrote {len(cards)} cards to {CARDS_DIR.relative_to(ROOT)}/ and README's latency block "
              f"({len(stale)} changed)")
        return 0
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python -m benchmarks.cards --write`", file=sys.stderr)
        return 1
    print(f"{len(cards)} cards current")
    return 0


def main_card(argv: list[str]) -> int:
    """`zoo card MODEL`: print the model's card (as committed, else rendered now)."""
    parser = argparse.ArgumentParser(prog="zoo card", description="Print a model's card.")
    parser.add_argument("model")
    args = parser.parse_args(argv)
    from zoo.registry import model_entry

    model_entry(args.model)  # unknown names: one-line error with the choices
    path = CARDS_DIR / f"{args.model}.md"
    text = path.read_text() if path.is_file() else render_card(args.model, readme_leaderboard(), latency_rows())
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
