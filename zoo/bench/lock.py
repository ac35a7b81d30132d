"""Who may work in an output folder, and workers that cannot outlive their runner.

- `FolderLock`: one runner (or merge) per output folder. An exclusive `flock` on `OUT/.zoo-bench.lock`, which
  holds the holder's PID for the message a second runner gets. The kernel drops the lock when the holder's
  process ends however it ends (SIGKILL included), so a lock left by a killed runner is simply taken over: there
  is no stale-PID guessing. (On a platform without `fcntl`, i.e. Windows, the lock is an exclusively created
  file instead, and a stale one must be removed by hand: the message says so.)
- `CellLock`: the same on `cells/<key>/.lock`, held by the worker while it trains the cell. A worker that finds
  it taken waits for it (and says so): two processes never train one cell at once, whatever happened before.
- `die_with_parent`: a worker asks the kernel to SIGKILL it when its runner dies (Linux `prctl
  PR_SET_PDEATHSIG`). Elsewhere a thread blocks on a pipe the runner holds open and ends the worker when the
  pipe closes, which the OS does when the runner dies. Neither polls.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from pathlib import Path
from typing import IO

from zoo.errors import ZooError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".zoo-bench.lock"


class FolderBusy(ZooError):
    """Another runner works in this output folder; the message names its PID."""


def _read_pid(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


class FolderLock:
    """`with FolderLock(out_dir, "zoo bench"):` -- raises `FolderBusy` naming the holder's PID if taken."""

    def __init__(self, folder: Path, what: str = "zoo bench") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self._fh: IO[str] | None = None

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - Windows fallback
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                raise FolderBusy(f"{self.path.parent}: another runner (PID {_read_pid(self.path)}) holds "
                                 f"{self.path}; if that process is gone, delete the file") from None
            self._fh = os.fdopen(fd, "w")
        else:
            fh = open(self.path, "a+")  # noqa: SIM115 - held open for as long as the lock is held
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise FolderBusy(f"{self.path.parent}: another {self.what} (PID {holder}) is working in this "
                                 "folder; wait for it to finish or use another --out") from None
            self._fh = fh
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{os.getpid()}\n")
        self._fh.flush()
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        if fcntl is None:  # pragma: no cover - Windows fallback
            self._fh.close()
            self.path.unlink(missing_ok=True)
        else:
            # Empty the PID before unlocking; the file stays (unlinking it would race with a waiting locker).
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.flush()
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
        self._fh = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class CellLock:
    """Exclusive lock on one cell folder for the duration of a training; waits if another process holds it.

    `waited` tells whether the cell was busy when asked for (the chaos benchmark counts such events: with
    workers dying with their runner it stays at zero)."""

    def __init__(self, cell_folder: Path) -> None:
        self.path = Path(cell_folder) / ".lock"
        self._fh: IO[str] | None = None
        self.waited = False

    def __enter__(self) -> CellLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")  # noqa: SIM115
        if fcntl is not None:
            try:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._fh.seek(0)
                holder = self._fh.read().strip() or "unknown"
                self.waited = True
                print(f"zoo bench: cell {self.path.parent.name} is being trained by PID {holder}; waiting for it",
                      file=sys.stderr, flush=True)
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{os.getpid()}\n")
        self._fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.flush()
            if fcntl is not None:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int, lifeline=None) -> str:
    """Make this (worker) process end when `parent_pid` ends; returns which mechanism is in place.

    Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, then a check that the parent did not die before the call.
    Elsewhere: a daemon thread blocks on `lifeline` (the child end of a pipe whose other end only the parent
    holds) and exits the process on end-of-file."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent_pid:  # the parent died before prctl took effect
                    os._exit(1)
                return "prctl"
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if lifeline is None:  # pragma: no cover - documented: a worker without a lifeline relies on the pipe of cells
        return "none"

    def wait_for_parent() -> None:
        try:
            while True:
                lifeline.recv()  # nothing is ever sent; returns only by EOFError when the parent is gone
        except (EOFError, OSError):
            os._exit(1)

    threading.Thread(target=wait_for_parent, name="zoo-lifeline", daemon=True).start()
    return "lifeline"

