"""Built-in suites.

``quick`` (the default of ``ganbench run --all``): the built-in variants, and a third-party
plugin's variant registered with ``quick=True``, on each embedded dataset it fits: ``ring8``
for point models, ``digits`` for image models. **Three seeds** (``QUICK_SEEDS``, 0-2), so
that its leaderboard has intervals and ties, and per dataset the same budget in images seen
for every variant. Sized to finish within 6 minutes on an idle 2-core CPU, where the default
executor (``auto``) trains two single-thread jobs at once: 63 runs (11 variants on digits, 10
on ring8, x 3 seeds). (``gaussian``, the 3-D sanity check that every variant passes, is not
in it: ``ganbench run --variant V --dataset gaussian``.)

What was traded for the three seeds (until 2026-12-07 ``quick`` was one seed of 33 runs,
about 4-5 minutes; three seeds of it would take about 11), estimated from the per-run
``train_wall_s`` + ``eval_wall_s`` of a CI run of the one-seed suite (seconds, one thread;
two jobs run at once):

  per seed                               budget         train + eval s   kept in quick
  digits, 11 variants                    128kimg        100              yes
  digits, acgan and sngan                128kimg        45               no (quick-full)
  ring8, 10 variants                     192kimg        86               yes
  grid25, 10 variants                    320kimg        214              no (quick-full)

so ``quick`` is about 186 s of single-thread work per seed; two workers taking the 63 jobs in
plan order finish in 270 s, plus start-up and the calibration rows (seconds): about 5
minutes (``quick-full``: 658 s). The budgets, recipes and evaluation protocols of the runs
kept are unchanged, so the CI gate's anchor runs (dcgan on digits, non-saturating and
vanilla-minimax on ring8) keep the recipes and EvalSpecs of the committed baseline
(results/quick-baseline.csv); CI's ``run --all`` trains seeds 0-2 and .ci/run gates seed 0,
the one-candidate setup whose false-alarm rate was measured (with all three seeds as
candidates: 2.2% in 600 resampled checks, above alpha 1%). What is given up: grid25 (the sharpest 2-D target, 25
modes, and the slowest: 10,000 steps per run) and the two slowest image variants, acgan and
sngan (conv nets with an auxiliary classifier and spectral norm, 4x the others' time on
digits). ``quick-full`` keeps everything as before, at three seeds: 99 runs, about 11 minutes
(``ganbench run --all --suite quick-full``).

The quick budget is a small fraction of the papers' (WGAN-GP's toy runs: 100k generator
iterations; PacGAN's: 400k steps), so it trains with recipes for CPU minutes, recorded in every
run (its recipe: these rows never pool with runs of a variant's own recipe):

* Every MLP variant keeps the MLP recipe (Adam 1e-3, 5x DCGAN's 2e-4; 2e-3 on grid25, below),
  and the two Wasserstein critics are scaled likewise (``QUICK_HPARAMS``; on the 2-D sets
  both have their own, below): wgan RMSprop 5e-5 -> 1e-3, wgan-gp Adam 1e-4 -> 5e-4;
  optimiser, betas, n_critic 5, clipping and lambda unchanged. Measured at seed 0 on digits:
  wgan's FID 791 (noise row 466) at 5e-5 and 116 at 1e-3; wgan-gp's 71.7 at 1e-4 and 25.9 at
  5e-4.
* On the 2-D sets every variant on the built-in MLPs (``mlp``, ``cmlp``) is evaluated through
  an exponential moving average of G's weights (decay 0.99, a horizon of about 100 steps; the
  averaging of Yazici et al. 2019, The Unusual Effectiveness of Averaging in GAN Training).
  At these budgets G's samples jitter around the modes from step to step; the average sits on
  them. Measured on ring8 at 256kimg, seeds 1/2, % high quality (noise row 0.56), without ->
  with it: non-saturating 37.8/38.3 -> 64.6/72.4, vanilla-minimax 2.0/6.2 -> 11.6/23.5
  (pacgan: 6.6-8.1% without it at seed 0, 25.1/35.1 with it). On grid25 (128-unit MLPs, batch
  64, 384kimg, seeds 0/1): non-saturating 16.5/8.0 -> 30.0/15.8. On digits it is not used:
  there it helps some variants and hurts others (FID at seeds 0/1/2, without -> with it,
  decay 0.99: ragan 247/330/113 -> 141/183/134, cgan 91/57/37 -> 23/31/25, but lsgan
  130/92/67 -> 170/175/174 and wgan 116/50/92 -> 293/71/163).
* On grid25 (25 modes of std 0.05 on a grid of spacing 2: the sharpest target) they also take
  many cheap steps: hidden layers of 128 instead of 256 in G and D and batch 32 instead of 128,
  so an equal budget in images is 4x the steps, each cheaper, at a learning rate of 2e-3 (2x
  the MLP recipe's). Measured with 128-unit MLPs at seeds 0/1 (noise row 2.28%): non-saturating
  at batch 128 without the EMA, 576kimg, 10.1/11.3%; at batch 32 with it, 384kimg, 46.0/44.5%;
  pacgan 2.3/2.4% -> 9.0/10.3%. Then, at 320kimg, learning rate 1e-3 -> 2e-3 (seed 0 unless
  said): non-saturating 38.9 -> 53.8%, hinge 33.6 -> 38.2%, pacgan 8.4/6.3 -> 18.2/20.6%
  (seeds 0/1), vanilla-minimax 6.9 -> 29.7% (seed 2); 4e-3 overshoots (pacgan 14.6%,
  non-saturating onto 17 modes with frechet_data 2.2). ring8 keeps each variant's own batch,
  width and learning rate, so the losses are compared at the variants' recipe; there
  non-saturating is ahead of the saturating vanilla-minimax in % high quality on every
  held-out seed (results/README.md). With
  the grid25 recipe on ring8 the saturating loss catches up (96kimg, seeds 0/1/2:
  non-saturating 65/60/17%, vanilla-minimax 11/20/37%).
* Four variants have their own changes on the 2-D sets (``TOY_VARIANT_RECIPES``, over the
  dataset's recipe; pacgan's on grid25 only). % high quality at seeds 0/1/2 (noise rows: grid25
  2.28%, ring8 0.56%):

  - wgan-gp: one critic step per G step, lambda 1, and Adam at 4e-3 for G and 8e-3 for the
    critic (two time scales, Heusel et al. 2017). With n_critic 5 G takes a fifth of the steps
    at an equal budget in images, and with the digits learning rate (5e-4) it stayed at its
    noise rows (grid25 1.4-2.2%, ring8 0.16-0.36%). With n_critic 1 and lambda 1, learning
    rates G / critic on grid25 (320kimg) and ring8:

    G / critic       grid25               ring8
    2.5e-4 / 1e-3    5.7 / 5.0 / 5.3      9.7 / 7.1 / 5.5
    5e-4 / 1e-3      7.8 / 7.4 / 7.4      22.7 / 23.4 / 22.4
    1e-3 / 2e-3      8.0 / 8.8 / 7.9      57.5 / 49.4 / 55.5
    2e-3 / 4e-3      17.8 / 33.2 / 38.8   79.6 / 76.0 / 80.4
    4e-3 / 8e-3      59.3 / 63.9 / 47.4   81.0 / 81.0 / 78.4
    8e-3 / 1.6e-2    59.7 (seed 0)        58.8 (seed 0)

    At 4e-3 / 8e-3, seed 0: lambda 10 gives 25.0% / 34.9%, n_critic 5 5.0% / 2.5%, both
    1.8% / 0%. (At 2.5e-4 / 1e-3 and 352kimg, lambda 10 1.3%, 0.3 5.2%, 1 7.4%, 3 6.4% on
    grid25; lambda 0.1, WGAN-GP's own toy value in their gan_toy.py, 2.7%.) n_critic 1 with
    equal learning rates collapses (5e-4: 1.8%, 5-11 modes).
  - r1: gamma 0.1 instead of 10. The penalty gamma/2 E|grad D|^2 is quadratic in D's input
    gradient, and a D that tells modes of std 0.05 apart has gradients of order 1/0.05:
    gamma 10 keeps it too smooth. At lr 1e-3 and 352kimg on grid25: gamma 10 4.1/3.7/5.3%,
    gamma 1 5.4% (seed 0), gamma 0.1 15.7/15.8/16.1%; on ring8 gamma 0.1 39.3/44.0% against
    8.4/4.9% (seeds 0/1). The right gamma depends on the data: StyleGAN2-ADA's heuristic is
    0.0002 N^2 / batch for N x N images, and its CIFAR-10 configuration uses 0.01.
  - pacgan: its own 256-unit D on grid25 (the grid25 recipe's is 128). A packed D sees pairs,
    25 x 25 = 625 clusters in 4-D. At lr 1e-3 and 352kimg, seeds 0-4: 7.4/7.8/1.4/3.7/3.9%
    with 128 units, 10.3/9.6/9.4/7.0/6.3% with 256.
  - wgan: one critic step per G step, and the clipping box and RMSprop's learning rate both
    200x the paper's: clip 2 (every critic parameter in [-2, 2]), lr 1e-2 for G and critic, so
    lr / c stays the paper's 5e-5 / 0.01 = 0.005; batch 32 on ring8 too. RMSprop's steps do not
    depend on the gradient's scale, so the learning rate must grow with the box; and a box of
    0.01 was sized for the paper's DCGAN critic, initialised N(0, 0.02), while the first layer
    of ganbench's MLP critic (fan-in 2, torch's default init) starts at up to 0.71: clip 0.01
    shrinks it 70x. The clip still binds at 2: 20-31% of the output layer's weights and up to
    35% of the first layer's biases sat on the bound at times (seeds 0 and 3, grid25). With the
    paper's n_critic 5 and clip 0.01 the quick suite's wgan stayed at its noise rows at every
    learning rate from 5e-5 to 4e-3 (grid25 0.9-2.4%, ring8 0.1-1.4%), also at 10x the budget
    on ring8 (1920kimg: 0.36-0.88% at every evaluation while its frechet_data fell to 0.0004:
    it matched the data's mean and covariance, not its modes). n_critic 1 at clip 0.01 did not
    lift it (ring8 0.2-0.8% with Adam at 1e-3 to 8e-3, also with a ReLU critic and at 5x the
    budget; RMSprop likewise), nor did a 256-unit critic. Seed 0 unless said:

    recipe (n_critic 1 unless said)          grid25               ring8
    clip 0.05, lr 1e-3, batch 32             2.4                  17.6 / 17.0 / 13.3
    clip 0.1, lr 1e-3                        3.5 / 1.8 / 1.5
    clip 0.3, lr 3e-3                        4.6 / 5.2 (seed 1)
    clip 1, lr 1e-2 (batch 32)               8.4 / 14.2 / 10.0    70.6 / 54.2 / 1.4
    clip 2, lr 1e-2 (batch 32): the recipe   33.9 / 16.8 / 34.8   87.9 / 50.6 / 81.7
    the recipe at lr 1e-3                    3.0 (2 modes)        0 (stuck at the centre)
    the recipe with n_critic 5               2.4                  5.2
    the recipe at batch 64 on ring8                               63.8 / 1.6 / 0
    clip 100 (the clip never binds)          45.5

    At seeds 3 and 4 the recipe gives grid25 2.9% (G on 5 modes) and 10.4%, ring8 75.5% and
    47.4%. On ring8 G starts at the centre, where the data's mean is, and must break the ring's
    symmetry: with fewer steps (batch 64) or a smaller step it stays there.

  On digits wgan keeps n_critic 5 and clip 0.01, at lr 1e-3 (``QUICK_HPARAMS``).

Tuning seeds and held-out seeds. Every quick-suite recipe above was chosen by its results on
seeds in ``TUNING_SEEDS`` (0-4), and the numbers in this docstring are those tuning
measurements (why a recipe was chosen, not how good it is; no committed data behind them):

  recipe                                        chosen on seeds
  wgan / wgan-gp learning rates on digits        0
  G's EMA on ring8 / grid25 (off on digits)      ring8 0-2, grid25 0-1 (digits 0-2)
  grid25: 128-unit MLPs, batch 32                0-1
  grid25: learning rate 2e-3, 320kimg            0-2
  wgan-gp's 2-D recipe                           0-2
  r1's gamma 0.1                                 grid25 0-2, ring8 0-1
  pacgan's 256-unit D on grid25                  0-4
  wgan's 2-D recipe                              0-2, checked on 3-4

The CI baseline (results/quick-baseline.csv) holds seeds 200-229, the runs of the gate's
false-alarm study (200-259). Every table that reports how good a recipe is uses
``HELD_OUT_SEEDS`` (100-199), never used to choose or check a recipe: the quick table
(results/quick-heldout.csv, seeds 100-102). A recipe change chosen with a held-out seed spends it: report on seeds not yet used.
The ``mnist``, ``pacgan`` and ``lucic`` suites take their papers' recipes, chosen on no seed
here, so their tables (seeds 0-2, 0-4) are not reported on tuning seeds.

``mnist``, ``fashion-mnist``: image benchmarks of the literature (Lucic et al. 2018 compare
GAN losses on these and CIFAR-10). Each is a fixed list: the four built-in variants
(vanilla-minimax, non-saturating, dcgan, cgan) on one dataset, the same budget in images seen
for every variant (20 epochs: GPU hours, not CPU minutes; on a CPU give a smaller
``--budget``), seeds 0, 1, 2. Images are 32 x 32 for every
variant (MNIST and Fashion-MNIST resized from 28, so DCGAN runs and every variant is measured in
the same space). Evaluation protocol: 10 evaluations spread over the budget after one at step 0,
10,000 generated samples each (the sample count of FID in the literature), the same noise at
every evaluation, compared with the train split. Metrics: FID, KID, IS and precision/recall
(torch-fidelity) in the shipped domain classifier's feature space for MNIST and Fashion-MNIST,
with the label metrics, plus ``frechet-data`` (Frechet distance in pixel space, 1024 dims) and
the training statistics and throughput.

``cifar10``: mimicry's CIFAR-10 protocol (Lee & Town 2020; github.com/kwotsin/mimicry, README,
"Baselines / CIFAR-10"), so that its numbers sit beside mimicry's table there: ``mimicry-sngan``
(``resnet``, SN-GAN) and ``mimicry-cgan-pd`` (``cresnet``, projection D) with the hinge loss,
batch 64, Adam 2e-4, betas (0, 0.9) decayed linearly to 0 over the budget
(``lr_schedule="linear"``), 5 D steps per G step, 100k G steps (``100ksteps``), and FID on
50,000 generated samples against the 50,000 train images. mimicry's published FIDs (same table,
CIFAR-10 32 x 32, 100K steps): SN-GAN 16.77 ± 0.04, cGAN-PD 10.84 ± 0.03 (IS 7.97 and 8.25). Two
differences remain: mimicry's G up-samples bilinearly, ganbench's ``resnet`` with nearest
neighbours (SN-GAN's and WGAN-GP's code); and mimicry publishes one trained checkpoint per
GAN, here seeds 0, 1, 2 are three trainings. 10 evaluations after the one
at step 0, each of 50,000 samples. ``frechet-data`` does not apply (3 x 32 x 32 = 3072 dims,
over 1024); FID, KID and IS use torch-fidelity's ``inception-v3-compat`` (the TF-FID Inception),
whose weights must be downloadable or given with ``--fid-weights``. CIFAR-10 must be in the data
root (it is downloaded unless ``--no-download``; a missing copy is one clear error line).
GPU-sized: 6 runs of 100k G steps (500k D steps).

``pacgan``: PacGAN's synthetic protocol (Lin et al. 2018, section 4.1, Table 1; their code,
github.com/fjxmlzn/PacGAN, ``synthetic_data_experiments``): ``pacgan-paper-gan`` and
``pacgan-paper-pac2`` (their architecture and optimiser, see src/ganbench_plugins/variants.py) on
``pacgan-grid`` (25 modes, spacing 2, std 0.05) and ``pacgan-ring`` (8 modes, radius 1, std
0.01); their budget, 400 epochs of 100,000 packs at 100 packs per step = 400,000 steps (G steps,
one D step each) for every packing degree; 10 evaluations of 2,500 samples (their
``num_log_figure_sample``); seeds 0-9 (their 10 runs). Metrics: modes covered and % high quality
(within 3 std of the nearest centre, their ``dis_thre``). GPU-sized (40M real points per GAN run,
80M per PacGAN2 run); on a CPU give ``--budget`` and ``--seeds`` (results/README.md: 3,000 steps,
seeds 0-4). Their PacGAN3 and PacGAN4 rows are left out (``pacgan_paper_variant(3)`` builds
them).

``lucic``: the losses compared by Lucic et al. 2018 (Are GANs Created Equal?) on one
architecture: ``lucic-mm``, ``lucic-ns``, ``lucic-lsgan``, ``lucic-wgan``, ``lucic-wgan-gp``,
``lucic-dragan`` (DCGAN, each with the default hyperparameters of their code, see
src/ganbench_plugins/variants.py) on MNIST and Fashion-MNIST at 32 x 32, their budget of 20 epochs (1200kimg:
20 x 60,000 real images seen by D, whatever the number of D steps per G step, as their
``training_steps`` count D steps), seeds 0-4, and the literature suites' evaluation (10
evaluations of 10,000 samples, FID in the domain extractor's space). Their VAE and BEGAN have no
ganbench loss and are left out. 60 runs; GPU-sized.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.specs import SuiteEntry, SuiteSpec

FULL_DATASETS = {  # dataset -> (budget, eval samples), in the order the jobs start
    "digits": ("128kimg", 1437),
    "grid25": ("320kimg", 2500),  # 25 modes need the most steps (10,000 at batch 32)
    "ring8": ("192kimg", 2500),  # last: its short jobs keep both workers busy to the end
}
QUICK_DATASETS = {d: FULL_DATASETS[d] for d in ("digits", "ring8")}  # quick-full: all three
QUICK_SEEDS = (0, 1, 2)  # >= 3, so that the default leaderboard has intervals
QUICK_LEFT_OUT = ("acgan", "sngan")  # the slowest on digits: in quick-full only
QUICK_EVALS = 4
TUNING_SEEDS = range(0, 5)  # chose the quick recipes (module docstring)
HELD_OUT_SEEDS = range(100, 200)  # never used for tuning: the seeds reported tables use
QUICK_HPARAMS = {  # variant -> its changes for CPU-minute budgets (see the module docstring)
    "wgan": {"lr_g": 1e-3, "lr_d": 1e-3},
    "wgan-gp": {"lr_g": 5e-4, "lr_d": 5e-4},
}
# On the 2-D sets every variant on the built-in MLPs (``mlp``, ``cmlp``) is evaluated through
# an EMA of G's weights (decay 0.99, a horizon of ~100 steps); on grid25 they also take many
# cheap steps: hidden layers of 128 in G and D and batch 32. See the module docstring.
TOY_MODELS = ("mlp", "cmlp")
TOY_RECIPES = {  # dataset -> the SuiteEntry recipe fields of its MLP variants
    "ring8": {"g_ema": 0.99},
    "grid25": {"g_ema": 0.99, "hparams": {"batch_size": 32, "lr_g": 2e-3, "lr_d": 2e-3},
               "model_options": {"g_hidden": (128, 128), "d_hidden": (128, 128)}},
}

TOY_VARIANT_RECIPES = {  # (variant, dataset) -> its own changes there, over the dataset's
    # recipe (see the module docstring)
    **{("wgan-gp", ds): {"hparams": {"k": 1, "lr_g": 4e-3, "lr_d": 8e-3},
                         "regularizers": ("gp:1",)} for ds in TOY_RECIPES},
    **{("wgan", ds): {"hparams": {"k": 1, "lr_g": 1e-2, "lr_d": 1e-2, "batch_size": 32},
                      "step_hooks": ("clip:2",)} for ds in TOY_RECIPES},
    **{("r1", ds): {"regularizers": ("r1:0.1",)} for ds in TOY_RECIPES},
    ("pacgan", "grid25"): {"model_options": {"d_hidden": (256, 256)}},  # its own width
}


def quick_entry(v, ds_name: str, budget: str, n: int,
                seeds: tuple[int, ...] = QUICK_SEEDS) -> SuiteEntry:
    """The quick suite's entry of variant ``v`` on ``ds_name``."""
    toy = ds_name in TOY_RECIPES and v.model in TOY_MODELS
    recipe = dict(TOY_RECIPES[ds_name]) if toy else {}
    own = TOY_VARIANT_RECIPES.get((v.name, ds_name), {}) if toy else {}
    recipe["hparams"] = {**QUICK_HPARAMS.get(v.name, {}), **recipe.get("hparams", {})}
    for key, value in own.items():  # the variant's own changes win; dicts merge key by key
        recipe[key] = {**recipe.get(key, {}), **value} if isinstance(value, dict) else value
    return SuiteEntry(v.name, ds_name, budget, seeds=tuple(seeds), evals=QUICK_EVALS,
                      eval_samples=n, **recipe)


