"""``processes``: ``--jobs N`` worker processes on this machine.

Each job trains in a fresh process (``multiprocessing`` spawn), so a crash, an out-of-memory
kill or a leaked CUDA context stays in its job, and the driver knows exactly which job a dead
worker held (it is recorded ``failed``, or re-run from its checkpoint up to ``--retries``
times). On a machine with several GPUs (``--device auto`` or ``cuda``) worker slot k sees one
GPU, ``CUDA_VISIBLE_DEVICES=k mod #GPUs``; the CPU's cores are split between the workers
(``torch.set_num_threads`` and ``OMP_NUM_THREADS`` = cores // N, at least 1), so N workers on N
cores do not oversubscribe them.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
from typing import Hashable, Optional

from ganbench.errors import UsageError
from ganbench.executors import Executor
from ganbench.work import Payload, Task, died


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _child(conn, env: dict, blob: bytes) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        from ganbench.work import execute

        payload = execute(pickle.loads(blob))
    except KeyboardInterrupt:
        os._exit(130)
    conn.send(payload)
    conn.close()


class ProcessExecutor(Executor):
    name = "processes"

    def __init__(self, jobs: int, threads: Optional[int], gpus: list[Optional[str]]):
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        self.slots = jobs
        self.threads = threads
        self.gpus = gpus  # per slot: a CUDA_VISIBLE_DEVICES value, or None (leave it)
        self.procs: dict[Hashable, tuple] = {}  # handle -> process, connection, slot, task
        self._next = 0

    def describe(self) -> str:
        gpu = (f", one GPU each ({', '.join(g for g in self.gpus)})"
               if any(g is not None for g in self.gpus) else "")
        return f"processes ({self.slots} workers, {self.threads} CPU thread(s) each{gpu})"

    def submit(self, task: Task) -> Hashable:
        used = {p[2] for p in self.procs.values()}
        slot = next(s for s in range(self.slots) if s not in used)
        env: dict = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        options = dataclasses.replace(task.options, threads=self.threads)
        if self.gpus[slot] is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot]
            options = dataclasses.replace(options, device="cuda")
        task = dataclasses.replace(task, options=options)
        parent, child = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_child, args=(child, env, pickle.dumps(task)),
                                name=f"ganbench-{task.job.run_id}", daemon=False)
        proc.start()
        child.close()
        self._next += 1
        handle = (self._next, task.job.run_id)
        self.procs[handle] = (proc, parent, slot, task)
        return handle

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        from multiprocessing.connection import wait as mp_wait

        watch = {}
        for h, (proc, conn, _slot, _task) in self.procs.items():
            watch[conn] = h
            watch[proc.sentinel] = h
        done = []
        for h in dict.fromkeys(watch[o] for o in mp_wait(list(watch), timeout)):
            proc, conn, _slot, task = self.procs.pop(h)
            payload = None
            try:
                if conn.poll():
                    payload = conn.recv()
            except (EOFError, OSError):
                payload = None
            conn.close()
            proc.join(None if payload is None else 60)
            if payload is None:
                payload = died(task, _exit_reason(proc.exitcode))
            done.append((h, payload))
        return done

    def cancel(self) -> None:
        for proc, conn, _slot, _task in self.procs.values():
            proc.terminate()
        for proc, conn, _slot, _task in self.procs.values():
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        self.procs.clear()


def _exit_reason(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{hint}"
    return f"the worker process exited with code {code} before returning a result"


def build(args) -> ProcessExecutor:
    import torch

    device = (args.device or "auto").strip().lower()
    ngpu = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    jobs = args.jobs or max(1, ngpu)
    if args.threads is not None:
        threads = args.threads
    else:
        threads = max(1, cpu_count() // jobs)
    gpus: list[Optional[str]] = [str(k % ngpu) if ngpu > 1 else None for k in range(jobs)]
    if ngpu == 1 and jobs > 1:
        pass  # several workers share the one GPU (fine for small models)
    if jobs > 256:
        raise UsageError(f"--jobs {jobs} is more worker processes than ganbench starts "
                         "(at most 256)")
    return ProcessExecutor(jobs, threads, gpus)
