"""``ray``: each job is a Ray task on an existing cluster (``--ray-address auto|HOST:PORT``).

* Resources are Ray's: a task asks for ``--cpus-per-job`` CPUs (its torch threads) and, when
  training on GPUs, ``num_gpus=1`` (``--gpus-per-job``); Ray places it and queues the rest.
* A task whose worker dies (killed, out of memory, node lost) is re-run by Ray itself
  (``max_retries=--retries``); it resumes from its checkpoint when the checkpoint directory
  (``--checkpoint-dir``, default ``--out``) is shared by the nodes, else it starts over.
  A job that *raises* is not retried: it is recorded ``failed`` like everywhere else.
* The run file's content comes back as the task's return value, and the driver writes it, so
  results land in the driver's ``--out`` even without a shared filesystem.

Every node needs ganbench and the plugins the driver uses installed (the task carries names,
and the worker rebuilds the registries from the installed plugins under the driver's
``GANBENCH_LOAD_PLUGINS``), and the dataset files under ``--data-root`` (or download access).
"""

from __future__ import annotations

from typing import Hashable, Optional

from ganbench.api.errors import UsageError, one_line
from ganbench.execution.executors import Executor
from ganbench.execution.worker import Payload, Task, died


def _train_task(task: Task) -> Payload:
    """The Ray task: train one job on whichever worker Ray chose."""
    from ganbench.execution.worker import execute

    return execute(task)


class RayExecutor(Executor):
    name = "ray"
    native_retries = True

    def __init__(self, address: str, slots: Optional[int], cpus: int, gpus: Optional[int],
                 retries: int, quiet: bool, device: str):
        import ray

        self.ray = ray
        _check_reachable(check_address(address))  # RAY_ADDRESS's when auto
        try:
            if address == "local":
                ray.init(include_dashboard=False, log_to_driver=not quiet,
                         configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=not quiet, configure_logging=False)
        except ConnectionError as exc:
            raise UsageError(f"no Ray cluster at '{address}' ({one_line(exc)[:200]}): start "
                             "one with `ray start --head`, or use --ray-address HOST:PORT (or "
                             "local, a private one in this process)") from None
        if gpus is None:
            dev = (device or "auto").strip().lower()
            has_gpu = ray.cluster_resources().get("GPU", 0) > 0
            gpus = 1 if dev.startswith("cuda") or (dev == "auto" and has_gpu) else 0
        self.cpus, self.gpus, self.retries = cpus, gpus, retries
        self.remote = ray.remote(_train_task)
        self.slots = slots or 1 << 30  # Ray queues what the cluster cannot place yet
        self.refs: dict = {}  # ObjectRef -> task

    def describe(self) -> str:
        res = self.ray.cluster_resources()
        return (f"ray ({int(res.get('CPU', 0))} CPUs, {int(res.get('GPU', 0))} GPUs in the "
                f"cluster; {self.cpus} CPU(s) and {self.gpus} GPU(s) per job, "
                f"max_retries {self.retries})")

    def submit(self, task: Task) -> Hashable:
        ref = self.remote.options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.retries,
            retry_exceptions=False, name=f"ganbench:{task.job.run_id}").remote(task)
        self.refs[ref] = task
        return ref

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        ray = self.ray
        refs = list(self.refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = []
        for ref in ready:
            task = self.refs.pop(ref)
            try:
                payload = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died more than max_retries
                payload = died(task, f"Ray: {type(exc).__name__}: {one_line(exc)[:300]}")
            done.append((ref, payload))
        return done

    def cancel(self) -> None:
        for ref in self.refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self.refs.clear()

    def close(self) -> None:
        self.ray.shutdown()  # disconnects this driver; the cluster keeps running


def _check_reachable(address: str) -> None:
    """A HOST:PORT nobody listens on makes ray.init retry for minutes: fail in seconds."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # auto, local: Ray answers at once
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise UsageError(f"no Ray cluster at '{address}' ({exc.strerror or exc}): start one "
                         "with `ray start --head`, or give its --ray-address") from None


def check_address(address: str) -> str:
    """``address`` if it has a form Ray takes (``auto``, ``local``, ``HOST:PORT`` or
    ``ray://HOST:PORT`` with a port 1-65535; ``auto`` with ``$RAY_ADDRESS`` set: that one's
    form), else UsageError: Ray would retry a malformed address for a minute before failing."""
    import os
    import re

    shown = f"--ray-address {address!r}"
    if address == "auto" and os.environ.get("RAY_ADDRESS"):
        address, shown = os.environ["RAY_ADDRESS"], f"RAY_ADDRESS={os.environ['RAY_ADDRESS']!r}"
    if address in ("auto", "local"):
        return address
    m = re.fullmatch(r"(?:ray://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})", address)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise UsageError(f"{shown} is not a Ray cluster address: give auto, local, HOST:PORT "
                         "or ray://HOST:PORT (a port 1-65535)")
    return address


def build(args) -> RayExecutor:
    check_address(args.ray_address)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'ganbench[ray]'") from None
    return RayExecutor(args.ray_address, args.jobs, args.cpus_per_job, args.gpus_per_job,
                       args.retries, args.quiet, args.device)
