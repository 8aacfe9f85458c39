"""Helpers shared by the benchmarks and gpu_table.py: machine facts and synchronised timing."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Any, Callable

from ganbench.overhead import sync  # noqa: F401  (re-exported for gpu_table.py)


def machine_info() -> dict[str, Any]:
    """Versions and accelerator facts: torch, CUDA, cuDNN, GPU names, driver, CPU threads."""
    import torch

    import ganbench

    info: dict[str, Any] = {
        "torch": torch.__version__, "ganbench": ganbench.__version__,
        "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info.update(
            cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
            gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            gpu_capability=".".join(map(str, torch.cuda.get_device_capability(0))),
            gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            driver=_nvidia_driver())
    return info


def _nvidia_driver() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown (nvidia-smi not found)"


def synced(fn: Callable[[], Any], device: Any) -> Callable[[], None]:
    """``fn`` followed by a device synchronisation: what a benchmark should time on a GPU."""
    def run() -> None:
        fn()
        sync(device)

    return run


def time_best(fn: Callable[[], Any], device: Any, *, repeat: int = 5, warmup: int = 2) -> float:
    """Seconds of the fastest of ``repeat`` synchronised calls of ``fn`` after ``warmup`` calls
    (for gpu_table.py, which runs outside pytest)."""
    for _ in range(warmup):
        fn()
    sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def inception(weights_path: Any = None, device: Any = "cpu"):
    """torch-fidelity's InceptionV3 feature extractor (2048-d pool features).

    With ``weights_path`` None, a *stand-in*: the same network with random weights (the
    official weights cannot be downloaded everywhere). Its timings are the real network's;
    its FID values mean nothing and are never reported.
    """
    from ganbench.extractors.inception import standin_network

    if weights_path is None:
        return standin_network().to(device)
    from torch_fidelity import feature_extractor_inceptionv3 as fi

    net = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(weights_path))
    return net.to(device)
