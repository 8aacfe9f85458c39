"""The built-in variants. vanilla-minimax and non-saturating share every hyperparameter and the
architecture, so the generator loss is the only difference between them.

| variant | model | loss | optimiser | lr G / D | betas | k | batch | z_dim |
|---|---|---|---|---|---|---|---|---|
| vanilla-minimax | mlp | minimax | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| non-saturating | mlp | non-saturating | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| dcgan | dcgan | non-saturating | adam | 2e-4 / 2e-4 | (0.5, 0.999) | 1 | 64 | 100 |
| cgan | cmlp | non-saturating | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |

Goodfellow et al. trained with SGD + momentum; we use Adam for all MLP variants so that the
comparison isolates the loss. DCGAN's numbers are Radford et al.'s (Adam 2e-4, β1 0.5, batch
128 in the paper; 64 here to keep CPU steps short, z_dim 100).

Nine more, each built on the public plugin surface (context objectives, regularisers, step
hooks, auxiliary D outputs):

| variant | model | loss | terms | optimiser | lr G / D | betas | k | batch | z_dim |
|---|---|---|---|---|---|---|---|---|---|
| lsgan | mlp | lsgan | | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| hinge | mlp | hinge | | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| ragan | mlp | ragan | | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| r1 | mlp | non-saturating | reg r1:10 | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| pacgan | mlp (pack 2) | non-saturating | | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| wgan | mlp | wasserstein | hook clip:0.01 | rmsprop | 5e-5 / 5e-5 | — | 5 | 64 | 16 |
| wgan-gp | mlp | wasserstein | reg gp:10 | adam | 1e-4 / 1e-4 | (0, 0.9) | 5 | 64 | 16 |
| sngan | dcgan (d_norm spectral) | hinge | | adam | 2e-4 / 2e-4 | (0.5, 0.999) | 1 | 64 | 100 |
| acgan | acdcgan | acgan | | adam | 2e-4 / 2e-4 | (0.5, 0.999) | 1 | 100 | 100 |

The five MLP variants that change only the objective, a regulariser or D's input (lsgan,
hinge, ragan, r1, pacgan) keep the MLP recipe above, so each differs from ``non-saturating`` in
exactly that one thing (the papers' own image settings are DCGAN's: Adam 2e-4, β1 0.5). The
rest take their paper's optimisation recipe: WGAN (Arjovsky et al. 2017, Algorithm 1: RMSprop
5e-5, c = 0.01, n_critic 5, batch 64); WGAN-GP (Gulrajani et al. 2017, Algorithm 1: λ = 10,
n_critic 5, Adam 1e-4, β (0, 0.9), batch 64); SN-GAN (Miyato et al. 2018: spectral norm on
every D layer and no BatchNorm in D, hinge loss, Adam 2e-4, β (0.5, 0.999), n_dis 1: their
Table 1 setting C); AC-GAN (Odena et al. 2017: Adam 2e-4, β1 0.5, batch 100).

Suite-specific variants (a suite entry names a variant, so a paper's own architecture and
optimiser are registered as variants of their own, with ``suite_only=True``: they are not in
``quick``, which takes every other built-in variant):

* ``pacgan-paper-gan``, ``pacgan-paper-pac2``: PacGAN's synthetic-data recipe (Lin et al.
  2018, section 4.1 / appendix, and ``synthetic_data_experiments/2DGrid_GAN&PacGAN`` of
  github.com/fjxmlzn/PacGAN): G 4 x 400 ReLU with BatchNorm (no hidden biases), z_dim 2,
  z ~ N(0, I); D 3 x 200 maxout with 5 pieces; weights N(0, 0.02), biases 0; non-saturating
  loss; Adam 1e-4, β1 0.8; 100 packs per step (so batch 100 m samples: PacGAN2 trains on 200
  samples, 100 packs of 2), one D step per G step.
* ``lucic-mm``, ``lucic-ns``, ``lucic-lsgan``, ``lucic-wgan``, ``lucic-wgan-gp``,
  ``lucic-dragan``: the losses of Lucic et al. 2018 (Are GANs Created Equal?) on one
  architecture, ganbench's ``dcgan``, each with the default hyperparameters of their code
  (github.com/google/compare_gan, ``compare_gan/src/params.py``, "the ones used in the paper";
  ``generate_tasks_lib.RepeatExp``): batch 64, z_dim 64, Adam (TF's β2 0.999) for every loss;
  MM and NS GAN lr 5e-5, β1 0; LSGAN 2e-4, β1 0.5; WGAN 5e-5, β1 0.5, 5 D steps per G step,
  clipping 0.01; WGAN-GP 1e-4, β1 0.5, 5 D steps, λ 10, no BatchNorm in D (their default for
  it); DRAGAN 1e-4, β1 0.5, 1 D step, λ 10, BatchNorm in D, its penalty on the gradient of D's
  sigmoid output with 1e-4 inside the norm as compare_gan's ``DRAGAN.py`` computes it
  (``dragan-sigmoid``; ganbench's ``dragan`` penalises the logit's gradient). Theirs differ from ganbench's in
  architecture (InfoGAN's G and D on 28 x 28, sigmoid output) and latent (U(-1, 1)); see the
  ``lucic`` suite.
* ``infogan`` (not a suite's, not in ``quick`` either: ``quick=False``): the MLP recipe with
  z_dim 24 (16 of noise and an 8-way categorical code, ``--latent infogan:cat=8:cont=0``) and
  InfoGAN's mutual-information term (``reg infogan:1:lr=0.001``); see
  ``ganbench_plugins.infogan`` (Chen et al. 2016).
* ``mimicry-sngan``, ``mimicry-cgan-pd``: SN-GAN (``resnet``) and cGAN-PD (``cresnet``) with
  mimicry's CIFAR-10 recipe (hinge loss, Adam 2e-4, β (0, 0.9), both learning rates decayed
  linearly to 0 over the budget, 5 D steps per G step, batch 64, z_dim 128), for the
  ``cifar10`` suite.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.specs import Hyperparams, VariantSpec
from ganbench_plugins import infogan

MLP_HPARAMS = Hyperparams(optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), k=1,
                          batch_size=128, z_dim=16)
DCGAN_HPARAMS = Hyperparams(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), k=1,
                            batch_size=64, z_dim=100)

WGAN_HPARAMS = Hyperparams(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, k=5, batch_size=64,
                           z_dim=16)
WGAN_GP_HPARAMS = Hyperparams(optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), k=5,
                              batch_size=64, z_dim=16)
SNGAN_HPARAMS = DCGAN_HPARAMS
ACGAN_HPARAMS = Hyperparams(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), k=1,
                            batch_size=100, z_dim=100)

PACGAN_PACKS = 100  # packs per step (PacGAN's batch_size)
PACGAN_MODEL = {"g_hidden": (400, 400, 400, 400), "g_norm": "batch", "d_hidden": (200, 200, 200),
                "d_activation": "maxout", "maxout_pieces": 5, "init_std": 0.02}
PACGAN_REFERENCE = ("Lin, Khetan, Fanti & Oh 2018, PacGAN: The power of two samples in generative "
                    "adversarial networks, section 4.1; code: github.com/fjxmlzn/PacGAN, "
                    "synthetic_data_experiments")


def pacgan_paper_variant(pack: int) -> VariantSpec:
    """PacGAN's synthetic-data recipe with D on ``pack`` samples (1: their GAN baseline)."""
    h = Hyperparams(optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.8, 0.999), k=1,
                    batch_size=PACGAN_PACKS * pack, z_dim=2)
    name, what = ("gan", "GAN") if pack == 1 else (f"pac{pack}", f"PacGAN{pack}")
    return VariantSpec(f"pacgan-paper-{name}", "mlp", "non-saturating",
                       f"{what} with PacGAN's synthetic-data architecture (G 4x400 BatchNorm, "
                       "D 3x200 maxout-5) and optimiser (Adam 1e-4, beta1 0.8, 100 packs)",
                       h, model_options={**PACGAN_MODEL, "pack": pack},
                       reference=PACGAN_REFERENCE, suite_only=True)


