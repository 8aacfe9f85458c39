"""FID, KID, IS and precision/recall through torch-fidelity, on samples streamed from G;
density/coverage on precision/recall's features.

Generated samples never touch the disk: a ``GenerativeModelBase`` wrapper hands torch-fidelity
uint8 3xHxW batches generated from the run's fixed evaluation noise (and, for a conditional G,
its fixed seeded labels; torch-fidelity's own conditional path uses the removed ``np.int``, so
the wrapper tells it the model is unconditional and draws the labels itself). The reference
split goes in as an in-memory Dataset whose features and FID statistics torch-fidelity caches
on disk under ``cache_dir()``, named by the dataset and the EvalSpec hash: the second
evaluation against the same reference does not recompute them.

Speed (issue 28 §4; docs/performance-eval.md): precision, recall, density and coverage come from
one pass (:func:`prdc`) over torch-fidelity's own distance computations, so precision and recall
are torch-fidelity's bit for bit; the reference's k-NN radii, which torch-fidelity recomputes at
every call, are computed once per reference and cached beside its features
(:func:`cached_real_radii`); the k-th neighbour is selected with ``topk`` rather than
``kthvalue`` (the same element, ~10x faster on a CPU).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.api.evalspec import EvalContext, EvalSpec
    from ganbench.evaluation.extractors.select import Extractor

KID_SUBSETS = 10  # torch-fidelity default 100; KID is unbiased for any count, only its std
# changes, and 100 subsets of 1000 cost ~20 s per evaluation on a 2-core CPU
KID_SUBSET_SIZE = 1000
BATCH = 500
# torch-fidelity key -> (ganbench metric, higher is better)
KEYS = {
    "frechet_inception_distance": ("fid", False),
    "kernel_inception_distance_mean": ("kid", False),
    "kernel_inception_distance_std": ("kid_std", None),
    "inception_score_mean": ("is", True),
    "inception_score_std": ("is_std", None),
    "precision": ("precision", True),
    "recall": ("recall", True),
    # computed by ganbench (density_coverage) on the features torch-fidelity used for precision
    "density": ("density", True),
    "coverage": ("coverage", True),
}
# k of the k-NN radii: torch-fidelity's prc_neighborhood default, used for precision/recall and
# for density/coverage alike (Naeem et al. 2020 recommend k=5; see results/eval-agreement.md)
PRC_K = 3
PRC_BATCH = 2000  # row batch of density_coverage, the reference implementation
FIDELITY_PRC_BATCH = 10_000  # torch-fidelity's prc_batch_size default, which calculate uses
COMPARE_ROWS = 512  # rows of a distance matrix compared with the radii at a time (exact either way)


def cache_dir() -> Path:
    """``$GANBENCH_CACHE_DIR/fidelity``, else ``$XDG_CACHE_HOME/ganbench/fidelity``, else
    ``~/.cache/ganbench/fidelity``."""
    from ganbench.data.dataroot import user_cache_dir

    root = os.environ.get("GANBENCH_CACHE_DIR")
    return (Path(root) if root else user_cache_dir()) / "fidelity"


def reference_cache_name(dataset: str, spec: "EvalSpec", data_options: Any = ()) -> str:
    """torch-fidelity's cache name of a reference set: dataset, EvalSpec hash, data options."""
    opts = hashlib.sha256(json.dumps(sorted(dict(data_options).items()), default=str)
                          .encode()).hexdigest()[:6]
    return f"ganbench-{dataset}-{spec.hash}-{opts}"


