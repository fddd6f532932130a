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
# $X \in \mathbb{R}^{n\times d}$. With two classes there is one logit per row and
# $p_i = \operatorname{sigmoid}(z_i) = 1/(1 + e^{-z_i})$ is the probability of class 1; with $K \ge 3$
# classes there are $K$ logits and $p_{ik} = e^{z_{ik}}/\sum_l e^{z_{il}}$. The loss of row
# $i$ is minus the log-probability of its label $y_i$:
#
# $$\ell_i = \log\bigl(1 + e^{z_i}\bigr) - t_i z_i \ \ (K = 2,\ t_i = y_i),
# \qquad \ell_i = \log\sum_k e^{z_{ik}} - z_{iy_i}\ \ (K \ge 3),$$
#
# and weight decay adds the penalty on $W$ alone, the bias free as on the other pages:
#
# $$J(W, b) = \frac{1}{n}\sum_{i=1}^{n}\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2 .$$
#
# **The gradient.** For the softmax, $\partial\log\sum_l e^{z_{il}}/\partial z_{ik}
# = e^{z_{ik}}/\sum_l e^{z_{il}} = p_{ik}$ and $\partial z_{iy_i}/\partial z_{ik} = [k = y_i]$,
# so $\partial\ell_i/\partial z_{ik} = p_{ik} - t_{ik}$ with $t_i$ the one-hot row of
# $y_i$. For one logit, $\frac{\mathrm{d}}{\mathrm{d}z}\log(1 + e^z) = \operatorname{sigmoid}(z)$, so
# $\partial\ell_i/\partial z_i = p_i - t_i$: the same form. The logits are linear in
# $W$ and $b$ ($\partial z_{ik}/\partial w_{jk} = x_{ij}$, $\partial z_{ik}/\partial b_k = 1$),
# and with $\Delta = (P - T)/n$ the chain rule gives
#
# $$\frac{\partial J}{\partial W} = X^\top\Delta + \lambda W,\qquad
# \frac{\partial J}{\partial b} = \Delta^\top\mathbf{1}.$$
#
# This is the gradient of the squared-error page with $P - T$ in place of
# $\hat Y - Y$ (and no factor 2). `weightdecay.classifiers.gradient` computes it;
# `ScratchLogisticRegression.step` steps on it.
#
# **The Hessian.** Differentiating $p_{ik} - t_{ik}$ once more, $\partial p_{ik}/\partial z_{il}
# = p_{ik}([k = l] - p_{il})$, the matrix $S_i = \operatorname{diag}(p_i) - p_ip_i^\top$
# (for one logit, $p_i(1 - p_i)$). With $\tilde x_i = (x_i, 1)$ and
# $\Theta = [W;\, b^\top]$,
#
# $$\frac{\partial^2 J}{\partial\Theta_{ak}\,\partial\Theta_{cl}} = \frac{1}{n}\sum_i
# \tilde x_{ia}\tilde x_{ic}(S_i)_{kl} + \lambda\,[a = c \le d]\,[k = l].$$
#
# Each $S_i$ is positive semi-definite, so $J$ is convex, and for $\lambda > 0$ it is
# strictly convex in $W$: the minimizer exists and is unique even when the classes can
# be separated, where without decay the weights would grow without bound. One direction
# stays flat for $K \ge 3$: adding the same constant to every intercept changes no
# probability. Only differences of intercepts are identified, and the comparisons below
# centre them.
#
# ## The data
#
# Two tasks in the plane: the moons (two classes) and three overlapping Gaussian
# blobs (`make_task("blobs")`), each with a small training set, to overfit, and a large test set, to
# measure accuracy and calibration. `make_task` expands the 2-D points into their
# monomials of degree at most 6 and standardizes them with the training set's mean and
# standard deviation; the cell prints the sizes.

# %%
import functools
import itertools
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown
from sklearn.linear_model import LogisticRegression

from weightdecay import (
    ScratchLogisticRegression,
    TorchLogisticRegression,
    classifiers,
    logistic_c,
    relative_error,
)
from weightdecay.claims import TOLERANCES, check
from weightdecay.data import make_task

eps = torch.finfo(torch.float64).eps  # machine epsilon: every computation here is float64
tasks = {
    name: make_task(name, n_train=60, n_test=4000, degree=6, seed=0) for name in ("moons", "blobs")
}
for name, task in tasks.items():
    print(f"{name}: K = {task.n_classes}, training features {tuple(task.x_train.shape)}, "
          f"test features {tuple(task.x_test.shape)}")  # fmt: skip

