"""Results that know which code made them (code identity beside the run id, stale runs,
pooling across code) and files that honour the umask."""

import json
import os
import stat

import pytest
import torch

from ganbench import cli, results
from ganbench.artifacts import atomic_write as artifact_write
from ganbench.checkpoint import Checkpointer


@pytest.fixture
def umask():
    """Set the process umask for the test; restored after it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    meta = {"run_id": "r1", "variant": "v", "dataset": "d", "status": "completed"}
    run = results.write_run(tmp_path, meta, [{"step": 1, "metric": "m", "value": 1.0}])
    picture = artifact_write(tmp_path / "p.png", b"png")  # pictures, generators, reports
    ck = Checkpointer(tmp_path / "c.ckpt", "r1")
    lin = torch.nn.Linear(1, 1)
    ck.save({"G": lin}, torch.Generator(), {}, [], 1, 1, 0.0, 0.0)
    table = tmp_path / "t.csv"
    assert cli.main(["results", str(run), "--export", str(table)]) == 0
    for path in (run, picture, ck.path, table):
        assert _mode(path) == mode, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "p.png", "r1.json",
                                                          "t.csv"]  # no temporary left
