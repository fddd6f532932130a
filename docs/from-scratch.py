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
# # Weight decay from scratch
#
# This page rebuilds the first source document, the teaching notebook *1.3 - Weight
# Decay* of the `inside-deep-learning` repository
# ([reference](references.html#source-notebook)): a multi-output linear regression
# trained by mini-batch gradient descent, with the L2 penalty written into a hand-made
# update rule, compared with `torch.nn.Linear` trained by `torch.optim.SGD` and its
# `weight_decay` argument. Everything runs in float64, as in the source, and again in
# float32 to see what the claims become at single precision.
#
# The same construction is the subject of the weight-decay chapter of *Dive into Deep
# Learning* ([Zhang et al.](references.html#d2l)), which also derives the penalty's
# gradient; here the model has several outputs, so the loss averages over a matrix.
#
# What changes from the source: the data set is seeded (the source draws its bias with
# an unseeded `random.random()` and passes no seed to scikit-learn), the derivation
# states the bias's gradient too, and every comparison is asserted.

# %% [markdown]
# ## The data
#
# `make_regression_split` calls scikit-learn's `make_regression` with the source's
# settings: 10,100 rows, 6 features of which 5 are informative, 3 targets, Gaussian
# noise of standard deviation 1 and a bias drawn uniformly from $[0, 1)$, here from the
# seed. The first 100 rows train; the other 10,000 validate. With
# $X \in \mathbb{R}^{m\times d}$ and $Y \in \mathbb{R}^{m\times k}$: $d = 6$ features, $k = 3$ outputs,
# and $m = n = 100$ rows when the whole training set is one batch.

# %%
import inspect
import itertools
import textwrap

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

from weightdecay import ScratchLinearRegression, make_regression_split, run_linear_experiment
from weightdecay.derivations import derivation_checks
from weightdecay.models.linear import TorchLinearRegression
from weightdecay.report import assert_checks, checks_table, linear_checks

split = make_regression_split(seed=0, dtype=torch.float64)
d, k = split.n_features, split.n_targets
print("train:", tuple(split.x_train.shape), "->", tuple(split.y_train.shape))
print("valid:", tuple(split.x_valid.shape), "->", tuple(split.y_valid.shape))
print(f"bias drawn from the seed: {split.bias:.6f}")
informative = int((split.coef != 0).any(dim=1).sum())  # rows of nonzero true coefficients
print(f"informative features: {informative} of {d}")
assert (split.n_train, split.x_valid.shape[0], d, k, informative) == (100, 10_000, 6, 3, 5)
assert 0 < split.bias < 1

# %% [markdown]
# ## The objective
#
# The model predicts $\hat Y = XW + \mathbf{1}b^\top$ with weights
# $W \in \mathbb{R}^{d\times k}$ and bias $b \in \mathbb{R}^{k}$. The data loss is the
# mean squared error over all $mk$ entries of a batch, and the objective adds the
# penalty on the weights only:
#
# $$J(W, b) = L(W, b) + \frac{\lambda}{2}\lVert W\rVert_F^2, \qquad
# L(W, b) = \frac{1}{mk}\sum_{i=1}^{m}\sum_{j=1}^{k}\big(\hat y_{ij} - y_{ij}\big)^2,
# \qquad \lVert W\rVert_F^2 = \sum_{p=1}^{d}\sum_{q=1}^{k} w_{pq}^2 .$$
#
# $J$ is what training minimizes; $L$ alone is what the logs and the validation figures
# report, since the penalty says nothing about how well the model predicts.

