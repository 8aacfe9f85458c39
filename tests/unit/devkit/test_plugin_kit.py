"""The plugin kit: ``ganbench new-plugin`` writes a package that installs and whose tests pass;
``ganbench check-plugin`` / ``ganbench.devkit.testing`` find what a broken plugin gets wrong."""

import os
import subprocess
import sys

import pytest

from conftest import install_plugin, run_cli


def test_new_plugin_installs_and_its_tests_pass(tmp_path):
    r = run_cli("new-plugin", "lab-gan", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    root = tmp_path / "ganbench-lab-gan"
    for rel in ("pyproject.toml", "README.md", "ganbench_lab_gan/plugin.py",
                "tests/test_plugin.py", "tests/test_speed.py", ".github/workflows/ci.yml"):
        assert (root / rel).is_file(), rel
    workflow = (root / ".github/workflows/ci.yml").read_text()
    assert "--benchmark-compare-fail" in workflow and "ganbench check" in workflow
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--no-build-isolation", "--target", str(site), str(root)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(site), "GANBENCH_LOAD_PLUGINS": "lab-gan"}
    r = run_cli("list", "variants", env=env)
    assert r.returncode == 0 and "lab-gan" in r.stdout, r.stdout + r.stderr
    r = run_cli("check-plugin", "lab-gan", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("\nok ") == 3  # its loss, regulariser and variant
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests"], cwd=root, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"})
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "4 passed" in tests.stdout


@pytest.mark.parametrize("name", ["Bad", "x", "9lead", "has_underscore", "trailing-", "a" * 50])
def test_new_plugin_refuses_bad_names(tmp_path, name):
    r = run_cli("new-plugin", name, "--dir", str(tmp_path))
    assert r.returncode == 2 and "invalid plugin name" in r.stderr
    assert not any(tmp_path.iterdir())


