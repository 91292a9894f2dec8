# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A counting semaphore and named locks shared by every process on this machine.

One ``sls_package`` process runs per region host (``forks: 8``), each with its own thread pool, yet the
whole run must never package more than N services at once. ``SlotPool`` is N lock files in a shared
folder: holding an ``fcntl.flock`` on one of them is holding a slot. The kernel drops a lock when its
process dies, so a killed run never leaves a slot taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import threading
import time
from typing import Iterator, List, Optional

POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.05  # a freed slot is taken within ~50 ms; 8 lock files polled is cheap


class SlotPool:
    """``size`` slots in ``directory``; ``with pool.slots(k):`` holds k of them (all or nothing)."""

    def __init__(self, directory: str, size: int) -> None:
        if size < 1:
            raise ValueError(f"a slot pool needs at least 1 slot, got {size}")
        self.directory = directory
        self.size = size
        os.makedirs(directory, exist_ok=True)
        # flock locks belong to the open file description: two threads of one process holding two
        # descriptors of the same file would exclude each other, which is what we want.
        self._local = threading.Lock()

    def _path(self, index: int) -> str:
        return os.path.join(self.directory, f"slot-{index}.lock")

    def _try_take(self, index: int) -> Optional[int]:
        fd = os.open(self._path(index), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _try_take_many(self, count: int) -> List[int]:
        taken: List[int] = []
        start = random.randrange(self.size)  # spreads the processes over the files
        for offset in range(self.size):
            fd = self._try_take((start + offset) % self.size)
            if fd is not None:
                taken.append(fd)
                if len(taken) == count:
                    return taken
        self._release(taken)  # all or nothing: two waiters holding halves would otherwise deadlock
        return []

    @staticmethod
    def _release(fds: List[int]) -> None:
        for fd in fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def slots(self, count: int = 1) -> Iterator[float]:
        """Hold ``count`` slots (capped at the pool size); yields the seconds spent waiting."""
        count = max(1, min(count, self.size))
        started = time.monotonic()
        delay = POLL_SECONDS
        while True:
            with self._local:
                fds = self._try_take_many(count)
            if fds:
                break
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, MAX_POLL_SECONDS)
        try:
            yield time.monotonic() - started
        finally:
            self._release(fds)


@contextlib.contextmanager
def named_lock(directory: str, name: str) -> Iterator[None]:
    """An exclusive lock shared by all processes (blocking), e.g. the authorizer's packaging."""
    os.makedirs(directory, exist_ok=True)
    safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in name)
    fd = os.open(os.path.join(directory, f"lock-{safe}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
