"""Helpers shared by the benchmarks and gpu_table.py: machine facts and synchronised timing."""

from __future__ import annotations

import time
from typing import Any, Callable

from ganbench.devkit.overhead import sync  # noqa: F401  (re-exported for gpu_table.py)
from ganbench.devkit.pytest_plugin import machine_info  # noqa: F401  (for gpu_table.py)


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
    from ganbench.evaluation.extractors.inception import standin_network

    if weights_path is None:
        return standin_network().to(device)
    from torch_fidelity import feature_extractor_inceptionv3 as fi

    net = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(weights_path))
    return net.to(device)
