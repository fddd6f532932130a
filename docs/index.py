# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Weight decay, derived and checked
#
# Weight decay adds a penalty $\frac{\lambda}{2}\lVert\theta\rVert_2^2$ to the training
# loss $L(\theta)$. The penalty's gradient is $\lambda\theta$, so one gradient step
# with learning rate $\eta$ reads
# $\theta \leftarrow \theta - \eta\big(\nabla L(\theta) + \lambda\theta\big)
# = (1 - \eta\lambda)\,\theta - \eta\nabla L(\theta)$:
# before the data moves the parameters, every step multiplies them by $1 - \eta\lambda$.
# They decay geometrically towards zero unless the data holds them up; hence the name,
# which goes back to Hinton's group in the mid-1980s
# ([Plaut, Nowlan and Hinton, 1986](references.html#plaut1986)); Krogh and Hertz
# analysed why it improves generalization
# ([Krogh and Hertz, 1992](references.html#krogh1992)).
# PyTorch's `torch.optim.SGD(weight_decay=λ)` applies exactly this by adding $\lambda\theta$
# to the gradient inside the optimizer, with no penalty term in the loss.
#
# Why it helps: a model with smaller weights changes less when its input changes, so
# decay trades a little training fit for lower variance
# ([Goodfellow, Bengio and Courville, 2016, §7.1.1](references.html#goodfellow2016)).
# For a linear model the penalized least-squares problem is ridge regression, with a
# closed-form solution ([Hoerl and Kennard, 1970](references.html#hoerl1970)). In
# probabilistic terms, minimizing a mean negative log-likelihood plus the penalty is
# maximum a posteriori estimation under a Gaussian prior $\mathcal{N}(0, \tau I)$ with
# *variance* $\tau = 1/(N\lambda)$, where $N$ counts the terms the loss averages over
# ([Bishop, 2006, §3.3](references.html#bishop2006)); for the mean squared error this
# reading assumes Gaussian noise: the MSE is the mean negative log-likelihood up to a
# constant when the noise variance $\sigma^2$ is $1/2$, and for another $\sigma^2$ the
# matching decay is $\lambda = 2\sigma^2/(N\tau)$. In `torch.optim.SGD`, with or
# without momentum, `weight_decay` is exactly such a penalty; in adaptive methods such
# as Adam the penalty's gradient is rescaled coordinate by coordinate, and decoupled
# decay (AdamW) is a different algorithm
# ([Loshchilov and Hutter, 2019](references.html#loshchilov2019)).
#
# This site takes two public texts on weight decay and repeats what they show on
# seeded data (so its numbers are this site's own, not the figures the texts printed
# from unseeded runs), fixes what they get wrong, and checks each equation three ways:
# as LaTeX on the page, as a function of the `weightdecay` package whose doctest
# verifies it, and against an independent oracle (PyTorch's autograd and optimizers,
# scikit-learn, closed forms). Every number and figure below is computed while the site
# is built; every parity figure, and every measured relation the prose states, is an
# assertion: if one stops holding, the build fails.
#
# ## Map of the site
#
# | page | what it shows |
# | --- | --- |
# | [Weight decay from scratch](from-scratch.html) | the first source: $\partial J/\partial W$ derived, a hand-written update against `torch.optim.SGD`, parity in float32 and float64 |
# | [A Bayesian perspective](bayesian.html) | the second source: the MAP derivation step by step, three ways of applying the same decay, their trajectories compared |
# | [When L2 is weight decay, and when it is not](l2-vs-decay.html) | momentum, Adam against AdamW, decay and learning rate, parameter groups, gradient accumulation |
# | [Where gradient descent ends up](closed-form.html) | the ridge closed form, its parity with scikit-learn, convergence of decayed gradient descent, the regularization path |
# | [Overfitting and the choice of lambda](overfitting.html) | d2l's 200-feature, 20-row problem; cross-validation against the evidence |
# | [Why decay shrinks what it shrinks](shrinkage.html) | the eigen view, effective parameters, early stopping as another filter |
# | [Beyond MAP](beyond-map.html) | the full posterior, predictive bands, the evidence against lambda |
# | [Informative priors](informative-priors.html) | decay towards pretrained weights (L2-SP) on a transfer task |
# | [Weight decay for classifiers](classifiers.html) | logistic and softmax regression from scratch, against `torch.nn` and scikit-learn's `C`; the posterior without a noise model; decision boundaries and calibration against lambda |
# | [Decay with normalization layers](normalization-layers.html) | scale invariance, the gradient orthogonal to the weight, the norm's equilibrium and the effective learning rate |
# | [Weight decay under data parallelism](data-parallel.html) | DDP and ZeRO on two gloo processes against one process on the full batch; where decay happens, and how it goes wrong |
# | [What decay costs](decay-cost.html) | step time and peak memory of every form of decay from $10^3$ to $10^6$ parameters, memory bandwidth of the decay update |
# | [Notation](notation.html) | every symbol, its name in code, and how scikit-learn's names differ |
# | [API](api.html) | the package's functions, with their equations and examples |
# | [References](references.html) | the sources and the literature the pages cite |
# | [Environment](environment.html) | the versions and machine this build ran on |

# %% [markdown]
# ## Every parity figure on the site
#
# The identities the pages derive are measured at seeded points (`derivation_checks`,
# `closed_form_checks`), and the two experiments run here again, in both dtypes, by
# calling the package's entry points `run_linear_experiment` and `run_bayes_experiment`;
# the equivalences of the page on L2 against weight decay and the parity claims of the
# pages on classifiers, normalization layers and data parallelism are measured again
# too. A row's bound is the tolerance of the claim ("= 0" claims exact equality), and
# its origin names the row of the [table of tolerances](api.html#tolerances) that
# derives it, most as a multiple of the machine epsilon from the roundings the two
# computations make differently; the cell ends by asserting every row, so the table
# below cannot show a failure: the build would have stopped first.
# Errors are norm-wise relative, $\lVert p - q\rVert_2/\lVert q\rVert_2$, unless the row
# says MAPE (the first source's percentage error) or max abs difference.

# %%
import torch
from IPython.display import Markdown

from weightdecay import run_bayes_experiment, run_linear_experiment
from weightdecay.derivations import closed_form_checks, derivation_checks
from weightdecay.distributed import parallel_checks, run_data_parallel
from weightdecay.experiments.accumulation import accumulation_experiment
from weightdecay.experiments.adaptive import compare_adam_decay
from weightdecay.experiments.classification import identities, sklearn_parity, trajectory_parity
from weightdecay.experiments.momentum import compare_momentum_decay
from weightdecay.experiments.norm_dynamics import scale_invariance_checks
from weightdecay.planar import make_task
from weightdecay.report import (
    assert_checks,
    bayes_checks,
    checks_table,
    classification_checks,
    decay_form_checks,
    linear_checks,
)

checks = derivation_checks() + closed_form_checks()
for dtype in (torch.float64, torch.float32):
    checks += linear_checks(run_linear_experiment(dtype=dtype))
    checks += bayes_checks(run_bayes_experiment(dtype=dtype))
checks += decay_form_checks(
    compare_momentum_decay(), accumulation_experiment(), compare_adam_decay()
)
tasks = [make_task(name) for name in ("moons", "blobs")]
checks += classification_checks(
    [trajectory_parity(task, epochs=50) for task in tasks],
    [sklearn_parity(task, lam) for task in tasks for lam in (1e-4, 1e-2, 1.0)],
    [identities(task) for task in tasks],
)
checks += scale_invariance_checks()
checks += parallel_checks(run_data_parallel())
assert_checks(checks)
Markdown(checks_table(checks))
