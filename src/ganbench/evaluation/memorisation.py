"""Memorisation: are generated samples closer to the training set than fresh real data is?

For each generated sample g, ``d(g)`` is the Euclidean distance to its nearest training point;
for each held-out real point h (the test split, never trained on), ``d(h)`` likewise. A
generator that generalises puts its samples as far from the training set as new real data
lies; one that copies training images puts them at (near) zero. Two numbers compare the two
distance distributions, in the run's feature space (the EvalSpec's extractor, precision/recall's
layer) or, without an extractor, in data space:

* ``copy_fraction`` (lower is better): the fraction of generated samples at most as far from
  the training set as the *closest* held-out real point, ``mean_g [d(g) <= min_h d(h)]``. For
  samples exchangeable with the m held-out points (a generator as good as fresh data) its
  expectation is 1/(m + 1); a generator that returns training copies for a fraction f of its
  samples scores at least f (a copy has d = 0).
* ``data_copying_z`` (0 is ideal; no better direction): the Mann-Whitney z-score of d(g)
  against d(h), ``(U - n m / 2) / sqrt(n m (n + m + 1) / 12)`` with ``U = #{d(g) > d(h)}``
  (ties count 1/2) over the n generated and m held-out points: the test statistic of
  Meehan, Chaudhuri & Dasgupta (2020), "A non-parametric test to detect data-copying in
  generative models" (AISTATS), with a single cell (their C_T averages it over cells of a
  partition). About N(0, 1) when the samples are as far from the training set as held-out
  data; strongly negative for data copying; positive when samples lie farther away than real
  data (under-fitting, noise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.api.evalspec import EvalContext
    from ganbench.evaluation.extractors.select import Extractor

BATCH = 2000
# value -> higher is better (None: no better direction)
DIRECTIONS = {"copy_fraction": False, "data_copying_z": None}


def nn_distances(query: "torch.Tensor", train: "torch.Tensor", batch: int = BATCH
                 ) -> "torch.Tensor":
    """Each row of ``query`` (N, d): its distance to the nearest row of ``train`` (M, d),
    ``torch.cdist`` in float64, in batches of ``batch`` rows on both sides."""
    import torch

    q, t = query.flatten(1).double(), train.flatten(1).double()
    out = []
    for qb in q.split(batch):
        best = torch.full((len(qb),), float("inf"), dtype=torch.float64, device=qb.device)
        for tb in t.split(batch):
            best = torch.minimum(best, torch.cdist(qb, tb).min(1).values)
        out.append(best.cpu())
    return torch.cat(out)


def scores(d_gen: "torch.Tensor", d_held: "torch.Tensor") -> dict[str, float]:
    """``copy_fraction`` and ``data_copying_z`` of generated nearest-training distances
    ``d_gen`` against held-out real ones ``d_held`` (see the module's docstring)."""
    import torch

    g, h = d_gen.double().cpu(), d_held.double().cpu()
    n, m = len(g), len(h)
    copy_fraction = float((g <= h.min()).double().mean())
    hs = torch.sort(h).values
    below = torch.searchsorted(hs, g, right=False)  # held-out strictly smaller than each g
    ties = torch.searchsorted(hs, g, right=True) - below
    u = float(below.double().sum() + 0.5 * ties.double().sum())
    z = (u - n * m / 2) / (n * m * (n + m + 1) / 12) ** 0.5
    return {"copy_fraction": copy_fraction, "data_copying_z": z}


def feature_net(ext: "Extractor", device: Any = "cpu"):
    """torch-fidelity's extractor ``ext`` returning precision/recall's layer (the features
    torch-fidelity's precision uses)."""
    import torch
    from torch_fidelity.utils import create_feature_extractor, resolve_feature_layer_for_metric

    kwargs = dict(ext.fidelity_kwargs)
    layer = resolve_feature_layer_for_metric("prc", feature_extractor=ext.name, **kwargs)
    return create_feature_extractor(ext.name, [layer],
                                    cuda=torch.device(device).type == "cuda", **kwargs)


def features(ext: "Optional[Extractor]", x: "torch.Tensor", device: Any = "cpu",
             batch: int = 500, net: Any = None) -> "torch.Tensor":
    """The points distances are taken between: ``x`` (images in [-1, 1] or points) through
    :func:`feature_net` of ``ext`` (or ``net``, one already made), or ``x`` flattened when
    ``ext`` is None."""
    import torch

    if ext is None:
        return x.flatten(1).double()
    from ganbench.evaluation.extractors.domain_net import to_uint8

    net = net if net is not None else feature_net(ext, device)
    out = []
    with torch.no_grad():
        for xb in x.split(batch):
            out.append(net(to_uint8(xb).to(device))[0].double().cpu())
    return torch.cat(out)


def held_out(ctx: "EvalContext") -> "torch.Tensor":
    """The held-out real points: the test split (``$GANBENCH_DATA_ROOT`` or the user cache,
    never downloaded here), a seeded subset of ``n_samples`` when larger."""
    import torch

    if ctx.eval_spec.reference == "test" and ctx.reference is not None:
        x = ctx.reference
    else:
        from ganbench.api.specs import DataRequest
        from ganbench.data.imaging import apply_options

        req = DataRequest(split="test", download=False, options=dict(ctx.job.data_options))
        x = apply_options(ctx.dataset.load(req), req.options).x.to(ctx.data.x.device)
    n = ctx.eval_spec.n_samples
    if n < len(x):
        g = torch.Generator().manual_seed(ctx.eval_spec.seed + 3)
        x = x[torch.randperm(len(x), generator=g)[:n].to(x.device)]
    return x


def compute(ctx: "EvalContext") -> dict[str, float]:
    """The memorisation scores of this evaluation's samples against the whole training split.
    The training split's features and the held-out points' distances are computed once per run
    (``ctx.cache``)."""
    if "memorisation" not in ctx.cache:
        net = feature_net(ctx.extractor, ctx.device) if ctx.extractor is not None else None
        train = features(ctx.extractor, ctx.data.x, ctx.device, net=net)
        d_held = nn_distances(features(ctx.extractor, held_out(ctx), ctx.device, net=net),
                              train)
        ctx.cache["memorisation"] = (net, train, d_held)
    net, train, d_held = ctx.cache["memorisation"]
    d_gen = nn_distances(features(ctx.extractor, ctx.samples(), ctx.device, net=net), train)
    return scores(d_gen, d_held)