# %% [markdown]
# ## The derivations, against autograd
#
# At a seeded random point $(W, b)$ and $\lambda = 0.01$, on each task's training set:
# the hand-derived gradient (`weightdecay.classifiers.gradient`) against autograd of
# $J$, and the hand-derived Hessian against `torch.autograd.functional.hessian`. Hand
# and autograd sum the rows in different orders, so each bound counts one pass of
# rounded sums over the rows (for the Hessian, of products of a few rounded factors per
# class). The posterior lines are explained [below](#the-bayesian-reading), and every
# parity line of the page is collected in the table at its end.


# %%
def derivations_vs_autograd(task, lam, seed=0):
    """The page's derivations at a seeded random point (W, b), each against its oracle."""
    x, y = task.x_train, task.y_train
    n, d = x.shape
    k = 1 if task.n_classes == 2 else task.n_classes  # logits: one for two classes
    kind = f"{task.name}, K={task.n_classes}"
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(d, k, dtype=torch.float64, generator=generator).requires_grad_()
    b = torch.randn(k, dtype=torch.float64, generator=generator).requires_grad_()
    classifiers.objective(x, y, w, b, lam).backward()
    by_hand = classifiers.gradient(x, y, w.detach(), b.detach(), lam)
    theta = torch.cat([w.detach(), b.detach().unsqueeze(0)])  # Θ = [W; bᵀ]
    autograd_hessian = torch.autograd.functional.hessian(
        lambda t: classifiers.objective(x, y, t[:d], t[d], lam), theta
    )
    h = classifiers.hessian(x, y, w.detach(), b.detach(), lam)
    # The posterior with τ = 1/(nλ): -(1/n) log p(W, b | X, y) = J + (dk/2n) log(2πτ).
    tau = 1 / (n * lam)
    w_post, b_post = w.detach().requires_grad_(), b.detach().requires_grad_()
    posterior = classifiers.scaled_negative_log_posterior(x, y, w_post, b_post, lam)
    posterior.backward()
    constant = w.numel() / (2 * n) * math.log(2 * math.pi * tau)
    j_plus_constant = classifiers.objective(x, y, w.detach(), b.detach(), lam) + constant
    return [
        check(f"{kind}: gradient by hand vs autograd", relative_error(by_hand, [w.grad, b.grad]),
              below=TOLERANCES["gradient_classifier"], dtype=torch.float64),
        check(f"{kind}: Hessian by hand vs autograd",
              relative_error(h, autograd_hessian.reshape(h.shape)), below=TOLERANCES["hessian"],
              dtype=torch.float64),
        check(f"{kind}: -(1/n) log posterior vs J + constant",
              relative_error(posterior.detach(), j_plus_constant), below=TOLERANCES["posterior"],
              dtype=torch.float64),
        check(f"{kind}: posterior gradient vs gradient of J",
              relative_error([w_post.grad, b_post.grad], by_hand),
              below=TOLERANCES["gradient_classifier"], dtype=torch.float64),
    ]  # fmt: skip


lambd = 0.01
parity_claims = []  # the parity claims of the page, for the table at its end
for task in tasks.values():
    parity_claims += derivations_vs_autograd(task, lambd)
for claim in parity_claims:
    print(claim)

# %% [markdown]
# ## Where it ends up: Newton's method, and scikit-learn's C
#
# $J$ has no closed-form minimizer, but with its gradient and Hessian Newton's method
# $\Theta \leftarrow \Theta - H^{-1}\nabla J$ (`weightdecay.classifiers.fit_logistic`, with
# a backtracking line search) converges quadratically: once it is close, each step
# roughly doubles the number of correct digits. The table follows it on the three-class
# task. The optimum at each $\lambda$ is computed once and shared by the sections below.


# %%
@functools.cache
def optimum(name, lam):
    """Newton's minimizer of J on a task's training set, at decay `lam`."""
    task = tasks[name]
    return classifiers.fit_logistic(task.x_train, task.y_train, task.n_classes, lam)


fit = optimum("blobs", lambd)
x, y = tasks["blobs"].x_train, tasks["blobs"].y_train
n = x.shape[0]
newton = pd.DataFrame({"iteration": range(fit.n_iter + 1), "J": fit.objective,
                       "largest entry of the gradient": fit.gradient_max})  # fmt: skip
print(check("Newton: largest change of J over a step", newton["J"].diff().max(), at_most=0.0,
            origin="the prose: J never increases"))  # fmt: skip
# The rounding level of the gradient at the optimum: each entry is a sum over the n rows
# of |x_ij| |p_ik - t_ik| / n (plus λ|w_jk|), which float64 rounds by at most n ε times
# the sum of the magnitudes; twice that allows for the last step's gradient and the new one's.
residual = (fit.predict_proba(x) - torch.nn.functional.one_hot(y, 3)).abs()
magnitude = max((x.abs().T @ residual / n + lambd * fit.w.abs()).max().item(),
                residual.mean(dim=0).max().item())  # fmt: skip
floor = 2 * n * eps * magnitude
print(check("Newton: the last gradient's largest entry", fit.gradient_max[-1], below=floor,
            dtype=torch.float64, origin="2mε × the largest sum of magnitudes in an entry"))  # fmt: skip
