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
# is, for every $\lambda > 0$, a strictly convex quadratic with a unique minimizer, and that
# minimizer has a closed form. This page
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
# definite for any $\lambda > 0$, so every $\lambda > 0$ has a unique solution, even when
# $X_c^\top X_c$ is singular; at $\lambda = 0$ the solution is unique only when $X_c$ has
# full column rank.
#
# The closed form against scikit-learn, both in float64: a backward-stable solve of the
# $d\times d$ system $H = X_c^\top X_c + \alpha I$ perturbs its solution by at most
# $\kappa(H)$ times its backward error $d\varepsilon$, so the weights may differ by
# $d\,\kappa(H)\,\varepsilon$ relative (the `linear_solve` entry of
# `weightdecay.claims.TOLERANCES`, computed for this problem). The intercept
# $b = \bar y - W^\top\bar x$ inherits $\lVert\bar x\rVert\lVert\delta W\rVert$ plus its own
# $d$-term product.

# %%
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown
from sklearn.linear_model import Ridge

from weightdecay import make_regression_split, relative_error, ridge_alpha
from weightdecay.claims import check
from weightdecay.closed_form import descent_to_ridge, ridge_closed_form

split = make_regression_split(seed=0)
x, y = split.x_train, split.y_train
n, k = y.shape
d = x.shape[1]
lambd = 0.01
eps = torch.finfo(x.dtype).eps
w_star, b_star = ridge_closed_form(x, y, lambd)
alpha = ridge_alpha(lambd, n, k)
fit = Ridge(alpha=alpha).fit(x.numpy(), y.numpy())
error_w = relative_error(w_star, torch.from_numpy(fit.coef_.T.copy()))
error_b = relative_error(b_star, torch.from_numpy(fit.intercept_.copy()))

xc = x - x.mean(dim=0)
kappa = torch.linalg.cond(xc.T @ xc + alpha * torch.eye(d, dtype=x.dtype)).item()
bound_w = d * kappa * eps  # d κ(H) ε
spread = x.mean(dim=0).norm().item() * w_star.norm().item() / b_star.norm().item()
bound_b = spread * (bound_w + d * eps) + eps  # |x̄| |δW| / |b|, plus b's own roundings
print(check("ridge W vs scikit-learn Ridge (relative)", error_w, below=bound_w,
            dtype=torch.float64, origin="linear_solve: d κ(H) ε"))  # fmt: skip
print(check("ridge b vs scikit-learn Ridge (relative)", error_b, below=bound_b,
            dtype=torch.float64, origin="linear_solve: (|x̄||W|/|b|)(d κ(H) ε + d ε) + ε"))  # fmt: skip
pd.DataFrame(
    {"quantity": ["W", "b"], "relative difference": [error_w, error_b],
     "bound": [bound_w, bound_b]}
).style.format("{:.2e}", subset=["relative difference", "bound"]).hide(axis="index")  # fmt: skip

# %% [markdown]
# ## Gradient descent converges to it, at the predicted rate
#
# Full-batch gradient descent on $J$ with `SGD(weight_decay=λ)` on the weight's group
# (bias undecayed), from zero. On centred inputs the bias decouples, and the error
# $E_t = W_t - W^\star$ obeys $E_{t+1} = \big(I - \eta'(X_c^\top X_c + \alpha I)\big)E_t$
# with $\eta' = 2\eta/(nk)$: each eigen-direction of $X_c^\top X_c$ (eigenvalue $s_i$)
# contracts by $|1 - \eta'(s_i + \alpha)|$ per step, the bias error by $|1 - 2\eta/k|$.
# The slowest of these factors is the predicted asymptotic rate. Because the modes
# contract independently, the whole curve is predicted too: from zero,
# $\delta_t^2 = \sum_i a_i r_i^{2t}$, with $r_i$ the rates and $a_i$ the squared starting error
# of each mode.
#
# In float64 the run cannot get closer than a rounding floor. Each step rounds about
# $n + d$ operations per entry, errors of size $\varepsilon\lVert\theta^\star\rVert$ that add like
# a random walk ([Higham and Mary, 2019](references.html#higham2019)) and are remembered
# with weight $r^{2j}$ after $j$ steps, which sums to $1/(1 - r^2)$ for the slowest rate
# $r$: the floor is about $\sqrt{(n + d)/(1 - r^2)}\;\varepsilon\lVert\theta^\star\rVert$.

# %%
descent = descent_to_ridge(x, y, lambd, lr=0.5, steps=300)
distance, predicted = descent.distances, descent.predicted_rate
observed = descent.observed_rate(61)
print(f"predicted rate {predicted:.6f}, observed at step 61 {observed:.6f}")
print(f"distance after 300 steps: {distance[-1]:.2e}")
print(check("observed rate at step 61 / predicted rate, minus 1", abs(observed / predicted - 1),
            below=1e-4, origin="four digits; the transient check below is the tight one"))  # fmt: skip
print(check("distance to the closed form after 300 steps", distance[-1], below=1e-12,
            dtype=torch.float64, origin="about 23 ε|θ*|, above the floor derived below"))  # fmt: skip

