"""What weight decay costs: the machinery of `benchmarks.decay_cost` and of its page.

* `benchmarks.cost.forms`: the timed network and the forms of decay, each a training step;
* `benchmarks.cost.trace`: what one step allocates and moves, operation by operation;
* `benchmarks.cost.measure`: the measuring process (``/proc``, glibc, timing, bandwidth);
* `benchmarks.cost.run`: the plans, `QUICK` and `FULL`, run in fresh processes;
* `benchmarks.cost.summary`: ratios to the undecayed step, and the cost targets.

The names the page *What decay costs* uses are importable from here as well, so that it
reads them as ``cost.QUICK``, ``cost.trace_step`` and so on.
"""

from benchmarks.cost.forms import (
    BATCH,
    FORMS,
    LAYERS,
    LEARNING_RATE,
    WEIGHT_DECAY,
    mlp_width,
    parameter_count,
)
from benchmarks.cost.measure import OPERATIONS, bytes_moved
from benchmarks.cost.run import FULL, QUICK, Run, last_level_cache, run_plan
from benchmarks.cost.summary import BANDWIDTH_TARGET, ratios
from benchmarks.cost.trace import trace_step

__all__ = [
    "BANDWIDTH_TARGET",
    "BATCH",
    "FORMS",
    "FULL",
    "LAYERS",
    "LEARNING_RATE",
    "OPERATIONS",
    "QUICK",
    "WEIGHT_DECAY",
    "Run",
    "bytes_moved",
    "last_level_cache",
    "mlp_width",
    "parameter_count",
    "ratios",
    "run_plan",
    "trace_step",
]