# Quadratic convergence: over the last two steps before the gradient reaches that level,
# -log10 of its largest entry grows by a factor of at least 1.5 per step.
digits = [-math.log10(g) for g in fit.gradient_max if g > floor]
print(check("Newton: iterates whose largest gradient entry is above the rounding level",
            len(digits), at_least=3, origin="three, for the growth over two steps"))  # fmt: skip
growth = [later / earlier for earlier, later in itertools.pairwise(digits[-3:])]
for step, factor in enumerate(growth, start=1):
    print(check(f"Newton: growth of -log10 of the largest gradient entry, step {step} of the last 2",
                factor, at_least=1.5, origin="the prose: quadratic convergence"))  # fmt: skip
newton.style.format({"J": "{:.15f}", "largest entry of the gradient": "{:.2e}"}).hide(axis="index")

# %%
Markdown(
    "$J$ never increases, and the last gradient is at float64 rounding: "
    f"its largest entry, {fit.gradient_max[-1]:.1e}, is below the rounding level of the "
    f"gradient's sums, {floor:.1e} (twice $n\\varepsilon$ times the largest sum of "
    "magnitudes behind an entry). Over the last two steps before that level, "
    "$-\\log_{10}$ of the largest gradient entry, its number of vanished digits, grew "
    "by a factor of "
    + " and ".join(f"{factor:.2f}" for factor in growth)
    + " (at least 1.5, checked above): quadratic convergence."
)

# %% [markdown]
# **scikit-learn's `C`.** `LogisticRegression` with its default L2 penalty minimizes
# $C\sum_i\ell_i + \frac{1}{2}\lVert W\rVert_F^2$, intercept unpenalized (for every
# solver except liblinear). Dividing by $Cn$ changes no minimizer and leaves
# $\frac{1}{n}\sum_i\ell_i + \frac{1}{2Cn}\lVert W\rVert_F^2$: this is $J$ with
#
# $$C = \frac{1}{n\lambda}$$
#
# (`weightdecay.penalty.logistic_c`). The sum in scikit-learn against the mean here is
# the whole difference, so the same $\lambda$ means a different `C` for each training-set
# size. For the multinomial case scikit-learn uses $K$ columns of weights, as here.
#
# Below, scikit-learn runs its `newton-cholesky` solver with `tol=1e-14`. Besides the
# relative differences, each row reports the largest entry of *our* gradient at
# *scikit-learn's* solution, and a bound on how far a point with that gradient can be
# from the optimum, $\lVert\nabla J\rVert/h_{\min}$ with $h_{\min}$ the smallest eigenvalue of the
# Hessian there (`weightdecay.classifiers.smallest_curvature`; first order, so the check
# allows twice the bound). scikit-learn itself stops once its gradient is below `tol`;
# at the smallest $\lambda$ compared, $10^{-4}$, the Hessian's smallest eigenvalue can
# be of the order of $\lambda$, so its stopping rule alone allows a difference of up to
# `tol`$/10^{-4}$: each bound is the smaller of the two.


# %%
def centred(b):
    """The intercepts minus their mean: only their differences are identified (K ≥ 3)."""
    return b - b.mean() if b.numel() > 1 else b


