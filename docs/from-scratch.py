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
# states the bias's gradient too, and every comparison is checked where it is made.
# Each check prints one line: the claim, the dtype, the measured value, the bound and,
# in brackets, where the bound comes from (a name in `weightdecay.claims.TOLERANCES` or the
# reason given next to it).

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
import textwrap

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown

from weightdecay import (
    ScratchLinearRegression,
    TorchLinearRegression,
    flatten,
    make_regression_split,
    mape,
    mse,
    relative_error,
)
from weightdecay.claims import TOLERANCES, check

split = make_regression_split(seed=0, dtype=torch.float64)
d, k = split.n_features, split.n_targets
print("train:", tuple(split.x_train.shape), "->", tuple(split.y_train.shape))
print("valid:", tuple(split.x_valid.shape), "->", tuple(split.y_valid.shape))
print(f"bias drawn from the seed: {split.bias:.6f}")
informative = int((split.coef != 0).any(dim=1).sum())  # rows of nonzero true coefficients
print(f"informative features: {informative} of {d}")

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
# under the equation it implements, and its `step` subtracts $\eta$ times them:

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
identity = torch.eye(d * k, dtype=torch.float64)
hessian_gap = (hessian.reshape(d * k, d * k) - lambd * identity).abs().max()
print(check("Hessian of the penalty vs λ I: largest |difference|", hessian_gap, equals=0.0,
            dtype=torch.float64, origin="exact"))  # fmt: skip

# %% [markdown]
# Autograd is the oracle for the derivation: differentiating $J$ on the first training
# batch (33 rows, as in the training below) must give the same two gradients. Hand and
# autograd sum the batch's rows in different orders, so the bound counts one pass of
# rounded sums over the rows, in units of the float64 machine epsilon.

# %%
x, y = split.x_train[:33], split.y_train[:33]
w, b = model.w.clone().requires_grad_(), model.b.clone().requires_grad_()
objective = (x @ w + b - y).pow(2).mean() + lambd / 2 * w.pow(2).sum()
objective.backward()
grad_w, grad_b = model.gradients(x, y)
print(check("dJ/dW by hand vs autograd (relative)", relative_error(grad_w, w.grad),
            below=TOLERANCES["gradient_batch"], dtype=torch.float64))  # fmt: skip
print(check("dJ/db by hand vs autograd (relative)", relative_error(grad_b, b.grad),
            below=TOLERANCES["gradient_batch"], dtype=torch.float64))  # fmt: skip

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
# groups of `torch.optim.SGD`: `weight_decay` on the weight's group, none on the bias's
# (built in the training below). Note the orientation: `nn.Linear` stores the
# $k\times d$ matrix $W^\top$ (printed below), which `copy_params` transposes.

# %%
twin = TorchLinearRegression(d, k, seed=0)
print(f"nn.Linear weight: {tuple(twin.layer.weight.shape)}; scratch W: {tuple(model.w.shape)}")

# %% [markdown]
# ## Two models from one starting point
#
# The source's settings: $\lambda = 0.01$, $\eta = 0.01$, 16 epochs, mini-batches of
# $\lfloor 100/3\rfloor = 33$ rows in order. An epoch is therefore four steps, the last
# on a single row.

# %%
lr, epochs = 0.01, 16
batch_size = split.n_train // 3
batches = [slice(start, start + batch_size) for start in range(0, split.n_train, batch_size)]
batch_rows = [split.x_train[rows].shape[0] for rows in batches]
print(f"λ = {lambd}, η = {lr}, {epochs} epochs, batches of {batch_rows} rows: "
      f"{epochs * len(batches)} steps")  # fmt: skip

# %% tags=["hide"]
# The sizes the prose quotes: data, bias range, W and nn.Linear's layout, batches and steps.
assert (
    (split.n_train, len(split.x_valid), d, k, informative),
    0 < split.bias < 1,
    (tuple(model.w.shape), tuple(twin.layer.weight.shape)),
    batch_rows,
    epochs * len(batches),
) == ((100, 10_000, 6, 3, 5), True, ((d, k), (k, d)), [33, 33, 33, 1], 64)

# %% [markdown]
# In each dtype, the twin draws PyTorch's default `nn.Linear` initialization from a
# seed and the scratch model standard-normal parameters from another; their validation
# predictions disagree wildly until `copy_params` gives the scratch model the twin's
# parameters, after which predictions and validation loss agree exactly. The MAPE is
# the source's modified percentage error (prediction first, $|\hat y|$ where the target
# is zero).

