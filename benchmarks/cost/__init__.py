"""What weight decay costs: the machinery of `benchmarks.decay_cost` and of its page.

* `benchmarks.cost.forms`: the timed network and the forms of decay, each a training step;
* `benchmarks.cost.trace`: what one step allocates and moves, operation by operation;
* `benchmarks.cost.measure`: the measuring process (``/proc``, glibc, timing, bandwidth);
* `benchmarks.cost.run`: the plans, `QUICK` and `FULL`, run in fresh processes;
* `benchmarks.cost.summary`: ratios to the undecayed step, and the cost targets.
"""

from benchmarks.cost.forms import FORMS
from benchmarks.cost.run import FULL, QUICK, Run, run_plan

__all__ = ["FORMS", "FULL", "QUICK", "Run", "run_plan"]
