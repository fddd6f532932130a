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
# # Beyond MAP
#
# [A Bayesian perspective](bayesian.html) kept only the posterior's mode. For a model
# linear in its parameters the whole posterior is Gaussian and available in closed
# form ([Bishop, 2006, §3.3](references.html#bishop2006)). Take the second source's
# 1-D data with the features $\phi(x) = [x, x^2]$ and the model
# $y = \phi(x)^\top w + b + e$, $e \sim \mathcal{N}(0, \beta^{-1})$,
# prior $w \sim \mathcal{N}(0, \tau I)$, flat prior on $b$ (centred data). Then
#
# $$\Sigma = (\tau^{-1} I + \beta\Phi_c^\top\Phi_c)^{-1}, \qquad
# \bar w = \beta\,\Sigma\,\Phi_c^\top y_c,$$
#
# and the intercept of the centred model, $b + \bar\phi^\top w$, has the posterior
# $\mathcal{N}(\bar y, 1/(\beta n))$, independent of $w$ because the columns of $\Phi_c$
# sum to zero. The predictive distribution at a new $x$ is therefore Gaussian with mean
# $\phi(x)^\top \bar w + b$ and variance
#
# $$\mathrm{Var}[y \mid x] = \frac{1}{\beta} + \frac{1}{\beta n} + \phi_c(x)^\top\Sigma\,\phi_c(x)$$
#
# (noise, intercept uncertainty, weight uncertainty), and the marginal likelihood
# (evidence) $p(y \mid \tau, \beta)$ scores the precisions themselves. Its maximizer,
# found by MacKay's fixed point ([MacKay, 1992](references.html#mackay1992)), chooses the
# decay from the training data alone: $\lambda = 2/(\tau\beta n)$ in our objective. The
# package's fixed point reproduces scikit-learn's `BayesianRidge` (the test suite checks
# coefficients, precisions, and the predictive variance once scikit-learn's is given the
# intercept term); scikit-learn's predictive standard deviation leaves that term out,
# measured below.

# %%
import math

import matplotlib.pyplot as plt
import torch
from sklearn.linear_model import BayesianRidge

from weightdecay import featurize, make_clusters, relative_error
from weightdecay.bayes_linear import decay_from_precisions, log_evidence, maximize_evidence
from weightdecay.claims import check
from weightdecay.closed_form import ridge_closed_form

data = make_clusters(seed=0)
phi, y = data.features, data.y[:, 0]
n = phi.shape[0]
eps = torch.finfo(torch.float64).eps
fit = maximize_evidence(phi, y, tol=1e-12, max_iter=10_000)
post, beta = fit.posterior, fit.noise_precision
lam = decay_from_precisions(fit.weight_precision, beta, n)
w, b = ridge_closed_form(phi, y[:, None], lam)
gap = float((post.mean - w[:, 0]).norm() / w.norm())
phi_c = phi - phi.mean(dim=0)
precision = fit.weight_precision * torch.eye(2, dtype=phi.dtype) + beta * phi_c.T @ phi_c
# Rounding bound: two solves of the same 2x2 system, each with a relative error of about
# cond(precision) times sqrt(n) eps (n-term sums rounding like a random walk).
gap_bound = 2 * math.sqrt(n) * float(torch.linalg.cond(precision)) * eps
print(f"weight precision alpha = {fit.weight_precision:.4g}, noise precision beta = {beta:.4g}")
print(f"noise standard deviation 1/sqrt(beta) = {beta**-0.5:.3f} (the data's: {data.noise})")
print(f"effective parameters gamma = {fit.gamma:.3f} of 2; matching lambda = {lam:.3g}")
print(
    f"posterior mean vs ridge closed form at that lambda: {gap:.1e} (rounding bound {gap_bound:.1e})"
)
print(check("posterior mean vs ridge at the matching lambda (relative)", gap, at_most=gap_bound,
            dtype="float64", origin="two solves of one 2×2 system: 2 √n κ ε"))  # fmt: skip
# The same comparison against the backward-stable-solve bound d κ(H) ε of the ridge system
# H = Φ_c^T Φ_c + λ n I, relative to the ridge weights.
ridge_system = phi_c.T @ phi_c + lam * n * torch.eye(2, dtype=phi.dtype)
solve_bound = 2 * float(torch.linalg.cond(ridge_system)) * eps
print(check("posterior mean vs ridge at the matching lambda (relative to ridge)",
            relative_error(post.mean, w[:, 0]), below=solve_bound, dtype="float64",
            origin="linear_solve: d κ(H) ε"))  # fmt: skip
print(check("effective parameters γ", fit.gamma, above=0, origin="γ lies in (0, 2)"))
print(check("effective parameters γ", fit.gamma, below=2, origin="γ lies in (0, 2)"))

