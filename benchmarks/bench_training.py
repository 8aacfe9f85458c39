"""Training-step throughput of each built-in variant on its quick-suite data.

Times the runner's own step function (``ganbench.trainstep.build_step`` through
``overhead.job_step``, with its statistics and the variant's regularisers, step hooks and
auxiliary outputs) on G and D built exactly as ``runner.train`` builds them. The figure to read is
``extra_info["images_per_s"]`` (real images seen by D per second); pytest-benchmark's time is
per round of ``STEPS`` steps. GPU rounds end with a synchronisation and follow warm-up rounds.
"""


import pytest

from benchutil import synced
from ganbench import overhead
from ganbench.fastpath import FastPath
from ganbench.trainstep import StepStats

STEPS = {"points": 100, "images": 10}  # steps per timed round, by data kind


def quick_cases():
    from ganbench import plugins
    from ganbench.plan import plan

    reg = plugins.load(use_env=False)
    cases = []
    for job in plan(reg, run_all=True):
        if job.variant in reg.variants and reg.variants.owner(job.variant).startswith("builtin"):
            cases.append(pytest.param(job.variant, job.dataset, id=f"{job.variant}-{job.dataset}"))
    return cases


@pytest.mark.parametrize("variant,dataset", quick_cases())
def test_train_step(benchmark, reg, device, variant, dataset):
    from ganbench.plan import plan

    job = plan(reg, variants=[variant], datasets=[dataset], seeds=[0])[0]
    fast = FastPath()
    t = overhead.build(job, reg, device, fused=fast.use_fused(device))
    h = job.hparams
    stats = StepStats(device, output=t.loss.output)
    step = overhead.job_step(t, job, reg, stats=stats, fast=fast)
    n = STEPS[reg.datasets.get(dataset).spec.kind]

    def steps():
        for _ in range(n):
            step()

    benchmark.pedantic(synced(steps, device), rounds=5, iterations=1, warmup_rounds=1)
    images = n * h.batch_size * h.k
    benchmark.extra_info.update(images_per_round=images, device=str(device),
                                images_per_s=round(images / benchmark.stats.stats.median, 1))
    means = stats.means()
    assert all(v == v for v in means.values()), means  # the timed steps trained (finite stats)
    assert stats.steps >= n and stats.steps % n == 0
