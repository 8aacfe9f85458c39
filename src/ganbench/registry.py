"""Plugin discovery and the registries.

Plugins are modules named by entry points in the ``ganbench`` group. The built-ins (the
top-level ``plugins/`` folder, imported as ``ganbench_plugins``) are declared by ganbench's own
distribution in the same group, so they load exactly as third-party plugins do.

Environment controls:

* ``GANBENCH_LOAD_PLUGINS`` unset: load every installed plugin; empty: built-ins only; a comma
  list: the built-ins plus the named entry points (or distributions); a name that is not
  installed is an error (PluginError, one line), not silently skipped.
* ``GANBENCH_DISABLE_PLUGINS``: a comma list of entry-point or distribution names not to load
  (built-ins included).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any, Callable, Iterator, NamedTuple, Optional

import pluggy

from ganbench.api import hookspecs
from ganbench.api.errors import PluginError, unknown
from ganbench.api.specs import NAME_RE, REGISTRY_TYPES

GROUP = "ganbench"
DIST_NAME = "ganbench"
BUILTIN_MODULES = (
    "ganbench_plugins.losses",
    "ganbench_plugins.models",
    "ganbench_plugins.variants",
    "ganbench_plugins.datasets",
    "ganbench_plugins.image_datasets",
    "ganbench_plugins.metrics",
    "ganbench_plugins.suites",
    "ganbench_plugins.fidelity",
    "ganbench_plugins.memory",
    "ganbench_plugins.executors",
    "ganbench_plugins.spaces",
)


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)


class Registry:
    """Name → spec, remembering which plugin registered each name."""

    def __init__(self, kind: str, spec_type: type):
        self.kind = kind
        self.spec_type = spec_type
        self._items: dict[str, Any] = {}
        self._owner: dict[str, str] = {}

    @property
    def singular(self) -> str:
        return {"losses": "loss", "latent_samplers": "latent sampler",
                "augmentations": "augmentation"}.get(self.kind, self.kind.rstrip("s"))

    def add(self, obj: Any, plugin: str) -> None:
        singular = self.singular
        if not isinstance(obj, self.spec_type):
            raise PluginError(
                f"plugin '{plugin}' registered a {type(obj).__name__} as a {singular}; "
                f"expected ganbench.api.specs.{self.spec_type.__name__}"
            )
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(
                f"plugin '{plugin}' registered a {singular} with an invalid name {name!r} "
                "(use lowercase letters, digits, '-', '_' and '.')"
            )
        for f in dataclasses.fields(obj):
            optional = f.name in ("d_loss", "g_loss", "d_objective", "g_objective", "state")
            if f.name in ("build", "load", "compute", "penalty") or optional:
                if optional and getattr(obj, f.name) is None:
                    continue
                if not callable(getattr(obj, f.name)):
                    raise PluginError(
                        f"plugin '{plugin}' registered {singular} '{name}' whose "
                        f"'{f.name}' is not callable"
                    )
        problem = _spec_problem(obj)
        if problem:
            raise PluginError(f"plugin '{plugin}' registered {singular} '{name}' whose {problem}")
        if name in self._items:
            raise PluginError(
                f"{singular} '{name}' is registered twice: by plugin '{self._owner[name]}' "
                f"and by plugin '{plugin}'"
            )
        self._items[name] = obj
        self._owner[name] = plugin

    def get(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            singular = self.singular
            raise unknown(singular, name, self._items) from None

    def owner(self, name: str) -> str:
        return self._owner[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._items)


_WARNED: set = set()  # GANBENCH_DISABLE_PLUGINS names already warned about

def _spec_problem(obj: Any) -> Optional[str]:
    """What is wrong with a spec's fields beyond its name and callables (None: nothing)."""
    import math

    from collections.abc import Mapping

    from ganbench.api.specs import (OUTPUT_KINDS, Hyperparams, LossSpec, MetricSpec,
                                RegularizerSpec, SearchSpaceSpec, StepHookSpec, SuiteSpec,
                                VariantSpec)

    if isinstance(obj, VariantSpec):
        if not isinstance(obj.hparams, Hyperparams):
            return (f"hparams is a {type(obj.hparams).__name__}; expected "
                    "ganbench.api.specs.Hyperparams(...)")
        from ganbench.api.errors import UsageError
        from ganbench.planning.plan import check_hparams

        try:
            check_hparams(obj.hparams, "hparams")
        except UsageError as exc:
            return str(exc)
        for name in ("regularizers", "step_hooks"):
            v = getattr(obj, name)
            if not isinstance(v, (tuple, list)) or not all(isinstance(x, str) for x in v):
                return f"{name} is {v!r}; expected a tuple of strings such as ('gp:10',)"
        if obj.g_ema is not None and not (isinstance(obj.g_ema, (int, float))
                                          and 0 < obj.g_ema < 1):
            return f"g_ema is {obj.g_ema!r}; expected None or a decay in (0, 1)"
    if isinstance(obj, LossSpec):
        for net in ("d", "g"):
            if getattr(obj, f"{net}_loss") is None and getattr(obj, f"{net}_objective") is None:
                return f"{net}_loss and {net}_objective are both missing (give one)"
        if obj.output not in OUTPUT_KINDS:
            return f"output is {obj.output!r}; expected one of {', '.join(OUTPUT_KINDS)}"
    if isinstance(obj, RegularizerSpec):
        if obj.phase not in ("d", "g"):
            return f"phase is {obj.phase!r}; expected 'd' or 'g'"
        if not isinstance(obj.every, int) or isinstance(obj.every, bool) or obj.every < 1:
            return f"every is {obj.every!r}; expected an integer >= 1"
        if not isinstance(obj.weight, (int, float)) or not math.isfinite(obj.weight) \
                or obj.weight < 0:
            return f"weight is {obj.weight!r}; expected a finite number >= 0"
    if isinstance(obj, MetricSpec):
        d = obj.directions
        if not isinstance(d, Mapping) or not all(
                isinstance(k, str) and (v is None or isinstance(v, bool)) for k, v in d.items()):
            return (f"directions is {d!r}; expected a mapping of value name -> True (higher is "
                    "better), False or None")
    if isinstance(obj, StepHookSpec) and obj.after not in ("d", "g"):
        return f"after is {obj.after!r}; expected 'd' or 'g'"
    if isinstance(obj, SearchSpaceSpec):
        from ganbench.planning.space import space_problem

        return space_problem(obj)
    if isinstance(obj, SuiteSpec) and not callable(obj.entries):
        if isinstance(obj.entries, (str, bytes)) or not hasattr(obj.entries, "__iter__"):
            return (f"entries is {obj.entries!r}; expected a sequence of SuiteEntry or a "
                    "function of the registries returning one")
    return None