# %% [markdown]
# ## The predictive distribution
#
# Mean and a band of $\pm 2$ predictive standard deviations on $[-12, 12]$, over the
# training data. Most of the band's width is the noise term $1/\beta$: it is more than
# half of the predictive variance everywhere on the range (asserted; the shares are
# printed). The intercept term $1/(\beta n)$ is the same everywhere, $1/n$ of the noise
# term; the weights' term vanishes at the training mean of $\phi$ and grows away from
# the data, so the band is wider at the ends of the range than in the middle cluster
# (asserted). At $x = 0$ the intercept's and the weights' terms are of the same order
# (their ratio printed, asserted between 1/10 and 10): dropping the intercept's term
# would miss a large part of the parameter uncertainty there.

# %%
grid = torch.linspace(-12, 12, 241, dtype=torch.float64)
features = featurize(grid)
mean, std = post.predict(features)
noise_share = (1 / beta) / std**2
inside = std[(grid >= -2) & (grid <= 2)].min()
outside = std[grid.abs() >= 11].min()
print(
    f"share of the predictive variance that is noise: {float(noise_share.min()):.1%} to {float(noise_share.max()):.1%}"
)
print(check("smallest share of the predictive variance that is noise", noise_share.min(),
            above=0.5, origin="most of the band: more than half"))  # fmt: skip
print(check("smallest predictive std at |x| ≥ 11 / smallest in [-2, 2]",
            outside / inside, above=1, origin="wider at the ends than in the middle"))  # fmt: skip
at_zero = featurize(torch.zeros(1, dtype=torch.float64)) - post.x_mean
weight_term = float(at_zero @ post.cov @ at_zero.T)
intercept_term = 1 / (beta * n)
print(
    f"at x = 0: noise {1 / beta:.4f}, intercept {intercept_term:.5f}, weights {weight_term:.5f} "
    f"(intercept / weights = {intercept_term / weight_term:.2f})"
)
print(check("at x = 0: intercept term / weights' term", intercept_term / weight_term, above=0.1,
            origin="of the same order"))  # fmt: skip
print(check("at x = 0: intercept term / weights' term", intercept_term / weight_term, below=10,
            origin="of the same order"))  # fmt: skip
fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
ax.fill_between(
    grid, mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.2, label="±2 predictive std"
)
ax.plot(grid, mean, color="tab:blue", lw=2, label="predictive mean")
ax.scatter(data.x, y, color="tab:red", s=14, label="data")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Two checks of the predictive variance
#
# **The intercept as a parameter.** Give the intercept an ordinary Gaussian prior with a
# huge variance $\tau_b$ and treat $[\phi(x), 1]$ as the features of an uncentred
# model with design $\tilde\Phi = [\Phi, \mathbf{1}]$: its posterior covariance $\tilde\Sigma = (\mathrm{diag}(\tau^{-1}, \tau^{-1}, \tau_b^{-1}) + \beta \tilde\Phi^\top \tilde\Phi)^{-1}$
# gives the predictive variance $1/\beta + \tilde\phi^\top \tilde\Sigma \tilde\phi$ with $\tilde\phi = [\phi(x), 1]$, without
# any centring. By the Sherman–Morrison formula the prior lowers the flat-prior variance
# by a relative amount between 0 and $\mathrm{Var}(b)/\tau_b$, where
# $\mathrm{Var}(b) = 1/(\beta n) + \bar\phi^\top\Sigma\bar\phi$ is the flat-prior posterior
# variance of the uncentred intercept; the inversion adds rounding of order
# $\kappa\,\varepsilon$ per entry. The two agree within that bound (asserted).
#
# **scikit-learn.** `BayesianRidge.predict(X, return_std=True)` returns
# $\sqrt{1/\beta + \phi_c^\top\Sigma\phi_c}$, with $\phi_c$ centred by the training
# mean and its own $\Sigma$ (`sigma_`): it leaves out the intercept's $1/(\beta n)$.
# Fitted to the same data with the same tolerance, its variance plus $1/(\beta n)$ equals
# ours to rounding (asserted), and its standard deviation is smaller than ours by the
# percentages printed below, the same order as the $\frac{1}{2n}$ of the noise's
# standard deviation that the missing term amounts to.

# %%
alpha_b = 1e-6
design = torch.cat([phi, torch.ones(n, 1, dtype=phi.dtype)], dim=1)
wide = torch.diag(
    torch.tensor([fit.weight_precision, fit.weight_precision, alpha_b], dtype=phi.dtype)
)
augmented_precision = wide + beta * design.T @ design
augmented = torch.cat([features, torch.ones(len(grid), 1, dtype=phi.dtype)], dim=1)
augmented_variance = 1 / beta + (
    (augmented @ torch.linalg.inv(augmented_precision)) * augmented
).sum(dim=1)
relative = (std**2 - augmented_variance) / std**2
var_b = 1 / (beta * n) + float(post.x_mean @ post.cov @ post.x_mean)
# Sherman-Morrison bound Var(b) / tau_b, plus the inversion's rounding 3 cond eps (3 entries).
inversion_rounding = 3 * float(torch.linalg.cond(augmented_precision)) * eps
print(
    f"flat-prior intercept vs a prior of precision {alpha_b:g}: relative difference "
    f"{float(relative.min()):.2e} to {float(relative.max()):.2e} "
    f"(bound {alpha_b * var_b:.2e} + rounding {inversion_rounding:.1e})"
)
print(check("flat-prior intercept vs a wide prior: smallest relative difference",
            relative.min(), at_least=-inversion_rounding, dtype="float64",
            origin="−3 κ ε, the inversion's rounding"))  # fmt: skip
