"""Execution: the driver below the CLI, the executors, the worker function, locks and outcomes."""