def in_quick(reg, v) -> bool:
    """Whether variant ``v`` joins the quick suite: a built-in unless it is a paper's recipe
    for its own suite (``suite_only``); a third-party plugin's only with ``quick=True``."""
    if v.suite_only:
        return False
    if v.quick is not None:
        return bool(v.quick)
    builtin = {p.name for p in reg.plugins if p.builtin}
    return reg.variants.owner(v.name) in builtin


def quick_entries(reg, datasets=None, left_out=QUICK_LEFT_OUT):
    """The ``quick`` suite's entries (``datasets``: dataset -> (budget, eval samples), default
    :data:`QUICK_DATASETS`; variants in ``left_out`` are skipped)."""
    entries = []
    for ds_name, (budget, n) in (QUICK_DATASETS if datasets is None else datasets).items():
        for v in reg.variants:
            if not in_quick(reg, v) or v.name in left_out:
                continue
            model = reg.models.get(v.model)
            if ds_name in reg.datasets and model.check(reg.datasets.get(ds_name).spec) is None:
                entries.append(quick_entry(v, ds_name, budget, n))
    return entries


def quick_full_entries(reg):
    """``quick-full``: the quick recipes on every variant and on digits, grid25 and ring8."""
    return quick_entries(reg, FULL_DATASETS, left_out=())