sk_tol, smallest_lambda = 1e-14, 1e-4
cap = sk_tol / smallest_lambda  # the stopping rule's reach at the smallest λ
rows = []
for name, task in tasks.items():
    x, y = task.x_train, task.y_train
    n = x.shape[0]
    for lam in (smallest_lambda, 1e-2, 1.0):
        fit = optimum(name, lam)
        model = LogisticRegression(C=logistic_c(lam, n), solver="newton-cholesky", tol=sk_tol,
                                   max_iter=1000)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # stopping on the iteration budget fails the page
            model.fit(x.numpy(), y.numpy())
        coef = torch.from_numpy(np.ascontiguousarray(model.coef_.T))  # our layout: (d, k)
        intercept = torch.from_numpy(model.intercept_.copy())
        gw, gb = classifiers.gradient(x, y, coef, intercept, lam)  # ours, at theirs
        g = torch.cat([gw, gb.unsqueeze(0)])
        mu = classifiers.smallest_curvature(x, y, fit.w, fit.b, lam)
        bound = g.norm().item() / mu  # ‖θ_sk − θ*‖ ≲ ‖∇J(θ_sk)‖ / μ
        ours = torch.cat([fit.w, centred(fit.b).unsqueeze(0)])
        theirs = torch.cat([coef, centred(intercept).unsqueeze(0)])
        distance = (theirs - ours).norm().item()
        error_w = relative_error(coef, fit.w)
        error_b = relative_error(centred(intercept), centred(fit.b))
        kind = f"{name}, λ={lam:g}"
        # Relative to each block's norm, never above the stopping rule's reach `cap`.
        bound_w = min(2 * bound / fit.w.norm().item(), cap)
        bound_b = min(2 * bound / centred(fit.b).norm().item(), cap)
        claim_w = check(f"{kind}: W vs scikit-learn LogisticRegression", error_w, below=bound_w,
                        dtype=torch.float64, origin="stopping_rule")  # fmt: skip
        claim_b = check(f"{kind}: b vs scikit-learn LogisticRegression", error_b, below=bound_b,
                        dtype=torch.float64, origin="stopping_rule")  # fmt: skip
        parity_claims += [claim_w, claim_b]
        print(claim_w, claim_b, sep="\n")
        # Twice the first-order bound, for the second-order terms; plus 1e-14 for the
        # rounding of our own optimum, of order ε‖θ*‖ (checked below it).
        print(check(f"{kind}: distance to our optimum", distance, at_most=2 * bound + 1e-14,
                    dtype=torch.float64, origin="2‖∇J‖/μ + 1e-14"))  # fmt: skip
        print(check(f"{kind}: ε‖θ*‖, the rounding of our optimum", eps * ours.norm().item(),
                    below=1e-14, dtype=torch.float64, origin="the 1e-14 allowed above"))  # fmt: skip
        rows.append({"task": name, "λ": lam, "C": logistic_c(lam, n), "Newton steps": fit.n_iter,
                     "W: relative difference": error_w, "b: relative difference": error_b,
                     "our gradient at theirs": g.abs().max().item(), "μ": mu,
                     "distance": distance, "bound": bound})  # fmt: skip
print(check("blobs: scikit-learn's columns of weights", coef.shape[1], equals=3,
            origin="the prose: K columns, as here"))  # fmt: skip
sklearn_table = pd.DataFrame(rows)
# The pattern described below: on each task the largest relative difference (W or b) and
# the smallest eigenvalue μ both come at the smallest λ.
for name, group in sklearn_table.groupby("task", sort=False):
    largest = group[["W: relative difference", "b: relative difference"]].max(axis=1).idxmax()
    print(check(f"{name}: λ of the largest difference", group.loc[largest, "λ"],
                equals=smallest_lambda, origin="the prose's claim"))  # fmt: skip
    print(check(f"{name}: λ of the smallest μ", group.loc[group["μ"].idxmin(), "λ"],
                equals=smallest_lambda, origin="the prose's claim"))  # fmt: skip
sklearn_table.style.format(
    {"λ": "{:g}", "C": "{:g}", "W: relative difference": "{:.2e}",
     "b: relative difference": "{:.2e}", "our gradient at theirs": "{:.1e}", "μ": "{:.2e}",
     "distance": "{:.1e}", "bound": "{:.1e}"}
).hide(axis="index")  # fmt: skip

# %% [markdown]
# Every difference is below its bound (norm-wise relative; the table at the end of the
# page lists each with its bound), and every distance is below twice its bound. On
# each task the largest differences come at the smallest $\lambda$, where the Hessian's
# smallest eigenvalue $h_{\min}$ is smallest: the same remaining gradient then allows a
# larger distance, as the bound says.
#
# **Two outputs are not one.** In PyTorch a binary classifier is often an `nn.Linear(d, 2)`
# with `CrossEntropyLoss`: a two-class softmax. Its probabilities depend only on
# $w = w_1 - w_0$ and $b = b_1 - b_0$, but the penalty sees both columns. For a given
# $w$ the penalty $\frac{\lambda}{2}(\lVert w_0\rVert^2 + \lVert w_1\rVert^2)$ is smallest
# at $w_1 = -w_0 = w/2$, where it equals $\frac{\lambda}{4}\lVert w\rVert^2$. So the
# two-output model with `weight_decay=λ` is logistic regression with $\lambda/2$, that is
# scikit-learn's `C = 2/(nλ)`, not `1/(nλ)`. The cell below measures exactly this on
# the moons (optimum of the two-logit model at $\lambda$ against the one-logit model at
# $\lambda/2$), against the rounding bound of two Newton optima,
# $(d + 1)\,\kappa(H)\,\varepsilon$: each optimum is where the computed gradient
# vanishes, and the last Newton step solves a system with the Hessian $H$ of the
# one-logit objective, which turns rounding of relative size $(d + 1)\varepsilon$ ($d + 1$
# unknowns) into at most $\kappa(H)$, its condition number, times as much in the solution.

