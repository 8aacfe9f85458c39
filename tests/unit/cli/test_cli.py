import json
import os
import stat
import sys

import pytest

from conftest import REPO, run_cli

from ganbench import cli


def _one_line_exit_2(r, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("args,fragments", [
    (["run", "--variant", "non-saturatin", "--dataset", "ring8"],
     ["unknown variant 'non-saturatin'", "did you mean 'non-saturating'"]),
    (["run", "--model", "dcgna", "--loss", "minimax", "--dataset", "digits"],
     ["unknown model 'dcgna'", "did you mean 'dcgan'"]),
    (["run", "--variant", "dcgan", "--loss", "minmax", "--dataset", "digits"],
     ["unknown loss 'minmax'", "did you mean 'minimax'"]),
    (["run", "--variant", "dcgan", "--dataset", "digit"],
     ["unknown dataset 'digit'", "did you mean 'digits'"]),
    (["run", "--all", "--suite", "quik"], ["unknown suite 'quik'", "did you mean 'quick'"]),
    (["run", "--all", "--budget", "12 parsecs"], ["invalid budget '12 parsecs'"]),
    (["run", "--all", "--seeds", "1,x"], ["invalid seeds '1,x'"]),
    (["run", "--all", "--batch-size", "0"], ["--batch-size", "positive integer"]),
    (["run", "--all", "--lr", "-1"], ["lr_g must be in (0, 10)"]),
    (["run", "--variant", "dcgan", "--dataset", "ring8"], ["cannot run on 'ring8'"]),
    (["run"], ["say what to run"]),
    (["run", "--all", "--device", "tpu"], ["invalid device 'tpu'"]),
    (["frobnicate"], ["invalid choice"]),
    (["results", "/nonexistent/place"], ["no results at '/nonexistent/place'"]),
])
def test_bad_input_is_one_line_and_exit_2(args, fragments, tmp_path):
    r = run_cli(*args, "--out", str(tmp_path / "o")) if args[0] == "run" else run_cli(*args)
    _one_line_exit_2(r, *fragments)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_directory(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "gaussian", "--budget",
                "5steps", "--out", str(d / "runs"))
    _one_line_exit_2(r, "cannot write to output directory")


def test_output_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("keep me")
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "gaussian", "--budget",
                "5steps", "--out", str(f))
    _one_line_exit_2(r, "cannot write to output directory")
    assert f.read_text() == "keep me"


def test_run_results_compare_end_to_end(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--variant", "non-saturating,vanilla-minimax", "--dataset", "ring8", "--budget",
              "50steps", "--evals", "2", "--seeds", "0,1"]
    r = run_cli("run", *common, "--out", str(a))
    assert r.returncode == 0, r.stderr
    # four runs and the two calibration rows of ring8 (real data, noise)
    assert len(list(a.glob("*.json"))) == 6 and len(list(a.glob("calib-*.json"))) == 2
    assert "[4/4] vanilla-minimax on ring8 (seed 1, 50steps): completed" in r.stderr
    assert "modes_covered" in r.stdout and "non-saturating" in r.stdout

    # a second identical command reuses the finished runs
    r2 = run_cli("run", *common, "--out", str(a))
    assert r2.returncode == 0 and "4 already done" in r2.stderr
    assert "[1/" not in r2.stderr

    r = run_cli("results", str(a), "--json")
    summary = json.loads(r.stdout)
    modes = [s for s in summary if s["metric"] == "modes_covered"]
    assert {s["variant"] for s in modes} == {"non-saturating", "vanilla-minimax", "calib-real",
                                             "calib-noise"}
    assert all(s["runs"] == 2 for s in modes if not s["variant"].startswith("calib-"))
    real = next(s for s in modes if s["variant"] == "calib-real")
    assert real["mean"] == 8 and real["runs"] == 1

    r = run_cli("run", *common[:-2], "--seeds", "0", "--lr", "5e-4", "--out", str(b))
    assert r.returncode == 0, r.stderr
    r = run_cli("compare", str(a), str(b), "--json", "--metric", "frechet_data")
    rows = [row for row in json.loads(r.stdout) if not row["variant"].startswith("calib-")]
    assert len(rows) == 2  # one seed in B: no interval can be given
    assert all(row["verdict"] == "no interval (1 seed)" for row in rows)
    for row in rows:
        assert row["delta"] == pytest.approx(row["mean_b"] - row["mean_a"])

    export = tmp_path / "all.parquet"
    r = run_cli("results", str(a), "--export", str(export), "--csv", "--long")
    assert r.returncode == 0 and export.exists()
    import pandas as pd

    df = pd.read_parquet(export)
    assert set(df["seed"]) == {0, 1} and len(df) == len(r.stdout.strip().splitlines()) - 1


