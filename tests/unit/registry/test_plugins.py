import json
import textwrap
import types

import pluggy
import pytest

from ganbench import hookimpl
from ganbench.api import hookspecs
from ganbench import registry as plugins
from ganbench.api.errors import PluginError
from ganbench.api.specs import LossSpec

from conftest import install_plugin, run_cli

BUILTIN_KINDS = {"models", "losses", "variants", "datasets", "metrics", "suites"}


def test_builtins_load_through_entry_points(reg):
    names = {p.name for p in reg.plugins}
    assert {"builtin-losses", "builtin-models", "builtin-variants", "builtin-datasets",
            "builtin-metrics", "builtin-suites"} <= names
    assert all(p.builtin and p.distribution == "ganbench" for p in reg.plugins)
    assert {"vanilla-minimax", "non-saturating", "dcgan", "cgan"} <= set(reg.variants.names())
    assert {"minimax", "non-saturating"} <= set(reg.losses.names())
    assert {"ring8", "grid25", "gaussian", "digits"} <= set(reg.datasets.names())
    assert reg.variants.get("vanilla-minimax").loss == "minimax"
    assert reg.variants.get("dcgan").model == "dcgan"


def test_every_hook_is_documented():
    for name in dir(hookspecs):
        if name.startswith("ganbench_"):
            assert getattr(hookspecs, name).__doc__, name


def _registries_with(*modules):
    """Load the built-ins, then register extra plugin modules through pluggy as load() does."""
    pm = pluggy.PluginManager("ganbench")
    pm.add_hookspecs(hookspecs)
    regs = {k: plugins.Registry(k, t) for k, t in plugins.REGISTRY_TYPES.items()}
    for mod in modules:
        pm.register(mod, name=mod.__name__)
    pm.check_pending()
    for kind, registry in regs.items():
        plugins._call_hook(pm, f"ganbench_register_{kind}",
                           lambda plugin, obj, r=registry: r.add(obj, plugin))
    return regs


def _loss_plugin(name, loss_name="minimax"):
    mod = types.ModuleType(name)

    @hookimpl
    def ganbench_register_losses(register):
        register(LossSpec(loss_name, d_loss=lambda r, f: r, g_loss=lambda f: f, description="x"))

    mod.ganbench_register_losses = ganbench_register_losses
    return mod


def test_duplicate_registration_names_both_plugins():
    with pytest.raises(PluginError) as e:
        _registries_with(_loss_plugin("first_plugin", "test-dup-loss"),
                         _loss_plugin("second_plugin", "test-dup-loss"))
    msg = str(e.value)
    assert "loss 'test-dup-loss' is registered twice" in msg
    assert "first_plugin" in msg and "second_plugin" in msg


def test_malformed_registration_names_the_plugin():
    mod = types.ModuleType("sloppy_plugin")

    @hookimpl
    def ganbench_register_losses(register):
        register({"name": "not-a-spec"})

    mod.ganbench_register_losses = ganbench_register_losses
    with pytest.raises(PluginError, match="plugin 'sloppy_plugin' registered a dict as a loss"):
        _registries_with(mod)

    bad_name = types.ModuleType("bad_name_plugin")

    @hookimpl
    def ganbench_register_losses(register):  # noqa: F811
        register(LossSpec("Bad Name!", d_loss=abs, g_loss=abs, description=""))

    bad_name.ganbench_register_losses = ganbench_register_losses
    with pytest.raises(PluginError, match="bad_name_plugin.*invalid name"):
        _registries_with(bad_name)


def test_misspelled_hook_is_caught():
    mod = types.ModuleType("typo_plugin")

    @hookimpl
    def ganbench_register_lossess(register):
        pass

    mod.ganbench_register_lossess = ganbench_register_lossess
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook"):
        _registries_with(mod)


def test_plugin_raising_at_registration_is_named():
    mod = types.ModuleType("raising_plugin")

    @hookimpl
    def ganbench_register_models(register):
        raise RuntimeError("boom")

    mod.ganbench_register_models = ganbench_register_models
    with pytest.raises(PluginError, match="plugin 'raising_plugin' failed in "
                                         "ganbench_register_models: boom"):
        _registries_with(mod)


def test_disable_plugins(monkeypatch):
    monkeypatch.setenv("GANBENCH_DISABLE_PLUGINS", "builtin-suites")
    plugins.reset()
    reg = plugins.registries()
    assert "builtin-suites" not in {p.name for p in reg.plugins}
    assert len(reg.suites) == 0
    assert reg.losses.names() == ["acgan", "hinge", "lsgan", "minimax", "non-saturating", "ragan",
                                  "wasserstein"]


