"""``ganbench run``/``sweep`` below the command line: planned jobs → an executor → the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ganbench.execution.worker import Task, WorkerOptions

IN_PROCESS = ("auto", "local", "processes")  # the driver's device is the workers' device


def planning_device(args):
    """The device the plan (and the fast path) is checked against. Remote executors resolve
    ``--device`` on their workers, so a driver without a GPU may plan a CUDA sweep."""
    import torch

    from ganbench.api.errors import UsageError
    from ganbench.training.runner import resolve_device

    try:
        return resolve_device(args.device)
    except UsageError:
        if args.executor in IN_PROCESS or not str(args.device).strip().lower().startswith("cuda"):
            raise
        return torch.device(str(args.device).strip().lower())


def writable_dir(what: str, value: str) -> Path:
    """``value`` as a directory ganbench can write (created when missing), else UsageError
    naming ``what`` (an option or variable): not empty, not a file nor a device, not on a
    read-only file system. Checked once before training, as ``--out`` is, not in every run."""
    from ganbench.api.errors import UsageError
    from ganbench.store.results import check_writable
    from ganbench.planning.validate import check_path

    check_path(what, value)
    if os.path.exists(value) and not os.path.isdir(value):
        raise UsageError(f"{what} '{value}' exists and is not a directory")
    try:
        return check_writable(value)
    except UsageError as exc:  # its reason (strerror) after the path it names
        raise UsageError(f"cannot write to {what} '{value}': "
                         f"{str(exc).split(chr(39) + ': ', 1)[-1]}") from None


def private_dir(folder: str, what: str, loads: str, instead: str, create: bool = True) -> str:
    """``folder`` (created mode 0700 when missing and ``create``) if it is a directory of this
    user's that group and others cannot write, else UsageError: ganbench unpickles ``loads``
    from it, so whoever could write there could run code as this user."""
    import stat

    from ganbench.api.errors import UsageError

    try:
        if create:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
    except FileNotFoundError:
        return folder  # create=False: nothing there to load yet
    except OSError as exc:
        raise UsageError(f"cannot create {what} '{folder}': {exc.strerror or exc}") from None
    mode = stat.S_IMODE(st.st_mode)
    why = ("is not a directory" if not stat.S_ISDIR(st.st_mode)
           else f"is owned by another user (uid {st.st_uid})" if st.st_uid != os.geteuid()
           else f"may be written by others (mode {mode:o})" if mode & 0o002
           else f"may be written by group {st.st_gid} (mode {mode:o})"
           if mode & 0o020 and not _own_group(st.st_gid) else "")
    if why:
        raise UsageError(f"{what} '{folder}' {why}: ganbench unpickles {loads}, so it must be "
                         f"yours alone (chmod 700, or {instead})")
    return folder


def _own_group(gid: int) -> bool:
    """Whether ``gid`` is this user's private group (a group of one, named after the user, as
    with umask 002 on many Linux systems), so that its write bit lets no one else in."""
    try:
        import grp
        import pwd

        group = grp.getgrgid(gid)
        return (gid == os.getegid() and not group.gr_mem
                and group.gr_name == pwd.getpwuid(os.geteuid()).pw_name)
    except (ImportError, KeyError):
        return False


def check_directories(args) -> None:
    """The directories the workers write besides ``--out``: ``--checkpoint-dir``,
    ``--tensorboard`` and ``$GANBENCH_CACHE_DIR`` (when given); and torch-fidelity's cache
    under the latter, which it loads with pickle (``torch.load(weights_only=False)``)."""
    from ganbench.evaluation.fidelity import cache_dir

    for what, value in (("--checkpoint-dir", args.checkpoint_dir),
                        ("--tensorboard", getattr(args, "tensorboard", None)),
                        ("GANBENCH_CACHE_DIR", os.environ.get("GANBENCH_CACHE_DIR"))):
        if value is not None:
            writable_dir(what, value)
    private_dir(str(cache_dir()), "the FID statistics cache", "(torch-fidelity loads) the "
                "statistics cached there", "point GANBENCH_CACHE_DIR at a private folder",
                create=False)


def execute(args, reg, jobs: list, device, fast, out: Path, log: Callable[[str], None],
            retrain=None):
    """Train ``jobs`` on the executor ``args`` names; returns their Outcomes. ``retrain``:
    run id -> current code identity of the stale runs to train again (see ``dispatch``)."""
    from ganbench.execution import executors

    check_directories(args)
    executors.choose(args, device, len(jobs))
    ex = executors.build(reg, args)
    ckdir = Path(os.path.abspath(args.checkpoint_dir)) if args.checkpoint_dir is not None else out
    opts = WorkerOptions(
        out=os.path.abspath(out), checkpoint_dir=str(ckdir),
        device=str(device) if args.executor in IN_PROCESS else args.device,
        data_root=os.path.abspath(args.data_root) if args.data_root else None,
        download=args.download, fast=fast, force=args.force, quiet=args.quiet,
        threads=args.threads if args.executor != "processes" else None,
        executor=args.executor, keep_generators=getattr(args, "keep_generators", "final"),
        tensorboard=(os.path.abspath(args.tensorboard)
                     if getattr(args, "tensorboard", None) is not None else None))
    if args.executor != "local" and jobs:
        log(f"ganbench: executor {ex.describe()}")
    return executors.dispatch(jobs, out, ex, lambda job, i, n: Task(job, i, n, opts),
                              checkpoint_dir=ckdir, force=args.force, retries=args.retries,
                              log=log, retrain=retrain)