def _batches_input(batch, z_size: int, on_batch=None):
    """A torch-fidelity GenerativeModelBase that hands out ``batch(i, j)`` (float images in
    [-1, 1]) for consecutive ranges, as uint8 3xHxW batches; torch-fidelity's own noise only
    sets the batch sizes. ``on_batch(n)`` is called with each batch's size before it is
    returned (see ``extractors.domain.PredictionTap``). ``batch`` is a closure, not a module
    attribute, so torch-fidelity's ``.cuda()`` never moves a generator or samples."""
    from torch_fidelity.generative_model_base import GenerativeModelBase

    from ganbench.evaluation.extractors.domain_net import to_uint8

    class _Batches(GenerativeModelBase):
        def __init__(self):
            super().__init__()
            self.cursor = 0

        @property
        def z_size(self):
            return z_size

        @property
        def z_type(self):
            return "normal"

        @property
        def num_classes(self):
            return 0  # labels, if any, are drawn by ganbench, seeded, not by torch-fidelity

        def forward(self, noise):
            i, j = self.cursor, self.cursor + len(noise)
            self.cursor = j
            # grey as a stride-0 view of one channel: the same values as a copy, and a
            # ganbench extractor's channel mean over it costs a third
            out = to_uint8(batch(i, j), view=True).to(noise.device)
            if on_batch is not None:
                on_batch(len(out))
            return out

    return _Batches()


def generator_input(generator, z: "torch.Tensor", labels: Optional["torch.Tensor"] = None):
    """Batches ``G(z[i:j](, labels[i:j]))``, generated as torch-fidelity asks for them, in
    order, from the fixed noise ``z``."""
    def batch(i, j):
        return generator(z[i:j]) if labels is None else generator(z[i:j], labels[i:j])

    return _batches_input(batch, int(z.shape[1]))


def samples_input(images: "torch.Tensor", on_batch=None):
    """Batches of already generated float images in [-1, 1] (``EvalContext.samples()``), in
    order: G is not run a second time for torch-fidelity."""
    return _batches_input(lambda i, j: images[i:j], 1, on_batch)


def tensor_input(images_uint8) -> Any:
    """An in-memory torch Dataset of uint8 3xHxW images: a tensor, or a function returning one
    that is called on first access (so a cache hit never loads the images)."""
    from torch.utils.data import Dataset

    class _Images(Dataset):
        def __init__(self):
            self._data = None if callable(images_uint8) else images_uint8

        def _get(self):
            if self._data is None:
                self._data = images_uint8()
            return self._data

        def __len__(self):
            return len(self._get())

        def __getitem__(self, i):
            return self._get()[i]

    return _Images()


def real_radii(real: "torch.Tensor", k: int = PRC_K, batch: int = PRC_BATCH) -> "torch.Tensor":
    """Each real point's distance to its k-th nearest other real point (``kthvalue(k + 1)`` of
    its row of ``torch.cdist``, itself being the first), computed in row batches."""
    import torch

    return torch.cat([torch.cat([torch.cdist(rb, r2) for r2 in real.split(batch)], 1)
                      .kthvalue(k + 1, dim=1).values.cpu() for rb in real.split(batch)])