EP = "test-hinge-thirdparty"  # entry-point name of the test plugin
THIRD_PARTY = textwrap.dedent('''
    """A third-party ganbench plugin: a hinge loss and a variant that uses it (names unique to
    this test, so they never clash with a built-in or another installed plugin)."""
    from ganbench import hookimpl
    from ganbench.api.specs import Hyperparams, LossSpec, VariantSpec


    def d_loss(real, fake):
        import torch.nn.functional as F
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


    def g_loss(fake):
        return -fake.mean()


    @hookimpl
    def ganbench_register_losses(register):
        register(LossSpec("test-hinge-thirdparty", d_loss=d_loss, g_loss=g_loss, description="hinge loss"))


    @hookimpl
    def ganbench_register_variants(register):
        register(VariantSpec("test-hinge-thirdparty-gan", "mlp", "test-hinge-thirdparty", "MLP GAN with the hinge loss",
                             Hyperparams(lr_g=1e-3, lr_d=1e-3, batch_size=64, z_dim=8)))
        register(VariantSpec("test-hinge-thirdparty-quick", "mlp", "test-hinge-thirdparty", "the same, in quick",
                             Hyperparams(lr_g=1e-3, lr_d=1e-3, batch_size=64, z_dim=8), quick=True))
''')


@pytest.fixture
def third_party_site(tmp_path):
    """A real installed distribution: a module plus its .dist-info with an entry point in the
    'ganbench' group, on a directory that goes on PYTHONPATH."""
    return install_plugin(tmp_path / "site", "test_hinge_thirdparty_plugin", THIRD_PARTY,
                          "test-hinge-thirdparty-plugin", "0.3.1", EP)


def test_third_party_plugin_is_listed_and_runs(third_party_site, tmp_path):
    env = {"PYTHONPATH": str(third_party_site), "GANBENCH_LOAD_PLUGINS": EP}
    r = run_cli("plugins", "--json", env=env)
    assert r.returncode == 0, r.stderr
    info = {p["name"]: p for p in json.loads(r.stdout)}
    assert info[EP]["distribution"] == "test-hinge-thirdparty-plugin"
    assert info[EP]["version"] == "0.3.1"
    assert info[EP]["builtin"] is False
    assert info[EP]["hooks"] == ["ganbench_register_losses", "ganbench_register_variants"]

    r = run_cli("list", "--json", env=env)
    listing = json.loads(r.stdout)
    assert {"name": "test-hinge-thirdparty", "description": "hinge loss", "plugin": EP,
            "output": "logit", "context": False, "options": {}} in listing["losses"]
    variant = next(v for v in listing["variants"] if v["name"] == "test-hinge-thirdparty-gan")
    assert variant["plugin"] == EP
    # a plugin's variant joins the quick suite (run --all) only when it says so (quick=True):
    # installing a plugin does not silently change run --all and what CI's gate compares
    quick = next(s for s in listing["suites"] if s["name"] == "quick")
    in_quick = {e["variant"] for e in quick["entries"]}
    assert "test-hinge-thirdparty-quick" in in_quick
    assert "test-hinge-thirdparty-gan" not in in_quick and "dcgan" in in_quick

    out = tmp_path / "runs"
    r = run_cli("run", "--variant", "test-hinge-thirdparty-gan", "--dataset", "gaussian",
                "--budget", "20steps", "--out", str(out), "--evals", "2", "--no-calibration",
                env=env)
    assert r.returncode == 0, r.stderr
    (f,) = out.glob("*.json")
    meta = json.loads(f.read_text())["meta"]
    assert (meta["variant"], meta["loss"], meta["steps"]) == ("test-hinge-thirdparty-gan", "test-hinge-thirdparty", 20)

    # the same plugin can also be used as --loss on any model
    r = run_cli("run", "--model", "mlp", "--loss", "test-hinge-thirdparty", "--dataset", "ring8", "--budget",
                "5steps", "--out", str(out), "--dry-run", env=env)
    assert r.returncode == 0 and "mlp+test-hinge-thirdparty on ring8" in r.stdout


def test_load_plugins_empty_means_builtins_only(third_party_site):
    env = {"PYTHONPATH": str(third_party_site), "GANBENCH_LOAD_PLUGINS": ""}
    r = run_cli("plugins", "--json", env=env)
    assert EP not in {p["name"] for p in json.loads(r.stdout)}
    env["GANBENCH_LOAD_PLUGINS"] = EP
    r = run_cli("plugins", "--json", env=env)
    assert EP in {p["name"] for p in json.loads(r.stdout)}
    env["GANBENCH_DISABLE_PLUGINS"] = "test-hinge-thirdparty-plugin"  # by distribution name
    r = run_cli("plugins", "--json", env=env)
    assert EP not in {p["name"] for p in json.loads(r.stdout)}


