"""The variant surface of issue 29: per-run state that survives a resume, augmentation of D's
inputs, lazy D outputs, latent samplers, loss options, progress and step counters, plugin
scalars; and a third-party plugin (tests/plugins/ganbench_lit.py) that implements LeCam,
InfoGAN, DiffAugment and Top-k GAN with the public API only."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from conftest import Crash, CrashAfterSave, install_plugin
from ganbench.api.specs import DataSpec, StateInit
from ganbench.planning.budget import Budget
from ganbench.planning.plan import Overrides, plan
from ganbench.training import runner
from ganbench.training.checkpoint import Checkpointer
from ganbench.training.step import StepContext, StepStats, build_step
from conftest import REPO

PLUGIN = Path(REPO) / "tests" / "plugins" / "ganbench_lit.py"




def _job(reg, variant="non-saturating", dataset="ring8", steps=40, evals=4, **over):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], budget=Budget.parse(f"{steps}steps"),
                  seeds=[3], evals=evals, eval_samples=256, overrides=Overrides(**over))
    return job


def _capture(monkeypatch):
    """Every (G, D, step) the runner builds, in order."""
    built = []
    real = runner.build_step

    def spy(g, d, *a, **kw):
        step = real(g, d, *a, **kw)
        built.append((g, d, step))
        return step

    monkeypatch.setattr(runner, "build_step", spy)
    return built


def _tensors(g, d, step):
    out = [t for net in (g, d) for t in net.state_dict().values()]
    for st in step.states.values():
        out += [v for v in _flat(st.state_dict()) if isinstance(v, torch.Tensor)]
    return out


def _flat(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _flat(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _flat(v)
    else:
        yield obj


def _key(rows):
    return repr([(r["step"], r["metric"], r["value"]) for r in rows
                 if r["metric"] not in ("images_per_s", "peak_rss_mb")])


# ------------------------------------------------------------------ state survives a resume

def test_lecam_run_killed_and_resumed_is_bitwise_an_uninterrupted_one(reg, monkeypatch,
                                                                      tmp_path):
    built = _capture(monkeypatch)
    job = _job(reg, steps=24, regularizers=("lecam:0.3",))
    assert job.regularizers == ("lecam:0.3:decay=0.99",)
    torch.use_deterministic_algorithms(True)
    try:
        straight = runner.train(job, reg, device="cpu")
        path = tmp_path / "run.ckpt"
        with pytest.raises(Crash):
            runner.train(job, reg, device="cpu", checkpoint=CrashAfterSave(path, job.run_id,
                                                                           at=12))
        saved = torch.load(path, weights_only=True)
        assert set(saved["modules"]["state.reg.lecam"]) == {"real", "fake", "count"}
        assert int(saved["modules"]["state.reg.lecam"]["count"]) == 12  # one update per D step
        resumed = runner.train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id))
    finally:
        torch.use_deterministic_algorithms(False)
    assert resumed.info["resumed_from_step"] == 12
    a, crashed, b = built
    assert all(torch.equal(x, y) for x, y in zip(_tensors(*a), _tensors(*b)))
    assert int(b[2].states["reg.lecam"].count) == 24
    assert _key(resumed.rows) == _key(straight.rows)
    # LeCam's moving averages are in the rows (plugin scalars), at every evaluation after 0
    ema = [r for r in straight.rows if r["metric"] == "lecam_ema_real"]
    assert [r["step"] for r in ema] == [6, 12, 18, 24]


def test_a_resume_without_the_state_would_diverge(reg, monkeypatch, tmp_path):
    """The test above can fail: dropping LeCam's state from the checkpoint changes the run."""
    job = _job(reg, steps=20, evals=2, regularizers=("lecam:0.3",))
    straight = runner.train(job, reg, device="cpu")
    path = tmp_path / "run.ckpt"
    with pytest.raises(Crash):
        runner.train(job, reg, device="cpu", checkpoint=CrashAfterSave(path, job.run_id, at=10))
    real_build = runner._build

    def forgetful(*a, **kw):  # the state is rebuilt but never saved nor restored
        run = real_build(*a, **kw)
        run.saved.pop("state.reg.lecam")
        return run

    monkeypatch.setattr(runner, "_build", forgetful)
    resumed = runner.train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id))
    assert resumed.info["resumed_from_step"] == 10
    assert _key(resumed.rows) != _key(straight.rows)


