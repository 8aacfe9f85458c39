"""``ganbench run``/``sweep`` below the command line: options → a plan of jobs → an executor →
the store, then the calibration rows; the command line only parses and prints."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ganbench.execution.worker import Task, WorkerOptions

IN_PROCESS = ("auto", "local", "processes")  # the driver's device is the workers' device
TERMINAL_SHARED = (*IN_PROCESS, "ray")  # executors whose workers print on the driver's stderr


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
    from ganbench.execution.progress import SweepProgress

    check_directories(args)
    executors.choose(args, device, len(jobs))
    ex = executors.build(reg, args)
    progress = SweepProgress(len(jobs), log, quiet=args.quiet)
    ckdir = Path(os.path.abspath(args.checkpoint_dir)) if args.checkpoint_dir is not None else out
    opts = WorkerOptions(
        out=os.path.abspath(out), checkpoint_dir=str(ckdir),
        device=str(device) if args.executor in IN_PROCESS else args.device,
        data_root=os.path.abspath(args.data_root) if args.data_root else None,
        download=args.download, fast=fast, force=args.force,
        # workers printing on the driver's terminal (ray forwards theirs) would break up the
        # sweep's bar, which shows their progress; slurm's workers write to their own logs
        quiet=args.quiet or (progress.bar is not None and args.executor in TERMINAL_SHARED),
        threads=args.threads if args.executor != "processes" else None,
        executor=args.executor, keep_generators=getattr(args, "keep_generators", "final"),
        tensorboard=(os.path.abspath(args.tensorboard)
                     if getattr(args, "tensorboard", None) is not None else None))
    if args.executor != "local" and jobs:
        progress.log(f"ganbench: executor {ex.describe()}")
    return executors.dispatch(jobs, out, ex, lambda job, i, n: Task(job, i, n, opts),
                              checkpoint_dir=ckdir, force=args.force, retries=args.retries,
                              log=log, retrain=retrain, progress=progress)


# ------------------------------------------------------------------ options -> plan -> runs


def check_args(args):
    """The checks of ``run``'s (and ``sweep``'s) options before anything is planned."""
    from ganbench.execution import executors
    from ganbench.planning.validate import check_run_args

    check_run_args(args)
    executors.check_arguments(args)


def eval_options(args) -> dict[str, Any]:
    """The evaluation options of a plan, from ``--extractor`` and the ``--fid-*`` options."""
    from ganbench.evaluation.extractors.select import absolute_paths

    opts = {"extractor": absolute_paths(args.extractor), "reference": args.fid_reference,
            "n_reference": args.fid_reference_samples,
            "fid_weights": os.path.abspath(args.fid_weights) if args.fid_weights else None}
    return {k: v for k, v in opts.items() if v is not None}


def plan_from_args(args, reg, default_seeds: Optional[Sequence[int]] = None) -> list:
    """The jobs ``run``'s options (``sweep``'s too) ask for: budget, seeds (``default_seeds``
    when ``--seeds`` is not given; None: the suite's), hyperparameter overrides, evaluation
    and data options."""
    from ganbench.planning.budget import Budget, parse_seeds
    from ganbench.planning.plan import Overrides, plan

    budget = Budget.parse(args.budget) if args.budget is not None else None
    seeds = parse_seeds(args.seeds) if args.seeds is not None else default_seeds
    overrides = Overrides(optimizer=args.optimizer, lr=args.lr, lr_g=args.lr_g, lr_d=args.lr_d,
                          betas=args.betas, k=args.k, batch_size=args.batch_size,
                          z_dim=args.z_dim, regularizers=tuple(args.reg), g_ema=args.g_ema,
                          augment=args.augment, latent=args.latent)
    return plan(reg, suite=args.suite, run_all=args.all, variants=args.variant,
                model=args.model, loss=args.loss, datasets=args.dataset, budget=budget,
                seeds=seeds, overrides=overrides, evals=args.evals, eval_every=args.eval_every,
                eval_samples=args.eval_samples, eval_options=eval_options(args),
                data_options={"resize": args.resize} if args.resize else None,
                metrics=args.add_metrics)


def execute_plan(args, reg, jobs, show: Callable[[Any], None]) -> int:
    """Train planned ``jobs`` on the chosen executor, then calibrate and ``show(df)`` the rows
    of the plan's runs and calibration rows (the command's summary); returns the exit code."""
    from ganbench.analysis.report import hint
    from ganbench.execution import outcomes as sweep
    from ganbench.store import results
    from ganbench.training.fastpath import from_args

    device = planning_device(args)
    jobs, fast = from_args(args, jobs, device)
    if args.dry_run:
        for j in jobs:
            print(f"{j.run_id}\t{j.label}")
        return 0
    out = results.check_writable(args.out)
    data_root = args.data_root  # None: loaders use ganbench.data.dataroot.resolve_data_root
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))

    done, stale = ([], {}) if args.force else sweep.stale_runs(out, jobs, reg)
    retrain = getattr(args, "retrain_stale", False)
    kept = {j.run_id for j in done if not (retrain and j.run_id in stale)}
    todo = [j for j in jobs if j.run_id not in kept]
    skipped = len(jobs) - len(todo)
    log(f"ganbench: {len(jobs)} run(s) on {device}; results in {out}"
        + (f"; {skipped} already done there (--force to train them again)" if skipped else ""))
    for line in sweep.stale_lines(jobs, stale, retrain):  # a warning, not progress: always
        print(line, file=sys.stderr)
    t_start = time.perf_counter()
    outcomes = execute(args, reg, todo, device, fast, out, log,
                       retrain={k: code for k, (_, code) in stale.items()} if retrain else None)
    if todo:
        log(f"ganbench: {len(todo)} run(s) in {time.perf_counter() - t_start:.0f}s")

    shown = list(jobs)
    if not args.no_calibration:
        shown += calibrate(jobs, reg, out, device, data_root, args.download, log)
    df = results.load([results.run_path(out, j.run_id) for j in shown
                       if results.run_path(out, j.run_id).exists()])
    show(df)
    made = hint(out, [results.run_path(out, j.run_id) for j in shown
                      if results.run_path(out, j.run_id).exists()])
    if made:
        log(f"ganbench: pictures and generators in {out}/RUN_ID/; the report: {made}")
    problems = sweep.report(outcomes)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def calibrate(jobs, reg, out, device, data_root, download, log) -> list:
    """Score the calibration rows of every dataset × evaluation protocol in ``jobs`` that
    ``out`` does not hold yet; returns the calibration jobs."""
    from ganbench.evaluation import calibration
    from ganbench.execution.worker import run_meta
    from ganbench.store import results

    cjobs = calibration.plan_calibration(jobs)
    todo = [c for c in cjobs if not results.run_path(out, c.run_id).exists()]
    if todo:
        log(f"ganbench: calibration rows (real data, uniform noise) for {len(todo) // 2 or 1} "
            "dataset protocol(s)")
    for c in todo:
        t0 = time.perf_counter()
        kind = c.variant.removeprefix(calibration.VARIANT_PREFIX)
        rows, spec = calibration.calibrate(c, reg, kind, device=str(device),
                                           data_root=data_root, download=download)
        meta = run_meta(c, device, reg)
        meta.update(status=calibration.STATUS, started=time.time(), finished=time.time(),
                    images_seen=0, steps=0, train_wall_s=0.0,
                    eval_wall_s=time.perf_counter() - t0, eval_spec=spec.__dict__)
        results.write_run(out, meta, rows)
    return cjobs
