"""The ``ganbench`` command line. Data (tables, JSON) go to stdout; progress and logs to stderr.

Exit codes: 0 success; 1 a run failed or diverged; 2 bad input (one line on stderr).

Every command, built-in or a plugin's, is an entry of ONE table, filled through the
``ganbench_register_commands`` hook (``register(name, help, configure, handler, ...)``): the
built-ins are the hook implementations of the modules in :data:`COMMAND_MODULES` (one module per
command group: ``run`` (run, sweep), ``plugins`` (list, plugins), ``results`` (results, compare,
check), ``devkit`` (new-plugin, check-plugin), ``viz`` (sample, interpolate, arithmetic, report)),
plugins' come from the registries. Nothing here imports torch at parse time (``--help`` is fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ganbench import __version__
from ganbench.api.errors import GanbenchError, one_line

COMMAND_MODULES = ("run", "plugins", "results", "devkit", "viz")  # in ganbench --help's order


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``ganbench run: error: ...``) and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def builtin_commands() -> dict:
    """The built-in commands: name -> ``ganbench.registry.Command``, registered through the
    command hook exactly as a plugin's are."""
    from ganbench.cli import devkit, plugins, results, run, viz
    from ganbench.registry import add_command

    commands: dict = {}
    modules = {"run": run, "plugins": plugins, "results": results, "devkit": devkit, "viz": viz}
    for name in COMMAND_MODULES:
        modules[name].ganbench_register_commands(
            register=lambda *a, **k: add_command(commands, "ganbench", *a, **k))
    return commands


def with_plugin_commands(commands: dict, extra: dict) -> dict:
    """``commands`` and the plugin commands ``extra``; a plugin command named like a built-in
    one is a PluginError."""
    from ganbench.registry import add_command

    table = dict(commands)
    for name, c in extra.items():
        add_command(table, c.plugin, name, c.help, c.configure, c.handler, **c.parser_options)
    return table


def build_parser(commands: Optional[dict] = None) -> argparse.ArgumentParser:
    """The parser of every built-in command and of the plugin ``commands`` given (name ->
    ``ganbench.registry.Command``, e.g. ``registries().commands``)."""
    table = with_plugin_commands(builtin_commands(), commands or {})
    p = _Parser(prog="ganbench", description="Benchmark GAN variants under a fixed, equal budget.")
    p.add_argument("--version", action="version", version=f"ganbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, c in table.items():
        c.configure(sub.add_parser(name, help=c.help, **{"description": c.help,
                                                         **c.parser_options}))
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plugin_commands: dict = {}
    try:
        builtins = builtin_commands()
        first = next((a for a in argv if not a.startswith("-")), None)
        from ganbench.registry import registries

        if first is not None and first not in builtins:  # maybe a plugin command
            plugin_commands = registries().commands
        elif first is None:  # top-level help lists plugin commands too (loading is cheap)
            try:
                plugin_commands = registries().commands
                with_plugin_commands(builtins, plugin_commands)
            except GanbenchError:
                plugin_commands = {}  # a broken plugin must not break --help; `list` reports it
        parser = build_parser(plugin_commands)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        command = builtins.get(args.command) or plugin_commands[args.command]
        return int(command.handler(args) or 0)
    except GanbenchError as exc:
        print(f"ganbench: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ganbench: interrupted; finished runs are saved, rerun the same command to "
              "resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
