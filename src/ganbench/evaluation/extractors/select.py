"""Which feature extractor a run uses, and the EvalSpec that records it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ganbench.api.errors import DataUnavailableError, UsageError
from ganbench.api.evalspec import EvalSpec

AUTO, NONE = "auto", "none"
REFERENCES = ("train", "test")


@dataclass(frozen=True)
class Extractor:
    """A resolved extractor: torch-fidelity name, weights hash, input size, extra kwargs."""

    name: str
    weights_hash: str
    resize: Optional[int]
    fidelity_kwargs: Mapping[str, Any]
    domain: Optional[str] = None  # dataset of a ganbench extractor


def resolve_extractor(choice: str, dataset: str, *, fid_weights: Optional[str] = None,
                      download: bool = True) -> Optional[Extractor]:
    """``auto``: the ganbench extractor shipped for ``dataset``, else Inception when its weights
    can be had, else None with a warning on stderr; ``none``: no learned features (None);
    ``inception-v3-compat`` (DataUnavailableError without weights); or ``ganbench-NAME``."""
    from ganbench.evaluation.extractors import domain, inception

    choice = (choice or AUTO).strip().lower()
    if choice == NONE:
        return None
    if choice == AUTO:
        if dataset in domain.shipped():
            choice = domain.PREFIX + dataset
        else:
            try:
                return resolve_extractor(inception.NAME, dataset, fid_weights=fid_weights,
                                         download=download)
            except DataUnavailableError as exc:
                print(f"ganbench: warning: no FID/KID/IS/precision-recall for '{dataset}': "
                      f"{exc}", file=sys.stderr)
                return None
    if choice == inception.NAME:
        path = inception.weights_path(fid_weights, download)
        return Extractor(inception.NAME, inception.weights_hash(path), 299,
                         {"feature_extractor_weights_path": path})
    if choice.startswith(domain.PREFIX) and choice[len(domain.PREFIX):] in domain.shipped():
        ds = choice[len(domain.PREFIX):]
        rec = domain.info(ds)
        domain.register(ds)
        return Extractor(choice, rec["sha256"], rec["arch"]["size"], {}, domain=ds)
    known = [AUTO, NONE, inception.NAME] + [domain.PREFIX + d for d in domain.shipped()]
    from ganbench.api.errors import unknown

    raise unknown("extractor", choice, known)


def eval_spec_for(job, dataset_spec, train_data, *, data_root: Optional[str] = None,
                  download: bool = True):
    """The EvalSpec of ``job`` (the same for every seed), its extractor (None: data-space
    metrics only) and the reference split's images (None without an extractor)."""
    opts = dict(getattr(job, "eval_options", ()) or ())
    reference = opts.get("reference", "train")
    if reference not in REFERENCES:
        raise UsageError(f"unknown reference split '{reference}' (use {', '.join(REFERENCES)})")
    ext = None
    if dataset_spec.spec.kind == "images":
        ext = resolve_extractor(opts.get("extractor", AUTO), dataset_spec.name,
                                fid_weights=opts.get("fid_weights"), download=download)
    resize = dict(job.data_options).get("resize")  # images resized at load (data option)
    if ext is None:
        return EvalSpec(reference="train", n_samples=job.eval_samples, resize=resize), None, None
    ref = train_data.x
    if reference != "train":
        from ganbench.api.specs import DataRequest

        ref = dataset_spec.load(DataRequest(split=reference, data_root=data_root,
                                            download=download,
                                            options=dict(job.data_options))).x
    n_ref = min(int(opts.get("n_reference") or job.eval_samples), len(ref))
    spec = EvalSpec(extractor=ext.name, extractor_hash=ext.weights_hash, reference=reference,
                    n_samples=job.eval_samples, n_reference=n_ref, resize=resize)
    return spec, ext, ref
