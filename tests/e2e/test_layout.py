"""The architecture, checked from the source: the import graph of every module of ``ganbench``
and ``ganbench_plugins`` (imports at any depth: module level, inside functions, under
``if TYPE_CHECKING``) has no cycle, respects a declared layer order, nothing below the command
line imports it, no module imports another's private name, and the command line's parser loads
no torch.

An import of ``a.b.c`` (``import a.b.c``, ``from a.b import c``, ``from a.b.c import x``) is an
edge to the module ``a.b.c``; a package's ``__init__`` is a module like any other (importing a
submodule also runs its parents' ``__init__``, which are deliberately not edges, as in
import-linter: a package may import its own submodules).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SRC = Path(REPO) / "src"
PACKAGES = ("ganbench", "ganbench_plugins")

# Lowest first. A module may import modules of its own layer or of layers below, never above.
# A name is a module or a package (its modules); the longest matching name decides.
LAYERS: list[tuple[str, ...]] = [
    ("ganbench", "ganbench.api"),  # ganbench/__init__: hookimpl and the version, nothing else
    ("ganbench.data", "ganbench.planning"),
    ("ganbench.registry",),  # checks registered objects with planning's parsers
    ("ganbench.training", "ganbench.evaluation", "ganbench.store",
     "ganbench.analysis.stats"),  # stats: pure maths, no ganbench import; store's summaries use it
    ("ganbench.analysis",),
    ("ganbench.execution",),  # the driver: runs plans, then calibrates and points at the report
    ("ganbench.devkit",),
    ("ganbench_plugins",),  # the built-in plugins, loaded by name by the registry
    ("ganbench.cli", "ganbench.__main__"),
]
CLI = "ganbench.cli"
TOP = ("ganbench.cli", "ganbench.__main__")  # the command line and its entry point


def module_files() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (SRC / pkg).rglob("*.py"):
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: dict) -> str | None:
    """The module an import of ``name`` runs last: ``name`` itself, else its nearest parent."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, mods: dict) -> tuple[set[str], list[tuple[str, str]]]:
    """The modules ``module`` imports (anywhere in its source) and the private names it takes
    from other modules, as (module, name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    private: list[tuple[str, str]] = []
    aliases: dict[str, str] = {}  # local name -> imported module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                target = _resolve(a.name, mods)
                if target:
                    out.add(target)
                    if a.asname:
                        aliases[a.asname] = target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level - 1
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            if _resolve(base, mods) is None:
                continue  # not ours
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in mods:  # a submodule
                    out.add(sub)
                    aliases[a.asname or a.name] = sub
                    continue
                out.add(_resolve(base, mods))
                if a.name.startswith("_") and not a.name.startswith("__"):
                    private.append((_resolve(base, mods), a.name))
    for node in ast.walk(tree):  # alias._name, where alias is one of our modules
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            private.append((aliases[node.value.id], node.attr))
    out.discard(module)
    return out, [(m, n) for m, n in private if m != module]


def import_graph():
    mods = module_files()
    graph, private = {}, {}
    for module, path in mods.items():
        graph[module], private[module] = imports_of(module, path, mods)
    return graph, private


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def layer_of(module: str) -> int:
    best, length = None, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > length:
                best, length = i, len(name)
    assert best is not None, f"{module} is in no declared layer: add it to LAYERS"
    return best


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_every_module_and_imports_inside_functions(graph):
    g, _ = graph
    assert len(g) >= 80 and "ganbench.cli.run" in g and "ganbench_plugins.losses" in g
    # imported only inside a function (for a fast --help), and under `if TYPE_CHECKING`
    assert "ganbench.execution.launch" in g["ganbench.cli.run"]
    assert "ganbench.api.specs" in g["ganbench.api.evalspec"]


def test_no_import_cycle(graph):
    cycle = find_cycle(graph[0])
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_nothing_below_the_command_line_imports_it(graph):
    bad = sorted(f"{m} -> {t}" for m, ts in graph[0].items() for t in ts
                 if (t == CLI or t.startswith(CLI + ".")) and not m.startswith(TOP))
    assert not bad, "imports of the command line from below it:\n" + "\n".join(bad)


def test_layer_order(graph):
    bad = sorted(f"{m} (layer {layer_of(m)}) -> {t} (layer {layer_of(t)})"
                 for m, ts in graph[0].items() for t in ts if layer_of(t) > layer_of(m))
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_no_private_name_is_imported_across_modules(graph):
    bad = sorted(f"{m} takes {t}.{n}" for m, pairs in graph[1].items() for t, n in pairs)
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_the_checks_catch_what_they_claim(tmp_path):
    """The graph builder and the cycle finder on a toy package: a cycle through an import
    inside a function and a TYPE_CHECKING block, a private name, a relative import."""
    pkg = tmp_path / "toy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from toy.b import g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .c import _h\n")
    (pkg / "c.py").write_text("import toy.a as a\nx = a._f\n")
    mods = {f"toy.{n}": pkg / f"{n}.py" for n in "abc"} | {"toy": pkg / "__init__.py"}
    g = {m: imports_of(m, p, mods)[0] for m, p in mods.items()}
    assert g["toy.a"] == {"toy.b"} and g["toy.b"] == {"toy.c"} and g["toy.c"] == {"toy.a"}
    assert find_cycle(g) == ["toy.a", "toy.b", "toy.c", "toy.a"]
    assert imports_of("toy.b", mods["toy.b"], mods)[1] == [("toy.c", "_h")]
    assert imports_of("toy.c", mods["toy.c"], mods)[1] == [("toy.a", "_f")]
    del g["toy.c"]
    assert find_cycle(g) is None


def test_the_command_line_parser_loads_no_torch():
    """``import ganbench.cli`` and building the parser of every command, the plugins'
    included (what ``ganbench --help`` does), in a fresh interpreter: torch is not loaded."""
    code = ("import sys\nimport ganbench.cli\nfrom ganbench.registry import registries\n"
            "ganbench.cli.build_parser(registries().commands).format_help()\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'pandas', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_registry_kinds_are_one_list():
    """``api.specs.REGISTRY_TYPES`` is the one list of registry kinds: the registries' fields,
    the registration hooks and ``ganbench list``'s kinds follow it."""
    import dataclasses

    from ganbench.api import hookspecs
    from ganbench.api.specs import REGISTRY_TYPES
    from ganbench.cli.plugins import KINDS
    from ganbench.registry import Registries

    fields = [f.name for f in dataclasses.fields(Registries) if f.type in ("Registry",)]
    assert fields == list(REGISTRY_TYPES) and sorted(KINDS) == sorted(REGISTRY_TYPES)
    hooks = {n for n in dir(hookspecs) if n.startswith("ganbench_register_")}
    assert hooks == {f"ganbench_register_{k}" for k in REGISTRY_TYPES} | {
        "ganbench_register_commands"}
