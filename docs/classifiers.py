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
# # Weight decay for classifiers
#
# The other pages use the squared error. Most models are trained with the cross-entropy
# instead, and this page redoes the derivations for it: L2-regularized logistic
# regression (two classes) and softmax regression (three or more), written from scratch
# with a hand-derived gradient, checked step by step against a `torch.nn` twin with
# `SGD(weight_decay=λ)`, and at the optimum against scikit-learn's `LogisticRegression`
# ([Pedregosa et al., 2011](references.html#pedregosa2011)); the derivations follow
# [Bishop, 2006, §4.3](references.html#bishop2006). Then it reads the same
# objective as a posterior, and looks at what decay does to decision boundaries and to
# the confidence of predictions.
#
# ## The objective
#
# A linear classifier computes logits $Z = XW + \mathbf{1}b^\top$ for the rows of
# $X \in \mathbb{R}^{m\times d}$. With two classes there is one logit per row and
# $p_i = \operatorname{sigmoid}(z_i) = 1/(1 + e^{-z_i})$ is the probability of class 1; with $K \ge 3$
# classes there are $K$ logits and $p_{ik} = e^{z_{ik}}/\sum_l e^{z_{il}}$. The loss of row
# $i$ is minus the log-probability of its label $y_i$:
#
# $$\ell_i = \log\bigl(1 + e^{z_i}\bigr) - t_i z_i \ \ (K = 2,\ t_i = y_i),
# \qquad \ell_i = \log\sum_k e^{z_{ik}} - z_{iy_i}\ \ (K \ge 3),$$
#
# and weight decay adds the penalty on $W$ alone, the bias free as on the other pages:
#
# $$J(W, b) = \frac{1}{m}\sum_{i=1}^{m}\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2 .$$
#
# **The gradient.** For the softmax, $\partial\log\sum_l e^{z_{il}}/\partial z_{ik}
# = e^{z_{ik}}/\sum_l e^{z_{il}} = p_{ik}$ and $\partial z_{iy_i}/\partial z_{ik} = [k = y_i]$,
# so $\partial\ell_i/\partial z_{ik} = p_{ik} - t_{ik}$ with $t_i$ the one-hot row of
# $y_i$. For one logit, $\frac{\mathrm{d}}{\mathrm{d}z}\log(1 + e^z) = \operatorname{sigmoid}(z)$, so
# $\partial\ell_i/\partial z_i = p_i - t_i$: the same form. The logits are linear in
# $W$ and $b$ ($\partial z_{ik}/\partial w_{jk} = x_{ij}$, $\partial z_{ik}/\partial b_k = 1$),
# and with $\Delta = (P - T)/m$ the chain rule gives
#
# $$\frac{\partial J}{\partial W} = X^\top\Delta + \lambda W,\qquad
# \frac{\partial J}{\partial b} = \Delta^\top\mathbf{1}.$$
#
# This is the gradient of the squared-error page with $P - T$ in place of
# $\hat Y - Y$ (and no factor 2). `weightdecay.cross_entropy.gradient` computes it;
# `ScratchLogisticRegression.step` steps on it.
#
# **The Hessian.** Differentiating $p_{ik} - t_{ik}$ once more, $\partial p_{ik}/\partial z_{il}
# = p_{ik}([k = l] - p_{il})$, the matrix $S_i = \operatorname{diag}(p_i) - p_ip_i^\top$
# (for one logit, $p_i(1 - p_i)$). With $\tilde x_i = (x_i, 1)$ and
# $\Theta = [W;\, b^\top]$,
#
# $$\frac{\partial^2 J}{\partial\Theta_{ak}\,\partial\Theta_{cl}} = \frac{1}{m}\sum_i
# \tilde x_{ia}\tilde x_{ic}(S_i)_{kl} + \lambda\,[a = c \le d]\,[k = l].$$
#
# Each $S_i$ is positive semi-definite, so $J$ is convex, and for $\lambda > 0$ it is
# strictly convex in $W$: the minimizer exists and is unique even when the classes can
# be separated, where without decay the weights would grow without bound. One direction
# stays flat for $K \ge 3$: adding the same constant to every intercept changes no
# probability. Only differences of intercepts are identified, and the comparisons below
# centre them.
#
# Both formulas are checked against autograd on the two tasks of this page: the moons
# (two classes) and three overlapping Gaussian clusters, each with 60 training points and
# 4000 test points, the 2-D points expanded into their 27 monomials of degree at most 6,
# standardized (`weightdecay.planar`).

