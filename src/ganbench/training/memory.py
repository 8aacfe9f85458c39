"""Peak memory of a run: host RSS and CUDA allocations, reset at the start of each run.

``ru_maxrss`` is a process-lifetime peak, so several runs in one process would all report the
largest. On Linux the peak resident set size (``VmHWM``) is reset by writing ``5`` to
``/proc/self/clear_refs`` and read back from ``/proc/self/status``; where that is not possible
the lifetime peak is reported and ``rss_peak_is_lifetime`` says so.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any, Optional

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peaks(device: Any = None) -> bool:
    """Start new peaks for the host RSS and, on CUDA, the device's allocations.

    Returns True when the host peak could be reset (Linux), False when it stays the process's
    lifetime peak.
    """
    if device is not None and getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(device)
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB since the last ``reset_peaks()``."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0  # bytes on macOS


def peak_cuda_mb(device: Any) -> Optional[float]:
    """``torch.cuda.max_memory_allocated`` in MiB since the last reset; None off CUDA."""
    if device is None or getattr(device, "type", None) != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated(device) / 2.0**20
