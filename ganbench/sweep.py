"""Running a list of jobs into one output directory, safely.

* **Resume**: a run whose result file says ``completed`` or ``diverged`` is skipped; any other
  run (never started, interrupted, or ``failed`` before) is trained, continuing from its last
  checkpoint when it has one.
* **Fault isolation**: an exception from a plugin while building, training or evaluating marks
  that run ``failed`` (error and traceback in its result file, rows up to its last checkpoint
  kept) and the sweep goes on. Bad input (``UsageError``, ``DataUnavailableError``,
  ``PluginError``) still stops the command with one line and exit code 2.
* **Concurrency**: each run is trained under its lock file; a run another live process is
  training is waited for (and taken over if that process dies), so two commands sharing an
  output directory both end with every run done exactly once.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ganbench import results
from ganbench.checkpoint import Checkpointer, checkpoint_path
from ganbench.errors import GanbenchError
from ganbench.runlock import RunLock

FINISHED = ("completed", "diverged")
POLL_S = 0.5


@dataclass
class Outcome:
    job: Any  # JobSpec
    status: str  # completed | diverged | failed
    detail: str = ""


def finished_status(out: Path, run_id: str) -> Optional[str]:
    """``completed``/``diverged`` when ``out`` holds a valid, finished result file of the run."""
    path = results.run_path(out, run_id)
    if not path.exists():
        return None
    try:
        status = results.read_run(path)["meta"].get("status")
    except ValueError:
        return None  # unreadable: train it again (the new file replaces it atomically)
    return status if status in FINISHED else None


def run_jobs(
    jobs: list,
    out: Path,
    *,
    run_one: Callable[[Any, int, int, Checkpointer], Any],
    meta: Callable[[Any], dict[str, Any]],
    force: bool = False,
    log: Callable[[str], None] = lambda msg: None,
    warn: Optional[Callable[[str], None]] = None,
) -> list[Outcome]:
    """Train each job once, under its lock; ``run_one(job, i, n, checkpointer)`` trains one job
    and writes its file, returning the runner's result. Returns one Outcome per job trained
    here (jobs another process finished meanwhile are left out)."""
    outcomes: list[Outcome] = []
    pending, n, i = list(jobs), len(jobs), 0
    told: set[str] = set()
    while pending:
        busy = []
        for job in pending:
            lock = RunLock(out, job.run_id)
            if not lock.acquire():
                busy.append(job)
                if job.run_id not in told:
                    told.add(job.run_id)
                    log(f"ganbench: {job.label} is being trained by another process "
                        f"({lock.owner() or 'unknown'}); waiting for it")
                continue
            try:
                recheck = job.run_id in told or not force  # finished since the plan?
                if recheck and finished_status(out, job.run_id):
                    n -= 1  # another process finished it meanwhile
                    continue
                i += 1
                ckpt = Checkpointer(checkpoint_path(out, job.run_id), job.run_id, warn=warn)
                if force:
                    ckpt.discard()
                elif ckpt.path.exists():
                    log(f"[{i}/{n}] {job.label}: resuming from its last checkpoint")
                outcomes.append(_guarded(job, i, n, ckpt, out, run_one, meta))
            finally:
                lock.release()
        if busy:
            time.sleep(POLL_S)
        pending = busy
    return outcomes


def _guarded(job, i, n, ckpt, out, run_one, meta) -> Outcome:
    started = time.time()
    try:
        res = run_one(job, i, n, ckpt)
    except GanbenchError as exc:
        if exc.exit_code == 2:  # bad input: stop the command, one line, exit 2
            raise
        return _record_failure(job, ckpt, out, meta, exc, started)
    except Exception as exc:  # a plugin raising while building, training or evaluating
        return _record_failure(job, ckpt, out, meta, exc, started)
    if res.status == "diverged":
        at = res.info.get("diverged_at_step")
        return Outcome(job, "diverged", f"non-finite losses or parameters at step {at}; "
                                        "rows up to then are kept")
    return Outcome(job, res.status)


def _record_failure(job, ckpt, out, meta, exc: BaseException, started: float) -> Outcome:
    error = f"{type(exc).__name__}: {exc}".strip()
    m = meta(job)
    m.update(status="failed", error=error, traceback=traceback.format_exc()[-8000:],
             started=started, finished=time.time(), steps=ckpt.steps)
    path = results.write_run(out, m, ckpt.rows)
    first = error.splitlines()[0] if error else type(exc).__name__
    return Outcome(job, "failed", f"{first[:300]} (details in {path})")


def report(outcomes: list[Outcome]) -> list[str]:
    """Lines for stderr that summarise the runs that did not complete (empty when all did)."""
    bad = [o for o in outcomes if o.status != "completed"]
    if not bad:
        return []
    lines = [f"ganbench: {len(bad)} of {len(outcomes)} run(s) did not complete:"]
    for o in bad:
        lines.append(f"ganbench:   {o.status}: {o.job.label}: {o.detail}")
    return lines
