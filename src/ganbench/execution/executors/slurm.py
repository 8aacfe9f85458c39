"""``slurm``: each job a Slurm job through submitit (or one job array, ``--slurm-array``).

Slurm's own parameters do the work: ``--slurm-partition``, ``--slurm-time`` (minutes),
``--cpus-per-job`` (``cpus_per_task``, also the job's torch threads), ``--gpus-per-job``
(``gpus_per_node``), ``--slurm-mem-gb``; ``--jobs N`` caps an array's running tasks
(``slurm_array_parallelism``) or the Slurm jobs in the queue. The task (a small picklable
JobSpec) and the run file's content travel through submitit's folder (``--slurm-logs``,
default ``OUT/.submitit``), which the nodes must share, like the checkpoint directory. A job
Slurm kills (time limit, preemption, node failure) is resubmitted up to ``--retries`` times and
resumes from its checkpoint. ``--slurm-cluster local`` runs the same jobs as local subprocesses
(submitit's LocalExecutor); the tests also run it on a real single-node Slurm they start
(tests/slurm_cluster.py).

A job that ends without a result (killed, out of memory, node lost) is one submitit only sees
through ``sacct``; on a cluster without accounting (no slurmdbd: sacct answers nothing) its
state stays UNKNOWN, so the executor also asks ``squeue``: a job that left the queue without a
result for ``GONE_GRACE_S`` (the result file may reach a shared filesystem late) died; and
submitit is kept from calling sacct (whose error it would print at every poll).
sbatch's refusal is one line (its messages are not echoed to the terminal).

submitit works by pickles: each job's task and result are pickle files in its folder, and the
driver unpickles the results, so whoever can write into that folder can run code in the driver.
The folder is therefore made private (created mode 0700), and a folder another user owns or
that group or others may write is refused (:func:`ganbench.execution.launch.private_dir`).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import time
from typing import Hashable, Optional

from ganbench.api.errors import UsageError, one_line
from ganbench.execution.executors import Executor
from ganbench.execution.launch import private_dir
from ganbench.execution.worker import Payload, Task, died

POLL_S = 1.0
SQUEUE_EVERY_S = 5.0  # how often squeue is asked about the jobs submitit has no state for
GONE_GRACE_S = 10.0  # out of the queue this long without a result file: the job died


def _train_job(task: Task) -> Payload:
    """What a Slurm job runs: train one job (the same function every executor calls)."""
    from ganbench.execution.worker import execute

    return execute(task)


def _accounting() -> bool:
    """Whether sacct answers (the cluster keeps accounting: slurmdbd)."""
    try:
        return subprocess.run(["sacct", "--noheader", "-X", "-j", "1"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SlurmExecutor(Executor):
    name = "slurm"

    def __init__(self, folder: str, cluster: Optional[str], array: bool, slots: Optional[int],
                 params: dict):
        import submitit

        self.submitit = submitit
        try:
            self.ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
        except Exception as exc:  # e.g. cluster "slurm" asked for, sbatch missing
            raise UsageError(f"cannot use submitit's '{cluster or 'auto'}' cluster: "
                             f"{one_line(exc)[:200]}") from None
        if self.ex.cluster == "slurm" and not _accounting():
            # submitit would call sacct at every poll, for nothing but its error on the
            # terminal; the jobs' fate comes from their result files and squeue (_gone)
            submitit.slurm.slurm.SlurmJob.watcher._make_command = lambda: None
        if array and slots:
            params["slurm_array_parallelism"] = slots
        self.ex.update_parameters(**params)
        self.params = params
        self.array = array
        self.slots = (slots if not array else None) or 1 << 30  # an array holds every job
        self.buffer: list[tuple[int, Task]] = []
        self.jobs: dict[int, tuple] = {}  # handle -> submitit job, task
        self._next = 0
        self._missing: dict[str, float] = {}  # Slurm job id -> when first seen out of squeue
        self._asked = 0.0  # when squeue was last asked

    def describe(self) -> str:
        kind = self.ex.cluster
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()) if v is not None)
        return f"slurm (submitit cluster '{kind}'{', job array' if self.array else ''}; {shown})"

    def submit(self, task: Task) -> Hashable:
        self._next += 1
        self.buffer.append((self._next, task))  # submitted (as one array) at the next wait
        return self._next

    def _flush(self) -> None:
        if not self.buffer:
            return
        buffered, self.buffer = self.buffer, []
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit echoes sbatch's errors
                if self.array:
                    with self.ex.batch():
                        submitted = [self.ex.submit(_train_job, t) for _, t in buffered]
                else:
                    submitted = [self.ex.submit(_train_job, t) for _, t in buffered]
        except Exception as exc:  # sbatch refused the job (partition, limits, ...)
            said = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise UsageError(f"Slurm refused the job(s): {one_line(said)[:300]}") from None
        for (h, task), job in zip(buffered, submitted):
            self.jobs[h] = (job, task)

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        self._flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = []
            gone = self._gone()
            for h, (job, task) in list(self.jobs.items()):
                if job.done():
                    try:
                        payload = job.result()
                    except Exception as exc:  # killed, timed out, preempted, node failure
                        payload = died(task, f"Slurm job {job.job_id}: {one_line(exc)[:300]}")
                elif job.job_id in gone:
                    payload = died(task, f"Slurm job {job.job_id} left the queue without a "
                                         "result (killed, out of memory or its node lost)")
                else:
                    continue
                del self.jobs[h]
                self._missing.pop(job.job_id, None)
                done.append((h, payload))
            if done or (deadline is not None and time.monotonic() >= deadline):
                return done
            time.sleep(POLL_S)

    def _gone(self) -> set[str]:
        """Ids of the jobs out of Slurm's queue for GONE_GRACE_S with no result and no state
        from submitit (no accounting); at most one squeue every SQUEUE_EVERY_S."""
        now = time.monotonic()
        if self.ex.cluster != "slurm" or now - self._asked < SQUEUE_EVERY_S:
            return set()
        self._asked = now
        unknown = [job.job_id for job, _ in self.jobs.values()
                   if job.state == "UNKNOWN" and not job.done()]
        if not unknown:
            return set()
        try:  # one line per job, an array's tasks apart (JOBID_TASK, as submitit names them)
            r = subprocess.run(["squeue", "--noheader", "--array", "--format=%i",
                                f"--user={os.getuid()}"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return set()
        if r.returncode != 0:  # slurmctld not answering: nothing can be told
            return set()
        queued = set(r.stdout.split())
        for job_id in unknown:
            if job_id in queued:
                self._missing.pop(job_id, None)
            else:
                self._missing.setdefault(job_id, now)
        return {j for j in unknown if now - self._missing.get(j, now) >= GONE_GRACE_S}

    def cancel(self) -> None:
        self.buffer.clear()
        for job, _task in self.jobs.values():
            try:
                job.cancel(check=False)
            except Exception:
                pass
        self.jobs.clear()


def build(args) -> SlurmExecutor:
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise UsageError("--executor slurm needs submitit: pip install 'ganbench[slurm]'") \
            from None
    folder = private_dir(args.slurm_logs or os.path.join(os.path.abspath(args.out), ".submitit"),
                         "submitit's folder", "the job results it finds there",
                         "give --slurm-logs a private folder on storage the nodes share")
    dev = (args.device or "auto").strip().lower()
    gpus = args.gpus_per_job if args.gpus_per_job is not None else (
        1 if dev.startswith("cuda") else 0)
    params = {"timeout_min": args.slurm_time, "cpus_per_task": args.cpus_per_job,
              "gpus_per_node": gpus or None, "name": "ganbench"}
    if args.slurm_mem_gb:
        params["mem_gb"] = args.slurm_mem_gb
    if args.slurm_partition:
        params["slurm_partition"] = args.slurm_partition
    params = {k: v for k, v in params.items() if v is not None}
    cluster = None if args.slurm_cluster == "auto" else args.slurm_cluster
    return SlurmExecutor(folder, cluster, args.slurm_array, args.jobs, params)
