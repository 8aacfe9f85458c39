"""One lock file per run, so two processes sharing an output directory never train the same run.

The lock is ``OUT/.ganbench/RUN_ID.lock``, created with ``O_CREAT | O_EXCL`` (atomic on local
file systems) and holding ``pid host``. A lock whose process is gone (same host, pid not alive:
a run killed with SIGKILL) is stale and is taken over; a lock held by a live process, or by a
process on another host, is respected.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Optional, Union

from ganbench.safepath import state_dir_path


def lock_path(out_dir: Union[str, Path], run_id: str) -> Path:
    return state_dir_path(out_dir, run_id, ".lock")


class RunLock:
    """``acquire()`` returns True when this process now owns the run; ``release()`` frees it."""

    def __init__(self, out_dir: Union[str, Path], run_id: str):
        self.path = lock_path(out_dir, run_id)
        self.held = False

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._remove_if_stale():
                    return False
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {socket.gethostname()}\n")
            self.held = True
            return True
        return False

    def owner(self) -> Optional[str]:
        """``pid host`` of the holder, or None when the lock is free or unreadable."""
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def _remove_if_stale(self) -> bool:
        owner = self.owner()
        if owner is None:  # being written right now, or vanished: try again / respect it
            return not self.path.exists()
        try:
            pid_text, host = owner.split(" ", 1)
            pid = int(pid_text)
        except ValueError:
            pid, host = -1, socket.gethostname()  # garbage in the lock file: stale
        if host != socket.gethostname() or (pid > 0 and _alive(pid)):
            return False
        # stale: move it aside under a unique name first, so two processes that both saw it
        # stale cannot both delete a fresh lock the other has just created
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except OSError:
            return True  # someone else took it over; retry the exclusive create
        try:
            moved = aside.read_text().strip()
        except OSError:
            moved = owner
        if moved != owner:  # a fresh lock was created in between: put it back
            try:
                os.link(aside, self.path)
            except OSError:
                pass
            os.unlink(aside)
            return False
        os.unlink(aside)
        return True

    def release(self) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.held = False

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # exists, owned by someone else
    return True
