"""The README's two set-up commands are exactly what CI runs; its first look at results is what
the code prints for the committed runs; the variants table of docs/variants.md is the registry.
(The numbers the docs quote from committed tables are recomputed in tests/e2e/test_claims.py; links,
the strict site build and the commands' options are checked in tests/e2e/test_docs.py.)"""

import re
from pathlib import Path

from conftest import REPO


def _bash_blocks(text):
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def _section(text, heading):
    """The body of the Markdown section ``heading`` (up to the next heading of its level)."""
    level = heading.split(" ", 1)[0]
    return text.split(heading + "\n", 1)[1].split(f"\n{level} ", 1)[0]


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


def test_docs_home_gives_the_readmes_two_commands():
    readme = Path(REPO, "README.md").read_text()
    home = Path(REPO, "docs", "index.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert _bash_blocks(_section(home, "## Quick start")) == _bash_blocks(setup)


def test_readme_stays_short():
    """The README is the front page (what it is, set-up, a first look, layout, links); the
    manual is docs/."""
    lines = Path(REPO, "README.md").read_text().splitlines()
    assert 120 <= len(lines) <= 250, len(lines)


def test_constraints_pin_every_dependency():
    pins = {}
    for line in Path(REPO, "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for dep in ("torch", "torchvision", "pluggy", "pandas", "pyarrow", "torch-fidelity",
                "scikit-learn", "pytest", "pytest-benchmark", "hypothesis", "numpy",
                "mkdocs", "mkdocs-material"):
        assert dep in pins, dep


def test_docs_tools_are_in_the_dev_extra():
    """.ci/run's fresh install (`-e ".[dev]"`) brings the site builder tests/e2e/test_docs.py uses."""
    text = Path(REPO, "pyproject.toml").read_text()
    extra = re.search(r"^dev = \[(.*?)\]$", text, re.S | re.M).group(1)
    dev = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower()
           for d in re.findall(r'"([^"]+)"', extra)}
    assert {"mkdocs", "mkdocs-material"} <= dev


def test_readme_first_look_is_the_run_summary_of_the_committed_runs(reg):
    """The leaderboard the README shows is what `ganbench run` prints at the end (at 100
    columns) for ring8 of the committed held-out runs, and its reading (every variant finds all
    8 modes) holds there; the run count it quotes is the quick suite's."""
    from ganbench.analysis import leaderboard
    from ganbench.cli.run import RUN_SUMMARY_NOTE
    from ganbench.store import results
    from ganbench_plugins.suites import quick_entries

    readme = Path(REPO, "README.md").read_text()
    body = _section(readme, "## A first look at results")
    df = results.load(Path(REPO, "results", "quick-heldout.csv"))
    df = df[df.dataset == "ring8"]
    want = (leaderboard.render(df, width=100) + "\n" + RUN_SUMMARY_NOTE).rstrip("\n")
    shown = re.findall(r"```\n(.*?)```", body, re.S)[0].rstrip("\n")
    assert shown == want, "regenerate the README's block:\n" + want
    f = results.final_values(df)
    runs = f[~f.variant.str.startswith("calib-") & (f.metric == "modes_covered")]
    assert len(runs) >= 30 and (runs.value == 8).all()
    assert "All eight modes are found by every variant" in body
    n = sum(len(e.seeds) for e in quick_entries(reg))  # entries x seeds
    assert f"ganbench: {n} run(s) on cpu" in body and f"[6/{n}]" in body


def _md_rows(text):
    """The body rows of the first Markdown table in ``text``, as lists of cell strings."""
    table = re.search(r"^\|.*?(?=\n[^|]|\Z)", text, re.S | re.M).group(0)
    lines = table.splitlines()
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[2:]]


def test_docs_variants_table_is_the_registry_and_hyperparams_defaults(reg):
    """Every row of the variants table (docs/variants.md) is the registered recipe, and its
    `Hyperparams()` row is the dataclass's defaults: the defaults cannot silently differ from
    what is shown. The papers table below it is each variant's registered reference."""
    from ganbench.api.specs import Hyperparams

    page = Path(REPO, "docs", "variants.md").read_text()
    body = _section(page, "## Built-in variants")
    seen = set()
    for name, model, loss, terms, opt, lrs, betas, k, batch, z in _md_rows(body):
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
    papers = dict(_md_rows(_section(body, "### Papers")))
    assert papers == {n: reg.variants.get(n).reference for n in reg.variants.names()}