def test_broken_third_party_plugin_fails_with_one_line(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_plugin.py").write_text("raise ImportError('missing dependency foo')\n")
    info = site / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ganbench]\nbroken = broken_plugin\n")
    r = run_cli("list", env={"PYTHONPATH": str(site), "GANBENCH_LOAD_PLUGINS": "broken"})
    assert r.returncode == 2
    assert r.stderr.strip() == ("ganbench: error: plugin 'broken' (broken_plugin) failed to "
                                "import: missing dependency foo (fix the plugin, or skip it: "
                                "GANBENCH_DISABLE_PLUGINS=broken)")


def test_suite_entry_recipe_applies_to_the_suite_only(reg):
    """The quick suite trains wgan / wgan-gp with learning rates for its budget, and every MLP
    variant on the 2-D sets with their recipe (EMA; on grid25 small MLPs and batch); asking for
    the variant by name keeps the variant's recipe, so the two never share a recipe (or a run
    id)."""
    import dataclasses

    from ganbench.planning.plan import Overrides, plan

    # quick-full: quick's recipes on every variant and on grid25 too; quick (run --all) is a
    # part of it, run for run
    quick = {(j.variant, j.dataset, j.seed): j for j in plan(reg, run_all=True,
                                                             suite="quick-full")}
    default = plan(reg, run_all=True)

    def recipe(job):  # the run's config but for the suite's name
        return {k: v for k, v in job.config().items() if k != "suite"}

    assert default and all(recipe(quick[j.variant, j.dataset, j.seed]) == recipe(j)
                           for j in default)
    quick = {(v, d): j for (v, d, seed), j in quick.items() if seed == 0}
    assert {d for (_v, d) in quick} == {"ring8", "grid25", "digits"}
    suite_only = {v.name for v in reg.variants if v.suite_only}
    assert {"pacgan-paper-gan", "lucic-wgan"} <= suite_only  # papers' recipes: not in quick
    opted_out = {v.name for v in reg.variants if v.quick is False}  # e.g. infogan
    assert "infogan" in opted_out
    assert {v for (v, _d) in quick} == {v.name for v in reg.variants} - suite_only - opted_out
    wgan, gp, ns = quick["wgan", "digits"], quick["wgan-gp", "digits"], quick["non-saturating",
                                                                             "ring8"]
    assert (wgan.hparams.lr_g, wgan.hparams.lr_d, wgan.hparams.optimizer, wgan.hparams.k) == (
        1e-3, 1e-3, "rmsprop", 5)
    assert wgan.step_hooks == ("clip:c=0.01",) and wgan.hparams.batch_size == 64
    assert (gp.hparams.lr_g, gp.hparams.betas, gp.hparams.k) == (5e-4, (0.0, 0.9), 5)
    assert gp.hparams.batch_size == 64 and gp.g_ema is None  # digits: the variant's batch
    # ring8: each variant's recipe, G evaluated through its EMA
    mlp = reg.variants.get("non-saturating")
    assert ns.hparams == mlp.hparams and ns.model_options == () and ns.g_ema == 0.99
    # grid25: also 128-unit MLPs and batch 32 (many cheap steps)
    grid = quick["non-saturating", "grid25"]
    assert grid.hparams == dataclasses.replace(mlp.hparams, batch_size=32, lr_g=2e-3, lr_d=2e-3)
    assert grid.g_ema == 0.99
    assert dict(grid.model_options) == {"g_hidden": (128, 128), "d_hidden": (128, 128)}
    pac = quick["pacgan", "grid25"]  # its own D width: D sees 25 x 25 clusters of pairs
    assert dict(pac.model_options) == {"pack": 2, "g_hidden": (128, 128), "d_hidden": (256, 256)}
    # the variants' own changes on the 2-D sets: wgan and wgan-gp one critic step per G step
    # (wgan: clip 2, lr 1e-2, batch 32; wgan-gp: lambda 1, its own learning rates), r1 gamma
    # 0.1; merged over the dataset's recipe, not on digits
    for ds in ("ring8", "grid25"):
        toy_gp, toy_r1, toy_w = quick["wgan-gp", ds], quick["r1", ds], quick["wgan", ds]
        assert toy_w.step_hooks == ("clip:c=2",) and toy_w.g_ema == 0.99
        assert (toy_w.hparams.optimizer, toy_w.hparams.k, toy_w.hparams.lr_g, toy_w.hparams.lr_d,
                toy_w.hparams.batch_size) == ("rmsprop", 1, 1e-2, 1e-2, 32)
        assert (toy_gp.hparams.k, toy_gp.hparams.lr_g, toy_gp.hparams.lr_d) == (1, 4e-3, 8e-3)
        assert toy_gp.hparams.betas == (0.0, 0.9) and toy_gp.regularizers == ("gp:1:center=1",)
        assert toy_r1.regularizers == ("r1:0.1",) and toy_r1.g_ema == 0.99
    assert quick["wgan-gp", "grid25"].hparams.batch_size == 32
    assert quick["wgan-gp", "ring8"].hparams.batch_size == 64
    assert gp.regularizers == ("gp:10:center=1",) and quick["r1", "digits"].regularizers == (
        "r1:10",)
    digits = quick["non-saturating", "digits"]
    assert digits.hparams == mlp.hparams and digits.model_options == () and digits.g_ema is None
    assert quick["dcgan", "digits"].hparams == reg.variants.get("dcgan").hparams
    (alone,) = plan(reg, variants=["wgan"], datasets=["ring8"])
    assert alone.hparams == reg.variants.get("wgan").hparams and alone.hparams.lr_g == 5e-5
    toy = quick["wgan", "ring8"]
    assert alone.run_id != toy.run_id and alone.budget == toy.budget
    assert alone.step_hooks == ("clip:c=0.01",) and alone.hparams.k == 5
    assert alone.g_ema is None and alone.model_options == ()
    # --g-ema on the command line still wins over the suite's
    (no_ema,) = plan(reg, run_all=True, variants=["non-saturating"], datasets=["grid25"],
                     overrides=Overrides(g_ema=0.0), suite="quick-full", seeds=[0])
    assert no_ema.g_ema is None and no_ema.hparams.batch_size == 32


