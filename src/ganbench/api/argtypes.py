"""The argparse types of ganbench's options: ONE set, for the built-in commands and for the
commands plugins add through ``ganbench_register_commands`` (whose ``configure(parser)`` may
use them), and for the option groups lower layers contribute (the executors' options, the
study's). They live in ``api``, the lowest layer, so that every layer can use them without
importing the command line. Each raises ``argparse.ArgumentTypeError``, which argparse turns
into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
from typing import Callable, Optional

MAX_SEED = 2**63 - 1  # torch.Generator().manual_seed takes it (and seed + 1, the labels' seed)


def int_range(lo: Optional[int] = 1, hi: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[lo, hi]`` (either end open when None); the
    message of a refusal gives the bound."""
    want = ("a positive integer" if lo == 1 and hi is None else
            f"a whole number from {lo} to {hi}" if lo is not None and hi is not None else
            f"a whole number of at least {lo}" if lo is not None else
            f"a whole number of at most {hi}")

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return v

    parse.__name__ = "integer"
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)
seed = int_range(0, MAX_SEED)  # a random seed: what torch.Generator().manual_seed takes


def finite_float(text: str, lo: Optional[float] = None) -> float:
    """An argparse type: a finite number (at least ``lo`` when given)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if lo is not None and v < lo:
        raise argparse.ArgumentTypeError(f"expected a number of at least {lo:g}, got {text!r}")
    return v


def non_negative_float(text: str) -> float:
    return finite_float(text, lo=0.0)


def betas(text: str) -> tuple[float, float]:
    """Adam's two betas, ``B1,B2``."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.5,0.999, got {text!r}")
    return (finite_float(parts[0]), finite_float(parts[1]))


def names(text: str) -> list[str]:
    """A comma list of names (``--variant a,b``), blanks dropped."""
    return [p.strip() for p in text.split(",") if p.strip()]