def density_coverage(fake: "torch.Tensor", real: "torch.Tensor", k: int = PRC_K,
                     batch: int = PRC_BATCH, radii: "Optional[torch.Tensor]" = None
                     ) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of generated features ``fake`` (N, d) against
    real features ``real`` (M, d). A real point's ball has the radius of its k-th nearest other
    real point (torch-fidelity's precision radius: ``kthvalue(k + 1)`` of the distances, the
    point itself being the first). Density: mean over generated points of the number of real
    balls containing it, divided by k (1 when generated and real match; unbounded above).
    Coverage: fraction of real balls that contain at least one generated point. Distances are
    ``torch.cdist`` in the features' dtype, a point on a ball's boundary counts as inside
    (``<=``, as torch-fidelity's precision; the ``prdc`` package uses ``<``). ``radii``:
    :func:`real_radii` of ``real`` with this ``k`` and ``batch``, when already computed (the
    reference is the same at every evaluation of a run)."""
    import torch

    if radii is None:
        radii = real_radii(real, k, batch)
    counts = torch.zeros(len(fake), dtype=torch.int64)
    covered = 0
    for rb, rad in zip(real.split(batch), radii.split(batch)):
        d = torch.cat([torch.cdist(rb, fb) for fb in fake.split(batch)], 1).cpu()
        inside = d <= rad[:, None]
        counts += inside.sum(0)
        covered += int(inside.any(1).sum())
    return {"density": float(counts.sum()) / (k * len(fake)), "coverage": covered / len(real)}


def cdist_rows(a: "torch.Tensor", b: "torch.Tensor", batch: int) -> "torch.Tensor":
    """torch-fidelity's ``calc_cdist_part(a, b, batch)``: the same ``torch.cdist`` calls on the
    same column batches of ``b``, so the same distances, without its copy of the whole matrix
    into a new one when ``b`` fits one batch (400 MB for 10,000 x 10,000)."""
    import torch

    parts = [torch.cdist(a, b2).cpu() for b2 in b.split(batch)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def knn_radii(x: "torch.Tensor", k: int = PRC_K, batch: int = FIDELITY_PRC_BATCH
              ) -> "torch.Tensor":
    """Each row's distance to its k-th nearest other row, exactly as torch-fidelity's
    ``calculate_precision_recall_part`` computes it: the same distance calls (so the same
    distances, bit for bit; :func:`cdist_rows`), then the (k+1)-th smallest of each row (the
    point itself is the first). ``topk`` instead of torch-fidelity's ``kthvalue``: a selection
    returns the same element, and on a CPU ``topk`` is ~10x faster on 10,000-wide rows
    (``kthvalue`` was the largest single cost of an evaluation)."""
    import torch

    return torch.cat([cdist_rows(b, x, batch).topk(k + 1, dim=1, largest=False,
                                                        sorted=True).values[:, k]
                      for b in x.split(batch)])


def prdc(fake: "torch.Tensor", real: "torch.Tensor", k: int = PRC_K,
         batch: int = FIDELITY_PRC_BATCH, real_radii: "Optional[torch.Tensor]" = None
         ) -> dict[str, float]:
    """Precision, recall, density and coverage of generated features ``fake`` against real
    features ``real``, in one pass over the distances.

    Precision and recall are torch-fidelity's (``calculate_precision_recall_part``, the
    ``save_cpu_ram`` path ganbench uses): the same ``torch.cdist`` calls on the same row
    batches and the same ``<=`` comparisons, so the same numbers bit for bit. Density and
    coverage (Naeem et al. 2020, see :func:`density_coverage`) are read off precision's own
    generated x real distance matrix and its ball memberships, instead of a third distance
    pass: a generated point is inside a real ball for density and coverage exactly when it is
    for precision. ``real_radii``: :func:`knn_radii` of ``real`` when already known (the
    reference is the same at every evaluation; torch-fidelity recomputes them every call)."""
    import torch

    if real_radii is None:
        real_radii = knn_radii(real, k, batch)
    fake_radii = knn_radii(fake, k, batch)
    # recall: is each real point inside any generated point's ball?
    found = []
    for rb in real.split(batch):
        d = cdist_rows(rb, fake, batch)
        found += [(part <= fake_radii).any(dim=1) for part in d.split(COMPARE_ROWS)]
    recall = torch.cat(found).float().mean().item()
    # precision: is each generated point inside any real ball? density: how many balls?
    # coverage: which real balls hold at least one generated point?
    hits, inside_total = [], 0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for fb in fake.split(batch):
        d = cdist_rows(fb, real, batch)
        for part in d.split(COMPARE_ROWS):  # row blocks of the matrix: the masks stay in cache
            inside = part <= real_radii
            hits.append(inside.any(dim=1))
            inside_total += int(torch.count_nonzero(inside))
            covered |= inside.any(dim=0)
    precision = torch.cat(hits).float().mean().item()
    return {"precision": precision, "recall": recall,
            "density": inside_total / (k * len(fake)),
            "coverage": int(covered.sum()) / len(real)}


def _radii_file(cache_name: str, extractor: str, layer: str, k: int) -> Path:
    return cache_dir() / f"{cache_name}-{extractor}-prc-radii-k{k}-{layer}.pt"


def cached_real_radii(real: "torch.Tensor", k: int, batch: int, *,
                      cache_name: Optional[str] = None, extractor: str = "",
                      layer: str = "", memory: Optional[dict] = None) -> "torch.Tensor":
    """:func:`knn_radii` of the reference features ``real``, computed once per reference: kept
    in ``memory`` (a dict that lives as long as the run) and, for a named (cached) reference,
    on disk beside torch-fidelity's cached features of it, checked on load against the
    features' count and float64 sum so a stale file is never used."""
    import torch

    key = (cache_name, extractor, layer, k, batch, tuple(real.shape))
    if memory is not None and cache_name and key in memory:
        return memory[key]
    radii = None
    stamp = {"n": len(real), "batch": batch, "sum": float(real.double().sum())}
    path = _radii_file(cache_name, extractor, layer, k) if cache_name else None
    if path is not None and path.is_file():
        try:
            rec = torch.load(path, map_location="cpu", weights_only=True)
            if all(rec.get(n) == v for n, v in stamp.items()) and len(rec["radii"]) == len(real):
                radii = rec["radii"]
        except Exception:  # a damaged or foreign file: recompute and overwrite it
            radii = None
    if radii is None:
        radii = knn_radii(real, k, batch)
        if path is not None:
            from ganbench.store.safepath import atomic_write

            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: torch.save({**stamp, "radii": radii}, f))
    if memory is not None and cache_name:
        memory[key] = radii
    return radii