# %%
DTYPES = (torch.float64, torch.float32)
setups = {}
for dtype in DTYPES:
    data = make_regression_split(seed=0, dtype=dtype)
    twin = TorchLinearRegression(d, k, dtype=dtype, seed=0)
    scratch = ScratchLinearRegression(
        d, k, lambd, dtype=dtype, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        twin_pred = twin(data.x_valid)
    before = mape(scratch.predict(data.x_valid), twin_pred)
    scratch.copy_params(twin.layer)
    after = mape(scratch.predict(data.x_valid), twin_pred)
    loss_after = mape(
        mse(scratch.predict(data.x_valid), data.y_valid), mse(twin_pred, data.y_valid)
    )
    print(check("MAPE of predictions, independent initializations (%)", before, above=1.0,
                dtype=dtype, origin="two random initializations disagree"))  # fmt: skip
    print(check("MAPE of predictions after copy_params (%)", after, equals=0.0, dtype=dtype,
                origin="exact"))  # fmt: skip
    print(check("MAPE of validation loss after copy_params (%)", loss_after, equals=0.0,
                dtype=dtype, origin="exact"))  # fmt: skip
    setups[dtype] = data, scratch, twin

# %% [markdown]
# ## The two training loops
#
# The scratch model's loop calls its hand-written `step`, which returns the batch's
# predictions before the update; the twin's loop is the usual PyTorch one. Both record
# the epoch's training MSE as the plain mean of its four batch losses (each measured
# before its update), as the source does, the validation MSE after the epoch, and the
# parameters after every step ($W$ then $b$, flattened; the twin's $W$ is its weight
# transposed).


# %%
def train_scratch(model, data):
    log, steps = [], []
    for _ in range(epochs):
        losses = []
        for rows in batches:
            x, y = data.x_train[rows], data.y_train[rows]
            losses.append(mse(model.step(x, y, lr), y))
            steps.append(flatten([model.w, model.b]))
        log.append((sum(losses) / len(losses), mse(model.predict(data.x_valid), data.y_valid)))
    return log, steps


def train_torch(model, optimizer, data):
    loss_fn = torch.nn.MSELoss()
    log, steps = [], []
    for _ in range(epochs):
        losses = []
        for rows in batches:
            loss = loss_fn(model(data.x_train[rows]), data.y_train[rows])
            losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps.append(flatten([model.layer.weight.T, model.layer.bias]))
        with torch.no_grad():
            log.append((sum(losses) / len(losses), mse(model(data.x_valid), data.y_valid)))
    return log, steps


# %% [markdown]
# In each dtype the twin's optimizer decays the weight's parameter group only, and both
# models train on the same batches:

# %%
runs = {}
for dtype, (data, scratch, twin) in setups.items():
    optimizer = torch.optim.SGD(
        [
            {"params": [twin.layer.weight], "weight_decay": lambd},
            {"params": [twin.layer.bias], "weight_decay": 0.0},
        ],
        lr=lr,
    )
    runs[dtype] = train_scratch(scratch, data), train_torch(twin, optimizer, data)
print("weight_decay by parameter group:", [g["weight_decay"] for g in optimizer.param_groups])

# %% [markdown]
# ## The two training logs, side by side (float64)
#
# Each entry is printed to four decimals, as the source prints them. The last column
# compares the two models' printed lines.

# %%
(log_s, steps_s), (log_t, steps_t) = runs[torch.float64]
logs = pd.DataFrame(
    {
        "epoch": range(epochs),
        "train MSE, scratch": [train for train, _ in log_s],
        "train MSE, torch": [train for train, _ in log_t],
        "valid MSE, scratch": [valid for _, valid in log_s],
        "valid MSE, torch": [valid for _, valid in log_t],
    }
)
printed = logs.drop(columns="epoch").map("{:.4f}".format)
logs["same line"] = (
    (printed["train MSE, scratch"] == printed["train MSE, torch"])
    & (printed["valid MSE, scratch"] == printed["valid MSE, torch"])
).map({True: "yes", False: "no"})
print(check(f"epoch-log lines that differ (of {epochs}, 4 decimals)",
            (logs["same line"] == "no").sum(), equals=0.0, dtype=torch.float64,
            origin="exact"))  # fmt: skip
logs.style.format(precision=4).hide(axis="index")

# %% [markdown]
# ## Parity after training, in both dtypes
#
# The twin is the reference. The claims "= 0" are exact. The other bounds count the
# roundings in which the two computations may differ over the steps a claim covers, in
# units of each dtype's machine epsilon, so one derivation gives both dtypes' bounds:
# `linear_mape` for the 64 steps of the run, `linear_steps` for the first five steps.

# %%
for dtype, (data, scratch, twin) in setups.items():
    (_, steps_s), (_, steps_t) = runs[dtype]
    with torch.no_grad():
        twin_pred = twin(data.x_valid)
    first = max(relative_error(a, b) for a, b in zip(steps_s[:5], steps_t[:5], strict=True))
    print(check("MAPE of validation predictions after training (%)",
                mape(scratch.predict(data.x_valid), twin_pred),
                below=TOLERANCES["linear_mape"], dtype=dtype))  # fmt: skip
    print(check("MAPE of the weight after training (%)", mape(scratch.w, twin.layer.weight.T),
                below=TOLERANCES["linear_mape"], dtype=dtype))  # fmt: skip
    print(check("MAPE of the bias after training (%)", mape(scratch.b, twin.layer.bias),
                below=TOLERANCES["linear_mape"], dtype=dtype))  # fmt: skip
    print(check("first 5 steps' parameters, largest relative error", first,
                below=TOLERANCES["linear_steps"], dtype=dtype))  # fmt: skip

# %% [markdown]
# The remaining disagreement is rounding: the scratch model computes
# $X^\top\Delta + \lambda W$ and subtracts $\eta$ times it, while `SGD` adds
# $\lambda W$ to autograd's gradient and then takes the step, so the same real numbers
# are rounded in a different order. The same holds at every step of the run, not only
# the first five: the random-walk model behind `linear_steps` puts the relative
# difference after $t$ steps, each an $m$-row sum and a $d$-term product, below
# $\sqrt{t(m + d)}/2$ machine epsilons (the dashed line). The measured differences stay
# far below it in both dtypes; the check takes the largest ratio over all steps.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
step_axis = torch.arange(1, epochs * len(batches) + 1)
model_bound = (step_axis * (batch_size + d)).sqrt() / 2
ax.plot(step_axis, model_bound, "--", color="grey", label="√(t(m + d))/2")
for dtype, marker in zip(DTYPES, "os", strict=True):
    (_, steps_s), (_, steps_t) = runs[dtype]
    eps = torch.finfo(dtype).eps
    gaps = torch.tensor(
        [relative_error(a, b) / eps for a, b in zip(steps_s, steps_t, strict=True)]
    )
    ax.plot(step_axis, gaps, marker, ms=4, label=str(dtype).removeprefix("torch."))
    print(check("every step's parameters: relative error over its random-walk bound",
                (gaps / model_bound).max(), below=1.0, dtype=dtype,
                origin="linear_steps' model √(t(m + d))/2 ε at every step t"))  # fmt: skip
ax.set_yscale("log")
ax.set_xlabel("step t")
ax.set_ylabel("relative difference / machine epsilon")
ax.set_title("scratch vs torch.nn + SGD, parameters after each step")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Training and validation error per epoch
#
# Both models' curves, float64. They coincide to the width of the line, which is the
# point. Both errors are still falling at the last epoch: 16 epochs at this learning
# rate are far from convergence, which is why the source's errors stay in the
# thousands.

# %%
for column in ("train MSE, scratch", "valid MSE, scratch"):
    curve = logs[column]
    print(check(f"{column}: smallest drop from one epoch to the next", -curve.diff().max(),
                above=0.0, origin="the prose: still falling"))  # fmt: skip
    print(check(f"{column}: final value, lower end", curve.iloc[-1], at_least=1e3,
                origin="the prose: in the thousands"))  # fmt: skip
    print(check(f"{column}: final value, upper end", curve.iloc[-1], below=1e4,
                origin="the prose: in the thousands"))  # fmt: skip
epoch_axis = range(1, epochs + 1)
fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
ax.plot(epoch_axis, logs["train MSE, scratch"], "-", color="tab:blue", lw=3, alpha=0.5,
        label="train, scratch")  # fmt: skip
ax.plot(epoch_axis, logs["train MSE, torch"], "o", color="tab:blue", ms=4,
        label="train, torch.nn + SGD")  # fmt: skip
ax.plot(epoch_axis, logs["valid MSE, scratch"], "-", color="tab:orange", lw=3, alpha=0.5,
        label="validation, scratch")  # fmt: skip
ax.plot(epoch_axis, logs["valid MSE, torch"], "s", color="tab:orange", ms=4,
        label="validation, torch.nn + SGD")  # fmt: skip
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error")
ax.set_title(f"λ = {lambd}, lr = {lr}, batch = {batch_size}, float64")
ax.legend()
fig.tight_layout()
plt.show()
