"""The literature's 32x32 architectures (``resnet``, ``cresnet``, ``biggan32``) and the
``cifar10`` suite that follows mimicry's CIFAR-10 protocol, on the CPU: shapes, spectral norm,
orthogonal init, parameter counts, finite training and learning on digits resized to 32x32."""

import dataclasses

import pytest
import torch

from ganbench.api.errors import UsageError
from ganbench.api.specs import DataSpec, Hyperparams
from conftest import REPO

MNIST32 = DataSpec("images", (1, 32, 32), 10)
CIFAR = DataSpec("images", (3, 32, 32), 10)
SMALL = {"resnet": {"g_width": 32, "d_width": 16}, "cresnet": {"g_width": 32, "d_width": 16},
         "biggan32": {"g_width": 32, "d_width": 16}}


def _build(reg, name, spec=MNIST32, z_dim=16, conditional=None, **options):
    if conditional is False:  # BigGAN's nets without labels (the model is registered conditional)
        from ganbench_plugins.models import build_biggan32

        return build_biggan32(spec, z_dim, conditional=False, **options)
    return reg.models.get(name).build(spec, z_dim, **options)


@pytest.mark.parametrize("name,conditional", [("resnet", None), ("cresnet", None),
                                              ("biggan32", None), ("biggan32", False)])
def test_shapes_on_mnist_at_32(reg, name, conditional):
    torch.manual_seed(0)
    g, d = _build(reg, name, conditional=conditional, **SMALL[name])
    labelled = reg.models.get(name).conditional and conditional is not False
    y = torch.tensor([0, 3, 7, 9]) if labelled else None
    x = g(torch.randn(4, 16), y)
    assert x.shape == (4, 1, 32, 32) and x.abs().max() <= 1  # Tanh output
    out = d(x, y)
    assert out.shape == (4,) and torch.isfinite(out).all()


def test_models_take_32x32_images_only(reg):
    for name in ("resnet", "cresnet", "biggan32"):
        m = reg.models.get(name)
        assert m.check(CIFAR) is None and m.check(MNIST32) is None
        assert "32x32" in m.check(DataSpec("images", (1, 28, 28), 10))
        assert m.check(DataSpec("points", (2,), 8)) is not None
    with pytest.raises(UsageError, match="d_norm must be spectral or none"):
        reg.models.get("resnet").build(CIFAR, 16, d_norm="batch")
    with pytest.raises(UsageError, match="multiple of 4"):
        reg.models.get("biggan32").build(CIFAR, 30)
    with pytest.raises(UsageError, match="g_width must be"):
        reg.models.get("biggan32").build(CIFAR, 32, g_width=36)  # attention needs C/8


# that cresnet and biggan32 use the label: tests/unit/training/test_models.py,
# test_conditional_models_use_the_label


def _sigma_max(w):
    return torch.linalg.matrix_norm(w.detach().reshape(w.shape[0], -1), ord=2).item()


def _weighted(module):
    return [m for m in module.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Embedding))]


def test_spectral_norm_option_normalises_every_d_layer(reg):
    """With d_norm spectral every D weight's largest singular value is ~1 after a few training
    forward passes (one power iteration each, after torch's 15 at registration); without it the
    same layers are far from 1."""
    torch.manual_seed(0)
    x = torch.randn(8, 3, 32, 32)
    _, d = reg.models.get("resnet").build(CIFAR, 16, d_width=32)
    for _ in range(5):
        d(x)
    sigmas = [_sigma_max(m.weight) for m in _weighted(d)]
    assert len(sigmas) == 11  # 4 blocks x 2 convs, 2 shortcuts, the output linear
    assert all(s == pytest.approx(1.0, abs=0.05) for s in sigmas), sigmas
    _, plain = reg.models.get("resnet").build(CIFAR, 16, d_width=32, d_norm="none")
    assert all(not hasattr(m, "parametrizations") for m in _weighted(plain))
    assert max(abs(_sigma_max(m.weight) - 1) for m in _weighted(plain)) > 0.3


