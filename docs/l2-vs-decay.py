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
# # When L2 is weight decay, and when it is not
#
# The two source documents use plain SGD, where adding $\frac{\lambda}{2}\lVert\theta\rVert^2$
# to the loss and shrinking the parameters by $1 - \eta\lambda$ per step are the same
# thing. This page follows the two ideas apart: through momentum, through Adam's
# adaptive denominator, through learning-rate retuning, through parameter groups and
# through gradient accumulation. Every optimizer used here is this package's own
# (`weightdecay.optim`), whose parity with `torch.optim` over every option is part of
# the test suite. Every experiment runs in the cells below, and every claim is checked
# in one line beside what it checks: the claim, the measured value, the bound and, in
# brackets, where the bound comes from.
#
# Two names recur. **Coupled** decay adds $\lambda\theta$ to the gradient before the
# optimizer does anything else with it: `weight_decay` in `torch.optim.SGD` and
# `torch.optim.Adam`. **Decoupled** decay multiplies the parameters by
# $1 - \eta\lambda$ apart from the gradient step: `torch.optim.AdamW`, and SGDW
# (`weightdecay.optim.SGD(decoupled=True)`), both from
# [Loshchilov and Hutter, 2019](references.html#loshchilov2019).

# %%
import copy
import itertools
import math
from functools import partial

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown

from weightdecay import Net, l2_penalty, make_clusters, optim, relative_error
from weightdecay.claims import check
from weightdecay.data import high_dimensional_regression, scaled_regression

eps = torch.finfo(torch.float64).eps  # machine epsilon: every run on this page is float64

# %% [markdown]
# ## SGD with momentum
#
# **Coupled decay is an L2 penalty, with any momentum.** `SGD(weight_decay=λ)` forms
# $u_t = g_t + \lambda\theta_{t-1}$ and only then applies momentum, dampening and
# Nesterov to $u_t$. The gradient of $L(\theta) + \frac{\lambda}{2}\lVert\theta\rVert^2$
# is that same $u_t$. Every later operation sees identical inputs, so the two
# trajectories are the same algorithm, and can differ only by rounding.
#
# **Decoupled decay (SGDW) is not.** It multiplies $\theta_{t-1}$ by $1 - \eta\lambda$
# and then takes the momentum step on $g_t$ alone. Without momentum the two updates are
# $\theta_t = (1 - \eta\lambda)\theta_{t-1} - \eta g_t$ either way. With momentum $\mu$,
# the coupled buffer $h_t = \mu h_{t-1} + g_t + \lambda\theta_{t-1}$ keeps the decay
# terms of past steps: with no data gradient at all,
# $\theta_t = \theta_{t-1} - \eta h_t$ is a linear recurrence whose slowest mode is the
# largest root of $r^2 - (1 + \mu - \eta\lambda)r + \mu = 0$, that is
# $r \approx 1 - \eta\lambda/(1 - \mu)$ for small $\eta\lambda$. Coupled decay thus acts
# about $1/(1 - \mu)$ times as fast as SGDW's $1 - \eta\lambda$.
#
# The experiments of this section and of the section on accumulation train the second
# source's network on its data, in float64, with one loop: a copy of the same initial
# network, an optimizer, and steps that each sum the gradients of a list of batches.
# Each batch's loss is its MSE divided by the number of batches, plus the L2 penalty
# when there is one.

# %%
data = make_clusters(seed=0)  # the second source's three clusters of points
template = Net(seed=1, dtype=torch.float64)  # its ReLU network, one initialization
full_batch = [(data.features, data.y)]


