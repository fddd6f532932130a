"""Classifiers with weight decay: derivations, parity with PyTorch and scikit-learn, ECE."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import PolynomialFeatures
from torch.autograd.functional import hessian as autograd_hessian
from torch.nn import functional

from weightdecay.claims import TOLERANCES
from weightdecay.classifiers import (
    NewtonDivergedError,
    categorical_log_likelihood,
    class_probabilities,
    expected_calibration_error,
    fit_logistic,
    gauge_direction,
    gradient,
    hessian,
    mean_cross_entropy,
    objective,
    reliability,
    scaled_negative_log_posterior,
    smallest_curvature,
)
from weightdecay.data import make_moons, make_task, polynomial_features
from weightdecay.metrics import relative_error
from weightdecay.models import ScratchLogisticRegression, TorchLogisticRegression
from weightdecay.penalty import decay_from_logistic_c, logistic_c
from weightdecay.prior import log_prior_constant

F64 = torch.float64
# scikit-learn's newton-cholesky solver stops at tol = 1e-14 on its gradient; at the
# smallest lambda of these tests, 1e-4, the Hessian's smallest eigenvalue can be as small
# as lambda, so its point may lie up to tol / lambda = 1e-10 from the optimum.
SKLEARN_TOLERANCE = 1e-14 / 1e-4


def problem(n: int, d: int, n_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs and labels from a random linear model plus noise (not separable)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, dtype=F64, generator=g)
    scores = x @ torch.randn(d, n_classes, dtype=F64, generator=g)
    labels = torch.argmax(scores + 1.5 * torch.randn(n, n_classes, dtype=F64, generator=g), 1)
    return x, labels


def point(d: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randn(d, k, dtype=F64, generator=g), torch.randn(k, dtype=F64, generator=g)


@settings(max_examples=40)
@given(
    n=st.integers(2, 30),
    d=st.integers(1, 5),
    n_classes=st.sampled_from([2, 3, 5]),
    lambd=st.floats(0.0, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_gradient_and_hessian_match_autograd(
    n: int, d: int, n_classes: int, lambd: float, seed: int
) -> None:
    x, y = problem(n, d, n_classes, seed)
    k = 1 if n_classes == 2 else n_classes
    w0, b0 = point(d, k, seed)
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    objective(x, y, w, b, lambd).backward()
    assert w.grad is not None and b.grad is not None
    gw, gb = gradient(x, y, w0, b0, lambd)
    assert relative_error([gw, gb], [w.grad, b.grad]) < 1e-12
    theta = torch.cat([w0, b0.unsqueeze(0)])
    oracle = autograd_hessian(lambda t: objective(x, y, t[:d], t[d], lambd), theta)
    h = hessian(x, y, w0, b0, lambd)
    assert relative_error(h, oracle.reshape(h.shape)) < 1e-12


def test_mean_cross_entropy_is_pytorchs() -> None:
    x, y = problem(20, 3, 4, seed=1)
    logits = x @ point(3, 4, 1)[0]
    assert (
        relative_error(mean_cross_entropy(logits, y), functional.cross_entropy(logits, y)) < 1e-15
    )
    x2, y2 = problem(20, 3, 2, seed=2)
    z = x2 @ point(3, 1, 2)[0]
    bce = functional.binary_cross_entropy_with_logits(z[:, 0], y2.to(F64))
    assert relative_error(mean_cross_entropy(z, y2), bce) < 1e-15


def test_cross_entropy_is_stable_for_large_logits() -> None:
    z = torch.tensor([[800.0], [-800.0]], dtype=F64)
    assert mean_cross_entropy(z, torch.tensor([1, 0])).item() == 0.0
    assert mean_cross_entropy(z, torch.tensor([0, 1])).item() == 800.0


def test_cross_entropy_keeps_its_digits_past_softplus_cutoff() -> None:
    """Beyond z = 20 PyTorch's softplus returns z itself; the loss and its gradient do not."""
    z = torch.tensor([[25.0], [30.0], [-25.0]], dtype=F64, requires_grad=True)
    y = torch.tensor([1, 1, 0])
    loss = mean_cross_entropy(z, y)
    exact = sum(math.log1p(math.exp(-v)) for v in (25.0, 30.0, 25.0)) / 3
    assert math.isclose(loss.item(), exact, rel_tol=1e-15)
    loss.backward()
    assert z.grad is not None
    # p - t without cancellation: -sigmoid(-z) where t = 1, sigmoid(z) where t = 0.
    sign = 1 - 2 * y.to(F64).unsqueeze(1)
    expected = sign * torch.sigmoid(sign * z.detach()) / 3
    assert relative_error(z.grad, expected) < 1e-15


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([0, 3, 1]), r"labels must lie in \[0, 3\), got values from 0 to 3"),
        (torch.tensor([0, -1, 1]), r"labels must lie in \[0, 3\), got values from -1 to 1"),
        (torch.tensor([0, 1]), "labels must have 3 entries"),
        (torch.tensor([[0, 1, 2]]), "labels must be 1-d"),
    ],
)
def test_bad_labels_are_named(labels: torch.Tensor, message: str) -> None:
    x = torch.zeros(3, 2, dtype=F64)
    w, b = torch.zeros(2, 3, dtype=F64), torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match=message):
        gradient(x, labels, w, b, 0.1)


