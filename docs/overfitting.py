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
# # Overfitting and the choice of lambda
#
# The setting of the weight-decay chapter of *Dive into Deep Learning*
# ([Zhang et al.](references.html#d2l)): 200 features, 20 training rows, targets
# $y = 0.05 + 0.01\sum_j x_j + \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, 0.01^2)$,
# 100 validation rows (`high_dimensional_regression`). With ten times more parameters
# than rows, every $\lambda$ admits a solution, and the question is which $\lambda$ to
# pick: by cross-validation, or by the evidence.

# %%
import itertools
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from weightdecay import decay_from_ridge_alpha, ridge_alpha
from weightdecay.bayes_linear import EvidenceRunawayError, matching_decay, maximize_evidence
from weightdecay.closed_form import ridge_closed_form
from weightdecay.experiments.coupling import high_dimensional_regression

x, y, x_valid, y_valid = high_dimensional_regression(seed=0)
n = x.shape[0]


def errors(w: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    train = float((x @ w + b - y).pow(2).mean())
    valid = float((x_valid @ w + b - y_valid).pow(2).mean())
    return train, valid


# %% [markdown]
# ## Training and validation error against lambda
#
# The converged solution for each $\lambda$ is the closed form of
# [Where gradient descent ends up](closed-form.html). Training error falls to zero as
# $\lambda \to 0$ (20 rows can be fitted exactly); the parameter norm grows.

# %%
lambdas = torch.logspace(-4, 3, 29, dtype=torch.float64)
curves = {"train": [], "valid": [], "norm": []}
for lam in lambdas:
    w, b = ridge_closed_form(x, y, float(lam))
    train, valid = errors(w, b)
    curves["train"].append(train)
    curves["valid"].append(valid)
    curves["norm"].append(float(w.norm()))
best = min(range(len(lambdas)), key=lambda i: curves["valid"][i])
assert curves["train"][0] < 1e-10 < curves["train"][-1]
assert all(a >= b for a, b in itertools.pairwise(curves["norm"]))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), dpi=100)
axes[0].loglog(lambdas, curves["train"], label="training MSE")
axes[0].loglog(lambdas, curves["valid"], label="validation MSE")
axes[0].axvline(float(lambdas[best]), color="grey", ls=":", label="best on validation")
axes[0].set_xlabel("λ")
axes[0].legend()
axes[1].loglog(lambdas, curves["norm"])
axes[1].set_xlabel("λ")
axes[1].set_ylabel("‖w‖")
fig.tight_layout()
plt.show()

# %% [markdown]
# The validation error changes little along this curve, and that is instructive: the
# closed form at small $\lambda$ is the *minimum-norm* interpolant, which is already
# small. The dramatic overfitting in *Dive into Deep Learning* comes from training
# from a random initialization $w_0 \sim \mathcal{N}(0, I)$: gradient descent never
# moves the component of $w_0$ orthogonal to the 20 training rows, so without decay it
# converges to the interpolant *closest to* $w_0$, the limit of ridge regression with
# centre $w_0$. With any $\lambda > 0$ the converged solution no longer depends on the
# initialization: decay is what removes that component.

# %%
gen = torch.Generator().manual_seed(0)
w_init = torch.randn(x.shape[1], 1, generator=gen, dtype=torch.float64)
w0, b0 = ridge_closed_form(x, y, 1e-10, centre=w_init)
train0, valid0 = errors(w0, b0)
print(f"no decay, from a random init: training MSE {train0:.2e}, validation MSE {valid0:.3f}")
print(
    f"best lambda on the grid ({float(lambdas[best]):.3g}): validation MSE {curves['valid'][best]:.4f}"
)
assert train0 < 1e-8 and valid0 > 100 * curves["valid"][best]

# %% [markdown]
# ## A factor of 1/2 between two implementations
#
# The book's from-scratch version minimizes $\frac{1}{n}\sum_i \frac{1}{2}(\hat y_i - y_i)^2 +
# \frac{\lambda}{2}\lVert w\rVert^2$ (its squared loss carries a $\frac12$), its concise
# version $\frac{1}{n}\sum_i(\hat y_i - y_i)^2$ with `weight_decay=λ`, that is
# $+\frac{\lambda}{2}\lVert w\rVert^2$. Doubling the first objective gives the second
# with $2\lambda$: the same number means twice the decay in the from-scratch version.
# Checked: the gradient of the from-scratch objective at $\lambda$ vanishes at our
# closed form for $2\lambda$.