VARIANTS = [
    VariantSpec("vanilla-minimax", "mlp", "minimax",
                "original GAN: MLPs, saturating generator loss", MLP_HPARAMS,
                reference="Goodfellow et al. 2014, Generative Adversarial Nets"),
    VariantSpec("non-saturating", "mlp", "non-saturating",
                "original GAN architecture with the non-saturating generator loss", MLP_HPARAMS,
                reference="Goodfellow et al. 2014, section 3"),
    VariantSpec("dcgan", "dcgan", "non-saturating",
                "deep convolutional GAN", DCGAN_HPARAMS,
                reference="Radford, Metz & Chintala 2015, Unsupervised Representation Learning "
                          "with Deep Convolutional GANs"),
    VariantSpec("cgan", "cmlp", "non-saturating",
                "conditional GAN: the label is fed to G and D", MLP_HPARAMS,
                reference="Mirza & Osindero 2014, Conditional Generative Adversarial Nets"),
    VariantSpec("lsgan", "mlp", "lsgan",
                "least-squares GAN: D regresses real to 1 and fake to 0", MLP_HPARAMS,
                reference="Mao et al. 2017, Least Squares Generative Adversarial Networks"),
    VariantSpec("hinge", "mlp", "hinge", "hinge-loss GAN", MLP_HPARAMS,
                reference="Lim & Ye 2017, Geometric GAN; Miyato et al. 2018"),
    VariantSpec("ragan", "mlp", "ragan",
                "relativistic average GAN: D says how much more real x is than the average "
                "fake", MLP_HPARAMS,
                reference="Jolicoeur-Martineau 2018, The relativistic discriminator"),
    VariantSpec("r1", "mlp", "non-saturating",
                "non-saturating GAN with the R1 penalty on real data (gamma 10)", MLP_HPARAMS,
                regularizers=("r1:10",),
                reference="Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs "
                          "do actually Converge?"),
    VariantSpec("pacgan", "mlp", "non-saturating",
                "PacGAN2: D sees 2 samples packed together (against mode collapse)",
                MLP_HPARAMS, model_options={"pack": 2},
                reference="Lin, Khetan, Fanti & Oh 2018, PacGAN: The power of two samples in "
                          "generative adversarial networks"),
    VariantSpec("wgan", "mlp", "wasserstein",
                "Wasserstein GAN: critic weights clipped to [-0.01, 0.01], 5 critic steps",
                WGAN_HPARAMS, step_hooks=("clip:0.01",),
                reference="Arjovsky, Chintala & Bottou 2017, Wasserstein GAN"),
    VariantSpec("wgan-gp", "mlp", "wasserstein",
                "Wasserstein GAN with gradient penalty (lambda 10), 5 critic steps",
                WGAN_GP_HPARAMS, regularizers=("gp:10",),
                reference="Gulrajani et al. 2017, Improved Training of Wasserstein GANs"),
    VariantSpec("sngan", "dcgan", "hinge",
                "spectrally normalised D (no BatchNorm), hinge loss", SNGAN_HPARAMS,
                model_options={"d_norm": "spectral"},
                reference="Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for "
                          "Generative Adversarial Networks"),
    VariantSpec("acgan", "acdcgan", "acgan",
                "auxiliary classifier GAN: D also predicts the class", ACGAN_HPARAMS,
                reference="Odena, Olah & Shlens 2017, Conditional Image Synthesis with "
                          "Auxiliary Classifier GANs"),
]