def _metrics_with_features(features_out: Optional[dict] = None, radii: Optional[dict] = None,
                           **kwargs) -> dict[str, Any]:
    """``torch_fidelity.calculate_metrics`` for one named feature extractor, step by step as
    torch-fidelity's ``calculate_metrics_one_feature_extractor`` does it (same functions, same
    arguments, so the same numbers), with precision/recall by :func:`prdc` (torch-fidelity's
    computation, the same numbers, plus density and coverage from the same distances, and the
    reference's k-NN radii computed once per reference instead of at every call)."""
    from torch_fidelity.helpers import get_kwarg, process_deprecations
    from torch_fidelity.metric_fid import (fid_featuresdict_to_statistics_cached,
                                           fid_statistics_to_metric)
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.utils import (create_feature_extractor,
                                      extract_featuresdict_from_input_id_cached,
                                      get_cacheable_input_name, resolve_feature_extractor,
                                      resolve_feature_layer_for_metric)

    process_deprecations(kwargs)
    used = [m for m in ("isc", "fid", "kid", "prc") if kwargs.get(m)]
    layers = {m: resolve_feature_layer_for_metric(m, **kwargs) for m in used}
    ext = create_feature_extractor(resolve_feature_extractor(**kwargs), list(set(layers.values())),
                                   **kwargs)
    f1 = extract_featuresdict_from_input_id_cached(1, ext, **kwargs)
    f2 = extract_featuresdict_from_input_id_cached(2, ext, **kwargs)
    out: dict[str, Any] = {}
    if "isc" in layers:
        out.update(isc_featuresdict_to_metric(f1, layers["isc"], **kwargs))
    if "fid" in layers:
        stats = [fid_featuresdict_to_statistics_cached(
            f, get_cacheable_input_name(i, **kwargs), ext, layers["fid"], **kwargs)
            for i, f in ((1, f1), (2, f2))]
        out.update(fid_statistics_to_metric(*stats, kwargs.get("verbose", False)))
    if "kid" in layers:
        out.update(kid_featuresdict_to_metric(f1, f2, layers["kid"], **kwargs))
    if features_out is not None:  # ganbench crosscheck hands these to other implementations
        features_out.update({m: (f1[lay], f2[lay]) for m, lay in layers.items()})
    k, batch = get_kwarg("prc_neighborhood", kwargs), get_kwarg("prc_batch_size", kwargs)
    real = f2[layers["prc"]]
    real_radii = cached_real_radii(real, k, batch, cache_name=kwargs.get("input2_cache_name"),
                                   extractor=ext.get_name(), layer=layers["prc"], memory=radii)
    out.update(prdc(f1[layers["prc"]], real, k, batch, real_radii=real_radii))
    return out