def test_new_plugin_never_overwrites(tmp_path):
    (tmp_path / "ganbench-mine").mkdir()
    (tmp_path / "ganbench-mine" / "keep.txt").write_text("mine")
    r = run_cli("new-plugin", "mine", "--dir", str(tmp_path))
    assert r.returncode == 2 and "exists" in r.stderr
    assert sorted(p.name for p in (tmp_path / "ganbench-mine").iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("name, said", [
    ("abc\n", "invalid plugin name 'abc\\n'"),  # a newline would end up in pyproject.toml
    ("a\nb", "invalid plugin name 'a\\nb'"),
    ("dcgan", "clashes with variant 'dcgan' (plugin 'builtin-variants')"),
    ("hinge", "clashes with variant 'hinge'"),
    ("plugins", "clashes with the module 'ganbench_plugins'"),
    ("builtin-losses", "clashes with the entry-point names of ganbench's built-ins"),
])
def test_new_plugin_refuses_names_that_would_break_ganbench(tmp_path, capsys, name, said):
    from ganbench import cli

    assert cli.main(["new-plugin", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("where, said", [
    ("file", "is not a directory"), ("/dev/null", "is not a directory"),
    ("", "--dir is empty"), ("/proc/ganbench-no", "cannot write"),
])
def test_new_plugin_refuses_a_dir_it_cannot_write(tmp_path, capsys, where, said):
    from ganbench import cli

    if where == "file":
        where = str(tmp_path / "file")
        (tmp_path / "file").write_text("keep")
    assert cli.main(["new-plugin", "fine-name", "--dir", where]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert [p.name for p in tmp_path.iterdir()] in ([], ["file"])


def test_new_plugin_disk_full_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    from ganbench import cli

    real, calls = Path.write_text, []

    def full(self, *a, **k):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    assert cli.main(["new-plugin", "fine-name", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


BROKEN = '''
from ganbench import hookimpl
from ganbench.api.specs import LossSpec, ModelSpec, VariantSpec


def build(data, z_dim, **options):
    import torch

    class G(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(z_dim, data.dim)

        def forward(self, z):
            return self.l(z).view(-1, *data.shape)

    class D(torch.nn.Module):  # wrong: two outputs per sample
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(data.dim, 2)

        def forward(self, x):
            return self.l(x.flatten(1))

    return G(), D()


@hookimpl
def ganbench_register_models(register):
    register(ModelSpec("broken-model", build, "D returns two outputs"))


@hookimpl
def ganbench_register_losses(register):
    register(LossSpec("nan-loss", d_loss=lambda r, f: (r * float("nan")).mean(),
                      g_loss=lambda f: f.mean(), description="D loss is NaN"))


@hookimpl
def ganbench_register_variants(register):
    register(VariantSpec("nan-variant", "mlp", "nan-loss", "trains to NaN"))
'''


def test_check_plugin_reports_each_broken_object(tmp_path):
    site = install_plugin(tmp_path / "site", "broken_plugin", BROKEN, "broken-dist", "0.1",
                          "broken")
    env = {"PYTHONPATH": str(site), "GANBENCH_LOAD_PLUGINS": "broken"}
    r = run_cli("check-plugin", "broken-dist", env=env)  # by distribution name too
    assert r.returncode == 1, r.stdout + r.stderr
    lines = {ln.split()[2]: ln for ln in r.stdout.splitlines()[1:]}
    assert lines["broken-model"].startswith("FAIL") and "expected (4,)" in lines["broken-model"]
    assert lines["nan-loss"].startswith("FAIL") and "non-finite" in lines["nan-loss"]
    assert lines["nan-variant"].startswith("FAIL")
    assert "3 of 3 check(s) failed" in r.stderr


def test_check_plugin_unknown_name_is_one_line_exit_2():
    r = run_cli("check-plugin", "no-such-plugin")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no loaded plugin named 'no-such-plugin'" in r.stderr


def test_builtin_plugins_conform(reg):
    from ganbench.devkit import testing

    for name in ("builtin-models", "builtin-losses", "builtin-datasets"):
        findings = testing.check_plugin(name, reg)
        assert findings and all(f.ok for f in findings), testing.format_findings(findings)


def test_misspelled_hook_names_the_way_out(tmp_path, monkeypatch):
    """A plugin that does not load stops every command: its error says how to skip it."""
    from ganbench import registry as plugins
    from ganbench.api.errors import PluginError

    site = install_plugin(tmp_path / "site", "typo_plugin", "from ganbench import hookimpl\n"
                          "@hookimpl\ndef ganbench_register_lossess(register):\n    pass\n",
                          "typo-plugin", "1.0", "typo")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "typo")
    with pytest.raises(PluginError, match="unknown hook 'ganbench_register_lossess'.*skip it: "
                       "GANBENCH_DISABLE_PLUGINS=typo"):
        plugins.load()
    monkeypatch.setenv("GANBENCH_DISABLE_PLUGINS", "typo")  # the way out works
    assert "typo" not in {p.name for p in plugins.load().plugins}


def test_new_plugin_test_still_passes_when_the_author_adds_a_model(tmp_path, monkeypatch):
    """The generated conformance test checks what the plugin registers, whatever it is: adding
    a model (checked too) does not make it fail."""
    import importlib.util

    from ganbench import registry as plugins
    from ganbench.devkit.scaffold import new_plugin

    root = new_plugin("lab-gan", tmp_path)
    plugin = root / "ganbench_lab_gan" / "plugin.py"
    plugin.write_text(plugin.read_text() + (
        "\nfrom ganbench.api.specs import ModelSpec\n\n\n"
        "def build(spec, z_dim):\n"
        "    import torch.nn as nn\n"
        "    g = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, spec.dim))\n"
        "    d = nn.Sequential(nn.Linear(spec.dim, 32), nn.ReLU(), nn.Linear(32, 1),\n"
        "                      nn.Flatten(0))\n"
        "    return g, d\n\n\n"
        "@hookimpl\n"
        "def ganbench_register_models(register):\n"
        "    register(ModelSpec('lab-gan-mlp', build, 'a small MLP',\n"
        "                       supports=lambda s: None if s.kind == 'points' else 'points'))\n"))
    info = root / "ganbench_lab_gan-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganbench-lab-gan\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[ganbench]\nlab-gan = ganbench_lab_gan.plugin\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "lab-gan")
    plugins.reset()
    spec = importlib.util.spec_from_file_location("generated_tests", root / "tests" /
                                                  "test_plugin.py")
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    tests.test_conforms_to_ganbench()  # as pytest would call it (the fixture set the env)
    from ganbench.devkit import testing

    kinds = {f.kind for f in testing.check_plugin("lab-gan", plugins.registries())}
    assert "models" in kinds
