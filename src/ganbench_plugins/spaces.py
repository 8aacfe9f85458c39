"""Built-in hyperparameter search spaces for ``ganbench sweep --space NAME``.

``lucic2018`` is the default space of every built-in variant: the wide ranges of the
large-scale study of Lucic, Kurach, Michalski, Gelly & Bousquet 2018, "Are GANs Created Equal?
A Large-Scale Study" (NeurIPS), which sampled 100 settings per model and dataset: Adam's
learning rate log-uniform in [1e-5, 1e-2] (the same for G and D), beta1 and beta2 uniform in
[0, 1], the number of D steps per G step in {1, 5}, the batch size in {8, 16, 32, 64, 128} and
the penalty weight lambda (WGAN-GP, DRAGAN) log-uniform in [0.1, 100]. Parameters that do not
apply to a variant are left out of its trials: the betas under RMSprop (``wgan``), the penalty
weight without a regulariser (it applies to ``wgan-gp``'s GP and ``r1``'s R1 here).
"""

from ganbench import hookimpl
from ganbench.api.specs import SearchSpaceSpec
from ganbench.analysis.study import Choice, LogUniform, Uniform

LUCIC2018 = "Lucic et al. 2018, Are GANs Created Equal? A Large-Scale Study (wide ranges)"


@hookimpl
def ganbench_register_search_spaces(register):
    register(SearchSpaceSpec(
        "lucic2018",
        {"lr": LogUniform(1e-5, 1e-2), "beta1": Uniform(0.0, 1.0), "beta2": Uniform(0.0, 1.0),
         "k": Choice((1, 5)), "batch_size": Choice((8, 16, 32, 64, 128)),
         "reg_weight": LogUniform(0.1, 100.0)},
        "learning rate, Adam betas, D steps, batch size, penalty weight", LUCIC2018))
    register(SearchSpaceSpec(
        "lr", {"lr": LogUniform(1e-5, 1e-2)},
        "the learning rate only (G and D alike), Lucic et al.'s range", LUCIC2018))