print(check("flat-prior intercept vs a wide prior: largest relative difference",
            relative.max(), at_most=alpha_b * var_b + inversion_rounding, dtype="float64",
            origin="Sherman–Morrison Var(b)/τ_b + 3 κ ε"))  # fmt: skip

reference = BayesianRidge(
    alpha_1=0.0, alpha_2=0.0, lambda_1=0.0, lambda_2=0.0, tol=1e-12, max_iter=10_000
).fit(phi.numpy(), y.numpy())
_, reference_std = reference.predict(features.numpy(), return_std=True)
reference_std = torch.from_numpy(reference_std)
restored = reference_std**2 + 1 / (reference.alpha_ * n)
agreement = float(((restored - std**2) / std**2).abs().max())
shortfall = 1 - reference_std / std
print(f"scikit-learn's variance + 1/(beta n) vs ours: largest relative difference {agreement:.1e}")
print(
    f"scikit-learn's predictive std is smaller than ours by {float(shortfall.min()):.2%} to "
    f"{float(shortfall.max()):.2%} on the grid; 1/(2n) = {1 / (2 * n):.2%}"
)
# Rounding bound: both fixed points agree to a few eps; a few dozen operations each, 64 eps.
print(check("scikit-learn's variance + 1/(βn) vs ours (relative)", agreement, at_most=64 * eps,
            dtype="float64", origin="64 ε: two fixed points, a few dozen operations each"))  # fmt: skip
# Upper bound, exact: the shortfall is 1 - sqrt(1 - t) with t = 1/(beta n sigma^2) <= 1/(n + 1),
# which is below 1/(2n). Lower bound: "the same order" (the prose's claim), a tenth of it.
print(check("scikit-learn's std shortfall, smallest", shortfall.min(), above=0.1 / (2 * n),
            origin="the same order as 1/(2n): a tenth of it"))  # fmt: skip
print(check("scikit-learn's std shortfall, largest", shortfall.max(), at_most=1 / (2 * n),
            origin="exact: 1 − √(1 − t), t ≤ 1/(n + 1)"))  # fmt: skip

# %% [markdown]
# ## The evidence as a function of lambda
#
# The log evidence over a grid of prior precisions $1/\tau$, at the fitted noise
# precision, plotted against the matching $\lambda = 2/(\tau\beta n)$, with the fixed
# point's $\lambda$ marked.

# %%
alphas = torch.logspace(-6, 4, 201, dtype=torch.float64) * fit.weight_precision
scores = torch.tensor([log_evidence(phi, y, float(a), beta) for a in alphas])
lambdas = torch.tensor([decay_from_precisions(float(a), beta, n) for a in alphas])
best = int(scores.argmax())
ratio = float(lambdas[best]) / lam
print(
    f"grid maximum at lambda = {float(lambdas[best]):.4g}; fixed point lambda = {lam:.4g} (ratio {ratio:.3f})"
)
spacing = float(alphas[1] / alphas[0]) - 1
print(f"grid spacing: {spacing:.1%} per step")
drops = (float(scores[best] - scores[0]), float(scores[best] - scores[-1]))
print(
    f"log evidence below its maximum: {drops[0]:.1f} at the smallest lambda, {drops[1]:.1f} at the largest"
)
# The grid is the fixed point's alpha times powers of ten, so it contains that alpha: the
# sharp check is that the grid's maximum is that very point. The ratio's bound is the grid
# step (the resolution of a grid search), not a rounding bound, and the measured ratio is 1.
on_grid = int((alphas / fit.weight_precision - 1).abs().argmin())
print(check("grid index of the maximum minus that of the fixed point", best - on_grid, equals=0,
            origin="exact"))  # fmt: skip
print(check("|grid maximum's λ / fixed point's − 1|", abs(ratio - 1), below=spacing,
            origin="the grid's spacing"))  # fmt: skip
# "Penalizes both extremes": a likelihood ratio of more than 10 at both ends, a Bayes factor
# of 10 being the threshold of strong evidence on Jeffreys' scale.
print(check("log evidence below its maximum, smaller of the two ends", min(drops),
            above=math.log(10), origin="log 10: strong evidence on Jeffreys' scale"))  # fmt: skip
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
ax.semilogx(lambdas, scores)
ax.axvline(lam, color="tab:red", ls="--", label=f"evidence maximum, λ = {lam:.3g}")
ax.set_xlabel("λ")
ax.set_ylabel("log evidence")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The grid's maximum agrees with the fixed point to within the grid's spacing
# (asserted); as the grid contains the fixed point's $\tau$, its maximum is exactly that
# point (asserted), so no other $\tau$ on the grid scores higher. The evidence penalizes both extremes (at both ends of the grid it is more
# than a factor of 10 below its maximum, asserted): a large $\lambda$ (a tight prior)
# cannot explain the data, and a small one spreads prior mass over functions the data
# rule out, the automatic Occam factor of the Bayesian model comparison.