@dataclass
class Registries:
    models: Registry
    losses: Registry
    regularizers: Registry
    step_hooks: Registry
    variants: Registry
    datasets: Registry
    metrics: Registry
    suites: Registry
    executors: Registry
    search_spaces: Registry
    augmentations: Registry
    latent_samplers: Registry
    plugins: list[PluginInfo]
    commands: dict[str, "Command"]
    pm: pluggy.PluginManager

    def validate(self) -> None:
        """Cross-checks: every variant names a registered model and loss, and its regularisers
        and step hooks parse and name registered ones."""
        from ganbench.api.errors import UsageError
        from ganbench.planning.terms import parse_augment, parse_hook, parse_latent, parse_reg

        for v in self.variants:
            owner = self.variants.owner(v.name)
            if v.model not in self.models:
                raise PluginError(
                    f"plugin '{owner}': variant '{v.name}' names unknown model '{v.model}'"
                )
            if v.loss not in self.losses:
                raise PluginError(
                    f"plugin '{owner}': variant '{v.name}' names unknown loss '{v.loss}'"
                )
            try:
                for text in v.regularizers:
                    parse_reg(self, text)
                for text in v.step_hooks:
                    parse_hook(self, text)
                if v.augment:
                    parse_augment(self, v.augment)
                if v.latent:
                    parse_latent(self, v.latent)
            except UsageError as exc:
                raise PluginError(f"plugin '{owner}': variant '{v.name}': {exc}") from None


def _env_list(name: str) -> Optional[set[str]]:
    value = os.environ.get(name)
    if value is None:
        return None
    return {p.strip() for p in value.split(",") if p.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=GROUP)
    seen: dict[tuple[str, str], metadata.EntryPoint] = {}
    for ep in eps:  # the same distribution can be visible twice on sys.path
        seen.setdefault((ep.name, ep.value), ep)
    return list(seen.values())


def _norm(dist: str) -> str:
    """A distribution name as pip compares them (PEP 503: case and runs of -_. aside)."""
    import re

    return re.sub(r"[-_.]+", "-", dist).lower()


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "", ""
    return dist.metadata["Name"] or "", dist.version or ""


