"""One suite cell as its own command, for cells that span processes (several devices or nodes, DDP):

    python -m zoo.bench.cell_process OUT/cells/<key>/cell.pkl OUT THREADS

The suite worker starts it (`zoo.bench.cell.run_cell`) and waits; Lightning's launcher starts the cell's other
local ranks by running this same command again (with LOCAL_RANK set), and under SLURM every task runs it. Each
process trains its share; rank 0 writes the cell's files. Every process ends with the one that started it.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m zoo.bench.cell_process CELL.pkl OUT_DIR THREADS", file=sys.stderr)
        return 2
    from zoo.bench.lock import die_with_parent

    die_with_parent(os.getppid())
    from zoo.bench.cell import _run_cell, cell_dir, quiet_lightning

    if not Path(args[0]).is_file():
        print(f"{args[0]}: expected the cell file a suite worker writes (cells/<key>/cell.pkl); found: no such file",
              file=sys.stderr)
        return 2
    cell = pickle.loads(Path(args[0]).read_bytes())
    out_dir = Path(args[1])
    quiet_lightning()
    record = _run_cell(cell, out_dir, cell_dir(out_dir, cell), int(args[2]) or None)
    return 0 if record.get("status") == "ok" else 1


def leave(code: int) -> None:
    """Exit without C++ static destructors once the cell's files are written: with a gloo process group alive at
    interpreter exit a process can abort ("terminate called without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    leave(main())
