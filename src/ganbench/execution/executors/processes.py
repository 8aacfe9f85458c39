"""``processes``: ``--jobs N`` worker processes on this machine.

Each worker is a process of its own (``multiprocessing`` spawn) that trains one job after
another, so Python, torch and the plugins are imported once per worker, not once per job. A
crash, an out-of-memory kill or a hung CUDA context stays in its worker: the driver knows
exactly which job a dead worker held (it is recorded ``failed``, or re-run from its checkpoint
up to ``--retries`` times), and the next job gets a fresh worker in that slot. On a machine with
several GPUs (``--device auto`` or ``cuda``) worker slot k sees one GPU,
``CUDA_VISIBLE_DEVICES=k mod #GPUs``; the CPU's cores are split between the workers
(``torch.set_num_threads`` and ``OMP_NUM_THREADS`` = cores // N, at least 1), so N workers on N
cores do not oversubscribe them.

A worker dies with its driver, however the driver ends (SIGKILL included): on Linux the kernel
sends it SIGKILL when the driver exits (``PR_SET_PDEATHSIG``), and everywhere a thread in the
worker ends it once its parent is gone (it was re-parented), so no orphan trains on and writes
into the output directory; the driver's run locks die with it, and a rerun resumes each run
from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
from typing import Hashable, Optional

from ganbench.api.errors import UsageError
from ganbench.execution.executors import Executor, cpu_count
from ganbench.execution.worker import Payload, Task, died


def die_with_parent(parent: int, every_s: float = 0.5) -> None:
    """End this process when its parent ``parent`` ends: the kernel's parent-death signal on
    Linux, and a watching thread everywhere (the parent's end re-parents this process). The
    kernel sends the signal when the parent *thread* that started the worker ends, so workers
    must be started from the driver's main thread, as ``dispatch`` does."""
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass  # the thread below still watches
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(137)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(137)

    threading.Thread(target=watch, name="ganbench-parent-watch", daemon=True).start()


def _worker(conn, env: dict, parent: int) -> None:
    """A worker's loop: receive a pickled task, train it, send its payload; None stops it."""
    die_with_parent(parent)
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    from ganbench.execution.worker import execute

    try:
        while True:
            blob = conn.recv()
            if blob is None:
                break
            conn.send(execute(pickle.loads(blob)))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        os._exit(130)
    conn.close()


@dataclasses.dataclass
class _Worker:
    proc: object
    conn: object
    job: Optional[tuple] = None  # (handle, task) while it trains one


class ProcessExecutor(Executor):
    name = "processes"

    def __init__(self, jobs: int, threads: Optional[int], gpus: list[Optional[str]]):
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        self.slots = jobs
        self.threads = threads
        self.gpus = gpus  # per slot: a CUDA_VISIBLE_DEVICES value, or None (leave it)
        self.workers: dict[int, _Worker] = {}  # slot -> its live worker
        self._next = 0

    def describe(self) -> str:
        gpu = (f", one GPU each ({', '.join(g for g in self.gpus)})"
               if any(g is not None for g in self.gpus) else "")
        return f"processes ({self.slots} workers, {self.threads} CPU thread(s) each{gpu})"

    def _start(self, slot: int) -> _Worker:
        env: dict = {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        if self.gpus[slot] is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot]
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=_worker, args=(child, env, os.getpid()),
                                name=f"ganbench-worker-{slot}", daemon=False)
        proc.start()
        child.close()
        self.workers[slot] = _Worker(proc, parent)
        return self.workers[slot]

    def submit(self, task: Task) -> Hashable:
        slot = next(s for s in range(self.slots)
                    if s not in self.workers or self.workers[s].job is None)
        worker = self.workers.get(slot) or self._start(slot)
        options = dataclasses.replace(task.options, threads=self.threads)
        if self.gpus[slot] is not None:
            options = dataclasses.replace(options, device="cuda")
        task = dataclasses.replace(task, options=options)
        self._next += 1
        handle = (self._next, task.job.run_id)
        try:
            worker.conn.send(pickle.dumps(task))
        except (BrokenPipeError, OSError):  # it died while idle: start a fresh one
            self._drop(slot)
            worker = self._start(slot)
            worker.conn.send(pickle.dumps(task))
        worker.job = (handle, task)
        return handle

    def _drop(self, slot: int) -> None:
        worker = self.workers.pop(slot)
        worker.conn.close()
        if worker.proc.is_alive():
            worker.proc.kill()
        worker.proc.join()

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        from multiprocessing.connection import wait as mp_wait

        watch = {}
        for slot, w in self.workers.items():
            if w.job is not None:
                watch[w.conn] = slot
                watch[w.proc.sentinel] = slot
        done = []
        for slot in dict.fromkeys(watch[o] for o in mp_wait(list(watch), timeout)):
            worker = self.workers[slot]
            handle, task = worker.job
            payload = None
            try:
                if worker.conn.poll():
                    payload = worker.conn.recv()
            except (EOFError, OSError):
                payload = None
            if payload is None:  # the worker died with the job: its slot gets a fresh one
                worker.proc.join(10)
                payload = died(task, _exit_reason(worker.proc.exitcode))
                self._drop(slot)
            else:
                worker.job = None
            done.append((handle, payload))
        return done

    def cancel(self) -> None:
        for w in self.workers.values():
            w.proc.terminate()
        for slot in list(self.workers):
            w = self.workers[slot]
            w.proc.join(10)
            self._drop(slot)

    def close(self) -> None:
        for w in self.workers.values():
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for slot in list(self.workers):
            self.workers[slot].proc.join(30)
            self._drop(slot)


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