def train(make_optimizer, batches, steps, penalty=0.0, divide_penalty=True):
    """A copy of `template` trained for `steps` steps; returns its parameters.

    Each step sums the gradients of the losses of `batches`: MSE / len(batches), plus
    the penalty λ/2 ‖θ‖² with λ = `penalty`, divided likewise unless `divide_penalty`
    is false.
    """
    model = copy.deepcopy(template)
    optimizer = make_optimizer(model.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        for x, y in batches:
            loss = (model(x) - y).pow(2).mean() / len(batches)
            if penalty:
                term = l2_penalty(model.parameters(), penalty)
                loss = loss + (term / len(batches) if divide_penalty else term)
            loss.backward()
        optimizer.step()
    return list(model.parameters())


# %% [markdown]
# First, full-batch training three ways under each momentum setting: coupled decay, the
# penalty in the loss with no optimizer decay, and SGDW. Differences are relative to the
# coupled run's final parameters. The penalty's path and coupled decay round a step
# differently in at most two places (autograd's $\frac{\lambda}{2}\cdot 2\theta$, and
# the sum $g + \lambda\theta$ against a rescaling of $\theta$); over the run these
# roundings add like a random walk, which gives the bound.

# %%
lr, lam, steps = 1e-3, 0.1, 300
settings = {
    "no momentum": {"momentum": 0.0},
    "momentum 0.9": {"momentum": 0.9},
    "momentum 0.9, dampening 0.5": {"momentum": 0.9, "dampening": 0.5},
    "Nesterov 0.9": {"momentum": 0.9, "nesterov": True},
}
rows = []
for setting, options in settings.items():
    coupled = train(partial(optim.SGD, lr=lr, weight_decay=lam, **options), full_batch, steps)
    penalty = train(partial(optim.SGD, lr=lr, **options), full_batch, steps, penalty=lam)
    sgdw = train(
        partial(optim.SGD, lr=lr, weight_decay=lam, decoupled=True, **options), full_batch, steps
    )
    rows.append({"setting": setting, "penalty in loss vs coupled": relative_error(penalty, coupled),
                 "SGDW vs coupled": relative_error(sgdw, coupled)})  # fmt: skip
momentum = pd.DataFrame(rows)

parity_bound = 2 * math.sqrt(steps) * eps  # two roundings a step, adding like a random walk
real_difference = 0.01  # "far apart": more than 1%
for row in rows:
    print(check(f"SGD, {row['setting']}: penalty in loss vs weight_decay",
                row["penalty in loss vs coupled"], below=parity_bound, dtype=torch.float64,
                origin=f"decay_form_steps: 2√S ε, S = {steps} steps"))  # fmt: skip
print(check("SGD, no momentum: SGDW vs weight_decay", rows[0]["SGDW vs coupled"], equals=0.0,
            dtype=torch.float64, origin="exact"))  # fmt: skip
for row in rows[1:]:
    print(check(f"SGD, {row['setting']}: SGDW vs weight_decay", row["SGDW vs coupled"],
                above=real_difference, origin="a real difference"))  # fmt: skip
momentum.style.format("{:.2e}", subset=["penalty in loss vs coupled", "SGDW vs coupled"]).hide(
    axis="index"
)

# %% [markdown]
# The penalty and coupled decay agree to rounding under every setting. SGDW matches them
# exactly without momentum: this package's SGD then applies coupled decay as the same
# rescaling of $\theta$ that SGDW applies, followed by the same gradient step. With
# momentum SGDW ends far from them.
#
# Second, the rate itself: one parameter, zero data gradient, the per-step rate
# $-\log(\theta_t/\theta_{t-1})$ read at the last step, long after the transient has
# died out. The predicted rate is $-\log r$ for the largest root $r$; writing
# $r = 1 + x'$ with $x = \eta\lambda$ turns the quadratic into
# $x'^2 + (1 - \mu + x)x' + x = 0$, whose root nearest zero,
# $x' = -2x/\big(1 - \mu + x + \sqrt{(1 - \mu + x)^2 - 4x}\big)$, is computed without
# cancellation.
#
# Two bounds check the measurement. The measured rate against the root's is a rounding
# question: the last step's ratio $\theta_t/\theta_{t-1}$ carries about four roundings
# (the decay term, the buffer's two operations, the update), the buffer's amplified by
# up to $1/(1 - \mu)$, and dividing by the rate turns them into a relative error of at
# most $4\varepsilon/((1 - \mu)\,r)$ for a rate $r$. The ratio against $1/(1 - \mu)$ is
# an approximation question: expanding the root in $x$ gives
# $\text{ratio}\,(1 - \mu) = 1 + x\mu(3 - \mu)/(2(1 - \mu)^2) + \dots$, and the terms
# left out are smaller than the second-order one by about $x/(1 - \mu)^2$ (the table's
# last column: small here), so the deviation must lie within twice that term.

# %%
rate_lr, rate_lam, rate_steps = 0.01, 0.01, 3000
x = rate_lr * rate_lam  # ηλ
rows = []
for mu in (0.0, 0.5, 0.9):
    rate = {}
    for decoupled in (False, True):
        theta = torch.ones(1, dtype=torch.float64, requires_grad=True)
        optimizer = optim.SGD([theta], lr=rate_lr, momentum=mu, weight_decay=rate_lam,
                        decoupled=decoupled)  # fmt: skip
        for _ in range(rate_steps):
            previous = theta.item()
            theta.grad = torch.zeros_like(theta)  # no data gradient: decay alone
            optimizer.step()
        rate[decoupled] = -math.log(theta.item() / previous)
    root = 1 - 2 * x / (1 - mu + x + math.sqrt((1 - mu + x) ** 2 - 4 * x))
    predicted = -math.log(root)
    difference = abs(rate[False] / predicted - 1)
    rounding = 4 * eps / ((1 - mu) * rate[False])  # the rounding bound derived above
    ratio = rate[False] / rate[True]
    second = x * mu * (3 - mu) / (2 * (1 - mu) ** 2)  # the expansion's second-order term
    deviation = ratio * (1 - mu) - 1
    print(check(f"μ = {mu}: coupled rate vs the root's (relative)", difference, below=rounding,
                dtype=torch.float64, origin="4ε/((1 − μ) r), four roundings"))  # fmt: skip
    if mu == 0:  # exact: without momentum the two decays are the same operations
        print(check("μ = 0: |coupled rate − SGDW rate|", abs(rate[False] - rate[True]),
                    equals=0.0, dtype=torch.float64, origin="exact"))  # fmt: skip
    else:
        print(check(f"μ = {mu}: |ratio × (1 − μ) − 1|", abs(deviation), below=2 * second,
                    origin="twice the expansion's second-order term"))  # fmt: skip
    rows.append({"momentum": mu, "coupled rate": rate[False], "predicted (root)": predicted,
                 "relative difference": difference, "rounding bound": rounding,
                 "SGDW rate": rate[True], "ratio": ratio, "1/(1 - momentum)": 1 / (1 - mu),
                 "ratio × (1 - momentum) - 1": deviation, "second-order term": second,
                 "terms left out / second-order": x / (1 - mu) ** 2})  # fmt: skip
rates = pd.DataFrame(rows).set_index("momentum")
rates.T.style.format("{:.6g}")  # one column per momentum: the table fits the page

# %%
Markdown(
    "The measured rate equals the root's to within the rounding bound, and the ratio to "
    "SGDW's is $1/(1 - \\mu)$ up to the second-order term: at $\\mu = 0.9$ the ratio "
    f"exceeds $1/(1 - \\mu)$ by {rows[-1]['ratio × (1 - momentum) - 1']:.2%}. Porting a "
    "decay strength between SGD and SGDW with momentum therefore means rescaling it by "
    "about $1 - \\mu$."
)

# %% [markdown]
# ## Adam: the penalty is divided by the adaptive denominator
#
# Adam's step is $\eta\,\hat m_t / (\sqrt{\hat v_t} + \epsilon)$, coordinate by
# coordinate. With coupled decay the direction is $g + \lambda\theta$, so the decay part
# of the step is about $\eta\lambda\theta_i / (\sqrt{\hat v_i} + \epsilon)$: a coordinate
# whose gradients are small (small $\hat v_i$) is decayed hard, one with large
# gradients far less. Decoupled decay (AdamW) removes the same fraction
# $\eta\lambda$ from every coordinate.
#
# The fixed points differ too. Adam with L2 stops where its direction vanishes,
# $\nabla L + \lambda\theta = 0$: the ridge solution of
# $L + \frac{\lambda}{2}\lVert\theta\rVert^2$, whatever the denominator. AdamW stops where
# $\hat m_i/(\sqrt{\hat v_i} + \epsilon) = -\lambda\theta_i$, which is not the ridge
# solution.
#
# The test: least squares without intercept on `scaled_regression`, whose columns have
# scales spread over three orders of magnitude, so the coordinates' gradients differ by
# orders of magnitude too; full-batch steps from zero under a cosine schedule from the
# peak learning rate to zero. The ridge solution solves the normal equations
# $Hw = \frac{2}{n}X^\top y$ with $H = \frac{2}{n}X^\top X + \lambda I$. A
# backward-stable solve of this $d\times d$ system moves its solution by at most
# $\kappa(H)$ times its backward error $d\varepsilon$: float64 fixes the ridge solution
# no more closely than $d\,\kappa(H)\,\varepsilon$, the bound of the first check.

# %%
features, targets, scales = scaled_regression(seed=0)
n, d = features.shape
lam, peak_lr, steps = 1.0, 0.05, 3000
H = 2 / n * features.T @ features + lam * torch.eye(d, dtype=torch.float64)
ridge = torch.linalg.solve(H, 2 / n * features.T @ targets)

paths, coefficients = {}, {}
for form, optimizer_class in (("Adam + L2", optim.Adam), ("AdamW", optim.AdamW)):
    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([w], lr=peak_lr, weight_decay=lam)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        (features @ w - targets).pow(2).mean().backward()
        optimizer.step()
        schedule.step()
        path.append(w.detach().clone())
    paths[form] = torch.stack(path)
    # The decay a coordinate receives per unit of learning rate at the last step:
    # λ / (√v̂ + ϵ) with Adam's own denominator, λ for every coordinate with AdamW.
    state, group = optimizer.state[w], optimizer.param_groups[0]
    v_hat = state["exp_avg_sq"] / (1 - group["betas"][1] ** float(state["step"]))
    coupled = form == "Adam + L2"
    coefficients[form] = lam / (v_hat.sqrt() + group["eps"]) if coupled else torch.full((d,), lam)

distance = {form: (path - ridge).norm(dim=1) / ridge.norm() for form, path in paths.items()}
ridge_bound = d * float(torch.linalg.cond(H)) * eps
above_bound = (distance["Adam + L2"] >= ridge_bound).nonzero()
settled = int(above_bound[-1]) + 2 if len(above_bound) else 1  # first step below it for good
unit = H.diagonal().rsqrt()  # rows and columns of H scaled to a unit diagonal
scaled_condition = float(torch.linalg.cond(unit[:, None] * H * unit[None, :]))
apart = relative_error(paths["Adam + L2"][-1], paths["AdamW"][-1])
spread = float(coefficients["Adam + L2"].max() / coefficients["Adam + L2"].min())
half = d // 2  # the smaller scales come first
separation = float(coefficients["Adam + L2"][:half].min() / coefficients["Adam + L2"][half:].max())

print(check("Adam + L2 vs ridge closed form (relative distance)", distance["Adam + L2"][-1],
            below=ridge_bound, dtype=torch.float64, origin="linear_solve: d κ(H) ε"))  # fmt: skip
print(check(f"step (of {steps}) from which Adam + L2 stays within d κ(H) ε", settled,
            below=steps // 2, origin="the first half of the schedule"))  # fmt: skip
print(check("Adam + L2 vs ridge closed form, nearer ε than the bound", distance["Adam + L2"][-1],
            below=math.sqrt(ridge_bound * eps), dtype=torch.float64,
            origin="√(d κ(H) ε · ε): nearer ε than the bound, on a log scale"))  # fmt: skip
print(check("κ(H) with rows and columns scaled to a unit diagonal", scaled_condition, below=2,
            origin="close to 1"))  # fmt: skip
print(check("AdamW vs ridge closed form (relative distance)", distance["AdamW"][-1], above=0.1,
            origin="far from it: more than 10%"))  # fmt: skip
print(check("Adam + L2 vs AdamW, final weights (relative)", apart, above=0.1,
            origin="more than 10%"))  # fmt: skip
print(check("Adam + L2 decay coefficient, largest / smallest coordinate", spread, above=100,
            origin="more than a factor of 100"))  # fmt: skip
print(check("smallest coefficient of the smaller scales / largest of the larger", separation,
            above=1, origin="the smaller scales are decayed harder"))  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(12, 4), dpi=100)
positions = torch.arange(d)
axes[0].bar(positions - 0.2, coefficients["Adam + L2"], width=0.4,
            label="Adam + L2: λ / (√v̂ᵢ + ε)")  # fmt: skip
axes[0].bar(positions + 0.2, coefficients["AdamW"], width=0.4, label="AdamW: λ")
axes[0].set_yscale("log")
axes[0].set_xticks(positions, [f"{s:.2g}" for s in scales])
axes[0].set_xlabel("feature scale")
axes[0].set_ylabel("decay per step / learning rate")
axes[0].set_title("per-coordinate decay at the end of training")
axes[0].legend()
for form, values in distance.items():
    axes[1].plot(range(1, steps + 1), values, label=form)
axes[1].axhline(ridge_bound, color="grey", ls=":", label="d κ(H) ε")
axes[1].set_yscale("log")
axes[1].set_xlabel("step")
axes[1].set_ylabel("‖w − w_ridge‖ / ‖w_ridge‖")
axes[1].set_title("trajectories, relative to the ridge solution")
axes[1].legend()
fig.tight_layout()
plt.show()

# %%
Markdown(
    f"Adam with L2 ends on the ridge solution to within $d\\,\\kappa(H)\\,\\varepsilon$ = "
    f"{d} × {float(torch.linalg.cond(H)):.4g} × $\\varepsilon$ = {ridge_bound:.2e}, the "
    "worst-case accuracy with which float64 determines that solution, and stays there from "
    f"step {settled} of {steps}, in the first half of the schedule. The measured distance, "
    f"{float(distance['Adam + L2'][-1]):.2e}, lies far below that bound, nearer "
    "$\\varepsilon$ itself: the worst case has every rounding error fall along the "
    "system's least determined direction, but here the large $\\kappa(H)$ comes from the "
    "features' scales alone (with its rows and columns scaled to a unit diagonal, $H$'s "
    f"condition number is {scaled_condition:.3g}), and rounding errors, each relative to "
    "the number it rounds, follow such scalings rather than amplify them. AdamW ends "
    f"{float(distance['AdamW'][-1]):.3g} away from the ridge solution, relative to its "
    f"norm, and the two solutions differ by {apart:.3f}.\n\n"
    "On the left, the coupled decay's coefficient varies by a factor of "
    f"{spread:.3g} across the coordinates: the weights of small-scale features receive "
    "small gradients, hence a small $\\hat v_i$, and are decayed hardest; each of the "
    f"{half} smaller scales is decayed harder than any of the {d - half} larger ones. The "
    "decay changes the path only: the end point is the ridge solution all the same. "
    "AdamW's coefficient is the same for all."
)

# %% [markdown]
# ## Decay and learning rate: PyTorch's parametrization and the paper's
#
# PyTorch's `AdamW(lr=η_max, weight_decay=λ)` multiplies the parameters by
# $1 - \eta_t\lambda$ per step, where $\eta_t = \eta_{\max}\rho_t$ is the scheduled learning rate
# and $\rho_t$ the schedule's multiplier. Loshchilov and Hutter write the same decay as
# $1 - \rho_t\lambda_{\text{paper}}$: their decay follows the schedule but not the peak
# learning rate $\eta_{\max}$. So $\lambda_{\text{paper}} = \eta_{\max}\lambda$, and under a
# schedule both forms follow it; the difference appears when $\eta_{\max}$ is retuned.
# Retuning $\eta_{\max}$ at fixed PyTorch `weight_decay` changes the decay per step;
# at fixed $\lambda_{\text{paper}}$ it does not.
#
# The grid: AdamW with a cosine schedule, full-batch steps from zero, on the
# high-dimensional regression of *Dive into Deep Learning* (`high_dimensional_regression`:
# far more features than training rows; bias not decayed), with validation MSE on more
# held-out rows than the book's, which makes each run's validation error less noisy.
# Peak learning rates and values of $\lambda_{\text{paper}}$ are both half a decade
# apart, so that one set of runs fills both parametrizations' grids: the run
# $(\eta_{\max}, \lambda_{\text{paper}})$ is `AdamW(lr=η_max, weight_decay=λ_paper / η_max)`,
# and in PyTorch's coordinates each learning rate covers a window of `weight_decay`
# shifted by half a decade from the next. The grid stops at $\lambda_{\text{paper}} = 1$,
# where the first step's factor $1 - \rho_1\lambda_{\text{paper}}$ reaches zero; beyond
# it the factor turns negative. Every run is repeated, with the same settings, on
# independent draws of the data; means and standard errors below are over those draws.
#
# Each run is one parameter group of a single `AdamW`, with its own learning rate and
# `weight_decay`, and all runs train together on the sum of their own MSEs, every draw
# stacked along a batch dimension: Adam acts coordinate by coordinate, so each run is
# the run it would be alone.

# %%
lr_exponents, decay_exponents = [-7, -6, -5, -4], list(range(-8, 1))  # half-decades
lrs = [10.0 ** (e / 2) for e in lr_exponents]  # peak learning rates
decays = [10.0 ** (k / 2) for k in decay_exponents]  # λ_paper, 1e-4 to 1
n_draws, grid_steps = 32, 500
draws = [high_dimensional_regression(seed=seed, n_valid=1000) for seed in range(n_draws)]
train_x, train_y, valid_x, valid_y = (torch.stack(part) for part in zip(*draws, strict=True))


def validation_mse(lrs, decays, steps):
    """Validation MSE of every (peak lr, λ_paper) run on every draw: (draws, lrs, 1 + decays).

    Column 0 is the run without decay. Weights of run (lr, λ_paper) decay with
    `weight_decay = λ_paper / lr`; one bias tensor per learning rate holds the biases of
    its runs, none decayed.
    """
    runs = len(decays) + 1
    weights = [[torch.zeros(n_draws, train_x.shape[-1], dtype=torch.float64, requires_grad=True)
                for _ in range(runs)] for _ in lrs]  # fmt: skip
    biases = [torch.zeros(n_draws, runs, dtype=torch.float64, requires_grad=True) for _ in lrs]
    groups = [{"params": [b], "lr": lr, "weight_decay": 0.0}
              for b, lr in zip(biases, lrs, strict=True)]  # fmt: skip
    groups += [{"params": [w], "lr": lr, "weight_decay": decay / lr}
               for row, lr in zip(weights, lrs, strict=True)
               for w, decay in zip(row, [0.0, *decays], strict=True)]  # fmt: skip
    optimizer = optim.AdamW(groups)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)

    def mse(x, y):
        w = torch.stack([w for row in weights for w in row], dim=-1)  # (draws, features, runs)
        b = torch.cat(biases, dim=1).unsqueeze(1)  # (draws, 1, runs)
        errors = torch.baddbmm(b, x, w) - y  # (draws, rows, runs)
        return errors.pow(2).mean(dim=1).reshape(n_draws, len(lrs), runs)

    for _ in range(steps):
        optimizer.zero_grad()
        mse(train_x, train_y).sum().backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        return mse(valid_x, valid_y)


valid = validation_mse(lrs, decays, grid_steps)
no_decay, grid = valid[..., 0], valid[..., 1:]  # (draws, lrs) and (draws, lrs, decays)
mean_predictor = (valid_y - train_y.mean(dim=1, keepdim=True)).pow(2).mean(dim=(1, 2))
mean_mse = grid.mean(dim=0)
best_index = mean_mse.argmin(dim=1)  # per learning rate, the best column on all draws
# PyTorch's weight_decay of each run, in half-decades: every run on one lattice.
torch_exponents = torch.tensor(decay_exponents)[None, :] - torch.tensor(lr_exponents)[:, None]
lattice = list(range(int(torch_exponents.min()), int(torch_exponents.max()) + 1))
torch_image = torch.full((len(lrs), len(lattice)), float("nan"), dtype=torch.float64)
for i in range(len(lrs)):
    torch_image[i, torch_exponents[i] - lattice[0]] = mean_mse[i].log10()
images = {
    "torch": (torch_image, [10 ** (k / 2) for k in lattice], torch_exponents - lattice[0]),
    "paper": (mean_mse.log10(), decays, torch.arange(len(decays)).expand_as(torch_exponents)),
}
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), dpi=100)
for ax, (name, (image, values, column)) in zip(axes, images.items(), strict=True):
    shown = ax.imshow(image, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(values)), [f"{v:.0e}" for v in values], rotation=45)
    ax.set_yticks(range(len(lrs)), [f"{v:.1e}" for v in lrs])
    stars = [int(column[i, j]) for i, j in enumerate(best_index)]
    ax.plot(stars, range(len(lrs)), "r*", ms=12, label="best decay per lr")
    ax.set_xlabel("weight_decay (PyTorch)" if name == "torch" else "λ_paper = lr × weight_decay")
    ax.set_ylabel("peak learning rate")
    ax.set_title(f"log10 validation MSE (mean of {n_draws} draws), {name} coordinates")
    fig.colorbar(shown, ax=ax)
