"""Training one job wherever an executor puts it: the function every executor's worker calls.

``execute(task)`` trains ``task.job`` (resuming from its checkpoint when one exists where the
worker sees ``task.options.checkpoint_dir``) and returns a :class:`Payload`: the run file's
content (meta and rows), never a file. The driver stores it (:func:`store`: one file per run,
atomic, then the checkpoint is dropped), so results land even when the worker does not share a
filesystem with the driver. Everything a task carries is small and picklable (names and numbers,
see ``ganbench.planning.plan.JobSpec``); the worker rebuilds the registries from the plugins installed
where it runs, under the driver's ``GANBENCH_LOAD_PLUGINS`` / ``GANBENCH_DISABLE_PLUGINS``.

An exception from a plugin while building, training or evaluating becomes a ``failed`` payload
(error, traceback, the rows of the last checkpoint): the sweep goes on. Bad input (exit code 2:
unknown names, missing data) becomes an ``error`` payload that stops the command.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ganbench.execution.progress import Progress

PLUGIN_ENV = ("GANBENCH_LOAD_PLUGINS", "GANBENCH_DISABLE_PLUGINS", "GANBENCH_DATA_ROOT",
              "GANBENCH_CACHE_DIR")


def plugin_env() -> tuple[tuple[str, Optional[str]], ...]:
    """The driver's plugin/data environment, for workers to load the same registries."""
    return tuple((k, os.environ.get(k)) for k in PLUGIN_ENV)


@dataclass(frozen=True)
class WorkerOptions:
    """Where and how a worker trains; the same for every job of a command."""

    out: str  # the results directory as the driver sees it (absolute)
    checkpoint_dir: str  # checkpoints live in CHECKPOINT_DIR/.ganbench (absolute)
    device: str = "auto"
    data_root: Optional[str] = None
    download: bool = True
    fast: Any = None  # ganbench.training.fastpath.FastPath or None
    force: bool = False
    quiet: bool = False
    threads: Optional[int] = None  # torch intra-op threads in the worker (None: leave as is)
    executor: str = "local"
    keep_generators: str = "final"  # final | all (ganbench.store.artifacts)
    tensorboard: Optional[str] = None  # TensorBoard event directory (absolute), or None
    env: tuple[tuple[str, Optional[str]], ...] = field(default_factory=plugin_env)


@dataclass(frozen=True)
class Task:
    job: Any  # JobSpec
    index: int  # [index/total] in messages
    total: int
    options: WorkerOptions


@dataclass
class Payload:
    """What comes back from a worker. ``kind``: ``run`` (meta and rows of a completed,
    diverged or failed run) or ``error`` (bad input: ``exit_code`` and ``message``)."""

    run_id: str
    kind: str
    status: str = ""  # completed | diverged | failed
    meta: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    detail: str = ""  # one line for the end-of-sweep report
    summary: str = ""  # the "[i/n] label: completed, ..." line
    exit_code: int = 0
    message: str = ""


def checkpoint_file(checkpoint_dir, run_id: str) -> Path:
    from ganbench.training.checkpoint import checkpoint_path

    return checkpoint_path(checkpoint_dir, run_id)


def set_threads(threads: Optional[int]) -> None:
    """Give this process ``threads`` CPU threads (torch intra-op, OpenMP, MKL)."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def worker_registries(options: WorkerOptions):
    """The registries of a worker process, loaded under the driver's plugin environment."""
    from ganbench import registry as plugins

    changed = False
    for k, v in options.env:
        if os.environ.get(k) != v:
            changed = True
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if changed:
        plugins.reset()
    return plugins.registries()


def execute(task: Task, reg=None, progress=None, warn=None) -> Payload:
    """Train one job and return its payload (see the module docstring). ``reg``: the caller's
    registries (in-process executors); ``progress``: a bar with ``update(frac)``/``close()``."""
    from ganbench.training.checkpoint import Checkpointer
    from ganbench.store.envinfo import code_identity
    from ganbench.api.errors import GanbenchError, one_line

    job, o = task.job, task.options
    set_threads(o.threads)
    ckpt = Checkpointer(checkpoint_file(o.checkpoint_dir, job.run_id), job.run_id, warn=warn)
    started = time.time()
    try:
        reg = reg if reg is not None else worker_registries(o)
        ckpt.code = code_identity(job, reg)["id"]  # resume only what this code began
        if o.force:
            ckpt.discard()
        # workers share one stderr: plain lines, no bars
        bar = progress or Progress(f"[{task.index}/{task.total}] {job.label}", o.quiet, bar=False)
        try:
            res = _train(job, reg, o, bar, ckpt)
        finally:
            bar.close()
    except GanbenchError as exc:
        if exc.exit_code == 2:  # bad input: the command stops with one line
            return Payload(job.run_id, "error", exit_code=2, message=one_line(exc))
        return _failure(task, ckpt, exc, started)
    except Exception as exc:  # a plugin raising while building, training or evaluating
        return _failure(task, ckpt, exc, started)
    meta = meta_of(job, o, reg)
    meta.update(status=res.status, started=started, finished=time.time(),
                images_seen=res.images_seen, steps=res.steps, train_wall_s=res.wall_s,
                eval_wall_s=res.eval_s, eval_spec=res.eval_spec.__dict__, **res.info)
    if o.fast is not None:
        meta["fastpath"] = {**o.fast.to_dict(), "precision": job.precision,
                            "fused": o.fast.use_fused(_device(o))}
    final = {r["metric"]: r["value"] for r in res.rows if r["step"] == res.steps}
    shown = ", ".join(f"{k}={final[k]:.4g}" for k in
                      ("fid", "frechet_data", "modes_covered", "high_quality_pct") if k in final)
    resumed = res.info.get("resumed_from_step")
    line = (f"[{task.index}/{task.total}] {job.label}: {res.status}, {res.steps} steps, "
            f"{res.wall_s:.1f}s train + {res.eval_s:.1f}s eval" + (f"; {shown}" if shown else "")
            + (f" (resumed from step {resumed})" if resumed is not None else ""))
    detail = ""
    if res.status == "diverged":
        detail = (f"non-finite losses or parameters at step {res.info.get('diverged_at_step')}"
                  "; rows up to then are kept")
    return Payload(job.run_id, "run", res.status, meta, res.rows, detail=detail, summary=line)


