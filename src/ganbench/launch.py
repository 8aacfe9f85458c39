"""``ganbench run``/``sweep`` below the command line: planned jobs → an executor → the store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ganbench.work import Task, WorkerOptions

IN_PROCESS = ("auto", "local", "processes")  # the driver's device is the workers' device


def planning_device(args):
    """The device the plan (and the fast path) is checked against. Remote executors resolve
    ``--device`` on their workers, so a driver without a GPU may plan a CUDA sweep."""
    import torch

    from ganbench.errors import UsageError
    from ganbench.runner import resolve_device

    try:
        return resolve_device(args.device)
    except UsageError:
        if args.executor in IN_PROCESS or not str(args.device).strip().lower().startswith("cuda"):
            raise
        return torch.device(str(args.device).strip().lower())


def execute(args, reg, jobs: list, device, fast, out: Path, log: Callable[[str], None],
            retrain=None):
    """Train ``jobs`` on the executor ``args`` names; returns their Outcomes. ``retrain``:
    run id -> current code identity of the stale runs to train again (see ``dispatch``)."""
    from ganbench import executors

    executors.choose(args, device, len(jobs))
    ex = executors.build(reg, args)
    ckdir = Path(os.path.abspath(args.checkpoint_dir)) if args.checkpoint_dir else out
    opts = WorkerOptions(
        out=os.path.abspath(out), checkpoint_dir=str(ckdir),
        device=str(device) if args.executor in IN_PROCESS else args.device,
        data_root=os.path.abspath(args.data_root) if args.data_root else None,
        download=args.download, fast=fast, force=args.force, quiet=args.quiet,
        threads=args.threads if args.executor != "processes" else None,
        executor=args.executor, keep_generators=getattr(args, "keep_generators", "final"),
        tensorboard=(os.path.abspath(args.tensorboard) if getattr(args, "tensorboard", None)
                     else None))
    if args.executor != "local" and jobs:
        log(f"ganbench: executor {ex.describe()}")
    return executors.dispatch(jobs, out, ex, lambda job, i, n: Task(job, i, n, opts),
                              checkpoint_dir=ckdir, force=args.force, retries=args.retries,
                              log=log, retrain=retrain)
