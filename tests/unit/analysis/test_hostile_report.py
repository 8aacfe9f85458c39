"""Hostile or clumsy input to what looks at runs (issue 25): ``ganbench report``, kept
generators and the picture commands (sample, interpolate, arithmetic, train-extractor). Each
case broke once; now one clear line and exit code 2, nothing outside the output directory is
touched, nothing already written is lost.

One tiny run (ring8, 5 steps, 100 evaluation samples) is trained once per module in a
subprocess; every test reads it or copies of it, changed.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ganbench.api.errors import UsageError

from conftest import run_cli

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile-report") / "runs"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget", "5steps",
                "--evals", "1", "--eval-samples", "100", "--no-calibration", "--out", str(out),
                "-q", env=ENV)
    assert r.returncode == 0, r.stderr
    (run_file,) = out.glob("*.json")
    return run_file


def _cli(capsys, *argv) -> tuple[int, str]:
    """``ganbench ARGV`` in this process: (exit code, stderr)."""
    from ganbench.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    return code, capsys.readouterr().err


def _one_line_refusal(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


# ------------------------------------------------------------------- report: where it writes


def _report(tiny, out):
    from ganbench.analysis.report import make_report

    return make_report([tiny.parent], out, warn=lambda m: None)


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("link", ["img", "img/runs", "img/runs/RUN", "img/FIGURE",
                                  "index.html"])
def test_report_never_writes_through_a_symlink(tiny, tmp_path, link):
    """A symlink inside the report directory (its img folder, the folder of a run's
    pictures, a figure or the page itself) is refused, and the file or folder it points to
    is left exactly as it was."""
    figure = next(iter(Path(_report(tiny, tmp_path / "first")).parent.glob("img/*.png"))).name
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim"
    victim.write_bytes(b"keep me")
    (elsewhere / figure).write_bytes(b"keep me too")
    out = tmp_path / "report"
    rel = link.replace("RUN", tiny.stem).replace("FIGURE", figure)
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(victim if "." in Path(rel).name else elsewhere, out / rel)
    before = _tree(elsewhere)
    with pytest.raises(UsageError, match="symlink"):
        _report(tiny, out)
    assert _tree(elsewhere) == before


@pytest.mark.parametrize("what", ["img", "img/runs", "index.html"])
def test_report_refuses_a_file_or_folder_in_the_wrong_place(tiny, tmp_path, what):
    out = tmp_path / "report"
    (out / what).parent.mkdir(parents=True, exist_ok=True)
    if what.endswith(".html"):
        (out / what).mkdir()
    else:
        (out / what).write_text("a file")
    with pytest.raises(UsageError, match="directory|cannot write"):
        _report(tiny, out)


@pytest.mark.parametrize("out", ["", "   "])
def test_report_refuses_an_empty_out(tiny, tmp_path, monkeypatch, capsys, out):
    monkeypatch.chdir(tmp_path)
    code, err = _cli(capsys, "report", str(tiny.parent), "--out", out)
    _one_line_refusal(code, err, "--out")
    assert list(tmp_path.iterdir()) == []


def test_report_on_a_full_disk_keeps_the_previous_page(tiny, tmp_path, monkeypatch):
    """ENOSPC while writing: one UsageError, the page of the previous report byte for byte,
    no temporary file left behind."""
    import errno

    out = tmp_path / "report"
    index = _report(tiny, out)
    before = _tree(out)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UsageError, match="No space left"):
        _report(tiny, out)
    monkeypatch.undo()
    assert _tree(out) == before
    assert index.read_bytes() == before["index.html"]


def test_report_under_ulimit_f_is_one_line_and_keeps_the_previous_page(tiny, tmp_path):
    """RLIMIT_FSIZE (``ulimit -f``) smaller than a figure: exit 2, one line, the previous
    report intact."""
    out = tmp_path / "report"
    _report(tiny, out)
    before = _tree(out)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)); "
            "from ganbench.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "report", str(tiny.parent), "--out",
                        str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, **ENV, "GANBENCH_LOAD_PLUGINS": ""})
    _one_line_refusal(r.returncode, r.stderr, "File too large")
    assert _tree(out) == before


def test_report_files_are_readable_like_plain_files(tiny, tmp_path):
    out = tmp_path / "report"
    _report(tiny, out)
    umask = os.umask(0o022)
    os.umask(umask)
    for p in [out / "index.html", *out.glob("img/**/*.png")]:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


# ------------------------------------------------------------------- report: what it draws


def _crafted(tiny, directory: Path, *, variant=None, dataset=None, value=None) -> Path:
    """Two seeds of the tiny run with another variant or dataset name, or every metric value
    replaced by ``value`` (alternating sign)."""
    directory.mkdir(parents=True, exist_ok=True)
    for seed in (0, 1):
        data = json.loads(tiny.read_text())
        meta = data["meta"]
        meta.update(seed=seed, run_id=f"crafted__s{seed}")
        meta["variant"] = meta["variant"] if variant is None else variant
        meta["dataset"] = meta["dataset"] if dataset is None else dataset
        if value is not None:
            for i, r in enumerate(data["rows"]):
                r["value"] = value if i % 2 == 0 else -value
        (directory / f"crafted__s{seed}.json").write_text(json.dumps(data))
    return directory


NAMES = {
    "mathtext variant": {"variant": r"$\foo{$"},
    "mathtext dataset": {"dataset": r"ds$\frac{$"},
    "300-character dataset": {"dataset": "d" * 300},
    "dataset with a slash": {"dataset": "../../etc/passwd"},
    "control characters": {"variant": "a\x00b\nc", "dataset": "-d\x00\n\t"},
    "empty names": {"variant": "", "dataset": ""},
    "10,000-character variant": {"variant": "v" * 10_000},
    "max float": {"value": 1.7e308},
    "infinity": {"value": math.inf},
    "nan": {"value": math.nan},
}


@pytest.mark.parametrize("change", list(NAMES.values()), ids=list(NAMES))
def test_report_draws_any_name_and_value(tiny, tmp_path, change):
    """Names are drawn as plain text (no mathtext), file names stay short and inside img/,
    values at the float limit or infinite do not break the axes."""
    runs = _crafted(tiny, tmp_path / "runs", **change)
    from ganbench.analysis.report import make_report

    out = tmp_path / "report"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        index = make_report([runs], out, warn=lambda m: None)
    assert not [w for w in seen if "Glyph" in str(w.message)]  # no lines on stderr
    figures = [p for p in (out / "img").iterdir() if p.suffix == ".png"]
    assert len(figures) >= 3
    page = index.read_text()
    for p in figures:
        assert len(p.name) <= 100 and p.name[0].isalnum() and p.parent == out / "img"
        assert f"img/{p.name}" in page
    assert not (tmp_path / "etc").exists()


def test_report_file_names_of_different_long_names_differ():
    from ganbench.analysis.report import _file_name

    a, b = _file_name("d" * 300, "fid"), _file_name("d" * 299 + "e", "fid")
    assert a != b and len(a) < 100 and len(b) < 100
    assert _file_name("a b", "fid") != _file_name("a_b", "fid")
    assert _file_name("ring8", "fid") == "ring8--fid.png"  # plain names stay readable


@pytest.mark.parametrize("values, mean, std", [
    ([1.7e308, 1.7e308], 1.7e308, 0.0),
    ([1.7e308, -1.7e308], 0.0, math.inf),
    ([-1.7e308, -1.7e308, -1.7e308], -1.7e308, 0.0),
])
def test_mean_ci_at_the_float_limit(values, mean, std):
    from ganbench.analysis.stats import mean_ci

    r = mean_ci(values)
    assert r.n == len(values) and r.mean == pytest.approx(mean) and r.std == pytest.approx(std)


def test_welch_at_the_float_limit_is_no_overflow_error():
    """``compare``/``check`` pool the same values: fsum and ``** 2`` overflowed there."""
    import numpy as np

    from ganbench.analysis.stats import welch

    with np.errstate(over="ignore", invalid="ignore"):
        w = welch([1.7e308, 1.6e308], [-1.7e308, -1.6e308])
        far = welch([1e200, 2e200, 3e200], [2e200, 3e200, 5e200])
    assert w.delta == -math.inf
    near = welch([1.0, 2.0, 3.0], [2.0, 3.0, 5.0])  # the same numbers, scaled by 1e200
    assert far.delta == pytest.approx(near.delta * 1e200)
    assert far.p_value == pytest.approx(near.p_value)


# ---------------------------------------------------------------------- kept generators


def _tampered(tiny, tmp_path, change) -> Path:
    """A copy of the tiny run whose kept generator's record is changed by ``change``."""
    from safetensors.torch import load, save

    out = tmp_path / "runs"
    (out / tiny.stem).mkdir(parents=True)
    shutil.copy(tiny, out)
    data = (tiny.parent / tiny.stem / "generator.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    record = json.loads(json.loads(data[8:8 + n])["__metadata__"]["ganbench"])
    change(record)
    (out / tiny.stem / "generator.safetensors").write_bytes(
        save(load(data), metadata={"format": "ganbench-generator/1",
                                   "ganbench": json.dumps(record)}))
    return out / tiny.name


def _set(path: str, value):
    def change(record):
        *where, last = path.split(".")
        d = record
        for k in where:
            d = d[k]
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value
    return change


_DELETE = object()
TAMPERED = {
    "another model (conv)": _set("model", "dcgan"),
    "another model (linear)": _set("model", "linear"),
    "unknown model": _set("model", "bogus"),
    "z_dim -5": _set("z_dim", -5),
    "z_dim 1e9": _set("z_dim", 10**9),
    "z_dim string": _set("z_dim", "16"),
    "shape [-1]": _set("data_spec.shape", [-1]),
    "shape [1e9]": _set("data_spec.shape", [10**9]),
    "shape 1e4 x 1e4 x 3": _set("data_spec.shape", [3, 10**4, 10**4]),
    "images for points": _set("data_spec.kind", "images"),
    "images of the right shape for points": lambda r: r["data_spec"].update(
        kind="images", shape=[1, 28, 28]),
    "unknown kind": _set("data_spec.kind", "voxels"),
    "classes -1": _set("data_spec.num_classes", -1),
    "conditional without classes": _set("conditional", True),
    "conditional as a string": _set("conditional", "yes"),
    "eval seed 1e23": _set("eval_spec.seed", 10**23),
    "eval seed -1": _set("eval_spec.seed", -1),
    "n_samples -3": _set("eval_spec.n_samples", -3),
    "n_samples 1e12": _set("eval_spec.n_samples", 10**12),
    "eval spec unknown field": _set("eval_spec.bogus", 1),
    "eval spec a string": _set("eval_spec", "x"),
    "step x": _set("step", "x"),
    "window a string": _set("window", "abc"),
    "window all zeros": _set("window", [0, 0, 0, 0]),
    "window of three": _set("window", [0, 1, 0]),
    "window with inf": _set("window", [0, math.inf, 0, 1]),
    "no dataset": _set("dataset", _DELETE),
    "dataset a number": _set("dataset", 5),
    "model options a list": _set("model_options", [1, 2]),
    "unknown model option": _set("model_options", {"hidden": 3}),
    "huge hidden layer": _set("model_options", {"g_hidden": [10**9]}),
    "huge D": _set("model_options", {"d_hidden": [2**20, 2**20]}),
}


@pytest.mark.parametrize("change", list(TAMPERED.values()), ids=list(TAMPERED))
def test_tampered_generator_record_is_one_line_naming_the_file(tiny, tmp_path, capsys,
                                                               change):
    """Validated (pydantic) and bounded before anything is allocated: a refusal in a
    fraction of a second, never an allocation of hundreds of GB or a traceback."""
    run = _tampered(tiny, tmp_path, change)
    code, err = _cli(capsys, "sample", str(run), "--out", str(tmp_path / "s.png"))
    _one_line_refusal(code, err, "generator.safetensors")
    assert not (tmp_path / "s.png").exists()


def test_untampered_copy_still_opens(tiny, tmp_path, capsys):
    run = _tampered(tiny, tmp_path, lambda r: None)
    code, err = _cli(capsys, "sample", str(run), "--out", str(tmp_path / "s.png"))
    assert code == 0, err and (tmp_path / "s.png").exists()


# --------------------------------------------------------------- sizes from the command line

BIG = "1000000000"
SEED = str(10**23)


@pytest.mark.parametrize("argv, needle", [
    (["sample", "RUN", "--n", BIG], "from 1 to 100000"),
    (["sample", "RUN", "--n", "0"], "from 1 to 100000"),
    (["sample", "RUN", "--seed", SEED], f"from 0 to {2**63 - 1}"),
    (["sample", "RUN", "--seed", "-1"], f"from 0 to {2**63 - 1}"),
    (["sample", "RUN", "--class", "-1"], "at least 0"),
    (["sample", "RUN", "--step", "-1"], "at least 0"),
    (["interpolate", "RUN", "--pairs", BIG], "from 1 to 100000"),
    (["interpolate", "RUN", "--steps", BIG], "from 2 to 100000"),
    (["interpolate", "RUN", "--steps", "0"], "from 2 to 100000"),
    (["interpolate", "RUN", "--steps", "1"], "from 2 to 100000"),
    (["interpolate", "RUN", "--seed", SEED], f"from 0 to {2**63 - 1}"),
    (["interpolate", "RUN", "--pairs", "1000", "--steps", "1000"], "at most 100000"),
    (["arithmetic", "RUN", "7-1+4", "--pool", BIG], "from 1 to 100000"),
    (["arithmetic", "RUN", "7-1+4", "--count", BIG], "from 1 to 100000"),
    (["arithmetic", "RUN", "7-1+4", "--exemplars", BIG], "from 1 to 100000"),
    (["arithmetic", "RUN", "7-1+4", "--seed", SEED], f"from 0 to {2**63 - 1}"),
    (["arithmetic", "RUN", "7-1+4", "--jitter", "nan"], "finite"),
    (["arithmetic", "RUN", "7-1+4", "--jitter", "inf"], "finite"),
    (["arithmetic", "RUN", "7-1+4", "--jitter", "-5"], "at least 0"),
    (["sample", "RUN", "--results", ""], "--results needs a path"),
    (["sample", "", "--results", "RESULTS"], "RUN needs a path"),
    (["train-extractor", "--dataset", "digits", "--seed", SEED], f"from 0 to {2**63 - 1}"),
    (["train-extractor", "--dataset", "digits", "--batch-size", "0"], "positive integer"),
    (["train-extractor", "--dataset", "digits", "--data-root", ""], "--data-root needs a path"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_sizes_and_seeds_from_the_command_line_are_bounded(tiny, tmp_path, capsys, argv,
                                                           needle):
    argv = [{"RUN": str(tiny), "RESULTS": str(tiny.parent)}.get(a, a) for a in argv]
    out = tmp_path / ("x" if argv[0] == "train-extractor" else "x.png")
    code, err = _cli(capsys, *argv, "--out", str(out))
    _one_line_refusal(code, err, needle)
    assert not out.exists()


def test_train_extractor_refuses_an_empty_out(capsys, monkeypatch):
    """``--out ''`` (an unset variable) was taken as the default: the package's shipped
    weights directory."""
    from ganbench.evaluation.extractors import domain

    before = sorted(p.name for p in domain.WEIGHTS_DIR.iterdir())
    code, err = _cli(capsys, "train-extractor", "--dataset", "digits", "--out", "")
    _one_line_refusal(code, err, "--out needs a path")
    assert sorted(p.name for p in domain.WEIGHTS_DIR.iterdir()) == before


def test_library_calls_check_what_the_command_line_checks(tiny):
    from ganbench.analysis import latent
    from ganbench import registry as plugins

    kept = latent.open_run(str(tiny), None, plugins.registries())
    with pytest.raises(UsageError, match="--steps"):
        latent.interpolate(kept, steps=0)  # not silently 10
    with pytest.raises(UsageError, match="--seed"):
        latent.interpolate(kept, seed=10**23)
    with pytest.raises(UsageError, match="--seed"):
        latent.sample(kept, seed=-1)
    for jitter in (math.nan, math.inf, -5.0):
        with pytest.raises(UsageError, match="--jitter"):
            latent.arithmetic(kept, "7-1+4", jitter=jitter)
    with pytest.raises(UsageError, match="at most 100000"):
        latent.arithmetic(kept, "7-1+4", pool=10**9)
    # the default number of steps is still the one documented (64 for points)
    _, _, z, _ = latent.interpolate(kept, pairs=1)
    assert z.shape[:2] == (2, 64)


@pytest.mark.parametrize("expr, needle", [
    ("+".join(["1"] * 100), "at most 64"),
    ("1" * 5000 + "+1", "is not like 7-1+4"),  # int() of 5000 digits raised ValueError
    ("7-1+" + "4" * 30, "is not like 7-1+4"),
])
def test_arithmetic_expression_is_bounded(expr, needle):
    from ganbench.analysis.latent import parse_expression

    with pytest.raises(UsageError, match=re.escape(needle)) as exc:
        parse_expression(expr, 10)
    assert len(str(exc.value)) < 200


def test_pictures_refuse_a_huge_grid_before_allocating_it():
    import torch

    from ganbench.store import pictures

    with pytest.raises(UsageError, match="at most"):
        pictures.image_grid(torch.zeros(1, 1, 28, 28), 10**5, 10**5)


@pytest.mark.parametrize("points", [[[3.0, 3.0]] * 10, [[math.nan, 0.0]] * 10,
                                    [[math.inf, -math.inf]] * 10])
def test_scatter_window_of_degenerate_points_is_a_real_window(points):
    """All samples at one place, or diverged to NaN/inf: a window of positive, finite width
    (a zero-width window divided by zero)."""
    import numpy as np

    from ganbench.store import pictures

    w = pictures.window(None, np.asarray(points))
    assert all(math.isfinite(v) for v in w) and w[1] > w[0] and w[3] > w[2]
    pictures.scatter(np.asarray(points), w)


def test_log_axes_label_their_ticks_as_plain_text():
    """The report draws with mathtext off (a '$' in a variant's name stays text), and the log
    scale's default tick labels are mathtext: they once showed as '$\\mathdefault{10^{3}}$'.
    A distance spanning three decades gets a log axis whose tick labels read 10, 100, 1000."""
    from matplotlib import rc_context

    from ganbench.analysis import report

    with rc_context({"text.parse_math": False}):
        fig = report._figure(4, 3)
        ax = fig.subplots()
        ax.plot([0, 1, 2, 3], [2000.0, 300.0, 40.0, 5.0], label="$\\foo{$ variant")
        report._log_if_spread(ax, "fid")
        fig.canvas.draw()
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.get_yscale() == "log"
    assert {"10", "100", "1000"} <= set(labels), labels
    assert not any("$" in t or "mathdefault" in t for t in labels), labels
