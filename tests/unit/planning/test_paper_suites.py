"""The suites that reproduce anchor papers: PacGAN's synthetic protocol (``pacgan``: the MLP
options, datasets and variants it needs) and Lucic et al. 2018's losses on DCGAN (``lucic``)."""

import dataclasses
import math
import re

import pytest

from ganbench.planning.budget import Budget
from ganbench.api.errors import UsageError
from ganbench.planning.plan import plan
from ganbench.api.specs import DataSpec

from conftest import run_cli

POINTS = DataSpec("points", (2,), 8)


def _mlp(reg, seed=0, **options):
    import torch

    torch.manual_seed(seed)
    return reg.models.get("mlp").build(POINTS, 2, **options)


def _layers(net, kind):
    return [m for m in net.modules() if isinstance(m, kind)]


def test_g_norm_batch_puts_batchnorm_after_every_hidden_g_layer(reg):
    from torch import nn

    g, d = _mlp(reg, g_hidden=(8, 8, 8), g_norm="batch")
    bns = _layers(g, nn.BatchNorm1d)
    assert [b.num_features for b in bns] == [8, 8, 8] and not _layers(d, nn.BatchNorm1d)
    assert all(b.momentum == 0.05 for b in bns)  # PacGAN's population update
    kinds = [type(m).__name__ for m in g.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU"] * 3 + ["Linear"]
    linears = _layers(g, nn.Linear)
    assert [lin.bias is None for lin in linears] == [True, True, True, False]  # BN shifts
    g0, _ = _mlp(reg, g_hidden=(8, 8, 8))
    assert not _layers(g0, nn.BatchNorm1d)  # the default has none


def test_maxout_is_the_max_over_its_pieces_on_a_known_input():
    import torch

    from ganbench_plugins.nets import Maxout

    m = Maxout(1, 2, pieces=3)
    with torch.no_grad():  # unit u, piece p computes w[u, p] * x + b[u, p]
        w = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
        b = torch.tensor([[0.0, 1.0, 0.0], [2.0, -1.0, 0.0]])
        m.linear.weight.copy_(w.reshape(6, 1))
        m.linear.bias.copy_(b.reshape(6))
    x = torch.tensor([[2.0], [-1.0]])
    # x = 2: unit 0 max(2, -3, 1) = 2, unit 1 max(2, 5, -2) = 5
    # x = -1: unit 0 max(-1, 3, -0.5) = 3, unit 1 max(2, -4, 1) = 2
    assert m(x).tolist() == [[2.0, 5.0], [3.0, 2.0]]


def test_maxout_pieces_sets_every_d_maxout_layer(reg):
    from ganbench_plugins.nets import Maxout

    _, d = _mlp(reg, d_hidden=(200, 200, 200), d_activation="maxout", maxout_pieces=5, pack=2)
    units = _layers(d, Maxout)
    assert [(u.pieces, u.linear.in_features, u.linear.out_features) for u in units] == [
        (5, 4, 1000), (5, 200, 1000), (5, 200, 1000)]


def test_init_std_draws_weights_from_n0_std_and_zeros_biases(reg):
    import torch
    from torch import nn

    g, d = _mlp(reg, g_hidden=(400, 400), d_hidden=(400,), init_std=0.02)
    big = [lin for lin in _layers(g, nn.Linear) + _layers(d, nn.Linear)
           if lin.weight.numel() > 100_000]
    assert big and all(abs(float(lin.weight.detach().std()) - 0.02) < 1e-3 for lin in big)
    assert all(torch.count_nonzero(lin.bias) == 0 for lin in _layers(g, nn.Linear)
               + _layers(d, nn.Linear) if lin.bias is not None)


def test_explicit_defaults_build_bitwise_the_default_networks(reg):
    """The new options' defaults draw nothing and change nothing (the built-ins' numbers)."""
    import torch

    plain = _mlp(reg, d_activation="maxout")
    explicit = _mlp(reg, d_activation="maxout", g_norm="none", maxout_pieces=2, init_std=0.0)
    for a, b in zip(plain, explicit):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("options, message", [
    ({"g_norm": "layer"}, "g_norm must be none or batch"),
    ({"d_activation": "maxout", "maxout_pieces": 1}, "maxout_pieces must be an integer from 2"),
    ({"d_activation": "maxout", "maxout_pieces": 2.5}, "maxout_pieces must be an integer"),
    ({"d_activation": "maxout", "maxout_pieces": True}, "maxout_pieces must be an integer"),
    ({"maxout_pieces": 5}, "maxout_pieces applies only with d_activation maxout"),
    ({"init_std": -0.1}, "init_std must be a number in [0, 1)"),
    ({"init_std": "0.02"}, "init_std must be a number"),
    ({"pack": 0}, "pack must be an integer from 1 to 16"),
])
def test_bad_mlp_options_are_usage_errors(reg, options, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        _mlp(reg, **options)


def test_dcgan_d_norm_none_has_neither_batchnorm_nor_spectral_norm(reg):
    from torch import nn

    spec = DataSpec("images", (1, 32, 32), 10)
    _, d = reg.models.get("dcgan").build(spec, 8, d_norm="none", width=8)
    assert not _layers(d, nn.BatchNorm2d)
    assert not any("parametrizations" in n for n, _ in d.named_parameters())
    with pytest.raises(UsageError, match="d_norm must be batch, spectral or none"):
        reg.models.get("dcgan").build(spec, 8, d_norm="layer")


def test_pacgan_datasets_are_pacgans_ring_and_grid(reg):
    import torch

    ring, grid = reg.datasets.get("pacgan-ring"), reg.datasets.get("pacgan-grid")
    assert ring.modes.std == 0.01 and grid.modes.std == 0.05
    radii = [math.hypot(*c) for c in ring.modes.centers]
    assert len(radii) == 8 and all(abs(r - 1.0) < 1e-12 for r in radii)
    assert sorted({c[0] for c in grid.modes.centers}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len(set(grid.modes.centers)) == 25
    from ganbench.api.specs import DataRequest

    data = ring.load(DataRequest("train"))
    assert data.x.shape == (100_000, 2)  # PacGAN's num_sample
    centers = torch.tensor(ring.modes.centers, dtype=torch.float32)
    resid = data.x - centers[data.y]
    assert abs(float(resid.std()) - 0.01) < 5e-4
    # the VEEGAN sets are unchanged
    assert reg.datasets.get("ring8").modes.std == 0.02
    assert abs(math.hypot(*reg.datasets.get("ring8").modes.centers[0]) - 2.0) < 1e-12
    assert reg.datasets.get("grid25").modes == grid.modes


def test_mode_metrics_use_the_datasets_own_std(reg):
    """PacGAN's threshold: high quality within 3 std of the nearest centre (ring: 0.03)."""
    import torch

    from ganbench_plugins.metrics import mode_stats

    ring = reg.datasets.get("pacgan-ring")
    c = torch.tensor(ring.modes.centers, dtype=torch.float32)
    near = c[:4] + torch.tensor([0.025, 0.0])  # 2.5 std: high quality, 4 modes
    far = c[4:] + torch.tensor([0.0, 0.035])  # 3.5 std: not
    s = mode_stats(torch.cat([near, far]), ring.modes.centers, ring.modes.std)
    assert s["modes_covered"] == 4 and s["high_quality_pct"] == 50.0
    # on ring8 (std 0.02) the same offsets are within 3 std
    r8 = reg.datasets.get("ring8")
    c8 = torch.tensor(r8.modes.centers, dtype=torch.float32) + torch.tensor([0.0, 0.035])
    assert mode_stats(c8, r8.modes.centers, r8.modes.std)["high_quality_pct"] == 100.0


def test_pacgan_suite_is_pacgans_protocol(reg):
    jobs = plan(reg, suite="pacgan", run_all=True)
    assert len(jobs) == 2 * 2 * 10
    assert {(j.variant, j.dataset) for j in jobs} == {
        (v, d) for v in ("pacgan-paper-gan", "pacgan-paper-pac2")
        for d in ("pacgan-grid", "pacgan-ring")}
    assert {j.budget for j in jobs} == {Budget("steps", 400_000)}  # 400 epochs x 1000 steps
    assert {j.seed for j in jobs} == set(range(10))
    assert {(j.eval_samples, j.evals) for j in jobs} == {(2500, 10)}
    for j in jobs:
        opts = dict(j.model_options)
        pack = opts["pack"]
        assert pack == (1 if j.variant == "pacgan-paper-gan" else 2)
        h = j.hparams
        assert (h.optimizer, h.lr_g, h.lr_d, h.betas, h.k, h.z_dim) == (
            "adam", 1e-4, 1e-4, (0.8, 0.999), 1, 2)
        assert h.batch_size == 100 * pack  # 100 packs per step, as PacGAN's batch_size
        assert (opts["g_hidden"], opts["g_norm"], opts["d_hidden"], opts["d_activation"],
                opts["maxout_pieces"], opts["init_std"]) == (
            (400,) * 4, "batch", (200,) * 3, "maxout", 5, 0.02)
        assert j.loss == "non-saturating" and j.model == "mlp"
    cpu = plan(reg, suite="pacgan", run_all=True, budget=Budget.parse("3000steps"),
               seeds=range(5))
    assert len(cpu) == 20  # results/pacgan-cpu.csv


def test_pacgan_paper_pac2_trains_d_on_100_packs_of_2(reg):
    import torch

    from ganbench.devkit import overhead

    (job,) = plan(reg, variants=["pacgan-paper-pac2"], datasets=["pacgan-ring"], seeds=[0],
                  budget=Budget.parse("1steps"))
    t = overhead.build(job, reg, torch.device("cpu"))
    step = overhead.job_step(t, job, reg)
    seen = []
    t.d.net[0].register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    step()
    assert seen and set(seen) == {(100, 4)}  # 200 samples a side, read as 100 packs of 2


LUCIC = ("lucic-mm", "lucic-ns", "lucic-lsgan", "lucic-wgan", "lucic-wgan-gp", "lucic-dragan")


def test_lucic_dry_run_plans_6_losses_2_datasets_5_seeds_20_epochs(reg):
    r = run_cli("run", "--suite", "lucic", "--all", "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if "\t" in ln]
    assert len(lines) == 60
    for v in LUCIC:
        for ds in ("mnist", "fashion-mnist"):
            for s in range(5):
                assert sum(f"{v} on {ds} (seed {s}, 1200000img)" in ln for ln in lines) == 1
    jobs = plan(reg, suite="lucic", run_all=True)
    assert len(jobs) == 60 and {j.model for j in jobs} == {"dcgan"}
    assert {dict(j.data_options)["resize"] for j in jobs} == {32}
    assert {(j.evals, j.eval_samples) for j in jobs} == {(10, 10_000)}
    assert {j.budget for j in jobs} == {Budget("images", 1_200_000)}  # 20 x 60,000


def test_lucic_variants_carry_compare_gans_defaults(reg):
    v = {name: reg.variants.get(name) for name in LUCIC}
    want = {  # compare_gan/src/params.py: lr, beta1, disc_iters
        "lucic-mm": ("minimax", 5e-5, 0.0, 1), "lucic-ns": ("non-saturating", 5e-5, 0.0, 1),
        "lucic-lsgan": ("lsgan", 2e-4, 0.5, 1), "lucic-wgan": ("wasserstein", 5e-5, 0.5, 5),
        "lucic-wgan-gp": ("wasserstein", 1e-4, 0.5, 5),
        "lucic-dragan": ("non-saturating", 1e-4, 0.5, 1),
    }
    for name, (loss, lr, beta1, k) in want.items():
        h = v[name].hparams
        assert (v[name].model, v[name].loss, h.optimizer, h.lr_g, h.lr_d, h.betas, h.k,
                h.batch_size, h.z_dim) == ("dcgan", loss, "adam", lr, lr, (beta1, 0.999), k,
                                           64, 64), name
        assert "Lucic" in v[name].reference
    assert v["lucic-wgan"].step_hooks == ("clip:0.01",)
    assert v["lucic-wgan-gp"].regularizers == ("gp:10",)
    assert dict(v["lucic-wgan-gp"].model_options) == {"d_norm": "none"}
    assert v["lucic-dragan"].regularizers == ("dragan-sigmoid:10",)


@pytest.mark.parametrize("variant", ["lucic-wgan-gp", "lucic-dragan"])
def test_lucic_penalised_variants_take_a_step_on_images(reg, variant):
    import torch

    from ganbench.devkit import overhead

    (job,) = plan(reg, variants=[variant], datasets=["digits"], seeds=[0],
                  budget=Budget.parse("1steps"))
    job = dataclasses.replace(job, hparams=dataclasses.replace(job.hparams, batch_size=8))
    t = overhead.build(job, reg, torch.device("cpu"))
    before = [p.detach().clone() for p in t.d.parameters()]
    overhead.job_step(t, job, reg)()
    assert any(not torch.equal(a, b) for a, b in zip(before, t.d.parameters()))