def test_biggan_has_spectral_norm_in_g_and_d_but_the_shared_embedding(reg):
    torch.manual_seed(0)
    g, d = _build(reg, "biggan32", CIFAR, 32, **SMALL["biggan32"])
    y = torch.arange(8) % 10
    for _ in range(5):
        d(g(torch.randn(8, 32), y), y)
    for net in (g, d):
        layers = [m for m in _weighted(net) if m is not getattr(net, "shared", None)]
        assert layers and all(hasattr(m, "parametrizations") for m in layers)
        assert all(_sigma_max(m.weight) == pytest.approx(1.0, abs=0.05) for m in layers)
    assert not hasattr(g.shared, "parametrizations")


def test_biggan_orthogonal_init(reg):
    """Every weight starts orthogonal (as a matrix: out rows by flattened inputs): W Wᵀ = I when
    it has fewer rows than columns, else Wᵀ W = I; biases 0."""
    torch.manual_seed(0)
    g, d = _build(reg, "biggan32", CIFAR, 32, **SMALL["biggan32"])
    checked = 0
    for net in (g, d):
        for m in _weighted(net):
            w = (m.parametrizations.weight.original if hasattr(m, "parametrizations")
                 else m.weight).detach()
            w = w.reshape(w.shape[0], -1)
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-4)
            assert getattr(m, "bias", None) is None or not m.bias.any()
            checked += 1
    assert checked > 20


def _resnet_params(z, c, wg, wd, nc=0):
    """Parameter counts of SN-GAN's 32x32 ResNet computed from its description (Miyato et al.
    2018, appendix B, ResNet for CIFAR-10; Miyato & Koyama 2018 for the conditional form):
    G linear z -> 4x4xwg; 3 up-blocks of two 3x3 convs, a 1x1 shortcut and two BatchNorms (a
    scale and shift per channel, per class when conditional); BN; 3x3 conv to c. D an optimised
    block (3x3 c->wd, 3x3, 1x1 shortcut), a down-block (two 3x3 and a 1x1 shortcut), two plain
    blocks (two 3x3), linear wd -> 1, and a projection embedding of nc x wd."""
    conv = lambda k, i, o: k * k * i * o + o  # noqa: E731
    bn = 2 * wg * max(nc, 1)
    g = (z * 16 * wg + 16 * wg + 3 * (2 * bn + 2 * conv(3, wg, wg) + conv(1, wg, wg))
         + 2 * wg + conv(3, wg, c))
    d = (conv(3, c, wd) + conv(3, wd, wd) + conv(1, c, wd)
         + 2 * conv(3, wd, wd) + conv(1, wd, wd) + 4 * conv(3, wd, wd) + wd + 1 + nc * wd)
    return g, d


def _biggan_params(z, c, wg, wd, shared, nc):
    """BigGAN 32x32 (Brock et al. 2019, appendix B; StudioGAN's CIFAR-10 config): G a shared
    embedding nc x shared, linear z/4 -> 4x4xwg, 3 up-blocks whose two conditional BNs have
    two bias-free linears (z/4 + shared) -> channels, attention (θ, φ: C²/8 each, g, o: C²/2
    each, γ) after block 2, BN, 3x3 conv; D the ResNet D at width wd with attention after
    block 1."""
    conv = lambda k, i, o: k * k * i * o + o  # noqa: E731
    att = lambda ch: ch * ch // 8 * 2 + ch * ch // 2 * 2 + 1  # noqa: E731
    cond = z // 4 + shared
    g = (nc * shared + z // 4 * 16 * wg + 16 * wg
         + 3 * (2 * 2 * cond * wg + 2 * conv(3, wg, wg) + conv(1, wg, wg)) + att(wg)
         + 2 * wg + conv(3, wg, c))
    _, d = _resnet_params(z, c, wg, wd, nc)
    return g, d + att(wd)


def _count(net):
    return sum(p.numel() for p in net.parameters())


