"""The built-in executors: auto, local, processes, ray, slurm (see ganbench.execution.executors)."""

from ganbench import hookimpl
from ganbench.api.specs import ExecutorSpec


def _auto(args):
    raise RuntimeError("--executor auto is resolved (ganbench.execution.executors.choose) before an "
                       "executor is built")


def _local(args):
    from ganbench.execution.executors.local import build

    return build(args)


def _processes(args):
    from ganbench.execution.executors.processes import build

    return build(args)


def _ray(args):
    from ganbench.execution.executors.ray_engine import build

    return build(args)


def _slurm(args):
    from ganbench.execution.executors.slurm import build

    return build(args)


@hookimpl
def ganbench_register_executors(register):
    register(ExecutorSpec("auto", _auto, "the default: processes with one single-thread worker "
                          "per core when several jobs train on the CPU, one worker per GPU on "
                          "a multi-GPU machine, else local"))
    register(ExecutorSpec("local", _local, "one job after another in this process"))
    register(ExecutorSpec("processes", _processes,
                          "--jobs worker processes on this machine (one GPU each when there "
                          "are several; CPU threads split between them)"))
    register(ExecutorSpec("ray", _ray, "each job a Ray task on a cluster (--ray-address); "
                          "pip install 'ganbench[ray]'"))
    register(ExecutorSpec("slurm", _slurm, "each job a Slurm job (or an array) through "
                          "submitit; pip install 'ganbench[slurm]'"))