# %%
x, y = tasks["moons"].x_train, tasks["moons"].y_train
d = x.shape[1]
pair = classifiers.fit_logistic(x, y, 2, lambd, softmax=True)  # two logits, weight_decay = λ
single = classifiers.fit_logistic(x, y, 2, lambd / 2)  # one logit at λ/2
difference = [pair.w[:, 1:] - pair.w[:, :1], pair.b[1:] - pair.b[:1]]  # w_1 - w_0, b_1 - b_0
eigenvalues = torch.linalg.eigvalsh(classifiers.hessian(x, y, single.w, single.b, lambd / 2))
kappa = (eigenvalues[-1] / eigenvalues[0]).item()
parity_claims.append(
    check("moons, K=2: two-logit softmax at λ vs logistic at λ/2",
          relative_error(difference, [single.w, single.b]), below=(d + 1) * kappa * eps,
          dtype=torch.float64, origin="linear_solve")
)  # fmt: skip
print(parity_claims[-1])
print(f"κ(H) = {kappa:.3g}, d + 1 = {d + 1}")

# %% [markdown]
# ## The scratch model against its PyTorch twin, step by step
#
# The twin is `TorchLogisticRegression`: an `nn.Linear` with PyTorch's
# `binary_cross_entropy_with_logits` (one output) or `cross_entropy` ($K$ outputs), and
# `torch.optim.SGD` with `weight_decay=λ` on the weight's group and 0 on the bias's. The
# scratch model (`ScratchLogisticRegression`, whose `step` subtracts $\eta$ times the
# hand-derived gradient) copies the twin's initial parameters; both see the same
# shuffled mini-batches of 10 rows for 50 epochs ($\eta = 0.5$, $\lambda = 0.01$), and
# the parameters are compared after every step.

# %%
lr, epochs, batch_size = 0.5, 50, 10
step_errors = {}
for name, task in tasks.items():
    x, y = task.x_train, task.y_train
    twin = TorchLogisticRegression(x.shape[1], task.n_classes, seed=0)
    scratch = ScratchLogisticRegression(x.shape[1], task.n_classes, lambd)
    scratch.copy_params(twin.layer)
    optimizer = torch.optim.SGD([{"params": [twin.layer.weight], "weight_decay": lambd},
                                 {"params": [twin.layer.bias], "weight_decay": 0.0}], lr=lr)  # fmt: skip
    shuffles = torch.Generator().manual_seed(0)
    errors = []
    for _ in range(epochs):
        for rows in torch.randperm(x.shape[0], generator=shuffles).split(batch_size):
            scratch.step(x[rows], y[rows], lr)
            optimizer.zero_grad()
            twin.loss(x[rows], y[rows]).backward()
            optimizer.step()
            errors.append(
                relative_error(scratch.parameters(), [twin.layer.weight.T, twin.layer.bias])
            )
    step_errors[f"{name}, K={task.n_classes}"] = errors

fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
for kind, errors in step_errors.items():
    ax.semilogy(
        range(1, len(errors) + 1), np.maximum(errors, np.finfo(np.float64).tiny), label=kind
    )
ax.axhline(TOLERANCES["classifier_steps"][torch.float64], color="grey", ls="--", label="tolerance")
ax.set_xlabel("SGD step")
ax.set_ylabel("relative difference (float64)")
ax.legend()
fig.tight_layout()
plt.show()
for kind, errors in step_errors.items():
    # The tolerance derives from S = 300 steps (50 epochs of 6 batches of 10 rows).
    print(check(f"{kind}: SGD steps taken", len(errors), equals=300, origin="the tolerance's S"))
    parity_claims.append(
        check(f"{kind}: scratch vs torch.nn, every step ({len(errors)})", max(errors),
              below=TOLERANCES["classifier_steps"], dtype=torch.float64)
    )  # fmt: skip
    print(parity_claims[-1])
# "A few units of float64 rounding": 8ε at every step, the claim of the prose; the
# tolerance allows for roundings that add up like a random walk over the steps.
largest_step_error = max(max(errors) for errors in step_errors.values())
print(check("largest difference over all steps and both tasks", largest_step_error,
            below=8 * eps, dtype=torch.float64, origin="the prose: a few units of ε"))  # fmt: skip
print(f"largest difference over all steps: {largest_step_error / eps:.2f} ε")

# %% [markdown]
# The two implementations do not perform the same floating-point operations (PyTorch
# fuses the affine map and computes the loss through `log_softmax`), so they may differ
# by rounding; over 300 steps the differences stay at the level of a few units of
# float64 rounding instead of accumulating (below $8\varepsilon$ at every step, while
# the tolerance allows for roundings that add up like a random walk over the 300 steps).
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
# $$-\frac{1}{n}\log p(W, b \mid X, y) = \frac{1}{n}\sum_i\ell_i + \frac{1}{2n\tau}\lVert W\rVert_F^2
# + \text{const},$$
#
# which is $J$ when $\tau = 1/(n\lambda)$: the same map as for regression, with $n$
# the number of *rows* (the cross-entropy averages over rows; for multi-output regression
# the MSE averaged over rows times outputs). The posterior lines of the first check
# compute the left side with `torch.distributions.Categorical`/`Bernoulli` and
# `torch.distributions.Normal` (`weightdecay.classifiers.scaled_negative_log_posterior`)
# and compare it and its gradient with $J$ plus the prior's constant.
#
# What $\tau$ means here: on standardized features, $\sqrt\tau$ is the prior's
# typical change of a logit when one feature moves by one standard deviation. Logits
# are log-odds, so a prior standard deviation of 1 already allows odds to change by a
# factor $e$ per feature; with 27 features and $\tau$ of a few units, the prior permits
# very confident predictions. The table gives $\tau$ and the size of the fitted weights
# on the moons for the $\lambda$ of the figures below.