LUCIC_REFERENCE = ("Lucic, Kurach, Michalski, Gelly & Bousquet 2018, Are GANs Created Equal? A "
                   "Large-Scale Study; defaults of github.com/google/compare_gan, "
                   "compare_gan/src/params.py")


def lucic_hparams(lr: float, beta1: float, k: int = 1) -> Hyperparams:
    return Hyperparams(optimizer="adam", lr_g=lr, lr_d=lr, betas=(beta1, 0.999), k=k,
                       batch_size=64, z_dim=64)


def lucic_variant(name: str, loss: str, what: str, h: Hyperparams, **extra) -> VariantSpec:
    return VariantSpec(f"lucic-{name}", "dcgan", loss, f"{what} on DCGAN with Lucic et al.'s "
                       "default hyperparameters", h, reference=LUCIC_REFERENCE, suite_only=True,
                       **extra)


VARIANTS += [pacgan_paper_variant(1), pacgan_paper_variant(2)]
VARIANTS += [
    lucic_variant("mm", "minimax", "MM GAN (saturating G loss)", lucic_hparams(5e-5, 0.0)),
    lucic_variant("ns", "non-saturating", "NS GAN", lucic_hparams(5e-5, 0.0)),
    lucic_variant("lsgan", "lsgan", "LSGAN", lucic_hparams(2e-4, 0.5)),
    lucic_variant("wgan", "wasserstein", "WGAN (clip 0.01, 5 critic steps)",
                  lucic_hparams(5e-5, 0.5, k=5), step_hooks=("clip:0.01",)),
    lucic_variant("wgan-gp", "wasserstein", "WGAN-GP (lambda 10, 5 critic steps, no BN in D)",
                  lucic_hparams(1e-4, 0.5, k=5), regularizers=("gp:10",),
                  model_options={"d_norm": "none"}),
    lucic_variant("dragan", "non-saturating", "DRAGAN (NS GAN + DRAGAN penalty lambda 10)",
                  lucic_hparams(1e-4, 0.5), regularizers=("dragan-sigmoid:10",)),
]


# mimicry's CIFAR-10 protocol (Lee & Town 2020, Mimicry: Towards the Reproducibility of GAN
# Research; github.com/kwotsin/mimicry README, "CIFAR-10 / Training Parameters"): batch 64,
# Adam 2e-4, betas (0, 0.9), 5 D steps per G step, 100k G steps, both learning rates decayed
# linearly to 0 over them, z_dim 128 (its nz), hinge loss.
MIMICRY_HPARAMS = Hyperparams(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.9), k=5,
                              batch_size=64, z_dim=128, lr_schedule="linear")
MIMICRY_REFERENCE = ("Lee & Town 2020, Mimicry: Towards the Reproducibility of GAN Research; "
                     "github.com/kwotsin/mimicry, CIFAR-10 baselines")

VARIANTS += [
    VariantSpec("mimicry-sngan", "resnet", "hinge",
                "SN-GAN on the 32x32 ResNet with mimicry's CIFAR-10 recipe", MIMICRY_HPARAMS,
                reference="Miyato, Kataoka, Koyama & Yoshida 2018; " + MIMICRY_REFERENCE,
                suite_only=True),
    VariantSpec("mimicry-cgan-pd", "cresnet", "hinge",
                "cGAN with projection discriminator on the 32x32 ResNet with mimicry's CIFAR-10 "
                "recipe", MIMICRY_HPARAMS,
                reference="Miyato & Koyama 2018, cGANs with Projection Discriminator; "
                          + MIMICRY_REFERENCE,
                suite_only=True),
]


VARIANTS.append(infogan.variant(MLP_HPARAMS))


@hookimpl
def ganbench_register_variants(register):
    for v in VARIANTS:
        register(v)
