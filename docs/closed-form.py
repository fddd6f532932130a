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
# # Where gradient descent ends up
#
# For the first source's linear regression the weight-decay objective
# $J(W, b) = \frac{1}{nk}\lVert Y - XW - \mathbf{1}b^\top\rVert_F^2 + \frac{\lambda}{2}\lVert W\rVert_F^2$
# is a quadratic with a unique minimizer, and that minimizer has a closed form. This page
# derives it, checks it against scikit-learn, watches gradient descent with weight decay
# converge to it at the predicted rate, and draws the regularization path.
#
# **Derivation.** $\partial J/\partial b = 0$ gives $b = \bar y - W^\top\bar x$; substituting
# leaves the centred problem in $X_c = X - \mathbf{1}\bar x^\top$, $Y_c = Y - \mathbf{1}\bar y^\top$.
# $\partial J/\partial W = \frac{2}{nk}X_c^\top(X_cW - Y_c) + \lambda W = 0$; multiplying
# by $nk/2$,
#
# $$\big(X_c^\top X_c + \alpha I\big)W = X_c^\top Y_c, \qquad \alpha = \frac{nk\lambda}{2},$$
#
# the normal equations of ridge regression
# ([Hoerl and Kennard, 1970](references.html#hoerl1970)), which scikit-learn's
# `Ridge(alpha=α)` solves (`weightdecay.ridge_alpha` converts). The matrix is positive
# definite for any $\lambda > 0$, so the solution exists and is unique even when
# $X_c^\top X_c$ is singular.

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

from weightdecay import make_regression_split
from weightdecay.closed_form import descent_to_ridge, ridge_closed_form
from weightdecay.derivations import closed_form_checks
from weightdecay.report import assert_checks, checks_table

split = make_regression_split(seed=0)
x, y = split.x_train, split.y_train
n, k = y.shape
lambd = 0.01
w_star, b_star = ridge_closed_form(x, y, lambd)
checks = [c for c in closed_form_checks() if "Ridge" in c.quantity]
assert_checks(checks)
Markdown(checks_table(checks))

# %% [markdown]
# ## Gradient descent converges to it, at the predicted rate
#
# Full-batch gradient descent on $J$ with `SGD(weight_decay=λ)` on the weight's group
# (bias undecayed), from zero. On centred inputs the bias decouples, and the error
# $E_t = W_t - W^\star$ obeys $E_{t+1} = \big(I - \eta'(X_c^\top X_c + \alpha I)\big)E_t$
# with $\eta' = 2\eta/(nk)$: each eigen-direction of $X_c^\top X_c$ (eigenvalue $s_i$)
# contracts by $|1 - \eta'(s_i + \alpha)|$ per step, the bias error by $|1 - 2\eta/k|$.
# The slowest of these factors is the predicted asymptotic rate.

# %%
descent = descent_to_ridge(x, y, lambd, lr=0.5, steps=300)
distance, predicted = descent.distances, descent.predicted_rate
observed = descent.observed_rate(61)
print(f"predicted rate {predicted:.6f}, observed at step 61 {observed:.6f}")
print(f"distance after 300 steps: {distance[-1]:.2e}")
assert abs(observed / predicted - 1) < 1e-4 and distance[-1] < 1e-12

fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
steps = np.arange(1, len(distance) + 1)
ax.semilogy(steps, distance, label="‖θ_t − θ*‖, SGD with weight decay")
ax.semilogy(steps, distance[0] * predicted ** (steps - 1), "--", label="predicted rate")
ax.set_xlabel("step")
ax.set_ylabel("distance to the closed form")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The observed per-step contraction matches the prediction to four digits (asserted)
# until the distance reaches float64 rounding, where the curve flattens.

# %% [markdown]
# ## The regularization path
#
# Each coefficient of the closed-form solution against $\lambda$, first target. As
# $\lambda$ grows every coefficient is pulled to zero; the path is smooth because the
# solution is a rational function of $\lambda$.

# %%
lambdas = torch.logspace(-4, 3, 60, dtype=torch.float64)
path = torch.stack([ridge_closed_form(x, y, float(lam))[0][:, 0] for lam in lambdas])
norms = path.norm(dim=1)
assert all(later <= earlier for earlier, later in itertools.pairwise(norms))
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
for j in range(path.shape[1]):
    ax.semilogx(lambdas, path[:, j], label=f"feature {j}")
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("λ")
ax.set_ylabel("coefficient (target 0)")
ax.legend(ncol=2, fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The norm of the coefficient vector decreases monotonically along the path (asserted):
# with eigen-directions shrunk by $s_i/(s_i + \alpha)$, every one of them shrinks as
# $\alpha$ grows ([Why decay shrinks what it shrinks](shrinkage.html)).
