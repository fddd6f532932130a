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
# For every $\lambda > 0$ the ridge normal equations
# $(X_c^\top X_c + \alpha I)W = X_c^\top Y_c$ have a unique solution, and in the
# eigenbasis they decouple: along a direction $v_i$ with $s_i > 0$ the solution is the
# least-squares coefficient multiplied by
#
# $$f_i(\alpha) = \frac{s_i}{s_i + \alpha}, \qquad \alpha = \frac{nk\lambda}{2},$$
#
# and along a direction with $s_i = 0$ it is zero.
# Directions the data pins down firmly (large $s_i$, much variance of the inputs along
# $v_i$) are kept nearly whole; directions with little input variance, where the data
# say little and noise dominates the estimate, are shrunk towards zero. Summing the
# factors gives the **effective number of parameters**
# $\gamma = \sum_i s_i/(s_i + \alpha)$, which tends to 0 as $\lambda \to \infty$ and
# equals the rank of $X_c$ at $\lambda = 0$: $d$ when $X_c$ has full column rank, so that
# every $s_i > 0$ ([Bishop, 2006, §3.5.3](references.html#bishop2006)).
#
# **Early stopping** filters the same directions with another shape. Gradient descent
# from zero on the centred least squares, with $\eta' = 2\eta/(nk)$, gives after $t$
# steps the least-squares coefficient multiplied by $1 - (1 - \eta' s_i)^t$: the error
# left along $v_i$ shrinks by $|1 - \eta' s_i|$ a step. While $\eta' s_i \le 1$ that is
# faster the larger $s_i$: large-$s_i$ directions are learned first, small ones later. A
# direction with $\eta' s_i > 1$ overshoots, its factor swinging above and below 1.
# Stopping early is a decay of its own, without a penalty term
# ([Goodfellow, Bengio and Courville, 2016, §7.8](references.html#goodfellow2016)).

# %%
import itertools
import math
from collections.abc import Callable
from functools import partial

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown
from scipy.optimize import brentq

from weightdecay import make_regression_split, relative_error
from weightdecay.claims import check
from weightdecay.closed_form import (
    decay_from_early_stopping,
    early_stopping_filter,
    gd_iterate,
    shrinkage,
)
from weightdecay.data import scaled_regression
from weightdecay.optim import SGD

# Inputs whose column scales span three orders of magnitude: eigenvalues spread out.
x, y_1d, scales = scaled_regression(seed=0, n_train=100, n_features=8)
y = y_1d[:, None]
n, d = x.shape
s = shrinkage(x, 0.0).eigenvalues
scale_span = math.log10(float(scales.max() / scales.min()))
eigen_span = math.log10(float(s.max() / s.min()))
rank = int(torch.linalg.matrix_rank(x - x.mean(dim=0)))
print(check("decades spanned by the column scales, rounded", round(scale_span), equals=3,
            origin="three orders of magnitude"))  # fmt: skip
print(check("decades spanned by the eigenvalues", eigen_span, below=6, origin="almost six"))
print(check("decades spanned by the eigenvalues, rounded", round(eigen_span), equals=6,
            origin="almost six"))  # fmt: skip
print(check("rank of X_c", rank, equals=d, origin="full column rank"))
print(check("γ at λ = 0", shrinkage(x, 0.0).effective_parameters, equals=d,
            dtype=torch.float64, origin="exact: every factor is 1"))  # fmt: skip
Markdown(
    f"The column scales span {scale_span:.2f} orders of magnitude and the eigenvalues of "
    f"$X_c^\\top X_c$ almost six: {eigen_span:.2f}, from {float(s.min()):.3g} to "
    f"{float(s.max()):.3g}. $X_c$ has full column rank {rank} $= d$, so every $s_i > 0$ "
    f"and $\\gamma = d$ at $\\lambda = 0$ (asserted)."
)

# %% [markdown]
# ## Shrinkage factors and the effective number of parameters

# %%
rows = []
gammas = []
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
for lam in (1e-3, 1e-1, 10.0):
    result = shrinkage(x, lam)
    gammas.append(result.effective_parameters)
    # Larger s_i, larger factor: the firmly pinned directions are kept the most.
    print(check(f"λ = {lam:g}: factors not above the next smaller eigenvalue's", sum(
        a <= b for a, b in itertools.pairwise(result.factors)), equals=0,
        origin="exact count"))  # fmt: skip
    rows.append({"λ": lam, "α": result.alpha, "γ (effective parameters)": gammas[-1]})
    ax.semilogx(result.eigenvalues, result.factors, "o-", label=f"ridge, λ = {lam:g}")