def load(*, use_env: bool = True) -> Registries:
    """Discover plugins, call their hooks and return validated registries."""
    from ganbench import __version__

    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    wanted = _env_list("GANBENCH_LOAD_PLUGINS") if use_env else None
    disabled = (_env_list("GANBENCH_DISABLE_PLUGINS") or set()) if use_env else set()

    infos: list[PluginInfo] = []
    found_builtin = False
    named: set[str] = set()  # what GANBENCH_LOAD_PLUGINS may name: entry points, distributions
    third_party: set[str] = set()
    for ep in sorted(_entry_points(), key=lambda e: e.name):
        dist_name, version = _dist_of(ep)
        named |= {ep.name, _norm(dist_name)}
        builtin = dist_name.lower() == DIST_NAME or ep.value in BUILTIN_MODULES
        if not builtin:
            third_party |= {ep.name, dist_name}
        found_builtin |= builtin
        if ep.name in disabled or dist_name in disabled:
            continue
        if not builtin and wanted is not None and not (
                ep.name in wanted or _norm(dist_name) in {_norm(w) for w in wanted}):
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin '{ep.name}' ({ep.value}) failed to import: {exc}"
                              f"{_way_out(ep.name)}") from exc
        infos.append(_register(pm, module, ep.name, ep.value, dist_name, version, builtin))

    missing = sorted(w for w in wanted or () if w not in named and _norm(w) not in named)
    if missing:
        installed = ", ".join(sorted(n for n in third_party if n)) or "none besides the built-ins"
        raise PluginError(
            f"GANBENCH_LOAD_PLUGINS names {', '.join(map(repr, missing))}: no installed plugin "
            f"has that entry-point or distribution name (installed: {installed}); install it "
            "or leave it out of the variable")

    stray = sorted(d for d in disabled if d not in named and _norm(d) not in named
                     and d not in {"builtin-" + m.rsplit(".", 1)[1] for m in BUILTIN_MODULES})
    if stray and tuple(stray) not in _WARNED:  # harmless, but a typo would disable nothing
        _WARNED.add(tuple(stray))
        print(f"ganbench: warning: GANBENCH_DISABLE_PLUGINS names {', '.join(map(repr, stray))}:"
              " no installed plugin has that entry-point or distribution name, so it disables "
              "nothing", file=sys.stderr)

    if not found_builtin:  # running from a source tree that was never installed
        for modname in BUILTIN_MODULES:
            name = "builtin-" + modname.rsplit(".", 1)[1]
            if name in disabled:
                continue
            module = import_module(modname)
            infos.append(_register(pm, module, name, modname, DIST_NAME, __version__, True))

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or "?"
        raise PluginError(f"plugin '{name}': {_one_line(exc)}{_way_out(name)}") from exc

    regs = {kind: Registry(kind, t) for kind, t in REGISTRY_TYPES.items()}
    commands: dict[str, Command] = {}
    for kind, registry in regs.items():
        _call_hook(pm, f"ganbench_register_{kind}", lambda plugin, obj, r=registry: r.add(obj, plugin))

    def add(plugin: str, *args, **kwargs) -> None:
        add_command(commands, plugin, *args, **kwargs)

    _call_hook(pm, "ganbench_register_commands", add)
    registries = Registries(plugins=infos, commands=commands, pm=pm, **regs)
    registries.validate()
    return registries


class Command(NamedTuple):
    """A sub-command of ``ganbench``, as ``ganbench_register_commands`` registers it (the
    built-in commands of ``ganbench.cli`` register the same way)."""

    help: str
    configure: Callable  # configure(parser): adds the command's arguments
    handler: Callable  # handler(args) -> exit code
    plugin: str
    parser_options: dict  # argparse add_parser keywords: description, epilog, formatter_class


def add_command(commands: dict[str, Command], plugin: str, name: str, help: str,
                configure: Callable, handler: Callable, **parser_options) -> None:
    """``register(name, help, configure, handler, **parser_options)`` of the command hook:
    add a command to ``commands``; a name registered twice is a PluginError."""
    if name in commands:
        raise PluginError(
            f"command '{name}' is registered twice: by plugin '{commands[name].plugin}' "
            f"and by plugin '{plugin}'"
        )
    commands[name] = Command(help, configure, handler, plugin, parser_options)


def _register(pm, module, name, value, dist, version, builtin) -> PluginInfo:
    try:
        pm.register(module, name=name)
    except ValueError as exc:
        raise PluginError(f"plugin '{name}' ({value}) could not be registered: {exc}") from exc
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin '{name}' ({value}): {_one_line(exc)}{_way_out(name)}") \
            from exc
    hooks = sorted(h.name for h in pm.get_hookcallers(module) or [])
    return PluginInfo(name, value, dist, version, builtin, hooks)


def _way_out(name: str) -> str:
    """How to run ganbench without a plugin that does not load."""
    return f" (fix the plugin, or skip it: GANBENCH_DISABLE_PLUGINS={name})"


def _one_line(exc: BaseException) -> str:
    """pluggy's validation messages span lines (and may hold escaped ``\\n``): one line."""
    text = str(exc).replace("\\n", "\n")
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _call_hook(pm: pluggy.PluginManager, hook_name: str, add: Callable) -> None:
    """Call each plugin's implementation on its own, so every registration has an owner."""
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # registration order
        plugin = impl.plugin_name

        def register(*args, _plugin=plugin, **kwargs):
            add(_plugin, *args, **kwargs)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin '{plugin}' failed in {hook_name}: {exc}") from exc


_cache: Optional[Registries] = None


def registries() -> Registries:
    """The registries of this process, loaded on first use."""
    global _cache
    if _cache is None:
        _cache = load()
    return _cache


def reset() -> None:
    """Forget the loaded registries (tests change the environment between loads)."""
    global _cache
    _cache = None
