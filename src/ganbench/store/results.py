"""Results store: one JSON file per run, written atomically; a loader that returns one tidy
pandas DataFrame; the summary and comparison tables.

A run file is ``{"format": "ganbench-run/1", "meta": {...}, "rows": [...]}``. ``meta`` holds
what is constant over the run (names, seed, budget, hyperparameters, machine, versions,
status); each row is one metric value at one evaluation point. The loader broadcasts meta into
every row, giving the long table documented in ``results/README.md``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from ganbench.api.errors import UsageError
from ganbench.store.safepath import atomic_write

FORMAT = "ganbench-run/1"
META_COLUMNS = [
    "run_id", "suite", "variant", "model", "loss", "dataset", "seed", "budget", "status",
]
ROW_COLUMNS = [
    "step", "images_seen", "wall_s", "metric", "value", "unit", "higher_is_better", "eval_spec",
]
TAIL_COLUMNS = ["extractor", "g_ema", "device", "torch", "ganbench_version", "git_sha", "code"]
# what defines a run's numbers, less its seed: seeds are pooled only within one recipe
RECIPE_COLUMNS = ["recipe", "recipe_json"]
STATUS_COLUMNS = ["diverged_at_step", "error"]  # why a run is not `completed` (else empty)
COLUMNS = META_COLUMNS + ROW_COLUMNS + TAIL_COLUMNS + STATUS_COLUMNS + RECIPE_COLUMNS
GROUP = ["variant", "dataset", "metric"]
# Metrics that measure the machine, not the model: they differ between identical runs.
MACHINE_METRICS = frozenset({"images_per_s", "peak_rss_mb", "peak_cuda_mb"})


def check_writable(out_dir: Union[str, Path]) -> Path:
    """Create ``out_dir`` if needed and prove a file can be written there (UsageError if not)."""
    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write to output directory '{out_dir}': "
                         f"{exc.strerror or exc}") from None
    return path


def run_path(out_dir: Union[str, Path], run_id: str) -> Path:
    """``OUT/RUN_ID.json``; UsageError for a run id that could escape ``out_dir``."""
    from ganbench.store.safepath import safe_child

    return safe_child(out_dir, run_id, ".json")


def write_run(out_dir: Union[str, Path], meta: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write one run's file atomically: a temporary file in the same directory, fsync, rename.

    A reader never sees a half-written file, and a crash leaves at most a stray temporary.
    """
    path = run_path(out_dir, meta["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, encode_run(meta, rows))


def encode_run(meta: dict[str, Any], rows: list[dict[str, Any]]) -> bytes:
    """A run file's bytes."""
    return json.dumps({"format": FORMAT, "meta": meta, "rows": rows}, allow_nan=True).encode()


MAX_RUN_BYTES = 64 * 2**20  # a run file is a few hundred kB; never read without bound


def _schema():
    """pydantic models of a run file (built on first use: pydantic is imported lazily)."""
    global _RUN_MODEL
    if _RUN_MODEL is not None:
        return _RUN_MODEL
    import math
    from typing import Annotated, List

    from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
    from pydantic import StrictStr

    def number(v):
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"not a number ({type(v).__name__})")
        try:
            return float(v)
        except OverflowError:
            raise ValueError("number out of range") from None

    def finite(v):
        v = number(v)
        if v is not None and not math.isfinite(v):
            raise ValueError("not finite")
        return v

    Value = Annotated[Optional[float], BeforeValidator(number)]
    Finite = Annotated[Optional[float], BeforeValidator(finite)]
    Count = Annotated[StrictInt, Field(ge=0, le=2**62)]
    extra = ConfigDict(extra="allow")

    class Row(BaseModel):
        model_config = extra
        step: Count
        images_seen: Optional[Count] = None
        wall_s: Finite = None
        metric: StrictStr
        value: Value = None
        unit: Optional[StrictStr] = None
        higher_is_better: Optional[StrictBool] = None
        eval_spec: Optional[StrictStr] = None

    class Meta(BaseModel):
        model_config = extra
        run_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
        suite: Optional[StrictStr] = None
        variant: StrictStr
        model: Optional[StrictStr] = None
        loss: Optional[StrictStr] = None
        dataset: StrictStr
        seed: Optional[StrictInt] = None
        budget: Optional[StrictStr] = None
        status: Optional[StrictStr] = None
        diverged_at_step: Optional[Count] = None
        error: Optional[StrictStr] = None
        config: Optional[dict] = None
        eval_spec: Optional[dict] = None
        device: Optional[StrictStr] = None
        torch: Optional[StrictStr] = None
        ganbench_version: Optional[StrictStr] = None
        git_sha: Optional[StrictStr] = None

    class Run(BaseModel):
        model_config = extra
        format: StrictStr
        meta: Meta
        rows: List[Row]

    _RUN_MODEL = Run
    return Run


_RUN_MODEL = None


def read_regular(path: Union[str, Path], limit: int) -> bytes:
    """Bytes of a regular file of at most ``limit`` bytes; ValueError for anything else (a FIFO,
    a device, a symlink to /dev/zero, a directory) without blocking on it."""
    import stat

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > limit:
            raise ValueError(f"larger than {limit // 2**20} MiB")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
                raise ValueError("not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(limit + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 2**20} MiB")
    return data


def read_run(path: Union[str, Path]) -> dict[str, Any]:
    """Parse and validate one run file; ValueError with the (one-line) reason when invalid."""
    from pydantic import ValidationError

    raw = read_regular(path, MAX_RUN_BYTES)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if not isinstance(data.get("meta"), dict) or not isinstance(data.get("rows"), list):
        raise ValueError("missing meta or rows")
    try:
        run = _schema().model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise ValueError(f"invalid {where}: {err['msg']}") from None
    out = run.model_dump()
    out["meta"] = {**data["meta"], **run.meta.model_dump(include=set(type(run.meta).model_fields))}
    config = out["meta"].get("config")
    if isinstance(config, dict) and "study" in config:  # a trial of `ganbench sweep`
        from ganbench.planning.space import check_study

        check_study(config["study"])
    return out


def result_files(paths: Iterable[Union[str, Path]]) -> list[Path]:
    """The files named by ``paths``: each file, and the .json files under each directory."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.json")  # hidden files and folders
                                if not any(s.startswith(".") for s in f.relative_to(p).parts)))
        elif os.path.lexists(p):
            files.append(p)  # a non-regular file is refused (one warning) when it is read
        else:
            raise UsageError(f"no results at '{p}' (no such file or directory)")
    return files


TEXT_COLUMNS = ["run_id", "suite", "variant", "model", "loss", "dataset", "budget", "status",
                "metric", "unit", "eval_spec", "extractor", "device", "torch",
                "ganbench_version", "git_sha", "code", "error", "recipe", "recipe_json"]
NEEDED_TABLE_COLUMNS = ["run_id", "variant", "dataset", "step", "metric", "value"]


def _read_table(f: Path):
    """An exported long table (.csv/.parquet), checked; ValueError when it is not one."""
    import io

    import pandas as pd

    raw = read_regular(f, 16 * MAX_RUN_BYTES)
    try:
        if f.suffix == ".parquet":
            t = pd.read_parquet(io.BytesIO(raw))
        else:
            t = pd.read_csv(io.BytesIO(raw), dtype={c: "string" for c in TEXT_COLUMNS})
    except Exception as exc:  # pandas/pyarrow raise many types for a corrupt table
        raise ValueError(f"unreadable table ({type(exc).__name__}: {str(exc)[:120]})") from None
    missing = [c for c in NEEDED_TABLE_COLUMNS if c not in t.columns]
    if missing:
        raise ValueError(f"not a ganbench table (no column {', '.join(missing)})")
    for col in ("value", "step", "images_seen", "wall_s", "diverged_at_step", "seed"):
        if col not in t:
            continue
        num = pd.to_numeric(t[col], errors="coerce")
        if (num.isna() & t[col].notna()).any() and col != "value" or \
                (col == "value" and (num.isna() & t[col].notna()
                                     & ~t[col].astype(str).str.lower().isin(["nan"])).any()):
            raise ValueError(f"non-numeric values in column '{col}'")
        if col in COUNT_COLUMNS and ((num.dropna() % 1 != 0).any() or (num.dropna() < 0).any()
                                     or (num.dropna() > MAX_COUNT).any()):
            raise ValueError(f"values in column '{col}' that are not integers in 0..2^62")
        if col == "wall_s" and (~num.dropna().map(math.isfinite)).any():
            raise ValueError("non-finite values in column 'wall_s'")
        t[col] = num.astype(float)
    for col in ("run_id", "variant", "dataset", "metric"):
        if (t[col].isna() | (t[col].astype(str).str.strip() == "")).any():
            raise ValueError(f"empty values in column '{col}'")
    key = t[["run_id", "step", "metric"]].astype(str)
    clash = t.assign(_v=t["value"].astype(str))[key.duplicated(keep=False)]
    if not clash.empty and clash.groupby(["run_id", "step", "metric"])["_v"].nunique().gt(1).any():
        raise ValueError("a run has two different values of one metric at one step")
    for col in ("variant", "dataset", "seed", "status"):
        if col in t and t.groupby("run_id")[col].nunique(dropna=False).gt(1).any():
            raise ValueError(f"rows of one run_id disagree on '{col}'")
    if "higher_is_better" in t:
        hib = t["higher_is_better"].map(_table_bool)
        if (hib.isna() & t["higher_is_better"].notna()).any():
            raise ValueError("values in column 'higher_is_better' other than True/False")
        t["higher_is_better"] = hib.astype(object).where(hib.notna(), None)
    if "recipe_json" in t:
        for text in t["recipe_json"].dropna().unique():
            try:
                ok = isinstance(json.loads(text), dict)
            except (TypeError, ValueError, RecursionError):
                ok = False
            if not ok:
                raise ValueError(f"column 'recipe_json' holds {str(text)[:40]!r}, not a JSON "
                                 "object")
    t = t.astype({c: "object" for c in TEXT_COLUMNS if c in t})
    for c in COLUMNS:
        if c not in t:
            t[c] = None
    return t[COLUMNS]


COUNT_COLUMNS = ("step", "images_seen", "diverged_at_step", "seed")
MAX_COUNT = 2**62  # as in run files: a step of 1e300 would collapse evaluation points


def _table_bool(v) -> Optional[bool]:
    """A recorded ``higher_is_better``: True/False (bools or their names), else None."""
    if isinstance(v, str):
        return {"true": True, "false": False}.get(v.strip().lower())
    if type(v).__name__ in ("bool", "bool_"):  # numpy's too
        return bool(v)
    return None


def load(paths: Union[str, Path, Iterable[Union[str, Path]]], *, warn=None,
         strict: bool = False, empty_runs: bool = False):
    """One long DataFrame of every run file under ``paths`` (files or directories).

    A file that is not a valid run file is reported through ``warn`` (stderr by default) and
    skipped; with ``strict`` it is refused (UsageError naming the file and why). Tables exported
    with ``ganbench results --csv/--parquet`` load too. ``empty_runs``: a run file without rows
    (a failed run) gives one row with no metric, so that a caller can count it.
    """
    import pandas as pd

    if isinstance(paths, (str, Path)):
        paths = [paths]
    warn = warn or (lambda msg: print(f"ganbench: warning: {msg}", file=sys.stderr))
    frames = []
    records = []
    seen: set[str] = set()
    copies = 0

    def bad(f: Path, exc: ValueError) -> None:
        if strict:
            raise UsageError(f"'{f}' is not a usable results file: {exc}")
        warn(f"skipping '{f}': {exc}")

    for f in result_files(paths):
        if f.suffix in (".parquet", ".csv"):
            try:
                frames.append(_read_table(f))
            except ValueError as exc:
                bad(f, exc)
            continue
        try:
            data = read_run(f)
        except ValueError as exc:
            bad(f, exc)
            continue
        meta = data["meta"]
        if meta["run_id"] in seen:  # a copy of a run file already read
            copies += 1
            continue
        seen.add(meta["run_id"])
        base = {c: meta.get(c) for c in META_COLUMNS + TAIL_COLUMNS + STATUS_COLUMNS}
        base["extractor"] = (meta.get("eval_spec") or {}).get("extractor")
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        base["g_ema"] = config.get("g_ema")  # the EMA decay of the evaluated G; None: G itself
        code = meta.get("code")
        base["code"] = (code.get("id") or None) if isinstance(code, dict) else None
        base["recipe_json"] = _recipe_json(meta)  # hashed into `recipe` once, below
        for r in data["rows"]:
            records.append({**base, **{c: r.get(c) for c in ROW_COLUMNS}})
        if empty_runs and not data["rows"]:
            records.append({**base, **{c: None for c in ROW_COLUMNS}, "value": float("nan")})
    if records:
        frames.append(pd.DataFrame.from_records(records, columns=COLUMNS))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    if "recipe_json" not in df:  # a table exported before recipes were recorded
        df["recipe_json"] = None
    missing = df["recipe_json"].isna()
    if missing.any():  # what such a table says of the recipe: model, loss, budget
        df.loc[missing, "recipe_json"] = df.loc[missing].apply(
            lambda r: json.dumps({k: _plain(r.get(k)) for k in ("model", "loss", "budget")},
                                 sort_keys=True), axis=1)
    df["recipe"] = df["recipe_json"].map(_short_hash)
    if copies:
        warn(f"{copies} duplicate cop{'y' if copies == 1 else 'ies'} of run ids counted once")
    for line in mixed_code(df):
        warn(line)
    return df


def mixed_code(df, shown: int = 3) -> list[str]:
    """One line per variant × dataset × recipe whose runs were made by different code (code
    identities, ``meta.code.id``, that differ; a run without one counts as its own code):
    summaries, ``compare`` and ``check`` pool such runs as seeds of one recipe."""
    runs = df.drop_duplicates("run_id")
    runs = runs.assign(code=runs["code"].fillna("unrecorded").astype(str))
    lines = []
    for (variant, dataset, _), g in runs.groupby(["variant", "dataset", "recipe"], sort=True):
        if g["code"].nunique() < 2:
            continue
        parts = []
        for code, ids in g.groupby("code", sort=True)["run_id"]:
            ids = sorted(ids)
            more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
            parts.append(f"code {code}: {', '.join(ids[:shown])}{more}")
        lines.append(f"runs of {variant} on {dataset} were made by different code and are "
                     f"pooled ({'; '.join(parts)}); train the stale ones again (ganbench run "
                     "... --retrain-stale) or compare them apart")
    return lines


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _recipe_json(meta: dict[str, Any]) -> str:
    """The run's config (variant, model, loss, hyperparameters, budget, data and evaluation
    options) without its seed and suite, as canonical JSON."""
    config = meta.get("config")
    if not isinstance(config, dict):
        config = {k: meta.get(k) for k in ("variant", "model", "loss", "dataset", "budget")}
    config = {k: v for k, v in config.items() if k not in ("seed", "suite")}
    return json.dumps(config, sort_keys=True, default=str)


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(str(text).encode()).hexdigest()[:8]


def recipe_labels(df) -> dict[str, str]:
    """recipe hash -> the settings that set it apart from the other recipes of the same
    variant × dataset (``""`` where a variant × dataset has one recipe)."""
    labels: dict[str, str] = {}
    pairs = df[["variant", "dataset", "recipe", "recipe_json"]].drop_duplicates("recipe")
    for _, g in pairs.groupby(["variant", "dataset"], sort=False):
        if len(g) == 1:
            labels[g["recipe"].iloc[0]] = ""
            continue
        flat = {r: flatten(json.loads(j)) for r, j in zip(g["recipe"], g["recipe_json"])}
        keys = sorted({k for d in flat.values() for k in d})
        differ = [k for k in keys if len({json.dumps(d.get(k), default=str)
                                          for d in flat.values()}) > 1]
        for r, d in flat.items():
            labels[r] = " ".join(f"{k.split('.')[-1]}={d.get(k)}" for k in differ) or r
    return labels


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as one level of dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def final_values(df):
    """The last evaluation of each run: one row per run × metric (copies of one run file,
    under other names or directories, count once)."""
    if df.empty:
        return df
    df = df.drop_duplicates(["run_id", "step", "metric"])
    last = df.groupby("run_id")["step"].transform("max")
    return df[df["step"] == last]


SUMMARY_GROUP = GROUP + ["recipe", "eval_spec"]


def summarize(df):
    """Final value per variant × dataset × metric × recipe × EvalSpec: mean, std and the 95%
    t-interval of the mean over seeds, and the number of distinct runs. Seeds are pooled only
    within one recipe evaluated under one EvalSpec; ``setting`` names what sets a recipe apart
    from the other recipes of its variant × dataset."""
    import pandas as pd

    from ganbench.analysis import stats

    cols = GROUP + ["setting", "mean", "std", "ci_low", "ci_high", "runs", "unit",
                    "higher_is_better", "eval_spec", "status", "recipe"]
    fin = final_values(df)
    if fin.empty:
        return pd.DataFrame(columns=cols)
    fin = fin.assign(status=status_labels(fin), eval_spec=fin["eval_spec"].fillna(""))
    labels = recipe_labels(fin)
    # EvalSpecs per variant x dataset, each metric's counted apart (a run may evaluate a metric
    # under its own EvalSpec, e.g. fd_dinov2 beside FID): the most any one metric has
    specs = fin.groupby(["variant", "dataset", "metric"])["eval_spec"].nunique() \
        .groupby(level=[0, 1]).max()
    records = []
    for key, g in fin.groupby(SUMMARY_GROUP, sort=True, dropna=False):
        variant, dataset, metric, recipe, spec = key
        ci = stats.mean_ci(pd.to_numeric(g["value"], errors="coerce"))
        setting = labels.get(recipe, "")
        if specs.get((variant, dataset), 1) > 1:
            setting = (setting + " " if setting else "") + f"eval_spec={spec}"
        records.append({
            "variant": variant, "dataset": dataset, "metric": metric, "setting": setting,
            "mean": ci.mean, "std": ci.std, "ci_low": ci.ci_low, "ci_high": ci.ci_high,
            "runs": int(g["run_id"].nunique()), "unit": g["unit"].iloc[0],
            "higher_is_better": g["higher_is_better"].iloc[0], "eval_spec": spec,
            "status": ",".join(sorted(set(map(str, g["status"])))), "recipe": recipe})
    return pd.DataFrame.from_records(records, columns=cols)


def status_labels(df):
    """``completed``, ``failed``, or ``diverged@STEP`` for each row of a long table."""
    if "diverged_at_step" not in df:
        return df["status"].astype(str)
    at = df["diverged_at_step"]
    label = df["status"].astype(str)
    has_step = (label == "diverged") & at.notna()
    return label.where(~has_step, "diverged@" + at.where(has_step, 0).astype("int64").astype(str))


def format_summary(summary, metrics: Optional[list[str]] = None, *, ci: bool = True) -> str:
    """A wide table: one row per dataset × variant (× setting, where a variant has several
    recipes), one column per metric: ``mean ± std [95% CI of the mean]`` over the ``runs``
    distinct seeds (``ci=False``: without the interval), the interval clipped to the metric's
    range, blank where a value is undefined. Every metric: ``ganbench results --long``; the
    default view is the leaderboard (``ganbench.analysis.leaderboard``)."""
    if summary.empty:
        return "(no results)"
    s = summary if not metrics else summary[summary["metric"].isin(metrics)]
    s = s.assign(**{c: d for c, d in (("setting", ""), ("ci_low", float("nan")),
                                       ("ci_high", float("nan"))) if c not in s})
    index = ["dataset", "variant"] + (["setting"] if (s["setting"] != "").any() else [])
    def interval(r):
        if not ci or r["mean"] != r["mean"]:
            return ""
        return _ci(*clip_interval(r["metric"], r.get("unit"), r["ci_low"], r["ci_high"]))

    cell = s.apply(lambda r: _pm(r["mean"], r["std"], r["runs"]) + interval(r), axis=1)
    wide = s.assign(cell=cell).pivot_table(index=index, columns="metric", values="cell",
                                           aggfunc="first")
    grouped = s.groupby(index)
    wide.insert(0, "runs", grouped["runs"].max())
    wide.insert(0, "status", grouped["status"].first())
    wide.columns.name = None
    return wide.fillna("").to_string()


def _ci(lo: float, hi: float) -> str:
    return f" [{format_number(lo)}, {format_number(hi)}]" if lo == lo and hi == hi else ""


def _pm(mean: float, std: float, n: int) -> str:
    if mean != mean:
        return ""  # a blank, not "nan"
    if n > 1 and std == std:
        return f"{format_number(mean)} ± {format_number(std)}"
    return format_number(mean)


def format_number(x: float) -> str:
    """A number for a table: whole numbers as integers, others to about 3 significant digits."""
    if x != x:
        return "nan"
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    a = abs(x)
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if a >= 0.01 or a == 0 else f"{x:.2e}"


def metric_directions(metrics: Iterable[str], **sides) -> dict[str, Optional[bool]]:
    """metric -> higher_is_better, from the metric's registration (``MetricSpec.directions``)
    and never from a results file: a side (``name=long table``) that records another direction
    is refused (UsageError, one line). A metric no loaded plugin declares takes the direction its
    rows record, which every side must agree on."""
    from ganbench.registry import registries

    declared: dict[str, Optional[bool]] = {}
    owner: dict[str, str] = {}
    reg = registries().metrics
    for spec in reg:
        for name, hib in spec.directions.items():
            declared[name], owner[name] = hib, reg.owner(spec.name)
    out: dict[str, Optional[bool]] = {}
    for metric in metrics:
        recorded = {side: {_table_bool(v) for v in
                           df.loc[df["metric"] == metric, "higher_is_better"]} - {None}
                    for side, df in sides.items()}
        if metric in declared:
            want = declared[metric]
            for side, seen in recorded.items():
                if seen - {want}:
                    said = {None: "has no better direction", True: "higher is better",
                            False: "lower is better"}[want]
                    raise UsageError(
                        f"the {side} records higher_is_better={sorted(seen)[-1]} for "
                        f"'{metric}', but its registration (plugin '{owner[metric]}') says "
                        f"{said}: refusing a results table that disagrees with it")
            out[metric] = want
            continue
        seen = set().union(*recorded.values()) if recorded else set()
        if len(seen) > 1:
            raise UsageError(f"the sides disagree on whether higher '{metric}' is better, and "
                             "no loaded plugin declares it: refusing to guess")
        out[metric] = seen.pop() if seen else None
    return out


def compare(a, b, alpha: float = 0.05):
    """Per-metric comparison of B against A over seeds (final values of each run).

    ``delta`` is mean B − mean A, ``ci_low``/``ci_high`` its (1 − alpha) Welch t-interval and
    ``p_value`` Welch's two-sided t-test, or the exact permutation test where values tie
    (``ganbench.analysis.stats.welch``). The table runs many tests at once, so ``p_holm`` is ``p_value``
    adjusted by Holm's method over every row that has a verdict, and ``verdict`` follows it:
    better/worse where ``p_holm`` < alpha (family-wise; by the metric's registered direction),
    ``no significant difference``, ``no interval (1 seed)`` with one seed on a side, ``n/a``
    for a metric with no direction, ``incomparable`` where the sides were evaluated with
    different EvalSpecs and ``mixed recipes`` where a side pools runs of different recipes
    (compare those separately). A side recording another direction than the metric's
    registration is refused (:func:`metric_directions`).
    """
    import pandas as pd

    from ganbench.analysis import stats

    cols = GROUP + ["mean_a", "mean_b", "delta", "rel_delta", "ci_low", "ci_high", "p_value",
                    "p_holm", "runs_a", "runs_b", "verdict", "same_eval_spec"]
    fa, fb = final_values(a), final_values(b)
    records = []
    gb = {k: g for k, g in fb.groupby(GROUP, sort=False)} if not fb.empty else {}
    shared = sorted({k[2] for k in gb} & (set(fa["metric"]) if not fa.empty else set()))
    hib = metric_directions(shared, A=fa, B=fb)
    tested = []
    for key, ga in (fa.groupby(GROUP, sort=True) if not fa.empty else []):
        g2 = gb.get(key)
        if g2 is None:
            continue
        va = pd.to_numeric(ga["value"], errors="coerce")
        vb = pd.to_numeric(g2["value"], errors="coerce")
        w = stats.welch(va, vb, alpha)
        same_spec = set(ga["eval_spec"].fillna("")) == set(g2["eval_spec"].fillna("")) and \
            ga["eval_spec"].nunique(dropna=False) == 1
        mean_a = float(va.mean())
        if not same_spec:
            verdict = "incomparable"
        elif ga["recipe"].nunique() > 1 or g2["recipe"].nunique() > 1:
            verdict = "mixed recipes"
        else:
            verdict = stats.verdict(w, hib[key[2]], alpha)
            if verdict in ("better", "worse", "no significant difference"):
                tested.append(len(records))
        records.append({
            "variant": key[0], "dataset": key[1], "metric": key[2], "mean_a": mean_a,
            "mean_b": float(vb.mean()), "delta": w.delta,
            "rel_delta": w.delta / abs(mean_a) if mean_a else float("nan"),
            "ci_low": w.ci_low, "ci_high": w.ci_high, "p_value": w.p_value,
            "p_holm": float("nan"), "runs_a": int(ga["run_id"].nunique()),
            "runs_b": int(g2["run_id"].nunique()), "verdict": verdict,
            "same_eval_spec": same_spec})
    for i, adj in zip(tested, stats.holm([records[i]["p_value"] for i in tested])):
        records[i]["p_holm"] = adj
        records[i]["verdict"] = stats.verdict(
            stats.Welch(records[i]["delta"], 0.0, 0.0, adj), hib[records[i]["metric"]], alpha)
    return pd.DataFrame.from_records(records, columns=cols)


LEGACY_MAIN_METRICS = ("fid", "high_quality_pct", "frechet_data", "reverse_kl")


def main_metrics(dataset: str, have: Optional[Iterable[str]] = None) -> tuple[str, ...]:
    """The metrics a ranking on ``dataset`` reads, the main one first: its registration's
    (``DatasetSpec.main_metrics``, else ``DatasetSpec.headline``'s rule), kept to those in
    ``have`` (the metrics a results set holds) when given. Where ``have`` holds none of them
    (a dataset no loaded plugin registers, or runs evaluated without them), the first of
    ``fid``, ``high_quality_pct``, ``frechet_data``, ``reverse_kl`` it has; empty when it has
    none of these either."""
    from ganbench.registry import registries

    reg = registries().datasets
    names = reg.get(dataset).headline() if dataset in reg else LEGACY_MAIN_METRICS[:1]
    if have is None:
        return tuple(names)
    have = set(have)
    found = tuple(m for m in names if m in have)
    if not found:  # evaluated without them (or not registered): the first of the usual ones
        found = tuple(m for m in LEGACY_MAIN_METRICS if m in have)[:1]
    return found


def main_metric(dataset: str, have: Iterable[str]) -> Optional[str]:
    """The main metric of ``dataset`` among the metrics ``have`` (:func:`main_metrics`), or
    None."""
    found = main_metrics(dataset, have)
    return found[0] if found else None


def main_rows(df):
    """The rows of ``df`` whose metric is one of their dataset's main metrics
    (:func:`main_metrics`): what ``ganbench compare`` tests by default."""
    if df.empty:
        return df
    keep = {ds: set(main_metrics(ds, set(g["metric"].dropna())))
            for ds, g in df.groupby("dataset")}
    return df[[m in keep.get(d, ()) for d, m in zip(df["dataset"], df["metric"])]]


# Metrics whose values are confined to a range: displayed intervals are clipped to it. Metrics
# not named here take their unit's range (``%``: [0, 100], ``prob``: [0, 1]) or none.
NONNEGATIVE = ("fid", "kid", "frechet_data", "reverse_kl", "class_kl", "stacked_kl",
               "modes_covered", "classes_covered", "stacked_modes", "density", "kid_std",
               "is_std", "images_per_s", "peak_rss_mb", "peak_cuda_mb", "g_grad_norm")
RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, math.inf) for m in NONNEGATIVE},
    "high_quality_pct": (0.0, 100.0),
    "precision": (0.0, 1.0), "recall": (0.0, 1.0), "coverage": (0.0, 1.0),
    "cond_accuracy": (0.0, 1.0), "d_real": (0.0, 1.0), "d_fake": (0.0, 1.0),
    "is": (1.0, math.inf),
}
UNIT_RANGES = {"%": (0.0, 100.0), "prob": (0.0, 1.0)}


def metric_range(metric: str, unit: Any = None) -> tuple[float, float]:
    """The values ``metric`` can take (``(-inf, inf)`` when unknown)."""
    if metric in RANGES:
        return RANGES[metric]
    return UNIT_RANGES.get(unit if isinstance(unit, str) else "", (-math.inf, math.inf))


def clip_interval(metric: str, unit: Any, low: float, high: float) -> tuple[float, float]:
    """The interval [low, high] clipped to the range of ``metric`` (NaN stays NaN)."""
    lo, hi = metric_range(metric, unit)
    if low == low:
        low = min(max(low, lo), hi)
    if high == high:
        high = max(min(high, hi), lo)
    return low, high
