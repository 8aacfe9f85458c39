"""Executors: where each job of a plan trains.

::

    CLI ── plan → JobSpecs ── dispatch ── executor: local | processes | ray | slurm | a plugin's
                                 │            └─ ganbench.execution.worker.execute(task) in its worker
                                 └─ results store (here, the driver): one file per run, atomic

:func:`dispatch` is the one driver loop of every executor, with the semantics ``ganbench run``
has always had:

* **resume**: runs whose file says ``completed``/``diverged`` are skipped; the others are trained,
  continuing from their checkpoint (``CHECKPOINT_DIR/.ganbench/RUN_ID.ckpt``) when the worker
  sees one;
* **exactly once**: the driver holds each run's lock (``ganbench.execution.runlock``, an OS lock that dies
  with its process) from submission until its file is written, so two drivers sharing an output
  directory never train a run twice: the second waits and then skips it;
* **fault isolation**: a job that raises, or whose worker dies, is recorded ``failed`` and the
  sweep goes on; bad input (exit code 2) stops the command with one line;
* **progress**: one line per finished job plus the count of jobs done / running / failed;
  on a terminal, one bar for the whole sweep (``ganbench.execution.progress.SweepProgress``).

An executor only starts tasks and hands back their payloads (:class:`Executor`); retries,
resources and placement are the engine's own (Ray ``max_retries``/``num_gpus``, Slurm through
submitit). Executors register through the ``ganbench_register_executors`` hook.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Hashable, Optional

from ganbench.api.errors import GanbenchError, UsageError
from ganbench.execution.outcomes import Outcome
from ganbench.execution.progress import SweepProgress
from ganbench.execution.worker import Payload, Task, checkpoint_file, died, store

POLL_S = 0.5
AUTO = "auto"
ENV_VAR = "GANBENCH_EXECUTOR"  # the default of --executor
BUILT_IN = ("auto", "local", "processes", "ray", "slurm")  # they take no --executor-option
MAX_THREADS = 1024  # --threads, --cpus-per-job: more is a typo (Ray would queue it forever)
MAX_GPUS_PER_JOB = 64


class Executor:
    """Starts tasks somewhere and returns their payloads.

    ``slots``: how many jobs the driver keeps in flight (and holds locks for) at once.
    ``native_retries``: True when the engine itself re-runs a task whose worker died (Ray);
    otherwise the driver resubmits such a task up to ``--retries`` times.
    """

    name = "executor"
    slots = 1
    native_retries = False
    progress: Optional[SweepProgress] = None  # the sweep's, set by dispatch (local runs feed it)

    def submit(self, task: Task) -> Hashable:
        raise NotImplementedError

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        """Payloads of tasks that finished (waiting at most ``timeout`` seconds for one; None:
        until one does). A task whose worker died comes back as ``ganbench.execution.worker.died(...)``."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop every task in flight (the command is being interrupted or stopped)."""

    def close(self) -> None:
        """Release the engine (after the last task)."""

    def describe(self) -> str:
        return self.name


