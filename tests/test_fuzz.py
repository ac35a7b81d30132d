"""Property-based fuzzing of the data entry points (hypothesis): whatever the file or folder holds, `zoo data
validate` and `zoo data import` end in a verdict or a message naming the path, never in a traceback.

Each entry point runs FUZZ_EXAMPLES (500) derandomised cases: the same cases on every run, so CI is
reproducible; `HYPOTHESIS_PROFILE=explore` draws fresh ones (and more) when hunting for new failures.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamodules.validate import validate_file
from zoo.cli import main as zoo_main

from fake_recordings import make_fake_recording
from fuzz_inputs import corrupt, corruptions, csv_text, events_text, inventory, sidecar_text, write_study

FUZZ_EXAMPLES = 500
settings.register_profile("ci", max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("explore", max_examples=5 * FUZZ_EXAMPLES, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
COUNTS: dict[str, int] = {}
OUTCOMES: dict[int, int] = {}  # import exit status -> cases (both must occur, or the fuzzer never gets past a check)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


_case = itertools.count()


def fresh(workdir: Path) -> Path:
    folder = workdir / f"case{next(_case)}"
    folder.mkdir()
    return folder


def run_zoo(argv: list[str]) -> tuple[int, str, str]:
    """`zoo ARGV` in this process: (exit status, stdout, stderr); an exception other than the user errors the
    command line turns into a message escapes (a traceback: what these tests look for)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = zoo_main(argv)
    return code, out.getvalue(), err.getvalue()


TEMPLATE: dict[str, object] = {}


def template(workdir: Path):
    if not TEMPLATE:
        path = make_fake_recording(workdir / "template.h5", n_subjects=1, trials=("walk",), seconds=0.6,
                                   grid=(4, 3), keypoints=("heel", "toe", "knee"))
        TEMPLATE.update(path=path, bytes=path.read_bytes(), inventory=inventory(path))
    return TEMPLATE


def test_the_template_recording_is_valid(workdir):
    assert validate_file(template(workdir)["path"]) == []


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_zoo_data_validate_on_corrupted_recordings_names_the_path(workdir, data):
    t = template(workdir)
    changes = data.draw(st.lists(corruptions(t["inventory"]), min_size=1, max_size=3), label="corruptions")
    path = fresh(workdir) / "broken.h5"
    corrupt(t["bytes"], path, changes)
    code, out, err = run_zoo(["data", "validate", str(path)])
    lines = out.splitlines()
    assert code in (0, 1) and not err and lines
    assert all(line.startswith(f"{path}:") for line in lines), lines
    if code == 0:
        assert len(lines) == 1 and lines[0].startswith(f"{path}: OK (")
    else:
        assert len(lines) >= 2 and lines[-1].endswith(("problem", "problems"))
    COUNTS["validate"] = COUNTS.get("validate", 0) + 1
    shutil.rmtree(path.parent)


def check_import(root: Path) -> None:
    out = root / "out.h5"
    code, stdout, err = run_zoo(["data", "import", str(root), "--out", str(out)])
    OUTCOMES[code] = OUTCOMES.get(code, 0) + 1
    if code == 0:
        assert out.is_file() and f"wrote {out}" in stdout
        validate_file(out)  # never raises; what it reports (e.g. NaN from empty cells) is the user's to fix
    else:
        assert code == 2 and err.startswith("zoo data: error: "), err
        assert str(root) in err, err  # the message names the file (or folder) at fault
        assert not out.exists() and not list(root.glob("*.partial"))  # nothing half-written


@settings(settings.get_profile(PROFILE))
@given(table=csv_text())
def test_zoo_data_import_of_random_csv_files_names_the_path(workdir, table):
    root = write_study(fresh(workdir), yaml_sidecar(), table, None)
    check_import(root)
    COUNTS["import_csv"] = COUNTS.get("import_csv", 0) + 1
    shutil.rmtree(root)


@settings(settings.get_profile(PROFILE))
@given(sidecar=sidecar_text(), events=st.one_of(st.none(), events_text()))
def test_zoo_data_import_of_random_sidecars_and_events_names_the_path(workdir, sidecar, events):
    root = write_study(fresh(workdir), sidecar, GOOD_CSV, events)
    check_import(root)
    COUNTS["import_sidecar"] = COUNTS.get("import_sidecar", 0) + 1
    shutil.rmtree(root)


GOOD_CSV = "time,R_FOOT_gyr_z,p_right_r0_c0,p_right_r0_c1\n" + "".join(
    f"{i / 100!r},{0.1 * i!r},{i % 3},{i % 5}\n" for i in range(20))


def yaml_sidecar() -> str:
    return "body_mass_kg: 70\nheight_m: 1.75\nsample_rate_hz: 100\npressure_cell_size_m: [0.01, 0.01]\n"


def test_the_fuzzers_base_inputs_import(workdir):
    root = write_study(fresh(workdir), yaml_sidecar(), GOOD_CSV, "foot,event,sample\nright,heel_strike,3\n")
    (root / "S01" / "subject.yaml").write_text(yaml_sidecar() + "trials: {walk: {events: walk.events.csv}}\n")
    code, out, err = run_zoo(["data", "import", str(root), "--out", str(root / "out.h5")])
    assert (code, err) == (0, "") and "S01/walk: 20 samples at 100 Hz" in out


def test_every_entry_point_ran_its_cases():
    """Printed by `pytest -s`; fails if a fuzz test above was skipped or cut short."""
    print(f"fuzz cases run: {COUNTS}; import exit status -> cases: {OUTCOMES}")
    assert set(COUNTS) == {"validate", "import_csv", "import_sidecar"}
    assert all(n >= FUZZ_EXAMPLES for n in COUNTS.values()) or PROFILE != "ci", COUNTS
    assert OUTCOMES.get(0, 0) >= 50 and OUTCOMES.get(2, 0) >= 50, OUTCOMES
