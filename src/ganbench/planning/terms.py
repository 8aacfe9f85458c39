"""Regulariser and step-hook specifications as text: ``--reg gp:10``, ``--reg r1:10:every=16``,
``VariantSpec(step_hooks=("clip:0.01",))``.

Syntax: ``NAME[:VALUE][:KEY=VALUE...]``. For a regulariser the bare value is its weight (λ, γ)
and ``every=N`` makes it lazy (computed on every N-th D step, multiplied by N); other keys are
the regulariser's options. For a step hook the bare value sets its first option. Every spec is
parsed (and checked against the registries) before training starts, and rewritten in one
canonical form (``gp:10`` and ``gp:10.0`` are the same run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ganbench.api.errors import UsageError, unknown


@dataclass(frozen=True)
class RegTerm:
    """A regulariser as a run uses it: its spec, weight, interval and options."""

    spec: Any  # RegularizerSpec
    weight: float
    every: int
    options: tuple[tuple[str, Any], ...]

    @property
    def scale(self) -> float:
        """What the penalty is multiplied by on the steps it is computed: weight × every."""
        return self.weight * self.every

    def text(self) -> str:
        parts = [self.spec.name, _num(self.weight)]
        if self.every != 1:
            parts.append(f"every={self.every}")
        parts += [f"{k}={_num(v)}" for k, v in self.options]
        return ":".join(parts)


@dataclass(frozen=True)
class HookTerm:
    spec: Any  # StepHookSpec
    options: tuple[tuple[str, Any], ...]

    def text(self) -> str:
        return ":".join([self.spec.name] + [f"{k}={_num(v)}" for k, v in self.options])


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return format(float(v), ".12g")


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number, got '{text}'") from None
    if not math.isfinite(v):
        raise UsageError(f"{what} must be finite, got '{text}'")
    return v


def _split(text: Any, kind: str) -> tuple[str, list[str]]:
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"empty {kind} specification (expected NAME[:VALUE][:KEY=VALUE...])")
    name, *rest = [p.strip() for p in text.strip().split(":")]
    if not name or any(not p for p in rest):
        raise UsageError(f"malformed {kind} '{text}' (expected NAME[:VALUE][:KEY=VALUE...])")
    return name, rest


def _options(spec: Any, kind: str, text: str, items: list[str], first_bare: bool,
             allowed_extra: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
    """(bare value or None, key=value options), checked against ``spec.options``."""
    bare = None
    opts: dict[str, Any] = {}
    known = tuple(spec.options) + allowed_extra
    for i, item in enumerate(items):
        if "=" not in item:
            if i != 0 or not first_bare:
                raise UsageError(f"{kind} '{text}': '{item}' needs a name (KEY=VALUE); "
                                 f"{spec.name} takes {', '.join(known) or 'no options'}")
            bare = item
            continue
        key, value = (s.strip() for s in item.split("=", 1))
        if key not in known:
            raise UsageError(f"{kind} '{text}': {spec.name} has no option '{key}' (it takes "
                             f"{', '.join(known) or 'no options'})")
        if key in opts:
            raise UsageError(f"{kind} '{text}': option '{key}' given twice")
        opts[key] = value
    return bare, opts


def parse_reg(reg: Any, text: str) -> RegTerm:
    """A regulariser spec (``gp:10``, ``r1:10:every=16``, ``dragan:10:c=0.5``) → RegTerm."""
    name, rest = _split(text, "regularizer")
    if name not in reg.regularizers:
        raise unknown("regularizer", name, reg.regularizers.names())
    spec = reg.regularizers.get(name)
    bare, opts = _options(spec, "regularizer", text, rest, True, ("every",))
    weight = spec.weight if bare is None else _number(bare, f"regularizer '{text}': the weight")
    if weight < 0:
        raise UsageError(f"regularizer '{text}': the weight must be >= 0, got {bare}")
    every = spec.every
    if "every" in opts:
        raw = opts.pop("every")
        try:
            every = int(raw)
        except ValueError:
            every = 0
        if every < 1 or str(every) != raw.lstrip("+"):
            raise UsageError(f"regularizer '{text}': every must be an integer >= 1, got '{raw}'")
    values = {k: _number(v, f"regularizer '{text}': {k}") for k, v in opts.items()}
    merged = {**dict(spec.options), **values}
    return RegTerm(spec, weight, every, tuple(sorted(merged.items())))


def parse_hook(reg: Any, text: str) -> HookTerm:
    """A step-hook spec (``clip:0.01``, ``clip:c=0.01``) → HookTerm."""
    name, rest = _split(text, "step hook")
    if name not in reg.step_hooks:
        raise unknown("step hook", name, reg.step_hooks.names())
    spec = reg.step_hooks.get(name)
    bare, opts = _options(spec, "step hook", text, rest, bool(spec.options))
    if bare is not None:
        first = next(iter(spec.options))
        if first in opts:
            raise UsageError(f"step hook '{text}': option '{first}' given twice")
        opts[first] = bare
    values = {k: _number(v, f"step hook '{text}': {k}") for k, v in opts.items()}
    return HookTerm(spec, tuple(sorted({**dict(spec.options), **values}.items())))


def canonical_hooks(reg: Any, texts) -> tuple[str, ...]:
    return tuple(parse_hook(reg, t).text() for t in texts)


def merge_regs(reg: Any, base, extra, parse=None) -> tuple[str, ...]:
    """The variant's regularisers ``base`` with the command line's ``extra``: ``none`` drops
    them all, a regulariser named again replaces the variant's, a new one is added. With
    ``parse=parse_hook``, the same for step hooks."""
    parse = parse or parse_reg
    out = {parse(reg, t).spec.name: parse(reg, t).text() for t in base}
    for t in extra:
        if isinstance(t, str) and t.strip() == "none":
            out = {}
            continue
        term = parse(reg, t)
        out[term.spec.name] = term.text()
    return tuple(out.values())
