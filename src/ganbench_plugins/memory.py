"""Built-in metric ``memory``: peak host RSS and peak CUDA memory of the run so far.

The peaks are reset at the run's first evaluation (after data loading and model building, before
training), so each run in a multi-run process gets its own figure; they then cover training and
evaluation up to each evaluation point.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.evalspec import EvalContext
from ganbench.api.specs import MetricSpec, MetricValue


def compute_memory(ctx: EvalContext):
    from ganbench.training.memory import peak_cuda_mb, peak_rss_mb, reset_peaks

    if "memory_reset" not in ctx.cache:
        ctx.cache["memory_reset"] = reset_peaks(ctx.device)
    values = [MetricValue("peak_rss_mb", peak_rss_mb(), "MiB", False)]
    cuda = peak_cuda_mb(ctx.device)
    if cuda is not None:
        values.append(MetricValue("peak_cuda_mb", cuda, "MiB", False))
    return values


METRICS = [
    MetricSpec("memory", compute_memory, "peak host RSS (and peak CUDA memory allocated on a "
               "GPU) of the run so far, MiB",
               directions={"peak_rss_mb": False, "peak_cuda_mb": False}),
]


@hookimpl
def ganbench_register_metrics(register):
    for m in METRICS:
        register(m)