axes[0].legend(loc="lower left")
fig.tight_layout()
plt.show()

# %% [markdown]
# Three things make the grid's verdict worth reading. Each learning rate's best decay
# must lie inside the grid, not on its edge. Decay must matter: the best decay must beat
# both training without decay and the trivial model that predicts the mean training
# target. And each difference the conclusion rests on must exceed three standard errors
# over the draws. The table's best decays are chosen on all the draws; every choice that
# enters a margin or a cost below is made on half of the draws (even-numbered against
# odd-numbered) and scored on the other half, both ways round, so that no draw's own
# noise picks the winner it is then graded on.


# %%
def standard_error(values):
    """Standard error of the mean over the first dimension (the draws)."""
    return values.std(dim=0) / math.sqrt(values.shape[0])


def with_error(values):
    """Mean ± standard error over the draws, per learning rate, in units of 1e-3."""
    means, errors = 1e3 * values.mean(dim=0), 1e3 * standard_error(values)
    return [f"{m:.3f} ± {e:.3f}" for m, e in zip(means, errors, strict=True)]


even, odd = torch.arange(0, n_draws, 2), torch.arange(1, n_draws, 2)
halves = [(even, odd), (odd, even)]  # (choose on, score on)
lr_rows = torch.arange(len(lrs))
retuned = torch.empty_like(no_decay)  # each row at its best decay, chosen on the other half
for fit, score in halves:
    retuned[score] = grid[score][:, lr_rows, grid[fit].mean(dim=0).argmin(dim=1)]