ax.set_xlabel("eigenvalue s_i of X_cᵀX_c")
ax.set_ylabel("factor applied to direction i")
ax.legend()
fig.tight_layout()
plt.show()
print(check("times γ does not fall as λ grows", sum(
    a <= b for a, b in itertools.pairwise(gammas)), equals=0, origin="exact count"))  # fmt: skip
print(check("γ at the smallest λ", gammas[0], below=d, origin="d = 8"))
pd.DataFrame(rows).style.format(
    {"λ": "{:g}", "α": "{:.3g}", "γ (effective parameters)": "{:.3f}"}
).hide(axis="index")

# %% [markdown]
# $\gamma$ falls as $\lambda$ grows and stays below $d = 8$ (asserted), and at each
# $\lambda$ the factor grows with $s_i$ (asserted). $\gamma$ is also
# the trace of the ridge hat matrix $X_c(X_c^\top X_c + \alpha I)^{-1}X_c^\top$, the
# degrees of freedom of the fit; the test suite checks that identity.

# %% [markdown]
# ## Early stopping: the same directions, another filter
#
# First the closed form $W_t$ (`gd_iterate`) against gradient descent actually run (this
# package's SGD, no decay, on the centred data), here and on the first source's data at
# $\eta = 0.5$. Each of the $t$ steps rounds an $n$-row sum and a $d$-term product, and
# these roundings add like a random walk, $\sqrt{t(n + d)}\,\varepsilon$; the closed
# form computes $f_i/s_i$, and a rounding of $s_i$ moves that gain by about $t\eta'$
# relative per unit, never more than $\kappa(X_c^\top X_c)$: the bound is
# $\big(\sqrt{t(n + d)} + d\min(t\eta' s_{\max}, \kappa)\big)\,\varepsilon$ (the
# `early_stopping` entry of `weightdecay.claims.TOLERANCES`). Then the filter $1 - (1 - \eta' s_i)^t$ for several
# $t$ next to the ridge filter of the $\lambda$ that matches each best
# (`decay_from_early_stopping`, least squares over the directions).


# %%
def closed_form_vs_sgd(x, y, lr, checkpoints=(10, 200)):
    """gd_iterate against SGD on the centred data: relative difference and bound per t."""
    xc, yc = x - x.mean(dim=0), y - y.mean(dim=0)
    (rows, cols), unit = x.shape, torch.finfo(x.dtype).eps
    s_c = torch.linalg.eigvalsh(xc.T @ xc)
    kappa, s_max = (s_c[-1] / s_c[0]).item(), s_c[-1].item()
    step = 2 * lr / y.numel()  # eta' = 2 eta / (n k): the loss is a mean over n k entries
    w = torch.zeros(cols, y.shape[1], dtype=x.dtype, requires_grad=True)
    optimizer = SGD([w], lr=lr)
    out = []
    for t in range(1, max(checkpoints) + 1):
        optimizer.zero_grad()
        (xc @ w - yc).pow(2).mean().backward()
        optimizer.step()
        if t in checkpoints:
            error = relative_error(gd_iterate(x, y, lr=lr, steps=t), w.detach())
            bound = (math.sqrt(t * (rows + cols)) + cols * min(t * step * s_max, kappa)) * unit
            out.append({"η": lr, "steps t": t, "relative difference": error, "bound": bound})
    return out


lr = 1e-3  # below N / s_max for this design, so gradient descent converges
source = make_regression_split(seed=0)
parity = [{"data": "this page's", **row} for row in closed_form_vs_sgd(x, y, lr=lr)]
parity += [{"data": "first source's", **row}
           for row in closed_form_vs_sgd(source.x_train, source.y_train, lr=0.5)]  # fmt: skip
for row in parity:
    print(check(f"{row['data']} data, η = {row['η']:g}: closed form vs {row['steps t']} SGD "
                "steps (relative)", row["relative difference"], below=row["bound"],
                dtype=torch.float64, origin="early_stopping"))  # fmt: skip
pd.DataFrame(parity).style.format({"η": "{:g}", "relative difference": "{:.2e}",
                                   "bound": "{:.2e}"}).hide(axis="index")  # fmt: skip

