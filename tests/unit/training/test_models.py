import pytest
import torch

from ganbench.api.errors import UsageError
from ganbench.api.specs import DataSpec


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(reg, size, channels):
    spec = DataSpec("images", (channels, size, size), 10)
    g, d = reg.models.get("dcgan").build(spec, 100, width=8)
    x = g(torch.randn(5, 100))
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1  # Tanh output
    assert d(x).shape == (5,)


def test_dcgan_follows_radford_guidelines(reg):
    g, d = reg.models.get("dcgan").build(DataSpec("images", (1, 32, 32)), 100)
    mods_g, mods_d = list(g.modules()), list(d.modules())
    kinds = {type(m).__name__ for m in mods_g + mods_d}
    assert not kinds & {"MaxPool2d", "AvgPool2d", "Linear"}  # no pooling, no FC hidden layers
    assert any(isinstance(m, torch.nn.ConvTranspose2d) and m.stride == (2, 2) for m in mods_g)
    assert all(m.stride == (2, 2) for m in mods_d if isinstance(m, torch.nn.Conv2d)
               and m.kernel_size == (4, 4) and m.padding == (1, 1))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in mods_g)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in mods_d)
    assert isinstance(mods_g[-1], torch.nn.Tanh)
    assert any(isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.2 for m in mods_d)
    conv_w = torch.cat([m.weight.detach().flatten() for m in mods_g if isinstance(m, torch.nn.ConvTranspose2d)])
    assert conv_w.mean().abs() < 0.002 and conv_w.std().item() == pytest.approx(0.02, rel=0.05)


def test_dcgan_rejects_unsupported_sizes(reg):
    m = reg.models.get("dcgan")
    assert "size 8, 16, 32 or 64" in m.check(DataSpec("images", (1, 28, 28)))
    assert m.check(DataSpec("points", (2,))) is not None
    assert m.check(DataSpec("images", (3, 32, 32))) is None


@pytest.mark.parametrize("spec", [DataSpec("points", (2,), 8), DataSpec("images", (1, 8, 8), 10)])
def test_mlp_and_conditional_models(reg, spec):
    g, d = reg.models.get("mlp").build(spec, 16)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, *spec.shape) and d(x).shape == (4,)
    g, d = reg.models.get("cmlp").build(spec, 16)
    y = torch.tensor([0, 1, 2, 3])
    x = g(torch.randn(4, 16), y)
    assert x.shape == (4, *spec.shape) and d(x, y).shape == (4,)


@pytest.mark.parametrize("name,side,options", [
    ("cmlp", 16, {}), ("cdcgan", 16, {}), ("cresnet", 32, {"g_width": 32, "d_width": 16}),
    ("biggan32", 32, {"g_width": 32, "d_width": 16})])
def test_conditional_models_use_the_label(reg, name, side, options):
    torch.manual_seed(0)
    spec = DataSpec("images", (1, side, side), 10)
    g, d = reg.models.get(name).build(spec, 16, **options)
    if name == "cresnet":  # class BN starts at scale 1, shift 0 for every class: move them
        with torch.no_grad():
            for m in g.modules():
                if type(m).__name__ == "ClassBatchNorm":
                    m.embed.weight.normal_(1.0, 0.5)
    g.eval()
    d.eval()
    z = torch.randn(1, 16).repeat(2, 1)
    y = torch.tensor([1, 7])
    x = g(z, y)
    assert not torch.allclose(x[0], x[1])  # same noise, different label
    same_x = x[:1].repeat(2, 1, 1, 1)
    logits = d(same_x, y)
    assert not torch.allclose(logits[0], logits[1])


def test_conditional_model_needs_labels(reg):
    assert "needs labelled data" in reg.models.get("cmlp").check(
        DataSpec("points", (3,)))


def test_unknown_model_option(reg):
    with pytest.raises(UsageError, match="no option"):
        reg.models.get("mlp").build(DataSpec("points", (2,)), 8, depth=3)