def test_parameter_counts_at_the_papers_widths(reg):
    """SN-GAN's CIFAR-10 ResNet (G 256, D 128, z 128): G 4,276,739 and D 1,053,825 parameters
    (4.28M / 1.05M); cGAN-PD's with 10 classes: G 4,304,387, D 1,055,105. BigGAN at StudioGAN's
    CIFAR-10 widths (G 384, D 192, z 80, shared 128): G 9,416,196, D 2,415,170. Each count is
    computed from the architecture's description (the helpers above) and must be the built
    model's exactly; the stated totals pin the description."""
    g, d = reg.models.get("resnet").build(CIFAR, 128)
    assert (_count(g), _count(d)) == _resnet_params(128, 3, 256, 128) == (4_276_739, 1_053_825)
    g, d = reg.models.get("cresnet").build(CIFAR, 128)
    assert (_count(g), _count(d)) == _resnet_params(128, 3, 256, 128, 10) == (4_304_387,
                                                                              1_055_105)
    g, d = reg.models.get("biggan32").build(CIFAR, 80)
    assert (_count(g), _count(d)) == _biggan_params(80, 3, 384, 192, 128, 10) == (9_416_196,
                                                                                  2_415_170)
    g, d = reg.models.get("resnet").build(CIFAR, 128, g_width=128, d_norm="none")  # WGAN-GP
    assert (_count(g), _count(d)) == _resnet_params(128, 3, 128, 128)


def _digits_job(reg, model, steps, *, lr=2e-3, options=None, **changes):
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan

    (job,) = plan(reg, model=model, loss="hinge", datasets=["digits"],
                  budget=Budget.parse(f"{steps}steps"), seeds=[0])
    assert dict(job.data_options) == {"resize": 32}  # the automatic resize for 32x32 nets
    h = Hyperparams(optimizer="adam", lr_g=lr, lr_d=lr, betas=(0.0, 0.9), k=1, batch_size=16,
                    z_dim=32)
    opts = dict(SMALL[model], **(options or {}))
    return dataclasses.replace(job, hparams=h, model_options=tuple(sorted(opts.items())),
                               **changes)


@pytest.mark.parametrize("model", ["resnet", "cresnet", "biggan32"])
def test_trains_a_few_finite_steps_on_digits_at_32(reg, model):
    from ganbench.training import runner

    job = _digits_job(reg, model, 3, evals=1, eval_samples=200, metrics=("training",))
    res = runner.train(job, reg, device="cpu", download=False)
    assert res.status == "completed" and res.steps == 3
    assert all(torch.isfinite(torch.tensor(r["value"])) for r in res.rows)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["resnet", "biggan32"])
def test_learns_digits_at_32_on_a_tiny_budget(reg, model):
    """Hinge loss, Adam 2e-3 β (0, 0.9), batch 16, G 16 and D 16 channels (biggan32 without
    attention), 40 G steps on digits resized to 32x32: frechet_data (pixel space, against the
    train set, 300 samples) at least halves. Measured at seed 0: resnet 652.9 -> 172.8 (3.8x),
    biggan32 829.0 -> 295.7 (2.8x), 15-20 s on a loaded 2-core CPU."""
    from ganbench.training import runner

    options = {"g_width": 16, "d_width": 16}
    if model == "biggan32":
        options["attention"] = False
    job = _digits_job(reg, model, 40, options=options, evals=1, eval_samples=300,
                      metrics=("frechet-data",))
    res = runner.train(job, reg, device="cpu", download=False)
    fd = {r["step"]: r["value"] for r in res.rows if r["metric"] == "frechet_data"}
    assert sorted(fd) == [0, 40] and res.status == "completed"
    assert fd[40] < fd[0] / 2, fd


