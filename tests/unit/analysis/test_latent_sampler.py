"""Pictures of a kept generator (``sample``, ``interpolate``, ``arithmetic``) draw G's input the
way the run trained and evaluated it: through its ``--latent`` sampler when it had one."""

from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")


class _Recorder(torch.nn.Module):
    """A stand-in G that records its inputs and returns 2-D points."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, z):
        self.inputs.append(z.clone())
        return z[:, :2]


def _kept(reg, config):
    from ganbench.analysis import latent
    from ganbench.api.specs import DataSpec

    spec = DataSpec("points", (2,), 0)
    record = {"z_dim": 24, "data_spec": {"kind": "points", "shape": [2], "num_classes": 0},
              "conditional": False, "step": 0, "dataset": "ring8"}
    meta = {"config": config}
    ds = SimpleNamespace(name="ring8", spec=spec, modes=reg.datasets.get("ring8").modes)
    return latent.Kept(Path("run.json"), meta, record, _Recorder(), ds,
                       sampler=latent.run_sampler(meta, record, spec, reg))


def test_sample_draws_through_the_runs_infogan_sampler(reg):
    from ganbench.analysis import latent

    kept = _kept(reg, {"latent": "infogan:cat=8:cont=0"})
    latent.sample(kept, n=200, seed=3)
    (z,) = kept.generator.inputs
    codes = z[:, 16:]  # 16 noise dimensions, then the 8-way one-hot code
    assert z.shape == (200, 24)
    assert torch.equal(codes.sum(1), torch.ones(200))
    assert set(codes.unique().tolist()) == {0.0, 1.0}
    assert len(set(codes.argmax(1).tolist())) == 8  # every code value drawn in 200 samples
    # the same draw the sampler gives from the same seed: what training's noise would be
    want = kept.sampler(200, torch.Generator().manual_seed(3), "cpu").input
    assert torch.equal(z, want)


def test_a_run_without_a_sampler_draws_gaussian_noise(reg):
    from ganbench.analysis import latent

    kept = _kept(reg, {})
    assert kept.sampler is None
    latent.sample(kept, n=200, seed=3)
    (z,) = kept.generator.inputs
    assert torch.equal(z, torch.randn(200, 24, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(z[:, 16:].sum(1), torch.ones(200))
