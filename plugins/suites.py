"""Built-in suites.

``quick`` (the default of ``ganbench run --all``): every registered variant, third-party ones
included, on each embedded dataset it fits: ``ring8``, ``grid25`` and ``gaussian`` for point
models, ``digits`` for image models (conditional ones need labels, so ``gaussian`` is skipped for
them). One seed, and per dataset the same budget in images seen for every variant. Sized to
finish in a few minutes on a 2-core CPU.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.specs import SuiteEntry, SuiteSpec

QUICK_DATASETS = {  # dataset -> (budget, eval samples)
    "ring8": ("320kimg", 2500),
    "grid25": ("320kimg", 2500),
    "gaussian": ("64kimg", 2500),
    "digits": ("128kimg", 1437),
}


def quick_entries(reg):
    entries = []
    for v in reg.variants:
        model = reg.models.get(v.model)
        for ds_name, (budget, n) in QUICK_DATASETS.items():
            if ds_name in reg.datasets and model.check(reg.datasets.get(ds_name).spec) is None:
                entries.append(SuiteEntry(v.name, ds_name, budget, seeds=(0,), evals=8,
                                          eval_samples=n))
    return entries


SUITES = [
    SuiteSpec("quick", quick_entries,
              "every variant on the embedded datasets it fits (ring8, grid25, gaussian, digits); "
              "1 seed; CPU minutes"),
]


@hookimpl
def ganbench_register_suites(register):
    for s in SUITES:
        register(s)