# %%
import inspect
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

from weightdecay.experiments.classification import (
    calibration_sweep,
    identities,
    log_grid,
    sklearn_parity,
    trajectory_parity,
)
from weightdecay.logistic import fit_logistic, logistic_c
from weightdecay.models.logistic import class_probabilities
from weightdecay.planar import make_task
from weightdecay.prior import prior_variance
from weightdecay.report import TOLERANCES, assert_checks, checks_table, classification_checks

tasks = {name: make_task(name, seed=0) for name in ("moons", "blobs")}
# The sizes the prose states: 60 training and 4000 test points, 27 monomials.
assert all(t.x_train.shape == (60, 27) and t.x_test.shape == (4000, 27) for t in tasks.values())
lambd = 0.01
derived = [identities(task, lambd) for task in tasks.values()]
identity_checks = classification_checks([], [], derived)
assert_checks(identity_checks)
eps = torch.finfo(torch.float64).eps
(two_logit,) = [row for row in derived if row.two_class_softmax is not None]
# Bound: (d + 1) kappa(H) eps, the rounding of an optimum found by Newton's method (its
# last step solves a system with the Hessian H of the one-logit objective, d + 1 unknowns).
softmax_error, softmax_bound = two_logit.two_class_softmax, two_logit.two_class_bound
assert softmax_error is not None and softmax_bound is not None
assert softmax_error < softmax_bound
print(
    f"two-logit softmax vs logistic at lambda/2: {softmax_error:.2e}, "
    f"bound (d + 1) kappa(H) eps = {softmax_bound:.2e}"
)
Markdown(checks_table(identity_checks))

# %% [markdown]
# The first two rows of each task are the derivations above, at a seeded random point
# with $\lambda = 0.01$; the posterior rows are explained [below](#the-bayesian-reading).
# The last moons row is a trap described in the next section.
#
# ## Where it ends up: Newton's method, and scikit-learn's C
#
# $J$ has no closed-form minimizer, but with its gradient and Hessian Newton's method
# $\Theta \leftarrow \Theta - H^{-1}\nabla J$ (`weightdecay.logistic.fit_logistic`, with
# a backtracking line search) converges quadratically: once it is close, each step
# roughly doubles the number of correct digits. The table follows it on the three-class
# task.

# %%
fit = fit_logistic(tasks["blobs"].x_train, tasks["blobs"].y_train, 3, lambd)
rows = ["| iteration | J | largest entry of the gradient |", "| --- | --- | --- |"]
rows += [
    f"| {i} | {value:.15f} | {gmax:.2e} |"
    for i, (value, gmax) in enumerate(zip(fit.objective, fit.gradient_max, strict=True))
]
assert all(later <= earlier for earlier, later in itertools.pairwise(fit.objective))
# The rounding level of the gradient at the optimum: each entry is a sum over the m rows
# of |x_ij| |p_ik - t_ik| / m (plus lambda |w_jk|), which float64 rounds by at most
# m eps times the sum of the magnitudes; twice that allows for the last step's gradient
# and the new one's.
x_b, y_b = tasks["blobs"].x_train, tasks["blobs"].y_train
m_b = x_b.shape[0]
residual = (class_probabilities(x_b @ fit.w + fit.b) - torch.nn.functional.one_hot(y_b, 3)).abs()
magnitude = max(
    (x_b.abs().T @ residual / m_b + lambd * fit.w.abs()).max().item(),
    residual.mean(dim=0).max().item(),
)
floor = 2 * m_b * eps * magnitude
assert fit.gradient_max[-1] < floor
# Quadratic convergence: over the last two steps before the gradient reaches that level,
# -log10 of its largest entry grows by a factor of at least 1.5 per step.
digits = [-math.log10(g) for g in fit.gradient_max if g > floor]
assert len(digits) >= 3
assert all(later >= 1.5 * earlier for earlier, later in itertools.pairwise(digits[-3:]))
Markdown("\n".join(rows))

