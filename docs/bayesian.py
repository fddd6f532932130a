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
# # A Bayesian perspective
#
# Harvey, Petrov and Hughes's post *A Bayesian Perspective of Weight Decay in PyTorch*
# ([reference](references.html#source-blog)) makes two claims and checks them on a small
# network: `torch.optim.SGD(weight_decay=λ)` is the same as adding
# $\frac{\lambda}{2}\lVert\theta\rVert^2$ to the loss, and both are maximum a posteriori
# (MAP) estimation under a Gaussian prior. This page derives the second claim with
# every step justified, says under which conditions it holds, and repeats the post's
# experiment with seeds, in float32 and float64. (The post accompanies the authors'
# paper on informative priors for transfer learning,
# [Harvey, Petrov and Hughes, 2024](references.html#harvey2024); the standard textbook
# treatment of the Gaussian prior as a quadratic regularizer is
# [Bishop, 2006, §3.3 and §5.5](references.html#bishop2006).)
#
# Three points where this page departs from the post:
#
# * the post's derivation chains "proportional to" from the posterior density straight
#   to negative logarithms, which is not a proportionality (a logarithm turns a
#   constant factor into an added constant, and the sign flips a maximum into a
#   minimum); below, each line is an equality or an argmin statement;
# * the post calls $\tau$ a precision while its code and algebra use it as the prior
#   variance; here $\tau$ is the variance and the precision is $1/\tau = N\lambda$;
# * the post reads the MSE plus the penalty as a MAP objective without naming a noise
#   model. With Gaussian noise of variance $\sigma^2$, the mean negative log-likelihood
#   is $\text{MSE}/(2\sigma^2)$ plus a constant: the MSE equals it up to that additive
#   constant exactly when $\sigma^2 = 1/2$, and for any other $\sigma^2$ is proportional
#   to it once the constant is removed, and the decay that matches a prior of variance
#   $\tau$ is then $\lambda = 2\sigma^2/(N\tau)$ rather than $1/(N\tau)$. The other
#   claim, that the penalty in the loss, `SGD(weight_decay=λ)` and minus $1/N$ times the
#   log-prior are the same algorithm, needs no noise model at all: all three produce the
#   gradient $\nabla\text{MSE} + \lambda\theta$ whatever the MSE stands for. Only the
#   MAP reading depends on the noise.

