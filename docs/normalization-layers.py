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
# # Decay with normalization layers
#
# Put BatchNorm or LayerNorm right after a linear layer and the loss no longer depends on
# the scale of that layer's weights: multiply them by any $c > 0$ and the network computes
# the same function. Weight decay, which only shrinks the scale, then cannot regularize the
# function at all. What it does instead is control the weight norm, and through the norm
# the size of the steps that gradient descent takes in the weights' direction: an
# effective learning rate
# ([van Laarhoven, 2017](references.html#vanlaarhoven2017);
# [Zhang, Wang, Xu and Grosse, 2019](references.html#zhang2019)).
#
# This page derives that picture and checks every step of it on a small classifier: the
# invariance of the loss, the geometry of the gradient it implies, the norm's balance
# under SGD with decay and the learning rate it sets, and what all this means for the
# usual advice to exclude normalization parameters from decay.
#
# **The set-up.** Four Gaussian blobs of unit variance in four dimensions, with centres
# drawn at unit spread, so that the classes overlap (4096 training and 2048 test points,
# seeded). The classifier is
# `Linear(4, 32, bias=False) → BatchNorm → ReLU → Linear(32, 32, bias=False) → BatchNorm → ReLU → Linear(32, 4)`
# in float64 (`weightdecay.models.normalized.NormalizedClassifier`), trained on the
# cross-entropy.

# %%
import copy
import itertools
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from torch import nn

from weightdecay.experiments.invariance import (
    INVARIANCE_SCALES,
    ROUNDING_BOUND,
    epsilon_deviation,
    gaussian_blobs,
    invariance_figures,
)
from weightdecay.experiments.norm_dynamics import (
    EQUILIBRIUM_TOLERANCE,
    SETTLED_RELAXATIONS,
    rescaled_training_difference,
    run_norm_dynamics,
    scale_invariance_checks,
)
from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
from weightdecay.optim.groups import decay_groups
from weightdecay.report import assert_checks, checks_table, format_value
from weightdecay.scale_invariance import loss_change_under_scaling, scale_invariant_weights
from weightdecay.seeding import derive_seed

data = gaussian_blobs(n_train=4096, n_test=2048, n_classes=4, dim=4, spread=1.0, seed=0)
model = NormalizedClassifier(eps=NEGLIGIBLE_EPS, seed=derive_seed(0, "init"))
invariant = list(scale_invariant_weights(model))
print("scale-invariant weights:", ", ".join(invariant))
assert invariant == ["0.weight", "3.weight"], invariant

# %% [markdown]
# `weightdecay.scale_invariance.scale_invariant_weights` finds the weights whose layer
# feeds a normalization directly: the two hidden ones. The head's weight feeds the loss
# and serves as the control throughout.
#
# ## The loss does not see the scale
#
# Take one hidden layer, $z = Wx$, and a batch of $m$ inputs. BatchNorm (in training
# mode) normalizes every feature $j$ with the batch's own statistics,
#
# $$\hat z_{ij} = \frac{z_{ij} - \operatorname{mean}_j}{\sqrt{\operatorname{var}_j + \epsilon}}, \qquad
# \operatorname{mean}_j = \frac{1}{m}\sum_i z_{ij}, \qquad \operatorname{var}_j = \frac{1}{m}\sum_i (z_{ij} - \operatorname{mean}_j)^2 .$$
#
# Replace $W$ by $cW$ with $c > 0$: every $z_{ij}$, hence every $\operatorname{mean}_j$, is multiplied by
# $c$, and every $\operatorname{var}_j$ by $c^2$. The factor $c$ cancels between numerator and
# denominator, except inside $\epsilon$:
#
# $$\hat z_{ij}(cW) = \frac{z_{ij} - \operatorname{mean}_j}{\sqrt{\operatorname{var}_j + \epsilon/c^2}}, \qquad\text{so}\qquad
# L_\epsilon(cW) = L_{\epsilon/c^2}(W).$$
#
# With $\epsilon = 0$ the loss is exactly invariant, $L(cW) = L(W)$. LayerNorm computes its
# statistics over the features of each example instead, and the same cancellation
# happens. A bias before BatchNorm would be removed with the mean; before LayerNorm it
# would not, which is why the classifier's hidden layers have none.
#
# PyTorch's BatchNorm refuses $\epsilon = 0$ in training. The experiments use the smallest
# positive normal float64 instead (`NEGLIGIBLE_EPS`, about $2.2\times 10^{-308}$): added
# to a variance above about $4\times 10^{-292}$ it is less than half a unit in the last
# place and rounds away, so the layer computes exactly what $\epsilon = 0$ would. The
# first cell below asserts both (the refusal, and the rounding on the variances that
# either BatchNorm divides by on the batch used here), then rescales each weight by
# $c \in \{0.01, 0.5, 2, 100\}$ on a batch of 256 training points and reports the largest
# relative change of the loss, $|L(cW) - L(W)|/L(W)$.

# %%
try:
    nn.BatchNorm1d(3, eps=0.0)(torch.randn(4, 3))
    refused = False
except ValueError:
    refused = True
assert refused, "BatchNorm accepted eps = 0 in training"
x, y = data.x_train[:256], data.y_train[:256]
with torch.no_grad():
    # The pre-activations of each BatchNorm (on a copy: a forward pass moves its statistics).
    inputs = {"1": model[0](x), "4": copy.deepcopy(model)[:4](x)}