def test_lecam_penalty_closed_form():
    from ganbench_plugins.losses import EmaOutputs, lecam_penalty

    st = EmaOutputs(StateInit(torch.device("cpu")))
    r1, f1 = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    ctx = StepContext("d", None, None, None, None, None, None, r1, (), f1, ())
    ctx.state = st
    # first call: a_R = mean(r1) = 2, a_F = mean(f1) = -1
    want = ((1 + 1) ** 2 + (3 + 1) ** 2) / 2 + ((-2 - 2) ** 2 + (0 - 2) ** 2) / 2
    assert float(lecam_penalty(ctx, decay=0.9)) == pytest.approx(want, rel=1e-6)
    r2, f2 = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    ctx = StepContext("d", None, None, None, None, None, None, r2, (), f2, ())
    ctx.state = st
    a_r, a_f = 0.9 * 2 + 0.1 * 0, 0.9 * -1 + 0.1 * 1  # 1.8, -0.8
    want = (0 - a_f) ** 2 + (1 - a_r) ** 2
    assert float(lecam_penalty(ctx, decay=0.9)) == pytest.approx(want, rel=1e-6)


# ------------------------------------------------------------ lazy D outputs, augmentation

class Counting(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x):
        self.calls += 1
        return self.net(x).squeeze(1)


def _nets(k_in=2, z=4):
    torch.manual_seed(0)
    g = torch.nn.Sequential(torch.nn.Linear(z, 8), torch.nn.ReLU(), torch.nn.Linear(8, k_in))
    d = Counting(torch.nn.Sequential(torch.nn.Linear(k_in, 8), torch.nn.ReLU(),
                                     torch.nn.Linear(8, 1)))
    return g, d


def _step(g, d, k=1, **kw):
    import torch.nn.functional as F

    opt_g = torch.optim.SGD(g.parameters(), lr=0.01)
    opt_d = torch.optim.SGD(d.parameters(), lr=0.01)
    stats = StepStats(torch.device("cpu"))
    x = torch.randn(64, 2)
    step = build_step(g, d, opt_g, opt_d, lambda r, f: F.softplus(-r).mean()
                      + F.softplus(f).mean(), lambda f: F.softplus(-f).mean(), x, None,
                      batch_size=16, k=k, z_dim=4, rng=torch.Generator().manual_seed(0),
                      stats=stats, **kw)
    return step, stats


def test_d_outputs_are_computed_once_and_only_when_read():
    g, d = _nets()
    step, stats = _step(g, d, k=2, after_d=[lambda ctx: None])  # the general step
    step()
    assert d.calls == 2 * 2 + 1  # D(real), D(fake) per D step; D(G(z)) once
    assert set(stats.means()) >= {"d_real", "d_fake"}

    def own_d(ctx):  # an objective that runs D itself on its own batches
        import torch.nn.functional as F

        real, _ = ctx.run_d(ctx.real)
        fake, _ = ctx.run_d(ctx.fake)
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def own_g(ctx):
        import torch.nn.functional as F

        return F.softplus(-ctx.run_d(ctx.fake)[0]).mean()

    g, d = _nets()
    step, stats = _step(g, d, k=2, d_objective=own_d, g_objective=own_g)
    step()
    assert d.calls == 2 * 2 + 1  # nothing paid twice: the lazy outputs were never computed
    means = stats.means()
    assert "d_real" not in means and math.isfinite(means["d_loss"])


def test_augmentation_is_what_d_losses_regularisers_and_statistics_see():
    seen = {"d": [], "g": []}

    def aug(x, rng):
        return x * 0 + 5.0  # every sample becomes the point (5, 5)

    def record(ctx):
        import torch.nn.functional as F

        seen[ctx.phase].append((ctx.real.clone(), ctx.fake.detach().clone()))
        return F.softplus(-ctx.real_out).mean() + F.softplus(ctx.fake_out).mean()

    g, d = _nets()
    step, stats = _step(g, d, augment=aug, d_objective=record)
    step()
    (real, fake), = seen["d"]
    assert torch.equal(real, torch.full_like(real, 5.0)) and torch.equal(fake, real)
    means = stats.means()  # D(real) and D(fake) of identical inputs: the same statistic
    assert means["d_real"] == pytest.approx(means["d_fake"], rel=1e-12)