# %%
lambdas_shown = [1e-5, 1e-3, 1e-1, 1.0]
task = tasks["moons"]
n = task.x_train.shape[0]
rows = []
for lam in lambdas_shown:
    fit = optimum("moons", lam)
    logits = task.x_test @ fit.w + fit.b
    confidence = fit.predict_proba(task.x_test).max(dim=1).values
    rows.append({"λ": lam, "τ = 1/(nλ)": 1 / (n * lam), "√τ": (1 / (n * lam)) ** 0.5,
                 "RMS of the fitted weights": fit.w.pow(2).mean().sqrt().item(),
                 "RMS of the test logits": logits.pow(2).mean().sqrt().item(),
                 "test points with confidence above 0.99": (confidence > 0.99).double().mean().item()})  # fmt: skip
prior_table = pd.DataFrame(rows)
for column in prior_table.columns[3:]:
    print(check(f"{column}: largest change from one λ to the next", prior_table[column].diff().max(),
                below=0.0, origin="the prose: shrinks as λ grows"))  # fmt: skip
print(check("RMS of the test logits at the smallest λ", prior_table["RMS of the test logits"][0],
            above=10, origin="the prose: large logits"))  # fmt: skip
print(check("share of test points above 0.99 at the smallest λ",
            prior_table["test points with confidence above 0.99"][0], above=0.5,
            origin="the prose: most test points"))  # fmt: skip
prior_table.style.format(
    {"λ": "{:g}", "τ = 1/(nλ)": "{:.4g}", "√τ": "{:.3g}", "RMS of the fitted weights": "{:.3g}",
     "RMS of the test logits": "{:.3g}", "test points with confidence above 0.99": "{:.1%}"}
).hide(axis="index")  # fmt: skip

