"""Up-front checks of ``ganbench run`` options that argparse's types do not cover.

Everything a run needs is checked before any training starts, so a typo fails in a second with
one line and exit code 2 instead of hours into a sweep. Names (variants, datasets, ...) are
checked by the planner with a did-you-mean, budgets and seeds by their parsers, the device by
``runner.resolve_device``; this module checks the rest: option combinations, sane upper
bounds and paths.
"""

from __future__ import annotations

import os
from typing import Any

from ganbench.api.argtypes import MAX_SEED  # noqa: F401 (checked here too)
from ganbench.api.errors import UsageError

MAX_EVALS = 10_000
MAX_EVAL_SAMPLES = 1_000_000
MAX_EVAL_EVERY = 10**9


def check_path(option: str, value: Any) -> None:
    """A path option must be a non-empty string without NUL characters."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{option} needs a path, got {value!r}")
    if "\0" in value:
        raise UsageError(f"{option}: invalid path {value!r} (contains a NUL character)")


def check_run_args(args: Any) -> None:
    """UsageError for the first invalid ``ganbench run`` option."""
    if args.force and args.resume:
        raise UsageError("--force (train again from scratch) and --resume contradict each other")
    for option, limit in (("evals", MAX_EVALS), ("eval_samples", MAX_EVAL_SAMPLES),
                          ("eval_every", MAX_EVAL_EVERY)):
        value = getattr(args, option)
        if value is not None and value > limit:
            raise UsageError(f"--{option.replace('_', '-')} must be at most {limit}, got {value}")
    if args.evals is not None and args.eval_every is not None:
        raise UsageError("give --evals or --eval-every, not both")
    check_path("--out", args.out)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"cannot write to output directory '{args.out}': it exists and is "
                         "not a directory")
    if args.data_root is not None:
        check_path("--data-root", args.data_root)
        if os.path.exists(args.data_root) and not os.path.isdir(args.data_root):
            raise UsageError(f"--data-root '{args.data_root}' exists and is not a directory")