class StoppedByWorker(GanbenchError):
    """Bad input found by a worker (e.g. missing data files there): stops the command."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def dispatch(jobs: list, out: Path, executor: Executor, make_task: Callable[[Any, int, int], Task],
             *, checkpoint_dir: Path, force: bool = False, retries: int = 0,
             log: Callable[[str], None] = lambda msg: None,
             retrain: Optional[dict] = None,
             progress: Optional[SweepProgress] = None) -> list[Outcome]:
    """Train each job once, on ``executor``; returns one Outcome per job trained by this
    driver (jobs another driver finished meanwhile are left out). ``retrain``: run id -> the
    current code identity (``ganbench.store.envinfo.code_identity``) of finished runs whose file is
    stale (``--retrain-stale``): they train again from scratch, and their file is replaced
    only by a finished run (a failure is written to ``OUT/.ganbench/RUN_ID.failed.json``).
    ``progress``: where messages and counts go (default: ``log``, plain lines)."""
    progress = progress or SweepProgress(len(jobs), log, bar=False)
    executor.progress = progress
    sweep = Sweep(jobs, out, executor, make_task, checkpoint_dir, force, retries, retrain or {},
                  progress)
    try:
        sweep.run()
    except BaseException:
        sweep.abandon()
        raise
    finally:
        try:
            progress.close()
        finally:
            executor.close()
    return sweep.outcomes


class Sweep:
    """One :func:`dispatch`: the jobs pending, the tasks in flight (each holding its run's
    lock), the counts and the outcomes."""

    def __init__(self, jobs: list, out: Path, executor: Executor, make_task, checkpoint_dir,
                 force: bool, retries: int, retrain: dict, progress: SweepProgress):
        self.out, self.executor, self.make_task = out, executor, make_task
        self.checkpoint_dir, self.force, self.retries = checkpoint_dir, force, retries
        self.retrain, self.progress, self.log = retrain, progress, progress.log
        self.pending = list(jobs)
        self.n = len(jobs)  # less the jobs another driver finished meanwhile
        self.started = self.done = self.failed = 0
        self.told: set[str] = set()  # run ids said to be trained by another process
        self.running: dict[Hashable, tuple[Any, Task, Any, int]] = {}  # job, task, lock, tries
        self.outcomes: list[Outcome] = []

    def run(self) -> None:
        tell = False  # a job finished: say where the sweep stands once the next ones are in
        while self.pending or self.running:
            self.submit_ready()
            self.report(tell)
            tell = False
            if not self.running:
                time.sleep(POLL_S)  # every pending run is locked by another driver
                continue
            for handle, payload in self.executor.wait(POLL_S if self.pending else None):
                tell = self.finish(handle, payload) or tell
        self.report(tell)

    def report(self, tell: bool) -> None:
        self.progress.update(self.done, len(self.running), self.failed, self.n)
        if tell and self.n > 1:
            self.progress.status(
                f"ganbench: jobs: {self.done} done, {len(self.running)} running or queued, "
                f"{self.failed} failed, {self.n - self.done - len(self.running)} to go")

    def submit_ready(self) -> None:
        """Submit pending jobs while the executor has free slots and their lock is free."""
        from ganbench.execution.runlock import RunLock

        still = []
        for job in self.pending:
            if len(self.running) >= self.executor.slots:
                still.append(job)
                continue
            lock = RunLock(self.out, job.run_id)
            if not lock.acquire():
                still.append(job)
                if job.run_id not in self.told:
                    self.told.add(job.run_id)
                    self.log(f"ganbench: {job.label} is being trained by another process "
                             f"({lock.owner() or 'unknown'}); waiting for it")
                continue
            try:
                self.start(job, lock)
            except BaseException:
                lock.release()
                raise
        self.pending = still

    def start(self, job, lock) -> None:
        """Submit ``job``, whose lock is held, unless another driver finished it meanwhile."""
        code = self.retrain.get(job.run_id)
        if (job.run_id in self.told or not self.force) and _done(self.out, job.run_id, code):
            self.n -= 1
            lock.release()
            return
        self.started += 1
        checkpoint = checkpoint_file(self.checkpoint_dir, job.run_id)
        if self.force or code is not None:
            checkpoint.unlink(missing_ok=True)
        elif checkpoint.exists():
            self.log(f"[{self.started}/{self.n}] {job.label}: resuming from its last checkpoint")
        task = self.make_task(job, self.started, self.n)
        self.running[self.executor.submit(task)] = (job, task, lock, 0)

    def finish(self, handle, payload: Payload) -> bool:
        """Store the payload of a task that ended (or submit again a task whose worker died,
        up to ``retries`` times), then release its lock; whether a run finished."""
        job, task, lock, tries = self.running.pop(handle)
        try:
            if payload.kind == "error":
                raise StoppedByWorker(payload.message, payload.exit_code or 2)
            if (payload.status == "failed" and payload.detail.startswith("WorkerDied")
                    and not self.executor.native_retries and tries < self.retries):
                self.log(f"[{task.index}/{task.total}] {job.label}: {payload.detail}; "
                         f"retrying ({tries + 1} of {self.retries})")
                self.running[self.executor.submit(task)] = (job, task, lock, tries + 1)
                lock = None
                return False
            try:
                path = store(self.out, payload, self.checkpoint_dir,
                             keep_finished=job.run_id in self.retrain)
            except OSError as exc:  # a full disk, a quota, the directory gone
                raise UsageError(
                    f"cannot write the result file of {job.label} into '{self.out}': "
                    f"{exc.strerror or exc}; the results written before are kept, "
                    "and rerunning the command resumes") from None
            self.log(payload.summary)
            detail = payload.detail
            if payload.status == "failed":
                self.failed += 1
                detail = f"{detail} (details in {path})"
            self.outcomes.append(Outcome(job, payload.status, detail))
            self.done += 1
            return True
        finally:
            if lock is not None:
                lock.release()

    def abandon(self) -> None:
        """The sweep stops (an error, an interrupt): cancel the tasks, release their locks."""
        self.executor.cancel()
        for _job, _task, lock, _tries in self.running.values():
            lock.release()


def _done(out: Path, run_id: str, code: Optional[dict]) -> bool:
    """Whether ``out`` holds a finished file of the run (made by the code ``code``, when
    given: a stale file is not done)."""
    from ganbench.execution.outcomes import finished_meta, stale_reason

    meta = finished_meta(out, run_id)
    return meta is not None and (code is None or stale_reason(meta, code) is None)


# ------------------------------------------------------------------------ the command line


def add_arguments(parser) -> None:
    """The executor options of ``ganbench run`` (and ``sweep``)."""
    from ganbench.api.argtypes import non_negative_int, positive_int

    g = parser.add_argument_group(
        "executor (where jobs train; results, resume and exit codes are the same everywhere)")
    g.add_argument("--executor", default=os.environ.get(ENV_VAR) or AUTO,
                   metavar="NAME",
                   help="auto (the default, or $GANBENCH_EXECUTOR: processes with one "
                   "single-thread worker per CPU core when several jobs train on the CPU, one "
                   "worker per GPU on a multi-GPU machine, else local), local (one job after "
                   "another in this process), processes (--jobs worker processes here), ray "
                   "(tasks on a Ray cluster), slurm (Slurm jobs through submitit), or a "
                   "plugin's (ganbench list executors)")
    g.add_argument("--jobs", type=non_negative_int, metavar="N",
                   help="jobs in flight at once: processes: worker processes (default: one per "
                   "GPU, else 1; auto: one per core, or per --threads cores); ray/slurm: at "
                   "most N queued (default: every job)")
    g.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads per job (default: processes: the CPUs split between the "
                   "workers; ray/slurm: the CPUs each job asks for)")
    g.add_argument("--retries", type=non_negative_int, default=2, metavar="N",
                   help="re-run a job whose worker died (killed, out of memory, node lost) up "
                   "to N times, resuming from its checkpoint (default 2; ray: Ray's "
                   "max_retries); a job that raises is not retried")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="where workers keep checkpoints (default: --out); on a cluster it must "
                   "be shared by the workers for a re-run job to resume")
    g.add_argument("--cpus-per-job", type=positive_int, default=1, metavar="N",
                   help="ray/slurm: CPUs each job asks for (default 1)")
    g.add_argument("--gpus-per-job", type=non_negative_int, metavar="N",
                   help="ray/slurm: GPUs each job asks for (default: 1 when --device is "
                   "cuda, or auto on a machine with a GPU; else 0)")
    g.add_argument("--ray-address", default="auto", metavar="auto|HOST:PORT|local",
                   help="ray: the cluster to join (default auto: the one `ray start` runs "
                   "on this machine, or $RAY_ADDRESS); local: start a private one here")
    g.add_argument("--slurm-partition", metavar="NAME", help="slurm: partition")
    g.add_argument("--slurm-time", type=positive_int, default=60, metavar="MINUTES",
                   help="slurm: time limit per job (default 60)")
    g.add_argument("--slurm-mem-gb", type=positive_int, metavar="GB",
                   help="slurm: memory per job")
    g.add_argument("--slurm-array", action="store_true",
                   help="slurm: submit the jobs as one job array (at most --jobs running) "
                   "instead of one Slurm job per run")
    g.add_argument("--slurm-logs", metavar="DIR",
                   help="slurm: submitit's folder of job scripts and logs (default: "
                   "OUT/.submitit; it must be shared with the nodes)")
    g.add_argument("--slurm-cluster", choices=["auto", "slurm", "local", "debug"],
                   default="auto", help="slurm: submitit's cluster (auto: slurm when sbatch "
                   "is installed; local: subprocesses here, for testing)")
    g.add_argument("--executor-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of a plugin executor (repeatable)")


def check_arguments(args) -> None:
    """UsageError for executor options that contradict each other, and for a
    ``$GANBENCH_EXECUTOR`` that names no executor (even when ``--executor`` overrides it)."""
    from ganbench.api.errors import did_you_mean

    env = os.environ.get(ENV_VAR)
    if env:
        from ganbench.registry import registries

        known = registries().executors.names()
        if env not in known:
            raise UsageError(f"{ENV_VAR}={env!r} names no executor"
                             f"{did_you_mean(env, known)}; known: {', '.join(known)} "
                             f"(unset it, or set it to one of them)")
    if getattr(args, "jobs", None) == 0:
        raise UsageError("--jobs must be at least 1")
    options = {}
    for text in getattr(args, "executor_option", []) or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--executor-option needs KEY=VALUE, got {text!r}")
        options[key.strip()] = value
    args.executor_options = options
    name = getattr(args, "executor", "local")
    if options and name in BUILT_IN:
        raise UsageError(f"--executor-option is for a plugin's executor; '{name}' takes none "
                         f"(got {', '.join(map(repr, options))})")
    for option, limit in (("threads", MAX_THREADS), ("cpus_per_job", MAX_THREADS),
                          ("gpus_per_job", MAX_GPUS_PER_JOB)):
        value = getattr(args, option, None)
        if value is not None and value > limit:
            raise UsageError(f"--{option.replace('_', '-')} {value} is more than ganbench asks "
                             f"for (at most {limit})")
    if name not in ("processes", "local", AUTO) and args.threads is None:
        args.threads = args.cpus_per_job
    if name == "local" and args.jobs not in (None, 1):
        raise UsageError("--jobs needs a parallel executor: add --executor processes (or ray, "
                         "slurm)")


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose(args, device, n_jobs: int) -> str:
    """Resolve ``--executor auto`` (in ``args``) for ``n_jobs`` jobs on ``device``; returns the
    executor's name. Small GAN jobs use a CPU core far better one per process than several
    cores per job (measured on 2 idle cores: two single-thread jobs at once each took 9.0 s,
    one alone 9.4 s, one with both threads 8.8 s), so several CPU jobs get one worker per core;
    on a GPU machine, one worker per GPU (``--device cuda:N``: that GPU alone, ``local``)."""
    if args.executor != AUTO:
        return args.executor
    if device.type == "cpu":
        workers = cpu_count() // (args.threads or 1)
    elif device.type == "cuda":
        import torch

        # one worker per GPU; a GPU named (--device cuda:N) is one device: its jobs in turn
        workers = torch.cuda.device_count() if device.index is None else 1
    else:
        workers = 1
    workers = min(args.jobs or workers, n_jobs)
    if workers > 1:
        args.executor, args.jobs = "processes", workers
    else:
        args.executor = "local"
    return args.executor


def build(reg, args) -> Executor:
    """The executor ``args.executor`` names, built (UsageError, one line, when it cannot be)."""
    spec = reg.executors.get(args.executor)
    return spec.build(args)


def gpus_per_job(args, device) -> int:
    if args.gpus_per_job is not None:
        return args.gpus_per_job
    return 1 if device.type == "cuda" else 0
