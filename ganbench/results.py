"""Results store: one JSON file per run, written atomically; a loader that returns one tidy
pandas DataFrame; the summary and comparison tables.

A run file is ``{"format": "ganbench-run/1", "meta": {...}, "rows": [...]}``. ``meta`` holds
what is constant over the run (names, seed, budget, hyperparameters, machine, versions,
status); each row is one metric value at one evaluation point. The loader broadcasts meta into
every row, giving the long table documented in ``results/README.md``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from ganbench.errors import UsageError

FORMAT = "ganbench-run/1"
META_COLUMNS = [
    "run_id", "suite", "variant", "model", "loss", "dataset", "seed", "budget", "status",
]
ROW_COLUMNS = [
    "step", "images_seen", "wall_s", "metric", "value", "unit", "higher_is_better", "eval_spec",
]
TAIL_COLUMNS = ["extractor", "device", "torch", "ganbench_version", "git_sha"]
STATUS_COLUMNS = ["diverged_at_step", "error"]  # why a run is not `completed` (else empty)
COLUMNS = META_COLUMNS + ROW_COLUMNS + TAIL_COLUMNS + STATUS_COLUMNS
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
    from ganbench.safepath import safe_child

    return safe_child(out_dir, run_id, ".json")


def write_run(out_dir: Union[str, Path], meta: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write one run's file atomically: a temporary file in the same directory, fsync, rename.

    A reader never sees a half-written file, and a crash leaves at most a stray temporary.
    """
    path = run_path(out_dir, meta["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"format": FORMAT, "meta": meta, "rows": rows}, allow_nan=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{meta['run_id']}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_run(path: Union[str, Path]) -> dict[str, Any]:
    """Parse and check one run file; ValueError with the reason when it is not valid."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if not isinstance(data.get("meta"), dict) or not isinstance(data.get("rows"), list):
        raise ValueError("missing meta or rows")
    if not all(isinstance(r, dict) for r in data["rows"]):
        raise ValueError("a row is not an object")
    return data


def _files(paths: Iterable[Union[str, Path]]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.json") if not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"no results at '{p}' (no such file or directory)")
    return files


def load(paths: Union[str, Path, Iterable[Union[str, Path]]], *, warn=None):
    """One long DataFrame of every run file under ``paths`` (files or directories).

    A file that is not a valid run file is reported through ``warn`` (stderr by default) and
    skipped. Tables exported with ``ganbench results --csv/--parquet`` load too.
    """
    import pandas as pd

    if isinstance(paths, (str, Path)):
        paths = [paths]
    warn = warn or (lambda msg: print(f"ganbench: warning: {msg}", file=sys.stderr))
    frames = []
    records = []
    for f in _files(paths):
        if f.suffix in (".parquet", ".csv"):
            try:
                frames.append(pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f))
            except Exception as exc:  # pandas/pyarrow raise many types for a corrupt table
                warn(f"skipping '{f}': unreadable table ({type(exc).__name__}: {exc})")
            continue
        try:
            data = read_run(f)
        except ValueError as exc:
            warn(f"skipping '{f}': {exc}")
            continue
        meta = data["meta"]
        base = {c: meta.get(c) for c in META_COLUMNS + TAIL_COLUMNS + STATUS_COLUMNS}
        base["extractor"] = (meta.get("eval_spec") or {}).get("extractor")
        for r in data["rows"]:
            records.append({**base, **{c: r.get(c) for c in ROW_COLUMNS}})
    if records:
        frames.append(pd.DataFrame.from_records(records, columns=COLUMNS))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def final_values(df):
    """The last evaluation of each run: one row per run × metric."""
    if df.empty:
        return df
    last = df.groupby("run_id")["step"].transform("max")
    return df[df["step"] == last]


def summarize(df):
    """Final value per variant × dataset × metric: mean and std over seeds (and run count)."""
    import pandas as pd

    fin = final_values(df)
    if fin.empty:
        return pd.DataFrame(columns=GROUP + ["mean", "std", "runs", "unit", "higher_is_better"])
    fin = fin.assign(status=status_labels(fin))  # diverged runs show their step
    g = fin.groupby(GROUP, sort=True, dropna=False)
    out = g["value"].agg(["mean", "std", "count"]).rename(columns={"count": "runs"})
    out["unit"] = g["unit"].first()
    out["higher_is_better"] = g["higher_is_better"].first()
    out["eval_spec"] = g["eval_spec"].agg(lambda s: ",".join(sorted(set(map(str, s)))))
    out["status"] = g["status"].agg(lambda s: ",".join(sorted(set(map(str, s)))))
    return out.reset_index()


def status_labels(df):
    """``completed``, ``failed``, or ``diverged@STEP`` for each row of a long table."""
    if "diverged_at_step" not in df:
        return df["status"].astype(str)
    at = df["diverged_at_step"]
    label = df["status"].astype(str)
    has_step = (label == "diverged") & at.notna()
    return label.where(~has_step, "diverged@" + at.where(has_step, 0).astype("int64").astype(str))


def format_summary(summary, metrics: Optional[list[str]] = None) -> str:
    """A wide, readable table: one row per variant × dataset, one column per metric."""
    if summary.empty:
        return "(no results)"
    s = summary if not metrics else summary[summary["metric"].isin(metrics)]
    cell = s.apply(lambda r: _pm(r["mean"], r["std"], r["runs"]), axis=1)
    wide = s.assign(cell=cell).pivot_table(index=["variant", "dataset"], columns="metric",
                                           values="cell", aggfunc="first")
    status = s.groupby(["variant", "dataset"])["status"].first()
    wide.insert(0, "status", status)
    wide.columns.name = None
    return wide.fillna("").to_string()


def _pm(mean: float, std: float, n: int) -> str:
    if n > 1 and std == std:
        return f"{_num(mean)} ± {_num(std)}"
    return _num(mean)


def _num(x: float) -> str:
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


def compare(a, b):
    """Per-metric deltas of B against A (means over seeds of final values).

    ``verdict`` is better/worse/same from ``higher_is_better`` (``n/a`` where a metric has no
    direction); ``same_eval_spec`` is False where the two sides were evaluated differently, and
    then the verdict is ``incomparable``.
    """
    sa, sb = summarize(a), summarize(b)
    m = sa.merge(sb, on=GROUP, how="inner", suffixes=("_a", "_b"))
    m["delta"] = m["mean_b"] - m["mean_a"]
    m["rel_delta"] = m["delta"] / m["mean_a"].abs().where(m["mean_a"] != 0)
    m["same_eval_spec"] = m["eval_spec_a"] == m["eval_spec_b"]

    def verdict(r):
        if not r["same_eval_spec"]:
            return "incomparable"
        hib = r["higher_is_better_a"]
        if hib is None or hib != hib:
            return "n/a"
        if r["delta"] == 0 or abs(r["delta"]) <= 1e-12 * max(1.0, abs(r["mean_a"])):
            return "same"
        return "better" if (r["delta"] > 0) == bool(hib) else "worse"

    m["verdict"] = m.apply(verdict, axis=1) if len(m) else []
    cols = GROUP + ["mean_a", "mean_b", "delta", "rel_delta", "runs_a", "runs_b", "verdict",
                    "same_eval_spec"]
    return m[cols]