def test_rows_carry_every_documented_column(tmp_path):
    r = run_cli("run", "--variant", "dcgan", "--dataset", "digits", "--budget", "10steps",
                "--evals", "1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    from ganbench.store import results

    df = results.load(tmp_path)
    assert list(df.columns) == results.COLUMNS
    assert df["device"].iloc[0] == "cpu" and df["torch"].iloc[0]
    assert df.notna()[["run_id", "variant", "model", "loss", "dataset", "seed", "step",
                       "images_seen", "wall_s", "metric", "eval_spec"]].all().all()
    assert set(df["step"]) == {0, 10}


@pytest.mark.parametrize("cmd", ["run", "list", "plugins", "results", "compare"])
def test_every_command_has_help(cmd):
    r = run_cli(cmd, "--help")
    assert r.returncode == 0 and "usage: ganbench " + cmd in r.stdout


def test_list_json_and_text():
    r = run_cli("list", "--json")
    data = json.loads(r.stdout)
    assert set(data) == {"variants", "models", "losses", "regularizers", "step_hooks",
                         "datasets", "metrics", "suites", "executors", "search_spaces",
                         "augmentations", "latent_samplers"}
    assert {a["name"] for a in data["augmentations"]} >= {"diffaugment", "ada"}
    v = {x["name"]: x for x in data["variants"]}
    assert v["infogan"]["latent"] == "infogan:cat=8:cont=0" and v["dcgan"]["augment"] is None
    assert v["dcgan"]["hparams"]["lr_g"] == 2e-4 and v["dcgan"]["hparams"]["betas"] == [0.5, 0.999]
    r = run_cli("list", "losses")
    assert "minimax" in r.stdout and "non-saturating" in r.stdout and "variants:" not in r.stdout


def test_help_is_fast_and_imports_no_torch():
    import subprocess
    import sys

    code = "import sys; from ganbench.cli import build_parser; build_parser(); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args", [["list", "losses"], ["run", "--variant", "nope"],
                                  ["frobnicate"], ["run", "--all", "--dry-run", "--seeds", "0"]])
def test_run_cli_in_process_answers_as_the_subprocess_does(args):
    """conftest.run_cli runs the CLI in this process by default; it must see what a fresh
    ``python -m ganbench`` sees: the same exit status, stdout and stderr (argparse's usage
    errors included), and leave this process's environment, cwd and argv as they were."""
    before = dict(os.environ), os.getcwd(), list(sys.argv)
    inproc = run_cli(*args)
    assert (dict(os.environ), os.getcwd(), list(sys.argv)) == before
    sub = run_cli(*args, subprocess=True)
    assert (inproc.returncode, inproc.stdout, inproc.stderr) == (
        sub.returncode, sub.stdout, sub.stderr)


def test_run_cli_in_process_reports_a_crash_as_python_does(monkeypatch):
    """An uncaught exception in an in-process run is a traceback on stderr and exit 1, and a
    warning is printed on stderr (not swallowed by pytest), as in a real process, so tests
    asserting their absence can fail."""
    import warnings

    def crash(*a, **k):
        warnings.warn("careful", UserWarning)
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "build_parser", crash)
    r = run_cli("list")
    assert r.returncode == 1 and "UserWarning: careful" in r.stderr
    assert "Traceback" in r.stderr and "RuntimeError: boom" in r.stderr


def test_progress_bar_on_a_terminal_is_tqdm(monkeypatch):
    """On a terminal the bar is tqdm's, advanced to the budget fraction and removed on close."""
    import io

    from tqdm import tqdm

    from ganbench.execution.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    bar = Progress("[1/1] x on ring8", quiet=False)
    assert isinstance(bar.bar, tqdm)
    bar.update(0.25)
    bar.update(0.75)
    assert abs(bar.bar.n - 75.0) < 1e-9
    bar.close()
    assert bar.bar is None and "[1/1] x on ring8" in err.getvalue()


def test_progress_lines_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    """Logs and CI get plain progress lines, rate-limited; -q silences them."""
    from ganbench.execution.progress import Progress

    bar = Progress("[1/2] dcgan on mnist (seed 0, 60s)", quiet=False)
    assert not bar.tty  # pytest captures stderr
    bar.update(0.1)  # within LINE_EVERY_S of the start: nothing yet
    monkeypatch.setattr(Progress, "LINE_EVERY_S", 0.0)
    bar.update(0.4)
    bar.update(1.0)  # the run's own summary line reports completion
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("[1/2] dcgan on mnist (seed 0, 60s): 40% ")
    quiet = Progress("x", quiet=True)
    quiet.update(0.5)
    assert capsys.readouterr().err == ""


