"""The project's benchmarks: what its code costs in time and memory.

``make bench`` runs `benchmarks.optimizer_step` (one optimizer step, this package's
against ``torch.optim``) and `benchmarks.decay_cost` (one training step with each form
of weight decay, from the machinery of `benchmarks.cost`); ``make bench-docs`` runs
`benchmarks.docs_build`. Nothing here is part of the ``weightdecay`` package.
"""
