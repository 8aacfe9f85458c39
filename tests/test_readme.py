"""The README's two set-up commands are exactly what CI runs."""

import re
from pathlib import Path

from conftest import REPO


def _bash_blocks(text):
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them():
    readme = Path(REPO, "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = _bash_blocks(setup)
    assert len(blocks) == 2
    install, test = blocks
    assert "ganbench run --all" in install and "constraints.txt" in install
    ci = [line.strip() for line in Path(REPO, ".ci/run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)


def test_constraints_pin_every_dependency():
    pins = {}
    for line in Path(REPO, "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for dep in ("torch", "torchvision", "pluggy", "pandas", "pyarrow", "torch-fidelity",
                "scikit-learn", "pytest", "pytest-benchmark", "hypothesis", "numpy"):
        assert dep in pins, dep


def test_readme_variants_table_is_the_registry_and_hyperparams_defaults(reg):
    """Every row of README's variants table is the registered recipe, and its `Hyperparams()`
    row is the dataclass's defaults: the defaults cannot silently differ from what is shown."""
    from ganbench.api.specs import Hyperparams

    readme = Path(REPO, "README.md").read_text()
    table = readme.split("## Variants", 1)[1].split("\n\n", 2)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    seen = set()
    for name, model, loss, terms, opt, lrs, betas, k, batch, z in rows:
        if name == "`Hyperparams()`":
            h = Hyperparams()
        else:
            v = reg.variants.get(name)
            h = v.hparams
            assert model.split(" ")[0] == v.model and loss == v.loss, name
            opts = ", ".join(f"{a}={b}" for a, b in v.model_options.items())
            assert (f"({opts})" if opts else "") == model[len(v.model):].strip(), name
            want = " ".join([f"reg {r}" for r in v.regularizers]
                            + [f"hook {t}" for t in v.step_hooks])
            assert terms == want, name
            seen.add(name)
        lr_g, lr_d = (float(x) for x in lrs.split(" / "))
        assert (opt, lr_g, lr_d, int(k), int(batch), int(z)) == (
            h.optimizer, h.lr_g, h.lr_d, h.k, h.batch_size, h.z_dim), name
        assert betas == ("—" if h.optimizer == "rmsprop" else str(tuple(h.betas))), name
    assert seen == set(reg.variants.names())