def test_suite_entry_with_an_unknown_hparam_is_one_line(reg):
    from ganbench.api.errors import UsageError
    from ganbench.planning.plan import plan
    from ganbench.api.specs import SuiteEntry, SuiteSpec

    reg.suites.add(SuiteSpec("typo", [SuiteEntry("wgan", "ring8", "1kimg",
                                                 hparams={"lr": 1e-3})], "a typo"), "test")
    with pytest.raises(UsageError, match=r"suite 'typo', entry wgan on ring8: unknown "
                                         r"hyperparameter\(s\) lr \(known: .*lr_d, lr_g"):
        plan(reg, suite="typo", run_all=True)


def test_suite_entry_terms_merge_like_reg(reg):
    """A suite entry's regularisers and step hooks merge over the variant's as --reg does (a
    term named again replaces it, 'none' drops them, a new one is added), apply with --all
    only, and yield to --reg on the command line; a bad one is one line naming the entry."""
    from ganbench.api.errors import UsageError
    from ganbench.planning.plan import Overrides, plan
    from ganbench.api.specs import SuiteEntry, SuiteSpec

    entries = [SuiteEntry("wgan-gp", "ring8", "1kimg", regularizers=("gp:1", "r1:2")),
               SuiteEntry("wgan", "ring8", "1kimg", step_hooks=("clip:0.05",)),
               SuiteEntry("r1", "ring8", "1kimg", regularizers=("none",))]
    reg.suites.add(SuiteSpec("terms", entries, "suite terms"), "test")
    jobs = {j.variant: j for j in plan(reg, suite="terms", run_all=True)}
    assert jobs["wgan-gp"].regularizers == ("gp:1:center=1", "r1:2")
    assert jobs["wgan"].step_hooks == ("clip:c=0.05",)
    assert jobs["r1"].regularizers == ()
    by_name = {j.variant: j for j in plan(reg, suite="terms", variants=["wgan-gp", "wgan"])}
    assert by_name["wgan-gp"].regularizers == ("gp:10:center=1",)
    assert by_name["wgan"].step_hooks == ("clip:c=0.01",)
    (cli,) = plan(reg, suite="terms", run_all=True, variants=["wgan-gp"],
                  overrides=Overrides(regularizers=("gp:5",)))
    assert cli.regularizers == ("gp:5:center=1", "r1:2")
    reg.suites.add(SuiteSpec("bad", [SuiteEntry("wgan", "ring8", "1kimg",
                                                step_hooks=("clamp:1",))], "typo"), "test")
    with pytest.raises(UsageError, match=r"^suite 'bad', entry wgan on ring8: unknown step "
                                         r"hook 'clamp'"):
        plan(reg, suite="bad", run_all=True)


def test_suite_model_options_are_dropped_with_another_model(reg):
    """--model replaces the variant's model: the suite's options for the variant's own model
    (grid25's 128-unit MLP) do not follow it; its batch and EMA do."""
    from ganbench.planning.plan import plan

    (job,) = plan(reg, run_all=True, variants=["non-saturating"], datasets=["grid25"],
                  model="linear", suite="quick-full", seeds=[0])
    assert job.model == "linear" and job.model_options == ()
    assert job.hparams.batch_size == 32 and job.g_ema == 0.99