def test_cifar10_suite_is_mimicrys_protocol(reg):
    """mimicry's CIFAR-10 protocol (its README, Baselines / CIFAR-10): SN-GAN and cGAN-PD, hinge
    loss, batch 64, Adam 2e-4, betas (0, 0.9), 5 D steps per G step, 100k G steps, FID on 50k
    samples against the train set; not in the quick suite."""
    from ganbench_plugins.suites import CIFAR10_PUBLISHED_FID

    entries = reg.suites.get("cifar10").resolve(reg)
    assert {e.variant for e in entries} == {"mimicry-sngan", "mimicry-cgan-pd"}
    assert set(CIFAR10_PUBLISHED_FID) == {e.variant for e in entries}
    for e in entries:
        assert (e.dataset, e.budget, e.eval_samples, tuple(e.seeds)) == (
            "cifar10", "100ksteps", 50_000, (0, 1, 2))
        assert not e.hparams and not e.model_options and not dict(e.data_options)
        v = reg.variants.get(e.variant)
        h = v.hparams
        assert (v.loss, h.optimizer, h.lr_g, h.lr_d, tuple(h.betas), h.k, h.batch_size) == (
            "hinge", "adam", 2e-4, 2e-4, (0.0, 0.9), 5, 64)
        assert v.suite_only
    assert reg.variants.get("mimicry-sngan").model == "resnet"
    assert reg.variants.get("mimicry-cgan-pd").model == "cresnet"
    from pathlib import Path

    docs = Path(REPO) / "docs"
    assert "published FIDs 16.77 (SN-GAN) and 10.84 (cGAN-PD)" in (docs / "datasets.md").read_text()
    assert CIFAR10_PUBLISHED_FID == {"mimicry-sngan": 16.77, "mimicry-cgan-pd": 10.84}
    # test_parameter_counts_at_the_papers_widths
    assert "4.28M / 1.05M parameters" in (docs / "variants.md").read_text()
    quick = {e.variant for e in reg.suites.get("quick").resolve(reg)}
    assert not quick & {"mimicry-sngan", "mimicry-cgan-pd"}


def test_linear_lr_schedule():
    """lr_schedule linear: each learning rate x (1 - the fraction of the budget used), 0 at the
    end; "none" (the default) leaves the optimisers alone and is not in the recipe's dict, so
    run ids of recipes without a schedule are unchanged."""
    from ganbench.training.runner import _lr_schedule

    p = [torch.nn.Parameter(torch.zeros(1))]
    opt_g, opt_d = torch.optim.SGD(p, lr=2e-4), torch.optim.SGD(p, lr=4e-4)
    assert _lr_schedule(Hyperparams(), opt_g, opt_d) is None
    assert "lr_schedule" not in Hyperparams().to_dict()
    set_lr = _lr_schedule(Hyperparams(lr_schedule="linear"), opt_g, opt_d)
    assert Hyperparams(lr_schedule="linear").to_dict()["lr_schedule"] == "linear"
    set_lr(0.25)
    assert (opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]) == pytest.approx(
        (1.5e-4, 3e-4))
    opt_g.load_state_dict(opt_g.state_dict())  # a restore replaces the param groups
    set_lr(1.5)
    assert opt_g.param_groups[0]["lr"] == 0.0 == opt_d.param_groups[0]["lr"]


def test_unknown_lr_schedule_is_refused(reg):
    from ganbench.planning.plan import check_hparams

    with pytest.raises(UsageError, match="lr_schedule must be none or linear, got 'cosine'"):
        check_hparams(Hyperparams(lr_schedule="cosine"), "variant 'x'")


class _Crash(Exception):
    pass


def test_lr_schedule_resumes_on_the_same_schedule(reg, tmp_path):
    """A run with the linear decay killed after a checkpoint and resumed gives the rows of the
    uninterrupted run exactly (the schedule is a function of the counters), and they differ
    from the run without the decay."""
    from ganbench.planning.budget import Budget
    from ganbench.training.checkpoint import Checkpointer
    from ganbench.planning.plan import plan
    from ganbench.store.results import MACHINE_METRICS
    from ganbench.training.runner import train

    class CrashAt(Checkpointer):
        def save(self, *a, **kw):
            super().save(*a, **kw)
            if self.steps == 20:
                raise _Crash

    (job,) = plan(reg, variants=["non-saturating"], datasets=["ring8"], seeds=[3],
                  budget=Budget.parse("40steps"), evals=4, eval_samples=256)
    decayed = dataclasses.replace(
        job, hparams=dataclasses.replace(job.hparams, lr_schedule="linear"))

    def key(rows):
        return repr([(r["step"], r["metric"], r["value"]) for r in rows
                     if r["metric"] not in MACHINE_METRICS])

    straight = train(decayed, reg, device="cpu")
    path = tmp_path / "run.ckpt"
    with pytest.raises(_Crash):
        train(decayed, reg, device="cpu", checkpoint=CrashAt(path, decayed.run_id))
    resumed = train(decayed, reg, device="cpu", checkpoint=Checkpointer(path, decayed.run_id))
    assert resumed.info["resumed_from_step"] == 20
    assert key(resumed.rows) == key(straight.rows)
    assert key(train(job, reg, device="cpu").rows) != key(straight.rows)
