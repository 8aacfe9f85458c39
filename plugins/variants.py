"""The four built-in variants. vanilla-minimax and non-saturating share every hyperparameter
and the architecture, so the generator loss is the only difference between them.

| variant | model | loss | optimiser | lr G / D | betas | k | batch | z_dim |
|---|---|---|---|---|---|---|---|---|
| vanilla-minimax | mlp | minimax | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| non-saturating | mlp | non-saturating | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |
| dcgan | dcgan | non-saturating | adam | 2e-4 / 2e-4 | (0.5, 0.999) | 1 | 64 | 100 |
| cgan | cmlp | non-saturating | adam | 1e-3 / 1e-3 | (0.5, 0.999) | 1 | 128 | 16 |

Goodfellow et al. trained with SGD + momentum; we use Adam for all MLP variants so that the
comparison isolates the loss. DCGAN's numbers are Radford et al.'s (Adam 2e-4, β1 0.5, batch
128 in the paper; 64 here to keep CPU steps short, z_dim 100).
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.specs import Hyperparams, VariantSpec

MLP_HPARAMS = Hyperparams(optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), k=1,
                          batch_size=128, z_dim=16)
DCGAN_HPARAMS = Hyperparams(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), k=1,
                            batch_size=64, z_dim=100)

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
]


@hookimpl
def ganbench_register_variants(register):
    for v in VARIANTS:
        register(v)
