"""Hook specifications. Plugins implement these with ``@ganbench.hookimpl``.

Every hook receives a ``register`` callback; call it once per object. A plugin module needs no
other boilerplate::

    from ganbench import hookimpl
    from ganbench.api.specs import LossSpec

    @hookimpl
    def ganbench_register_losses(register):
        register(LossSpec(name="hinge", d_loss=..., g_loss=..., description="..."))

and an entry point in the ``ganbench`` group of its distribution's metadata::

    [project.entry-points.ganbench]
    hinge = "my_package.my_module"
"""

import pluggy

hookspec = pluggy.HookspecMarker("ganbench")
hookimpl = pluggy.HookimplMarker("ganbench")


@hookspec
def ganbench_register_models(register):
    """Register architectures: call ``register(ModelSpec(...))`` for each one."""


@hookspec
def ganbench_register_losses(register):
    """Register GAN objectives: call ``register(LossSpec(...))`` for each one."""


@hookspec
def ganbench_register_regularizers(register):
    """Register regularisers (gradient penalty, R1, ...): ``register(RegularizerSpec(...))``."""


@hookspec
def ganbench_register_step_hooks(register):
    """Register code run after optimiser steps (weight clipping, ...):
    ``register(StepHookSpec(...))``."""


@hookspec
def ganbench_register_augmentations(register):
    """Register transforms of D's inputs (DiffAugment, ADA): ``register(AugmentSpec(...))``."""


@hookspec
def ganbench_register_latent_samplers(register):
    """Register samplers of G's input (noise and codes): ``register(LatentSamplerSpec(...))``."""


@hookspec
def ganbench_register_variants(register):
    """Register named recipes (model + loss + hyperparameters): ``register(VariantSpec(...))``."""


@hookspec
def ganbench_register_datasets(register):
    """Register datasets: ``register(DatasetSpec(...))``."""


@hookspec
def ganbench_register_metrics(register):
    """Register evaluation metrics: ``register(MetricSpec(...))``."""


@hookspec
def ganbench_register_suites(register):
    """Register benchmark suites: ``register(SuiteSpec(...))``."""


@hookspec
def ganbench_register_executors(register):
    """Add places jobs train: ``register(ExecutorSpec(name, build, description))``;
    ``build(args)`` returns a ``ganbench.execution.executors.Executor`` (``ganbench run --executor
    NAME``)."""


@hookspec
def ganbench_register_search_spaces(register):
    """Register hyperparameter search spaces for ``ganbench sweep --space NAME``:
    ``register(SearchSpaceSpec(...))``."""


@hookspec
def ganbench_register_commands(register):
    """Add CLI sub-commands: ``register(name, help, configure, handler, **parser_options)``.

    ``configure(parser)`` adds arguments to an ``argparse`` parser; ``handler(args)`` runs the
    command and returns an exit code. ``parser_options`` (optional) go to argparse's
    ``add_parser``: ``description`` (default: ``help``), ``epilog``, ``formatter_class``. The
    built-in commands register the same way (``ganbench.cli``); ``ganbench.api.argtypes``
    holds the argument types they use.
    """