# %% [markdown]
# The fitted weights, the test logits and the share of near-certain test predictions all
# shrink as $\lambda$ grows. With $\lambda = 10^{-5}$ the prior is so wide that it
# hardly constrains anything, and the logits on test points are large (RMS above 10):
# most test points get a confidence above 0.99.
#
# ## Decision boundaries
#
# Each panel shows the decision boundary (black), the 60 training points, and the
# predicted class as a colour whose strength is the model's confidence (white where
# every class is equally likely), for the moons (top) and the three blobs (bottom)
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
        ax = axes[row, col]
        probs = optimum(name, lam).predict_proba(task.features(grid))
        confidence, predicted = probs.max(dim=1)
        # Shade: the predicted class's colour, from white (uniform) to full (certain).
        strength = ((confidence - 1 / task.n_classes) / (1 - 1 / task.n_classes)).numpy()
        pale[name].append(float((strength < 0.9).mean()))
        image = 1 - strength[:, None] * 0.55 * (1 - rgb[predicted.numpy()])
        ax.imshow(image.reshape(*grid_x.shape, 3), origin="lower", extent=(x0, x1, y0, y1),
                  aspect="auto")  # fmt: skip
        ax.contour(grid_x, grid_y, predicted.reshape(grid_x.shape).numpy(),
                   levels=np.arange(task.n_classes) + 0.5, colors="k", linewidths=1)  # fmt: skip
        ax.scatter(points[:, 0], points[:, 1], c=rgb[task.y_train.numpy()], s=14, edgecolors="k",
                   linewidths=0.4)  # fmt: skip
        ax.set_title(f"{name}, λ = {lam:g}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# With $\lambda = 10^{-5}$ the boundaries bend around single points to classify the
# training set almost perfectly (the table gives the training accuracy of each panel),
# and the colour is full almost everywhere: certainty right up to the boundary (less
# than a tenth of each panel is shaded below 90% of full strength; the table gives the
# share). As $\lambda$ grows the boundaries smooth out, and a widening band around them
# is uncertain: the share of each panel shaded below 90% grows with $\lambda$.

# %%
rows = []
for name, task in tasks.items():
    accuracy = [(optimum(name, lam).predict_proba(task.x_train).argmax(dim=1) == task.y_train)
                .double().mean().item() for lam in lambdas_shown]  # fmt: skip
    print(check(f"{name}: training accuracy at the smallest λ", accuracy[0], at_least=0.95,
                origin="the prose: almost perfectly"))  # fmt: skip
    print(check(f"{name}: training accuracy, smallest λ minus largest", accuracy[0] - accuracy[-1],
                above=0.0, origin="the prose: lower at the largest"))  # fmt: skip
    print(check(f"{name}: share of the panel below 90% at the smallest λ", pale[name][0],
                below=0.1, origin="the prose: less than a tenth"))  # fmt: skip
    print(check(f"{name}: smallest growth of that share from one λ to the next",
                min(np.diff(pale[name])), above=0.0, origin="the prose: grows with λ"))  # fmt: skip
    rows.append(
        {"quantity": f"{name}: training accuracy"}
        | {f"λ = {lam:g}": f"{a:.3f}" for lam, a in zip(lambdas_shown, accuracy, strict=True)}
    )
    rows.append(
        {"quantity": f"{name}: share of the panel below 90% strength"}
        | {f"λ = {lam:g}": f"{s:.1%}" for lam, s in zip(lambdas_shown, pale[name], strict=True)}
    )
pd.DataFrame(rows).style.hide(axis="index")

# %% [markdown]
# Training accuracy is at least 0.95 at the smallest $\lambda$ and lower at the largest:
# decay gives up training fit for smoothness.
#
# ## Calibration: decay sets the confidence
#
# A classifier is calibrated when, among the predictions made with confidence about
# 0.8, about 80% are right. The reliability diagram bins the test points by confidence
# (largest class probability) and plots each bin's accuracy against its mean confidence;
# the expected calibration error (ECE) is the bins' average gap, weighted by their
# shares ([Naeini, Cooper and Hauskrecht, 2015](references.html#naeini2015);
# [Guo et al., 2017](references.html#guo2017)), here with 10 equal-width bins
# (`weightdecay.classifiers.reliability`). The sweep fits the optimum for 16 values of
# $\lambda$ from $10^{-5}$ to 1, three per decade, and evaluates each on the 4000 test
# points.

# %%
grid_lambdas = torch.logspace(-5, 0, 16, dtype=torch.float64).tolist()  # three per decade
records, diagrams = [], {}
for name, task in tasks.items():
    for lam in grid_lambdas:
        fit = optimum(name, lam)
        p_test = fit.predict_proba(task.x_test)
        confidence, predicted = p_test.max(dim=1)
        diagrams[name, lam] = classifiers.reliability(p_test, task.y_test, n_bins=10)
        logits = task.x_test @ fit.w + fit.b
        records.append({"task": name, "λ": lam,
                        "test accuracy": (predicted == task.y_test).double().mean().item(),
                        "mean confidence": confidence.mean().item(),
                        "test NLL": classifiers.mean_cross_entropy(logits, task.y_test).item(),
                        "ECE": diagrams[name, lam].ece})  # fmt: skip
sweep = pd.DataFrame(records)
edges = torch.stack([r.edges for r in diagrams.values()])
print(check("bin edges vs 10 equal-width bins: largest |difference|",
            (edges - torch.linspace(0, 1, 11, dtype=torch.float64)).abs().max(), equals=0.0,
            origin="exact"))  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
for (name, curve), ls in zip(sweep.groupby("task", sort=False), ["-", "--"], strict=True):
    axes[0].semilogx(curve["λ"], curve["ECE"], ls, marker="o", ms=3, label=name)
    axes[1].semilogx(curve["λ"], curve["mean confidence"], ls, color="tab:red",
                     label=f"{name}: mean confidence")  # fmt: skip
    axes[1].semilogx(curve["λ"], curve["test accuracy"], ls, color="tab:blue",
                     label=f"{name}: test accuracy")  # fmt: skip
axes[0].set_xlabel("λ")
axes[0].set_ylabel("expected calibration error (test)")
axes[0].legend()
axes[1].set_xlabel("λ")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

rows = []
for name, curve in sweep.groupby("task", sort=False):
    confidence, accuracy = curve["mean confidence"], curve["test accuracy"]
    first, last = curve.iloc[0], curve.iloc[-1]
    best_ece = curve.loc[curve["ECE"].idxmin()]
    print(check(f"{name}: largest change of the mean confidence from one λ to the next",
                confidence.diff().max(), below=0.0, origin="the prose: falls steadily"))  # fmt: skip
    print(check(f"{name}: range of the test accuracy over that of the mean confidence",
                np.ptp(accuracy) / np.ptp(confidence), below=0.5,
                origin="the prose: less than half"))  # fmt: skip
    print(check(f"{name}: mean confidence minus accuracy at the smallest λ",
                first["mean confidence"] - first["test accuracy"], above=0.0,
                origin="the prose: overconfident"))  # fmt: skip
    print(check(f"{name}: mean confidence minus accuracy at the largest λ",
                last["mean confidence"] - last["test accuracy"], below=0.0,
                origin="the prose: underconfident"))  # fmt: skip
    print(check(f"{name}: grid points between the lowest ECE and the nearer end",
                min(curve["ECE"].argmin(), len(curve) - 1 - curve["ECE"].argmin()), at_least=1,
                origin="the prose: lowest in between"))  # fmt: skip
    rows.append({"task": name, "λ with the lowest ECE": best_ece["λ"], "its ECE": best_ece["ECE"],
                 "λ with the lowest test NLL": curve.loc[curve["test NLL"].idxmin(), "λ"],
                 "λ with the highest test accuracy": curve.loc[accuracy.idxmax(), "λ"]})  # fmt: skip
best = pd.DataFrame(rows)
differ = (best["λ with the lowest ECE"] != best["λ with the highest test accuracy"]).sum()
print(check("tasks where the best-calibrated λ is not the most accurate", differ, at_least=1,
            origin="the prose: need not be the one that classifies best"))  # fmt: skip
best.style.format({"λ with the lowest ECE": "{:.3g}", "its ECE": "{:.3f}",
                   "λ with the lowest test NLL": "{:.3g}",
                   "λ with the highest test accuracy": "{:.3g}"}).hide(axis="index")  # fmt: skip

# %% [markdown]
# On both tasks the mean confidence falls steadily as $\lambda$ grows (checked along the
# whole grid), while the test accuracy moves over less than half that range. At the
# smallest $\lambda$ the models are overconfident (mean confidence above accuracy) and
# at the largest underconfident (below it), so the ECE is lowest in between, not at an
# end of the grid. Decay is therefore a calibration knob as much as a complexity knob.
# The $\lambda$ that calibrates best need not be the one that classifies best; the
# table shows where each criterion puts it.
#
# The reliability diagrams of the three-blob task at three values of $\lambda$
# show the same thing bin by bin: below the diagonal means overconfident. At the
# smallest $\lambda$ every non-empty bin lies below it, at the largest every one above
# it.

# %%
blobs = sweep[sweep["task"] == "blobs"]
chosen = [grid_lambdas[0], blobs.loc[blobs["ECE"].idxmin(), "λ"], grid_lambdas[-1]]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), dpi=100, sharey=True)
for ax, lam in zip(axes, chosen, strict=True):
    r = diagrams["blobs", lam]
    centres = ((r.edges[:-1] + r.edges[1:]) / 2).numpy()
    filled = (r.counts > 0).numpy()
    ax.bar(centres[filled], r.accuracy.numpy()[filled], width=0.09, color="tab:blue", alpha=0.7,
           label="accuracy")  # fmt: skip
    ax.plot(r.confidence.numpy()[filled], r.accuracy.numpy()[filled], "o", color="tab:red", ms=4,
            label="(confidence, accuracy)")  # fmt: skip
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_title(f"λ = {lam:.3g}, ECE = {r.ece:.3f}", fontsize=10)
    ax.set_xlabel("confidence")
