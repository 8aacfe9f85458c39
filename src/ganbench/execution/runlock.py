"""One lock per run, so two processes sharing an output directory never train the same run.

The lock is an OS lock: ``fcntl.flock`` on ``OUT/.ganbench/RUN_ID.lock``, held for as long as
the owning process keeps the file open. The kernel drops it when that process exits in any way
(SIGKILL and power loss included), so a lock can never go stale: an empty lock file, a file left
by a killed run, or one naming a PID that now belongs to an unrelated process (PID reuse after a
reboot) is simply free. The ``pid host`` text inside the file is for messages only ("being
trained by ..."); it is never used to decide who owns the run.

On Linux, ``flock`` on NFS (v4, and v3 with lockd) is carried out as a POSIX byte-range lock on
the server, so processes on different hosts sharing an output directory exclude each other too.

Releasing unlinks the file while still holding the lock. A process that opened the old file just
before the unlink may then lock that orphaned inode; ``acquire`` therefore checks after locking
that the path still names the inode it locked, and starts again otherwise.
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat
from pathlib import Path
from typing import Optional, Union

from ganbench.api.errors import UsageError
from ganbench.store.safepath import state_dir_path

MAX_OWNER_BYTES = 4096  # the owner text is a short "pid host" line; never read more


def lock_path(out_dir: Union[str, Path], run_id: str) -> Path:
    return state_dir_path(out_dir, run_id, ".lock")


class RunLock:
    """``acquire()`` returns True when this process now owns the run; ``release()`` frees it."""

    def __init__(self, out_dir: Union[str, Path], run_id: str):
        self.path = lock_path(out_dir, run_id)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # each retry means another process released it meanwhile
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                         | os.O_NONBLOCK, 0o644)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UsageError(f"'{self.path}' is not a regular file; ganbench keeps its "
                                     "run locks there: remove it")
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.lstat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # locked a file its owner had just unlinked: try the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            self._fd = fd
            return True
        return False

    def owner(self) -> Optional[str]:
        """``pid host`` written by the holder, or None when unknown. For messages only."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            text = os.read(fd, MAX_OWNER_BYTES).decode("utf-8", "replace").strip()
        except OSError:
            return None
        finally:
            os.close(fd)
        return text or None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: nobody can lock this inode and keep it
        except OSError:
            pass
        os.close(self._fd)  # drops the lock
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