gain_none = no_decay - retuned
gain_mean = mean_predictor[:, None] - retuned
z_none = gain_none.mean(dim=0) / standard_error(gain_none)
z_mean = gain_mean.mean(dim=0) / standard_error(gain_mean)
best = {
    "torch": [decays[j] / lr for lr, j in zip(lrs, best_index.tolist(), strict=True)],
    "paper": [decays[j] for j in best_index.tolist()],
}
moves = {name: max(values) / min(values) for name, values in best.items()}
products = [lr * wd for lr, wd in zip(lrs, best["torch"], strict=True)]
edge = sum(j in (0, len(decays) - 1) for j in best_index.tolist())

print(check("learning rates whose best decay lies on the grid's edge", edge, equals=0,
            origin="every optimum inside the grid"))  # fmt: skip
print(check("gain over no decay, fewest standard errors over the learning rates", z_none.min(),
            above=3, origin="three standard errors of the paired difference"))  # fmt: skip
print(check("gain over predicting the mean, fewest standard errors", z_mean.min(), above=3,
            origin="three standard errors of the paired difference"))  # fmt: skip
print(check("best weight_decay's spread over the lrs / best λ_paper's", moves["torch"] / moves["paper"],
            above=3, origin="far less: under a third"))  # fmt: skip
print(check("largest factor by which the best weight_decay rises from one lr to the next",
            max(b / a for a, b in itertools.pairwise(best["torch"])), at_most=1,
            origin="never rises as the lr rises"))  # fmt: skip