for layer, z in inputs.items():
    variances = z.var(dim=0, unbiased=False)
    assert torch.equal(variances + NEGLIGIBLE_EPS, variances), f"eps is not negligible in {layer}"
epsilon = torch.finfo(torch.float64).eps  # 2^-52
print(f"rounding bound: {ROUNDING_BOUND:.0e} = {ROUNDING_BOUND / epsilon:.0f} ε")
print(f"worst case of 2^11 roundings: {2**11 * epsilon:.1e}")
# The bound's origin: ten times the random walk of 2^11 roundings (see below).
random_walk = 10 * math.sqrt(2**11) * epsilon
training_walk = math.sqrt(300 * 700) * epsilon  # 300 steps of some 700 roundings
assert random_walk >= ROUNDING_BOUND and training_walk >= ROUNDING_BOUND
figures = {norm: invariance_figures(norm) for norm in ("batch", "layer")}
table = ["| normalization | weight | feeds a normalization | largest relative change of L |",
         "| --- | --- | --- | ---: |"]  # fmt: skip
for norm, fig in figures.items():
    for name, change, flag in zip(fig.names, fig.loss_change, fig.invariant, strict=True):
        table.append(f"| {norm} | `{name}` | {'yes' if flag else 'no'} | {format_value(change)} |")
    # The hidden weights: rounding only. The head: a change larger than the loss itself.
    assert (
        max(c for c, f in zip(fig.loss_change, fig.invariant, strict=True) if f) < ROUNDING_BOUND
    )
    assert min(c for c, f in zip(fig.loss_change, fig.invariant, strict=True) if not f) > 1
print("scales c:", INVARIANCE_SCALES)
Markdown("\n".join(table))

# %% [markdown]
# For both normalizations the hidden weights change the loss by less than $10^{-13}$
# (relative, asserted), over four orders of magnitude of $c$; rescaling the head's
# weight changes it by more than 100% (asserted).
#
# **The rounding bound.** Every check on this page that a quantity is zero up to
# rounding holds it to $10^{-13}$, about 450 float64 epsilons ($\varepsilon = 2^{-52}$,
# printed). Each such quantity comes out of a pass or two over the 256 rows of a batch or
# over the at most 1024 entries of a weight, about $p = 2^{11}$ roundings. Rounding
# errors of random sign add like a random walk, to about $\sqrt p\,\varepsilon$, and the
# bound is ten times that (asserted above); were every rounding to go the same way, they
# would add up to $p\varepsilon$ (printed). Over the 300 training steps of the rescaled
# run further down, some 700 roundings a step, the random walk $\sqrt{300 \cdot 700}\,\varepsilon$
# comes to the same bound. Measured values well below it, or
# exactly 0, mean that the roundings of the two sides cancelled further or coincided;
# with $c = 0.5$ or $2$, powers of two, every rounding scales exactly.
#
# **Evaluation mode is different.** At test time BatchNorm divides by running averages of
# the training statistics, fixed numbers that do not follow $W$. Filled by twenty forward
# passes, those averages are then stale for $2W$:

# %%
with torch.no_grad():
    evaluated = NormalizedClassifier(eps=NEGLIGIBLE_EPS, seed=derive_seed(0, "init"))
    for _ in range(20):
        evaluated(data.x_train[:1024])
evaluated.eval()
eval_change = loss_change_under_scaling(evaluated, "0.weight", 2.0, x, y)
evaluated.train()
train_change = loss_change_under_scaling(evaluated, "0.weight", 2.0, x, y)
layer_norm = NormalizedClassifier(norm="layer", eps=0.0, seed=derive_seed(0, "init")).eval()
layer_eval_change = loss_change_under_scaling(layer_norm, "0.weight", 2.0, x, y)
print(
    f"relative change of L under W -> 2W: evaluation mode {format_value(eval_change)}, training mode {format_value(train_change)}"
)
print(f"the same with LayerNorm in evaluation mode: {format_value(layer_eval_change)}")
# Evaluation mode: far above rounding. Training mode and LayerNorm: c = 2 is a power of two,
# so every rounding scales exactly and the change is exactly 0.
assert eval_change > 1e-2 and train_change == 0.0 and layer_eval_change == 0.0

# %% [markdown]
# The loss moves by more than 1% in evaluation mode and not at all in training mode
# (both asserted; at $c = 2$ not even by a rounding). The training dynamics below see
# only training mode, where the running statistics play no part. LayerNorm has no
# running statistics and stays exactly invariant in evaluation mode (asserted).
#
# ### With PyTorch's default $\epsilon = 10^{-5}$
#
# Now the invariance is approximate. From $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$, to first
# order in the shift $\epsilon/c^2 - \epsilon$ of the regularizer,
#
# $$L(cW) - L(W) \approx -\epsilon\,(1 - c^{-2})\,\frac{\partial L}{\partial\epsilon}.$$
#
# The derivative in $\epsilon$ need not be computed separately: differentiating
# $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$ in $c$ at $c = 1$ gives
# $\langle\nabla L(W), W\rangle = -2\epsilon\,\partial L/\partial\epsilon$, hence
#
# $$L(cW) - L(W) \approx \tfrac{1}{2}\big(1 - c^{-2}\big)\,\langle\nabla L(W), W\rangle .$$
#
# Every normalized value is off by the factor $\sqrt{(\operatorname{var}_j + \epsilon)/(\operatorname{var}_j + \epsilon/c^2)}$,
# so the neglected second-order term is smaller than the first-order one by a factor of
# order $\epsilon\,|1 - c^{-2}|/\operatorname{var}_{\min}$, where $\operatorname{var}_{\min}$ is the smallest
# variance the layer divides by. The table measures both on the second hidden weight,
# same batch.

