"""Peak memory per run: reset between runs, recorded as metric rows."""

import dataclasses
import sys

import pytest

from ganbench.planning.budget import Budget
from ganbench.training.memory import peak_cuda_mb, peak_rss_mb, reset_peaks
from ganbench.planning.plan import plan
from ganbench.training.runner import train


def _resident_block(mib: int):
    """``mib`` MiB of fresh anonymous memory, every page touched. An mmap of its own, not the
    heap: malloc may serve a large array from free heap pages that are already resident (after
    a few hundred tests it did), and then RSS does not move."""
    import mmap

    block = mmap.mmap(-1, mib * 2**20)
    for i in range(0, len(block), mmap.PAGESIZE):
        block[i] = 1
    return block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak reset needs /proc")
def test_peak_rss_resets_between_runs():
    block = _resident_block(300)
    high = peak_rss_mb()
    block.close()
    assert reset_peaks() is True
    low = peak_rss_mb()
    assert high - low > 200  # the old peak is gone
    block = _resident_block(100)
    assert peak_rss_mb() - low > 80  # and a new one is tracked
    block.close()


def test_memory_rows_in_a_run(reg):
    import torch

    (job,) = plan(reg, variants=["non-saturating"], datasets=["ring8"], seeds=[0],
                  budget=Budget.parse("10steps"))
    res = train(dataclasses.replace(job, evals=2, metrics=("memory",)), reg, device="cpu")
    rows = [r for r in res.rows if r["metric"] == "peak_rss_mb"]
    assert [r["step"] for r in rows] == [0, 5, 10]
    assert all(r["unit"] == "MiB" and r["higher_is_better"] is False for r in rows)
    values = [r["value"] for r in rows]
    assert values == sorted(values)  # a peak never goes down within a run
    assert 50 < values[-1] < 64 * 1024  # torch alone is tens of MiB
    assert not any(r["metric"] == "peak_cuda_mb" for r in res.rows)  # CPU run
    assert peak_cuda_mb(torch.device("cpu")) is None
