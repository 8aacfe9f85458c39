"""FD_DINOv2: the Fréchet distance on DINOv2 features (Stein et al. 2023), computed by
torch-fidelity beside a run's FID, under its own EvalSpec (the run's protocol on the DINOv2
extractor and its weights' hash) and its own metric name, so it is never pooled with FID.

Asked for with ``--extractor auto,dinov2-vit-s-14`` (``=PATH`` for a weights file); see
``ganbench.evaluation.extractors.dinov2`` for where the network comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ganbench.api.evalspec import EvalContext


def compute(ctx: "EvalContext") -> list[tuple[str, float, str]]:
    """(metric, value, EvalSpec hash) for each DINOv2 extractor of the run. The reference
    images are the run's (the same seeded subset FID uses); their DINOv2 statistics are cached
    by torch-fidelity under their own EvalSpec's hash."""
    import torch

    from ganbench.evaluation import fidelity
    from ganbench.evaluation.extractors import dinov2
    from ganbench.evaluation.extractors.select import extra_spec

    out = []
    samples = ctx.samples()
    for ext in ctx.extractor.extras:
        spec = extra_spec(ctx.eval_spec, ext)
        if "fidelity_ref" not in ctx.cache:  # the same lazy input compute() makes for FID
            ctx.cache["fidelity_ref"] = fidelity.tensor_input(
                lambda: fidelity.reference_images(ctx.reference, spec.n_reference, spec.seed))
        name = fidelity.reference_cache_name(ctx.dataset.name, spec, ctx.job.data_options)
        with torch.no_grad():
            vals = fidelity.calculate(fidelity.samples_input(samples), len(samples),
                                      ctx.cache["fidelity_ref"], spec.n_reference, ext,
                                      cuda=ctx.device.type == "cuda", seed=spec.seed,
                                      cache_name=name, kid=False, isc=False, prc=False)
        out.append((dinov2.metric_name(ext.model), vals["fid"], spec.hash))
    return out
