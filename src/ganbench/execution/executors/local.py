"""``local``: one job after another in this process (what ``ganbench run`` always did)."""

from __future__ import annotations

from typing import Hashable, Optional

from ganbench.execution.executors import Executor
from ganbench.execution.progress import Progress
from ganbench.execution.worker import Payload, Task, execute


class LocalExecutor(Executor):
    name = "local"
    slots = 1

    def __init__(self, reg, quiet: bool = False, warn=None):
        self.reg, self.quiet, self.warn = reg, quiet, warn
        self._queue: list[Task] = []

    def submit(self, task: Task) -> Hashable:
        self._queue.append(task)
        return task.job.run_id

    def wait(self, timeout: Optional[float]) -> list[tuple[Hashable, Payload]]:
        done = []
        while self._queue:
            task = self._queue.pop(0)
            label = f"[{task.index}/{task.total}] {task.job.label}"
            bar = (self.progress.job(label, self.quiet) if self.progress is not None
                   else Progress(label, self.quiet))
            done.append((task.job.run_id, execute(task, self.reg, progress=bar, warn=self.warn)))
        return done

    def cancel(self) -> None:
        self._queue.clear()


def build(args) -> LocalExecutor:
    from ganbench.registry import registries

    return LocalExecutor(registries(), quiet=args.quiet)