def calculate(input1, n1: int, input2, n2: int, extractor: "Extractor", *, cuda: bool,
              seed: int, cache_name: Optional[str] = None, kid: bool = True, isc: bool = True,
              prc: bool = True, features_out: Optional[dict] = None,
              radii: Optional[dict] = None) -> dict[str, float]:
    """One ``torch_fidelity.calculate_metrics`` call; returns ganbench metric names → values.
    With ``prc``, ``features_out`` (a dict) receives each metric's (generated, reference)
    features, and ``radii`` (a dict kept between calls) caches the reference's k-NN radii
    for density/coverage by ``cache_name``."""
    import torch_fidelity

    kwargs = dict(extractor.fidelity_kwargs)
    if cache_name:
        kwargs.update(input2_cache_name=cache_name, cache_root=str(cache_dir()), cache=True)
    else:
        kwargs.update(cache=False)
    if hasattr(input1, "z_size"):
        kwargs["input1_model_num_samples"] = n1
    sub = min(KID_SUBSET_SIZE, n1, n2)
    kwargs.update(
        input1=input1, input2=input2, fid=True, kid=kid and sub >= 2, isc=isc, prc=prc,
        feature_extractor=extractor.name, cuda=cuda, batch_size=BATCH, verbose=False,
        save_cpu_ram=True, rng_seed=seed, kid_subsets=KID_SUBSETS, kid_subset_size=sub)
    # with prc, the features are needed for density/coverage: the same steps, features kept
    raw = (_metrics_with_features(features_out, radii, **kwargs) if prc
           else torch_fidelity.calculate_metrics(**kwargs))
    return {KEYS[k][0]: float(v) for k, v in raw.items() if k in KEYS}


def reference_images(x: "torch.Tensor", n: int, seed: int) -> "torch.Tensor":
    """``n`` images of the reference split ``x`` (a subset seeded by ``seed`` when ``n`` is
    smaller), as uint8 3xHxW on the CPU."""
    import torch

    from ganbench.evaluation.extractors.domain_net import to_uint8

    if n < len(x):
        g = torch.Generator().manual_seed(seed + 2)
        x = x[torch.randperm(len(x), generator=g)[:n].to(x.device)]
    return to_uint8(x.cpu())


def compute(ctx: "EvalContext") -> dict[str, float]:
    """FID, KID, IS, precision and recall of the run's generator at this evaluation."""
    import torch

    from ganbench.evaluation.extractors import domain

    spec, ext = ctx.eval_spec, ctx.extractor
    name = reference_cache_name(ctx.dataset.name, spec, ctx.job.data_options)
    if "fidelity_ref" not in ctx.cache:  # built lazily: torch-fidelity reads it on a cache miss
        ctx.cache["fidelity_ref"] = tensor_input(
            lambda: reference_images(ctx.reference, spec.n_reference, spec.seed))
    samples = ctx.samples()
    tap = domain.PredictionTap(ext.domain) if ext.domain else None
    gen = samples_input(samples, on_batch=tap.expect if tap else None)
    with torch.no_grad(), domain.tapping(tap):
        out = calculate(gen, len(samples), ctx.cache["fidelity_ref"], spec.n_reference,
                        ext, cuda=ctx.device.type == "cuda", seed=spec.seed, cache_name=name,
                        radii=ctx.cache.setdefault("prc_radii", {}))
    if tap is not None and (pred := tap.predictions(len(samples))) is not None:
        ctx.classified[ext.domain] = pred  # the labels metric reuses them
    return out