def test_diffaugment_translation_and_cutout_closed_form():
    from ganbench_plugins.augmentations import cutout, translate

    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4).repeat(2, 1, 1, 1)
    out = translate(x, torch.tensor([1, 0]), torch.tensor([0, -1]))
    # sample 0 shifted right by one column (zero enters on the left)
    assert out[0, 0].tolist() == [[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15]]
    # sample 1 shifted up by one row (zero enters at the bottom)
    assert out[1, 0].tolist() == [[5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [0, 0, 0, 0]]
    cut = cutout(x, torch.tensor([1, 3]), torch.tensor([1, 3]), 2)
    assert cut[0, 0].tolist() == [[0, 0, 3, 4], [0, 0, 7, 8], [9, 10, 11, 12],
                                  [13, 14, 15, 16]]
    assert cut[1, 0].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 0, 0], [13, 14, 0, 0]]
    # the random versions: translation keeps the multiset of pixels up to zeros (on a
    # one-hot image the single 1 stays or leaves), cutout zeroes exactly half the side squared
    from ganbench_plugins.augmentations import rand_cutout, rand_translation

    rng = torch.Generator().manual_seed(0)
    img = torch.ones(64, 3, 8, 8)
    zeros = (rand_cutout(img, rng)[:, 0] == 0).flatten(1).sum(1)
    assert zeros.max() <= 16 and zeros.min() >= 4  # a 4x4 square, clipped at the borders
    t = rand_translation(img, rng)
    shifted_rows = (t[:, 0] == 0).all(2).sum(1)
    assert shifted_rows.max() <= 1  # at most 8/8 = 1 row enters


def test_cr_closed_form():
    from ganbench_plugins.losses import cr_penalty

    w = torch.arange(4.0).view(1, 1, 1, 4)  # D(x) = sum over pixels of column index * x
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))

    def critic(inp, labels=None):
        return (inp * w).flatten(1).sum(1)

    ctx = StepContext("d", None, None, x, None, None, None, critic(x), (), None, (),
                      rng=torch.Generator().manual_seed(0), call_d=lambda i, l: (critic(i), ()))
    got = cr_penalty(ctx, shift=0.0, flip=1.0)  # T = a flip, always
    want = (critic(x) - critic(x.flip(3))).square().mean()
    assert float(got) == pytest.approx(float(want), rel=1e-6) and float(want) > 0
    assert float(cr_penalty(ctx, shift=0.0, flip=0.0)) == 0.0  # T = identity


def test_ada_p_rises_when_d_overfits_a_tiny_dataset():
    """Eight images, a D that memorises them: r_t = E sign(D(real)) passes 0.6 and p rises;
    on the same run p stays in [0, 1] and is logged."""
    from ganbench_plugins.augmentations import build_ada

    torch.manual_seed(0)
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    g = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 8, 8)))
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 128), torch.nn.LeakyReLU(0.2),
                            torch.nn.Linear(128, 1), torch.nn.Flatten(0))
    ada = build_ada(DataSpec("images", (1, 8, 8)), target=0.6, interval=1, ada_kimg=0.4)
    import torch.nn.functional as F

    stats = StepStats(torch.device("cpu"))
    step = build_step(g, d, torch.optim.Adam(g.parameters(), 1e-4),
                      torch.optim.Adam(d.parameters(), 2e-3),
                      lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
                      lambda f: F.softplus(-f).mean(), x, None, batch_size=8, k=1, z_dim=4,
                      rng=torch.Generator().manual_seed(0), stats=stats, augment=ada)
    ps = []
    for _ in range(60):
        step()
        ps.append(float(ada.p))
    steps = [round(b - a, 9) for a, b in zip([0.0] + ps, ps)]
    assert set(steps) <= {-0.02, 0.0, 0.02}  # batch 8 x 1 step / (0.4 kimg x 1000), or clamped
    rise = steps.index(0.02)  # D separates the 8 images within a few steps: r_t > 0.6
    assert rise < 10 and steps[:rise] == [0.0] * rise  # before that p stays at 0
    assert 0.1 <= ps[-1] <= 1.0  # then augmentation makes D less sure and p settles
    assert "ada_p" in stats.means() and step.states["augment"] is ada


