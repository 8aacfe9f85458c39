"""Overhead of ganbench's training loop against a bare hand-written PyTorch loop (same G, D,
loss, optimisers, device-resident data, batch size and k), measured in interleaved pairs with
the ``ganbench_overhead`` fixture of ganbench's pytest plugin (the same one any repository
uses: src/ganbench/devkit/pytest_plugin.py).

The figure is the median per-pair ratio, in ``extra_info["overhead_ratio"]`` and in the
terminal summary. Target: at most 1.05 on a CPU (aim 1.02). ``.ci/run`` runs this file as the
performance-regression gate: it fails when the ratio passes ``GATE`` (1.10).

Environment: GANBENCH_BENCH_DEVICE (default auto), GANBENCH_OVERHEAD_PAIRS (default 7).
"""

import os

import pytest

GATE = 1.10
PAIRS = int(os.environ.get("GANBENCH_OVERHEAD_PAIRS", "7"))
# (variant, dataset, steps per timed run): the loop overhead matters most for the smallest
# models, whose steps are short; the DCGAN case shows it on a conv model.
CASES = [("non-saturating", "ring8", 100), ("cgan", "ring8", 100), ("dcgan", "digits", 10),
         ("wgan-gp", "ring8", 30)]  # the general step: a regulariser, 5 critic steps


@pytest.mark.parametrize("variant,dataset,steps", CASES, ids=[f"{v}-{d}" for v, d, _ in CASES])
def test_overhead_ratio(ganbench_overhead, ganbench_device, report_ratio, variant, dataset,
                        steps):
    summary = ganbench_overhead(variant, dataset, steps=steps, pairs=PAIRS, gate=GATE)
    report_ratio(f"{variant} on {dataset} ({ganbench_device})", summary)
