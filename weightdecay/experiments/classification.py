r"""Weight decay for linear classifiers: parity with PyTorch and scikit-learn, and calibration.

Three experiments on the two-dimensional tasks of `weightdecay.planar`:

* `trajectory_parity`: the scratch model (hand-derived gradient) and its ``torch.nn``
  twin (``SGD(weight_decay=λ)`` on the weight) from the same start, on the same
  mini-batches, compared after every step;
* `sklearn_parity`: the minimizer of $J$ found by Newton's method against
  scikit-learn's `LogisticRegression` with $C = 1/(m\lambda)$;
* `calibration_sweep`: the optimum for each $\lambda$ of a grid, its test accuracy,
  confidence and expected calibration error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from weightdecay._checks import check_count, check_positive
from weightdecay.calibration import Reliability, reliability
from weightdecay.categorical import scaled_negative_log_posterior
from weightdecay.cross_entropy import gradient, hessian, objective
from weightdecay.logistic import LogisticFit, fit_logistic, gauge_direction, logistic_c
from weightdecay.metrics import relative_error
from weightdecay.models.logistic import (
    ScratchLogisticRegression,
    TorchLogisticRegression,
    class_probabilities,
)
from weightdecay.planar import PlanarTask
from weightdecay.prior import log_prior_constant
from weightdecay.seeding import derive_seed, torch_generator

__all__ = [
    "CalibrationPoint",
    "Identities",
    "SklearnParity",
    "Trajectory",
    "calibration_sweep",
    "identities",
    "log_grid",
    "sklearn_parity",
    "trajectory_parity",
]


@dataclass(frozen=True)
class Trajectory:
    r"""Scratch model against its ``torch.nn`` twin, step by step.

    Attributes
    ----------
    task : str
        The task's name.
    n_classes : int
    step_errors : list of float
        After each step, the norm-wise relative error between the two models'
        parameters $(W, b)$ (the twin's weight transposed).
    weight_norms : list of float
        $\\lVert W\\rVert_F$ of the scratch model after each step.
    """

    task: str
    n_classes: int
    step_errors: list[float]
    weight_norms: list[float]


def trajectory_parity(
    task: PlanarTask,
    *,
    lambd: float = 0.01,
    lr: float = 0.5,
    epochs: int = 20,
    batch_size: int = 10,
    seed: int = 0,
) -> Trajectory:
    r"""Train the scratch model and the twin side by side in float64.

    The twin is built with PyTorch's default initialization (seeded), copied into the
    scratch model; each epoch draws one shuffle, used by both.

    Parameters
    ----------
    task : PlanarTask
        The training features and labels.
    lambd : float, default 0.01
        $\lambda$ on the weight.
    lr : float, default 0.5
        $\eta$.
    epochs : int, default 20
    batch_size : int, default 10
    seed : int, default 0
        Seeds the initialization and the shuffles.

    Returns
    -------
    Trajectory

    Examples
    --------
    >>> from weightdecay.experiments.classification import trajectory_parity
    >>> from weightdecay.planar import make_task
    >>> run = trajectory_parity(make_task("blobs", n_train=20, n_test=10, degree=2), epochs=2)
    >>> len(run.step_errors), max(run.step_errors) < 1e-13
    (4, True)
    """
    check_positive("lr", lr)
    n_epochs = check_count("epochs", epochs)
    size = check_count("batch_size", batch_size)
    x, y = task.x_train, task.y_train
    twin = TorchLogisticRegression(
        x.shape[1], task.n_classes, seed=derive_seed(seed, "init"), dtype=x.dtype
    )
    scratch = ScratchLogisticRegression(x.shape[1], task.n_classes, lambd, dtype=x.dtype)
    scratch.copy_params(twin.layer)
    optimizer = twin.sgd(lr=lr, weight_decay=lambd)
    shuffles = torch_generator(seed, "shuffle")
    errors, norms = [], []
    for _ in range(n_epochs):
        order = torch.randperm(x.shape[0], generator=shuffles)
        for start in range(0, x.shape[0], size):
            rows = order[start : start + size]
            scratch.step(x[rows], y[rows], lr)
            optimizer.zero_grad()
            twin.loss(x[rows], y[rows]).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            errors.append(
                relative_error(scratch.parameters(), [twin.layer.weight.T, twin.layer.bias])
            )
            norms.append(scratch.w.norm().item())
    return Trajectory(task.name, task.n_classes, errors, norms)


@dataclass(frozen=True)
class SklearnParity:
    r"""Newton's optimum of $J$ against scikit-learn's `LogisticRegression`.

    Attributes
    ----------
    task : str
    lambd : float
    fit : LogisticFit
        Ours.
    coef, intercept : Tensor
        scikit-learn's, in our orientation: shape (d, 1) or (d, K), and (1,) or (K,).
    error_w, error_b : float
        Norm-wise relative differences; for $K \ge 3$ the intercepts are compared
        after subtracting their means (only differences between them are identified).
    sklearn_gradient : float
        The largest entry of our $\nabla J$ at scikit-learn's solution.
    mu : float
        $\mu$, the smallest eigenvalue of $H + uu^\top$ at our optimum ($u$ the
        direction of the intercepts moving together, `weightdecay.logistic.gauge_direction`).
    bound : float
        $\lVert\nabla J(\theta_{\mathrm{sk}})\rVert / \mu$: to first order, no point
        with that gradient is farther from the optimum than this.
    distance : float
        $\lVert\theta_{\mathrm{sk}} - \theta^\ast\rVert$ (intercepts centred for $K \ge 3$).
    """

    task: str
    lambd: float
    fit: LogisticFit
    coef: Tensor
    intercept: Tensor
    error_w: float
    error_b: float
    sklearn_gradient: float
    mu: float
    bound: float
    distance: float


def _centred(b: Tensor) -> Tensor:
    return b - b.mean() if b.numel() > 1 else b


def sklearn_parity(task: PlanarTask, lambd: float, *, tol: float = 1e-14) -> SklearnParity:
    r"""Fit $J$ by Newton's method and `LogisticRegression(C=1/(mλ))`; compare.

    scikit-learn runs its ``newton-cholesky`` solver with ``tol=tol`` and its
    default, unpenalized intercept.

    Parameters
    ----------
    task : PlanarTask
    lambd : float
        $\lambda > 0$.
    tol : float, default 1e-14
        scikit-learn's stopping tolerance.

    Returns
    -------
    SklearnParity

    Examples
    --------
    >>> from weightdecay.experiments.classification import sklearn_parity
    >>> from weightdecay.planar import make_task
    >>> result = sklearn_parity(make_task("moons", degree=3), lambd=0.01)
    >>> result.error_w < 1e-10, result.distance <= 2 * result.bound + 1e-14
    (True, True)
    """
    lam = check_positive("lambd", lambd)
    x, y = task.x_train, task.y_train
    fit = fit_logistic(x, y, task.n_classes, lam)
    # Imported here: scikit-learn takes a second to load, which every process importing
    # weightdecay.report (the ranks of the data-parallel runs among them) would pay.
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=logistic_c(lam, x.shape[0]), solver="newton-cholesky", tol=tol, max_iter=1000
    )
    with warnings.catch_warnings():
        # A solver that stops on its iteration budget warns; the comparison would show it.
        warnings.simplefilter("error")
        model.fit(x.numpy(), y.numpy())
    coef = torch.from_numpy(np.ascontiguousarray(model.coef_.T))
    intercept = torch.from_numpy(np.asarray(model.intercept_, dtype=np.float64))
    gw, gb = gradient(x, y, coef, intercept, lam)
    g = torch.cat([gw, gb.unsqueeze(0)]).flatten()
    d, k = fit.w.shape
    h = hessian(x, y, fit.w, fit.b, lam)
    u = gauge_direction(d, k, g.dtype)
    # $$\mu = \lambda_{\min}(H + uu^\top)$$
    mu = torch.linalg.eigvalsh(h + torch.outer(u, u))[0].item()
    ours = torch.cat([fit.w, _centred(fit.b).unsqueeze(0)])
    theirs = torch.cat([coef, _centred(intercept).unsqueeze(0)])
    return SklearnParity(
        task=task.name,
        lambd=lam,
        fit=fit,
        coef=coef,
        intercept=intercept,
        error_w=relative_error(coef, fit.w),
        error_b=relative_error(_centred(intercept), _centred(fit.b)),
        sklearn_gradient=g.abs().max().item(),
        mu=mu,
        # $$\lVert\theta_{\mathrm{sk}} - \theta^\ast\rVert
        #   \lesssim \lVert\nabla J(\theta_{\mathrm{sk}})\rVert / \mu$$
        bound=g.norm().item() / mu,
        distance=(theirs - ours).norm().item(),
    )


@dataclass(frozen=True)
class CalibrationPoint:
    r"""The optimum at one $\\lambda$ and how it does on the test set.

    Attributes
    ----------
    lambd : float
    fit : LogisticFit
    train_accuracy, test_accuracy : float
    mean_confidence : float
        The mean top-class probability on the test set.
    test_nll : float
        The mean cross-entropy on the test set.
    reliability : Reliability
        On the test set; ``reliability.ece`` is the expected calibration error.
    """

    lambd: float
    fit: LogisticFit
    train_accuracy: float
    test_accuracy: float
    mean_confidence: float
    test_nll: float
    reliability: Reliability


def calibration_sweep(
    task: PlanarTask, lambdas: Sequence[float], *, n_bins: int = 10
) -> list[CalibrationPoint]:
    r"""Fit the optimum for each $\lambda$ and measure accuracy, confidence and ECE.

    Parameters
    ----------
    task : PlanarTask
    lambdas : sequence of float
        Each $> 0$.
    n_bins : int, default 10
        Bins of the reliability diagram.

    Returns
    -------
    list of CalibrationPoint
        In the order of `lambdas`.

    Examples
    --------
    >>> from weightdecay.experiments.classification import calibration_sweep
    >>> from weightdecay.planar import make_task
    >>> low, high = calibration_sweep(make_task("moons", n_test=500), [1e-4, 1.0])
    >>> low.mean_confidence > high.mean_confidence
    True
    """
    if isinstance(lambdas, (str, bytes)) or not isinstance(lambdas, Sequence) or not lambdas:
        raise ValueError(f"lambdas must be a non-empty sequence of numbers, got {lambdas!r}")
    points = []
    for index, value in enumerate(lambdas):
        lam = check_positive(f"lambdas[{index}]", value)
        fit = fit_logistic(task.x_train, task.y_train, task.n_classes, lam, max_iter=200)
        p_train = class_probabilities(task.x_train @ fit.w + fit.b)
        p_test = class_probabilities(task.x_test @ fit.w + fit.b)
        confidence, predicted = p_test.max(dim=1)
        picked = p_test.gather(1, task.y_test.unsqueeze(1))[:, 0]
        points.append(
            CalibrationPoint(
                lambd=lam,
                fit=fit,
                train_accuracy=(p_train.argmax(dim=1) == task.y_train).double().mean().item(),
                test_accuracy=(predicted == task.y_test).double().mean().item(),
                mean_confidence=confidence.mean().item(),
                test_nll=-picked.log().mean().item(),
                reliability=reliability(p_test, task.y_test, n_bins),
            )
        )
    return points


def log_grid(low: float, high: float, per_decade: int) -> list[float]:
    """A grid from `low` to `high` with `per_decade` points per factor of 10.

    Parameters
    ----------
    low, high : float
        $0 < $ `low` $<$ `high`.
    per_decade : int

    Returns
    -------
    list of float

    Examples
    --------
    >>> from weightdecay.experiments.classification import log_grid
    >>> [f"{v:g}" for v in log_grid(1e-3, 1e-1, 2)]
    ['0.001', '0.00316228', '0.01', '0.0316228', '0.1']
    """
    a, b = check_positive("low", low), check_positive("high", high)
    if a >= b:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}")
    n = check_count("per_decade", per_decade)
    count = round(n * math.log10(b / a)) + 1
    return torch.logspace(math.log10(a), math.log10(b), count, dtype=torch.float64).tolist()


@dataclass(frozen=True)
class Identities:
    r"""The derivations of the classifier page, measured (norm-wise relative errors).

    Attributes
    ----------
    task : str
    n_classes : int
    gradient : float
        The hand-derived $\nabla J$ against autograd of $J$.
    hessian : float
        `weightdecay.cross_entropy.hessian` against ``torch.autograd.functional.hessian``.
    posterior : float
        $-\frac{1}{m}\log p(W, b \mid X, y)$ (from `torch.distributions`) against
        $J$ + `log_prior_constant`, with $\tau = 1/(m\lambda)$.
    posterior_gradient : float
        Its autograd gradient against the hand-derived $\nabla J$.
    two_class_softmax : float or None
        For two classes: the optimum of a two-logit softmax at $\lambda$, as
        $w_1 - w_0$ and $b_1 - b_0$, against logistic regression's at $\lambda/2$.
    two_class_bound : float or None
        Its rounding bound, $(d + 1)\,\kappa(H)\,\varepsilon$ with $H$ the Hessian of
        the one-logit objective at its optimum and $d + 1$ its parameters: each optimum
        is where the computed gradient vanishes, and the last Newton step is a linear
        solve with $H$, which turns rounding of relative size $(d + 1)\varepsilon$ into
        at most $\kappa(H)$ times as much in the solution.
    """

    task: str
    n_classes: int
    gradient: float
    hessian: float
    posterior: float
    posterior_gradient: float
    two_class_softmax: float | None
    two_class_bound: float | None


def identities(task: PlanarTask, lambd: float = 0.01, *, seed: int = 0) -> Identities:
    r"""Measure the page's identities on `task`'s training set, at a seeded random point.

    Parameters
    ----------
    task : PlanarTask
    lambd : float, default 0.01
        $\lambda > 0$.
    seed : int, default 0
        Seeds the point $(W, b)$ at which gradients and Hessian are compared.

    Returns
    -------
    Identities

    Examples
    --------
    >>> from weightdecay.experiments.classification import identities
    >>> from weightdecay.planar import make_task
    >>> result = identities(make_task("moons", degree=2))
    >>> result.gradient < 1e-13, result.two_class_softmax < result.two_class_bound
    (True, True)
    """
    lam = check_positive("lambd", lambd)
    x, y = task.x_train, task.y_train
    m, d = x.shape
    k = 1 if task.n_classes == 2 else task.n_classes
    g = torch_generator(seed, "point")
    w = torch.randn(d, k, dtype=x.dtype, generator=g).requires_grad_()
    b = torch.randn(k, dtype=x.dtype, generator=g).requires_grad_()
    objective(x, y, w, b, lam).backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and b.grad is not None
    autograd = [w.grad.clone(), b.grad.clone()]
    by_hand = list(gradient(x, y, w.detach(), b.detach(), lam))
    theta = torch.cat([w.detach(), b.detach().unsqueeze(0)])
    oracle = torch.autograd.functional.hessian(  # type: ignore[no-untyped-call]
        lambda t: objective(x, y, t[:d], t[d], lam), theta
    )
    h = hessian(x, y, w.detach(), b.detach(), lam)
    w.grad, b.grad = None, None
    posterior = scaled_negative_log_posterior(x, y, w, b, lam)
    posterior.backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and b.grad is not None
    with torch.no_grad():
        # $$-\tfrac{1}{m}\log p(W, b \mid X, y) = J + \tfrac{D}{2m}\log(2\pi\tau)$$
        j_plus_c = objective(x, y, w, b, lam) + log_prior_constant(w.numel(), lam, m)
    two_class, two_class_bound = None, None
    if task.n_classes == 2:
        pair = fit_logistic(x, y, 2, lam, softmax=True)
        single = fit_logistic(x, y, 2, lam / 2)
        # $$w = w_1 - w_0, \quad b = b_1 - b_0$$ at $\lambda$ against logistic at $\lambda/2$
        difference = [pair.w[:, 1:] - pair.w[:, :1], pair.b[1:] - pair.b[:1]]
        two_class = relative_error(difference, [single.w, single.b])
        eigenvalues = torch.linalg.eigvalsh(hessian(x, y, single.w, single.b, lam / 2))
        # $$(d + 1)\,\kappa(H)\,\varepsilon, \quad \kappa(H) = h_{\max}/h_{\min}$$
        kappa = (eigenvalues[-1] / eigenvalues[0]).item()
        two_class_bound = (d + 1) * kappa * torch.finfo(x.dtype).eps
    return Identities(
        task=task.name,
        n_classes=task.n_classes,
        gradient=relative_error(by_hand, autograd),
        hessian=relative_error(h, oracle.reshape(h.shape)),
        posterior=relative_error(posterior.detach(), j_plus_c),
        posterior_gradient=relative_error([w.grad, b.grad], by_hand),
        two_class_softmax=two_class,
        two_class_bound=two_class_bound,
    )