print(check("best weight_decay at the smallest lr / at the largest", best["torch"][0] / best["torch"][-1],
            above=1, origin="ends lower"))  # fmt: skip
print(check("lr × best weight_decay, largest / smallest", max(products) / min(products),
            below=3.5, origin="within one step of the grid, a factor √10"))  # fmt: skip

at_best = grid[:, lr_rows, best_index]
pd.DataFrame(
    {
        "peak lr": [f"{lr:.2e}" for lr in lrs],
        "best weight_decay (PyTorch)": [f"{v:.3g}" for v in best["torch"]],
        "best λ_paper": [f"{v:.3g}" for v in best["paper"]],
        "lr × best weight_decay": [f"{v:.3g}" for v in products],
        "MSE at the best decay (×1e-3)": with_error(at_best),
        "MSE, no decay (×1e-3)": with_error(no_decay),
        "MSE, predicting the mean (×1e-3)": with_error(mean_predictor[:, None].expand_as(retuned)),
    }
).style.hide(axis="index")

# %%
relative_none = gain_none.mean(dim=0) / no_decay.mean(dim=0)
relative_mean = gain_mean.mean(dim=0) / mean_predictor.mean()
Markdown(
    f"Over {n_draws} draws of the data (mean ± standard error). Every learning rate's best "
    "decay lies inside the grid. With the decay chosen on the other half of the draws, the "
    f"validation error is {float(relative_none.min()):.0%} to "
    f"{float(relative_none.max()):.0%} below that of no decay and "
    f"{float(relative_mean.min()):.1%} to {float(relative_mean.max()):.1%} below that of "
    f"predicting the mean, at least {float(z_none.min()):.1f} and "
    f"{float(z_mean.min()):.1f} standard errors respectively. The margin over predicting "
    f"the mean is narrow for a reason: {train_x.shape[1]} rows determine "
    f"{train_x.shape[2]} weights only within a {train_x.shape[1]}-dimensional subspace, "
    "and no decay recovers the rest."
)

