"""Training budgets (``20000img``, ``500steps``, ``30s``) and seed lists (``0,1,2``, ``0-4``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganbench.api.errors import UsageError

_UNITS = {
    "img": "images", "imgs": "images", "image": "images", "images": "images",
    "step": "steps", "steps": "steps",
    "s": "seconds", "sec": "seconds", "secs": "seconds", "seconds": "seconds",
    "min": "minutes", "mins": "minutes", "minutes": "minutes",
}
_BUDGET_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([km]?)\s*([a-z]+)\s*$", re.IGNORECASE)
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Budget:
    """A fixed training budget: ``kind`` is images (real images D has seen), steps (G steps)
    or seconds (training wall-clock, evaluation excluded)."""

    kind: str
    amount: float

    @classmethod
    def parse(cls, text: str) -> "Budget":
        m = _BUDGET_RE.match(str(text))
        unit, scale = None, ""
        if m:
            whole = (m.group(2) + m.group(3)).lower()  # "min" is a unit, not m + "in"
            if whole in _UNITS:
                unit = _UNITS[whole]
            else:
                unit, scale = _UNITS.get(m.group(3).lower()), m.group(2).lower()
        if not m or unit is None:
            raise UsageError(
                f"invalid budget {text!r}: use a number with a unit, e.g. 20000img, 20kimg, "
                "500steps, 30s or 2min"
            )
        amount = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[scale]
        if unit == "minutes":
            unit, amount = "seconds", amount * 60
        if not amount > 0 or amount > 1e12:  # also catches inf from a huge digit string
            raise UsageError(f"invalid budget {text!r}: it must be positive (and sane)")
        if unit != "seconds":
            if amount != int(amount):
                raise UsageError(f"invalid budget {text!r}: {unit} must be a whole number")
            amount = int(amount)
        return cls(unit, amount)

    def __str__(self) -> str:
        suffix = {"images": "img", "steps": "steps", "seconds": "s"}[self.kind]
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount}{suffix}"

    def used(self, images: int, steps: int, seconds: float) -> float:
        return {"images": images, "steps": steps, "seconds": seconds}[self.kind]

    def fraction(self, images: int, steps: int, seconds: float) -> float:
        return self.used(images, steps, seconds) / self.amount


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) or a mix: non-negative integers, no duplicates."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,9})(?:\s*-\s*(\d{1,9}))?", part)
        if not m:
            raise UsageError(
                f"invalid seeds {text!r}: use non-negative integers like 0,1,2 or a range 0-4"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UsageError(f"invalid seeds {text!r}: range {part} goes backwards")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise UsageError(f"invalid seeds {text!r}: at most {MAX_SEEDS} seeds")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"invalid seeds {text!r}: a seed is repeated")
    return tuple(seeds)