LITERATURE_VARIANTS = ("vanilla-minimax", "non-saturating", "dcgan", "cgan")
LITERATURE_SEEDS = (0, 1, 2)
LITERATURE_EVAL_SAMPLES = 10_000
IMAGE_SIDE = 32
CIFAR10_VARIANTS = ("mimicry-sngan", "mimicry-cgan-pd")  # mimicry's protocol, module docstring
CIFAR10_BUDGET = "100ksteps"  # G steps
CIFAR10_EVAL_SAMPLES = 50_000
# mimicry's published CIFAR-10 FIDs (its README, Baselines / CIFAR-10, 100K steps, 50k samples)
CIFAR10_PUBLISHED_FID = {"mimicry-sngan": 16.77, "mimicry-cgan-pd": 10.84}


def cross_entries(variants, datasets, budget: str, seeds: tuple[int, ...], eval_samples: int,
                  data_options=None) -> tuple[SuiteEntry, ...]:
    """Every variant on every dataset (per dataset, the variants in order), one budget, seeds
    and evaluation protocol (10 evaluations after step 0) for all."""
    return tuple(SuiteEntry(v, ds, budget, seeds=seeds, evals=10, eval_samples=eval_samples,
                            data_options=dict(data_options or {}))
                 for ds in datasets for v in variants)


