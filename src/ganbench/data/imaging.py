"""Data options every image dataset understands, applied by the core (not by each loader).

``resize``: square side in pixels; images are resized (bilinear, antialiased) after loading, so
the model and the metrics see ``(C, resize, resize)``. Planning sees the resized shape through
:func:`spec_with_options`, so a model check (DCGAN needs 8, 16, 32 or 64 pixels) passes or fails
before anything is trained. When a model rejects an image dataset's native size and no resize
was asked for, :func:`fit_options` picks the smallest size the model accepts that is at least
the native one (28 -> 32 for DCGAN on MNIST) and records it in the job's data options.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Mapping, Optional

from ganbench.api.errors import UsageError
from ganbench.api.specs import DataSpec, DataTensors

if TYPE_CHECKING:  # pragma: no cover
    from ganbench.api.specs import ModelSpec

RESIZE = "resize"
MAX_SIDE = 512
AUTO_SIDES = (8, 16, 32, 64, 128, 256)


def check_resize(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 4 <= value <= MAX_SIDE:
        raise UsageError(f"resize must be an integer number of pixels from 4 to {MAX_SIDE}, "
                         f"got {value!r}")
    return value


def spec_with_options(spec: DataSpec, options: Mapping[str, Any], dataset: str = "") -> DataSpec:
    """The data spec a model will see once ``options`` are applied."""
    side = options.get(RESIZE)
    if side is None:
        return spec
    side = check_resize(side)
    if spec.kind != "images" or len(spec.shape) != 3:
        where = f"dataset '{dataset}'" if dataset else "this dataset"
        raise UsageError(f"resize applies to image datasets; {where} holds {spec.kind}")
    return dataclasses.replace(spec, shape=(spec.shape[0], side, side))


def fit_options(model: "ModelSpec", spec: DataSpec, options: Mapping[str, Any],
                dataset: str = "") -> tuple[dict[str, Any], Optional[str]]:
    """``(options, None)`` when the model fits the data (``options`` may gain an automatic
    ``resize``), else ``(options, reason)``."""
    options = dict(options)
    reason = model.check(spec_with_options(spec, options, dataset))
    if reason is None or RESIZE in options or spec.kind != "images" or len(spec.shape) != 3:
        return options, reason
    native = max(spec.shape[1:])
    for side in AUTO_SIDES:
        if side >= native and model.check(spec_with_options(spec, {RESIZE: side})) is None:
            options[RESIZE] = side
            return options, None
    return options, reason


def apply_options(data: DataTensors, options: Mapping[str, Any]) -> DataTensors:
    """Loaded data with the core options applied (a resized copy, values kept in [-1, 1])."""
    side = options.get(RESIZE)
    if side is None:
        return data
    spec = spec_with_options(data.spec, options)
    if tuple(data.x.shape[1:]) == spec.shape:
        return data
    x = resize_images(data.x, spec.shape[1])
    return DataTensors(spec, x, data.y)


def resize_images(x, side: int, batch: int = 8192):
    """Bilinear (antialiased when shrinking) resize of ``(N, C, H, W)`` images, in batches."""
    import torch
    import torch.nn.functional as F

    out = torch.empty((x.shape[0], x.shape[1], side, side), dtype=x.dtype)
    for i in range(0, x.shape[0], batch):
        chunk = F.interpolate(x[i:i + batch].float(), size=(side, side), mode="bilinear",
                              align_corners=False, antialias=side < x.shape[-1])
        out[i:i + batch] = chunk.clamp_(-1.0, 1.0).to(x.dtype)
    return out