# %%
lam = 0.5
w, b = ridge_closed_form(x, y, 2 * lam)
w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
scratch_objective = 0.5 * (x @ w + b - y).pow(2).mean() + lam / 2 * w.pow(2).sum()
scratch_objective.backward()
gradient = float(torch.cat([w.grad.flatten(), b.grad]).norm())
print(
    f"gradient of the from-scratch objective at lambda = {lam}, at our solution for {2 * lam}: {gradient:.1e}"
)
assert gradient < 1e-12

# %% [markdown]
# ## Cross-validation against the evidence
#
# **Cross-validation**: scikit-learn's `RidgeCV` with 5-fold cross-validation (shuffled,
# seeded) over the same grid, converted to our $\lambda$ by $\alpha = nk\lambda/2$.
#
# **Evidence**: the MacKay / Bishop fixed point of [Beyond MAP](beyond-map.html) chooses
# the weight precision $\alpha$ and noise precision $\beta$ that maximize the marginal
# likelihood; the matching decay is $\lambda = 2\alpha/(\beta n)$. With fewer rows than
# features and no hyperprior it runs away: the model can interpolate, the residual
# vanishes, the effective number of parameters $\gamma$ reaches $n$ and the noise
# precision $\beta = (n - \gamma)/\lVert y - Xm\rVert^2$ grows without bound (until
# rounding makes $n - \gamma$ negative). A Gamma hyperprior on $\beta$ (scikit-learn's
# `alpha_1`, `alpha_2`, here all four set to the same value $h$) adds $2h$ to the
# numerator and denominator and keeps the fixed point finite.

# %%
try:
    maximize_evidence(x, y[:, 0], max_iter=500, tol=1e-10)
    runaway = None
except EvidenceRunawayError as error:
    runaway = error
assert runaway is not None
print("no hyperprior:", str(runaway).split(";")[0])
print(
    "noise precision along the iterations:",
    ", ".join(f"{beta:.3g}" for _, beta in runaway.history),
)

cv = RidgeCV(
    alphas=[ridge_alpha(float(v), n, 1) for v in lambdas],
    cv=KFold(5, shuffle=True, random_state=0),
)
cv.fit(x.numpy(), y[:, 0].numpy())
rows = [
    "| method | λ | noise std 1/√β | γ | validation MSE |",
    "| --- | ---: | ---: | ---: | ---: |",
]
lam_cv = decay_from_ridge_alpha(float(cv.alpha_), n, 1)
valid_cv = errors(*ridge_closed_form(x, y, lam_cv))[1]
rows.append(f"| 5-fold CV (RidgeCV) | {lam_cv:.3g} | | | {valid_cv:.5f} |")
chosen, noise_std = {}, []
for h in (1e-6, 1e-3, 1e-1, 1.0):
    fit = maximize_evidence(
        x, y[:, 0], max_iter=1000, tol=1e-10, alpha_1=h, alpha_2=h, lambda_1=h, lambda_2=h
    )
    lam_ev = matching_decay(fit.weight_precision, fit.noise_precision, n)
    valid_ev = errors(*ridge_closed_form(x, y, lam_ev))[1]
    chosen[h] = valid_ev
    noise_std.append(1 / math.sqrt(fit.noise_precision))
    rows.append(
        f"| evidence, hyperpriors h = {h:g} | {lam_ev:.3g} | {1 / math.sqrt(fit.noise_precision):.3g} | {fit.gamma:.2f} | {valid_ev:.5f} |"
    )
best_valid = curves["valid"][best]
assert valid_cv < 1.02 * best_valid and all(v < 1.02 * best_valid for v in chosen.values())
assert all(a < b for a, b in itertools.pairwise(noise_std))
Markdown("\n".join(rows) + f"\n\nBest validation MSE on the λ grid: {best_valid:.5f}.")

# %% [markdown]
# Both choices land within 2% of the best validation error on the grid (asserted).
# The evidence reads the noise level off the training data alone: with the smallest
# hyperprior it believes in almost no noise (the interpolating fit), and the estimated
# noise standard deviation grows with the hyperprior (asserted), which is the
# hyperprior doing its job of holding $\beta$ back. The validation error hardly moves:
# as the first section showed, in this problem the converged solution is insensitive to
# $\lambda$; what matters is that some decay removes the initialization's component.
