"""The training step's plugin surface (objectives, regularisers, hooks, G-EMA) and the variants
built on it."""

import dataclasses
import hashlib

import pytest

from ganbench import runner
from ganbench.budget import Budget
from ganbench.plan import plan

# sha256 (first 16 hex digits) of G's and D's state after a short seeded CPU run, recorded on
# commit 6e68db8, before the training step became a plugin surface: the built-ins' numbers
# (and so the committed tables) must not change.
BASE_HASHES = {
    ("vanilla-minimax", "ring8", 30): ("afcd120d2714ad4d", "219ee526074a8ebb"),
    ("non-saturating", "ring8", 30): ("c737ce216d871bc4", "027a0e98f42ec2a4"),
    ("cgan", "ring8", 30): ("f12f929173f5964b", "d4f32fc0db18eb8c"),
    ("dcgan", "digits", 4): ("155b5d15d3ce0290", "4e61595ce9737e06"),
}


def _digest(module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _job(reg, variant, dataset, steps, **changes):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], seeds=[0],
                  budget=Budget.parse(f"{steps}steps"))
    return dataclasses.replace(job, evals=1, metrics=("training",), **changes)


def _train_capturing(reg, job, monkeypatch):
    """Train ``job`` on the CPU; returns (result, G, D) as the step trained them."""
    captured = {}
    build_step = runner.build_step

    def spy(g, d, *args, **kwargs):
        captured["g"], captured["d"] = g, d
        return build_step(g, d, *args, **kwargs)

    monkeypatch.setattr(runner, "build_step", spy)
    res = runner.train(job, reg, device="cpu")
    return res, captured["g"], captured["d"]


# Bitwise equality holds only for the same kernels: the hashes were recorded with one intra-op
# thread, this torch and this CPU kernel family; elsewhere the test says why it cannot apply.
BASE_MACHINE = ("2.14.1+cu130", "AVX512")


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("case", sorted(BASE_HASHES))
def test_builtin_variants_train_bitwise_as_on_the_base_commit(reg, monkeypatch, one_thread,
                                                               case):
    import torch

    here = (torch.__version__, torch.backends.cpu.get_cpu_capability())
    if here != BASE_MACHINE:
        pytest.skip(f"reference hashes are for torch {BASE_MACHINE[0]} on {BASE_MACHINE[1]} "
                    f"kernels; this is {here[0]} on {here[1]}")
    variant, dataset, steps = case
    _, g, d = _train_capturing(reg, _job(reg, variant, dataset, steps), monkeypatch)
    assert (_digest(g), _digest(d)) == BASE_HASHES[case]


# --------------------------------------------------------------- plugin-author errors at load

from conftest import install_plugin, run_cli  # noqa: E402

_HEAD = ("from ganbench import hookimpl\n"
         "from ganbench.specs import Hyperparams, SuiteSpec, VariantSpec\n")
_BAD_PLUGINS = {
    "misspelled hook": ("@hookimpl\ndef ganbench_register_lossess(register):\n    pass\n",
                        "unknown hook 'ganbench_register_lossess'"),
    "wrong hookimpl argument": (
        "@hookimpl\ndef ganbench_register_losses(reg):\n    pass\n", "reg"),
    "dict hparams": (
        "@hookimpl\ndef ganbench_register_variants(register):\n"
        "    register(VariantSpec('v1', 'mlp', 'minimax', 'd', {'lr_g': 1e-3}))\n",
        "registered variant 'v1' whose hparams is a dict"),
    "suite entries None": (
        "@hookimpl\ndef ganbench_register_suites(register):\n"
        "    register(SuiteSpec('s1', None, 'd'))\n",
        "registered suite 's1' whose entries is None"),
    "bad optimizer": (
        "@hookimpl\ndef ganbench_register_variants(register):\n"
        "    register(VariantSpec('v2', 'mlp', 'minimax', 'd', Hyperparams(optimizer='adagrad')))\n",
        "unknown optimizer 'adagrad'"),
    "k zero": (
        "@hookimpl\ndef ganbench_register_variants(register):\n"
        "    register(VariantSpec('v3', 'mlp', 'minimax', 'd', Hyperparams(k=0)))\n",
        "k must be an integer"),
}


@pytest.mark.parametrize("case", sorted(_BAD_PLUGINS))
def test_plugin_author_errors_are_one_line_naming_the_plugin(tmp_path, case):
    body, expected = _BAD_PLUGINS[case]
    site = install_plugin(tmp_path / "site", "author_plugin", _HEAD + body, "author-plugin",
                          "1.0", "authored")
    r = run_cli("list", env={"PYTHONPATH": str(site), "GANBENCH_LOAD_PLUGINS": None})
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and "\\n" not in line and "Traceback" not in line, line
    assert line.startswith("ganbench: error: plugin 'authored'"), line
    assert expected in line, line


def test_list_prints_no_betas_for_rmsprop(tmp_path):
    body = ("@hookimpl\ndef ganbench_register_variants(register):\n"
            "    register(VariantSpec('rms', 'mlp', 'minimax', 'd',"
            " Hyperparams(optimizer='rmsprop', lr_g=5e-5, lr_d=5e-5)))\n")
    site = install_plugin(tmp_path / "site", "rms_plugin", _HEAD + body, "rms-plugin", "1.0",
                          "rms")
    r = run_cli("list", "variants", env={"PYTHONPATH": str(site), "GANBENCH_LOAD_PLUGINS": None})
    assert r.returncode == 0, r.stderr
    (line,) = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("rms ")]
    assert "rmsprop lr 5e-05/5e-05, k 1" in line and "betas" not in line
    assert "betas (0.5, 0.999)" in [ln for ln in r.stdout.splitlines() if "dcgan " in ln][0]


# ----------------------------------------------------------------------- closed-form losses

def test_lsgan_loss_equals_its_closed_form(reg):
    import torch

    real = torch.tensor([2.0, 0.5, -1.0, 0.0])
    fake = torch.tensor([-2.0, 0.25, 1.5, -0.5])
    ls = reg.losses.get("lsgan")
    # LSGAN: ½ mean (r-1)² + ½ mean f²; G: ½ mean (f-1)²
    d_ls = 0.5 * (1 + 0.25 + 4 + 1) / 4 + 0.5 * (4 + 0.0625 + 2.25 + 0.25) / 4
    g_ls = 0.5 * (9 + 0.5625 + 0.25 + 2.25) / 4
    assert ls.d_loss(real, fake).item() == pytest.approx(d_ls, rel=1e-6)
    assert ls.g_loss(fake).item() == pytest.approx(g_ls, rel=1e-6)