# %%
Markdown(
    "$J$ never increases (asserted), and the last gradient is at float64 rounding: "
    f"its largest entry, {fit.gradient_max[-1]:.1e}, is below the rounding level of the "
    f"gradient's sums, {floor:.1e} (asserted; twice $m\\varepsilon$ times the largest "
    "sum of magnitudes behind an entry). Over the last two steps before that level, "
    "$-\\log_{10}$ of the largest gradient entry, its number of vanished digits, grew "
    "by a factor of "
    + " and ".join(f"{b / a:.2f}" for a, b in itertools.pairwise(digits[-3:]))
    + " (asserted at least 1.5): quadratic convergence."
)

# %% [markdown]
# **scikit-learn's `C`.** `LogisticRegression` with its default L2 penalty minimizes
# $C\sum_i\ell_i + \frac{1}{2}\lVert W\rVert_F^2$, intercept unpenalized (for every
# solver except liblinear). Dividing by $Cm$ changes no minimizer and leaves
# $\frac{1}{m}\sum_i\ell_i + \frac{1}{2Cm}\lVert W\rVert_F^2$: this is $J$ with
#
# $$C = \frac{1}{m\lambda}$$
#
# (`weightdecay.logistic.logistic_c`). The sum in scikit-learn against the mean here is
# the whole difference, so the same $\lambda$ means a different `C` for each training-set
# size. For the multinomial case scikit-learn uses $K$ columns of weights, as here.
#
# Below, scikit-learn runs its `newton-cholesky` solver with `tol=1e-14`. Besides the
# relative differences, each row reports the largest entry of *our* gradient at
# *scikit-learn's* solution, and a bound on how far a point with that gradient can be
# from the optimum, $\lVert\nabla J\rVert/h_{\min}$ with $h_{\min}$ the smallest eigenvalue of the
# Hessian there (first order; asserted: the distance is below twice the bound).

# %%
assert inspect.signature(sklearn_parity).parameters["tol"].default == 1e-14  # as stated
parities = [sklearn_parity(task, lam) for task in tasks.values() for lam in (1e-4, 1e-2, 1.0)]
# scikit-learn's coefficients have our layout: one column for two classes, K for K >= 3.
assert all(p.coef.shape == p.fit.w.shape for p in parities)
assert {p.coef.shape[1] for p in parities if p.task == "blobs"} == {3}
rows = [
    "| task | λ | C | Newton steps | W: relative difference | b: relative difference "
    "| our gradient at theirs | μ | distance | bound |",
    "|" + " --- |" * 10,
]
for p in parities:
    m = tasks[p.task].x_train.shape[0]
    rows.append(
        f"| {p.task} | {p.lambd:g} | {logistic_c(p.lambd, m):g} | {p.fit.n_iter} "
        f"| {p.error_w:.2e} | {p.error_b:.2e} | {p.sklearn_gradient:.1e} "
        f"| {p.mu:.2e} | {p.distance:.1e} | {p.bound:.1e} |"
    )
    # Twice the first-order bound ||grad J|| / mu, for the second-order terms; plus 1e-14
    # for the rounding of our own optimum, of order eps ||theta*|| (asserted below it).
    assert eps * torch.cat([p.fit.w.flatten(), p.fit.b]).norm().item() < 1e-14, p
    assert p.distance <= 2 * p.bound + 1e-14, p
sk_checks = classification_checks([], parities, [])
assert_checks(sk_checks)
# The pattern described below: on each task the largest relative difference (W or b)
# and the smallest eigenvalue mu both come at the smallest lambda.
for name in tasks:
    by_lambda = sorted((p for p in parities if p.task == name), key=lambda p: p.lambd)
    assert max(by_lambda, key=lambda p: max(p.error_w, p.error_b)) is by_lambda[0], name
    assert min(by_lambda, key=lambda p: p.mu) is by_lambda[0], name
Markdown("\n".join(rows))