# %% [markdown]
# ## MAP estimation, step by step
#
# Let the training set be $\mathcal{D} = \{(x_i, y_i)\}_{i=1}^{N}$, the model
# $f_\theta$ with $D$ parameters, and the prior $p(\theta)$.
#
# **1. Bayes' rule.** $p(\theta \mid \mathcal{D}) = p(\mathcal{D} \mid \theta)\,p(\theta)
# / p(\mathcal{D})$, and $p(\mathcal{D})$ does not depend on $\theta$. So the MAP
# estimate is
# $\hat\theta_{\text{MAP}} = \arg\max_\theta\, p(\mathcal{D} \mid \theta)\,p(\theta)$.
#
# **2. Logarithm.** $\log$ is strictly increasing, so it does not move the maximizer:
# $\hat\theta_{\text{MAP}} = \arg\max_\theta \big[\log p(\mathcal{D} \mid \theta) +
# \log p(\theta)\big]$.
#
# **3. Scale and sign.** Multiplying by the negative constant $-1/N$ turns the
# maximizer into a minimizer and leaves it where it is:
#
# $$\hat\theta_{\text{MAP}} = \arg\min_\theta
# \Big[-\frac{1}{N}\log p(\mathcal{D} \mid \theta) - \frac{1}{N}\log p(\theta)\Big].$$
#
# **4. Likelihood.** Assume $y_i = f_\theta(x_i) + e_i$ with independent
# $e_i \sim \mathcal{N}(0, \sigma^2)$. Then
# $\log p(\mathcal{D} \mid \theta) = \sum_i \log p(y_i \mid x_i, \theta)$ and
#
# $$-\frac{1}{N}\log p(\mathcal{D} \mid \theta)
# = \frac{1}{2\sigma^2}\cdot\frac{1}{N}\sum_{i=1}^{N}\big(y_i - f_\theta(x_i)\big)^2 +
# \frac{1}{2}\log(2\pi\sigma^2).$$
#
# This is the mean squared error plus a constant exactly when $2\sigma^2 = 1$, that is
# $\sigma^2 = 1/2$. For any other noise variance it is the MSE times
# $1/(2\sigma^2)$, plus a constant: proportional to the MSE once the constant is
# removed, so it has the same minimizers, but adding a penalty to it is not the same as
# adding that penalty to the MSE.
#
# **5. Prior.** Take $\theta \sim \mathcal{N}(0, \tau I_D)$, density
# $p(\theta) = (2\pi\tau)^{-D/2}\exp\!\big(-\lVert\theta\rVert^2/(2\tau)\big)$. Its
# logarithm is an equality, not a proportionality:
#
# $$-\frac{1}{N}\log p(\theta) = \frac{1}{2N\tau}\lVert\theta\rVert^2 +
# \frac{D}{2N}\log(2\pi\tau).$$
#
# **6. Matching the penalty.** With $\sigma^2 = 1/2$ the bracket of step 3 is
# $\text{MSE}(\theta) + \frac{1}{2N\tau}\lVert\theta\rVert^2 + \text{const}$, and the
# constant does not move the minimizer. It equals the weight-decay objective
# $\text{MSE}(\theta) + \frac{\lambda}{2}\lVert\theta\rVert^2$ (up to that constant)
# exactly when
#
# $$\frac{1}{2N\tau} = \frac{\lambda}{2} \iff \tau = \frac{1}{N\lambda}
# \qquad(\text{prior precision } 1/\tau = N\lambda).$$
#
# For a general noise variance the same steps give
# $\frac{1}{2\sigma^2}\big[\text{MSE} + \frac{2\sigma^2}{N\tau}\cdot\frac{1}{2}\lVert\theta\rVert^2\big]$
# plus a constant, and the positive factor $1/(2\sigma^2)$ does not move the minimizer:
# the MAP problem is weight decay with $\lambda = 2\sigma^2/(N\tau)$
# (`weightdecay.prior.decay_from_noise`), measured [below](#other-noise-variances).
#
# **What $N$ is.** The count that step 3 divides by, which must be the count the loss
# averages over. For the post's network, one output per example, $N = n = 60$. For the
# first source's regression the MSE averages over $n k = 100\cdot 3 = 300$ entries, and
# with independent noise on each entry the likelihood has 300 factors, so $N = 300$,
# not 100.
#
# The package states each piece as a function (`weightdecay.prior.gaussian_nll`,
# `scaled_negative_log_prior`, `l2_penalty`, `prior_variance`); the next cell measures
# steps 4 to 6 at a seeded parameter vector of the network below: each identity
# computed both ways, autograd's gradients against $\lambda\theta$, and the relative
# difference checked against its bound.

# %%
import copy
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown

from weightdecay import (
    Net,
    l2_penalty,
    make_clusters,
    make_regression_split,
    prior,
    relative_error,
)
from weightdecay.claims import TOLERANCES, check
from weightdecay.data import derive_seed

f64 = torch.float64
data = make_clusters(seed=0, dtype=f64)
lam, n = 0.01, data.y.numel()
tau = prior.prior_variance(lam, n)
first_source = make_regression_split(seed=0)
print(check("N, the entries the MSE averages over", n, equals=60, origin="60 inputs, one output"))
print(check("the first source's MSE averages over n k entries", first_source.y_train.numel(),
            equals=100 * 3, origin="100 rows of 3 targets"))  # fmt: skip
print(
    f"N = {n}, lambda = {lam}: tau = 1/(N lambda) = {tau:.6f}, precision N lambda = {1 / tau:.2f}"
)

point = Net(seed=derive_seed(0, "derivations"), dtype=f64)  # a seeded parameter vector
params = list(point.parameters())
D = sum(p.numel() for p in params)
lam_theta = [lam * p.detach() for p in params]  # the gradient the derivation predicts
penalty_grad = torch.autograd.grad(l2_penalty(params, lam), params)
prior_term = prior.scaled_negative_log_prior(params, lam, n)  # -(1/N) log N(theta | 0, tau I)
prior_grad = torch.autograd.grad(prior_term, params)
with torch.no_grad():
    pred = point(data.features)
    mse = (pred - data.y).pow(2).mean()
    nll = prior.gaussian_nll(pred, data.y, 0.5)  # step 4 at sigma^2 = 1/2
    # step 5: (lambda/2)|theta|^2 + D/(2N) log(2 pi tau)
    penalty_plus_constant = l2_penalty(params, lam) + D / (2 * n) * math.log(2 * math.pi * tau)