def test_bad_shapes_and_types_are_named() -> None:
    x, y = torch.zeros(3, 2, dtype=F64), torch.tensor([0, 1, 2])
    w, b = torch.zeros(2, 3, dtype=F64), torch.zeros(3, dtype=F64)
    with pytest.raises(TypeError, match="labels must be an int64 or int32"):
        gradient(x, y.double(), w, b, 0.1)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\), got \(3, 4\)"):
        gradient(torch.zeros(3, 4, dtype=F64), y, w, b, 0.1)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\), got \(2,\)"):
        gradient(x, y, w, torch.zeros(2, dtype=F64), 0.1)
    with pytest.raises(ValueError, match="lambd must be >= 0, got -0.1"):
        gradient(x, y, w, b, -0.1)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        ScratchLogisticRegression(2, 1, 0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        ScratchLogisticRegression(2, 3, 0.1).step(x, y, lr=0.0)


@pytest.mark.parametrize("name", ["moons", "blobs"])
def test_scratch_follows_torch_sgd_step_by_step(name: str) -> None:
    """The scratch model against its twin with `sgd` (decay on the weight's group only)."""
    task = make_task(name)
    x, y = task.x_train, task.y_train
    twin = TorchLogisticRegression(x.shape[1], task.n_classes, seed=0)
    scratch = ScratchLogisticRegression(x.shape[1], task.n_classes, 0.01)
    scratch.copy_params(twin.layer)
    optimizer = twin.sgd(lr=0.5, weight_decay=0.01)
    shuffles = torch.Generator().manual_seed(0)
    errors = []
    for _ in range(30):
        for rows in torch.randperm(x.shape[0], generator=shuffles).split(10):
            scratch.step(x[rows], y[rows], 0.5)
            optimizer.zero_grad()
            twin.loss(x[rows], y[rows]).backward()
            optimizer.step()
            errors.append(
                relative_error(scratch.parameters(), [twin.layer.weight.T, twin.layer.bias])
            )
    assert len(errors) == 180
    assert max(errors) < TOLERANCES["classifier_steps"][F64]


def test_trajectory_comparison_can_fail() -> None:
    """Decaying the twin's bias as well (a common slip) is caught at once."""
    task = make_task("blobs")
    x, y = task.x_train, task.y_train
    twin = TorchLogisticRegression(x.shape[1], 3, seed=0)
    scratch = ScratchLogisticRegression(x.shape[1], 3, 0.01)
    scratch.copy_params(twin.layer)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.5, weight_decay=0.01)
    scratch.step(x, y, 0.5)
    optimizer.zero_grad()
    twin.loss(x, y).backward()
    optimizer.step()
    error = relative_error(scratch.parameters(), [twin.layer.weight.T, twin.layer.bias])
    assert error > 1e3 * TOLERANCES["classifier_steps"][F64]