# %% [markdown]
# ## The gradient, one step at a time
#
# **Prediction.** Entry $(i, j)$ of $\hat Y$ is
# $\hat y_{ij} = \sum_{p=1}^{d} x_{ip} w_{pj} + b_j$, so
# $\partial \hat y_{ij}/\partial w_{pq} = x_{ip}$ when $j = q$ and $0$ otherwise, and
# $\partial \hat y_{ij}/\partial b_q = 1$ when $j = q$ and $0$ otherwise.
#
# **Loss.** Differentiating the square,
# $\partial L/\partial \hat y_{ij} = \frac{2}{mk}(\hat y_{ij} - y_{ij})$. Collect these
# in the matrix $\Delta = \frac{2}{mk}(\hat Y - Y) \in \mathbb{R}^{m\times k}$.
#
# **Chain rule for the weights.** Only the entries of column $q$ depend on $w_{pq}$:
#
# $$\frac{\partial L}{\partial w_{pq}}
# = \sum_{i=1}^{m}\sum_{j=1}^{k}\frac{\partial L}{\partial \hat y_{ij}}
#   \frac{\partial \hat y_{ij}}{\partial w_{pq}}
# = \sum_{i=1}^{m}\Delta_{iq}\,x_{ip} = (X^\top\Delta)_{pq} .$$
#
# **Penalty.** Of the $dk$ squares in $\lVert W\rVert_F^2$ only $w_{pq}^2$ depends on
# $w_{pq}$, so $\frac{\partial}{\partial w_{pq}}\frac{\lambda}{2}\lVert W\rVert_F^2
# = \frac{\lambda}{2}\cdot 2w_{pq} = \lambda w_{pq}$ (measured below the code listing:
# the Hessian of the penalty is $\lambda$ times the $dk \times dk$ identity).
#
# **Together**, for all $p, q$ at once:
#
# $$\nabla_W J = X^\top\Delta + \lambda W, \qquad
# \nabla_b J = \sum_{i=1}^{m}\Delta_{i\cdot} = \Delta^\top\mathbf{1} .$$
#
# **Update.** A gradient step with learning rate $\eta$ is
#
# $$W \leftarrow W - \eta\big(X^\top\Delta + \lambda W\big)
# = (1 - \eta\lambda)\,W - \eta X^\top\Delta, \qquad
# b \leftarrow b - \eta\,\Delta^\top\mathbf{1}:$$
#
# the weights shrink by the factor $1 - \eta\lambda$ at every step before the data
# gradient acts; the bias does not.
#
# The package's `ScratchLinearRegression.gradients` computes exactly these lines, each
# under the equation it implements:

# %%
source = inspect.getsource(ScratchLinearRegression.gradients)
body = textwrap.dedent(source[source.index("        # $$") :])
Markdown(f"```python\n{body}```")

# %% [markdown]
# The penalty step, measured on the scratch model's $W$: it has $dk$ entries, and
# autograd's Hessian of $\frac{\lambda}{2}\lVert W\rVert_F^2$ is $\lambda$ on the diagonal
# and 0 elsewhere, exactly: each square depends on its own entry only. Exactly, because
# autograd forms $\frac{\lambda}{2}\cdot 2$, and halving and doubling are exact in binary
# floating point.

# %%
lambd = 0.01
model = ScratchLinearRegression(d, k, lambd, generator=torch.Generator().manual_seed(0))
hessian = torch.autograd.functional.hessian(lambda w: lambd / 2 * w.pow(2).sum(), model.w)
print(f"W: {tuple(model.w.shape)}, {model.w.numel()} entries; Hessian: {tuple(hessian.shape)}")
assert model.w.shape == (d, k) and model.w.numel() == d * k
assert torch.equal(hessian.reshape(d * k, d * k), lambd * torch.eye(d * k, dtype=torch.float64))

# %% [markdown]
# Autograd is the oracle for the derivation: differentiating $J$ on a training batch
# (the first 33 rows) must give the same two gradients. `derivation_checks` measures
# this, and the other identities of the site, at seeded points. Hand and autograd sum
# the batch's rows in different orders, so the bound counts one pass of rounded sums
# over the rows, in units of the float64 machine epsilon; the origin column names its
# derivation in `weightdecay.tolerances`.

# %%
gradient_checks = [c for c in derivation_checks() if c.quantity.startswith("dJ/d")]
assert_checks(gradient_checks)
Markdown(checks_table(gradient_checks))

# %% [markdown]
# ## Why the bias is not decayed
#
# The bias only shifts each output by a constant. It does not make the function more or
# less sensitive to its input, which is what decay is meant to limit, so shrinking it
# buys no smoothness; it only pulls every prediction towards zero and biases the fit
# whenever the targets have a nonzero mean (here `make_regression` adds one, the bias
# printed above). In the
# Bayesian reading of the [next page](bayesian.html), leaving the bias undecayed is a
# flat prior on it. The source's `torch.nn` twin gets this behaviour from two parameter
# groups: `weight_decay` on the weight's group, none on the bias's
# (`TorchLinearRegression.sgd`). Note the orientation: `nn.Linear` stores the
# $k\times d$ matrix $W^\top$ (asserted below), which `copy_params` transposes.

# %%
twin = TorchLinearRegression(d, k, seed=0)
print(f"nn.Linear weight: {tuple(twin.layer.weight.shape)}; scratch W: {tuple(model.w.shape)}")
assert twin.layer.weight.shape == (k, d)

# %% [markdown]
# ## Two models from one starting point
#
# `run_linear_experiment` builds both models from the seed (the scratch model draws
# standard-normal parameters, the twin uses PyTorch's default `nn.Linear`
# initialization), measures their disagreement, copies the twin's parameters into the
# scratch model, and trains both for 16 epochs with the source's settings:
# $\lambda = 0.01$, $\eta = 0.01$, mini-batches of $\lfloor 100/3\rfloor = 33$ rows in
# order. An epoch is therefore four steps, the last on a single row, and the epoch's
# training MSE is the plain mean of the four batch losses (each measured before its
# update), as in the source. The MAPE is the source's modified percentage error
# (prediction first, $|\hat y|$ where the target is zero).