# %%
limit = n / float(s.max())  # N / s_max, with N = nk = n here
eta_prime = 2 * lr / n
contraction = (1 - eta_prime * s).abs()  # |1 - eta' s_i|, s descending
first_steps = [float(early_stopping_filter(s, lr, t, n)[0]) for t in (1, 2, 3)]
print(check("η / (N / s_max)", lr / limit, below=1, origin="converges: |1 − η' s_i| < 1"))
print(check("η' s_max", eta_prime * float(s.max()), above=1, origin="overshoots"))
print(check("top direction's factor after one step", first_steps[0], above=1,
            origin="overshoots"))  # fmt: skip
print(check("top direction's factor after two steps", first_steps[1], below=1,
            origin="swings back"))  # fmt: skip
print(check("contractions not below the next smaller eigenvalue's", sum(
    a >= b for a, b in itertools.pairwise(contraction)), equals=0, origin="exact count"))  # fmt: skip
Markdown(
    f"Here $N/s_{{\\max}} = {limit:.3g}$, so $\\eta = {lr:g}$ converges, but "
    f"$\\eta' s_{{\\max}} = {eta_prime * float(s.max()):.3f} > 1$: the top direction "
    f"overshoots, its factor after one, two and three steps being "
    + ", ".join(f"{f:.3f}" for f in first_steps)
    + " (asserted). Large directions are still learned first, in magnitude: the error left "
    f"along $v_i$, $|1 - \\eta' s_i|^t$, contracts by {float(contraction[0]):.3f} a step for "
    f"the largest $s_i$, {float(contraction[1]):.3f} for the next and "
    f"{float(contraction[-1]):.6f} for the smallest, in the order of the $s_i$ (asserted)."
)


# %%
def ridge_factor(s_i: float, alpha: float) -> float:
    """Ridge's factor s / (s + alpha) at one eigenvalue."""
    return s_i / (s_i + alpha)


def stopping_factor(s_i: float, steps: int) -> float:
    """Early stopping's factor 1 - (1 - eta' s)^t at one eigenvalue, float64."""
    return float(early_stopping_filter(torch.tensor([s_i], dtype=x.dtype), lr, steps, n))


def excess(log_s: float, factor: Callable[[float], float], level: float) -> float:
    return factor(10.0**log_s) - level


def rise(factor: Callable[[float], float], lo: float, hi: float) -> tuple[float, float]:
    """log10 s where a filter, increasing in s on [10^lo, 10^hi], crosses 0.1 and 0.9."""
    low, high = (brentq(excess, lo, hi, args=(factor, level), xtol=1e-12) for level in (0.1, 0.9))
    return low, high


fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
rows = []
lams, gaps, spans = [], [], []
step_counts = (100, 1000, 10000)
for t, colour in zip(step_counts, ("tab:blue", "tab:orange", "tab:green"), strict=True):
    stop = early_stopping_filter(s, lr, t, n)
    lam = decay_from_early_stopping(x, lr=lr, steps=t)
    ridge = shrinkage(x, lam)
    ax.semilogx(s, stop, "o-", color=colour, label=f"early stopping, t = {t}")
    ax.semilogx(s, ridge.factors, "x--", color=colour, label=f"ridge, λ = {lam:.3g}")
    gap = ridge.effective_parameters - float(stop.sum())
    # Cauchy-Schwarz: |sum_i (f_i - g_i)| <= sqrt(d) ||f - g||_2, the norm being the
    # residual that decay_from_early_stopping minimizes.
    bound = math.sqrt(d) * float((ridge.factors - stop).norm())
    print(check(f"t = {t}: |γ of ridge − sum of early stopping's factors|", abs(gap),
                at_most=bound, origin="Cauchy–Schwarz: √d‖f − g‖"))  # fmt: skip
    # The claim as first stated; the Cauchy-Schwarz bound above is the derived, tighter one.
    print(check(f"t = {t}: |γ of ridge − sum of early stopping's factors|", abs(gap), below=0.5,
                origin="nearly the same number of effective parameters"))  # fmt: skip
    # Both filters keep the large directions and suppress the small ones.
    print(check(f"t = {t}: ridge factors not above the next smaller eigenvalue's", sum(
        a <= b for a, b in itertools.pairwise(ridge.factors)), equals=0,
        origin="exact count"))  # fmt: skip
    print(check(f"t = {t}: early-stopping factors below the next smaller eigenvalue's", sum(
        a < b for a, b in itertools.pairwise(stop)), equals=0, origin="exact count"))  # fmt: skip
    # Steepness: the width, in decades of s, over which each filter rises from 0.1 to
    # 0.9; early stopping's is searched up to s = 1 / eta', below which it increases.
    centre = math.log10(ridge.alpha)
    r_lo, r_hi = rise(partial(ridge_factor, alpha=ridge.alpha), centre - 3, centre + 3)
    e_lo, e_hi = rise(
        partial(stopping_factor, steps=t), math.log10(float(s.min())) - 3, -math.log10(eta_prime)
    )
    print(check(f"t = {t}: early stopping's rise / ridge's", (e_hi - e_lo) / (r_hi - r_lo),
                below=1, origin="steeper"))  # fmt: skip
    # Ridge's rise is log10 81 (f = 0.1 at s = alpha / 9, 0.9 at 9 alpha) for any alpha.
    print(check(f"t = {t}: |ridge's rise − log10 81|", abs((r_hi - r_lo) - math.log10(81)),
                below=2e-12, origin="brentq's xtol, 1e-12 at each end"))  # fmt: skip
    # The rise sits around s = 1 / (eta' t).
    centre_stop = -math.log10(eta_prime * t)
    print(check(f"t = {t}: log10 s where the rise starts, minus log10 1/(η't)",
                e_lo - centre_stop, below=0, origin="the rise contains 1/(η't)"))  # fmt: skip
    print(check(f"t = {t}: log10 s where the rise ends, minus log10 1/(η't)",
                e_hi - centre_stop, above=0, origin="the rise contains 1/(η't)"))  # fmt: skip
    lams.append(lam)
    gaps.append((gap, bound))
    spans.append((10**e_lo * eta_prime * t, 10**e_hi * eta_prime * t))
    rows.append({"steps t": t, "matching λ": lam, "γ of that ridge": ridge.effective_parameters,
                 "sum of the early-stopping factors": float(stop.sum()), "difference": gap,
                 "bound √d‖f − g‖": bound, "rise of ridge's filter (decades of s)": r_hi - r_lo,
                 "rise of early stopping's": e_hi - e_lo})  # fmt: skip
print(check("times the matching λ does not fall as t grows", sum(
    a <= b for a, b in itertools.pairwise(lams)), equals=0, origin="exact count"))  # fmt: skip
ax.set_xlabel("eigenvalue s_i")
ax.set_ylabel("factor applied to direction i")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
pd.DataFrame(rows).style.format("{:.3f}").format({"steps t": "{:d}", "matching λ": "{:.4g}"}).hide(
    axis="index"
)

# %%
Markdown(
    "Both filters keep the large-eigenvalue directions and suppress the small ones: "
    "neither factor decreases as $s_i$ grows (asserted). The matched pairs spend nearly "
    "the same "
    "number of effective parameters: the two $\\gamma$ differ by at most "
    f"{max(abs(g) for g, _ in gaps):.3f}. The bound beside each difference is "
    "$\\sqrt{d}\\,\\lVert f - g\\rVert_2$, with $f$ and $g$ the ridge and early-stopping "
    "factors: by the Cauchy–Schwarz inequality the $\\gamma$ cannot differ by more, "
    "$\\lVert f - g\\rVert_2$ being the mismatch `decay_from_early_stopping` minimizes (asserted; "
    f"here {max(b / abs(g) for g, b in gaps):.1f} times the difference at most).\n\n"
    "Steepness, measured as the width in decades of $s$ over which a filter rises from "
    "0.1 to 0.9 (the last two columns): ridge's filter is a logistic sigmoid in "
    "$\\log s$, whose rise is $\\log_{10} 81$ decades whatever $\\lambda$ (asserted). "
    "Early stopping's is steeper: its rise is narrower for each pair (asserted). In "
    "units of $1/(\\eta' t)$ it runs from "
    + ", ".join(f"{lo:.3f}" for lo, _ in spans)
    + " to "
    + ", ".join(f"{hi:.2f}" for _, hi in spans)
    + f" for $t$ = {', '.join(map(str, step_counts))}: the filter is near 0 well below "
    "$s = 1/(\\eta' t)$ and near 1 well above it (asserted: the rise contains that "
    "point). More steps match a smaller $\\lambda$ (asserted): training longer is "
    "decaying less."
)
