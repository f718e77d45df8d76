"""The workspace lock: runs and sensors share it, an erasure holds it alone.

An erasure rewrites files that runs read and write, so a run must not start while one is
going on, and an erasure must wait for the runs in flight. Written on `fcntl.flock`
because it has shared and exclusive modes (filelock, which guards the keyring, has only
exclusive ones), and the kernel drops a dead process's lock, so a crash never leaves the
workspace locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WorkspaceBusy(RuntimeError):
    """The lock could not be had within the wait; says who holds it in general terms."""


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _acquire(fd: int, mode: int, wait: float, why: str) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise WorkspaceBusy(f"{why} (waited {wait:.0f} s)") from None
            time.sleep(0.2)


@contextmanager
def _held(path: Path, mode: int, wait: float, why: str) -> Iterator[None]:
    fd = _open(path)
    try:
        _acquire(fd, mode, wait, why)
        yield
    finally:
        os.close(fd)


def shared(path: Path, wait: float):
    """Held by a run for its whole execution: many at once, none during an erasure."""
    return _held(path, fcntl.LOCK_SH, wait, f"an erasure holds the workspace lock {path}; run again when it is done")


def exclusive(path: Path, wait: float):
    """Held by an erasure: it waits for the runs in flight, and no run starts meanwhile."""
    return _held(path, fcntl.LOCK_EX, wait, f"runs still hold the workspace lock {path}; erasure waits for them")


def one_at_a_time(path: Path, wait: float, what: str):
    """Held by a run's step of one asset and partition: a second run of the same step waits
    for the first, since both would write the partition's files at once."""
    return _held(path, fcntl.LOCK_EX, wait, f"another run is materializing {what}; run again when it is done")


def busy(path: Path) -> bool:
    """True while an erasure holds the lock (what a sensor asks before it starts anything)."""
    if not path.exists():
        return False
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
