"""Errors that the CLI turns into one clear line and a non-zero exit code."""

from typing import Optional


class GanbenchError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(GanbenchError):
    """Bad input from the user: unknown name, malformed budget, unwritable path (exit 2)."""

    exit_code = 2


class PluginError(GanbenchError):
    """A plugin failed to load or registered something malformed (exit 2)."""

    exit_code = 2


class DataUnavailableError(GanbenchError):
    """Data files are missing and cannot be downloaded (exit 2)."""

    exit_code = 2


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean 'x'?)' suffix for the closest of ``choices``, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, name: str, choices) -> UsageError:
    choices = sorted(choices)
    return UsageError(
        f"unknown {kind} '{name}'{did_you_mean(name, choices)}; "
        f"known: {', '.join(choices) if choices else 'none'}"
    )


def one_line(message: str) -> str:
    """``message`` with control characters (newlines, carriage returns, ...) escaped, so an
    error about user input is always exactly one line on the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))


def first_line(exc: BaseException, limit: Optional[int] = None) -> str:
    """``Type: first line of the message`` of an exception (the message cut to ``limit``
    characters when given), for one-line errors and warnings."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:limit]}" if text else type(exc).__name__
