"""Calibration rows: where a number sits between "useless" and "perfect".

For a dataset and an evaluation protocol, two reference "generators" are scored with exactly the
metrics and the EvalSpec of a run on that dataset:

* ``calib-real`` — held-out real data (the ``test`` split; the ``train`` split when the
  EvalSpec's reference is itself ``test``), drawn without replacement: about what a generator
  of the data's distribution scores. It is not 0 FID: two finite samples of one distribution
  differ. A split smaller than the EvalSpec's sample count is used whole (digits' test split:
  360 images against 1,437 generated samples per run), and the row then records how many it
  scored as the metric ``calibration_samples``: its numbers are of a smaller sample (FID and
  KID biased up, precision/recall's k-NN radii wider), a reference, not a ceiling. (Drawing
  1,437 of 360 with replacement, as before, repeated each image about 4 times: duplicates
  collapse the k-NN radii, and recall fell to 0.41.)
* ``calib-noise`` — uniform noise over the training data's range, per dimension: what a
  generator that learned nothing but the data's bounding box scores.

They are written as ordinary run files (status ``calibration``, one evaluation at step 0), so
``ganbench results``, ``compare`` and the report show them beside the variants.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

KINDS = ("real", "noise")
STATUS = "calibration"
VARIANT_PREFIX = "calib-"
SAMPLES_METRIC = "calibration_samples"  # recorded when a row scored fewer than n_samples
NOISE_SEED = 99  # the noise generator's seed: a protocol constant, like the EvalSpec's
# metrics of training, not of samples: calibration rows have none
TRAINING_METRICS = {"training", "throughput"}


def calibration_job(job, kind: str):
    """The calibration job of ``kind`` for the dataset and evaluation protocol of ``job``.
    Its run id depends only on what defines the numbers (dataset, data and evaluation options,
    samples, metrics), not on the variant, seed or budget."""
    from ganbench.planning.budget import Budget
    from ganbench.api.specs import Hyperparams

    if kind not in KINDS:
        raise ValueError(f"unknown calibration kind '{kind}'")
    return replace(job, variant=VARIANT_PREFIX + kind, model="-", loss="-", seed=0,
                   budget=Budget.parse("1steps"),  # nothing is trained; fixed for the run id
                   hparams=Hyperparams(), model_options=(), evals=1, eval_every=None,
                   precision="fp32", regularizers=(), step_hooks=(), g_ema=None,
                   loss_options=(), augment="", latent="")


def plan_calibration(jobs: list) -> list:
    """One ``real`` and one ``noise`` job per distinct (dataset, evaluation protocol) in
    ``jobs``, in plan order."""
    seen: dict[str, Any] = {}
    for job in jobs:
        for kind in KINDS:
            c = calibration_job(job, kind)
            seen.setdefault(c.run_id, c)
    return list(seen.values())


def reference_samples(kind: str, job, reg, train_data, *, n: int, data_root: Optional[str],
                      download: bool, reference: str):
    """``n`` samples of the calibration generator ``kind``, on the training data's device."""
    import torch

    g = torch.Generator().manual_seed(NOISE_SEED)
    if kind == "noise":
        x = train_data.x
        flat = x.flatten(1)
        lo, hi = flat.min(0).values, flat.max(0).values
        u = torch.rand(n, flat.shape[1], generator=g).to(x.device)
        return (lo + (hi - lo) * u).reshape(n, *x.shape[1:])
    split = "train" if reference == "test" else "test"
    if split == "train":
        x = train_data.x
    else:
        from ganbench.training.runner import load_data

        x = load_data(reg, job, split, data_root, download)[1].x
    # without replacement; a split smaller than n (digits' test split: 360) is used whole
    idx = torch.randperm(len(x), generator=g)[:n]
    return x[idx.to(x.device)].to(train_data.x.device)


def calibrate(job, reg, kind: str, *, device: str = "auto", data_root: Optional[str] = None,
              download: bool = True):
    """The metric rows of calibration generator ``kind`` under ``job``'s evaluation protocol,
    and that EvalSpec."""
    from ganbench.api.evalspec import EvalContext
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench.training.runner import select_metrics, load_data, resolve_device

    dev = resolve_device(device)
    ds, train_data = load_data(reg, job, "train", data_root, download)
    spec, extractor, reference = eval_spec_for(job, ds, train_data, data_root=data_root,
                                               download=download)
    samples = reference_samples(kind, job, reg, train_data, n=spec.n_samples,
                                data_root=data_root, download=download,
                                reference=spec.reference).to(dev).float()
    train_data = replace(train_data, x=train_data.x.to(dev),
                         y=train_data.y.to(dev) if train_data.y is not None else None)
    ctx = EvalContext(job=job, dataset=ds, data=train_data, generator=None, conditional=False,
                      device=dev, eval_spec=spec, step=0, images_seen=0, wall_s=0.0,
                      extractor=extractor, reference=reference, _samples=samples)
    from ganbench.store.results import MACHINE_METRICS

    rows = []
    for m in select_metrics(reg, job):
        if m.name in TRAINING_METRICS or (m.applies is not None and not m.applies(ctx)):
            continue
        for v in m.compute(ctx):
            if v.metric in MACHINE_METRICS:
                continue
            rows.append({"step": 0, "images_seen": 0, "wall_s": 0.0, "metric": v.metric,
                         "value": float(v.value), "unit": v.unit,
                         "higher_is_better": v.higher_is_better,
                         "eval_spec": v.eval_spec or spec.hash})
    if len(samples) < spec.n_samples:  # a small held-out split, used whole: say so
        rows.append({"step": 0, "images_seen": 0, "wall_s": 0.0, "metric": SAMPLES_METRIC,
                     "value": float(len(samples)), "unit": "samples", "higher_is_better": None,
                     "eval_spec": spec.hash})
    return rows, spec
