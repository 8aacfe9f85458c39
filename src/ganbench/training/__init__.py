"""Training one job: the runner, the declarative training step, checkpoints, the GPU fast path, memory."""
