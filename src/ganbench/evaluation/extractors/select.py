"""Which feature extractor a run uses, and the EvalSpec that records it."""

from __future__ import annotations

import os
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
    # further feature spaces evaluated beside this one, each with its own EvalSpec and metric
    # names (DINOv2: fd_dinov2), never pooled with this extractor's FID
    extras: tuple["Extractor", ...] = ()
    model: Optional[str] = None  # the name the EvalSpec records, when not ``name``

    @property
    def spec_name(self) -> str:
        return self.model or self.name


def parse_choice(choice: Optional[str]) -> tuple[str, list[tuple[str, Optional[str]]]]:
    """``--extractor`` text → (the main extractor, [(DINOv2 model, weights path or None)]).
    A comma-separated list: DINOv2 models (``dinov2-vit-s-14``, optionally ``=PATH`` to their
    weights) are evaluated beside the main extractor (at most one other entry; ``auto`` when
    none is named)."""
    from ganbench.evaluation.extractors import dinov2

    main: list[str] = []
    extras: list[tuple[str, Optional[str]]] = []
    for item in (choice or AUTO).split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, path = item.partition("=")
        low = name.strip().lower().removeprefix(dinov2.PREFIX)
        if low in dinov2.MODELS:
            if any(m == low for m, _ in extras):
                raise UsageError(f"--extractor names {low} twice")
            extras.append((low, path.strip() or None))
        elif eq:
            raise UsageError(f"--extractor {item}: only DINOv2 models take '=PATH' (use "
                             "--fid-weights for inception-v3-compat)")
        else:
            main.append(name)
    if len(main) > 1:
        raise UsageError(f"--extractor names {len(main)} main extractors ({', '.join(main)}); "
                         "give one, plus any DINOv2 models")
    return (main[0] if main else AUTO), extras


def absolute_paths(choice: Optional[str]) -> Optional[str]:
    """``--extractor`` text with each ``=PATH`` made absolute (a run may execute elsewhere),
    otherwise unchanged (None stays None)."""
    if not choice or "=" not in choice:
        return choice
    items = []
    for item in choice.split(","):
        name, eq, path = item.partition("=")
        items.append(f"{name}={os.path.abspath(path.strip())}" if eq and path.strip()
                     else item)
    return ",".join(items)


def resolve_dinov2(model: str, path: Optional[str], download: bool = True) -> Extractor:
    """ganbench's torch-fidelity extractor for DINOv2 ``model`` with weights ``path`` (else
    torch hub's cache); DataUnavailableError when the weights or the code are not there."""
    from ganbench.evaluation.extractors import dinov2, inception

    weights = dinov2.weights_path(model, path, download)
    dinov2.find_code(model, download)
    name = dinov2.register(model)
    return Extractor(name, inception.weights_hash(weights), 224,
                     {"feature_extractor_weights_path": weights}, model=model)


def resolve_extractor(choice: str, dataset: str, *, fid_weights: Optional[str] = None,
                      download: bool = True) -> Optional[Extractor]:
    """``auto``: the ganbench extractor shipped for ``dataset``, else Inception when its weights
    can be had, else None with a warning on stderr; ``none``: no learned features (None);
    ``inception-v3-compat`` (DataUnavailableError without weights); or ``ganbench-NAME``.
    DINOv2 models in a comma-separated list (:func:`parse_choice`) come as the result's
    ``extras``; they need a main extractor (not ``none``)."""
    import dataclasses

    main, extras = parse_choice(choice)
    ext = _resolve_main(main, dataset, fid_weights=fid_weights, download=download)
    if not extras:
        return ext
    if ext is None:
        raise UsageError(f"--extractor {choice}: DINOv2 is evaluated beside a main extractor "
                         f"(FID etc.), and '{dataset}' has none here; name one (auto, "
                         "inception-v3-compat, ganbench-DATASET) instead of none")
    return dataclasses.replace(ext, extras=tuple(resolve_dinov2(m, p, download)
                                                 for m, p in extras))


def _resolve_main(choice: str, dataset: str, *, fid_weights: Optional[str] = None,
                  download: bool = True) -> Optional[Extractor]:
    from ganbench.evaluation.extractors import domain, inception

    choice = (choice or AUTO).strip().lower()
    if choice == NONE:
        return None
    if choice == AUTO:
        if dataset in domain.shipped():
            choice = domain.PREFIX + dataset
        else:
            try:
                return _resolve_main(inception.NAME, dataset, fid_weights=fid_weights,
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
    from ganbench.evaluation.extractors import dinov2

    known = [AUTO, NONE, inception.NAME] + [domain.PREFIX + d for d in domain.shipped()] \
        + list(dinov2.MODELS)
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
    spec = EvalSpec(extractor=ext.spec_name, extractor_hash=ext.weights_hash, reference=reference,
                    n_samples=job.eval_samples, n_reference=n_ref, resize=resize)
    return spec, ext, ref


def extra_spec(spec: EvalSpec, extra: Extractor) -> EvalSpec:
    """The EvalSpec of an extra feature space (DINOv2) of a run whose EvalSpec is ``spec``: the
    same protocol (reference, sample counts, seed, resize) on that extractor and its weights."""
    import dataclasses

    return dataclasses.replace(spec, extractor=extra.spec_name,
                               extractor_hash=extra.weights_hash)
