"""Search spaces of the hyperparameter-robustness study (``ganbench sweep``): the
distributions a ``SearchSpaceSpec`` maps parameters to, the checks of a space (at plugin load)
and of a trial's settings recorded in a run file (``meta.config.study``). The study itself
(sampling, statistics) is ``ganbench.analysis.study``, which re-exports these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

# ------------------------------------------------------------------------ distributions


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float

    def sample(self, rng) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng) -> float:
        return float(rng.uniform(self.low, self.high))  # [low, high)

    def __str__(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class Choice:
    values: tuple

    def sample(self, rng) -> Any:
        v = self.values[int(rng.integers(len(self.values)))]
        return v.item() if hasattr(v, "item") else v

    def __str__(self) -> str:
        return "one of {" + ", ".join(map(str, self.values)) + "}"


# --------------------------------------------------------------------- checks of spaces

_REAL = (int, float)
# parameter -> (integer?, test of a value, what the test says): the ranges check_hparams takes
PARAM_RANGES = {
    **{n: (False, lambda v: 0 < v < 10, "in (0, 10)") for n in ("lr", "lr_g", "lr_d")},
    **{n: (False, lambda v: 0 <= v < 1, "in [0, 1)") for n in ("beta1", "beta2")},
    "k": (True, lambda v: 1 <= v <= 100, "an integer from 1 to 100"),
    "batch_size": (True, lambda v: 1 <= v <= 1 << 16, "an integer from 1 to 65536"),
    "z_dim": (True, lambda v: 1 <= v <= 1 << 14, "an integer from 1 to 16384"),
    "reg_weight": (False, lambda v: 0 <= v < math.inf, "finite and >= 0"),
}


def _number(v) -> bool:
    return isinstance(v, _REAL) and not isinstance(v, bool) and math.isfinite(v)


def _dist_problem(name: str, dist) -> Optional[str]:
    integer, ok, says = PARAM_RANGES[name]
    if isinstance(dist, Choice):
        values = dist.values
        if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list)) \
                or not values:
            return f"parameter '{name}' is a choice of {values!r}; expected a non-empty tuple"
        bad = [v for v in values if not (_number(v) and (not integer or isinstance(v, int))
                                         and ok(v))]
        return f"parameter '{name}' has choice(s) {bad!r}; each must be {says}" if bad else None
    if isinstance(dist, (LogUniform, Uniform)):
        if integer:
            return f"parameter '{name}' is an integer: use Choice((...)), not {dist}"
        if not (_number(dist.low) and _number(dist.high)):
            return f"parameter '{name}' has bounds {dist.low!r}, {dist.high!r}; expected numbers"
        if not dist.low < dist.high:
            return f"parameter '{name}' has an empty range {dist}"
        if isinstance(dist, LogUniform) and dist.low <= 0:
            return f"parameter '{name}' is {dist}: a log-uniform needs bounds > 0"
        top = dist.high if isinstance(dist, LogUniform) else math.nextafter(dist.high, -math.inf)
        if not (ok(dist.low) and ok(top)):
            return f"parameter '{name}' is {dist}; its values must be {says}"
        return None
    return (f"parameter '{name}' is a {type(dist).__name__}; expected ganbench.analysis.study."
            "LogUniform, Uniform or Choice")


def space_problem(space) -> Optional[str]:
    """What is wrong with a ``SearchSpaceSpec`` (None: nothing); checked at plugin load."""
    from collections.abc import Mapping

    params = space.params
    if not isinstance(params, Mapping) or not params:
        return f"params is {params!r}; expected a non-empty mapping of parameter to distribution"
    unknown = [n for n in params if n not in PARAM_RANGES]
    if unknown:
        return (f"params name unknown parameter(s) {', '.join(map(repr, unknown))} "
                f"(use {', '.join(PARAM_RANGES)})")
    for name, dist in params.items():
        problem = _dist_problem(name, dist)
        if problem:
            return problem
    return None


def _study_model():
    global _STUDY_MODEL
    if _STUDY_MODEL is None:
        from typing import Annotated, Union

        from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

        Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]

        class StudyMeta(BaseModel):  # meta.config.study of a run file
            model_config = ConfigDict(extra="allow")
            space: Annotated[StrictStr, Field(min_length=1, max_length=255)]
            space_seed: StrictInt
            trial: Annotated[StrictInt, Field(ge=0, le=2**62)]
            params: dict[StrictStr, Union[StrictInt, Finite, StrictStr]]

        _STUDY_MODEL = StudyMeta
    return _STUDY_MODEL


_STUDY_MODEL = None


def check_study(value) -> dict[str, Any]:
    """``meta.config.study`` of a run file, validated; ValueError with a one-line reason."""
    from pydantic import ValidationError

    try:
        return _study_model().model_validate(value).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(["meta.config.study", *map(str, err["loc"])])
        raise ValueError(f"invalid {where}: {err['msg']}") from None