# %%
table = ["| normalization | c | L(W) | L(cW) − L(W) | first-order value | relative discrepancy | order of the error |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
for norm in ("batch", "layer"):
    for c in (0.5, 2.0, 10.0):
        dev = epsilon_deviation(c, norm=norm)
        # The discrepancy is bounded by the order of the neglected term, which must be small
        # (below 1e-2) for a first-order value to mean anything.
        assert dev.discrepancy < dev.order < 1e-2, (norm, c, dev)
        # 1e-4: the size of the move the prose states, against the loss itself.
        assert abs(dev.change) / dev.loss < 1e-4
        table.append(
            f"| {norm} | {c} | {dev.loss:.6f} | {format_value(dev.change)} | {format_value(dev.first_order)} "
            f"| {format_value(dev.discrepancy)} | {format_value(dev.order)} |"
        )
Markdown("\n".join(table))

# %% [markdown]
# The loss moves by less than $10^{-4}$ of itself (asserted), and the first-order value
# captures the move up to a discrepancy below the estimated order of its error
# $\epsilon|1 - c^{-2}|/\operatorname{var}_{\min}$ (asserted). The invariance thus holds as long as
# the pre-activation variances stay far above $\epsilon$. They scale with
# $\lVert W\rVert^2$, so $\epsilon$ comes into play only for a weight that decay has
# shrunk to a very small norm.

# %% [markdown]
# ## The gradient is orthogonal to the weight and scales as $1/\lVert W\rVert$
#
# Two consequences of $L(cW) = L(W)$ for all $c > 0$, each obtained by differentiating it:
#
# * in $c$, at $c = 1$: $\langle\nabla L(W), W\rangle = 0$. The gradient has no radial
#   component; a gradient step cannot shrink or grow $W$ directly.
# * in $W$: $c\,\nabla L(cW) = \nabla L(W)$. The gradient shrinks as the weight grows;
#   at $c = 1/\lVert W\rVert$, $\nabla L(W) = \hat g/\lVert W\rVert$, with
#   $\hat g = \nabla L(W/\lVert W\rVert)$ the gradient at the unit-norm weight.
#
# The cosine between $\nabla L$ and $W$, and the relative distance between
# $c\,\nabla L(cW)$ and $\nabla L(W)$ (largest over the same four $c$), by autograd:

# %%
table = ["| normalization | weight | feeds a normalization | cosine of grad L and W | c grad L(cW) vs grad L(W), relative |",
         "| --- | --- | --- | ---: | ---: |"]  # fmt: skip
for norm, fig in figures.items():
    for name, cos, grad, flag in zip(
        fig.names, fig.cosine, fig.gradient_scaling, fig.invariant, strict=True
    ):
        table.append(
            f"| {norm} | `{name}` | {'yes' if flag else 'no'} | {format_value(cos)} | {format_value(grad)} |"
        )
    _, worst_cos, worst_grad = fig.worst(invariant=True)
    _, least_cos, least_grad = fig.worst(invariant=False)
    assert worst_cos < ROUNDING_BOUND and worst_grad < ROUNDING_BOUND  # rounding only
    # The head: far above rounding; its gradient's scaling is off by more than the gradient.
    assert least_cos > 1e-2 and least_grad > 1
print(f"ε / sqrt(1024) = {epsilon / math.sqrt(1024):.1e}")
Markdown("\n".join(table))

# %% [markdown]
# For the hidden weights both are below $10^{-13}$ (asserted); for the head the cosine
# exceeds $10^{-2}$ and $c\,\nabla L(cW)$ differs from $\nabla L(W)$ by more than
# $\nabla L(W)$ itself (both asserted), so the identities are properties of the
# normalization, not of the network. The hidden weights' cosines sit thousands of times
# below the rounding bound, and for a reason: the inner product
# $\langle\nabla L, W\rangle$ adds $p$ products of typical size
# $\lVert\nabla L\rVert\lVert W\rVert/p$, so its rounding errors make a random walk
# of about $\varepsilon\lVert\nabla L\rVert\lVert W\rVert/\sqrt p$, a cosine of
# $\varepsilon/\sqrt p$ (printed for the $p = 1024$ entries of the second hidden weight).

# %% [markdown]
# ## One SGD step with decay
#
# Plain SGD with decay $\lambda$ and learning rate $\eta$ updates a weight as
# $W' = W - \eta(g + \lambda W) = (1 - \eta\lambda)W - \eta g$, with $g = \nabla L(W)$ on the
# mini-batch. Since $g \perp W$, Pythagoras gives the new norm:
#
# $$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2 .$$
#
# Decay shrinks the norm; the gradient step, being orthogonal, always lengthens it. The
# function depends only on the direction $W/\lVert W\rVert$, which turns per step by an
# angle of about $\eta\lVert g\rVert/\lVert W\rVert = (\eta/\lVert W\rVert^2)\,\lVert\hat g\rVert$:
# the step on the unit sphere is the unit-norm gradient times the **effective learning
# rate** $\eta/\lVert W\rVert^2$
# ([Hoffer, Banner, Golan and Soudry, 2018](references.html#hoffer2018)).
#
# **The runs.** The classifier above, trained from one seeded initialization on one
# seeded sequence of mini-batches (128 points drawn with replacement) for 3000 steps of
# plain SGD without momentum, $\eta = 0.25$, once for each
# $\lambda \in \{0, 0.002, 0.008, 0.032\}$. Decay goes where
# `weightdecay.optim.decay_groups` puts it: on the two hidden weights and on the head's
# weight, not on the BatchNorm parameters or the head's bias. At every step
# `run_norm_dynamics` records, for both hidden weights, $\lVert W_t\rVert$, $\lVert g_t\rVert$
# and their cosine, and the mini-batch's loss and accuracy.

# %%
lambdas = (0.0, 2e-3, 8e-3, 3.2e-2)
dynamics = run_norm_dynamics(lambdas=lambdas, lr=0.25, steps=3000, batch_size=128, window=1500)
recursion = max(run.recursion_error() for run in dynamics.runs)
cosine = max(run.cosines.abs().max().item() for run in dynamics.runs)
print(
    f"norm recursion, largest relative error over every step, weight and run: {format_value(recursion)}"
)
print(f"largest |cos(g_t, W_t)| over every step, weight and run: {format_value(cosine)}")
assert recursion < ROUNDING_BOUND and cosine < ROUNDING_BOUND  # rounding only
table = ["| λ | mean mini-batch loss, last 1500 steps | mean mini-batch accuracy | test accuracy |",
         "| ---: | ---: | ---: | ---: |"]  # fmt: skip
for run in dynamics.runs:
    table.append(
        f"| {run.weight_decay} | {run.loss[-1500:].mean().item():.4f} | {run.accuracy[-1500:].mean().item():.4f} | {run.test_accuracy:.4f} |"
    )
accuracies = [run.test_accuracy for run in dynamics.runs]
# The nearest-centre rule, optimal for these blobs (equal priors, unit variance), and the
# binomial standard error of an accuracy on the test set.
nearest = torch.cdist(data.x_test, data.centres).argmin(dim=1)
optimal = (nearest == data.y_test).double().mean().item()
accuracy_error = math.sqrt(optimal * (1 - optimal) / data.y_test.numel())
print(
    f"test accuracy of the nearest-centre rule {optimal:.4f}; standard error of a test accuracy {accuracy_error:.4f}"
)
# 0.02: the prose's two points, against the binomial standard error printed above.
assert max(accuracies) - min(accuracies) < 0.02
# 0.9: the prose's 90%; the optimal rule stays below it too, so the limit is the overlap.
assert max(accuracies) < 0.9 and optimal < 0.9
Markdown("\n".join(table))

# %% [markdown]
# The recursion holds at every one of the 3000 steps of every run to within $10^{-13}$,
# and the gradient stays orthogonal to the weight throughout training (both asserted).
# The four runs end within two points of test accuracy of each other (asserted; the
# binomial standard error of an accuracy on the 2048 test points is printed for scale),
# all below 90% (asserted). Even the nearest-centre rule, which knows the centres and is optimal for
# these blobs, stays below 90% (asserted): the classes overlap.

# %% [markdown]
# ## The equilibrium norm
#
# Write $\nu = \lVert W\rVert^2$ and $G = \mathbb{E}\lVert\hat g\rVert^2$. With
# $\lVert g\rVert^2 = \lVert\hat g\rVert^2/\nu$, the recursion becomes, on average,
# $\nu' = (1 - \eta\lambda)^2 \nu + \eta^2 G/\nu$: decay removes a fixed fraction of $\nu$, the
# gradient adds an amount that falls as $\nu$ grows. They balance at
# $\nu^2\big(1 - (1 - \eta\lambda)^2\big) = \eta^2 G$, that is
#
# $$\lVert W\rVert^4 = \frac{\eta\,G}{\lambda\,(2 - \eta\lambda)} .$$
#
# Linearized around this point, a deviation of $\nu$ shrinks by
# $1 - 4\eta\lambda + 2\eta^2\lambda^2$ per step: the norm relaxes over about
# $1/(4\eta\lambda)$ steps, whatever it started from (far above the balance, decay alone
# acts and the approach is twice as slow). At the balance, dividing by $\nu$,
#
# $$\mathbb{E}\Big[\frac{\eta^2\lVert g\rVert^2}{\lVert W\rVert^2}\Big] = \eta\lambda\,(2 - \eta\lambda) \approx 2\eta\lambda :$$
#
# the root-mean-square angular update $\eta\lVert g\rVert/\lVert W\rVert$ tends to
# $\sqrt{\eta\lambda(2 - \eta\lambda)}$, independent of the gradient, of the loss and of the
# layer ([Wan, Zhu, Zhang and Sun, 2021](references.html#wan2021);
# [Kosson, Messmer and Jaggi, 2024](references.html#kosson2024)). Every layer behind a
# normalization ends up rotating at the same rate, set by $\eta\lambda$ alone.
#
# **Comparing with the runs.** $G$ is the mean of $(\lVert g_t\rVert\,\lVert W_t\rVert)^2$
# over the last 1500 steps; the observed norm is the mean of $\lVert W_t\rVert$ over the
# same window, the observed angular update the root mean square of
# $\eta\lVert g_t\rVert/\lVert W_t\rVert$. A run counts as settled when at least
# five relaxation times $1/(4\eta\lambda)$ pass before the window opens.
#
# **The tolerance.** Both predictions take $\nu_t = \lVert W_t\rVert^2$ to sit at its
# balance, but the mini-batch gradients make it fluctuate about it, with a relative
# variance $r = \operatorname{Var}(\nu)/\bar\nu^2$ over the window. How far the observed
# values can then stray from the predictions follows from the recursion itself, summed
# over the window's $M$ steps. With $q = \eta\lambda(2 - \eta\lambda)$, divided by $\nu_t$
# it reads $\eta^2\lVert g_t\rVert^2/\nu_t = q + \delta\nu_t/\nu_t$, so that, to second order
# in $\delta\nu_t/\nu_t$,
#
# $$\frac{1}{q}\,\overline{\Big(\frac{\eta\lVert g\rVert}{\lVert W\rVert}\Big)^2} - 1
# = \frac{\ln(\nu_M/\nu_0)}{qM} + \frac{\overline{(\delta\nu/\nu)^2}}{2q};$$
#
# multiplied by $\nu_t$ it gives exactly
# $\eta^2 G = q\,\overline{\nu^2} + (\nu_M^2 - \nu_0^2)/(2M) - \overline{(\delta\nu)^2}/2$.
# The terms in the window's two ends are its statistical error: with ends far enough
# apart to be independent, $\ln(\nu_M/\nu_0)$ has standard deviation $\sqrt{2r}$. The other
# terms are biases: when $\nu$ relaxes at the linearized rate (per-step factor $1 - 2q$),
# $\overline{(\delta\nu)^2} = 4q\,r\,\bar\nu^2$. To first order in $r$, then, the observed
# angular update exceeds its prediction by $r$, with standard error $\sqrt{2r}/(2qM)$,
# and the observed norm exceeds its own by $r/8$, with standard error $\sqrt{2r}/(4qM)$
# (`weightdecay.equilibrium.comparison_bias` and `comparison_standard_error`). Both
# errors fall like $1/M$, not like $1/\sqrt M$: the prediction is computed from the
# same window, and the recursion ties the two sides together at every step. The
# tolerance of 2% is asserted to exceed five standard errors plus the bias of every
# comparison, and each observed error to lie within five standard errors of its bias.

# %%
window = dynamics.window
table = ["| λ | ηλ | relaxation times before the window | weight | ‖W‖ observed | ‖W‖ predicted | relative error | angular update observed | predicted | relative error |",
         "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
budget = ["| λ | weight | r | norm: bias r/8 | standard error | (error − bias) / standard error | angular update: bias r | standard error | (error − bias) / standard error |",
          "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
settled = dynamics.settled()
margins, deviations = [], []
for run in dynamics.runs[1:]:
    observed, predicted = run.observed_norm(window), run.predicted_norm(window)
    angular, angular_predicted = (
        run.observed_angular_update(window),
        run.predicted_angular_update(),
    )
    errors = run.comparison_errors(window)
    biases = run.comparison_bias(window)
    standard_errors = run.comparison_standard_error(window)
    relaxations = dynamics.relaxations_before_window(run)
    for j, name in enumerate(run.names):
        table.append(
            f"| {run.weight_decay} | {run.lr * run.weight_decay:.4g} | {relaxations:.3g} | `{name}` "
            f"| {observed[j].item():.4f} | {predicted[j].item():.4f} | {format_value(errors[0][j].item())} "
            f"| {angular[j].item():.5f} | {angular_predicted:.5f} | {format_value(errors[1][j].item())} |"
        )
        cells = [
            f"{run.weight_decay}",
            f"`{name}`",
            format_value(run.fluctuation(window)[j].item() ** 2),
        ]
        for k in (0, 1):
            z = (errors[k][j] - biases[k][j]) / standard_errors[k][j]
            cells += [
                format_value(biases[k][j].item()),
                format_value(standard_errors[k][j].item()),
                f"{z.item():.2f}",
            ]
            if run in settled:
                margins.append(5 * standard_errors[k][j].item() + abs(biases[k][j].item()))
                deviations.append(abs(z.item()))
        budget.append("| " + " | ".join(cells) + " |")
assert [run.weight_decay for run in settled] == [8e-3, 3.2e-2]
assert dynamics.relaxations_before_window(dynamics.run(2e-3)) < SETTLED_RELAXATIONS
norm_error, angular_error = dynamics.equilibrium_errors()
# Each settled error within five of its standard errors (the run's own statistical error,
# from its fluctuations r) of its predicted bias.
assert max(deviations) < 5, deviations
# The tolerance covers five standard errors plus the bias of every settled comparison.
assert max(margins) < EQUILIBRIUM_TOLERANCE, margins
assert norm_error < EQUILIBRIUM_TOLERANCE and angular_error < EQUILIBRIUM_TOLERANCE
Markdown(
    "\n".join(table)
    + "\n\n"
    + "\n".join(budget)
    + f"\n\nSettled runs: the largest relative error is {format_value(norm_error)} for the norm and "
    f"{format_value(angular_error)} for the angular update; the largest five standard errors plus "
    f"bias is {format_value(max(margins))}, and the largest |error − bias| is {max(deviations):.2f} "
    "standard errors."
)

# %% [markdown]
# Both settled runs ($\lambda = 0.008$ and $0.032$) sit at the predicted norm and rotate at
# the predicted rate within 2% (asserted); every one of their errors lies within five
# standard errors of its bias, and the tolerance exceeds five standard errors plus the
# bias of each (both asserted). The run at $\lambda = 0.002$ has had fewer than five
# relaxation times before its window (asserted), so it is shown but not held to the
# prediction. The figure follows each hidden weight's norm through training, with the
# predicted balance dashed and the averaging window shaded.

# %%
colours = dict(zip(lambdas, ("black", "tab:blue", "tab:orange", "tab:green"), strict=True))
steps = torch.arange(dynamics.steps + 1)
fig, axes = plt.subplots(1, 2, figsize=(12, 4), dpi=100, sharey=True)
for j, ax in enumerate(axes):
    for run in dynamics.runs:
        ax.plot(
            steps,
            run.norms[:, j],
            color=colours[run.weight_decay],
            lw=1,
            label=f"λ = {run.weight_decay}",
        )
        if run.weight_decay > 0:
            ax.axhline(
                run.predicted_norm(window)[j].item(),
                color=colours[run.weight_decay],
                ls="--",
                lw=1,
            )
    ax.axvspan(dynamics.steps - window, dynamics.steps, color="grey", alpha=0.1)
    ax.set_title(f"weight {dynamics.runs[0].names[j]}")
    ax.set_xlabel("step")
axes[0].set_ylabel("‖W_t‖ (dashed: predicted equilibrium)")
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Without decay: an implicit learning-rate schedule
#
# At $\lambda = 0$ the recursion reads $\lVert W'\rVert^2 = \lVert W\rVert^2 + \eta^2\lVert g\rVert^2$:
# the norm can only grow. Squaring, with $\lVert g\rVert^2 = \lVert\hat g\rVert^2/\lVert W\rVert^2$,
#
# $$\lVert W_{t+1}\rVert^4 = \lVert W_t\rVert^4 + 2\eta^2\lVert\hat g_t\rVert^2 + \frac{\eta^4\lVert\hat g_t\rVert^4}{\lVert W_t\rVert^4}
# \quad\Rightarrow\quad \lVert W_t\rVert^4 \approx \lVert W_0\rVert^4 + 2\eta^2\sum_{s<t}\lVert\hat g_s\rVert^2 ,$$
#
# so while $\lVert\hat g\rVert$ stays of one size the effective learning rate
# $\eta/\lVert W_t\rVert^2$ falls like $t^{-1/2}$: a schedule nobody chose. With decay it
# instead levels off at $\eta/\lVert W_*\rVert^2 = \sqrt{\eta\lambda(2 - \eta\lambda)/G}$,
# higher for stronger decay.

# %%
free = dynamics.run(0.0)
n4 = free.norms.pow(4)
# $$\lVert W_t\rVert^4 \approx \lVert W_0\rVert^4 + 2\eta^2\sum_{s<t}\lVert\hat g_s\rVert^2$$
approximation = n4[0] + 2 * free.lr**2 * free.unit_grad_norms.pow(2).cumsum(dim=0)
approximation_error = (n4[1:] / approximation - 1).abs().max().item()
# The dropped terms are θ_s^2 / 2 times the kept ones (θ the angular update), so the
# relative error cannot exceed the largest θ^2 / 2.
dropped_bound = free.angular_update.pow(2).max().item() / 2
print(
    f"λ = 0: largest relative error of the sum for ‖W_t‖^4: {format_value(approximation_error)}; "
    f"largest θ²/2: {format_value(dropped_bound)}"
)
assert bool((free.norms.diff(dim=0) > 0).all()) and bool((free.effective_lr.diff(dim=0) < 0).all())
assert approximation_error < dropped_bound
assert approximation_error < 1e-3  # the precision the prose states, tighter than the above
plateaus = [run.effective_lr[-window:].mean(dim=0) for run in settled]
assert bool((plateaus[0] < plateaus[1]).all()) and bool(
    (free.effective_lr[-1] < plateaus[0]).all()
)
decayed_runs = dynamics.runs[1:]
plateau_errors = [
    (run.effective_lr[-window:].mean(dim=0) * run.predicted_norm(window) ** 2 / run.lr - 1)
    .abs()
    .max()
    .item()
    for run in settled
]
print(
    f"settled runs: largest relative error of the plateau against η/‖W*‖²: {format_value(max(plateau_errors))}"
)
# η/‖W‖² carries twice the relative error of ‖W‖: twice the norm's tolerance.
assert max(plateau_errors) < 2 * EQUILIBRIUM_TOLERANCE
# Every decayed run started above its predicted balance, and ends at a higher effective
# learning rate than it started with.
assert all(bool((run.norms[0] > run.predicted_norm(window)).all()) for run in decayed_runs)
assert all(
    bool((run.effective_lr[-window:].mean(dim=0) > run.effective_lr[0]).all())
    for run in decayed_runs
)

fig, axes = plt.subplots(1, 2, figsize=(12, 4), dpi=100, sharey=True)
for j, ax in enumerate(axes):
    for run in dynamics.runs:
        ax.loglog(
            steps[1:],
            run.effective_lr[:, j],
            color=colours[run.weight_decay],
            lw=1,
            label=f"λ = {run.weight_decay}",
        )
        if run in settled:
            # $$\eta/\lVert W_*\rVert^2$$ at the predicted equilibrium norm
            ax.axhline(
                run.lr / run.predicted_norm(window)[j].item() ** 2,
                color=colours[run.weight_decay],
                ls="--",
                lw=1,
            )
    ax.set_title(f"weight {free.names[j]}")
    ax.set_xlabel("step")
axes[0].set_ylabel("effective learning rate η / ‖W_t‖² (dashed: predicted)")
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Without decay the norm grows at every step and the effective learning rate falls at
# every step (both asserted); the sum above tracks $\lVert W_t\rVert^4$ to within
# $10^{-3}$, and within the bound $\max_t\phi_t^2/2$ ($\phi_t$ the angular update of step $t$) that the dropped terms allow (both
# asserted). With decay the effective learning rate levels off at the predicted value
# (dashed for the settled runs; within twice the norm's tolerance, asserted), higher for
# $\lambda = 0.032$ than for $0.008$, and both above where the undecayed run ends
# (asserted). Here every decayed run started above its balance, so decay raised the
# effective learning rate above its starting value (both asserted).

# %% [markdown]
# ## Only $\eta\lambda$ matters
#
# On the scale-invariant weights the learning rate and the decay are not separately
# meaningful. Start from $cW_0$ with learning rate $c^2\eta$ and decay $\lambda/c^2$ (so
# $\eta\lambda$ is unchanged). If $W^{(c)}_t = cW_t$, then with $g(cW) = g(W)/c$,
#
# $$W^{(c)}_{t+1} = cW_t - c^2\eta\Big(\frac{g(W_t)}{c} + \frac{\lambda}{c^2}\,cW_t\Big)
# = c\big(W_t - \eta(g(W_t) + \lambda W_t)\big) = cW_{t+1},$$
#
# and the network's function is the same at every step. The initial scale, the learning
# rate and the decay enter only through $\eta\lambda$ and the effective learning rate
# $\eta/\lVert W_0\rVert^2$ at the start, and the latter is forgotten after a few relaxation
# times. ([Li and Arora, 2020](references.html#li2020) push the same kind of equivalence
# further: with normalization, decay is equivalent to an exponentially growing learning
# rate schedule without it.) Below, 300 steps of the $\lambda = 0.032$ run and of its
# rescaled twin, every parameter other than the hidden weights trained identically. For
# $c = 2$, a power of two, every floating-point rounding scales exactly, so the claim is
# bitwise equality; for $c = 3$, equality up to rounding.

# %%
rescaled = rescaled_training_difference(2.0, lr=0.25, weight_decay=3.2e-2, steps=300)
rescaled_3 = rescaled_training_difference(3.0, lr=0.25, weight_decay=3.2e-2, steps=300)
print(
    f"c = 2: largest relative difference of the hidden weights {format_value(rescaled[0])}, of any other parameter {format_value(rescaled[1])}"
)
print(
    f"c = 3: largest relative difference of the hidden weights {format_value(rescaled_3[0])}, of any other parameter {format_value(rescaled_3[1])}"
)
assert rescaled == (0.0, 0.0)  # c = 2: every rounding scales exactly
assert max(rescaled_3) < ROUNDING_BOUND  # c = 3: the random walk of 300 steps of roundings

# %% [markdown]
# The twin run equals $c$ times the original bit for bit at $c = 2$, and to within
# $10^{-13}$ at $c = 3$ (both asserted).
#
# ## The claims of this page
#
# Collected in one table, with their bounds:

# %%
page_checks = scale_invariance_checks(dynamics=dynamics, rescaled=rescaled)
assert_checks(page_checks)
Markdown(checks_table(page_checks))

# %% [markdown]
# ## What it means for excluding parameters from decay
#
# **Decay on a weight behind a normalization is not a regularizer of the function.** The
# set of functions the network can compute is the same at every $\lVert W\rVert$, and the
# loss cannot tell the norms apart. What decay sets is the norm at which shrinking and
# the orthogonal gradient steps balance, hence the effective learning rate
# $\eta/\lVert W\rVert^2$ and the angular update $\sqrt{2\eta\lambda}$. Removing it does
# not remove a constraint; it replaces this steady rate by the falling schedule of the
# undecayed run. So such weights are normally left in the decayed group, and a change of
# $\lambda$ there is a change of learning rate: retune the two together, keeping
# $\eta\lambda$ in mind ([Zhang, Wang, Xu and Grosse, 2019](references.html#zhang2019)).
#
# **The normalization's own gains and biases: it depends on what follows them.** A
# BatchNorm's output $\omega\hat z + \psi$ is not divided by anything in its own layer,
# but a later normalization may divide it. In the classifier, the first BatchNorm
# (module `1`) is followed by ReLU, which is positively homogeneous
# ($\max(0, cu) = c\max(0, u)$ for $c > 0$), by a linear layer without bias, and by the
# second BatchNorm. Multiplying its gain $\omega_1$ and bias $\psi_1$ together by $c$
# multiplies the second BatchNorm's input by $c$, which that layer divides out: the pair
# is scale-invariant, like a hidden weight. Either one alone is not, since the ratio
# $-\psi_1/\omega_1$ is where each ReLU opens. The second BatchNorm (module `4`) is
# followed by ReLU and the head: multiplying $\omega_2$ and $\psi_2$ together by $c$
# multiplies the head's input by $c$, which is what multiplying the head's weight by $c$
# does. On the classifier trained with $\lambda = 0.008$, on the batch of the first
# cells, scaling each parameter, or each pair together, by 2 and by 3:

# %%
trained = NormalizedClassifier(eps=NEGLIGIBLE_EPS)
trained.load_state_dict(dynamics.run(8e-3).final_state)
names = {id(p): name for name, p in trained.named_parameters()}
groups = decay_groups(trained, 8e-3)
decayed = [names[id(p)] for p in groups[0]["params"]]
undecayed = [names[id(p)] for p in groups[1]["params"]]
print("decayed:  ", ", ".join(decayed))
print("undecayed:", ", ".join(undecayed))
assert set(invariant) <= set(decayed) and "6.weight" in decayed
norm_params = [
    name
    for name, module in trained.named_modules()
    if isinstance(module, nn.BatchNorm1d)
    for name in (f"{name}.weight", f"{name}.bias")
]
assert set(norm_params) <= set(undecayed)
first_pair, second_pair = ("1.weight", "1.bias"), ("4.weight", "4.bias")
scaled = [
    *[(name,) for name in invariant],
    first_pair,
    *[(name,) for name in first_pair],
    second_pair,
    *[(name,) for name in second_pair],
    ("6.weight",),
]
table = [
    "| parameters scaled together | decayed by decay_groups | relative change of L, × 2 | × 3 |",
    "| --- | --- | ---: | ---: |",
]
changes = {}
for group in scaled:
    for c in (2.0, 3.0):
        changes[group, c] = loss_change_under_scaling(trained, group, c, x, y)
    flags = {"yes" if name in decayed else "no" for name in group}
    table.append(
        f"| {', '.join(f'`{name}`' for name in group)} | {'/'.join(sorted(flags))} "
        f"| {format_value(changes[group, 2.0])} | {format_value(changes[group, 3.0])} |"
    )
invariant_groups = [*[(name,) for name in invariant], first_pair]
# c = 2 is a power of two: every rounding scales exactly. c = 3: rounding only.
assert all(changes[group, 2.0] == 0.0 for group in invariant_groups)
assert all(changes[group, 3.0] < ROUNDING_BOUND for group in invariant_groups)
# Each normalization parameter alone, and the head's weight: far above rounding.
assert all(changes[(name,), 2.0] > 1e-3 for name in [*norm_params, "6.weight"])
# The second pair scaled is the head's weight scaled: equal at c = 2 (exact scaling of every
# rounding), equal up to rounding at c = 3.
assert changes[second_pair, 2.0] == changes[("6.weight",), 2.0]
assert abs(changes[second_pair, 3.0] - changes[("6.weight",), 3.0]) < ROUNDING_BOUND
Markdown("\n".join(table))

# %% [markdown]
# Doubling a trained hidden weight, or the first BatchNorm's gain and bias together,
# leaves the loss exactly unchanged, and tripling them changes it by less than
# $10^{-13}$ (asserted); doubling any BatchNorm gain or bias alone, or the head's weight,
# changes it by more than $10^{-3}$ (asserted). Scaling the second BatchNorm's gain and
# bias together changes the loss exactly as scaling the head's weight does (asserted).
# The split `decay_groups` makes: the two hidden weights and the head's weight are decayed, every
# normalization parameter is not (asserted).
#
# Layer by layer, then:
#
# * **The first BatchNorm** is in the position of a hidden weight. Decay on
#   $(\omega_1, \psi_1)$ together would not pull the layer towards switching off (the
#   second BatchNorm divides any scale out); it would set the pair's norm, and with it
#   the pair's effective learning rate, by the balance derived above. Left undecayed, as
#   `decay_groups` leaves it, the pair's norm can only grow, since its gradient is orthogonal
#   to it and nothing shrinks it, so its effective learning rate only falls, as the
#   hidden weights' did without decay. Decaying the gain alone would act on the function,
#   by moving where the ReLUs open.
# * **The second BatchNorm**, the last normalization before the head, is the one whose
#   gain and bias set a scale the loss sees: the scale of the logits, which it shares with
#   the head's weight. Decay there does pull the hidden features' contribution to the
#   logits towards zero, as decay on the head's weight does. Since only the product of
#   the two scales matters, decaying one side only lets the other take up part of it.
#
# The runs show both (the norm of each pair at the end of every run, against the
# $\sqrt{32}$ of its initialization, $\omega = 1$ and $\psi = 0$):

# %%
pair_norms = {}
table = ["| λ | ‖(γ₁, β₁)‖ | ‖(γ₂, β₂)‖ | ‖head weight‖ |", "| ---: | ---: | ---: | ---: |"]
for run in dynamics.runs:
    state = run.final_state
    pair_norms[run.weight_decay] = [
        torch.cat([state[f"{layer}.weight"], state[f"{layer}.bias"]]).norm().item()
        for layer in ("1", "4")
    ] + [state["6.weight"].norm().item()]
    table.append(
        f"| {run.weight_decay} | "
        + " | ".join(f"{v:.4f}" for v in pair_norms[run.weight_decay])
        + " |"
    )
initial = math.sqrt(32)
first, second, head = (list(column) for column in zip(*pair_norms.values(), strict=True))
print(f"initial norm of each pair: {initial:.4f}")
# The first pair grew in every run; the second pair grows and the head shrinks with λ.
assert all(value > initial for value in first)
assert all(a < b for a, b in itertools.pairwise(second))
assert all(a > b for a, b in itertools.pairwise(head))
Markdown("\n".join(table))

# %% [markdown]
# The first pair ends above its initial norm in every run (asserted): undecayed, it can
# only grow. The second pair ends larger the stronger the decay, while the decayed head's
# weight ends smaller (both asserted): with decay on the head and none on the pair, part
# of the logits' scale moves from the one to the other.
#
# In summary: keep decay on weights that feed a normalization, and read its strength as
# part of the learning rate; the same reading holds for a normalization's gain and bias
# together when another normalization follows them, as after the first BatchNorm here.
# Only the last normalization before the head has gains and biases that set a scale
# the loss sees, the logits', and that scale it shares with the head's weight.
