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
# # Informative priors
#
# Decay towards zero encodes the prior belief that small weights are likely. When a
# model is fine-tuned from pretrained weights $\theta_0$, a better belief is that the
# new weights lie near $\theta_0$: the prior $\mathcal{N}(\theta_0, \tau I)$, whose
# scaled negative log-density is the penalty $\frac{\lambda}{2}\lVert\theta - \theta_0\rVert^2$
# plus a constant, with the same $\tau = 1/(N\lambda)$ as before. This is L2-SP
# ([Li, Grandvalet and Davoine, 2018](references.html#li2018)); Harvey, Petrov and
# Hughes ([2024](references.html#harvey2024)) find that such informative Gaussian priors
# are strong, simple baselines for transfer learning.
#
# In this package every form of decay accepts the centre: `l2_penalty(..., centre=θ0)`,
# `scaled_negative_log_prior(..., centre=θ0)`, a `"centre"` in the parameter groups
# of `weightdecay.optim.SGD` and `Adam` (coupled and decoupled), the closed form
# `ridge_closed_form(..., centre=W0)`, the first source's linear models
# (`ScratchLinearRegression(..., centre=W0)` and `TorchLinearRegression.sgd(...,
# centre=W0)`). The test suite checks that the three forms of the second source's
# training (penalty, optimizer decay, prior) stay equal with a centre, as they are
# without one.
#
# ## A small transfer task
#
# Two linear tasks in 20 dimensions with related weights: $w_B = w_A + \delta$, where
# $w_A$ has standard-normal entries and $\delta$ entries of standard deviation 0.3;
# both add an intercept of 0.5 and noise of standard deviation 0.5.

# %%
import itertools
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch

from weightdecay import mse
from weightdecay.claims import check
from weightdecay.closed_form import ridge_closed_form
from weightdecay.data import torch_generator

features, shift, noise = 20, 0.3, 0.5
gen = torch_generator(0, "transfer")  # one seeded stream for every draw of the page
w_a = torch.randn(features, 1, generator=gen, dtype=torch.float64)
w_b = w_a + shift * torch.randn(features, 1, generator=gen, dtype=torch.float64)


def sample(w, rows):
    """Rows of the task with weights `w`: standard-normal inputs, intercept, noise."""
    x = torch.randn(rows, features, generator=gen, dtype=torch.float64)
    return x, x @ w + 0.5 + noise * torch.randn(rows, 1, generator=gen, dtype=torch.float64)


# %% [markdown]
# Fit task A on 2000 rows with the closed form and a negligible decay to get
# $\theta_0$. Then, for each task-B training-set size $n_B$, fine-tune on $n_B$ rows of
# task B with the closed form, decaying to zero or to $\theta_0$, over 13 values of
# $\lambda$ from $10^{-4}$ to $10^{2}$, and measure the MSE on 2000 validation rows of
# task B. At the right end of the grid each fit approaches its $\lambda \to \infty$
# limit: the weights freeze at the centre and only the undecayed intercept is fitted,
# to the mean of the task-B rows' residuals.

# %%
x_a, y_a = sample(w_a, 2000)
theta_0, _ = ridge_closed_form(x_a, y_a, 1e-6)
n_valid = 2000
x_val, y_val = sample(w_b, n_valid)
sizes = [5, 10, 20, 40]
lambdas = torch.logspace(-4, 2, 13).tolist()
CENTRES = {"decay to 0": torch.zeros_like(theta_0), "decay to θ0 (L2-SP)": theta_0}
fits, limits = [], []
for size in sizes:
    x_b, y_b = sample(w_b, size)
    for (decay, centre), lambd in itertools.product(CENTRES.items(), lambdas):
        w, b = ridge_closed_form(x_b, y_b, lambd, centre=centre)
        fits.append({"rows": size, "decay": decay, "λ": lambd, "MSE": mse(x_val @ w + b, y_val)})
    for decay, centre in CENTRES.items():
        # λ → ∞: the weights stay at the centre, the intercept fits the residuals' mean.
        intercept = (y_b - x_b @ centre).mean()
        limits.append(
            {"rows": size, "decay": decay, "MSE": mse(x_val @ centre + intercept, y_val)}
        )
fits, limits = pd.DataFrame(fits), pd.DataFrame(limits)

fig, axes = plt.subplots(1, len(sizes), figsize=(14, 3.6), dpi=100, sharey=True)
for ax, size in zip(axes, sizes, strict=True):
    for (decay, curve), style in zip(fits[fits["rows"] == size].groupby("decay"), ("o-", "s-"),
                                     strict=True):  # fmt: skip
        ax.loglog(curve["λ"], curve["MSE"], style, label=decay)
    ax.axhline(noise**2, color="grey", ls=":", label="noise variance")
    ax.set_title(f"n_B = {size} rows")
    ax.set_xlabel("λ")