# %% [markdown]
# Every difference is below the stated tolerance (norm-wise relative; the table at the
# end of the page lists each with its bound), and every distance is below twice its
# bound (asserted). On each task the largest differences come at the smallest
# $\lambda$, where the Hessian's smallest eigenvalue $h_{\min}$ is smallest (both asserted):
# the same remaining gradient then allows a larger distance, as the bound says.
#
# **Two outputs are not one.** In PyTorch a binary classifier is often an `nn.Linear(d, 2)`
# with `CrossEntropyLoss`: a two-class softmax. Its probabilities depend only on
# $w = w_1 - w_0$ and $b = b_1 - b_0$, but the penalty sees both columns. For a given
# $w$ the penalty $\frac{\lambda}{2}(\lVert w_0\rVert^2 + \lVert w_1\rVert^2)$ is smallest
# at $w_1 = -w_0 = w/2$, where it equals $\frac{\lambda}{4}\lVert w\rVert^2$. So the
# two-output model with `weight_decay=λ` is logistic regression with $\lambda/2$, that is
# scikit-learn's `C = 2/(mλ)`, not `1/(mλ)`. The last moons row of the first table
# measures exactly this (optimum of the two-logit model at $\lambda$ against the
# one-logit model at $\lambda/2$), against the rounding bound of two Newton optima,
# $(d + 1)\,\kappa(H)\,\varepsilon$ with $d + 1$ the one-logit model's parameters,
# $\kappa(H)$ the condition number of its Hessian $H$ at the optimum and $\varepsilon$
# the float64 machine epsilon (asserted; both are printed above the first table).
#
# ## The scratch model against its PyTorch twin, step by step
#
# The twin is `TorchLogisticRegression`: an `nn.Linear` with PyTorch's
# `binary_cross_entropy_with_logits` (one output) or `cross_entropy` ($K$ outputs), and
# `torch.optim.SGD` with `weight_decay=λ` on the weight's group and 0 on the bias's. The
# scratch model copies the twin's initial parameters; both see the same mini-batches of
# 10 rows for 50 epochs ($\eta = 0.5$, $\lambda = 0.01$), and the parameters are compared
# after every step.

# %%
trajectories = [trajectory_parity(task, lambd=lambd, lr=0.5, epochs=50) for task in tasks.values()]
fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
for run in trajectories:
    errors = np.maximum(np.array(run.step_errors), np.finfo(np.float64).tiny)
    ax.semilogy(np.arange(1, len(errors) + 1), errors, label=f"{run.task} (K = {run.n_classes})")
ax.axhline(TOLERANCES["classifier_steps"][torch.float64], color="grey", ls="--", label="tolerance")
ax.set_xlabel("SGD step")
ax.set_ylabel("relative difference (float64)")
ax.legend()
fig.tight_layout()
plt.show()
assert all(len(run.step_errors) == 300 for run in trajectories)  # 50 epochs of 6 batches
step_checks = classification_checks(trajectories, [], [])
assert_checks(step_checks)
# "A few units of float64 rounding": 8 eps at every step, the claim of the prose; the
# tolerance of the table allows for roundings that add up like a random walk over the
# S = 300 steps, sqrt(S n) eps with n roundings a step.
largest_step_error = max(max(run.step_errors) for run in trajectories)
assert largest_step_error < 8 * eps
print(f"largest difference over all steps: {largest_step_error / eps:.2f} eps")
Markdown(checks_table(step_checks))

# %% [markdown]
# The two implementations do not perform the same floating-point operations (PyTorch
# fuses the affine map and computes the loss through `log_softmax`), so they may differ
# by rounding; over 300 steps the differences stay at the level of a few units of
# float64 rounding instead of accumulating (asserted: below $8\varepsilon$ at every step,
# while the tolerance of the table allows for roundings that add up like a random walk
# over the 300 steps).
#
# ## The Bayesian reading
#
# For the squared error, the MAP reading needed an assumption: Gaussian noise of some
# variance $\sigma^2$, under which the mean negative log-likelihood is
# $\text{MSE}/(2\sigma^2)$ plus a constant, so that the matching decay
# $\lambda = 2\sigma^2/(N\tau)$ depends on $\sigma^2$
# ([A Bayesian perspective](bayesian.html)). A classifier needs none. Its outputs are
# already a distribution over labels, a Bernoulli or categorical one, and
# $\log p(y \mid X, W, b) = -\sum_i\ell_i$ exactly, with no noise scale left to choose.
# With the prior $W \sim \mathcal N(0, \tau I)$ and a flat prior on $b$,
#
# $$-\frac{1}{m}\log p(W, b \mid X, y) = \frac{1}{m}\sum_i\ell_i + \frac{1}{2m\tau}\lVert W\rVert_F^2
# + \text{const},$$
#
# which is $J$ when $\tau = 1/(m\lambda)$: the same map as for regression, with $m$
# the number of *rows* (the cross-entropy averages over rows; for multi-output regression
# the MSE averaged over rows times outputs). The posterior rows of the first table
# compute the left side with `torch.distributions.Categorical`/`Bernoulli` and
# `torch.distributions.Normal` (`weightdecay.categorical`) and compare it and its
# gradient with $J$.
#
# What $\tau$ means here: on standardized features, $\sqrt\tau$ is the prior's
# typical change of a logit when one feature moves by one standard deviation. Logits
# are log-odds, so a prior standard deviation of 1 already allows odds to change by a
# factor $e$ per feature; with 27 features and $\tau$ of a few units, the prior permits
# very confident predictions. The table gives $\tau$ and the size of the fitted weights
# on the moons for the $\lambda$ of the figures below.

