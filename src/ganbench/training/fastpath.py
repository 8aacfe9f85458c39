"""The GPU fast path: autocast precision, channels_last, fused Adam and torch.compile.

What is always on (it does not change the algorithm): data resident on the training device,
batches sampled there, no host synchronisation in the hot loop, and fused Adam/AdamW on CUDA and
on the CPU (torch's fused kernels: the same update as the for-each ones, to float rounding; on
a 2-vCPU Intel Xeon an MLP step of the quick suite's grid25 recipe takes 18% less time).
What is opt-in, because it changes numerics or costs compile time:

- ``precision="bf16"``: bfloat16 autocast for G and D forward passes (losses and optimiser
  state stay fp32). Part of the job (``JobSpec.precision``), so it changes the run id.
- ``channels_last=True``: 4-D image batches and conv weights in NHWC memory layout.
- ``compile=MODE``: ``torch.compile`` of G and D; ``MODE`` is ``default``,
  ``reduce-overhead`` (CUDA graphs: for small models whose step is launch-bound),
  ``max-autotune`` or ``max-autotune-no-cudagraphs``.

The last two only change how the same computation is executed (float rounding may differ, as
between two cuDNN algorithms); they are recorded in the run file's ``meta.fastpath`` but are not
part of the run id.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Optional

from ganbench.api.errors import UsageError

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDAGRAPH_MODES = ("reduce-overhead", "max-autotune")
FUSED_DEVICES = ("cuda", "cpu")  # where torch has fused Adam/AdamW kernels


@dataclass(frozen=True)
class FastPath:
    """How a job is executed on its device (see the module docstring)."""

    precision: str = "fp32"
    compile: Optional[str] = None
    channels_last: bool = False
    fused: Optional[bool] = None  # None: fused Adam/AdamW on CUDA and the CPU, for-each elsewhere

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.compile is not None and self.compile not in COMPILE_MODES:
            raise UsageError(f"unknown compile mode '{self.compile}' "
                             f"(use {', '.join(COMPILE_MODES)})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def autocast(self, device) -> Optional[Any]:
        """An autocast context for the forward passes, or None for fp32."""
        if self.precision == "fp32":
            return None
        import torch

        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def step_marker(self) -> Optional[Callable[[], None]]:
        """Called before each forward/backward pass under CUDA graphs (so a new graph replay
        does not overwrite outputs the previous one still needs); None otherwise."""
        if self.compile not in CUDAGRAPH_MODES:
            return None
        import torch

        return torch.compiler.cudagraph_mark_step_begin

    def input_transform(self) -> Optional[Callable[[Any], Any]]:
        """channels_last for 4-D image batches; None when off."""
        if not self.channels_last:
            return None
        import torch

        def to_nhwc(t):
            return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t

        return to_nhwc

    def prepare(self, net, device):
        """The module to train: in channels_last layout and compiled, as asked. The returned
        module shares parameters with ``net`` (optimise ``net.parameters()``)."""
        if self.channels_last:
            import torch

            net = net.to(memory_format=torch.channels_last)
        if self.compile is not None:
            import torch

            mode = None if self.compile == "default" else self.compile
            if self.compile in CUDAGRAPH_MODES and device.type != "cuda":
                mode = None  # CUDA graphs need CUDA; the compiled kernels still help
            net = torch.compile(net, mode=mode)
        return net

    def use_fused(self, device) -> bool:
        return device.type in FUSED_DEVICES if self.fused is None else bool(self.fused)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision '{precision}' (use {', '.join(PRECISIONS)})")
    return precision


def check_device(fast: FastPath, device) -> None:
    """UsageError when ``device`` cannot execute ``fast`` (before any run starts)."""
    if fast.precision == "bf16" and device.type == "cuda":
        import torch

        if not torch.cuda.is_bf16_supported():
            raise UsageError(f"--precision bf16 asked for, but {torch.cuda.get_device_name(device)}"
                             " does not support bfloat16")
    if fast.compile is not None:
        if device.type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
            raise UsageError("--compile on the CPU needs a C++ compiler (g++ or clang++) on PATH")
        if device.type == "cuda" and importlib.util.find_spec("triton") is None:
            raise UsageError("--compile on CUDA needs the 'triton' package (pip install triton)")


def from_args(args: Any, jobs: list, device) -> tuple[list, FastPath]:
    """The ``run`` command's execution flags: jobs carrying their precision, and the FastPath."""
    fast = FastPath(precision=args.precision, compile=args.compile,
                    channels_last=args.channels_last,
                    fused={"auto": None, "on": True, "off": False}[args.fused_adam])
    check_device(fast, device)
    if fast.precision != "fp32":
        jobs = [replace(j, precision=fast.precision) for j in jobs]
    return jobs, fast