# ------------------------------------------------------- latent sampler, progress, options

def test_infogan_sampler_feeds_codes_to_g_and_evaluation(reg):
    from ganbench.api.evalspec import EvalContext, EvalSpec
    from ganbench_plugins.infogan import InfoLatent

    s = InfoLatent(12, 4, 2)
    lat = s(500, torch.Generator().manual_seed(0), "cpu")
    assert lat.input.shape == (500, 12) and lat.z.shape == (500, 6)
    assert torch.equal(lat.input[:, 6:10].argmax(1), lat.codes["cat"])
    assert torch.equal(lat.input[:, 6:10].sum(1), torch.ones(500))
    assert lat.codes["cont"].abs().max() <= 1
    seen = []

    def g(z):
        seen.append(z)
        return z[:, :2]

    job = _job(reg, latent="infogan:cat=4:cont=2", z_dim=12)
    assert job.latent == "infogan:cat=4" and job.config()["latent"] == "infogan:cat=4"
    ctx = EvalContext(job=job, dataset=None, data=None, generator=g, conditional=False,
                      device="cpu", eval_spec=EvalSpec(n_samples=50), step=0, images_seen=0,
                      wall_s=0.0, sampler=runner.latent_sampler(reg, job))
    ctx.samples()
    assert torch.equal(seen[0][:, 6:10].sum(1), torch.ones(50))  # evaluation draws the codes


def test_new_axes_are_in_the_run_id_only_when_given(reg):
    base = _job(reg)
    same = _job(reg, augment=None, latent=None)
    assert base.run_id == same.run_id and "augment" not in base.config()
    aug = _job(reg, "dcgan", "digits", augment="diffaugment:translation,cutout")
    assert aug.augment == "diffaugment:policy=translation,cutout"
    assert aug.run_id != _job(reg, "dcgan", "digits").run_id
    assert _job(reg, "dcgan", "digits", augment="none").run_id == _job(reg, "dcgan", "digits").run_id
    from ganbench.api.errors import UsageError

    with pytest.raises(UsageError, match="diffaugment: policy 'spin'"):
        runner.train(_job(reg, "dcgan", "digits", steps=1, augment="diffaugment:spin"), reg,
                     device="cpu")
    with pytest.raises(UsageError, match="no option 'bogus'"):
        _job(reg, augment="ada:bogus=1")


def test_infogan_code_controls_the_ring8_mode(reg, monkeypatch):
    """The built-in infogan variant: after a short run, fixing the 8-way code picks one mode
    of ring8 far more often than chance, and the logged MI bound is positive. (A faster
    stand-in for the MNIST-class test: the same mechanism, 8 modes instead of 10 classes.)"""
    from ganbench_plugins.infogan import InfoLatent

    built = _capture(monkeypatch)
    (job,) = plan(reg, variants=["infogan"], datasets=["ring8"], seeds=[0],
                  budget=Budget.parse("400steps"), evals=2, eval_samples=256)
    job = dataclasses.replace(job, metrics=("training",))
    res = runner.train(job, reg, device="cpu")
    mi = [r["value"] for r in res.rows if r["metric"] == "infogan_mi"]
    assert len(mi) == 2 and mi[-1] > mi[0] and mi[-1] > 0.5  # nats, of log 8 = 2.08
    g = built[0][0]
    sampler = InfoLatent(job.hparams.z_dim, 8, 0)
    centers = torch.tensor(reg.datasets.get("ring8").modes.centers, dtype=torch.float32)
    purity = []
    rng = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for c in range(8):
            z = torch.randn(200, job.hparams.z_dim - 8, generator=rng)
            x = g(sampler.input(z, {"cat": torch.full((200,), c)}))
            mode = torch.cdist(x, centers).argmin(1)
            purity.append(torch.bincount(mode, minlength=8).max().item() / 200)
    assert sum(purity) / 8 > 0.6, purity