axes[0].set_ylabel("task-B validation MSE")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The best validation MSE over the grid, for each size and each centre, and the ratio of
# the best decay to zero over the best decay to $\theta_0$:

# %%
best = fits.pivot_table(index="rows", columns="decay", values="MSE", aggfunc="min")
ratios = (best["decay to 0"] / best["decay to θ0 (L2-SP)"]).tolist()
# Relative standard error of a validation MSE over n_valid rows with Gaussian residuals.
valid_se = math.sqrt(2 / n_valid)
print(check("smallest ratio over the sizes, minus 1", min(ratios) - 1, at_least=0.0,
            origin="the prose: never below 1"))  # fmt: skip
print(check(f"ratio at n_B = {sizes[0]}", ratios[0], above=3.0,
            origin="the prose: more than 3"))  # fmt: skip
print(check("smallest fall of the ratio from one size to the next",
            min(a - b for a, b in itertools.pairwise(ratios)), above=0.0,
            origin="the prose: shrinks at every step"))  # fmt: skip
print(check(f"ratio at n_B = {sizes[-1]}, minus 1", ratios[-1] - 1, at_most=valid_se,
            origin="the validation MSE's relative standard error √(2/2000)"))  # fmt: skip
table = pd.DataFrame(
    {
        "task-B rows": sizes,
        "best MSE, decay to 0": best["decay to 0"].tolist(),
        "best MSE, decay to θ0": best["decay to θ0 (L2-SP)"].tolist(),
        "ratio": ratios,
    }
)
table.style.format(precision=4).format(precision=2, subset="ratio").hide(axis="index")

# %% [markdown]
# With few task-B rows, decay towards $\theta_0$ beats the best decay towards zero by a
# large factor (more than 3 at the smallest size); the advantage shrinks at every step
# as task-B data grows and the data alone pin the weights down, and with enough rows the
# two meet: the ratio never falls below 1 on this grid and at the largest size is within
# the validation estimate's relative standard error $\sqrt{2/2000}$ of 1. The checks
# above measure each of these statements.
#
# At the right end of each panel, the curves tend to their $\lambda \to \infty$ limits:
# the distance to the limit shrinks over the last four $\lambda$ (checked below). Under
# decay to $\theta_0$ the limit is the pretrained model, with the intercept refitted on
# the task-B rows: its expected error is $\lVert\delta\rVert^2$ plus the noise variance,
# up to the refitted intercept's error (a $\chi^2_1/n_B$ fraction). Under decay to zero
# the limit is the constant $\bar y_B$, whose expected error is the targets' variance
# $\lVert w_B\rVert^2 + \sigma^2$, up to the same fraction. Both agree with these values
# within two validation standard errors plus the 95% quantile of $\chi^2_1/n_B$ (checked
# for every size, table below).

# %%
last = fits[fits["λ"] >= lambdas[-4]].merge(limits, on=["rows", "decay"], suffixes=("", " limit"))
last["distance"] = (last["MSE"] - last["MSE limit"]).abs()
shrink = last.groupby(["rows", "decay"])["distance"].apply(lambda d: -d.diff().max())
print(check("smallest shrink of the distance to the limit over the last four λ", shrink.min(),
            above=0.0, origin="the prose: the curves tend to their limits"))  # fmt: skip

# Expected limits: ‖δ‖² + σ² for decay to θ0, the targets' variance ‖w_B‖² + σ² for 0.
pretrained = float((w_b - w_a).pow(2).sum()) + noise**2
target_var = float(w_b.pow(2).sum()) + noise**2
limit = limits.pivot(index="rows", columns="decay", values="MSE")
table = pd.DataFrame(
    {
        "task-B rows": sizes,
        "limit, decay to θ0": limit["decay to θ0 (L2-SP)"].tolist(),
        "‖δ‖² + σ²": pretrained,
        "limit, decay to 0": limit["decay to 0"].tolist(),
        "‖w_B‖² + σ²": target_var,
        # Two validation standard errors, plus the 95% quantile of chi^2_1 (3.84) over n_B
        # for the intercept refitted on n_B rows.
        "allowed relative deviation": [2 * valid_se + 3.84 / size for size in sizes],
    }
)
for row in table.to_dict("records"):
    size, allowed = row["task-B rows"], row["allowed relative deviation"]
    print(check(f"n_B = {size}: limit of decay to θ0 vs ‖δ‖² + σ² (relative)",
                abs(row["limit, decay to θ0"] / pretrained - 1), at_most=allowed,
                origin="2 validation standard errors + χ²₁(0.95)/n_B"))  # fmt: skip
    print(check(f"n_B = {size}: limit of decay to 0 vs ‖w_B‖² + σ² (relative)",
                abs(row["limit, decay to 0"] / target_var - 1), at_most=allowed,
                origin="2 validation standard errors + χ²₁(0.95)/n_B"))  # fmt: skip
table.style.format(precision=3).format(precision=2, subset="allowed relative deviation").hide(
    axis="index"
)
