"""What a sweep's jobs came to, shared by every executor (``ganbench.execution.executors.dispatch``
runs the jobs; this module holds the finished-run check, the outcomes and their report).

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ganbench.store import results

FINISHED = ("completed", "diverged")


@dataclass
class Outcome:
    job: Any  # JobSpec
    status: str  # completed | diverged | failed
    detail: str = ""


def finished_meta(out: Path, run_id: str) -> Optional[dict]:
    """The meta of ``out``'s result file of the run when it is valid and finished, else None."""
    path = results.run_path(out, run_id)
    if not path.exists():
        return None
    try:
        meta = results.read_run(path)["meta"]
    except ValueError:
        return None  # unreadable: train it again (the new file replaces it atomically)
    return meta if meta.get("status") in FINISHED else None


def finished_status(out: Path, run_id: str) -> Optional[str]:
    """``completed``/``diverged`` when ``out`` holds a valid, finished result file of the run."""
    meta = finished_meta(out, run_id)
    return meta["status"] if meta else None


NO_IDENTITY = "no code identity recorded (written before ganbench recorded one)"


def stale_reason(meta: dict, code: dict) -> Optional[str]:
    """Why a finished run file's results may not be what the current code ``code``
    (``ganbench.store.envinfo.code_identity``) would give; None when its code identity is the
    current one (or the current one could not be computed). A file without a code identity
    is stale (``NO_IDENTITY``): nothing shows it was made by this code."""
    if not code.get("id"):
        return None
    recorded = meta.get("code")
    if not isinstance(recorded, dict) or not recorded.get("id"):
        return NO_IDENTITY
    if recorded["id"] == code["id"]:
        return None
    old = recorded.get("sources") if isinstance(recorded.get("sources"), dict) else {}
    new = code.get("sources") or {}
    changed = sorted(m for m in set(old) | set(new) if old.get(m) != new.get(m))
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"its code changed since it was trained ({shown or 'code identity differs'})"


def stale_runs(out: Path, jobs: list, reg) -> tuple[list, dict[str, tuple[str, dict]]]:
    """The jobs ``out`` holds finished files of, and of those the stale ones (run id -> why,
    see :func:`stale_reason`, and the current code identity)."""
    from ganbench.store.envinfo import code_identity

    done, stale = [], {}
    for job in jobs:
        meta = finished_meta(out, job.run_id)
        if meta is None:
            continue
        done.append(job)
        code = code_identity(job, reg)
        why = stale_reason(meta, code)
        if why:
            stale[job.run_id] = (why, code)
    return done, stale


def stale_lines(jobs: list, stale: dict[str, tuple[str, dict]], retrain: bool,
                limit: int = 10) -> list[str]:
    """What ``run`` says of stale runs: one line per run whose code changed (at most
    ``limit``), one for the files without a code identity, and what it does about them."""
    why = {run_id: reason for run_id, (reason, _code) in stale.items()}
    changed = [j for j in jobs if j.run_id in why and why[j.run_id] != NO_IDENTITY]
    unknown = [j for j in jobs if why.get(j.run_id) == NO_IDENTITY]
    lines = [f"ganbench: stale: {j.label} [{j.run_id}]: {why[j.run_id]}"
             for j in changed[:limit]]
    if len(changed) > limit:
        lines.append(f"ganbench: stale: ... and {len(changed) - limit} more run(s) whose code "
                     "changed")
    if unknown:
        lines.append(f"ganbench: stale: {len(unknown)} run file(s) with {NO_IDENTITY}")
    n = len(changed) + len(unknown)
    if n and retrain:
        lines.append(f"ganbench: --retrain-stale: training the {n} stale run(s) again from "
                     "scratch; each file is replaced when its new run finishes")
    elif n:
        lines.append(f"ganbench: kept the {n} stale result file(s) as they are; add "
                     "--retrain-stale to train them again with the current code")
    return lines


def report(outcomes: list[Outcome]) -> list[str]:
    """Lines for stderr that summarise the runs that did not complete (empty when all did)."""
    bad = [o for o in outcomes if o.status != "completed"]
    if not bad:
        return []
    lines = [f"ganbench: {len(bad)} of {len(outcomes)} run(s) did not complete:"]
    for o in bad:
        lines.append(f"ganbench:   {o.status}: {o.job.label}: {o.detail}")
    return lines
