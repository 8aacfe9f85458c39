"""Facts about where a run happened, recorded in every result row."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional


@functools.lru_cache(maxsize=1)
def torch_version() -> str:
    import torch

    return torch.__version__


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    """The commit of the ganbench source checkout, with '+dirty' when it has changes; '' when
    ganbench is not running from a git checkout."""
    import ganbench

    # src/ganbench/__init__.py -> the checkout: found from the package, not from this module,
    # so that moving this module (as the subpackage layout did) cannot silently break it
    root = Path(ganbench.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}+dirty" if sha and dirty else sha


# ---------------------------------------------------------------- the code that made a run
#
# A run id covers what a run was asked to do (names, budget, hyperparameters), not the code
# that did it. ``code_identity`` records that code beside the run id: a hash of the source text
# of every module that defines the run's model, loss, regularisers, step hooks, variant and
# dataset (followed through the imports of each module's own top-level package, so a plugin's
# helper modules count), and each loaded plugin distribution with its version. Source text,
# never bytecode or paths, so the same code hashes alike on every machine; ganbench's own core
# is recorded by ``ganbench_version`` and ``git_sha`` beside it.

CODE_ID_LEN = 16


def code_identity(job, reg=None) -> dict:
    """``{"id", "sources": {module: sha256[:12] of its source}, "plugins": {dist: version}}``
    of ``job`` under registries ``reg`` (None: this process's). ``id`` hashes the sources: it
    decides whether a finished run is stale (``ganbench.execution.outcomes.stale_reason``); it is empty,
    with ``error``, when they cannot be found (a run never fails for it)."""
    try:
        if reg is None:
            from ganbench.registry import registries

            reg = registries()
        sources = {m: module_hash(m) for m in sorted(run_modules(job, reg))}
        plugins = {p.distribution or p.name: p.version for p in reg.plugins}
    except Exception as exc:  # a recording aid: never the reason a run fails
        return {"id": "", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"id": code_id(sources), "sources": sources, "plugins": dict(sorted(plugins.items()))}


def code_id(sources: dict) -> str:
    import hashlib
    import json

    blob = json.dumps(sorted(sources.items())).encode()
    return hashlib.sha256(blob).hexdigest()[:CODE_ID_LEN]


def run_modules(job, reg) -> set[str]:
    """Modules that define ``job``'s model, loss, regularisers, step hooks, variant and dataset
    (the modules of their functions and of the plugins that registered them), closed over the
    imports each makes within its own top-level package (ganbench's core excepted)."""
    found: set[str] = set()
    wanted = [(reg.models, job.model), (reg.losses, job.loss), (reg.variants, job.variant),
              (reg.datasets, job.dataset)]
    wanted += [(reg.regularizers, t.split(":")[0].strip()) for t in job.regularizers]
    wanted += [(reg.step_hooks, t.split(":")[0].strip()) for t in job.step_hooks]
    if job.variant in reg.variants:  # the variant's own terms, when the job lists none
        v = reg.variants.get(job.variant)
        wanted += [(reg.regularizers, t.split(":")[0].strip()) for t in v.regularizers]
        wanted += [(reg.step_hooks, t.split(":")[0].strip()) for t in v.step_hooks]
    plugin_module = {p.name: p.module.split(":")[0] for p in reg.plugins}
    for registry, name in wanted:
        if name not in registry:
            continue
        spec = registry.get(name)
        found.add(plugin_module.get(registry.owner(name), ""))
        for f in dataclasses.fields(spec):
            found.add(_defining_module(getattr(spec, f.name)) or "")
    found.discard("")
    return _closure({m for m in found if _top(m) != "ganbench"})


def _defining_module(obj) -> Optional[str]:
    if isinstance(obj, functools.partial):
        obj = obj.func
    if not callable(obj) or isinstance(obj, type) and obj.__module__ == "builtins":
        return None
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return module if isinstance(module, str) and module in sys.modules else None


def _top(module: str) -> str:
    return module.split(".")[0]


def _closure(modules: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += _imports(m)
    return seen


def _source(module: str) -> tuple[Optional[str], str]:
    """(the module's source file or None, a key that changes when the file does)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None, ""
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return None, ""
    st = os.stat(origin)
    return origin, f"{module}:{origin}:{st.st_mtime_ns}:{st.st_size}"


@functools.lru_cache(maxsize=1024)
def _read(key: str, path: str, package: str) -> tuple[str, tuple[str, ...]]:
    """sha256[:12] of the file's source text (newlines normalised) and the absolute names of
    the modules (or module attributes) it imports from anywhere in the file."""
    import ast
    import hashlib

    with open(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace").replace("\r\n", "\n")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return digest, ()
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, `level - 1` parents up
                parts = package.split(".")[:max(0, len(package.split(".")) - node.level + 1)]
                base = ".".join(p for p in parts + [base] if p)
            if base:
                names.append(base)
                names += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return digest, tuple(sorted(set(names)))


def _imports(module: str) -> list[str]:
    """Modules of ``module``'s own top-level package that it imports."""
    path, key = _source(module)
    if path is None:
        return []
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    names = _read(key, path, package)[1]
    return [n for n in names if _top(n) == _top(module) and _source(n)[0] is not None]


def module_hash(module: str) -> str:
    """sha256[:12] of ``module``'s source text; ``DIST==VERSION`` of the distribution that
    ships it when it has no readable source (a compiled module)."""
    path, key = _source(module)
    if path is not None:
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        return _read(key, path, package)[0]
    from importlib import metadata

    dists = metadata.packages_distributions().get(_top(module), [])
    return ",".join(f"{d}=={metadata.version(d)}" for d in dists) or "no source"