def test_full_batch_gradient_descent_reaches_newtons_optimum() -> None:
    task = make_task("moons")
    x, y = task.x_train, task.y_train
    fit = fit_logistic(x, y, 2, 0.1)
    model = ScratchLogisticRegression(
        x.shape[1], 2, 0.1, generator=torch.Generator().manual_seed(3)
    )
    for _ in range(3000):
        model.step(x, y, lr=1.0)
    assert relative_error(model.parameters(), [fit.w, fit.b]) < 1e-10


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 80),
    d=st.integers(1, 6),
    n_classes=st.sampled_from([2, 3, 4]),
    log_lambd=st.floats(-4.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_newton_optimum_equals_sklearn(
    n: int, d: int, n_classes: int, log_lambd: float, seed: int
) -> None:
    """The converged optimum against LogisticRegression(C=1/(n lambda)), binary and multinomial.

    Tolerance: SKLEARN_TOLERANCE (1e-10 norm-wise relative, scikit-learn's tol over the
    smallest lambda).
    """
    lambd = 10.0**log_lambd
    x, y = problem(n, d, n_classes, seed)
    if len(torch.unique(y)) < n_classes:
        y[:n_classes] = torch.arange(n_classes)
    fit = fit_logistic(x, y, n_classes, lambd)
    model = LogisticRegression(C=logistic_c(lambd, n), solver="newton-cholesky", tol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x.numpy(), y.numpy())
    coef = torch.from_numpy(np.ascontiguousarray(model.coef_.T))
    intercept = torch.from_numpy(model.intercept_.astype(np.float64))
    if n_classes > 2:
        intercept, ours_b = intercept - intercept.mean(), fit.b - fit.b.mean()
    else:
        ours_b = fit.b
    tolerance = SKLEARN_TOLERANCE
    assert relative_error(coef, fit.w) < tolerance
    assert relative_error([coef, intercept], [fit.w, ours_b]) < tolerance


def centred(b: torch.Tensor) -> torch.Tensor:
    return b - b.mean() if b.numel() > 1 else b


@pytest.mark.parametrize("name", ["moons", "blobs"])
def test_smallest_curvature_bounds_sklearns_distance_to_the_optimum(name: str) -> None:
    """‖θ_sk − θ*‖ against 2‖∇J(θ_sk)‖/μ on the page's tasks (intercepts centred)."""
    task = make_task(name)
    x, y, lambd = task.x_train, task.y_train, 1e-3
    fit = fit_logistic(x, y, task.n_classes, lambd)
    model = LogisticRegression(
        C=logistic_c(lambd, x.shape[0]), solver="newton-cholesky", tol=1e-14, max_iter=1000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x.numpy(), y.numpy())
    coef = torch.from_numpy(np.ascontiguousarray(model.coef_.T))
    intercept = torch.from_numpy(model.intercept_.astype(np.float64))
    gw, gb = gradient(x, y, coef, intercept, lambd)
    g = torch.cat([gw, gb.unsqueeze(0)])
    mu = smallest_curvature(x, y, fit.w, fit.b, lambd)
    distance = (
        torch.cat([coef, centred(intercept).unsqueeze(0)])
        - torch.cat([fit.w, centred(fit.b).unsqueeze(0)])
    ).norm()
    assert g.abs().max() < 1e-12
    assert mu > 0  # J is strictly convex once the intercepts' common shift is set aside
    assert distance <= 2 * g.norm().item() / mu + 1e-15


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 30),
    d=st.integers(1, 4),
    n_classes=st.sampled_from([2, 3, 4]),
    lambd=st.floats(1e-3, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_smallest_curvature_is_the_curvature_off_the_gauge_direction(
    n: int, d: int, n_classes: int, lambd: float, seed: int
) -> None:
    """μ is positive, below every Rayleigh quotient off u, and equals one of them."""
    x, y = problem(n, d, n_classes, seed)
    k = 1 if n_classes == 2 else n_classes
    w, b = point(d, k, seed)
    mu = smallest_curvature(x, y, w, b, lambd)
    h = hessian(x, y, w, b, lambd)
    u = gauge_direction(d, k, F64)
    assert mu > 0
    if k > 1:  # H itself is blind to u: the intercepts moving together
        assert (h @ u).norm() < 1e-12 * h.norm()
    deltas = torch.randn(20, h.shape[0], dtype=F64, generator=torch.Generator().manual_seed(seed))
    deltas -= torch.outer(deltas @ u, u)  # orthogonal to u
    rayleigh = ((deltas @ h) * deltas).sum(dim=1) / deltas.pow(2).sum(dim=1)
    assert bool((rayleigh >= mu * (1 - 1e-10)).all())
    lowest = torch.linalg.eigh(h + torch.outer(u, u)).eigenvectors[:, 0]
    assert math.isclose((lowest @ h @ lowest).item(), mu, rel_tol=1e-10, abs_tol=1e-14)


def test_smallest_curvature_validates() -> None:
    x, y = problem(5, 2, 3, seed=0)
    w, b = point(2, 3, 0)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        smallest_curvature(x, y, w, b, -1.0)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        smallest_curvature(x, y, w, b[:2], 0.1)


def test_newton_refuses_a_separable_problem_without_decay() -> None:
    x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]], dtype=F64)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(NewtonDivergedError, match="separable"):
        fit_logistic(x, y, 2, 0.0, max_iter=30)
    fit = fit_logistic(x, y, 2, 1e-3)
    assert fit.w.item() > 0


