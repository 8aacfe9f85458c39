"""``ganbench train-extractor``: train a domain classifier on a dataset's train split.

Reproducible: all randomness from ``--seed``; the images go through the same uint8 round trip
torch-fidelity feeds the extractor at evaluation time. Writes ``DATASET.pt`` (state dict,
atomically) and ``DATASET.json`` (architecture, sha256, train/test accuracy, seed, epochs,
command, versions).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ganbench.api.errors import UsageError
from ganbench.store.safepath import atomic_write
from ganbench.api.specs import DataRequest

DEFAULT_EPOCHS = {"digits": 30, "mnist": 4, "fashion-mnist": 6}
DEFAULT_WIDTH = {"digits": 16}  # first conv's channels (then 2x, 4x); 32 elsewhere
LR = 1e-3


def accuracy(net, x, y, batch: int = 2000) -> float:
    import torch

    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((net(x[i:i + batch])[1].argmax(1) == y[i:i + batch]).sum())
    return correct / max(1, len(x))


def _prepare(data):
    from ganbench.evaluation.extractors.domain_net import from_uint8, to_uint8

    c, h, _ = data.spec.shape
    return from_uint8(to_uint8(data.x), c, h), data.y


def train_extractor(reg, dataset: str, *, epochs: Optional[int] = None, seed: int = 0,
                    batch_size: int = 64, out_dir: Optional[str] = None,
                    data_root: Optional[str] = None, download: bool = True,
                    log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Train, measure test accuracy, write the weights and their record; returns the record."""
    import torch

    from ganbench.evaluation.extractors.domain import WEIGHTS_DIR, sha256_file
    from ganbench.evaluation.extractors.domain_net import DomainNet

    ds = reg.datasets.get(dataset)
    spec = ds.spec
    if spec.kind != "images" or spec.num_classes < 2 or len(spec.shape) != 3 \
            or spec.shape[1] != spec.shape[2]:
        raise UsageError(f"'{dataset}' is not a labelled dataset of square images")
    epochs = DEFAULT_EPOCHS.get(dataset, 10) if epochs is None else epochs  # 0 is not None
    if epochs < 1 or batch_size < 1:
        raise UsageError("--epochs and --batch-size must be positive")
    out = Path(out_dir) if out_dir else WEIGHTS_DIR
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to '{out}': {exc.strerror or exc}") from None

    def load(split):
        return _prepare(ds.load(DataRequest(split=split, data_root=data_root, download=download)))

    xtr, ytr = load("train")
    xte, yte = load("test")
    torch.manual_seed(seed)
    c, size = spec.shape[0], spec.shape[1]
    net = DomainNet(channels=c, size=size, num_classes=spec.num_classes,
                    pools=1 if size < 16 else 2, width=DEFAULT_WIDTH.get(dataset, 32))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for ep in range(epochs):
        net.train()
        order = torch.randperm(len(xtr), generator=g)
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = torch.nn.functional.cross_entropy(net(xtr[idx])[1], ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        net.eval()
        log(f"train-extractor {dataset}: epoch {ep + 1}/{epochs} loss {total / len(xtr):.4f} "
            f"test accuracy {100 * accuracy(net, xte, yte):.2f}% "
            f"({time.perf_counter() - t0:.0f}s)")
    net.eval()
    pt = out / f"{dataset}.pt"
    atomic_write(pt, lambda f: torch.save(net.state_dict(), f))
    rec = {
        "dataset": dataset, "arch": net.arch, "sha256": sha256_file(pt),
        "test_accuracy": round(accuracy(net, xte, yte), 5),
        "train_accuracy": round(accuracy(net, xtr, ytr), 5),
        "n_train": len(xtr), "n_test": len(xte), "seed": seed, "epochs": epochs,
        "batch_size": batch_size, "optimizer": f"adam lr {LR}, cosine schedule",
        "command": f"ganbench train-extractor --dataset {dataset} --epochs {epochs} "
                   f"--seed {seed} --batch-size {batch_size}",
        "torch": torch.__version__, "train_seconds": round(time.perf_counter() - t0, 1),
    }
    (out / f"{dataset}.json").write_text(json.dumps(rec, indent=1) + "\n")
    return rec