def literature_entries(dataset: str, budget: str) -> tuple[SuiteEntry, ...]:
    """The four built-in variants on ``dataset``, equal budget, 3 seeds, 32 x 32 images."""
    return cross_entries(LITERATURE_VARIANTS, (dataset,), budget, LITERATURE_SEEDS,
                         LITERATURE_EVAL_SAMPLES, {"resize": IMAGE_SIDE})


SUITES = [
    SuiteSpec("quick", quick_entries,
              "the built-in variants on ring8 (point models) and digits (image models; not "
              "acgan and sngan), seeds 0-2: 63 runs, about 5 CPU minutes on 2 cores "
              "(wgan/wgan-gp with learning rates for that budget; on ring8 G evaluated "
              "through its EMA, wgan-gp with one critic step at lr 4e-3 / 8e-3, wgan with one "
              "critic step, clip 2 and lr 1e-2 at batch 32, r1 with gamma 0.1)"),
    SuiteSpec("quick-full", quick_full_entries,
              "quick's recipes on every built-in variant and on digits, grid25 and ring8 (on "
              "grid25 128-unit MLPs at batch 32 and lr 2e-3), seeds 0-2: 99 runs, about 11 "
              "CPU minutes on 2 cores"),
    SuiteSpec("mnist", literature_entries("mnist", "1200kimg"),
              "4 built-in variants on MNIST at 32x32, 1200kimg (20 epochs) each, seeds 0-2, "
              "FID (domain extractor) on 10k samples; GPU-sized, use --budget on a CPU"),
    SuiteSpec("fashion-mnist", literature_entries("fashion-mnist", "1200kimg"),
              "4 built-in variants on Fashion-MNIST at 32x32, 1200kimg (20 epochs) each, "
              "seeds 0-2, FID (domain extractor) on 10k samples; GPU-sized"),
    SuiteSpec("cifar10", cross_entries(CIFAR10_VARIANTS, ("cifar10",), CIFAR10_BUDGET,
                                        LITERATURE_SEEDS, CIFAR10_EVAL_SAMPLES),
              "mimicry's CIFAR-10 protocol: SN-GAN (resnet) and cGAN-PD (cresnet), hinge, "
              "Adam 2e-4 betas (0, 0.9) decayed linearly to 0, 5 D steps, batch 64, "
              "100k G steps, "
              "seeds 0-2, FID (inception-v3-compat, needs its weights) on 50k samples vs the "
              "train set; mimicry's FIDs 16.77 / 10.84; GPU-sized"),
]


