"""``ganbench new-plugin`` and ``check-plugin``: the kit to write a plugin."""

from __future__ import annotations

import sys

from ganbench import hookimpl
from ganbench.api.argtypes import positive_int


@hookimpl
def ganbench_register_commands(register):
    register(
        "new-plugin", "write a pip-installable plugin package to start from",
        configure_new_plugin, cmd_new_plugin,
        description="Write DIR/ganbench-NAME: pyproject.toml with the ganbench entry point, a "
        "module with one loss, one regulariser and one variant, a README, tests that use "
        "ganbench.devkit.testing, a speed test on ganbench's pytest plugin and a CI workflow "
        "with the speed and quality gates. As generated it installs (pip install -e "
        "DIR/ganbench-NAME) and its tests pass.")
    register(
        "check-plugin", "conformance checks of an installed plugin", configure_check_plugin,
        cmd_check_plugin,
        description="Check every object plugin NAME (entry-point or distribution name) "
        "registered: models build with the right shapes, embedded datasets load as declared, "
        "losses, regularisers and step hooks train a few steps with finite losses, variants "
        "train a few steps finitely and deterministically, suites name registered objects. "
        "Exit 0 when all pass, 1 otherwise.")


def configure_new_plugin(npl) -> None:
    npl.add_argument("name", help="plugin name: lowercase letters, digits, dashes (my-gan)")
    npl.add_argument("--dir", default=".", help="where to create ganbench-NAME (default: .)")


def configure_check_plugin(cpl) -> None:
    cpl.add_argument("name", help="plugin entry-point or distribution name")
    cpl.add_argument("--steps", type=positive_int, default=3,
                     help="training steps per check (default 3)")
    cpl.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_new_plugin(args) -> int:
    from ganbench.devkit.scaffold import new_plugin

    root = new_plugin(args.name, args.dir)
    print(f"wrote {root}\nnext: pip install -e {root}  &&  ganbench check-plugin {args.name}  "
          f"&&  python -m pytest {root / 'tests' / 'test_plugin.py'}")
    return 0


def cmd_check_plugin(args) -> int:
    import dataclasses
    import json

    from ganbench.devkit import testing

    findings = testing.check_plugin(args.name, steps=args.steps)
    if args.json:
        print(json.dumps([dataclasses.asdict(f) for f in findings], indent=1))
    else:
        print(testing.format_findings(findings))
    bad = sum(not f.ok for f in findings)
    if bad:
        print(f"ganbench: {bad} of {len(findings)} check(s) failed", file=sys.stderr)
    return 1 if bad else 0
