"""FID, KID, IS and precision/recall through torch-fidelity, on samples streamed from G.

Generated samples never touch the disk: a ``GenerativeModelBase`` wrapper hands torch-fidelity
uint8 3xHxW batches generated from the run's fixed evaluation noise (and, for a conditional G,
its fixed seeded labels; torch-fidelity's own conditional path uses the removed ``np.int``, so
the wrapper tells it the model is unconditional and draws the labels itself). The reference
split goes in as an in-memory Dataset whose features and FID statistics torch-fidelity caches
on disk under ``cache_dir()``, named by the dataset and the EvalSpec hash: the second
evaluation against the same reference does not recompute them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.evaluation import EvalContext, EvalSpec
    from ganbench.extractors.select import Extractor

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
}


def cache_dir() -> Path:
    """``$GANBENCH_CACHE_DIR/fidelity``, else ``$XDG_CACHE_HOME/ganbench/fidelity``, else
    ``~/.cache/ganbench/fidelity``."""
    from ganbench.dataroot import user_cache_dir

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

    from ganbench.extractors.domain_net import to_uint8

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
            out = to_uint8(batch(i, j)).to(noise.device)
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


def calculate(input1, n1: int, input2, n2: int, extractor: "Extractor", *, cuda: bool,
              seed: int, cache_name: Optional[str] = None, kid: bool = True, isc: bool = True,
              prc: bool = True) -> dict[str, float]:
    """One ``torch_fidelity.calculate_metrics`` call; returns ganbench metric names → values."""
    import torch_fidelity

    kwargs = dict(extractor.fidelity_kwargs)
    if cache_name:
        kwargs.update(input2_cache_name=cache_name, cache_root=str(cache_dir()), cache=True)
    else:
        kwargs.update(cache=False)
    if hasattr(input1, "z_size"):
        kwargs["input1_model_num_samples"] = n1
    sub = min(KID_SUBSET_SIZE, n1, n2)
    raw = torch_fidelity.calculate_metrics(
        input1=input1, input2=input2, fid=True, kid=kid and sub >= 2, isc=isc, prc=prc,
        feature_extractor=extractor.name, cuda=cuda, batch_size=BATCH, verbose=False,
        save_cpu_ram=True, rng_seed=seed, kid_subsets=KID_SUBSETS, kid_subset_size=sub,
        **kwargs)
    return {KEYS[k][0]: float(v) for k, v in raw.items() if k in KEYS}


def reference_images(x: "torch.Tensor", n: int, seed: int) -> "torch.Tensor":
    """``n`` images of the reference split ``x`` (a subset seeded by ``seed`` when ``n`` is
    smaller), as uint8 3xHxW on the CPU."""
    import torch

    from ganbench.extractors.domain_net import to_uint8

    if n < len(x):
        g = torch.Generator().manual_seed(seed + 2)
        x = x[torch.randperm(len(x), generator=g)[:n].to(x.device)]
    return to_uint8(x.cpu())


def compute(ctx: "EvalContext") -> dict[str, float]:
    """FID, KID, IS, precision and recall of the run's generator at this evaluation."""
    import torch

    from ganbench.extractors import domain

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
                        ext, cuda=ctx.device.type == "cuda", seed=spec.seed, cache_name=name)
    if tap is not None and (pred := tap.predictions(len(samples))) is not None:
        ctx.classified[ext.domain] = pred  # the labels metric reuses them
    return out
