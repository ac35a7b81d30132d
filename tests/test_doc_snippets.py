"""Every Python code block of README.md and docs/*.md runs as written.

The blocks of one file run in order in one namespace (a later block may use what an earlier one defined), in a
temporary working folder (snippets write files such as `lab.h5`), with simulator sources (`sim:tiny`) cached
where the rest of the zoo caches them. A block that cannot run here is preceded by

    <!-- no-test: why -->

and `<!-- no-test: excerpt of PATH -->` marks an excerpt of a file in the repository: every line of such a block
must then appear in PATH, so the excerpt cannot drift from the code that is tested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!--\s*no-test:(?P<why>.*?)-->\s*\n)?^(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)^[ \t]*```",
                   flags=re.M | re.S)
EXCERPT = re.compile(r"excerpt of (\S+)")


def blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, no-test reason or None) of every ```python block of a markdown file."""
    text = path.read_text()
    out = []
    for m in BLOCK.finditer(text):
        indent = len(m["indent"])
        code = "\n".join(line[indent:] for line in m["code"].splitlines())
        out.append((text.count("\n", 0, m.start("code")) + 1, code, m["why"].strip() if m["why"] else None))
    return out


def with_code(paths: list[Path]) -> list[Path]:
    return [p for p in paths if blocks(p)]


def test_docs_hold_python_blocks_and_skips_say_why():
    found = {p.name: blocks(p) for p in DOCS}
    assert sum(len(b) for b in found.values()) >= 10, found.keys()
    for name, items in found.items():
        for line, _code, why in items:
            assert why is None or len(why) >= 10, f"{name}:{line}: a no-test marker must say why"


@pytest.mark.parametrize("path", with_code(DOCS), ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_DATA_DIR", str(ROOT / "data" / "generated"))  # reuse simulator caches
    namespace: dict = {"__name__": f"doc_{path.stem.lower()}"}
    ran = 0
    for line, code, why in blocks(path):
        if why is not None:
            excerpt = EXCERPT.search(why)
            if excerpt:
                source = (ROOT / excerpt[1]).read_text()
                lines = [s.strip() for s in code.splitlines() if s.strip()]
                absent = [s for s in lines if s not in source]
                assert not absent, f"{path.name}:{line}: lines not in {excerpt[1]}: {absent}"
            continue
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name}, block at line {line}: {type(exc).__name__}: {exc}") from exc
        ran += 1
    assert ran or all(why for _, _, why in blocks(path))