start = descent.modal_distance(0)  # |theta*|: the run starts from zero
# Rounding floor: sqrt(n + d) roundings of size eps |theta*| a step, random walk,
# remembered over 1 / (1 - r^2) steps.
floor = math.sqrt((n + d) / (1 - predicted**2)) * eps * start
modal = [descent.modal_distance(t) for t in range(1, len(distance) + 1)]
worst = max(abs(a - b) for a, b in zip(distance, modal, strict=True))
print(check("largest |measured − modal prediction| of the distance", worst, at_most=floor,
            dtype=torch.float64, origin="rounding floor √((n + d)/(1 − r²)) ε|θ*|"))  # fmt: skip
# The gap at step 61: the faster modes' transient, plus the floor's effect on a ratio of
# two distances (each off by at most `floor`).
gap, transient = 1 - observed / predicted, descent.transient(61)
rounding = 2 * floor / distance[60]
print(check("gap at step 61", gap, at_most=transient + rounding,
            origin="the faster modes' transient, plus 2 floor / δ₆₁"))  # fmt: skip
print(check("gap at step 61", gap, at_least=-rounding, origin="−2 floor / δ₆₁"))  # fmt: skip

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
# until the distance reaches the float64 rounding floor, where the curve flattens.

# %%
Markdown(
    f"The measured distance equals $\\big(\\sum_i a_i r_i^{{2t}}\\big)^{{1/2}}$ at every step to "
    f"within {worst:.2e}, below the rounding floor {floor:.2e} "
    f"($= {floor / (eps * start):.1f}\\,\\varepsilon\\lVert\\theta^\\star\\rVert$; asserted). At step 61 "
    f"the observed contraction is short of the predicted rate by the fraction {gap:.2e}: "
    f"the faster modes have not quite died out, and their transient bounds the gap by "
    f"{transient:.2e}, plus {rounding:.1e} for the floor (asserted)."
)

# %% [markdown]
# ## The regularization path
#
# Each coefficient of the closed-form solution against $\lambda$, first target. As
# $\lambda \to \infty$ every coefficient goes to zero, but not every coefficient shrinks on
# the way. What shrinks monotonically is the norm of the coefficient vector and each of
# its components along the eigen-directions $v_i$ of $X_c^\top X_c$: the component is
# $v_i^\top X_c^\top Y_c/(s_i + \alpha)$, whose magnitude falls as $\alpha$ grows. A single
# coefficient mixes these components with fixed weights, and as they shrink at different
# speeds it can grow, or change sign. The path is smooth because the solution is a
# rational function of $\lambda$.

# %%
lambdas = torch.logspace(-4, 3, 60, dtype=torch.float64)
path = torch.stack([ridge_closed_form(x, y, float(lam))[0][:, 0] for lam in lambdas])
norms = path.norm(dim=1)
print(check("steps along the path where |w| grows", sum(
    later > earlier for earlier, later in itertools.pairwise(norms)), equals=0,
    origin="exact count"))  # fmt: skip
xc = x - x.mean(dim=0)
_, vectors = torch.linalg.eigh(xc.T @ xc)
components = (path @ vectors).abs()  # |v_i^T w| at each lambda, one column per direction
# Strictly: between grid points each s_i + alpha grows by at least the relative step
# printed below, far above the float64 rounding of the path (a few eps).
step = (lambdas[1:] - lambdas[:-1])[:, None] * (n * k / 2)  # increments of alpha
s_all = torch.linalg.eigvalsh(xc.T @ xc)
smallest_step = float((step / (s_all + n * k / 2 * lambdas[:-1, None])).min())
print(f"smallest relative growth of s_i + alpha between grid points: {smallest_step:.1e}")
print(check("steps along the path where an eigen-component does not shrink",
            (components[1:] >= components[:-1]).sum(), equals=0, origin="exact count"))  # fmt: skip
size = path.abs()
growing = [j for j in range(d) if (size[1:, j] > size[:-1, j]).any()]
flipping = [j for j in range(d) if (path[1:, j] * path[:-1, j] < 0).any()]
print(check("coefficients whose |w| grows somewhere on the path", len(growing), at_least=1,
            origin="at least one"))  # fmt: skip
print(check("coefficients that change sign on the path", len(flipping), at_least=1,
            origin="at least one"))  # fmt: skip
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
# The norm of the coefficient vector decreases monotonically along the path (asserted),
# and so does each eigen-component (asserted, strictly): the least-squares component is
# shrunk by $s_i/(s_i + \alpha)$, which falls as $\alpha$ grows
# ([Why decay shrinks what it shrinks](shrinkage.html)). Single coefficients need not
# follow:

# %%
rows = []
for j in sorted(set(growing) | set(flipping)):
    peak = int(size[:, j].argmax())
    cross = [i for i in range(len(lambdas) - 1) if path[i, j] * path[i + 1, j] < 0]
    rows.append({"feature": j, "true coefficient": float(split.coef[j, 0]),
                 "growth of |w|": float(size[peak, j] / size[0, j]),
                 "from λ": float(lambdas[0]), "to λ": float(lambdas[peak]),
                 "sign change between λ": (f"{float(lambdas[cross[0]]):.2g} and "
                                           f"{float(lambdas[cross[0] + 1]):.2g}" if cross else "")})  # fmt: skip
pd.DataFrame(rows).style.format({"true coefficient": "{:g}", "growth of |w|": "{:.2f}-fold",
                                 "from λ": "{:.0e}", "to λ": "{:.2g}"}).hide(axis="index")  # fmt: skip