PACGAN_VARIANTS = ("pacgan-paper-gan", "pacgan-paper-pac2")
PACGAN_DATASETS = ("pacgan-grid", "pacgan-ring")
PACGAN_BUDGET = "400ksteps"  # 400 epochs x 100,000 packs / 100 packs per step
PACGAN_SEEDS = tuple(range(10))  # their 10 runs
PACGAN_EVAL_SAMPLES = 2500  # their num_log_figure_sample

LUCIC_VARIANTS = ("lucic-mm", "lucic-ns", "lucic-lsgan", "lucic-wgan", "lucic-wgan-gp",
                  "lucic-dragan")
LUCIC_DATASETS = ("mnist", "fashion-mnist")
LUCIC_BUDGET = "1200kimg"  # 20 epochs of 60,000
LUCIC_SEEDS = (0, 1, 2, 3, 4)

SUITES += [
    SuiteSpec("pacgan", cross_entries(PACGAN_VARIANTS, PACGAN_DATASETS, PACGAN_BUDGET,
                                      PACGAN_SEEDS, PACGAN_EVAL_SAMPLES),
              "PacGAN's synthetic protocol: GAN vs PacGAN2 with their architecture (G 4x400 BN, "
              "D 3x200 maxout-5, z_dim 2) on pacgan-grid and pacgan-ring, 400ksteps (their 400 "
              "epochs), seeds 0-9, 2,500 samples; GPU-sized, use --budget/--seeds on a CPU"),
    SuiteSpec("lucic", cross_entries(LUCIC_VARIANTS, LUCIC_DATASETS, LUCIC_BUDGET, LUCIC_SEEDS,
                                     LITERATURE_EVAL_SAMPLES, {"resize": IMAGE_SIDE}),
              "Lucic et al. 2018's losses (MM, NS, LSGAN, WGAN, WGAN-GP, DRAGAN) on DCGAN with "
              "their defaults, MNIST and Fashion-MNIST at 32x32, 1200kimg (20 epochs), seeds "
              "0-4, FID on 10k samples; GPU-sized"),
]


@hookimpl
def ganbench_register_suites(register):
    for s in SUITES:
        register(s)
