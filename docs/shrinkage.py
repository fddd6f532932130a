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
# # Why decay shrinks what it shrinks
#
# Write the centred design's Gram matrix as $X_c^\top X_c = V\,\mathrm{diag}(s_1, \dots, s_d)\,V^\top$.
# In the eigenbasis the ridge normal equations
# $(X_c^\top X_c + \alpha I)W = X_c^\top Y_c$ decouple: along direction $v_i$ the
# solution is the least-squares coefficient multiplied by
#
# $$f_i(\alpha) = \frac{s_i}{s_i + \alpha}, \qquad \alpha = \frac{nk\lambda}{2}.$$
#
# Directions the data pins down firmly (large $s_i$, much variance of the inputs along
# $v_i$) are kept nearly whole; directions with little input variance, where the data
# say little and noise dominates the estimate, are shrunk towards zero. Summing the
# factors gives the **effective number of parameters**
# $\gamma = \sum_i s_i/(s_i + \alpha)$, from $d$ at $\lambda = 0$ down to 0
# ([Bishop, 2006, §3.5.3](references.html#bishop2006)).
#
# **Early stopping** filters the same directions with another shape. Gradient descent
# from zero on the centred least squares, with $\eta' = 2\eta/(nk)$, gives after $t$
# steps the least-squares coefficient multiplied by $1 - (1 - \eta' s_i)^t$: large-$s_i$
# directions are learned first, small ones later. Stopping early is a decay of its own,
# without a penalty term ([Goodfellow, Bengio and Courville, 2016, §7.8](references.html#goodfellow2016)).

# %%
import itertools

import matplotlib.pyplot as plt
from IPython.display import Markdown

from weightdecay.closed_form import early_stopping_filter, matching_lambda, shrinkage
from weightdecay.derivations import early_stopping_checks
from weightdecay.experiments.adaptive import scaled_regression
from weightdecay.report import assert_checks, checks_table

# Inputs whose column scales span two orders of magnitude: eigenvalues spread out.
x, y_1d, _ = scaled_regression(seed=0, n_samples=100, n_features=8)
y = y_1d[:, None]
n = x.shape[0]

# %% [markdown]
# ## Shrinkage factors and the effective number of parameters

# %%
rows = ["| λ | α | γ (effective parameters) |", "| ---: | ---: | ---: |"]
gammas = []
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
for lam in (1e-3, 1e-1, 10.0):
    result = shrinkage(x, lam)
    gammas.append(result.effective_parameters)
    rows.append(f"| {lam:g} | {result.alpha:.3g} | {result.effective_parameters:.3f} |")
    ax.semilogx(result.eigenvalues, result.factors, "o-", label=f"ridge, λ = {lam:g}")
ax.set_xlabel("eigenvalue s_i of X_cᵀX_c")
ax.set_ylabel("factor applied to direction i")
ax.legend()
fig.tight_layout()
plt.show()
assert all(a > b for a, b in itertools.pairwise(gammas)) and gammas[0] < x.shape[1]
Markdown("\n".join(rows))

# %% [markdown]
# $\gamma$ falls as $\lambda$ grows and stays below $d = 8$ (asserted). $\gamma$ is also
# the trace of the ridge hat matrix $X_c(X_c^\top X_c + \alpha I)^{-1}X_c^\top$, the
# degrees of freedom of the fit; the test suite checks that identity.

# %% [markdown]
# ## Early stopping: the same directions, another filter
#
# First the closed form $W_t$ against gradient descent actually run (this package's SGD,
# no decay, on the centred data), then the filter $1 - (1 - \eta' s_i)^t$ for several
# $t$ next to the ridge filter of the $\lambda$ that matches each best
# (`matching_lambda`, least squares over the directions).

# %%
lr = 1e-3  # below N / s_max for this design, so gradient descent converges
checks = early_stopping_checks(x, y, lr=lr)
assert_checks(checks)
Markdown(checks_table(checks))

# %%
s = shrinkage(x, 0.0).eigenvalues
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
rows = [
    "| steps t | matching λ | γ of that ridge | sum of the early-stopping factors |",
    "| ---: | ---: | ---: | ---: |",
]
for t, colour in ((100, "tab:blue"), (1000, "tab:orange"), (10000, "tab:green")):
    stop = early_stopping_filter(s, lr, t, n)
    lam = matching_lambda(x, lr=lr, steps=t)
    ridge = shrinkage(x, lam)
    ax.semilogx(s, stop, "o-", color=colour, label=f"early stopping, t = {t}")
    ax.semilogx(s, ridge.factors, "x--", color=colour, label=f"ridge, λ = {lam:.3g}")
    rows.append(
        f"| {t} | {lam:.4g} | {ridge.effective_parameters:.3f} | {float(stop.sum()):.3f} |"
    )
    assert abs(ridge.effective_parameters - float(stop.sum())) < 0.5
ax.set_xlabel("eigenvalue s_i")
ax.set_ylabel("factor applied to direction i")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
Markdown("\n".join(rows))

# %% [markdown]
# Both filters keep the large-eigenvalue directions and suppress the small ones; the
# matched pairs spend nearly the same number of effective parameters (within 0.5,
# asserted). Ridge's filter is a smooth sigmoid in $\log s$; early stopping's is
# steeper, near 0 below $s \approx 1/(\eta' t)$ and near 1 above it. More steps match a
# smaller $\lambda$: training longer is decaying less.
