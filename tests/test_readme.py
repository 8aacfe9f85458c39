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
