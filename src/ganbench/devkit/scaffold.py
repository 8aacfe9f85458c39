"""``ganbench new-plugin NAME``: a pip-installable plugin package to start from.

The package has one loss (non-saturating with one-sided label smoothing, Salimans et al. 2016),
one regulariser (the drift penalty of Karras et al. 2018) and one variant combining them on the
``mlp`` model; tests that use ``ganbench.devkit.testing`` (conformance) and closed forms; a speed test
on ganbench's pytest plugin; and a CI workflow with both gates of the README (speed against a
saved baseline, quality with ``ganbench check`` against a committed table). As generated, it
installs and its tests pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from ganbench.api.errors import UsageError

NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,38}[a-z0-9]")  # fullmatch: no trailing newline

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "ganbench plugin: the $name variant"
requires-python = ">=3.10"
dependencies = ["ganbench"]

[project.optional-dependencies]
dev = ["pytest>=8", "pytest-benchmark>=4"]

# ganbench finds the plugin through this entry point
[project.entry-points.ganbench]
$name = "$module.plugin"

[tool.setuptools]
packages = ["$module"]
'''

PLUGIN = '''\
"""ganbench plugin '$name': one loss, one regulariser and one variant.

* loss ``$name-smooth``: the non-saturating GAN with one-sided label smoothing (Salimans et al.
  2016, section 3.4): D's target for real data is SMOOTH = 0.9 instead of 1, so D's loss is
  -[0.9 log D(x) + 0.1 log(1 - D(x))] - log(1 - D(G(z))); G's is -log D(G(z)).
* regulariser ``$name-drift``: E[D(x)^2] on real data (the drift penalty of Karras et al.
  2018, weight 0.001), which keeps D's outputs from drifting far from 0.
* variant ``$name``: both on the ``mlp`` model with the MLP recipe of the built-in variants.

