"""Built-in suites.

``quick`` (the default of ``ganbench run --all``): every registered variant, third-party ones
included, on each embedded dataset it fits: ``ring8``, ``grid25`` and ``gaussian`` for point
models, ``digits`` for image models (conditional ones need labels, so ``gaussian`` is skipped for
them). One seed, and per dataset the same budget in images seen for every variant. Sized to
finish in a few minutes on a 2-core CPU.

``mnist``, ``fashion-mnist``, ``cifar10``: the image benchmarks of the literature (Lucic et al.
2018 compare GAN losses on exactly these). Each is a fixed list: the four built-in variants
(vanilla-minimax, non-saturating, dcgan, cgan) on one dataset, the same budget in images seen
for every variant (20 epochs of MNIST / Fashion-MNIST, 40 of CIFAR-10: GPU hours, not CPU
minutes; on a CPU give a smaller ``--budget``), seeds 0, 1, 2. Images are 32 x 32 for every
variant (MNIST and Fashion-MNIST resized from 28, so DCGAN runs and every variant is measured in
the same space). Evaluation protocol: 10 evaluations spread over the budget after one at step 0,
10,000 generated samples each (the sample count of FID in the literature), the same noise at
every evaluation, compared with the train split. Metrics: FID, KID, IS and precision/recall
(torch-fidelity) in the shipped domain classifier's feature space for MNIST and Fashion-MNIST,
with the label metrics, plus ``frechet-data`` (Frechet distance in pixel space, 1024 dims) and
the training statistics and throughput. ``frechet-data`` does not apply to CIFAR-10
(3 x 32 x 32 = 3072 dims > 1024); its FID uses torch-fidelity's ``inception-v3-compat``, whose
weights must be downloadable or given with ``--fid-weights``.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.specs import SuiteEntry, SuiteSpec

QUICK_DATASETS = {  # dataset -> (budget, eval samples)
    "ring8": ("256kimg", 2500),
    "grid25": ("512kimg", 2500),  # 25 modes need the most steps
    "gaussian": ("64kimg", 2500),
    "digits": ("128kimg", 1437),
}
QUICK_EVALS = 4


def quick_entries(reg):
    entries = []
    for v in reg.variants:
        model = reg.models.get(v.model)
        for ds_name, (budget, n) in QUICK_DATASETS.items():
            if ds_name in reg.datasets and model.check(reg.datasets.get(ds_name).spec) is None:
                entries.append(SuiteEntry(v.name, ds_name, budget, seeds=(0,), evals=QUICK_EVALS,
                                          eval_samples=n))
    return entries


LITERATURE_VARIANTS = ("vanilla-minimax", "non-saturating", "dcgan", "cgan")
LITERATURE_SEEDS = (0, 1, 2)
LITERATURE_EVAL_SAMPLES = 10_000
IMAGE_SIDE = 32


def literature_entries(dataset: str, budget: str) -> tuple[SuiteEntry, ...]:
    """The four built-in variants on ``dataset``, equal budget, 3 seeds, 32 x 32 images."""
    return tuple(SuiteEntry(v, dataset, budget, seeds=LITERATURE_SEEDS, evals=10,
                            eval_samples=LITERATURE_EVAL_SAMPLES,
                            data_options={"resize": IMAGE_SIDE})
                 for v in LITERATURE_VARIANTS)


SUITES = [
    SuiteSpec("quick", quick_entries,
              "every variant on the embedded datasets it fits (ring8, grid25, gaussian, digits); "
              "1 seed; CPU minutes"),
    SuiteSpec("mnist", literature_entries("mnist", "1200kimg"),
              "4 built-in variants on MNIST at 32x32, 1200kimg (20 epochs) each, seeds 0-2, "
              "FID (domain extractor) on 10k samples; GPU-sized, use --budget on a CPU"),
    SuiteSpec("fashion-mnist", literature_entries("fashion-mnist", "1200kimg"),
              "4 built-in variants on Fashion-MNIST at 32x32, 1200kimg (20 epochs) each, "
              "seeds 0-2, FID (domain extractor) on 10k samples; GPU-sized"),
    SuiteSpec("cifar10", literature_entries("cifar10", "2000kimg"),
              "4 built-in variants on CIFAR-10, 2000kimg (40 epochs) each, seeds 0-2; "
              "FID with inception-v3-compat (needs its weights); GPU-sized"),
]


@hookimpl
def ganbench_register_suites(register):
    for s in SUITES:
        register(s)
