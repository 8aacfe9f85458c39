"""Run checkpoints: everything needed to continue an interrupted run exactly where it stopped.

At every evaluation point before the end of the budget the runner saves G, D, both optimisers,
the torch RNG states (the run's batch/noise generator and the global CPU/CUDA ones), the step,
image and wall-clock counters, the tensors metrics cached between evaluations and the result
rows so far. Saving happens right after an evaluation, when the per-interval statistics are
empty, so a restored run continues with exactly the state an uninterrupted one would have: on
the CPU with deterministic settings the final parameters are bitwise equal.

Files are written atomically (temporary name, fsync, rename) and read back with
``torch.load(weights_only=True)``: no pickled code is ever executed. A checkpoint that cannot be
read, belongs to another run, was made on another kind of device or by other code (another
code identity, ``ganbench.store.envinfo.code_identity``) is reported and ignored (the run starts
from scratch).
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Union

from ganbench.api.errors import first_line
from ganbench.store.safepath import atomic_write, state_dir_path

FORMAT = "ganbench-checkpoint/1"


class Restored(NamedTuple):
    """What a resumed run continues from (the order ``train`` unpacks it in)."""

    rows: list[dict[str, Any]]
    steps: int
    images: int
    wall: float
    eval_wall: float


def checkpoint_path(out_dir: Union[str, Path], run_id: str) -> Path:
    """``OUT/.ganbench/RUN_ID.ckpt``: hidden from the results loader, inside the output dir."""
    return state_dir_path(out_dir, run_id, ".ckpt")


def _warn(msg: str) -> None:
    print(f"ganbench: warning: {msg}", file=sys.stderr)


class Checkpointer:
    """Saves and restores one run's training state at ``path``.

    ``modules`` passed to :meth:`save` and :meth:`restore` maps names to objects with
    ``state_dict``/``load_state_dict`` (G, D and their optimisers).
    """

    def __init__(self, path: Union[str, Path], run_id: str,
                 warn: Optional[Callable[[str], None]] = None, code: str = ""):
        self.path = Path(path)
        self.run_id = run_id
        self.code = code  # the run's code identity (envinfo.code_identity); "": not checked
        self.warn = warn or _warn
        self.rows: list[dict[str, Any]] = []  # rows of the last checkpoint saved or restored
        self.steps = 0

    def save(self, modules: dict[str, Any], rng, cache: dict[str, Any],
             rows: list[dict[str, Any]], steps: int, images: int, wall: float,
             eval_wall: float) -> None:
        import torch

        state = {
            "format": FORMAT,
            "run_id": self.run_id,
            "code": self.code,
            "device_type": str(rng.device.type),
            "modules": {name: m.state_dict() for name, m in modules.items()},
            "rng": rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "cache": {k: v for k, v in cache.items() if isinstance(v, torch.Tensor)},
            "rows": [dict(r) for r in rows],
            "counters": {"steps": steps, "images": images, "wall": wall,
                         "eval_wall": eval_wall},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda f: torch.save(state, f))
        self.rows, self.steps = state["rows"], steps

    def restore(self, modules: dict[str, Any], rng, cache: dict[str, Any],
                check: Optional[Callable[[Restored], Optional[str]]] = None
                ) -> Optional[Restored]:
        """Load the checkpoint into ``modules``, ``rng`` and ``cache``; None when there is
        none (or it is unusable, which is reported: then nothing was changed). ``check``
        returns why restored counters cannot belong to this run (None: they can)."""
        if not self.path.exists():
            return None
        import torch

        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or state.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
        except Exception as exc:  # truncated, corrupt, or holding something that is not data
            self.warn(f"ignoring unreadable checkpoint '{self.path}' "
                      f"({first_line(exc, 200)}); the run starts from scratch")
            return None
        if state.get("run_id") != self.run_id:
            self.warn(f"ignoring checkpoint '{self.path}': it belongs to run "
                      f"{state.get('run_id')!r}")
            return None
        if state.get("device_type") != rng.device.type:
            self.warn(f"checkpoint '{self.path}' was made on {state.get('device_type')}, this "
                      f"run is on {rng.device.type}: starting from scratch")
            return None
        if self.code and state.get("code") != self.code:
            self.warn(f"checkpoint '{self.path}' was made by other code (code identity "
                      f"{state.get('code') or 'unrecorded'}, now {self.code}): starting from "
                      "scratch")
            return None
        try:
            c = state["counters"]
            restored = Restored(list(state["rows"]), _count(c["steps"]), _count(c["images"]),
                                _seconds(c["wall"]), _seconds(c["eval_wall"]))
            if not all(isinstance(r, dict) for r in restored.rows):
                raise ValueError("a row is not an object")
            reason = check(restored) if check else None
            if reason:
                raise ValueError(reason)
        except (KeyError, RuntimeError, ValueError, TypeError, OverflowError) as exc:
            self.warn(f"ignoring checkpoint '{self.path}': it does not fit this run "
                      f"({first_line(exc, 200)}); the run starts from scratch")
            return None
        # all or nothing: a checkpoint that fails half-way leaves every object as it was
        before = {name: copy.deepcopy(m.state_dict()) for name, m in modules.items()}
        rng_before, torch_before = rng.get_state(), torch.get_rng_state()
        cache_before = dict(cache)
        try:
            for name, m in modules.items():
                m.load_state_dict(state["modules"][name])
            rng.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            if state["cuda_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            dev = rng.device
            cache.update({k: v.to(dev) for k, v in state["cache"].items()})
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError,
                IndexError) as exc:
            for name, m in modules.items():
                m.load_state_dict(before[name])
            rng.set_state(rng_before)
            torch.set_rng_state(torch_before)
            cache.clear()
            cache.update(cache_before)
            self.warn(f"ignoring checkpoint '{self.path}': it does not fit this run "
                      f"({first_line(exc, 200)}); the run starts from scratch")
            return None
        self.rows, self.steps = restored.rows, restored.steps
        return restored

    def discard(self) -> None:
        """Remove the checkpoint (after the run's result file is safely written)."""
        _unlink(self.path)


def _count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"counter {v!r} is not a non-negative whole number")
    return v


def _seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
        raise ValueError(f"time {v!r} is not a non-negative finite number")
    return float(v)


def nonfinite_state(*modules) -> Optional[str]:
    """Name of the first parameter or buffer holding NaN/inf, or None when all are finite."""
    import torch

    for i, m in enumerate(modules):
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return f"{'GD'[i] if len(modules) == 2 else i}.{name}"
    return None


def _unlink(path: Union[str, Path]) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
