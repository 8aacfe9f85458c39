"""Built-in metrics computed at each evaluation point.

* ``modes`` (toy mixtures; VEEGAN/PacGAN protocol): a sample is high quality when it lies
  within 3 std of its nearest mode centre (Euclidean distance); a mode is covered when it is the
  nearest mode of at least one high-quality sample. Reports modes covered, % high quality, and
  the reverse KL(q || p) of the histogram q of high-quality samples over modes against the
  uniform data histogram p (0 is perfect; log M when one mode has everything).
* ``frechet-data``: Fréchet distance between Gaussians fitted to generated and reference
  samples in data space (raw pixels or coordinates), for data of at most 1024 dimensions. Lower
  is better; a loss-independent quality figure that needs no feature extractor.
* ``training``: means since the previous evaluation of D loss, G loss, D(x), D(G(z)) and the
  L2 norm of the generator gradient. D(x) and D(G(z)) are sigmoid probabilities (``d_real``,
  ``d_fake``) for losses on logits, and the mean raw critic outputs (``d_real_raw``,
  ``d_fake_raw``, unit ``raw``) for losses whose ``LossSpec.output`` is ``"raw"``
  (Wasserstein, hinge, least squares), where a sigmoid would mean nothing.
* ``throughput``: training images per second (real images seen by D) since the previous
  evaluation, on the training clock (evaluation excluded).
* ``memorisation`` (opt-in: name it in a suite entry's ``metrics`` or ``ganbench run --metric``):
  each sample's distance to its nearest training point against held-out (test split) points'
  distances, in the extractor's features or data space (``ganbench.evaluation.memorisation``):
  ``copy_fraction`` (lower is better) and ``data_copying_z`` (Meehan et al. 2020's test
  statistic; 0 is ideal, negative = copying).
* ``fd-dinov2`` (when ``--extractor`` names a DINOv2 model beside the main extractor, e.g.
  ``auto,dinov2-vit-s-14``): ``fd_dinov2``, the Fréchet distance on DINOv2 ViT-S/14 features
  by torch-fidelity (lower is better), each row under its own EvalSpec
  (``ganbench.evaluation.fd_dinov2``).
* ``cas`` (opt-in; conditional generators on a dataset with a shipped domain classifier):
  classification accuracy score (Ravuri & Vinyals 2019), the test-split accuracy of the
  classifier's architecture trained on the generator's labelled samples only, at most 10,000
  samples, 500 Adam steps of 64 (``ganbench.evaluation.cas``); higher is better, chance is 1 / classes.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.evalspec import EvalContext
from ganbench.api.specs import MetricSpec, MetricValue

FRECHET_MAX_DIM = 1024


def mode_stats(samples, centers, std: float) -> dict[str, float]:
    """Mode coverage statistics of ``samples`` (N, d) against mixture ``centers`` (M, d)."""
    import torch

    centers = torch.as_tensor(centers, dtype=samples.dtype, device=samples.device)
    dist = torch.cdist(samples, centers)
    nearest_d, nearest = dist.min(dim=1)
    hq = nearest_d <= 3 * std
    m = len(centers)
    counts = torch.bincount(nearest[hq], minlength=m).double()
    covered = int((counts > 0).sum())
    n_hq = counts.sum()
    if n_hq > 0:
        q = counts / n_hq
        nz = q > 0
        rkl = float((q[nz] * torch.log(q[nz] * m)).sum())
    else:
        rkl = float("nan")
    return {
        "modes_covered": float(covered),
        "high_quality_pct": float(100.0 * hq.double().mean()),
        "reverse_kl": rkl,
    }


MODES = {"modes_covered": True, "high_quality_pct": True, "reverse_kl": False}  # directions
TRAINING = {"d_loss": (None, ""), "g_loss": (None, ""), "d_real": (None, "prob"),
            "d_fake": (None, "prob"), "d_real_raw": (None, "raw"), "d_fake_raw": (None, "raw"),
            "g_grad_norm": (None, "")}


def compute_modes(ctx: EvalContext):
    s = mode_stats(ctx.samples().flatten(1), ctx.dataset.modes.centers, ctx.dataset.modes.std)
    return [MetricValue(k, s[k], unit, MODES[k]) for k, unit in
            (("modes_covered", "modes"), ("high_quality_pct", "%"), ("reverse_kl", "nats"))]


def compute_frechet(ctx: EvalContext):
    from ganbench.evaluation.frechet import frechet_distance, moments

    if "ref_moments" not in ctx.cache:
        ctx.cache["ref_moments"] = moments(ctx.data.x.flatten(1))
    mu_r, sig_r = ctx.cache["ref_moments"]
    mu_g, sig_g = moments(ctx.samples().flatten(1))
    return [MetricValue("frechet_data", frechet_distance(mu_g, sig_g, mu_r, sig_r), "", False)]


def compute_training(ctx: EvalContext):
    return [MetricValue(k, ctx.stats[k], unit, hib) for k, (hib, unit) in TRAINING.items()
            if k in ctx.stats]


def compute_throughput(ctx: EvalContext):
    if "images_per_s" not in ctx.stats:
        return []
    return [MetricValue("images_per_s", ctx.stats["images_per_s"], "img/s", True)]


def compute_memorisation(ctx: EvalContext):
    from ganbench.evaluation.memorisation import DIRECTIONS, compute

    return [MetricValue(k, v, "", DIRECTIONS[k]) for k, v in compute(ctx).items()]


def compute_fd_dinov2(ctx: EvalContext):
    from ganbench.evaluation.fd_dinov2 import compute

    return [MetricValue(name, value, "", False, eval_spec=spec)
            for name, value, spec in compute(ctx)]


def _fd_dinov2_directions():
    from ganbench.evaluation.extractors.dinov2 import METRICS as FD

    return dict(FD)


def _cas_arch(ctx: EvalContext):
    from ganbench.evaluation.extractors import domain

    if not ctx.conditional or ctx.dataset.spec.kind != "images":
        return None
    rec = domain.info(ctx.dataset.name)
    return rec["arch"] if rec is not None else None


def compute_cas(ctx: EvalContext):
    from ganbench.evaluation.cas import compute

    return [MetricValue("cas", compute(ctx, _cas_arch(ctx)), "prob", True)]


METRICS = [
    MetricSpec("modes", compute_modes, "modes covered, % high quality (3 std), reverse KL of "
               "the mode histogram (toy mixtures)", applies=lambda c: c.dataset.modes is not None,
               directions=MODES),
    MetricSpec("frechet-data", compute_frechet, "Fréchet distance in data space (data of at most "
               f"{FRECHET_MAX_DIM} dims)", applies=lambda c: c.dataset.spec.dim <= FRECHET_MAX_DIM,
               directions={"frechet_data": False}),
    MetricSpec("training", compute_training, "interval means of D/G loss, D(x), D(G(z)), "
               "generator gradient norm", directions={k: v[0] for k, v in TRAINING.items()}),
    MetricSpec("throughput", compute_throughput, "training images per second (eval excluded)",
               directions={"images_per_s": True}),
    MetricSpec("memorisation", compute_memorisation, "copy_fraction (lower better): share of "
               "samples at most as near the training set as the nearest held-out real point; "
               "data_copying_z (0 ideal, < 0 copying): Meehan et al. 2020 test of nearest-"
               "training distances vs held-out data's; opt-in",
               default=False, directions={"copy_fraction": False, "data_copying_z": None}),
    MetricSpec("fd-dinov2", compute_fd_dinov2, "fd_dinov2 (lower better): Fréchet distance "
               "on DINOv2 ViT-S/14 features (Stein et al. 2023) by torch-fidelity, under its own "
               "EvalSpec; when --extractor names dinov2-vit-s-14[=PATH] beside the main one",
               applies=lambda c: bool(getattr(c.extractor, "extras", ())),
               directions=_fd_dinov2_directions()),
    MetricSpec("cas", compute_cas, "cas (higher better; chance 1/classes): classification "
               "accuracy score (Ravuri & Vinyals 2019), real test accuracy of the domain "
               "classifier's architecture trained on a conditional G's labelled samples "
               "(<= 10k samples, 500 steps of 64); opt-in", applies=lambda c: _cas_arch(c) is not None,
               default=False, directions={"cas": True}),
]


@hookimpl
def ganbench_register_metrics(register):
    for m in METRICS:
        register(m)
