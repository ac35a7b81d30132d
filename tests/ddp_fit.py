"""Fit-and-test runs through the zoo's one training path (`zoo.lightning_cli.build_cli`), on 1 or N CPU processes.

    python tests/ddp_fit.py CASES.json OUT.json      # CASES: list of {"name", "config"}; run by tests/test_ddp.py

With `trainer.strategy: ddp` and `devices: N` in a case's configuration, Lightning's launcher starts this script
N - 1 more times (with LOCAL_RANK set); every process runs the cases in the same order, so each case is one
N-process DDP fit, test and predict (into the case's `predictions.output`). Process 0 writes `{name: {"metrics", "checkpoints", "stats", "steps"}}` to OUT.json,
where `stats` is every process's hash of the normalisation statistics (they must be equal).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def stats_hash(dm) -> str:
    digest = hashlib.sha1()
    for key in sorted(dm.stats):
        digest.update(key.encode() + dm.stats[key].tobytes())
    return digest.hexdigest()[:16]


def fit_and_test(config: dict[str, Any]) -> dict[str, Any]:
    """Fit, then test the best-validation checkpoint; the test metrics, the checkpoint files written and the
    normalisation statistics' hash of every process."""
    import torch.distributed as dist

    from zoo.bench.cell import quiet_lightning
    from zoo.lightning_cli import build_cli

    quiet_lightning()
    cli = build_cli(config)
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    trainer.fit(model, datamodule=dm)
    results = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    trainer.predict(model, datamodule=dm, return_predictions=False)  # process 0 writes predictions.output
    hashes = [stats_hash(dm)]
    if dist.is_available() and dist.is_initialized():
        hashes = [None] * dist.get_world_size()
        dist.all_gather_object(hashes, stats_hash(dm))
    folder = Path(trainer.checkpoint_callback.dirpath)
    return {"metrics": {k: float(v) for k, v in results.items()}, "stats": hashes, "steps": trainer.global_step,
            "checkpoints": sorted(p.name for p in folder.glob("*.ckpt")), "rank": trainer.global_rank,
            "world_size": trainer.world_size}


def main(cases_file: str, out_file: str) -> None:
    cases = json.loads(Path(cases_file).read_text())
    out = {}
    for case in cases:
        print(f"ddp_fit: {case['name']}", file=sys.stderr, flush=True)
        out[case["name"]] = fit_and_test(case["config"])
    if all(r["rank"] == 0 for r in out.values()):
        Path(out_file).write_text(json.dumps(out, indent=1))


def leave() -> None:
    """End the process without C++ static destructors: with a gloo process group alive at interpreter exit the
    process sometimes aborted ("terminate called without an active exception", exit -6) after all its work was
    written (seen once in a fresh-clone `make test`)."""
    import os

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
    leave()
