"""File names inside an output directory, checked so that no name can escape it.

Run ids become file names (``VARIANT__DATASET__sSEED__HASH``); variant names come from plugins.
Registered names are already restricted (``specs.NAME_RE``), but every path the results store,
the checkpoints and the locks build goes through :func:`safe_child` as well.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

from ganbench.api.errors import UsageError

# letters, digits and . _ - + [ ] = ; no separators, no leading dot, no NUL, at most 200 chars
SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\[\]=-]{0,199}")
STATE_DIR = ".ganbench"  # checkpoints and locks, hidden from the results loader


def check_name(name: str) -> str:
    """``name`` if it is a safe single file name, else UsageError."""
    if not isinstance(name, str) or not SAFE_NAME_RE.fullmatch(name):
        raise UsageError(f"unsafe run name {name!r}: names may use letters, digits and "
                         "'._+-[]=' (no path separators, no leading dot)")
    return name


def safe_child(directory: Union[str, Path], name: str, suffix: str = "") -> Path:
    """``directory/name+suffix``, refusing any name that could land outside ``directory``."""
    path = Path(directory) / (check_name(name) + suffix)
    base = Path(directory).resolve()
    if path.resolve().parent != base:  # e.g. a symlinked name pointing elsewhere
        raise UsageError(f"run file '{path}' would be written outside '{directory}'")
    return path


def state_dir_path(out_dir: Union[str, Path], run_id: str, suffix: str) -> Path:
    """Where a run's checkpoint or lock lives: ``OUT/.ganbench/RUN_ID+suffix``. A state
    directory that is a symlink (or not a directory) is refused: following it would read,
    write and delete checkpoints and locks outside the output directory."""
    state = Path(out_dir) / STATE_DIR
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise UsageError(f"'{state}' is a symlink or not a directory: ganbench keeps its "
                         "checkpoints and locks only inside the output directory; remove it")
    path = safe_child(state, run_id, suffix)
    if path.is_symlink():
        raise UsageError(f"'{path}' is a symlink: ganbench will not follow it; remove it")
    return path


def current_umask() -> int:
    """This process's umask, read without changing it (Linux: /proc/self/status); elsewhere
    set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def refuse_symlink(path: Path) -> Path:
    """``path``, unless it is a symlink (UsageError: ganbench does not follow it)."""
    if path.is_symlink():
        raise UsageError(f"'{path}' is a symlink: ganbench will not follow it; remove it")
    return path


def atomic_write(path: Union[str, Path], data: Union[bytes, Callable[[BinaryIO], None]]
                 ) -> Path:
    """Write ``data`` (bytes, or a function that writes into the binary file it is given) to
    ``path`` atomically: a temporary file in the same directory, fsync, rename. A reader never
    sees a half-written file, and a crash leaves at most a stray temporary (``.NAME.*.tmp``).
    The file gets the mode a plain ``open`` would give it (0666 less the umask), not
    ``mkstemp``'s 0600, so colleagues sharing the output directory can read it. A symlink at
    ``path`` is refused (UsageError), neither followed nor replaced. The one atomic writer of
    ganbench: run files, checkpoints, artifacts, pictures, reports, exports."""
    path = refuse_symlink(Path(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(f.fileno(), 0o666 & ~current_umask())
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