# %%
lambdas_shown = [1e-5, 1e-3, 1e-1, 1.0]
shown = {name: calibration_sweep(task, lambdas_shown) for name, task in tasks.items()}
fits = {(name, p.lambd): p.fit for name, sweep in shown.items() for p in sweep}
rows = ["| λ | τ = 1/(mλ) | √τ | RMS of the fitted weights | RMS of the test logits "
        "| test points with confidence above 0.99 |",
        "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
rms_weights, rms_logits, certain = [], [], []
for lam in lambdas_shown:
    task, fitted = tasks["moons"], fits["moons", lam]
    tau = prior_variance(lam, task.x_train.shape[0])
    logits = task.x_test @ fitted.w + fitted.b
    rms_weights.append(fitted.w.pow(2).mean().sqrt().item())
    rms_logits.append(logits.pow(2).mean().sqrt().item())
    confidence = class_probabilities(logits).max(dim=1).values
    certain.append((confidence > 0.99).double().mean().item())
    rows.append(
        f"| {lam:g} | {tau:.4g} | {tau**0.5:.3g} | {rms_weights[-1]:.3g} "
        f"| {rms_logits[-1]:.3g} | {certain[-1]:.1%} |"
    )
for column in (rms_weights, rms_logits, certain):
    assert all(later < earlier for earlier, later in itertools.pairwise(column))
assert rms_logits[0] > 10 and certain[0] > 0.5  # "large logits", "most test points"
Markdown("\n".join(rows))

# %% [markdown]
# The fitted weights, the test logits and the share of near-certain test predictions all
# shrink as $\lambda$ grows (asserted). With $\lambda = 10^{-5}$ the prior is so wide
# that it hardly constrains anything, and the logits on test points are large (RMS
# above 10, asserted): most test points get a confidence above 0.99 (asserted).
#
# ## Decision boundaries
#
# Each panel shows the decision boundary (black), the 60 training points, and the
# predicted class as a colour whose strength is the model's confidence (white where
# every class is equally likely), for the moons (top) and the three clusters (bottom)
# at four values of $\lambda$.

# %%
rgb = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17]])
fig, axes = plt.subplots(2, 4, figsize=(12, 6.2), dpi=100)
pale: dict[str, list[float]] = {name: [] for name in tasks}  # share of a panel below 90%
for row, (name, task) in enumerate(tasks.items()):
    points = task.points_train.numpy()
    (x0, y0), (x1, y1) = points.min(axis=0) - 0.6, points.max(axis=0) + 0.6
    grid_x, grid_y = np.meshgrid(np.linspace(x0, x1, 240), np.linspace(y0, y1, 200))
    grid = torch.from_numpy(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    for col, lam in enumerate(lambdas_shown):
        fitted, ax = fits[name, lam], axes[row, col]
        probs = class_probabilities(task.features(grid) @ fitted.w + fitted.b)
        confidence, predicted = probs.max(dim=1)
        # Shade: the predicted class's colour, from white (uniform) to full (certain).
        strength = ((confidence - 1 / task.n_classes) / (1 - 1 / task.n_classes)).numpy()
        pale[name].append(float((strength < 0.9).mean()))
        image = 1 - strength[:, None] * 0.55 * (1 - rgb[predicted.numpy()])
        ax.imshow(
            image.reshape(*grid_x.shape, 3), origin="lower", extent=(x0, x1, y0, y1), aspect="auto"
        )
        ax.contour(
            grid_x,
            grid_y,
            predicted.reshape(grid_x.shape).numpy(),
            levels=np.arange(task.n_classes) + 0.5,
            colors="k",
            linewidths=1,
        )
        ax.scatter(
            points[:, 0],
            points[:, 1],
            c=rgb[task.y_train.numpy()],
            s=14,
            edgecolors="k",
            linewidths=0.4,
        )
        ax.set_title(f"{name}, λ = {lam:g}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# With $\lambda = 10^{-5}$ the boundaries bend around single points to classify the
# training set almost perfectly (the table gives the training accuracy of each panel),
# and the colour is full almost everywhere: certainty right up to the boundary (less
# than a tenth of each panel is shaded below 90% of full strength; asserted, the table
# gives the share). As $\lambda$ grows the boundaries smooth out, and a widening band
# around them is uncertain: the share of each panel shaded below 90% grows with
# $\lambda$ (asserted).

# %%
rows = ["| task | " + " | ".join(f"λ = {lam:g}" for lam in lambdas_shown) + " |",
        "| --- |" + " --- |" * len(lambdas_shown)]  # fmt: skip
for name, sweep in shown.items():
    accuracy = [point.train_accuracy for point in sweep]
    assert accuracy[0] >= 0.95 and accuracy[0] > accuracy[-1], (name, accuracy)
    assert pale[name][0] < 0.1, (name, pale[name])
    assert all(later > earlier for earlier, later in itertools.pairwise(pale[name])), name
    rows.append(
        f"| {name}: training accuracy | " + " | ".join(f"{a:.3f}" for a in accuracy) + " |"
    )
    rows.append(
        f"| {name}: share of the panel below 90% strength | "
        + " | ".join(f"{share:.1%}" for share in pale[name])
        + " |"
    )
Markdown("\n".join(rows))

# %% [markdown]
# Training accuracy is at least 0.95 at the smallest $\lambda$ and lower at the largest
# (asserted): decay gives up training fit for smoothness.
#
# ## Calibration: decay sets the confidence
#
# A classifier is calibrated when, among the predictions made with confidence about
# 0.8, about 80% are right. The reliability diagram bins the test points by confidence
# (largest class probability) and plots each bin's accuracy against its mean confidence;
# the expected calibration error (ECE) is the bins' average gap, weighted by their
# shares ([Naeini, Cooper and Hauskrecht, 2015](references.html#naeini2015);
# [Guo et al., 2017](references.html#guo2017)), here with 10 equal-width bins
# (`weightdecay.calibration`). The sweep fits the optimum for 16 values of $\lambda$
# from $10^{-5}$ to 1 and evaluates each on the 4000 test points.

# %%
grid_lambdas = log_grid(1e-5, 1.0, 3)
assert len(grid_lambdas) == 16 and (grid_lambdas[0], grid_lambdas[-1]) == (1e-5, 1.0)
sweeps = {name: calibration_sweep(task, grid_lambdas) for name, task in tasks.items()}
# 10 equal-width bins, as stated.
assert all(
    torch.equal(p.reliability.edges, torch.linspace(0, 1, 11, dtype=p.reliability.edges.dtype))
    for sweep in sweeps.values()
    for p in sweep
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
for (name, sweep), ls in zip(sweeps.items(), ["-", "--"], strict=True):
    lams = [p.lambd for p in sweep]
    axes[0].semilogx(lams, [p.reliability.ece for p in sweep], ls, marker="o", ms=3, label=name)
    axes[1].semilogx(
        lams,
        [p.mean_confidence for p in sweep],
        ls,
        color="tab:red",
        label=f"{name}: mean confidence",
    )
    axes[1].semilogx(
        lams,
        [p.test_accuracy for p in sweep],
        ls,
        color="tab:blue",
        label=f"{name}: test accuracy",
    )
axes[0].set_xlabel("λ")
axes[0].set_ylabel("expected calibration error (test)")
axes[0].legend()
axes[1].set_xlabel("λ")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

best_lambdas: dict[str, tuple[float, float]] = {}
rows = ["| task | λ with the lowest ECE | its ECE | λ with the lowest test NLL "
        "| λ with the highest test accuracy |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
for name, sweep in sweeps.items():
    confidence = [p.mean_confidence for p in sweep]
    accuracy = [p.test_accuracy for p in sweep]
    assert all(later < earlier for earlier, later in itertools.pairwise(confidence)), name
    assert max(accuracy) - min(accuracy) < (max(confidence) - min(confidence)) / 2, name
    assert sweep[0].mean_confidence > sweep[0].test_accuracy, name  # overconfident
    assert sweep[-1].mean_confidence < sweep[-1].test_accuracy, name  # underconfident
    best_ece = min(sweep, key=lambda p: p.reliability.ece)
    assert best_ece is not sweep[0] and best_ece is not sweep[-1], name
    best_nll = min(sweep, key=lambda p: p.test_nll)
    best_acc = max(sweep, key=lambda p: p.test_accuracy)
    best_lambdas[name] = (best_ece.lambd, best_acc.lambd)
    rows.append(
        f"| {name} | {best_ece.lambd:.3g} | {best_ece.reliability.ece:.3f} "
        f"| {best_nll.lambd:.3g} | {best_acc.lambd:.3g} |"
    )
# "Need not be the one that classifies best": on at least one task the two differ.
assert any(ece_best != acc_best for ece_best, acc_best in best_lambdas.values())
Markdown("\n".join(rows))

# %% [markdown]
# On both tasks the mean confidence falls steadily as $\lambda$ grows (asserted along the
# whole grid), while the test accuracy moves over less than half that range (asserted).
# At the smallest $\lambda$ the models are overconfident (mean confidence above
# accuracy) and at the largest underconfident (below it), both asserted, so the ECE is
# lowest in between (asserted: not at an end of the grid). Decay is therefore a calibration knob as much as a complexity knob. The
# $\lambda$ that calibrates best need not be the one that classifies best; the table
# shows where each criterion puts it.
#
# The reliability diagrams of the three-cluster task at three values of $\lambda$
# show the same thing bin by bin: below the diagonal means overconfident. At the
# smallest $\lambda$ every non-empty bin lies below it, at the largest every one above
# it (both asserted).

# %%
chosen = [grid_lambdas[0], min(sweeps["blobs"], key=lambda p: p.reliability.ece).lambd,
          grid_lambdas[-1]]  # fmt: skip
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), dpi=100, sharey=True)
for ax, lam in zip(axes, chosen, strict=True):
    point = next(p for p in sweeps["blobs"] if p.lambd == lam)
    r = point.reliability
    centres = ((r.edges[:-1] + r.edges[1:]) / 2).numpy()
    filled = (r.counts > 0).numpy()
    ax.bar(
        centres[filled],
        r.accuracy.numpy()[filled],
        width=0.09,
        color="tab:blue",
        alpha=0.7,
        label="accuracy",
    )
    ax.plot(
        r.confidence.numpy()[filled],
        r.accuracy.numpy()[filled],
        "o",
        color="tab:red",
        ms=4,
        label="(confidence, accuracy)",
    )
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_title(f"λ = {lam:.3g}, ECE = {r.ece:.3f}", fontsize=10)
    ax.set_xlabel("confidence")
axes[0].set_ylabel("accuracy")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
# Bin by bin: every non-empty bin overconfident at the smallest lambda, underconfident at
# the largest.
for lam, below in ((chosen[0], True), (chosen[-1], False)):
    r = next(p for p in sweeps["blobs"] if p.lambd == lam).reliability
    nonempty = r.counts > 0
    gap = r.accuracy[nonempty] - r.confidence[nonempty]
    assert bool((gap < 0).all() if below else (gap > 0).all()), (lam, gap)

# %% [markdown]
# Decay is not the only remedy: temperature scaling after training (Guo et al., 2017)
# or averaging over the posterior instead of using its mode
# ([Beyond MAP](beyond-map.html) does this for regression) change confidence without
# changing the fit. But a $\lambda$ chosen by validation accuracy alone says nothing
# about calibration; it is worth measuring both.
#
# ## The parity claims of this page
#
# Every row is asserted while this page is built. Each bound is either a multiple of
# the float64 machine epsilon, derived from the operations the two computations round
# differently, or computed from the problem itself (for scikit-learn, from the gradient
# it leaves behind and the Hessian's smallest eigenvalue); the origin column names the
# derivation, listed in `weightdecay.tolerances`.

# %%
all_checks = identity_checks + step_checks + sk_checks
assert_checks(all_checks)
Markdown(checks_table(all_checks))