# %% [markdown]
# Now the question the two parametrizations answer differently: tune the decay once,
# then retune the learning rate; what does keeping the decay cost? For each
# parametrization, the one value that does best on average over the learning rates
# (chosen on half of the draws, scored on the other half), against retuning the decay at
# every learning rate. A value of PyTorch's `weight_decay` counts only if every learning
# rate's window contains it: its candidates are the exponents every row shares.

# %%
first = decay_exponents[0]
shared = range(first - min(lr_exponents), decay_exponents[-1] - max(lr_exponents) + 1)
candidates = {  # each row: the grid column one value occupies at every learning rate
    "torch": torch.stack([t + torch.tensor(lr_exponents) - first for t in shared]),
    "paper": torch.arange(len(decays))[:, None].expand(-1, len(lrs)),
}
cost = {}
for name, options in candidates.items():
    fixed = torch.empty_like(retuned)  # every row at the one value chosen on the other half
    for fit, score in halves:
        pick = int(grid[fit].mean(dim=0)[lr_rows, options].mean(dim=1).argmin())
        fixed[score] = grid[score][:, lr_rows, options[pick]]
        print(check(f"{name}: candidates between the value held fixed and the nearer end",
                    min(pick, len(options) - 1 - pick), at_least=1,
                    origin="each value held fixed lies inside its candidates"))  # fmt: skip
    cost[name] = (fixed - retuned).mean(dim=1)  # per draw, averaged over the learning rates
