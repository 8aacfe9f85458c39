"""``slurm``: each job a Slurm job through submitit (or one job array, ``--slurm-array``).

Slurm's own parameters do the work: ``--slurm-partition``, ``--slurm-time`` (minutes),
``--cpus-per-job`` (``cpus_per_task``, also the job's torch threads), ``--gpus-per-job``
(``gpus_per_node``), ``--slurm-mem-gb``; ``--jobs N`` caps an array's running tasks
(``slurm_array_parallelism``) or the Slurm jobs in the queue. The task (a small picklable
JobSpec) and the run file's content travel through submitit's folder (``--slurm-logs``,
default ``OUT/.submitit``), which the nodes must share, like the checkpoint directory. A job
Slurm kills (time limit, preemption, node failure) is resubmitted up to ``--retries`` times and
resumes from its checkpoint. ``--slurm-cluster local`` runs the same jobs as local subprocesses
(submitit's LocalExecutor), which is how the tests exercise this executor without Slurm.
"""

from __future__ import annotations

import os
import time
from typing import Hashable, Optional

from ganbench.errors import UsageError, one_line
from ganbench.executors import Executor
from ganbench.work import Payload, Task, died

POLL_S = 1.0


def _train_job(task: Task) -> Payload:
    """What a Slurm job runs: train one job (the same function every executor calls)."""
    from ganbench.work import execute

    return execute(task)


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
        if array and slots:
            params["slurm_array_parallelism"] = slots
        self.ex.update_parameters(**params)
        self.params = params
        self.array = array
        self.slots = (slots if not array else None) or 1 << 30  # an array holds every job
        self.buffer: list[tuple[int, Task]] = []
        self.jobs: dict[int, tuple] = {}  # handle -> submitit job, task
        self._next = 0

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
            if self.array:
                with self.ex.batch():
                    submitted = [self.ex.submit(_train_job, t) for _, t in buffered]
            else:
                submitted = [self.ex.submit(_train_job, t) for _, t in buffered]
        except Exception as exc:  # sbatch refused the job (partition, limits, ...)
            raise UsageError(f"Slurm refused the job(s): {one_line(exc)[:300]}") from None
        for (h, task), job in zip(buffered, submitted):
            self.jobs[h] = (job, task)

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        self._flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            done = []
            for h, (job, task) in list(self.jobs.items()):
                if not job.done():
                    continue
                del self.jobs[h]
                try:
                    payload = job.result()
                except Exception as exc:  # killed, timed out, preempted, node failure
                    payload = died(task, f"Slurm job {job.job_id}: {one_line(exc)[:300]}")
                done.append((h, payload))
            if done or (deadline is not None and time.monotonic() >= deadline):
                return done
            time.sleep(POLL_S)

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
    folder = args.slurm_logs or os.path.join(os.path.abspath(args.out), ".submitit")
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
