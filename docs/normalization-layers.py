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
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from torch import nn

from weightdecay.experiments.invariance import (
    INVARIANCE_SCALES,
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
# $$\hat z_{ij} = \frac{z_{ij} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}}, \qquad
# \mu_j = \frac{1}{m}\sum_i z_{ij}, \qquad \sigma_j^2 = \frac{1}{m}\sum_i (z_{ij} - \mu_j)^2 .$$
#
# Replace $W$ by $cW$ with $c > 0$: every $z_{ij}$, hence every $\mu_j$, is multiplied by
# $c$, and every $\sigma_j^2$ by $c^2$. The factor $c$ cancels between numerator and
# denominator, except inside $\epsilon$:
#
# $$\hat z_{ij}(cW) = \frac{z_{ij} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon/c^2}}, \qquad\text{so}\qquad
# L_\epsilon(cW) = L_{\epsilon/c^2}(W).$$
#
# With $\epsilon = 0$ the loss is exactly invariant, $L(cW) = L(W)$. LayerNorm computes its
# statistics over the features of each example instead, and the same cancellation
# happens. A bias before BatchNorm would be removed with the mean; before LayerNorm it
# would not, which is why the classifier's hidden layers have none.
#
# PyTorch's BatchNorm refuses $\epsilon = 0$ in training. The experiments use the smallest
# positive normal float64 instead (`NEGLIGIBLE_EPS`, about $2.2\times 10^{-308}$): added
# to any of the variances met here it rounds away, so the layer computes exactly what
# $\epsilon = 0$ would. The first cell below asserts both (the refusal, and the rounding
# on the first layer's variances), then rescales each weight by
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
    z = model[0](x)  # the first layer's pre-activations
variances = z.var(dim=0, unbiased=False)
assert torch.equal(variances + NEGLIGIBLE_EPS, variances), "the negligible eps is not negligible"
figures = {norm: invariance_figures(norm) for norm in ("batch", "layer")}
table = ["| normalization | weight | feeds a normalization | largest relative change of L |",
         "| --- | --- | --- | ---: |"]  # fmt: skip
for norm, fig in figures.items():
    for name, change, flag in zip(fig.names, fig.loss_change, fig.invariant, strict=True):
        table.append(f"| {norm} | `{name}` | {'yes' if flag else 'no'} | {format_value(change)} |")
    assert max(c for c, f in zip(fig.loss_change, fig.invariant, strict=True) if f) < 1e-13
    assert min(c for c, f in zip(fig.loss_change, fig.invariant, strict=True) if not f) > 1e-2
print("scales c:", INVARIANCE_SCALES)
Markdown("\n".join(table))

# %% [markdown]
# For both normalizations the hidden weights change the loss by less than $10^{-13}$
# (relative, asserted: a few float64 rounding errors), over four orders of magnitude of
# $c$; rescaling the head's weight changes it by more than 1% (asserted).
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
assert eval_change > 1e-2 and train_change < 1e-13 and layer_eval_change < 1e-13

# %% [markdown]
# The loss moves by more than 1% in evaluation mode and not at all in training mode
# (both asserted). The training dynamics below see only training mode, where the
# running statistics play no part. LayerNorm has no running statistics and stays
# invariant in evaluation mode (asserted).
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
# Every normalized value is off by the factor $\sqrt{(\sigma_j^2 + \epsilon)/(\sigma_j^2 + \epsilon/c^2)}$,
# so the neglected second-order term is smaller than the first-order one by a factor of
# order $\epsilon\,|1 - c^{-2}|/\sigma^2_{\min}$, where $\sigma^2_{\min}$ is the smallest
# variance the layer divides by. The table measures both on the second hidden weight,
# same batch.

# %%
table = ["| normalization | c | L(W) | L(cW) − L(W) | first-order value | relative discrepancy | order of the error |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
for norm in ("batch", "layer"):
    for c in (0.5, 2.0, 10.0):
        dev = epsilon_deviation(c, norm=norm)
        assert dev.discrepancy < dev.order < 1e-2, (norm, c, dev)
        assert abs(dev.change) / dev.loss < 1e-4
        table.append(
            f"| {norm} | {c} | {dev.loss:.6f} | {format_value(dev.change)} | {format_value(dev.first_order)} "
            f"| {format_value(dev.discrepancy)} | {format_value(dev.order)} |"
        )
Markdown("\n".join(table))

# %% [markdown]
# The loss moves by less than $10^{-4}$ of itself (asserted), and the first-order value
# captures the move up to a discrepancy below the estimated order of its error
# $\epsilon|1 - c^{-2}|/\sigma^2_{\min}$ (asserted). The invariance thus holds as long as
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
    assert worst_cos < 1e-13 and worst_grad < 1e-13
    assert least_cos > 1e-2 and least_grad > 1e-2
Markdown("\n".join(table))

# %% [markdown]
# For the hidden weights both are below $10^{-13}$ (asserted); for the head both exceed
# $10^{-2}$ (asserted), so the identities are properties of the normalization, not of
# the network.

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
assert recursion < 1e-13 and cosine < 1e-13
table = ["| λ | mean mini-batch loss, last 1500 steps | mean mini-batch accuracy | test accuracy |",
         "| ---: | ---: | ---: | ---: |"]  # fmt: skip
for run in dynamics.runs:
    table.append(
        f"| {run.weight_decay} | {run.loss[-1500:].mean().item():.4f} | {run.accuracy[-1500:].mean().item():.4f} | {run.test_accuracy:.4f} |"
    )
accuracies = [run.test_accuracy for run in dynamics.runs]
assert max(accuracies) - min(accuracies) < 0.02 and max(accuracies) < 0.9
Markdown("\n".join(table))

# %% [markdown]
# The recursion holds at every one of the 3000 steps of every run to within $10^{-13}$,
# and the gradient stays orthogonal to the weight throughout training (both asserted).
# The four runs end within two points of test accuracy of each other, all below 90%
# since the blobs overlap (asserted).

# %% [markdown]
# ## The equilibrium norm
#
# Write $n = \lVert W\rVert^2$ and $G = \mathbb{E}\lVert\hat g\rVert^2$. With
# $\lVert g\rVert^2 = \lVert\hat g\rVert^2/n$, the recursion becomes, on average,
# $n' = (1 - \eta\lambda)^2 n + \eta^2 G/n$: decay removes a fixed fraction of $n$, the
# gradient adds an amount that falls as $n$ grows. They balance at
# $n^2\big(1 - (1 - \eta\lambda)^2\big) = \eta^2 G$, that is
#
# $$\lVert W\rVert^4 = \frac{\eta\,G}{\lambda\,(2 - \eta\lambda)} .$$
#
# Linearized around this point, a deviation of $n$ shrinks by
# $1 - 4\eta\lambda + 2\eta^2\lambda^2$ per step: the norm relaxes over about
# $1/(4\eta\lambda)$ steps, whatever it started from (far above the balance, decay alone
# acts and the approach is twice as slow). At the balance, dividing by $n$,
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
# **The tolerance.** Both predictions take $\lVert W\rVert^2$ to sit at its balance, but
# the mini-batch gradients make it fluctuate about it. The window's mean norm then
# carries a relative statistical error of about
# $s = \text{rel.std}(\lVert W\rVert^2) / \big(2\sqrt{\text{window}/\tau}\big)$,
# since $\lVert W\rVert^2$ decorrelates in $\tau = 1/(4\eta\lambda)$ steps and
# $\lVert W\rVert$ has half the relative spread of $\lVert W\rVert^2$. The run's own
# fluctuations give $s$ (printed); the tolerance of 2% is asserted to be at least five
# times the largest $s$, and then observed and predicted values must agree within it.

# %%
window = dynamics.window
table = ["| λ | ηλ | relaxation times before the window | weight | ‖W‖ observed | ‖W‖ predicted | relative error | statistical error s | angular update observed | predicted | relative error |",
         "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
settled = dynamics.settled()
for run in dynamics.runs[1:]:
    observed, predicted = run.observed_norm(window), run.predicted_norm(window)
    angular, angular_predicted = (
        run.observed_angular_update(window),
        run.predicted_angular_update(),
    )
    relaxations = dynamics.relaxations_before_window(run)
    for j, name in enumerate(run.names):
        norm_error = abs(observed[j].item() / predicted[j].item() - 1)
        angular_error = abs(angular[j].item() / angular_predicted - 1)
        table.append(
            f"| {run.weight_decay} | {run.lr * run.weight_decay:.4g} | {relaxations:.3g} | `{name}` "
            f"| {observed[j].item():.4f} | {predicted[j].item():.4f} | {format_value(norm_error)} "
            f"| {format_value(run.standard_error(window)[j].item())} "
            f"| {angular[j].item():.5f} | {angular_predicted:.5f} | {format_value(angular_error)} |"
        )
assert [run.weight_decay for run in settled] == [8e-3, 3.2e-2]
assert dynamics.relaxations_before_window(dynamics.run(2e-3)) < SETTLED_RELAXATIONS
largest_s = max(run.standard_error(window).max().item() for run in settled)
norm_error, angular_error = dynamics.equilibrium_errors()
assert 5 * largest_s < EQUILIBRIUM_TOLERANCE, largest_s
assert norm_error < EQUILIBRIUM_TOLERANCE and angular_error < EQUILIBRIUM_TOLERANCE
Markdown(
    "\n".join(table)
    + f"\n\nSettled runs: the largest relative error is {format_value(norm_error)} for the norm and "
    f"{format_value(angular_error)} for the angular update; the largest statistical error s is {format_value(largest_s)}."
)

# %% [markdown]
# Both settled runs ($\lambda = 0.008$ and $0.032$) sit at the predicted norm and rotate at
# the predicted rate within 2% (asserted), a tolerance more than five times their
# statistical error (asserted). The run at $\lambda = 0.002$ has had fewer than five
# relaxation times before its window (asserted) and is still drifting, so it is shown
# but not held to the prediction. The figure follows each hidden weight's norm through
# training, with the predicted balance dashed and the averaging window shaded.

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
print(f"λ = 0: largest relative error of the sum for ‖W_t‖^4: {format_value(approximation_error)}")
assert bool((free.norms.diff(dim=0) > 0).all()) and bool((free.effective_lr.diff(dim=0) < 0).all())
assert approximation_error < 1e-3
plateaus = [run.effective_lr[-window:].mean(dim=0) for run in settled]
assert bool((plateaus[0] < plateaus[1]).all()) and bool(
    (free.effective_lr[-1] < plateaus[0]).all()
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
# $10^{-3}$ (asserted). With decay the effective learning rate levels off at the
# predicted value (dashed for the settled runs), higher for $\lambda = 0.032$ than for
# $0.008$, and both above where the undecayed run ends (asserted). Here the decayed
# runs started above their balance, so decay raised the effective learning rate.

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
assert rescaled == (0.0, 0.0)
assert max(rescaled_3) < 1e-13

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
# **The normalization's own gains and biases are a different matter.** They act after the
# normalization, so nothing rescales them away: the loss depends on their size. Decaying
# a gain $\gamma$ pulls it towards 0, towards switching the layer's output off, not
# towards the identity $\gamma = 1$; a bias is a shift, and shrinking it makes the
# function no simpler. That is why
# [the parameter-groups helper](l2-vs-decay.html#excluding-biases-and-normalization-layers)
# `weightdecay.optim.decay_groups` leaves every normalization parameter (and every
# bias) undecayed, while it decays the hidden weights above, whose decay acts as the
# learning-rate control described here. On the classifier trained with $\lambda = 0.008$:

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
table = [
    "| parameter | decayed by the helper | relative change of L under p → 2p |",
    "| --- | --- | ---: |",
]
changes = {}
for name in [*invariant, *norm_params, "6.weight"]:
    changes[name] = loss_change_under_scaling(trained, name, 2.0, x, y)
    table.append(
        f"| `{name}` | {'yes' if name in decayed else 'no'} | {format_value(changes[name])} |"
    )
assert all(changes[name] < 1e-13 for name in invariant)
assert all(changes[name] > 1e-3 for name in [*norm_params, "6.weight"])
Markdown("\n".join(table))

# %% [markdown]
# Doubling a trained hidden weight leaves the loss unchanged (to $10^{-13}$, asserted);
# doubling any BatchNorm gain or bias, or the head's weight, changes it by more than
# $10^{-3}$ (asserted). The helper's split matches: the two scale-invariant weights are
# decayed, every normalization parameter is not (asserted). The head's weight is decayed
# too, and there the decay does act on the function, through the scale of the logits.
#
# In summary: keep decay on weights that feed a normalization, and read its strength as
# part of the learning rate; keep it off normalization gains and biases, where it would
# only pull the layer towards switching off.