excess = cost["torch"] - cost["paper"]
z_excess = float(excess.mean() / standard_error(excess))
print(check("cost of fixed weight_decay minus that of fixed λ_paper, in standard errors",
            z_excess, above=3, origin="three standard errors of the paired difference"))  # fmt: skip
relative_cost = {name: float(values.mean() / retuned.mean()) for name, values in cost.items()}
pd.DataFrame(
    {
        "decay held fixed": ["PyTorch's weight_decay", "λ_paper"],
        "added validation MSE (×1e-3)": [
            f"{1e3 * float(cost[name].mean()):.3f} ± {1e3 * float(standard_error(cost[name])):.3f}"
            for name in ("torch", "paper")
        ],
        "relative to the retuned MSE": [
            f"{relative_cost[name]:.1%}" for name in ("torch", "paper")
        ],
    }
).style.hide(axis="index")

# %%
Markdown(
    "Across the learning rates the best PyTorch `weight_decay` moves by a factor of "
    f"{moves['torch']:.3g}, the best $\\lambda_{{\\text{{paper}}}}$ by a factor of "
    f"{moves['paper']:.3g}, and $\\eta_{{\\max}}$ times the best `weight_decay` stays within "
    f"a factor of {max(products) / min(products):.3g}, about one step of the grid. Keeping "
    "$\\lambda_{\\text{paper}}$ fixed while the learning rate is retuned costs "
    f"{relative_cost['paper']:.1%} in validation MSE, keeping `weight_decay` fixed "
    f"{relative_cost['torch']:.1%}; the difference is {z_excess:.1f} standard errors."
)

# %% [markdown]
# In this setting the best PyTorch `weight_decay` falls as the learning rate rises,
# keeping the product $\eta_{\max}\lambda$ (the paper's $\lambda$) in place, and a decay tuned
# in the paper's parametrization survives a change of learning rate at a fraction of the
# cost of one tuned in PyTorch's (all checked above). The reading: regularization here
# works through the total shrinkage accumulated over a fixed number of steps,
# $\prod_t(1 - \eta_t\lambda)$, which depends on $\eta_{\max}\lambda$: retune the learning
# rate in PyTorch's parametrization and the decay must be retuned with it. (At a true
# stationary point the picture reverses: AdamW's fixed point
# $\hat m/(\sqrt{\hat v} + \epsilon) = -\lambda\theta$ involves PyTorch's $\lambda$
# and not $\eta_{\max}$. Which regime a training run is in decides which parametrization
# keeps the optimum still.)

# %% [markdown]
# ## Excluding biases and normalization layers
#
# `weightdecay.optim.decay_groups` splits a model's parameters by the table in its
# docstring: weights of linear, convolutional, recurrent and attention layers decay;
# biases, every normalization-layer parameter and (by default) embeddings do not; a
# module type the table does not know raises an error unless the caller decides. A
# normalization layer's gain $\omega$ multiplies a normalized activation, so decaying it
# pulls the layer's output towards zero rather than towards the identity $\omega = 1$.
#
# A small network with a LayerNorm, trained with AdamW and a strong decay on the second
# source's data (inputs scaled down, so that the squared feature does not dominate the
# first layer), once with decay on every parameter and once with the groups of
# `decay_groups`:

