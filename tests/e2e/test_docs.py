"""The documentation: the site builds with `mkdocs build --strict` (a broken link, anchor or nav
entry fails), every relative link of README.md and docs/ resolves, docs/commands.md names every
option of every command's --help, and every source path and ganbench module the pages name
exists."""

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO

ROOT = Path(REPO)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _text(path):
    """The page without its code blocks and code spans (links are not parsed there)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading):
    """A heading's anchor as mkdocs' toc extension makes it (and GitHub, for plain words)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)}


def test_slug_is_mkdocs_toc():
    assert slug("CI quality baseline (`quick-baseline.csv`)") == "ci-quality-baseline-quick-baselinecsv"
    assert slug("Gate my variant's quality in CI") == "gate-my-variants-quality-in-ci"
    assert slug("Beyond logits: the step context") == "beyond-logits-the-step-context"


def test_every_relative_link_resolves():
    bad = []
    for page in PAGES:
        for target in LINK.findall(_text(page)):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file) if file else page
            if not dest.exists():
                bad.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not bad, "\n".join(bad)


def test_a_broken_link_is_found(tmp_path):
    """The link check can fail: a missing file and a missing heading are both caught."""
    page = tmp_path / "p.md"
    page.write_text("# Title\n\n[a](nope.md) [b](#title) [c](#nope) `[d](code.md)`\n")
    found = [t for t in LINK.findall(_text(page))]
    assert found == ["nope.md", "#title", "#nope"]
    assert "title" in anchors(page) and "nope" not in anchors(page)


def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip('mkdocs / mkdocs-material are not installed (pip install -e ".[dev]")')
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                        "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    site = tmp_path / "site"
    for page in ("index.html", "commands/index.html", "architecture/index.html",
                 "results/index.html", "results/metric-ladders/index.html"):
        assert (site / page).stat().st_size > 1000, page
    # every docs page is in the site (the nav names them all; strict fails on one it lacks)
    for md in (ROOT / "docs").glob("*.md"):
        name = "index.html" if md.stem == "index" else f"{md.stem}/index.html"
        assert (site / name).exists(), md.name


def _help(capsys, *argv):
    from ganbench.cli import main

    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def _sections(text):
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_commands_page_has_every_command_and_option(capsys):
    """Each command of `ganbench --help` has a section in docs/commands.md naming every option
    its --help lists (sweep takes every option of run as well)."""
    page = (ROOT / "docs" / "commands.md").read_text()
    sections = _sections(page)
    usage = _help(capsys)
    commands = re.findall(r"^    ([a-z][\w-]*)\s", usage, re.M)
    assert {"run", "sweep", "results", "check", "report"} <= set(commands)
    missing = []
    for cmd in commands:
        mine = [body for head, body in sections.items() if cmd in re.findall(r"[\w-]+", head)]
        if not mine:
            missing.append(f"{cmd}: no section")
            continue
        text = "".join(mine) + (sections["run"] if cmd == "sweep" else "")
        synopsis = _help(capsys, cmd).split("\n\n", 1)[0]  # the usage lines: every option
        for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", synopsis))):
            if opt != "--help" and not re.search(rf"{re.escape(opt)}(?![\w-])", text):
                missing.append(f"{cmd}: {opt}")
    assert not missing, "\n".join(missing)


ELSEWHERE = {"tests/test_speed.py"}  # docs/gates.md: the speed test in a plugin's repository


def _module_file(parts):
    base = ROOT / "src" / Path(*parts)
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.exists():
            return f
    return None


def test_every_named_path_and_module_exists():
    """Source paths (src/...) and dotted names (ganbench.x.y, ganbench_plugins.x) in README.md
    and docs/ exist: a module file, and a name it defines."""
    bad = []
    for page in PAGES:
        text = page.read_text()
        for path in set(re.findall(r"(?<![\w/])((?:src|tests|benchmarks|results)/[\w./-]*\w)", text)):
            if path.startswith("results/") and (not re.search(r"\.\w+$", path)
                                                or not (ROOT / "/".join(path.split("/")[:2])).is_dir()
                                                and path.count("/") > 1):
                continue  # results/runs, results/report: what commands write, not files here
            if re.search(r"(^|/)[A-Z][A-Z_]*(\.|/|$)", path) or path in ELSEWHERE:
                continue  # a placeholder (RUN_ID, KEY, D.json) or a plugin repository's file
            if not (ROOT / path).exists():
                bad.append(f"{page.name}: {path}")
        for dotted in set(re.findall(r"\b(ganbench(?:_plugins)?(?:\.\w+)+)", text)):
            parts = dotted.split(".")
            k = max((i for i in range(1, len(parts) + 1) if _module_file(parts[:i])), default=0)
            if k == 0:
                bad.append(f"{page.name}: {dotted}")
                continue
            source = _module_file(parts[:k]).read_text()
            for name in parts[k:k + 1]:
                if not re.search(rf"^\s*(?:def|class)\s+{name}\b|^{name}\s*[:=]"
                                 rf"|^from \S+ import .*\b{name}\b", source, re.M):
                    bad.append(f"{page.name}: {dotted} ({name} not in {'.'.join(parts[:k])})")
    assert not bad, "\n".join(bad)


def test_readme_layout_names_existing_modules():
    """Every module file and folder the README's layout block names exists (under src/, or at
    the repository root): the layout changed once already."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Layout\n.*?```\n(.*?)```", readme, re.S).group(1)
    files = {p.name for p in (ROOT / "src").rglob("*.py")}
    folders = {p.name for p in (ROOT / "src").rglob("*") if p.is_dir()}
    folders |= {p.name for p in ROOT.iterdir() if p.is_dir()}
    bad = [f for f in re.findall(r"\b(\w+\.py)\b", block) if f not in files]
    bad += [d for d in re.findall(r"(?<![\w/.])([\w.]+)/(?=[\s,)]|$)", block, re.M)
            if d.split("/")[-1] not in folders]
    assert not bad, bad
    for sub in ("api", "planning", "training", "data", "evaluation", "store", "execution",
                "analysis", "cli", "devkit"):  # every subpackage of the core is shown
        assert (ROOT / "src" / "ganbench" / sub / "__init__.py").exists()
        assert re.search(rf"^\s+{sub}/", block, re.M), sub