def test_progress_and_step_counters_in_the_context(reg):
    rec = []

    def hook(ctx):
        rec.append((ctx.phase, ctx.g_step, ctx.step, ctx.d_step, ctx.progress))

    g, d = _nets()
    step, _ = _step(g, d, k=2, after_d=[hook], after_g=[hook])
    step.progress[0] = 0.25
    step()
    step.progress[0] = 0.5
    step()
    assert rec == [("d", 0, 0, 0, 0.25), ("d", 0, 0, 1, 0.25), ("g", 0, 0, 2, 0.25),
                   ("d", 1, 1, 2, 0.5), ("d", 1, 1, 3, 0.5), ("g", 1, 1, 4, 0.5)]


def test_real_input_grad_is_a_deprecated_alias():
    x = torch.ones(2, 2)
    ctx = StepContext("d", None, None, x, None, None, None, call_d=lambda i, l: (i.sum(1), ()))
    with pytest.warns(DeprecationWarning, match="real_with_input_grad"):
        real, out = ctx.real_input_grad()
    assert real.requires_grad and torch.equal(out, torch.full((2,), 2.0))


# ---------------------------------------------- a third-party plugin on the public API only

@pytest.fixture
def lit(tmp_path, monkeypatch):
    from ganbench import registry

    site = install_plugin(tmp_path / "site", "ganbench_lit", PLUGIN.read_text(),
                          "ganbench-lit", "0.1", "lit")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "lit")
    registry.reset()
    return registry.registries()


def test_the_plugin_imports_only_the_public_api():
    import ast

    tree = ast.parse(PLUGIN.read_text())
    names = [(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             for a in n.names if (n.module or "").startswith("ganbench")]
    assert names and all(not a.startswith("_") for _, a in names)
    assert {m for m, _ in names} == {"ganbench", "ganbench.api.specs"}


def test_lecam_infogan_diffaugment_topk_plugin_conforms_and_resumes(lit):
    from ganbench.devkit import testing

    findings = testing.check_plugin("lit", lit)
    assert all(f.ok for f in findings), testing.format_findings(findings)
    checked = {(f.kind, f.name) for f in findings}
    assert {("regularizers", "lit-lecam"), ("augmentations", "lit-diffaug"),
            ("latent_samplers", "lit-codes"), ("losses", "lit-topk"),
            ("variants", "lit-all")} <= checked


def test_plugin_loss_options_reach_the_loss_and_the_run_id(lit, monkeypatch):
    (a,) = plan(lit, model="mlp", loss="lit-topk", datasets=["ring8"], seeds=[0],
                budget=Budget.parse("20steps"))
    (b,) = plan(lit, model="mlp", loss="lit-topk:k=0.25", datasets=["ring8"], seeds=[0],
                budget=Budget.parse("20steps"))
    assert a.loss == b.loss == "lit-topk" and b.loss_options == (("k", 0.25),)
    assert "loss_options" not in a.config() and a.run_id != b.run_id
    b = dataclasses.replace(b, evals=2, metrics=("training",))
    res = runner.train(b, lit, device="cpu")
    frac = [r["value"] for r in res.rows if r["metric"] == "lit_topk_frac"]
    # annealed 1 -> k = 0.25 with the progress through the budget: interval means
    assert len(frac) == 2 and 1 > frac[0] > frac[1] > 0.25


def test_a_plugin_state_kept_outside_the_checkpoint_fails_check_plugin(tmp_path, monkeypatch):
    """The LeCam hack of issue 29 (averages in a module-level dict): check-plugin says so."""
    from ganbench import registry
    from ganbench.devkit import testing

    source = (
        "from ganbench import hookimpl\n"
        "from ganbench.api.specs import RegularizerSpec\n"
        "EMA = {}\n"
        "def pen(ctx):\n"
        "    m = ctx.real_out.detach().mean()\n"
        "    EMA['r'] = 0.5 * EMA.get('r', m) + 0.5 * m\n"
        "    return (ctx.fake_out - EMA['r']).square().mean()\n"
        "@hookimpl\n"
        "def ganbench_register_regularizers(register):\n"
        "    register(RegularizerSpec('hack-lecam', pen, 'x'))\n")
    site = install_plugin(tmp_path / "site", "hack_plugin", source, "hack", "1.0", "hack")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "hack")
    registry.reset()
    (f,) = testing.check_plugin("hack", registry.registries())
    assert not f.ok and "resumed" in f.detail
