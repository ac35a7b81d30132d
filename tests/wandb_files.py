"""Reading W&B offline run folders in tests: their records, run metadata and logged tables."""

from __future__ import annotations

import json
from pathlib import Path


def wandb_records(path: Path):
    """Protobuf records of an offline `.wandb` file (LevelDB log format: 7-byte file header, 32 KiB blocks,
    each record chunk = crc32 (4) + length (2) + type (1) + data)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        room = block - pos % block
        if room < 7:  # block trailer padding
            pos += room
            continue
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def run_meta(run_dir: Path) -> tuple[str, str, str]:
    """(run id, group, job_type) of an offline run folder."""
    for run_file in run_dir.glob("*.wandb"):
        for record in wandb_records(run_file):
            if record.WhichOneof("record_type") == "run":
                return record.run.run_id, record.run.run_group, record.run.job_type
    raise AssertionError(f"{run_dir}: no run record")


def offline_runs(out: Path) -> dict[str, tuple[str, str]]:
    """run id -> (group, job_type) of every offline run under `out/wandb/wandb/`."""
    runs = {}
    for run_dir in sorted((out / "wandb" / "wandb").glob("offline-run-*")):
        run_id, group, job_type = run_meta(run_dir)
        runs[run_id] = (group, job_type)
    return runs


def logged_table(out: Path, run_id: str, key: str) -> dict:
    """The JSON of a table logged under `key` by run `run_id` (W&B stores it under files/media/table/)."""
    [run_dir] = sorted((out / "wandb" / "wandb").glob(f"offline-run-*-{run_id}"))
    [table] = sorted(run_dir.glob(f"files/media/table/{key}_*.table.json"))
    return json.loads(table.read_text())
