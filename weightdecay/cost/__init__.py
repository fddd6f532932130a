"""What weight decay costs: the timed network, the forms of decay, the measurements.

* `weightdecay.cost.model`: the network of a given parameter count;
* `weightdecay.cost.forms`: one training step for each way of computing decay;
* `weightdecay.cost.trace`: what one step allocates and moves, operation by operation;
* `weightdecay.cost.memory`: peak resident memory, as the kernel counts it;
* `weightdecay.cost.runner`: timing and memory, each configuration in a fresh process;
* `weightdecay.cost.bandwidth`: the decay update against a copy, in bytes per second;
* `weightdecay.cost.plan`: the page's quick run and the full one;
* `weightdecay.cost.summary`: ratios and the targets of a run.

``benchmarks/decay_cost.py`` runs the full measurement; the page "What decay costs"
a quick one.
"""
