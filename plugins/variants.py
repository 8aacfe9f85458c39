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
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.specs import Hyperparams, VariantSpec

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


@hookimpl
def ganbench_register_variants(register):
    for v in VARIANTS:
        register(v)