def _device(o: WorkerOptions):
    from ganbench.training.runner import resolve_device

    return resolve_device(o.device)


def _train(job, reg, o: WorkerOptions, bar, ckpt):
    """Train under the run's artifacts (kept generator, pictures, TensorBoard events), which
    the worker writes beside the run file in ``o.out``: with a remote executor they land on the
    driver's disk only when ``--out`` is a shared filesystem."""
    from ganbench.store.artifacts import RunArtifacts
    from ganbench.training.runner import train

    artifacts = RunArtifacts(o.out, job.run_id, keep=o.keep_generators,
                             tensorboard=o.tensorboard)
    try:
        return train(job, reg, device=str(_device(o)), data_root=o.data_root,
                     download=o.download, progress=bar.update, checkpoint=ckpt, fast=o.fast,
                     artifacts=artifacts)
    finally:
        artifacts.close()  # after a failure too: its writer thread and TensorBoard file


def run_meta(job, device, reg=None) -> dict[str, Any]:
    """The meta of a run file that the job alone determines (what, where, which code)."""
    from ganbench import __version__
    from ganbench.store.envinfo import code_identity, git_sha, torch_version

    return {
        "run_id": job.run_id, "suite": job.suite, "variant": job.variant, "model": job.model,
        "loss": job.loss, "dataset": job.dataset, "seed": job.seed, "budget": str(job.budget),
        "config": job.config(), "device": str(device), "torch": torch_version(),
        "ganbench_version": __version__, "git_sha": git_sha(),
        "code": code_identity(job, reg),  # beside the run id, never in it
    }


def meta_of(job, o: WorkerOptions, reg=None) -> dict[str, Any]:
    meta = run_meta(job, _device_name(o), reg)
    meta.update(executor=o.executor, host=socket.gethostname(), pid=os.getpid(),
                threads=o.threads or _torch_threads())
    scheduled = slurm_job_id()
    if scheduled:
        meta["slurm_job_id"] = scheduled
    return meta


def slurm_job_id() -> Optional[str]:
    """The Slurm job this worker runs in (``JOBID_TASK`` for a job array's task), or None
    outside Slurm."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID") or None


def _device_name(o: WorkerOptions) -> str:
    try:
        return str(_device(o))
    except Exception:  # the failure path must not fail on the device
        return o.device


def _torch_threads() -> Optional[int]:
    try:
        import torch

        return torch.get_num_threads()
    except Exception:
        return None


def _failure(task: Task, ckpt, exc: BaseException, started: float) -> Payload:
    job = task.job
    error = f"{type(exc).__name__}: {exc}".strip()
    meta = meta_of(job, task.options)
    meta.update(status="failed", error=error, traceback=traceback.format_exc()[-8000:],
                started=started, finished=time.time(), steps=ckpt.steps)
    first = error.splitlines()[0] if error else type(exc).__name__
    return Payload(job.run_id, "run", "failed", meta, list(ckpt.rows), detail=first[:300],
                   summary=f"[{task.index}/{task.total}] {job.label}: failed: {first[:300]}")


def died(task: Task, reason: str) -> Payload:
    """The payload of a job whose worker process died (killed, out of memory, lost node):
    ``failed``, no rows; its checkpoint is kept, so a rerun resumes from it."""
    job = task.job
    meta = meta_of(job, task.options)
    now = time.time()
    meta.update(status="failed", error=f"WorkerDied: {reason}", traceback="", started=now,
                finished=now, steps=0)
    return Payload(job.run_id, "run", "failed", meta, [], detail=f"WorkerDied: {reason}",
                   summary=f"[{task.index}/{task.total}] {job.label}: failed: worker died "
                           f"({reason})")


def store(out, payload: Payload, checkpoint_dir, keep_finished: bool = False) -> Optional[Path]:
    """Driver side: write the run file (atomically) and, for a finished run, drop its
    checkpoint. Returns the file's path (None for an ``error`` payload). ``keep_finished``: a
    failed run does not replace a finished file of the same run (a stale one being trained
    again); its failure goes to ``OUT/.ganbench/RUN_ID.failed.json`` instead."""
    from ganbench.store import results
    from ganbench.store.safepath import atomic_write, state_dir_path
    from ganbench.execution.outcomes import finished_status

    if payload.kind != "run":
        return None
    if keep_finished and payload.status == "failed" and finished_status(out, payload.run_id):
        path = state_dir_path(out, payload.run_id, ".failed.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        payload.detail += "; the earlier result file is kept"
        return atomic_write(path, results.encode_run(payload.meta, payload.rows))
    path = results.write_run(out, payload.meta, payload.rows)
    if payload.status in ("completed", "diverged"):
        checkpoint_file(checkpoint_dir, payload.run_id).unlink(missing_ok=True)
    return path
