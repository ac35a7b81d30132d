"""Cell isolation: cells run in long-lived worker processes (imports paid once per worker).

A Python error inside a cell is caught and recorded by the cell itself. If the worker process dies
(segfault, out-of-memory kill) or a cell exceeds its time limit, the parent records that cell as
failed with the reason and starts a fresh worker; the suite goes on.

Workers die with their runner (see `zoo.bench.lock.die_with_parent`): a runner killed with SIGKILL leaves no
worker training on, so a rerun never trains a cell a second time beside an orphan.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from zoo.bench.cell import cell_dir
from zoo.bench.io import write_json_atomic
from zoo.bench.suite import Cell

CONTEXT = mp.get_context("spawn")  # a clean interpreter per worker: no forked torch threads or h5py handles


RECYCLE_RSS_BYTES = 3 << 30  # a worker holding more than this after a cell is replaced by a fresh one


def resident_bytes() -> int | None:
    """Current resident memory of this process (Linux); None where /proc is unavailable."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _worker(conn: Connection, out_dir: str, threads: int | None, parent_pid: int | None = None,
            lifeline: Connection | None = None) -> None:
    if parent_pid is not None:
        from zoo.bench.lock import die_with_parent

        die_with_parent(parent_pid, lifeline)
    from zoo.bench.cell import run_cell

    while True:
        cell = conn.recv()
        if cell is None:
            return
        record = run_cell(cell, Path(out_dir), threads)
        conn.send(record)
        gc.collect()
        rss = resident_bytes()
        if rss is not None and rss > RECYCLE_RSS_BYTES:
            return  # allocator arenas and library caches outlive cells; the parent starts a fresh worker


@dataclass
class Worker:
    process: Any
    conn: Connection
    cell: Cell | None = None
    started: float = 0.0
    lifeline: Connection | None = None  # the parent's end: its closing (the parent's death) ends the worker


# Native thread pools read these once, at import: a worker's numpy/scipy (OpenBLAS) would otherwise start
# one thread per core next to torch's, and two workers on two cores then run a small matrix product ~10x
# slower than one thread does.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _spawn(out_dir: Path, threads: int | None) -> Worker:
    parent, child = CONTEXT.Pipe()
    keep, give = CONTEXT.Pipe(duplex=False)  # (reader, writer): the worker reads; only the parent holds the writer
    process = CONTEXT.Process(target=_worker, args=(child, str(out_dir), threads, os.getpid(), keep), daemon=True)
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    if threads:
        os.environ.update({k: str(threads) for k in THREAD_ENV})
    try:
        process.start()  # the spawned interpreter inherits the environment as it is now
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    child.close()
    keep.close()
    return Worker(process, parent, lifeline=give)


def _died(cell: Cell, out_dir: Path, reason: str, started: float) -> dict[str, Any]:
    record = {"key": cell.key, "fingerprint": cell.fingerprint, **cell.to_dict(), "status": "failed",
              "error": reason, "wall_time_s": round(time.time() - started, 2)}
    write_json_atomic(cell_dir(out_dir, cell) / "metrics.json", record)
    return record


def run_isolated(cells: list[Cell], out_dir: Path, *, jobs: int = 1, threads: int | None = None,
                 timeout_s: float | None = None, on_start: Callable[[Cell], None] | None = None) -> Iterator[dict]:
    """Yield each cell's record as it finishes (order of completion)."""
    pending = list(cells)
    workers = [_spawn(out_dir, threads) for _ in range(min(jobs, len(pending)))]
    try:
        while pending or any(w.cell is not None for w in workers):
            for i, w in enumerate(workers):
                if w.cell is None and pending and not w.process.is_alive():  # recycled after its last cell
                    w.process.join()
                    workers[i] = w = _spawn(out_dir, threads)
                if w.cell is None and pending:
                    w.cell, w.started = pending.pop(0), time.time()
                    if on_start:
                        on_start(w.cell)
                    w.conn.send(w.cell)
            busy = [w for w in workers if w.cell is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
            for i, w in enumerate(workers):
                if w.cell is None:
                    continue
                if w.conn in ready:
                    try:
                        record = w.conn.recv()
                    except EOFError:  # died while sending
                        record = None
                    if record is not None:
                        w.cell = None
                        yield record
                        continue
                timed_out = timeout_s is not None and time.time() - w.started > timeout_s
                if not w.process.is_alive() or timed_out:
                    if timed_out:
                        w.process.kill()
                    w.process.join()
                    code = w.process.exitcode
                    reason = (f"cell exceeded its time limit of {timeout_s:.0f} s" if timed_out else
                              f"worker process died with exit code {code}"
                              + (" (killed by signal; out of memory?)" if code is not None and code < 0 else ""))
                    cell, started = w.cell, w.started
                    workers[i] = _spawn(out_dir, threads)
                    yield _died(cell, out_dir, reason, started)
    finally:
        for w in workers:
            if w.process.is_alive():
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                w.process.join(timeout=5)
                if w.process.is_alive():
                    w.process.kill()
