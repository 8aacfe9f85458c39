"""The evaluation protocol: EvalSpec (hashed into every row) and the context metrics read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.api.specs import DatasetSpec, DataTensors


@dataclass(frozen=True)
class EvalSpec:
    """Exactly how metrics were computed. Numbers with different hashes are not comparable."""

    extractor: str = "data"  # "data": metrics in data space (no learned features)
    extractor_hash: str = ""
    reference: str = "train"  # the real split generated samples are compared with
    n_samples: int = 2000
    n_reference: int = 0  # real images in the reference statistics (0: no learned features)
    resize: Optional[int] = None
    seed: int = 0  # seed of the evaluation noise (the same z and labels at every evaluation)

    @property
    def hash(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


@dataclass
class EvalContext:
    """What a metric function sees at one evaluation point of one run."""

    job: Any  # ganbench.planning.plan.JobSpec (planning is a layer above api)
    dataset: "DatasetSpec"
    data: "DataTensors"  # the reference split, on the training device
    generator: "torch.nn.Module"  # in eval mode
    conditional: bool
    device: "torch.device"
    eval_spec: EvalSpec
    step: int
    images_seen: int
    wall_s: float
    stats: dict[str, float] = field(default_factory=dict)  # training stats since the last eval
    cache: dict[str, Any] = field(default_factory=dict)  # per-run, survives between evals
    extractor: Any = None  # ganbench.evaluation.extractors.select.Extractor; None: data space only
    reference: Optional["torch.Tensor"] = None  # the EvalSpec's reference split (learned features)
    # classifier dataset -> its predicted classes of samples(), when a metric already has them
    classified: dict[str, "torch.Tensor"] = field(default_factory=dict)
    # the run's latent sampler (``--latent``); None: z ~ N(0, I) of width z_dim
    sampler: Any = None
    _samples: Optional["torch.Tensor"] = None
    _labels: Optional["torch.Tensor"] = None

    def labels(self) -> Optional["torch.Tensor"]:
        """Labels asked of a conditional generator: uniform over classes, seeded."""
        if not self.conditional:
            return None
        if self._labels is None:
            import torch

            g = torch.Generator().manual_seed(self.eval_spec.seed + 1)
            n, c = self.eval_spec.n_samples, self.dataset.spec.num_classes
            self._labels = torch.randint(c, (n,), generator=g).to(self.device)
        return self._labels

    def samples(self, batch: int = 1000) -> "torch.Tensor":
        """``n_samples`` generated samples from fixed noise, computed once per evaluation."""
        if self._samples is None:
            import torch

            if "eval_z" not in self.cache:
                g = torch.Generator().manual_seed(self.eval_spec.seed)
                if self.sampler is not None:  # the same draw as training's, seeded here
                    z = self.sampler(self.eval_spec.n_samples, g, "cpu").input
                else:
                    z = torch.randn(self.eval_spec.n_samples, self.job.hparams.z_dim,
                                    generator=g)
                self.cache["eval_z"] = z.to(self.device)
            z = self.cache["eval_z"]
            y = self.labels()
            out = []
            with torch.no_grad():
                for i in range(0, len(z), batch):
                    args = (z[i:i + batch],) if y is None else (z[i:i + batch], y[i:i + batch])
                    out.append(self.generator(*args).float())
            self._samples = torch.cat(out)
        return self._samples