def test_default_run_summary_fits_100_columns():
    """The end-of-run summary is the leaderboard (quality metrics, every line <= 100 columns,
    long names shortened); the full table (every metric) stays available with --long."""
    import pandas as pd

    from ganbench.analysis import leaderboard
    from ganbench.store import results

    rows = []
    for v in ("vanilla-minimax", "non-saturating", "a-very-long-third-party-variant-name"):
        for d, ms in (("ring8", ("modes_covered", "high_quality_pct", "reverse_kl",
                                 "frechet_data", "d_real", "images_per_s")),
                      ("digits", ("fid", "kid", "frechet_data", "precision", "recall"))):
            for seed in range(3):
                for m in ms:
                    rows.append(dict(run_id=f"{v}{d}{seed}", variant=v, dataset=d, seed=seed,
                                     status="completed", step=10, metric=m,
                                     value=12345.678 + seed, unit="", eval_spec="abc",
                                     higher_is_better=None if m == "d_real" else
                                     m in ("modes_covered", "high_quality_pct", "precision",
                                           "recall", "images_per_s"),
                                     recipe_json="{}", recipe="r"))
    df = pd.DataFrame(rows)
    for c in results.COLUMNS:
        if c not in df:
            df[c] = None
    text = leaderboard.render(df, width=100)
    assert all(len(line) <= 100 for line in text.splitlines()), text
    assert "high_quality_pct" in text and "fid" in text and "a-very-long" in text
    assert "d_real" not in text and "images_per_s" not in text


def test_run_prints_brief_summary_and_long_on_request(tmp_path):
    args = ["run", "--variant", "non-saturating", "--dataset", "ring8", "--budget", "2steps",
            "--eval-samples", "50", "--evals", "1", "--out", str(tmp_path), "-q"]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert all(len(line) <= 100 for line in r.stdout.splitlines()), r.stdout
    assert "ranked by high_quality_pct" in r.stdout and "d_real" not in r.stdout
    r = run_cli(*args, "--long")
    assert r.returncode == 0, r.stderr
    assert "d_real" in r.stdout
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    assert {"d_real", "modes_covered"} <= {x["metric"] for x in json.loads(r.stdout)}


def test_compare_two_variants_of_one_results_set(capsys):
    """``--variants VA,VB`` compares two variants' seeds per dataset: the committed PacGAN
    table's GAN vs PacGAN2 numbers (results/README.md) come back."""
    table = os.path.join(REPO, "results", "pacgan-cpu.csv")
    assert cli.main(["compare", table, "--variants", "pacgan-paper-gan,pacgan-paper-pac2",
                     "--metric", "modes_covered", "--json"]) == 0
    rows = {r["dataset"]: r for r in json.loads(capsys.readouterr().out)}
    grid = rows["pacgan-grid"]
    assert grid["variant"] == "pacgan-paper-pac2 vs pacgan-paper-gan"
    assert (grid["runs_a"], grid["runs_b"]) == (5, 5)
    assert grid["delta"] == pytest.approx(2.2, abs=1e-9)  # 12.0 - 9.8 modes, exact counts
    # mode counts tie across seeds: the exact permutation test (252 splits), no t-interval
    assert grid["p_value"] == pytest.approx(0.42, abs=0.005) and grid["ci_low"] is None
    assert grid["verdict"] == "no significant difference"


@pytest.mark.parametrize("args, said", [
    (["--variants", "pacgan-paper-gan,nope"], "no runs of variant 'nope' in B (it has: "),
    (["--variants", "pacgan-paper-gan"], "--variants needs two different variant names"),
    ([], "compare needs two results sets A B, or --variants VA,VB"),
])
def test_compare_variants_bad_input_is_one_line(args, said, capsys):
    table = os.path.join(REPO, "results", "pacgan-cpu.csv")
    assert cli.main(["compare", table, *args]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err


def test_every_command_is_an_entry_of_the_command_hook_table():
    """The built-in commands register through the plugin hook's ``register(...)`` call, into
    one table (the order of ``ganbench --help``); a plugin command named like a built-in one is
    refused with one line."""
    import importlib

    from ganbench.api.errors import PluginError
    from ganbench.cli import COMMAND_MODULES, build_parser, builtin_commands
    from ganbench.registry import Command

    table = builtin_commands()
    assert list(table) == ["run", "sweep", "list", "plugins", "results", "compare", "check",
                           "new-plugin", "check-plugin", "sample", "interpolate", "arithmetic",
                           "report"]
    assert all(isinstance(c, Command) and c.plugin == "ganbench" for c in table.values())
    for name in COMMAND_MODULES:  # each module implements the hook plugins implement
        hook = importlib.import_module(f"ganbench.cli.{name}").ganbench_register_commands
        assert hasattr(hook, "ganbench_impl")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == list(table)
    theirs = {"run": Command("mine", lambda p: None, lambda a: 0, "x", {})}
    with pytest.raises(PluginError, match="command 'run' is registered twice: by plugin "
                                          "'ganbench' and by plugin 'x'"):
        build_parser(theirs)