ganbench loads this module through the entry point in pyproject.toml; ``ganbench list``
shows what it registers and ``ganbench check-plugin $name`` checks it.
"""

from ganbench import hookimpl
from ganbench.api.specs import Hyperparams, LossSpec, RegularizerSpec, VariantSpec

SMOOTH = 0.9


def d_loss(real_out, fake_out):
    import torch.nn.functional as F

    # log D = -softplus(-l) and log(1 - D) = -softplus(l), on D's logits l
    real = SMOOTH * F.softplus(-real_out) + (1 - SMOOTH) * F.softplus(real_out)
    return real.mean() + F.softplus(fake_out).mean()


def g_loss(fake_out):
    import torch.nn.functional as F

    return F.softplus(-fake_out).mean()


def drift_penalty(ctx):
    """E[D(x)^2] on the real batch (ctx: ganbench.training.step.StepContext)."""
    return ctx.real_out.square().mean()


@hookimpl
def ganbench_register_losses(register):
    register(LossSpec("$name-smooth", d_loss=d_loss, g_loss=g_loss,
                      description="non-saturating with one-sided label smoothing (0.9)"))


@hookimpl
def ganbench_register_regularizers(register):
    register(RegularizerSpec("$name-drift", drift_penalty,
                             "drift penalty E[D(x)^2] on real data", weight=0.001,
                             reference="Karras et al. 2018, Progressive Growing of GANs"))


@hookimpl
def ganbench_register_variants(register):
    register(VariantSpec(
        "$name", "mlp", "$name-smooth", "MLP GAN with label smoothing and a drift penalty",
        Hyperparams(optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), k=1,
                    batch_size=128, z_dim=16),
        regularizers=("$name-drift:0.001",),
        reference="Salimans et al. 2016, Improved Techniques for Training GANs"))
'''

TESTS = '''\
"""The plugin's own tests: ganbench's conformance checks and the closed forms."""

import math

import pytest

from ganbench import registry as plugins
from ganbench.devkit.testing import assert_plugin_conforms
from $module import plugin


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """The built-ins and this plugin, whatever else is installed."""
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "$name")
    plugins.reset()
    yield
    plugins.reset()


def test_conforms_to_ganbench():
    # every object the plugin registers is checked, including those you add later (a model,
    # an augmentation...): training steps, determinism, and an exact resume from a checkpoint
    findings = assert_plugin_conforms("$name")
    assert {"losses", "regularizers", "variants"} <= {f.kind for f in findings}


def _softplus(x):
    return math.log1p(math.exp(x))


def test_losses_equal_the_closed_form():
    import torch

    real, fake = [0.0, 2.0, -1.5], [-1.0, 0.5, 3.0]
    s = plugin.SMOOTH
    want_d = (sum(s * _softplus(-r) + (1 - s) * _softplus(r) for r in real) / 3
              + sum(_softplus(f) for f in fake) / 3)
    want_g = sum(_softplus(-f) for f in fake) / 3
    got_d = plugin.d_loss(torch.tensor(real, dtype=torch.float64),
                          torch.tensor(fake, dtype=torch.float64))
    got_g = plugin.g_loss(torch.tensor(fake, dtype=torch.float64))
    assert float(got_d) == pytest.approx(want_d, rel=1e-12)
    assert float(got_g) == pytest.approx(want_g, rel=1e-12)


def test_drift_penalty_is_the_mean_square_of_real_outputs():
    import types

    import torch

    ctx = types.SimpleNamespace(real_out=torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    assert float(plugin.drift_penalty(ctx)) == pytest.approx(14 / 3, rel=1e-12)
'''

SPEED = '''\
"""Speed of the variant's training step, on ganbench's pytest plugin. Compare with a saved
baseline (see README): python -m pytest tests/test_speed.py --benchmark-compare
--benchmark-compare-fail=median:10%"""

import pytest

from ganbench import registry as plugins


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "$name")
    plugins.reset()
    yield
    plugins.reset()


def test_train_step_speed(ganbench_train_step):
    info = ganbench_train_step("$name", "ring8", steps=50, rounds=3)
    assert info["images_per_s"] > 0
'''

WORKFLOW = '''\
# CI for the $name plugin: its tests, a speed gate and a quality gate (ganbench README:
# "Gate my plugin's speed in CI", "Gate my variant's quality in CI").
name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      # GANBENCH_PIP: where ganbench comes from (a git URL or a path), as your lab installs it
      - run: pip install "$${GANBENCH_PIP:-ganbench}" -e ".[dev]"
      - run: python -m pytest tests/test_plugin.py
      # speed: compared with the last saved run on this machine key (.benchmarks/ cached)
      - uses: actions/cache@v4
        with: {path: .benchmarks, key: "bench-$${{ runner.os }}-$${{ github.sha }}",
               restore-keys: "bench-$${{ runner.os }}-"}
      - run: >-
          python -m pytest tests/test_speed.py --ganbench-threads 1 --benchmark-save=ci
          --benchmark-compare --benchmark-compare-fail=median:10%
      # quality: one seed against the committed multi-seed baseline table
      - run: |
          if [ ! -f quality-baseline.csv ]; then echo "no quality-baseline.csv yet: see README"; exit 0; fi
          ganbench run --variant $name --dataset ring8 --seeds 0 --out candidate -q
          ganbench check quality-baseline.csv candidate --alpha 0.01 --margin 5%
'''

README = '''\
# $dist

A ganbench plugin: the `$name` variant (MLP GAN with one-sided label
smoothing and a drift penalty), its loss `$name-smooth` and its regulariser `$name-drift`.
Edit `$module/plugin.py` to make it yours.

```
pip install -e ".[dev]"              # next to an installed ganbench
ganbench list variants               # shows $name
ganbench check-plugin $name          # ganbench's conformance checks
python -m pytest tests/test_plugin.py
ganbench run --variant $name --dataset ring8,grid25
ganbench run --variant $name --dataset ring8 --reg r1:10   # with any other regulariser
```

## CI gates (`.github/workflows/ci.yml`)

- **Speed**: `tests/test_speed.py` times the training step with ganbench's pytest plugin;
  `--benchmark-compare --benchmark-compare-fail=median:10%` fails when it gets 10% slower than
  the last run saved on the same machine key (accelerator, torch and ganbench versions).
- **Quality**: make the baseline once and commit it:

  ```
  ganbench run --variant $name --dataset ring8 --seeds 1-5 --out baseline-runs
  ganbench results baseline-runs --long --csv > quality-baseline.csv
  ```

  CI trains seed 0 and runs `ganbench check quality-baseline.csv candidate`, which exits 1
  when the candidate is significantly worse than the baseline beyond the margin.
'''

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$module/__init__.py": '"""ganbench plugin $name (see plugin.py)."""\n',
    "$module/plugin.py": PLUGIN,
    "tests/test_plugin.py": TESTS,
    "tests/test_speed.py": SPEED,
    ".github/workflows/ci.yml": WORKFLOW,
}


def names(name: str) -> dict[str, str]:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UsageError(f"invalid plugin name {name!r}: use 2-40 lowercase letters, digits and "
                         "dashes, starting with a letter (e.g. my-gan)")
    return {"name": name, "dist": f"ganbench-{name}",
            "module": "ganbench_" + name.replace("-", "_")}


def check_unclaimed(subs: dict[str, str]) -> None:
    """UsageError when the package would clash, once installed, with what is there already:
    its variant, loss or regulariser name registered by a loaded plugin (then every command
    fails on the duplicate), its entry point named like a built-in, or its module name
    importable already."""
    import importlib.util

    from ganbench.registry import registries

    name, reg = subs["name"], registries()
    taken = [f"{kind} '{n}' (plugin '{r.owner(n)}')" for kind, r, n in (
        ("variant", reg.variants, name), ("loss", reg.losses, f"{name}-smooth"),
        ("regulariser", reg.regularizers, f"{name}-drift")) if n in r]
    if name.startswith("builtin-"):
        taken.append("the entry-point names of ganbench's built-ins")
    try:
        if importlib.util.find_spec(subs["module"]) is not None:
            taken.append(f"the module '{subs['module']}', importable already")
    except (ImportError, ValueError):
        pass
    if taken:
        raise UsageError(f"plugin name '{name}' clashes with {'; '.join(taken)}: once "
                         "installed it would break loading ganbench's plugins; choose another "
                         "name")


def new_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the package into ``directory/ganbench-NAME``; returns its path. Refuses (before
    writing anything) a bad or clashing name, a directory that cannot be written, and an
    existing path; the files are written into a temporary folder renamed into place, so a
    failure (a full disk) leaves nothing half-written."""
    import shutil
    import tempfile

    from ganbench.store.results import check_writable

    subs = names(name)
    check_unclaimed(subs)
    if not str(directory).strip():
        raise UsageError("--dir is empty; give the folder to create the package in")
    if Path(directory).exists() and not Path(directory).is_dir():
        raise UsageError(f"--dir '{directory}' is not a directory")
    root = Path(directory) / subs["dist"]
    if root.exists() or root.is_symlink():
        raise UsageError(f"'{root}' exists already; choose another name or --dir")
    check_writable(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{subs['dist']}.", dir=directory))
    try:
        for rel, text in FILES.items():
            path = tmp / Template(rel).substitute(subs)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(text).substitute(subs))
        tmp.chmod(0o777 & ~_umask())
        tmp.rename(root)
    except OSError as exc:
        raise UsageError(f"cannot write the plugin package into '{directory}': "
                         f"{exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