def test_newton_intercepts_sum_to_zero_for_softmax() -> None:
    x, y = problem(50, 3, 4, seed=5)
    fit = fit_logistic(x, y, 4, 0.01)
    assert abs(fit.b.sum().item()) < 1e-12


def test_c_mapping_round_trips_and_validates() -> None:
    assert logistic_c(0.02, 50) == 1.0
    assert math.isclose(decay_from_logistic_c(logistic_c(3e-4, 123), 123), 3e-4, rel_tol=1e-15)
    with pytest.raises(ValueError, match="lambd must be > 0, got 0"):
        logistic_c(0.0, 10)
    with pytest.raises(ValueError, match="n_train must be >= 1"):
        logistic_c(0.1, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_logit_softmax_is_logistic_at_half_the_decay(seed: int) -> None:
    x, y = problem(60, 3, 2, seed)
    pair = fit_logistic(x, y, 2, 0.05, softmax=True)
    half = fit_logistic(x, y, 2, 0.025)
    same = fit_logistic(x, y, 2, 0.05)
    difference = [pair.w[:, 1:] - pair.w[:, :1], pair.b[1:] - pair.b[:1]]
    assert relative_error(difference, [half.w, half.b]) < 1e-10
    assert relative_error(difference, [same.w, same.b]) > 1e-3
    # The optimum splits w symmetrically: w_0 = -w_1.
    assert relative_error(pair.w[:, 0], -pair.w[:, 1]) < 1e-10


def test_two_logit_identity_holds_to_its_rounding_bound() -> None:
    """On the moons, within (d + 1) kappa(H) eps of the one-logit optimum, below 1e-10."""
    task = make_task("moons")
    x, y = task.x_train, task.y_train
    pair = fit_logistic(x, y, 2, 0.01, softmax=True)
    single = fit_logistic(x, y, 2, 0.005)
    difference = [pair.w[:, 1:] - pair.w[:, :1], pair.b[1:] - pair.b[:1]]
    eigenvalues = torch.linalg.eigvalsh(hessian(x, y, single.w, single.b, 0.005))
    bound = (x.shape[1] + 1) * (eigenvalues[-1] / eigenvalues[0]).item() * torch.finfo(F64).eps
    assert relative_error(difference, [single.w, single.b]) < bound < 1e-10


def test_posterior_is_objective_plus_constant_with_tau_one_over_m_lambda() -> None:
    for n_classes in (2, 3):
        x, y = problem(25, 4, n_classes, seed=n_classes)
        w, b = point(4, 1 if n_classes == 2 else n_classes, seed=7)
        posterior = scaled_negative_log_posterior(x, y, w, b, 0.2)
        expected = objective(x, y, w, b, 0.2) + log_prior_constant(w.numel(), 0.2, 25)
        assert relative_error(posterior, expected) < 1e-14
        # The likelihood alone is minus the summed cross-entropy.
        logits = x @ w + b
        likelihood = categorical_log_likelihood(logits, y)
        assert relative_error(likelihood, -25 * mean_cross_entropy(logits, y)) < 1e-14


@pytest.mark.parametrize("name", ["moons", "blobs"])
def test_page_identities_hold_on_the_tasks(name: str) -> None:
    """Gradient, Hessian and posterior on the page's tasks, within the page's tolerances."""
    task = make_task(name)
    x, y = task.x_train, task.y_train
    n, d = x.shape
    k = 1 if task.n_classes == 2 else task.n_classes
    w0, b0 = point(d, k, seed=0)
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    objective(x, y, w, b, 0.01).backward()
    assert w.grad is not None and b.grad is not None
    by_hand = gradient(x, y, w0, b0, 0.01)
    bound = TOLERANCES["gradient_classifier"][F64]
    assert relative_error(list(by_hand), [w.grad, b.grad]) < bound
    theta = torch.cat([w0, b0.unsqueeze(0)])
    oracle = autograd_hessian(lambda t: objective(x, y, t[:d], t[d], 0.01), theta)
    h = hessian(x, y, w0, b0, 0.01)
    assert relative_error(h, oracle.reshape(h.shape)) < TOLERANCES["hessian"][F64]
    w1, b1 = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    posterior = scaled_negative_log_posterior(x, y, w1, b1, 0.01)
    posterior.backward()
    assert w1.grad is not None and b1.grad is not None
    expected = objective(x, y, w0, b0, 0.01) + log_prior_constant(w0.numel(), 0.01, n)
    assert relative_error(posterior.detach(), expected) < TOLERANCES["posterior"][F64]
    assert relative_error([w1.grad, b1.grad], list(by_hand)) < bound


def test_reliability_matches_sklearn_calibration_curve() -> None:
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(2 * torch.randn(5000, 3, dtype=F64, generator=g), dim=1)
    labels = torch.multinomial(probs, 1, generator=g)[:, 0]
    labels[:1000] = torch.randint(0, 3, (1000,), generator=g)
    r = reliability(probs, labels, n_bins=10)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).numpy().astype(float)
    prob_true, prob_pred = calibration_curve(correct, confidence.numpy(), n_bins=10)
    filled = (r.counts > 0).numpy()
    np.testing.assert_allclose(r.accuracy.numpy()[filled], prob_true, rtol=1e-14)
    np.testing.assert_allclose(r.confidence.numpy()[filled], prob_pred, rtol=1e-14)