# %%
torch.manual_seed(0)
network = torch.nn.Sequential(
    torch.nn.Linear(2, 32), torch.nn.LayerNorm(32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
).double()
lam, lr, steps = 0.5, 1e-2, 1500
names = {id(p): name for name, p in network.named_parameters()}
decayed, undecayed = (
    [names[id(p)] for p in g["params"]] for g in optim.decay_groups(network, lam)
)
print("decayed:  ", ", ".join(decayed))
print("undecayed:", ", ".join(undecayed))
linear_weights = {"0.weight", "3.weight"}
misplaced = len(set(decayed) ^ linear_weights) + len(set(undecayed) ^ (set(names.values()) - linear_weights))  # fmt: skip
print(check("parameters split otherwise than 'the two Linear weights decay, nothing else'",
            misplaced, equals=0, origin="the table of decay_groups"))  # fmt: skip

rows = []
for label in ("every parameter", "decay_groups"):
    model = copy.deepcopy(network)
    params = model.parameters() if label == "every parameter" else optim.decay_groups(model, lam)
    optimizer = optim.AdamW(params, lr=lr, weight_decay=lam)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (model(data.features / 10) - data.y).pow(2).mean()
        loss.backward()
        optimizer.step()
    gains = model[1].weight.detach()
    rows.append({"decay on": label, "mean LayerNorm gain": gains.mean().item(),
                 "smallest gain": gains.min().item(), "training MSE": loss.item()})  # fmt: skip
groups = pd.DataFrame(rows)
print(check("mean LayerNorm gain, decay on every parameter / with decay_groups",
            rows[0]["mean LayerNorm gain"] / rows[1]["mean LayerNorm gain"], below=0.5,
            origin="less than half"))  # fmt: skip
groups.style.format({"mean LayerNorm gain": "{:.3f}", "smallest gain": "{:.3f}",
                     "training MSE": "{:.4f}"}).hide(axis="index")  # fmt: skip

# %% [markdown]
# Decaying everything drives the LayerNorm gains to less than half of where they settle
# when `decay_groups` leaves them alone.

# %% [markdown]
# ## Gradient accumulation
#
# Accumulating over $A$ micro-batches sums $A$ backward passes before one `step()`. For
# the sum to equal the full batch's gradient, each micro-batch loss is divided by $A$,
# and a penalty in the loss must be divided with it:
# $\sum_a\nabla\frac{1}{A}\big(L_a + \frac{\lambda}{2}\lVert\theta\rVert^2\big)
# = \nabla L + \lambda\theta$. Adding the whole penalty to every micro-batch loss gives
# $\nabla L + A\lambda\theta$, which is decay $A\lambda$. Decay inside the optimizer,
# coupled or decoupled, happens once per `step()` and needs no scaling.
#
# The second source's network and data again, with `train` from the first section: each
# accumulated run against its full-batch reference, under SGD with momentum or AdamW.
# An accumulated run sums the batch's rows in another order (and may multiply through
# the hidden layers in other blocks): per step a sum over the $n$ rows and a product
# over $h$ hidden units, whose roundings add like a random walk over the run.

# %%
A, lam, steps = 4, 0.1, 50
micro_batches = list(zip(data.features.chunk(A), data.y.chunk(A), strict=True))
sgd = partial(optim.SGD, lr=1e-3, momentum=0.9)
adamw = partial(optim.AdamW, lr=1e-2)
scaled = train(sgd, micro_batches, steps, penalty=lam)
whole = train(sgd, micro_batches, steps, penalty=lam, divide_penalty=False)
reference = train(sgd, full_batch, steps, penalty=lam)
reference_with_a = train(sgd, full_batch, steps, penalty=A * lam)
sgd_decay, adamw_decay = partial(sgd, weight_decay=lam), partial(adamw, weight_decay=lam)
n, h = data.n, template[0].weight.shape[0]  # rows, and hidden units of the first layer
accumulation_bound = math.sqrt(steps * (n + h)) * eps
rows = []
for run, ref, accumulated, full, same in (
    ("penalty / A in each micro-batch loss", "MSE + penalty", scaled, reference, True),
    ("whole penalty in each micro-batch loss", "MSE + penalty", whole, reference, False),
    ("whole penalty in each micro-batch loss", f"MSE + penalty with {A}λ", whole,
     reference_with_a, True),
    ("SGD(weight_decay=λ), loss / A", "SGD(weight_decay=λ)",
     train(sgd_decay, micro_batches, steps), train(sgd_decay, full_batch, steps), True),
    ("AdamW(weight_decay=λ), loss / A", "AdamW(weight_decay=λ)",
     train(adamw_decay, micro_batches, steps), train(adamw_decay, full_batch, steps), True),
):  # fmt: skip
    difference = relative_error(accumulated, full)
    rows.append({"accumulated run": run, "full-batch reference": ref,
                 "relative difference": difference})  # fmt: skip
    if same:
        print(check(f"accumulation, {run} vs {ref}", difference, below=accumulation_bound,
                    dtype=torch.float64,
                    origin=f"accumulation: √(S(n + h)) ε, S = {steps}, n = {n}, h = {h}"))  # fmt: skip
    else:
        print(check(f"accumulation, {run} vs {ref}", difference, above=1e-3,
                    origin="a real difference"))  # fmt: skip
pd.DataFrame(rows).style.format({"relative difference": "{:.2e}"}).hide(axis="index")

# %%
Markdown(
    "Scaled correctly, every accumulated run matches its full batch to within "
    f"{accumulation_bound:.1e}; the unscaled penalty matches the full batch with "
    f"${A}\\lambda$ instead, and misses the one with $\\lambda$ by "
    f"{rows[1]['relative difference']:.3g}, "
    f"{rows[1]['relative difference'] / accumulation_bound:.1e} times the bound."
)

# %% [markdown]
# ## What the optimizers cost
#
# PyTorch's SGD with `weight_decay` allocates a fresh decayed-gradient tensor at every
# step; this package's SGD applies the same update in place, as a rescaling of the
# parameters and an addition, with no temporary the size of a parameter. `make bench`
# times one step of each optimizer against `torch.optim`'s default implementation at
# $10^7$ and $10^8$ float32 parameters and prints the ratios; timings are not part of
# this page, which prints only what every build regenerates identically. Every check
# of this page is also listed on the [page of every claim](claims.html).