def scalar_error(a: torch.Tensor | float, b: torch.Tensor | float) -> float:
    """|a - b| / |b| for two numbers."""
    return abs(float(a) - float(b)) / abs(float(b))


print(check("Gaussian NLL at variance 1/2 vs MSE + log(pi)/2 (relative)",
            scalar_error(nll, mse + 0.5 * math.log(math.pi)), below=TOLERANCES["nll_mse"],
            dtype=f64))  # fmt: skip
print(check("-(1/N) log prior vs penalty + constant (relative)",
            scalar_error(prior_term.detach(), penalty_plus_constant), below=TOLERANCES["prior_penalty"],
            dtype=f64))  # fmt: skip
print(check("prior gradient vs lambda theta (relative)", relative_error(prior_grad, lam_theta),
            below=TOLERANCES["prior_gradient"], dtype=f64))  # fmt: skip
print(check("penalty gradient: autograd vs lambda theta (relative)",
            relative_error(penalty_grad, lam_theta), below=TOLERANCES["penalty_gradient"],
            dtype=f64))  # fmt: skip

# %% [markdown]
# ## Other noise variances
#
# The data below are drawn with noise of standard deviation 0.5, so their noise
# variance is not the $1/2$ of the MSE's reading. The next cell measures steps 4 and 6
# for other variances, with independent code on each side of each equation:
#
# * the mean negative log-likelihood, from `torch.distributions.Normal`, against
#   $\text{MSE}/(2\sigma^2) + \frac{1}{2}\log(2\pi\sigma^2)$, at the seeded parameter
#   vector of the table above, for the data's $\sigma^2$ and two more. Both sides add
#   $N$ positive terms, rounded differently, so they can differ by about $N$ machine
#   epsilons $\varepsilon$, plus a few for the logarithm and the division: the bound is
#   $(N + 4)\varepsilon$;
# * for a model linear in its parameters, $f_\theta(x) = \theta_1 x + \theta_2 x^2 +
#   \theta_3$, where each minimizer is the solution of one linear system: the MAP
#   estimate under the data's $\sigma^2$ and the prior variance $\tau = 1/(N\lambda)$
#   of the experiment, found by one Newton step on minus the log-posterior built from
#   `torch.distributions` (exact for a quadratic), against the minimizer of
#   $\text{MSE} + \frac{\lambda}{2}\lVert\theta\rVert^2$ from its normal equations
#   $(\Phi^\top\Phi + \frac{N\lambda}{2}I)\theta = \Phi^\top y$. Solving a linear
#   system for $D$ unknowns by a backward-stable method perturbs the solution by at most
#   about $D\,\kappa\,\varepsilon$, with $\kappa$ the condition number of its matrix, so
#   that is the bound ($D = 3$ here).


# %%
eps64 = torch.finfo(f64).eps
sigma2 = data.noise**2  # the noise variance the data were drawn with
print(check("the data's noise standard deviation", data.noise, equals=0.5,
            origin="make_clusters"))  # fmt: skip
variances = (sigma2, 1.0, 2.0)  # none is the MSE's 1/2
with torch.no_grad():
    nll_errors = []
    for variance in variances:
        # $$-\frac{1}{N}\sum_i\log\mathcal{N}(y_i \mid f_\theta(x_i), \sigma^2)$$
        noise = torch.distributions.Normal(pred, math.sqrt(variance))
        nll = -noise.log_prob(data.y).mean()  # type: ignore[no-untyped-call]
        # $$\frac{\text{MSE}}{2\sigma^2} + \frac{1}{2}\log(2\pi\sigma^2)$$
        affine = mse / (2 * variance) + 0.5 * math.log(2 * math.pi * variance)
        nll_errors.append(scalar_error(nll, affine))

lam_map, lam_half = prior.decay_from_noise(sigma2, tau, n), 1 / (n * tau)
phi = torch.cat([data.features, torch.ones(n, 1, dtype=f64)], dim=1)
target, d = data.y[:, 0], phi.shape[1]