def test_ece_equals_a_direct_loop() -> None:
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(700, 4, dtype=F64, generator=g), dim=1)
    labels = torch.randint(0, 4, (700,), generator=g)
    confidence, predicted = probs.max(dim=1)
    total = 0.0
    for b in range(15):
        low, high = b / 15, (b + 1) / 15
        members = [
            i
            for i in range(700)
            if (low < confidence[i].item() <= high) or (b == 0 and confidence[i].item() == 0)
        ]
        if members:
            acc = sum(float(predicted[i] == labels[i]) for i in members) / len(members)
            conf = sum(confidence[i].item() for i in members) / len(members)
            total += len(members) / 700 * abs(acc - conf)
    assert math.isclose(expected_calibration_error(probs, labels, n_bins=15), total, rel_tol=1e-12)


def test_reliability_validates() -> None:
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\]"):
        reliability(torch.tensor([[1.5, -0.5]], dtype=F64), torch.tensor([0]))
    with pytest.raises(ValueError, match="probs must have shape"):
        reliability(torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([0]))
    with pytest.raises(ValueError, match="n_bins must be >= 1, got 0"):
        reliability(torch.tensor([[0.5, 0.5]], dtype=F64), torch.tensor([0]), n_bins=0)


def test_decay_lowers_confidence_along_the_grid() -> None:
    task = make_task("blobs", n_test=1000)
    confidence, accuracy = [], []
    for lambd in (1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        fit = fit_logistic(task.x_train, task.y_train, 3, lambd)
        top, predicted = fit.predict_proba(task.x_test).max(dim=1)
        confidence.append(top.mean().item())
        accuracy.append((predicted == task.y_test).double().mean().item())
    assert confidence == sorted(confidence, reverse=True)
    assert confidence[0] > accuracy[0]  # overconfident with little decay
    assert confidence[-1] < accuracy[-1]  # underconfident with much


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_predict_proba_matches_sklearn(n_classes: int) -> None:
    """The optimum's class probabilities against LogisticRegression.predict_proba."""
    x, y = problem(80, 3, n_classes, seed=n_classes)
    fit = fit_logistic(x, y, n_classes, 0.05)
    model = LogisticRegression(C=logistic_c(0.05, 80), solver="newton-cholesky", tol=1e-14)
    model.fit(x.numpy(), y.numpy())
    probs = fit.predict_proba(x)
    assert probs.shape == (80, n_classes)
    np.testing.assert_allclose(probs.numpy(), model.predict_proba(x.numpy()), rtol=1e-9)


def test_class_probabilities_are_pytorchs() -> None:
    z = torch.randn(7, 1, dtype=F64, generator=torch.Generator().manual_seed(4))
    two = class_probabilities(z)
    assert torch.equal(two[:, 1], torch.sigmoid(z[:, 0]))
    assert torch.allclose(two.sum(dim=1), torch.ones(7, dtype=F64), rtol=0, atol=1e-15)
    z3 = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(5))
    assert torch.equal(class_probabilities(z3), torch.softmax(z3, dim=1))
    with pytest.raises(ValueError, match="logits must be a 2-d tensor"):
        class_probabilities(torch.zeros(3, dtype=F64))


def test_polynomial_features_match_sklearn() -> None:
    x = torch.randn(9, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    expected = PolynomialFeatures(degree=5, include_bias=False).fit_transform(x.numpy())
    np.testing.assert_allclose(polynomial_features(x, 5).numpy(), expected, rtol=1e-14)


def test_tasks_are_seeded_and_validated() -> None:
    first, second = make_task("moons", seed=3), make_task("moons", seed=3)
    assert torch.equal(first.x_train, second.x_train)
    assert torch.equal(first.y_test, second.y_test)
    assert not torch.equal(first.points_train, make_task("moons", seed=4).points_train)
    x, y = make_moons(1000, noise=0.0)
    # Noise-free moons lie on their unit half circles.
    centre = torch.where(y.unsqueeze(1) == 1, torch.tensor([1.0, 0.5], dtype=F64), 0.0)
    assert torch.allclose((x - centre).norm(dim=1), torch.ones(1000, dtype=F64), rtol=1e-14)
    with pytest.raises(ValueError, match="name must be one of"):
        make_task("spirals")
