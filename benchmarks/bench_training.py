"""Training-step throughput of each built-in variant on its quick-suite data.

Times the runner's own step function (``ganbench.training.step.build_step`` through
``overhead.job_step``, with its statistics and the variant's regularisers, step hooks and
auxiliary outputs) on G and D built exactly as ``runner.train`` builds them. The figure to read is
``extra_info["images_per_s"]`` (real images seen by D per second); pytest-benchmark's time is
per round of 100 steps (10 for image data). GPU rounds end with a synchronisation and follow warm-up rounds.
Uses the ``ganbench_train_step`` fixture of ganbench's pytest plugin (src/ganbench/devkit/pytest_plugin.py),
the same one any repository can use.
"""

import pytest


def quick_cases():
    from ganbench import registry as plugins
    from ganbench.planning.plan import plan

    reg = plugins.load(use_env=False)
    cases = []
    for job in plan(reg, run_all=True, suite="quick-full", seeds=[0]):  # every variant, once
        if job.variant in reg.variants and reg.variants.owner(job.variant).startswith("builtin"):
            cases.append(pytest.param(job.variant, job.dataset, id=f"{job.variant}-{job.dataset}"))
    return cases


@pytest.mark.parametrize("variant,dataset", quick_cases())
def test_train_step(ganbench_train_step, variant, dataset):
    info = ganbench_train_step(variant, dataset, rounds=5)  # 100 steps a round (images: 10)
    assert info["images_per_s"] > 0
