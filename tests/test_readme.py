"""The README against the code: the model table's tasks and parameter counts come from the registry (as
`zoo list` computes them), every built-in model has a row, and the first code block names the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datamodules.tasks import get_task, list_tasks
from zoo.models.closed_form import ClosedFormModel
from zoo.registry import format_count, list_models, model_entry, preset_parameter_counts

README = Path(__file__).resolve().parents[1] / "README.md"
COLUMNS = ["model", "paper", "tasks", "small preset (CPU)", "paper preset"]
TASK_PHRASES = {  # what the tasks column may say instead of listing them
    "all tasks": set(list_tasks()),
    "all supervised tasks": {t for t in list_tasks() if not get_task(t).self_supervised},
}


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """Cells of the first markdown table in `text`, header first, the |---| rule dropped."""
    lines = text.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not all(set(c) <= set("-: ") for c in cells):
            rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def model_table() -> dict[str, dict[str, str]]:
    header, *body = table_rows(section(README.read_text(), "Models"))
    assert header == COLUMNS
    assert all(len(row) == len(COLUMNS) for row in body)
    table = {}
    for row in body:
        name = re.fullmatch(r"`([a-z0-9_]+)`", row[0])
        assert name, f"model cell should be a `name`, found {row[0]!r}"
        assert name[1] not in table, f"two rows for {name[1]}"
        table[name[1]] = dict(zip(COLUMNS, row))
    return table


def builtin_models() -> list[str]:
    return [n for n in list_models() if model_entry(n).source.startswith("zoo.")]  # plugins (bigru) excluded


def test_every_builtin_model_has_a_row_and_no_row_is_stale(model_table):
    assert sorted(model_table) == sorted(builtin_models())


def test_table_parser_reads_cells():
    rows = table_rows("| a | b |\n|---|:-:|\n| `x` | 1.50 M |\n\ntext")
    assert rows == [["a", "b"], ["`x`", "1.50 M"]]


@pytest.mark.parametrize("name", builtin_models())
def test_tasks_column_matches_the_registry(name, model_table):
    cell, tasks = model_table[name]["tasks"], model_entry(name).tasks
    if cell in TASK_PHRASES:
        assert set(tasks) == TASK_PHRASES[cell]
    else:  # listed in the registry's order: the first is the primary task the counts are for
        assert [t.strip() for t in cell.split(",")] == list(tasks)


@pytest.mark.parametrize("name", builtin_models())
def test_parameter_counts_match_zoo_list(name, model_table):
    counts = preset_parameter_counts(name)
    assert set(counts) == {"small", "paper"}
    for preset, column in (("small", "small preset (CPU)"), ("paper", "paper preset")):
        cell = model_table[name][column]
        if cell == "closed form":
            assert issubclass(model_entry(name).cls, ClosedFormModel) and counts[preset] == 0
        else:
            assert cell == format_count(counts[preset]), f"{name} {preset}: README {cell}, registry {counts[preset]}"


def test_format_count_matches_the_readme_style():
    assert [format_count(n) for n in (0, 999, 98_765, 1_503_000, 24_700_000)] == \
        ["0", "999", "98.8 k", "1.50 M", "24.70 M"]


def test_first_code_block_is_make_bench_and_make_test():
    block = re.search(r"```[^\n]*\n(.*?)```", README.read_text(), flags=re.S)
    assert block, "README has no code block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert "make bench" in commands and "make test" in commands


def test_every_local_link_and_figure_of_the_readme_exists():
    text = README.read_text()
    targets = re.findall(r"\]\(((?:docs|experiments|examples|benchmarks)/[^)#\s]+)", text)
    assert len(targets) > 10
    missing = [t for t in targets if not (README.parent / t).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