def neg_log_posterior(theta: torch.Tensor) -> torch.Tensor:
    """Minus (1/N) the log-posterior of the linear model, from torch.distributions."""
    noise = torch.distributions.Normal(phi @ theta, math.sqrt(sigma2))
    gaussian_prior = torch.distributions.Normal(torch.zeros_like(theta), math.sqrt(tau))
    likelihood: torch.Tensor = noise.log_prob(target).sum()  # type: ignore[no-untyped-call]
    log_prior: torch.Tensor = gaussian_prior.log_prob(theta).sum()  # type: ignore[no-untyped-call]
    return -(likelihood + log_prior) / n


start = torch.zeros(d, dtype=f64)
grad_at_start = torch.autograd.functional.jacobian(neg_log_posterior, start)  # type: ignore[no-untyped-call]
hess = torch.autograd.functional.hessian(neg_log_posterior, start)  # type: ignore[no-untyped-call]
theta_map = start - torch.linalg.solve(hess, grad_at_start)  # one Newton step: exact here


def penalty_minimizer(decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimizer of MSE + (decay/2)|theta|^2, and the matrix of its normal equations."""
    system = phi.T @ phi + n * decay / 2 * torch.eye(d, dtype=f64)
    return torch.linalg.solve(system, phi.T @ target), system


theta_pen, system = penalty_minimizer(lam_map)
kappa = torch.linalg.cond(system).item()
map_error = relative_error(theta_map, theta_pen)
miss = relative_error(penalty_minimizer(lam_half)[0], theta_map)
nll_bound = (n + 4) * eps64  # N roundings of a mean of N positive terms, 4 for log and division
solve_bound = d * kappa * eps64  # a backward-stable solve for D = d unknowns: D kappa eps
print(check(f"mean Gaussian NLL vs MSE/(2σ²) + ½ log(2πσ²), largest over σ² in {variances} "
            "(relative)", max(nll_errors), below=nll_bound, dtype=f64,
            origin=f"(N + 4) ε, N = {n}"))  # fmt: skip
print(check(f"MAP estimate (σ² = {sigma2:g}, τ = {tau:.4f}) vs the minimizer of "
            "MSE + (λ/2)‖θ‖² at λ = 2σ²/(Nτ) (relative)", map_error, below=solve_bound,
            dtype=f64, origin=f"D κ ε, D = {d}, κ = {kappa:.0f}"))  # fmt: skip
# The sigma^2 = 1/2 reading's decay, 1/(N tau), is a different problem: it misses the MAP
# estimate by more than the rounding bound of the solve.
print(check("the minimizer at λ = 1/(Nτ) vs the MAP estimate (relative)", miss,
            above=solve_bound, dtype=f64, origin=f"D κ ε, D = {d}, κ = {kappa:.0f}"))  # fmt: skip
Markdown(
    f"For the data's $\\sigma^2 = {sigma2:g}$ and $\\tau = {tau:.6f}$, the MAP estimate is "
    f"weight decay with $\\lambda = 2\\sigma^2/(N\\tau) = {lam_map:g}$ "
    f"({lam_map / lam_half:g} times the $1/(N\\tau) = {lam_half:g}$ of the $\\sigma^2 = 1/2$ "
    f"reading); the minimizer at $\\lambda = {lam_half:g}$ differs from it by {miss:.2e} "
    f"(relative), far outside the rounding bound (checked above)."
    + (
        " The negative log-likelihoods agreed with the MSE's affine function to the last bit "
        "at every variance, so the measured value is 0: the bound is a worst case."
        if max(nll_errors) == 0
        else ""
    )
)

# %% [markdown]
# ## The data
#
# As in the post: 20 evenly spaced inputs in each of $[-10, -6]$, $[-2, 2]$ and
# $[6, 10]$, features $[x, x^2]$, and targets from a randomly initialized network of the
# same architecture plus $\mathcal{N}(0, 0.5^2)$ noise. Here the labelling network and
# the noise come from the seed.


# %%
intervals = [(-10.0, -6.0), (-2.0, 2.0), (6.0, 10.0)]
expected_x = torch.cat([torch.linspace(lo, hi, 20, dtype=f64) for lo, hi in intervals])
print(check("the inputs are 20 evenly spaced points in each interval",
            torch.equal(data.x, expected_x), equals=True, origin="the post's data"))  # fmt: skip
print(check("the features are [x, x^2]",
            torch.equal(data.features, torch.stack([data.x, data.x**2], dim=1)), equals=True,
            origin="the post's data"))  # fmt: skip
fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
ax.scatter(data.x, data.y[:, 0], color="tab:red", s=16)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title(f"training data, n = {data.n}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Three ways to apply the same decay
#
# The network is `Net`, $2\to10\to10\to10\to1$ with ReLUs, $D = 261$ parameters, and
# the decay acts on all of them, biases included, as in the post. From one saved
# initialization, the function `train` below trains three copies by full-batch gradient
# descent, 1000 epochs, $\eta = \lambda = 10^{-2}$:
#
# 1. **penalty**: loss $\text{MSE} + \frac{\lambda}{2}\lVert\theta\rVert^2$ through
#    autograd (`l2_penalty`), plain `SGD`;
# 2. **sgd**: loss MSE, and `SGD(weight_decay=λ)` adds $\lambda\theta$ to the gradient;
# 3. **prior**: loss $\text{MSE} - \frac{1}{N}\sum_j\log\mathcal{N}(\theta_j \mid 0, \tau)$
#    with $\tau = 1/(N\lambda)$ through `torch.distributions.Normal`
#    (`scaled_negative_log_prior`), plain `SGD`.
#
# All three have the gradient $\nabla\text{MSE} + \lambda\theta$; they differ only in how
# its computation is rounded. The three forms differ in one line each of `train`: the
# optimizer's `weight_decay`, and the term added to the loss.

# %%
THREE_FORMS = {
    "penalty": "from scratch (penalty in the loss)",
    "sgd": "PyTorch (SGD weight_decay)",
    "prior": "Bayesian (Gaussian prior)",
}


def train(form, model, data, lr, weight_decay, epochs, track=5):
    """Full-batch gradient descent on `model`, in place, with decay applied as `form`.

    Returns the training MSE before each step and the parameters after the first `track`.
    """
    decay_in_sgd = weight_decay if form == "sgd" else 0.0
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=decay_in_sgd)
    losses, steps = [], []
    for _ in range(epochs):
        optimizer.zero_grad()
        mse = (model(data.features) - data.y).pow(2).mean()
        loss = mse  # "sgd": SGD adds lambda theta to the gradient
        if form == "penalty":
            loss = mse + l2_penalty(model.parameters(), weight_decay)
        elif form == "prior":
            loss = mse + prior.scaled_negative_log_prior(
                model.parameters(), weight_decay, data.y.numel()
            )
        losses.append(mse.item())
        loss.backward()
        optimizer.step()
        if len(steps) < track:
            steps.append(torch.nn.utils.parameters_to_vector(model.parameters()).detach())
    return losses, steps


def run(seed, dtype, forms=THREE_FORMS, lr=1e-2, weight_decay=1e-2, epochs=1000):
    """Each form trained from one initialization; its losses, steps, model and predictions."""
    data = make_clusters(seed=seed, dtype=dtype)
    init = Net(seed=derive_seed(seed, "init"), dtype=dtype)
    grid = torch.linspace(-10.0, 10.0, 100, dtype=f64).to(dtype)
    result = {}
    for form in forms:
        model = copy.deepcopy(init)
        losses, steps = train(form, model, data, lr, weight_decay, epochs)
        with torch.no_grad():
            fit = model(torch.stack([grid, grid**2], dim=1))[:, 0]
        result[form] = {"losses": losses, "steps": steps, "model": model, "fit": fit}
    return data, grid, result


DTYPES = (f64, torch.float32)
experiments = {dtype: run(seed=0, dtype=dtype) for dtype in DTYPES}
runs = {dtype: forms for dtype, (_, _, forms) in experiments.items()}
_, grid, r64 = experiments[f64]
print(check("D, the parameters of Net", D, equals=261, origin="(2 + 1)·10 + 2·(10 + 1)·10 + 11"))
print(f"N = {n}, tau = {tau:.6f}, epochs = {len(r64['sgd']['losses'])}")

# %% [markdown]
# The training MSE of the first five epochs, measured before each step, in both dtypes
# and all three forms (the post prints stale values from an earlier run; these are
# this build's):

# %%
first_losses = pd.DataFrame(
    {
        f"{form}, {str(dt)[6:]}": runs[dt][form]["losses"][:5]
        for dt in DTYPES
        for form in THREE_FORMS
    }
)
first_losses.insert(0, "epoch", range(5))
first_losses.style.format("{:.6f}", subset=first_losses.columns[1:]).hide(axis="index")

# %% [markdown]
# ## The trajectories, step by step
#
# After each of the first five steps, the parameter vectors of the penalty and prior
# forms are compared with the `SGD(weight_decay)` form: largest absolute difference
# (0 means bitwise identical) and norm-wise relative difference. The post compares
# gradients with a norm; comparing the parameters after each step compares the same
# thing, scaled by the learning rate, and also catches a difference in the update.

# %%
rows = []
for dt in DTYPES:
    steps = {form: runs[dt][form]["steps"] for form in THREE_FORMS}
    for step, (pen, sgd, pri) in enumerate(zip(*steps.values(), strict=True), start=1):
        rows.append({"step": step, "dtype": str(dt)[6:],
                     "penalty vs sgd: max abs": (pen - sgd).abs().max().item(),
                     "penalty vs sgd: relative": relative_error(pen, sgd),
                     "prior vs sgd: max abs": (pri - sgd).abs().max().item(),
                     "prior vs sgd: relative": relative_error(pri, sgd)})  # fmt: skip
trajectories = pd.DataFrame(rows)
exact_zero = lambda v: "0" if v == 0 else f"{v:.2e}"  # noqa: E731
trajectories.style.format(exact_zero, subset=trajectories.columns[2:]).hide(axis="index")

# %% [markdown]
# Why the penalty form matches `SGD(weight_decay)` so closely, and why not always to
# the last bit. Autograd computes the penalty's gradient as $(\lambda/2)\cdot 2\theta$;
# multiplying by 2 or by 1/2 is exact in binary floating point, so it produces the
# correctly rounded $\lambda\theta$ and then adds it to the data gradient $g$: two
# roundings, $\mathrm{fl}(g + \mathrm{fl}(\lambda\theta))$. The optimizer forms the same
# sum with `g.add(theta, alpha=λ)`, and PyTorch's vectorized CPU kernel may evaluate it
# as a fused multiply-add, $\mathrm{fl}(g + \lambda\theta)$ with a single rounding. The
# two results differ by at most one and a half units of rounding of the operands,
# $\varepsilon\,(|g| + |\lambda\theta|)$ with $\varepsilon$ the machine epsilon (half a unit
# for each of the three roundings), and only on entries where the first rounding
# matters. The second source reports exactly 0.0; whether a given build does depends
# on the data and on the kernel, so the claim checked below is agreement to within
# about 8 units of rounding over the first five steps (the bounds in the table). Over
# many steps such differences can add up, so the final parameters are compared with a
# tolerance that grows with the number of steps (the table gives it). What this
# machine's kernel does on random vectors, in those units ($\varepsilon = 2^{-52}$,
# float64):


# %%
fma_demo = torch.Generator().manual_seed(0)
lam_demo = lam  # the experiment's lambda
g_demo, theta_demo = torch.randn(2, 100_000, dtype=f64, generator=fma_demo)
fused = g_demo.add(theta_demo, alpha=lam_demo)  # the optimizer's form
rounded_twice = g_demo + lam_demo * theta_demo  # the penalty's form
differ = int((fused != rounded_twice).sum())
unit = eps64 * (g_demo.abs() + (lam_demo * theta_demo).abs())
ulps = ((fused - rounded_twice).abs() / unit).max()
print(check("the unit of rounding, float64", eps64, equals=2.0**-52, origin="IEEE 754 binary64"))
print(check("g + λθ: fused against rounded twice, in units of rounding", ulps, at_most=1.5,
            origin="three half-unit roundings"))  # fmt: skip
bitwise = {
    str(dt)[6:]: all(torch.equal(a, b) for a, b in zip(runs[dt]["penalty"]["steps"],
                                                         runs[dt]["sgd"]["steps"], strict=True))
    for dt in DTYPES
}  # fmt: skip
Markdown(
    f"{differ:,} of {g_demo.numel():,} entries of $g + \\lambda\\theta$ with "
    f"$\\lambda = {lam_demo:g}$ (float64) differ between the "
    f"two forms, by at most {float(ulps):.2f} units of rounding. In this build the first "
    f"five steps of the experiment were "
    + " and ".join(
        f"{'bitwise identical' if same else 'not bitwise identical'} in {name}"
        for name, same in bitwise.items()
    )
    + "."
)

# %% [markdown]
# All claims of the experiment, with their bounds: the largest relative difference over
# the first five steps, and the final parameters of every pair of forms.

# %%
final = {dt: {form: torch.nn.utils.parameters_to_vector(runs[dt][form]["model"].parameters())
              for form in THREE_FORMS} for dt in DTYPES}  # fmt: skip


def largest_step_difference(dtype, form, reference="sgd"):
    """The largest relative difference of two forms' parameters over the tracked steps."""
    pairs = zip(runs[dtype][form]["steps"], runs[dtype][reference]["steps"], strict=True)
    return max(relative_error(a, b) for a, b in pairs)


for dt in DTYPES:
    p, s, q = final[dt]["penalty"], final[dt]["sgd"], final[dt]["prior"]
    print(check("penalty vs SGD(weight_decay): relative error, first 5 steps",
                largest_step_difference(dt, "penalty"), below=TOLERANCES["penalty_steps"], dtype=dt))  # fmt: skip
    print(check("prior vs SGD(weight_decay): relative error, first 5 steps",
                largest_step_difference(dt, "prior"), below=TOLERANCES["prior_steps"], dtype=dt))  # fmt: skip
    print(check("penalty vs SGD(weight_decay): final parameters, 1000 epochs",
                relative_error(p, s), below=TOLERANCES["final"], dtype=dt))  # fmt: skip
    print(check("prior vs SGD(weight_decay): final parameters, 1000 epochs",
                relative_error(q, s), below=TOLERANCES["final"], dtype=dt))  # fmt: skip
    print(check("prior vs penalty: final parameters, 1000 epochs",
                relative_error(q, p), below=TOLERANCES["final"], dtype=dt))  # fmt: skip

# %% [markdown]
# The wall-clock time of each form's 1000-epoch loop is measured on
# [What decay costs](decay-cost.html#the-second-sources-three-forms-timed), with the
# other timings of the site, where nothing else runs beside it.

# %% [markdown]
# ## The fitted functions
#
# Predictions of the three trained networks on 100 points of $[-10, 10]$, float64, over
# the data. The three panels are the same function up to the differences checked
# above.


# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), dpi=100, sharey=True)
for ax, (form, label) in zip(axes, THREE_FORMS.items(), strict=True):
    ax.scatter(data.x, data.y[:, 0], color="tab:red", s=12, label="data")
    ax.plot(grid, r64[form]["fit"], color="tab:blue", lw=3, label="fit")
    ax.set_title(label)
    ax.set_xlabel("x")
axes[0].set_ylabel("y")
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# On one set of axes the three fits cannot be told apart: each line is drawn over the
# previous one, thinner, and all three show along their whole length.

# %%
fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
ax.scatter(data.x, data.y[:, 0], color="tab:red", s=12, label="data")
for (form, label), width, style in zip(
    THREE_FORMS.items(), (6, 3, 1.2), ("-", "-", "--"), strict=True
):
    ax.plot(grid, r64[form]["fit"], lw=width, ls=style, label=label)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend()
fig.tight_layout()
plt.show()

# %% tags=["hide"]
# The site's home page shows this figure.
FIGURES = Path("build/figures")
FIGURES.mkdir(parents=True, exist_ok=True)
fig.savefig(FIGURES / "three-forms.svg", metadata={"Date": None})

# %% [markdown]
# ## What the loss curve shows
#
# The equivalence above concerns how decay is applied, not how well the network fits,
# and with this seed the fit is poor. The first step overshoots: the feature $x^2$
# reaches 100, so the loss is steep in the first layer's weights and a step of
# $10^{-2}$ is large there. The training MSE jumps by two orders of magnitude within the
# first steps, and after 1000 epochs it is still above its starting value and several
# times the noise variance $0.5^2$ (the figures below; checked: above its start, and
# more than four times the noise variance). All three forms follow the same curve: at
# every epoch their losses agree to within the tolerance of the final parameters in the
# table above (checked).


# %%
losses = {form: r64[form]["losses"] for form in THREE_FORMS}
first = losses["sgd"]
noise_variance = data.noise**2
print(check("the feature x^2 reaches", data.features[:, 1].max(), equals=100,
            origin="the largest input, 10"))  # fmt: skip
print(check("the MSE's jump within the first 5 steps, over its start", max(first[:5]) / first[0],
            above=100, origin="two orders of magnitude"))  # fmt: skip
print(check("the MSE after 1000 epochs, over its start", first[-1] / first[0], above=1,
            origin="above its starting value"))  # fmt: skip
print(check("the MSE before step 1, over the noise variance", first[0] / noise_variance,
            above=1, origin="above the noise variance"))  # fmt: skip
print(check("the MSE after 1000 epochs, over the noise variance", first[-1] / noise_variance,
            above=4, origin="several times the noise variance"))  # fmt: skip
# "The same curve": the largest relative difference of any form's loss from the sgd
# form's, over all epochs. Bound: the final parameters' tolerance, 2 sqrt(S) eps for
# S = 1000 steps (the losses are computed from parameters that differ by that rounding).
curve_gap = max(
    abs(a - b) / b
    for form in ("penalty", "prior")
    for a, b in zip(losses[form], first, strict=True)
)
print(check("the forms' training MSE against the sgd form's, every epoch (relative)", curve_gap,
            below=TOLERANCES["final"], dtype=f64))  # fmt: skip
print(
    f"MSE before step 1: {first[0]:.4f}, largest: {max(first):.4f}, after {len(first)} epochs: "
    f"{first[-1]:.4f} ({first[-1] / noise_variance:.1f} times the noise variance)"
)
fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
for form, curve in losses.items():
    ax.plot(range(1, len(curve) + 1), curve, lw=1.5, label=THREE_FORMS[form])
ax.axhline(noise_variance, color="grey", ls=":", label="noise variance")
ax.set_yscale("log")
ax.set_xscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training MSE")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Is seed 0 typical?
#
# Seed 0 is the package's default and was not chosen for this page. Running the same
# experiment (the `SGD(weight_decay)` form, float64) for seeds 0 to 7 shows how
# unrepresentative it is. The table also counts, per hidden layer, the ReLU units that
# output zero on all 60 training inputs after training (`Net.dead_units`): such a unit
# passes no gradient back and stays off.


# %%
sweep = {seed: run(seed=seed, dtype=f64, forms=("sgd",)) for seed in range(8)}
rows = []
for seed, (seed_data, _, result) in sweep.items():
    curve = result["sgd"]["losses"]
    rows.append({"seed": seed, "MSE before step 1": curve[0],
                 "largest MSE, first 5 steps": max(curve[:5]), "MSE after 1000 epochs": curve[-1],
                 "dead units per hidden layer": result["sgd"]["model"].dead_units(seed_data.features)})  # fmt: skip
seeds = pd.DataFrame(rows)
final_mse = dict(zip(seeds["seed"], seeds["MSE after 1000 epochs"], strict=True))
others = [mse for seed, mse in final_mse.items() if seed != 0]
print(check("seed 0's final MSE against the largest of the 8 seeds'", final_mse[0],
            equals=max(final_mse.values()), origin="seed 0 ends worst"))  # fmt: skip
print(check("every other seed's final MSE", max(others), below=2 * noise_variance,
            origin="twice the noise variance"))  # fmt: skip
seeds.style.format("{:.3f}", subset=seeds.columns[1:4]).hide(axis="index")

# %% [markdown]
# Every other seed ends below twice the noise variance (checked above); their fitted
# curves, over the data:

# %%
fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), dpi=100)
for ax, (seed, (seed_data, seed_grid, result)) in zip(axes.flat, sweep.items(), strict=True):
    ax.scatter(seed_data.x, seed_data.y[:, 0], color="tab:red", s=6)
    ax.plot(seed_grid, result["sgd"]["fit"], color="tab:blue", lw=2)
    ax.set_title(f"seed {seed}: MSE {final_mse[seed]:.3f}", fontsize=10)
fig.tight_layout()
plt.show()