axes[0].set_ylabel("accuracy")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()
# Bin by bin: accuracy minus confidence in every non-empty bin.
low, high = diagrams["blobs", chosen[0]], diagrams["blobs", chosen[-1]]
gap_low = (low.accuracy - low.confidence)[low.counts > 0]
gap_high = (high.accuracy - high.confidence)[high.counts > 0]
print(check("blobs, smallest λ: largest accuracy minus confidence over the bins", gap_low.max(),
            below=0.0, origin="the prose: every bin overconfident"))  # fmt: skip
print(check("blobs, largest λ: smallest accuracy minus confidence over the bins", gap_high.min(),
            above=0.0, origin="the prose: every bin underconfident"))  # fmt: skip

# %% [markdown]
# Decay is not the only remedy: temperature scaling after training (Guo et al., 2017)
# or averaging over the posterior instead of using its mode
# ([Beyond MAP](beyond-map.html) does this for regression) change confidence without
# changing the fit. But a $\lambda$ chosen by validation accuracy alone says nothing
# about calibration; it is worth measuring both.
#
# ## The parity claims of this page
#
# Every ✓ line above is a check that runs while this page is built: a claim that did
# not hold would stop the build. The parity claims, collected here, are those that
# compare two computations of the same quantity. Each bound is either a multiple of the float64
# machine epsilon, derived from the operations the two computations round differently,
# or computed from the problem itself (for scikit-learn, from the gradient it leaves
# behind and the Hessian's smallest eigenvalue; for the two-logit model, from the
# Hessian's condition number); the origin column names the derivation, listed in
# `weightdecay.claims.TOLERANCES`.

# %%
parity_table = pd.DataFrame(parity_claims)[
    ["claim", "dtype", "measured", "relation", "bound", "origin"]
]
parity_table.style.format({"measured": "{:.2e}", "bound": "{:.2e}"}).hide(axis="index")
