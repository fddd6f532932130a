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
# $y = \phi(x)^\top w + b + \varepsilon$, $\varepsilon \sim \mathcal{N}(0, \beta^{-1})$,
# prior $w \sim \mathcal{N}(0, \alpha^{-1}I)$, flat prior on $b$ (centred data). Then
#
# $$\Sigma = (\alpha I + \beta\Phi_c^\top\Phi_c)^{-1}, \qquad
# m = \beta\,\Sigma\,\Phi_c^\top y_c,$$
#
# the predictive distribution at a new $x$ is Gaussian with mean $\phi(x)^\top m + b$ and
# variance $\beta^{-1} + \phi_c(x)^\top\Sigma\,\phi_c(x)$ (noise plus parameter
# uncertainty), and the marginal likelihood (evidence) $p(y \mid \alpha, \beta)$ scores the
# precisions themselves. Its maximizer, found by MacKay's fixed point
# ([MacKay, 1992](references.html#mackay1992)), chooses the decay from the training data
# alone: $\lambda = 2\alpha/(\beta n)$ in our objective. The package's implementation
# reproduces scikit-learn's `BayesianRidge` (the test suite checks coefficients,
# precisions and predictive standard deviations).

# %%
import matplotlib.pyplot as plt
import torch

from weightdecay import featurize, make_clusters
from weightdecay.bayes_linear import log_evidence, matching_decay, maximize_evidence
from weightdecay.closed_form import ridge_closed_form

data = make_clusters(seed=0)
phi, y = data.features, data.y[:, 0]
n = phi.shape[0]
fit = maximize_evidence(phi, y, tol=1e-12, max_iter=10_000)
lam = matching_decay(fit.weight_precision, fit.noise_precision, n)
w, b = ridge_closed_form(phi, y[:, None], lam)
gap = float((fit.posterior.mean - w[:, 0]).norm() / w.norm())
print(
    f"weight precision alpha = {fit.weight_precision:.4g}, noise precision beta = {fit.noise_precision:.4g}"
)
print(
    f"noise standard deviation 1/sqrt(beta) = {fit.noise_precision**-0.5:.3f} (the data's: {data.noise_std})"
)
print(f"effective parameters gamma = {fit.gamma:.3f} of 2; matching lambda = {lam:.3g}")
print(f"posterior mean vs ridge closed form at that lambda: {gap:.1e}")
assert gap < 1e-12 and 0 < fit.gamma < 2

# %% [markdown]
# ## The predictive distribution
#
# Mean and a band of $\pm 2$ predictive standard deviations on $[-12, 12]$, over the
# training data. Most of the band's width is the noise term $1/\beta$; the parameter
# term adds to it away from the data, so the band is wider at the ends of the range than
# in the middle cluster (asserted).

# %%
grid = torch.linspace(-12, 12, 241, dtype=torch.float64)
mean, std = fit.posterior.predict(featurize(grid))
inside = std[(grid >= -2) & (grid <= 2)].min()
outside = std[grid.abs() >= 11].min()
assert float(outside) > float(inside)
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
# ## The evidence as a function of lambda
#
# The log evidence over a grid of weight precisions $\alpha$, at the fitted noise
# precision, plotted against the matching $\lambda = 2\alpha/(\beta n)$, with the fixed
# point's $\lambda$ marked.

# %%
alphas = torch.logspace(-6, 4, 201, dtype=torch.float64) * fit.weight_precision
scores = torch.tensor([log_evidence(phi, y, float(a), fit.noise_precision) for a in alphas])
lambdas = torch.tensor([matching_decay(float(a), fit.noise_precision, n) for a in alphas])
best = int(scores.argmax())
ratio = float(lambdas[best]) / lam
print(
    f"grid maximum at lambda = {float(lambdas[best]):.4g}; fixed point lambda = {lam:.4g} (ratio {ratio:.3f})"
)
spacing = float(alphas[1] / alphas[0]) - 1
print(f"grid spacing: {spacing:.1%} per step")
assert abs(ratio - 1) < spacing
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
# (asserted). The evidence penalizes both extremes: a large $\lambda$ (a tight prior)
# cannot explain the data, and a small one spreads prior mass over functions the data
# rule out, the automatic Occam factor of the Bayesian model comparison.