# %%
results = {dtype: run_linear_experiment(dtype=dtype) for dtype in (torch.float64, torch.float32)}
r64 = results[torch.float64]
batch_rows = [min(r64.batch_size, split.n_train - start)
              for start in range(0, split.n_train, r64.batch_size)]  # fmt: skip
steps = r64.epochs * len(batch_rows)
print(f"λ = {r64.lambd}, η = {r64.lr}, {r64.epochs} epochs, batches of {batch_rows} rows: "
      f"{steps} steps")  # fmt: skip
assert (r64.lambd, r64.lr, r64.epochs, r64.batch_size) == (0.01, 0.01, 16, split.n_train // 3)
assert batch_rows == [33, 33, 33, 1] and steps == 64
print(f"MAPE of validation predictions, independent initializations: {r64.mape_before_copy:.2f} %")
print(f"MAPE of validation predictions after copy_params:            {r64.mape_after_copy} %")
print(f"MAPE of the validation loss after copy_params:               {r64.mape_loss_after_copy} %")
assert r64.mape_before_copy > 1.0
assert r64.mape_after_copy == 0.0 and r64.mape_loss_after_copy == 0.0

# %% [markdown]
# ## The two training logs, side by side (float64)
#
# Each entry is printed to four decimals, as the source prints them. The last column
# compares the two models' printed lines.

# %%
rows = ["| epoch | train MSE, scratch | train MSE, torch | valid MSE, scratch | valid MSE, torch | same line |",
        "| ---: | ---: | ---: | ---: | ---: | :---: |"]  # fmt: skip
s, t = r64.scratch, r64.reference
for epoch, (line_s, line_t) in enumerate(zip(s.log_lines(), t.log_lines(), strict=True)):
    rows.append(
        f"| {epoch} | {s.train_loss[epoch]:.4f} | {t.train_loss[epoch]:.4f} "
        f"| {s.valid_loss[epoch]:.4f} | {t.valid_loss[epoch]:.4f} | {'yes' if line_s == line_t else 'no'} |"
    )
assert s.log_lines() == t.log_lines()
Markdown("\n".join(rows))

# %% [markdown]
# ## Parity after training, in both dtypes
#
# The twin is the reference. Rows marked "= 0" claim exact equality. The other bounds
# count the roundings in which the two computations may differ over the steps a row
# covers, in units of each dtype's machine epsilon, so one derivation gives both
# dtypes' bounds; the origin column names it in `weightdecay.tolerances`.

# %%
checks = [check for r in results.values() for check in linear_checks(r)]
assert_checks(checks)
Markdown(checks_table(checks))

# %% [markdown]
# The remaining disagreement is rounding: the scratch model computes
# $X^\top\Delta + \lambda W$ and subtracts $\eta$ times it, while `SGD` adds
# $\lambda W$ to autograd's gradient and then takes the step, so the same real numbers
# are rounded in a different order.

# %% [markdown]
# ## Training and validation error per epoch
#
# Both models' curves, float64. They coincide to the width of the line, which is the
# point. Both errors are still falling at the last epoch (asserted below): 16 epochs at
# this learning rate are far from convergence, which is why the source's errors stay in
# the thousands (asserted: both final errors lie between 1,000 and 10,000).

# %%
for curve in (s.train_loss, s.valid_loss):
    assert all(later < earlier for earlier, later in itertools.pairwise(curve))
    assert 1e3 <= curve[-1] < 1e4
print(f"final training MSE {s.train_loss[-1]:.1f}, final validation MSE {s.valid_loss[-1]:.1f}")
epochs = range(1, r64.epochs + 1)
fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
ax.plot(epochs, s.train_loss, "-", color="tab:blue", lw=3, alpha=0.5, label="train, scratch")
ax.plot(epochs, t.train_loss, "o", color="tab:blue", ms=4, label="train, torch.nn + SGD")
ax.plot(
    epochs, s.valid_loss, "-", color="tab:orange", lw=3, alpha=0.5, label="validation, scratch"
)
ax.plot(epochs, t.valid_loss, "s", color="tab:orange", ms=4, label="validation, torch.nn + SGD")
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error")
ax.set_title(f"λ = {r64.lambd}, lr = {r64.lr}, batch = {r64.batch_size}, float64")
ax.legend()
fig.tight_layout()
plt.show()
