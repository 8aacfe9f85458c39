"""What a sweep's jobs came to, shared by every executor (``ganbench.executors.dispatch``
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

from ganbench import results

FINISHED = ("completed", "diverged")


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


def report(outcomes: list[Outcome]) -> list[str]:
    """Lines for stderr that summarise the runs that did not complete (empty when all did)."""
    bad = [o for o in outcomes if o.status != "completed"]
    if not bad:
        return []
    lines = [f"ganbench: {len(bad)} of {len(outcomes)} run(s) did not complete:"]
    for o in bad:
        lines.append(f"ganbench:   {o.status}: {o.job.label}: {o.detail}")
    return lines
