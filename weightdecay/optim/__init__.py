"""Optimizers written from scratch, with parity against ``torch.optim``.

* `SGD`: momentum, dampening, Nesterov, and coupled or decoupled (SGDW) decay;
* `Adam`, `AdamW`: coupled or decoupled decay, AMSGrad;
* `decay_groups`: parameter groups that leave biases and normalization layers undecayed.
"""

from weightdecay.optim.adam import Adam, AdamW
from weightdecay.optim.groups import DECAY_RULES, decay_groups, decays
from weightdecay.optim.sgd import SGD

__all__ = ["DECAY_RULES", "SGD", "Adam", "AdamW", "decay_groups", "decays"]
