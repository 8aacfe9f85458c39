"""Classification accuracy score (CAS; Ravuri & Vinyals 2019, "Classification accuracy score
for conditional generative models", NeurIPS): train a classifier on a conditional generator's
labelled samples only, then measure its accuracy on the real test split. A generator whose
samples carry their label's class-conditional distribution scores close to a classifier
trained on real data; one that ignores or confuses its labels scores chance (1 / classes).

The classifier is the architecture of the dataset's shipped domain classifier
(``ganbench.evaluation.extractors.domain_net.DomainNet`` with the ``arch`` in its weights'
record), freshly initialised from a fixed seed. Bounded in time: at most ``MAX_SAMPLES`` of
the evaluation's samples (the first ones; their labels are uniform and seeded), ``STEPS``
Adam steps (lr ``LR``) on batches of ``BATCH`` drawn by reshuffled passes over them (32,000
images seen, whatever the sample count: 3.2 passes over 10,000); tested on the whole test
split. Images
go through uint8 and the classifier's input conversion, as the extractor sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.api.evalspec import EvalContext

MAX_SAMPLES = 10_000
STEPS = 500
BATCH = 64
LR = 1e-3
SEED = 0


def prepare(x: "torch.Tensor", arch: Mapping[str, Any]) -> "torch.Tensor":
    """Images in [-1, 1] → the classifier's input (quantised to uint8 first, as torch-fidelity
    hands images to the extractor)."""
    from ganbench.evaluation.extractors.domain_net import from_uint8, to_uint8

    return from_uint8(to_uint8(x), arch["channels"], arch["size"])


def train_classifier(x: "torch.Tensor", y: "torch.Tensor", arch: Mapping[str, Any], *,
                     steps: Optional[int] = None, batch: int = BATCH, lr: float = LR,
                     seed: int = SEED):
    """A DomainNet(``arch``) trained for ``steps`` (default ``STEPS``) steps on the prepared
    images ``x`` and labels ``y`` (reshuffled passes; a pass's last short batch is skipped)."""
    import torch

    steps = STEPS if steps is None else steps
    from ganbench.evaluation.extractors.domain_net import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build(dict(arch)).to(x.device)
    g = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    batch = min(batch, len(x))
    done = 0
    with torch.enable_grad():
        while done < steps:
            order = torch.randperm(len(x), generator=g).to(x.device)
            for i in range(0, len(x) - batch + 1, batch):
                idx = order[i:i + batch]
                loss = torch.nn.functional.cross_entropy(net(x[idx])[1], y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                done += 1
                if done == steps:
                    break
    return net.eval()


def accuracy(net, x: "torch.Tensor", y: "torch.Tensor", batch: int = 2000) -> float:
    import torch

    with torch.no_grad():
        pred = torch.cat([net(xb)[1].argmax(1) for xb in x.split(batch)])
    return float((pred == y).double().mean())


def score(x_gen: "torch.Tensor", y_gen: "torch.Tensor", x_test: "torch.Tensor",
          y_test: "torch.Tensor", arch: Mapping[str, Any], **train_kw) -> float:
    """CAS: accuracy on (``x_test``, ``y_test``) of a classifier trained on at most
    ``MAX_SAMPLES`` of (``x_gen``, ``y_gen``); images in [-1, 1] at any size."""
    x_gen, y_gen = x_gen[:MAX_SAMPLES], y_gen[:MAX_SAMPLES]
    net = train_classifier(prepare(x_gen, arch), y_gen.long(), arch, **train_kw)
    return accuracy(net, prepare(x_test, arch).to(x_gen.device), y_test.long().to(x_gen.device))


def test_split(ctx: "EvalContext"):
    """The real test split (images, labels) on the run's device (``$GANBENCH_DATA_ROOT`` or the
    user cache; never downloaded here), with the run's data options."""
    from ganbench.api.specs import DataRequest
    from ganbench.data.imaging import apply_options

    req = DataRequest(split="test", download=False, options=dict(ctx.job.data_options))
    data = apply_options(ctx.dataset.load(req), req.options)
    return data.x.to(ctx.device), data.y.to(ctx.device)


def compute(ctx: "EvalContext", arch: Mapping[str, Any]) -> float:
    """CAS of the run's conditional generator at this evaluation (the test split is loaded once
    per run, ``ctx.cache``)."""
    if "cas_test" not in ctx.cache:
        ctx.cache["cas_test"] = test_split(ctx)
    x_test, y_test = ctx.cache["cas_test"]
    return score(ctx.samples(), ctx.labels(), x_test, y_test, arch)
