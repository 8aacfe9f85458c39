"""``ganbench list`` and ``plugins``: what the loaded plugins registered."""

from __future__ import annotations

import json
from typing import Any

from ganbench import hookimpl
from ganbench.api.specs import REGISTRY_TYPES

KINDS = ("variants", *(k for k in REGISTRY_TYPES if k != "variants"))  # listed in this order


@hookimpl
def ganbench_register_commands(register):
    register("list", "list variants, models, losses, datasets, metrics, suites", configure_list,
             cmd_list, description="List what the loaded plugins registered.")
    register("plugins", "list loaded plugins with versions and hooks", configure_plugins,
             cmd_plugins,
             description="List loaded plugins. Environment: GANBENCH_LOAD_PLUGINS "
             "(unset: all; empty: built-ins only; comma list: built-ins + those), "
             "GANBENCH_DISABLE_PLUGINS (comma list).")


def configure_list(ls) -> None:
    ls.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind (default: all)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")


def configure_plugins(pl) -> None:
    pl.add_argument("--json", action="store_true", help="machine-readable output")


def _describe(kind: str, obj) -> dict[str, Any]:
    d: dict[str, Any] = {"name": obj.name, "description": obj.description}
    if kind == "variants":
        d.update(model=obj.model, loss=obj.loss, reference=obj.reference,
                 hparams=obj.hparams.to_dict(), model_options=dict(obj.model_options),
                 regularizers=list(obj.regularizers), step_hooks=list(obj.step_hooks),
                 g_ema=obj.g_ema, augment=obj.augment or None, latent=obj.latent or None)
    elif kind == "losses":
        d.update(output=obj.output, context=obj.uses_context, options=dict(obj.options))
    elif kind == "regularizers":
        d.update(weight=obj.weight, every=obj.every, phase=obj.phase,
                 options=dict(obj.options), reference=obj.reference)
    elif kind == "step_hooks":
        d.update(after=obj.after, options=dict(obj.options))
    elif kind in ("augmentations", "latent_samplers"):
        d.update(options=dict(obj.options), reference=obj.reference)
    elif kind == "models":
        d.update(conditional=obj.conditional,
                 options={k: list(v) if isinstance(v, tuple) else v
                          for k, v in obj.options.items()})
    elif kind == "datasets":
        d.update(kind=obj.spec.kind, shape=list(obj.spec.shape),
                 num_classes=obj.spec.num_classes, source=obj.source,
                 modes=len(obj.modes.centers) if obj.modes else None,
                 main_metrics=list(obj.headline()))  # the leaderboard's order, main first
    elif kind == "metrics":  # directions: row -> higher is better (None: no better direction)
        d.update(default=obj.default, directions=dict(obj.directions))
    elif kind == "search_spaces":
        d.update(params={k: str(v) for k, v in obj.params.items()}, reference=obj.reference)
    return d


def cmd_list(args) -> int:
    from ganbench.registry import registries

    reg = registries()
    kinds = [args.kind] if args.kind else list(KINDS)
    data = {}
    for kind in kinds:
        registry = getattr(reg, kind)
        items = []
        for obj in registry:
            d = _describe(kind, obj)
            d["plugin"] = registry.owner(obj.name)
            if kind == "suites":
                d["entries"] = [dict(variant=e.variant, dataset=e.dataset, budget=e.budget,
                                     seeds=list(e.seeds)) for e in obj.resolve(reg)]
            items.append(d)
        data[kind] = items
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for kind, items in data.items():
        print(f"{kind}:")
        for d in items:
            extra = ""
            if kind == "variants":
                h = d["hparams"]
                betas = ("" if h["optimizer"] == "rmsprop"  # RMSprop has no betas
                         else f", betas {tuple(h['betas'])}")
                terms = "".join(
                    [f"; {k} {v}" for k, v in h.items() if k in ("eps", "weight_decay",
                                                                 "alpha", "lr_schedule",
                                                                 "g_options",
                                                                 "d_options")]
                    + [f"; {k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in (("options", ", ".join(f"{a}={b}" for a, b in
                                                          d["model_options"].items())),
                                    ("reg", d["regularizers"]), ("hooks", d["step_hooks"]),
                                    ("g_ema", d["g_ema"])) if v])
                extra = (f" [{d['model']} + {d['loss']}; {h['optimizer']} lr {h['lr_g']:g}/"
                         f"{h['lr_d']:g}{betas}, k {h['k']}, batch "
                         f"{h['batch_size']}, z {h['z_dim']}{terms}]")
                if d["reference"]:
                    extra += f"\n  {'':<18} ref: {d['reference']}"
            elif kind == "losses":
                extra = f" [output {d['output']}{', context' if d['context'] else ''}]"
            elif kind == "regularizers":
                extra = (f" [default {d['name']}:{d['weight']:g}"
                         f"{':every=%d' % d['every'] if d['every'] != 1 else ''}"
                         f"{''.join(f':{k}={v:g}' for k, v in d['options'].items())}]")
            elif kind == "step_hooks":
                extra = (f" [after the {d['after'].upper()} step; "
                         f"{', '.join(f'{k}={v:g}' for k, v in d['options'].items())}]")
            elif kind == "datasets":
                extra = (f" [{d['kind']} {tuple(d['shape'])}, {d['num_classes']} classes; "
                         f"ranked by {d['main_metrics'][0]}]")
            elif kind == "suites":
                extra = f" [{len(d['entries'])} entries]"
            extra, _, second = extra.partition("\n")
            print(f"  {d['name']:<18} {d['description']}{extra}  ({d['plugin']})"
                  + (f"\n{second}" if second else ""))
    return 0


def cmd_plugins(args) -> int:
    from ganbench.registry import registries

    reg = registries()
    items = [dict(name=p.name, module=p.module, distribution=p.distribution,
                  version=p.version, builtin=p.builtin, hooks=p.hooks) for p in reg.plugins]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for p in items:
        tag = "built-in" if p["builtin"] else "third-party"
        print(f"{p['name']:<20} {p['distribution']} {p['version']} ({tag}) {p['module']}: "
              f"{', '.join(p['hooks'])}")
    return 0
