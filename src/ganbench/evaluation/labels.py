"""Label-based metrics from a domain classifier's predictions on generated samples.

* ``classes_covered``: classes predicted for at least one sample (out of ``num_classes``).
* ``class_kl``: KL(q ‖ uniform) of the predicted-class histogram q, in nats (0: every class
  equally often; log C: one class only).
* ``cond_accuracy``: for a conditional G, the fraction of samples classified as the label
  they were generated for.
* ``stacked_modes`` / ``stacked_kl``: Stacked-MNIST (VEEGAN/PacGAN protocol): each of the three
  channels is classified as a digit, giving one of 1000 modes; modes with at least one sample,
  and KL of the mode histogram against uniform.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def histogram_stats(pred, num_classes: int) -> tuple[int, float]:
    """(classes with at least one prediction, KL(q ‖ uniform) in nats) of integer predictions."""
    counts = np.bincount(np.asarray(pred, dtype=np.int64).ravel(), minlength=num_classes)
    q = counts / max(1, counts.sum())
    nz = q > 0
    kl = float((q[nz] * np.log(q[nz] * num_classes)).sum()) if counts.sum() else math.nan
    return int(nz.sum()), kl


def predict(net, x, batch: int = 2000):
    """Predicted classes of float images in [-1, 1] (any size and channel count the net's
    preprocessing accepts: they go through the same uint8 path torch-fidelity uses)."""
    import torch

    from ganbench.evaluation.extractors.domain import features_and_logits
    from ganbench.evaluation.extractors.domain_net import to_uint8

    out = []
    dev = next(net.parameters()).device
    for i in range(0, len(x), batch):
        u = to_uint8(x[i:i + batch]).to(dev)
        out.append(features_and_logits(net, u)[1].argmax(1).cpu())
    return torch.cat(out)


def class_metrics(net, samples, num_classes: int, labels: Optional["object"] = None,
                  pred: Optional["object"] = None) -> dict[str, float]:
    """classes_covered, class_kl and (given the asked-for ``labels``) cond_accuracy; ``pred``:
    the net's predicted classes of ``samples`` when already known."""
    if pred is None:
        pred = predict(net, samples)
    covered, kl = histogram_stats(pred.numpy(), num_classes)
    out = {"classes_covered": float(covered), "class_kl": kl}
    if labels is not None:
        out["cond_accuracy"] = float((pred == labels.cpu()).double().mean())
    return out


def stacked_metrics(net, samples) -> dict[str, float]:
    """stacked_modes (of 1000) and stacked_kl for 3-channel stacks of single digits."""
    digits = [predict(net, samples[:, c:c + 1]).numpy() for c in range(3)]
    mode = digits[0] * 100 + digits[1] * 10 + digits[2]
    covered, kl = histogram_stats(mode, 1000)
    return {"stacked_modes": float(covered), "stacked_kl": kl}
