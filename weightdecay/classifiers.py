r"""Weight decay on linear classifiers: cross-entropy, Newton's optimum, posterior, calibration.

Logits $Z = XW + \mathbf{1}b^\top$: one logit for two classes, $p_i = \sigma(z_i)$, else one
per class, $P = \operatorname{softmax}(Z)$ (read from the columns of $W$). The objective
$J = \frac{1}{n}\sum_i\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$ (bias free) is, up to a
constant, minus the log-posterior over $n$ with $W \sim \mathcal N(0, I/(n\lambda))$.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import (
    check_count,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_same_dtype,
    check_tensor,
)
from weightdecay.prior import gaussian_log_prior, prior_variance

__all__ = [
    "LogisticFit", "NewtonDivergedError", "Reliability", "categorical_log_likelihood",
    "check_labels", "class_probabilities", "expected_calibration_error", "fit_logistic",
    "gauge_direction", "gradient", "hessian", "mean_cross_entropy", "n_outputs", "objective",
    "reliability", "scaled_negative_log_posterior", "smallest_curvature",
]  # fmt: skip


def n_outputs(n_classes: int) -> int:
    """The number of logits per row: 1 for two classes, `n_classes` otherwise.

    Examples
    --------
    >>> from weightdecay.classifiers import n_outputs
    >>> n_outputs(2), n_outputs(3)
    (1, 3)
    """
    k = check_count("n_classes", n_classes, minimum=2)
    return 1 if k == 2 else k


def check_labels(labels: object, n_classes: int, n_rows: int | None = None) -> Tensor:
    """Return `labels` if it is a 1-d integer tensor in ``[0, n_classes)`` (of `n_rows` entries).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import check_labels
    >>> check_labels(torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
    ...
    ValueError: labels must lie in [0, 3), got values from 0 to 3
    """
    k = check_count("n_classes", n_classes, minimum=2)
    if not isinstance(labels, Tensor) or labels.dtype not in (torch.int64, torch.int32):
        found = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"labels must be an int64 or int32 torch.Tensor, got {found}")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {tuple(labels.shape)}")
    if n_rows is not None and labels.shape[0] != n_rows:
        raise ValueError(f"labels must have {n_rows} entries (one per row), got {labels.shape[0]}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels must lie in [0, {k}), got values from {labels.min().item()} "
            f"to {labels.max().item()}"
        )
    return labels


def _check_problem(x: object, labels: object, w: object, b: object) -> tuple[Tensor, Tensor]:
    w_t = check_matrix("w", w)
    b_t = check_tensor("b", b, (w_t.shape[1],))
    x_t = check_matrix("x", x, columns=w_t.shape[0])
    check_same_dtype(("x", "w", "b"), x_t, w_t, b_t)
    return x_t, check_labels(labels, max(2, w_t.shape[1]), x_t.shape[0])


def class_probabilities(logits: Tensor) -> Tensor:
    r"""Every class's probability: $(1 - \sigma(z), \sigma(z))$ for one logit, else softmax.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import class_probabilities
    >>> class_probabilities(torch.zeros(1, 1)).tolist(), class_probabilities(torch.zeros(1, 4))
    ([[0.5, 0.5]], tensor([[0.2500, 0.2500, 0.2500, 0.2500]]))
    """
    if check_matrix("logits", logits).shape[1] == 1:
        p = torch.sigmoid(logits)  # $$p_i = \sigma(z_i) = 1/(1 + e^{-z_i})$$
        return torch.cat([1 - p, p], dim=1)
    # $$p_{ik} = e^{z_{ik}} / \textstyle\sum_l e^{z_{il}}$$
    return torch.softmax(logits, dim=1)


def mean_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    r"""The mean cross-entropy $\frac{1}{n}\sum_i \ell_i$, computed stably from the logits.

    $\ell_i = \log(1 + e^{z_i}) - t_i z_i$ for one logit (that of class 1), else
    $\ell_i = \log\sum_k e^{z_{ik}} - z_{i y_i}$; PyTorch's two losses are the oracles.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from weightdecay.classifiers import mean_cross_entropy
    >>> z = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y, t = torch.tensor([0, 2, 1, 1, 2, 0]), torch.tensor([0.0, 1, 1, 1, 1, 0], dtype=z.dtype)
    >>> torch.allclose(mean_cross_entropy(z, y), F.cross_entropy(z, y), rtol=1e-15)
    True
    >>> bce = F.binary_cross_entropy_with_logits(z[:, 0], t)
    >>> torch.allclose(mean_cross_entropy(z[:, :1], t.long()), bce, rtol=1e-15)
    True
    """
    n_logits = check_matrix("logits", logits).shape[1]
    check_labels(labels, max(2, n_logits), logits.shape[0])
    if n_logits == 1:
        z = logits[:, 0]
        # $$\ell_i = \log(1 + e^{(1 - 2t_i)z_i})$$ for $t_i \in \{0, 1\}$: no cancellation, and
        # no `softplus`, which returns $z$ itself above $z = 20$ (off by up to $e^{-20}$).
        sign = 1 - 2 * labels.to(z.dtype)
        return torch.logaddexp(torch.zeros_like(z), sign * z).mean()
    # $$\ell_i = \log\textstyle\sum_k e^{z_{ik}} - z_{i y_i}$$
    picked = logits.gather(1, labels.unsqueeze(1))[:, 0]
    return (torch.logsumexp(logits, dim=1) - picked).mean()


def objective(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> Tensor:
    r"""$J(W, b) = \frac{1}{n}\sum_i\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$, the bias free.

    `w` is (d, 1) and `b` (1,) for one logit, else (d, K) and (K,); at 0, $J = \log K$.

    Examples
    --------
    >>> import math, torch
    >>> from weightdecay.classifiers import objective
    >>> x, y = torch.ones(5, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1])
    >>> w, b = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    >>> math.isclose(objective(x, y, w, b, 0.1).item(), math.log(3), rel_tol=1e-15)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    _check_problem(x, labels, w, b)
    # $$J = \frac{1}{n}\sum_i \ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$$
    return mean_cross_entropy(x @ w + b, labels) + lam / 2 * w.pow(2).sum()


def gradient(
    x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float
) -> tuple[Tensor, Tensor]:
    r"""The hand-derived gradient of $J$: $(X^\top\Delta + \lambda W,\ \Delta^\top\mathbf{1})$.

    $\Delta = (P - T)/n$, with $T$ the labels as a column for one logit, else one-hot rows.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import gradient, objective
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(6, 4, generator=g).double(), torch.tensor([0, 2, 1, 1, 2, 0])
    >>> w, b = torch.randn(4, 3, generator=g).double().requires_grad_(), torch.ones(3).double()
    >>> objective(x, y, w, b, 0.3).backward()  # autograd is the oracle
    >>> torch.allclose(gradient(x, y, w.detach(), b, 0.3)[0], w.grad, rtol=1e-13)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    x, labels = _check_problem(x, labels, w, b)
    k = w.shape[1]
    p = class_probabilities(x @ w + b)[:, -k:]  # $P$ (for one logit, the column $p$)
    t = (labels.unsqueeze(1) if k == 1 else torch.nn.functional.one_hot(labels, k)).to(x.dtype)
    delta = (p - t) / x.shape[0]  # $$\Delta = \frac{1}{n}(P - T)$$
    grad_w = x.T @ delta + lam * w  # $$\partial J/\partial W = X^\top\Delta + \lambda W$$
    grad_b = delta.sum(dim=0)  # $$\partial J/\partial b = \Delta^\top\mathbf{1}$$
    return grad_w, grad_b


def hessian(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> Tensor:
    r"""The Hessian of $J$ in $\Theta = [W;\, b^\top]$, flattened by rows (labels only checked).

    With $\tilde x_i = (x_i, 1)$, $S_i = \operatorname{diag}(p_i) - p_i p_i^\top$ ($p_i(1 - p_i)$
    for one logit), $H_{ak,cl} = \frac{1}{n}\sum_i \tilde x_{ia}\tilde x_{ic}(S_i)_{kl}
    + \lambda[a = c \le d][k = l]$; singular along `gauge_direction` for two or more logits.

    Examples
    --------
    >>> import torch
    >>> from torch.autograd.functional import hessian as autograd_hessian
    >>> from weightdecay.classifiers import hessian, objective
    >>> g = torch.Generator().manual_seed(0)
    >>> x, theta = torch.randn(9, 2, generator=g).double(), torch.randn(3, 3, generator=g).double()
    >>> y = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2])
    >>> H = autograd_hessian(lambda t: objective(x, y, t[:2], t[2], 0.2), theta)
    >>> torch.allclose(hessian(x, y, theta[:2], theta[2], 0.2), H.reshape(9, 9), rtol=1e-13)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    x, labels = _check_problem(x, labels, w, b)
    (n, d), k = x.shape, w.shape[1]
    p = class_probabilities(x @ w + b)[:, -k:]
    if k == 1:
        s = (p * (1 - p)).unsqueeze(2)  # $$S_i = p_i(1 - p_i)$$
    else:
        # $$S_i = \operatorname{diag}(p_i) - p_i p_i^\top$$
        s = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    x_tilde = torch.cat([x, torch.ones(n, 1, dtype=x.dtype)], dim=1)
    # $$H_{ak,cl} = \frac{1}{n}\sum_i \tilde x_{ia}\tilde x_{ic}(S_i)_{kl}$$
    h = torch.einsum("ia,ic,ikl->akcl", x_tilde, x_tilde, s).reshape((d + 1) * k, (d + 1) * k) / n
    h.diagonal()[: d * k] += lam  # $$+\,\lambda I$$ on the weights only, none on $b$
    return h


def categorical_log_likelihood(logits: Tensor, labels: Tensor) -> Tensor:
    r"""$\log p(y \mid X, W, b) = -\sum_i \ell_i$ from a ``torch.distributions`` distribution.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import categorical_log_likelihood, mean_cross_entropy
    >>> z = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1])
    >>> torch.allclose(categorical_log_likelihood(z, y), -8 * mean_cross_entropy(z, y), rtol=1e-14)
    True
    """
    check_labels(labels, max(2, check_matrix("logits", logits).shape[1]), logits.shape[0])
    if logits.shape[1] == 1:
        bernoulli = torch.distributions.Bernoulli(logits=logits[:, 0])
        # $$\log p(y_i \mid x_i) = y_i\log p_i + (1 - y_i)\log(1 - p_i)$$
        log_p: Tensor = bernoulli.log_prob(labels.to(logits.dtype))  # type: ignore[no-untyped-call]
        return log_p.sum()
    categorical = torch.distributions.Categorical(logits=logits)
    # $$\log p(y_i \mid x_i) = \log p_{i y_i}$$
    log_q: Tensor = categorical.log_prob(labels)  # type: ignore[no-untyped-call]
    return log_q.sum()


def scaled_negative_log_posterior(
    x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float
) -> Tensor:
    r"""$-\frac{1}{n}[\log p(y \mid X, W, b) + \log p(W)]$ with $W \sim \mathcal N(0, \tau I)$.

    $\tau = 1/(n\lambda)$, $b$ flat: `objective` plus ``log_prior_constant(w.numel(), lambd, n)``.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import objective, scaled_negative_log_posterior
    >>> from weightdecay.prior import log_prior_constant
    >>> g = torch.Generator().manual_seed(0)
    >>> x, w = torch.randn(10, 2, generator=g).double(), torch.randn(2, 1, generator=g).double()
    >>> y, b = torch.tensor([0, 1] * 5), torch.tensor([0.3], dtype=torch.float64)
    >>> J = objective(x, y, w, b, 0.1) + log_prior_constant(2, 0.1, 10)
    >>> torch.allclose(scaled_negative_log_posterior(x, y, w, b, 0.1), J, rtol=1e-14)
    True
    """
    lam = check_positive("lambd", lambd)
    n = check_matrix("x", x).shape[0]
    tau = prior_variance(lam, n)  # $$\tau = \frac{1}{n\lambda}$$
    # $$-\frac{1}{n}\left[\log p(y \mid X, W, b) + \log p(W)\right]$$
    return -(categorical_log_likelihood(x @ w + b, labels) + gaussian_log_prior(w, tau)) / n


def gauge_direction(n_features: int, n_logits: int, dtype: torch.dtype) -> Tensor:
    r"""$u = (0, \dots, 0, \mathbf{1}/\sqrt{k})$: every intercept moving together (0 if $k = 1$).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import gauge_direction
    >>> gauge_direction(1, 2, torch.float64) ** 2  # d = 1, k = 2: (w_1, w_2, b_1, b_2)
    tensor([0.0000, 0.0000, 0.5000, 0.5000], dtype=torch.float64)
    """
    d, k = check_count("n_features", n_features), check_count("n_logits", n_logits)
    u = torch.zeros((d + 1) * k, dtype=dtype)
    if k > 1:
        u[d * k :] = k**-0.5
    return u


def smallest_curvature(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> float:
    r"""$J$'s curvature off `gauge_direction` $u$: $h_{\min}$, least eigenvalue of $H + uu^\top$.

    $\lVert\theta - \theta^\ast\rVert \lesssim \lVert\nabla J(\theta)\rVert / h_{\min}$ near the
    optimum (intercepts centred); $u$'s eigenvalue 1 exceeds every intercept curvature (at most
    1/2).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import fit_logistic, gradient, smallest_curvature
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(50, 3, dtype=torch.float64, generator=g)
    >>> y = (x[:, 0] + torch.randn(50, dtype=torch.float64, generator=g) > 0).long()
    >>> fit = fit_logistic(x, y, 2, lambd=0.1)
    >>> h_min = smallest_curvature(x, y, fit.w, fit.b, 0.1)
    >>> delta = 1e-6 * torch.randn(4, 1, dtype=torch.float64, generator=g)  # (W; b)
    >>> gw, gb = gradient(x, y, fit.w + delta[:3], fit.b + delta[3], 0.1)
    >>> bound = torch.cat([gw, gb[None]]).norm().item() / h_min
    >>> h_min > 0, delta.norm().item() <= 1.001 * bound
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    h = hessian(x, labels, w, b, lam)
    u = gauge_direction(w.shape[0], w.shape[1], h.dtype)
    # $$h_{\min} = \min\operatorname{eig}(H + uu^\top)$$
    return float(torch.linalg.eigvalsh(h + torch.outer(u, u))[0])


class NewtonDivergedError(RuntimeError):
    """Newton's method did not converge: `max_iter` steps spent, or the line search failed."""


@dataclass(frozen=True)
class LogisticFit:
    r"""The minimizer `w`, `b` of $J$ from `fit_logistic`; $J$, $\max|\nabla J|$ per iterate."""

    w: Tensor
    b: Tensor
    objective: list[float]
    gradient_max: list[float]

    @property
    def n_iter(self) -> int:
        """The number of Newton steps taken."""
        return len(self.objective) - 1

    def predict_proba(self, x: Tensor) -> Tensor:
        r"""`class_probabilities` of the logits $XW + \mathbf{1}b^\top$: shape (n, K)."""
        return class_probabilities(x @ self.w + self.b)


def fit_logistic(
    x: Tensor,
    labels: Tensor,
    n_classes: int,
    lambd: float,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
    softmax: bool = False,
) -> LogisticFit:
    r"""Minimize $J$ by Newton's method with backtracking, from $W = 0, b = 0$.

    Each step solves $(H + uu^\top)\delta = \nabla J$ ($u$ the `gauge_direction`; intercepts
    keep summing to 0) and halves $t$ until $\theta - t\delta$ lowers $J$ by
    $10^{-4}\,t\,\delta^\top\nabla J$; it stops after a step below `tol` times
    $\max(1, \max_j|\theta_j|)$ in every entry (error of order `tol` squared). `softmax` fits
    two logits for two classes. `NewtonDivergedError` if `max_iter` steps do not get there or
    the line search fails (e.g. separable data with `lambd` 0).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import fit_logistic, gradient
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 3, dtype=torch.float64, generator=g)
    >>> y = torch.randint(0, 3, (40,), generator=g)
    >>> fit = fit_logistic(x, y, 3, lambd=0.05)
    >>> gw, gb = gradient(x, y, fit.w, fit.b, 0.05)  # zero at the optimum
    >>> bool(gw.abs().max() < 1e-14 and gb.abs().max() < 1e-14), fit.n_iter < 10
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    k = n_classes if softmax else n_outputs(n_classes)
    threshold, steps = check_positive("tol", tol), check_count("max_iter", max_iter)
    check_labels(labels, n_classes, check_matrix("x", x).shape[0])
    d = x.shape[1]
    theta = torch.zeros(d + 1, k, dtype=x.dtype)
    u = gauge_direction(d, k, x.dtype)

    def value(t: Tensor) -> float:
        return objective(x, labels, t[:d], t[d], lam).item()

    def grad(t: Tensor) -> Tensor:
        gw, gb = gradient(x, labels, t[:d], t[d], lam)
        return torch.cat([gw, gb.unsqueeze(0)]).flatten()

    values, gmax = [value(theta)], [grad(theta).abs().max().item()]
    converged = False
    for _ in range(steps):
        g = grad(theta)
        h = hessian(x, labels, theta[:d], theta[d], lam)
        # $$(H + uu^\top)\,\delta = \nabla J$$
        delta = torch.linalg.solve(h + torch.outer(u, u), g).reshape(d + 1, k)
        # Converged once the step is below `tol` (relative); it is still taken.
        converged = delta.abs().max().item() <= threshold * max(1.0, theta.abs().max().item())
        slope, t = (delta.flatten() @ g).item(), 1.0
        # A decrease below the rounding of $J$ cannot be checked: take the full step.
        resolvable = slope > 64 * torch.finfo(torch.float64).eps * (1 + abs(values[-1]))
        # $$J(\theta - t\delta) \le J(\theta) - 10^{-4}\,t\,\delta^\top\nabla J$$
        while (
            resolvable
            and value(theta - t * delta) > values[-1] - 1e-4 * t * slope
            and t > 2.0**-30
        ):
            t /= 2
        candidate = theta - t * delta
        if resolvable and value(candidate) > values[-1]:
            raise NewtonDivergedError(
                f"the line search could not decrease J; largest gradient entry {gmax[-1]:.3e}"
            )
        theta = candidate
        values.append(value(theta))
        gmax.append(grad(theta).abs().max().item())
        if converged:
            break
    if not converged:
        raise NewtonDivergedError(
            f"the Newton step is still above tol={threshold:g} (relative) after max_iter={steps} "
            f"steps; largest gradient entry {gmax[-1]:.3e} (with lambd=0 the data may be "
            "separable: then the optimum does not exist)"
        )
    return LogisticFit(theta[:d].clone(), theta[d].clone(), values, gmax)


@dataclass(frozen=True)
class Reliability:
    """Per-bin `counts`, mean `confidence` and `accuracy` (NaN if empty) between the `edges`."""

    edges: Tensor
    counts: Tensor
    confidence: Tensor
    accuracy: Tensor

    @property
    def ece(self) -> float:
        r"""$\sum_j \frac{n_j}{n}\lvert\operatorname{acc}_j - \operatorname{conf}_j\rvert$."""
        filled = self.counts > 0
        weights = self.counts[filled].to(self.confidence.dtype) / self.counts.sum()
        gaps = (self.accuracy[filled] - self.confidence[filled]).abs()
        # $$\mathrm{ECE} = \sum_j \tfrac{n_j}{n}\lvert\mathrm{acc}_j - \mathrm{conf}_j\rvert$$
        return (weights * gaps).sum().item()


def reliability(probs: Tensor, labels: Tensor, n_bins: int = 10) -> Reliability:
    r"""Bin the top-class confidences $\max_k p_k$ into bins $((j - 1)/M,\ j/M]$, 0 in the first.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import reliability
    >>> p = torch.tensor([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2, dtype=torch.float64)
    >>> r = reliability(p, torch.tensor([0, 0, 0, 1, 1, 0]), n_bins=10)  # 3 of 4, 1 of 2 right
    >>> r.counts.tolist(), r.accuracy[[5, 8]].tolist()
    ([0, 0, 0, 0, 0, 2, 0, 0, 4, 0], [0.5, 0.75])
    >>> round(r.ece, 12)  # (2 * |0.5 - 0.6| + 4 * |0.75 - 0.9|) / 6
    0.133333333333
    """
    if not isinstance(probs, Tensor) or probs.ndim != 2 or probs.shape[1] < 2:
        found = tuple(probs.shape) if isinstance(probs, Tensor) else type(probs).__name__
        raise ValueError(f"probs must have shape (n, K) with K >= 2, got {found}")
    if not probs.is_floating_point():
        raise TypeError(f"probs must be a floating tensor, got {probs.dtype}")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError(
            f"probs must lie in [0, 1], got values from {probs.min().item()} "
            f"to {probs.max().item()}"
        )
    check_labels(labels, probs.shape[1], probs.shape[0])
    bins = check_count("n_bins", n_bins)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).to(probs.dtype)
    edges = torch.linspace(0, 1, bins + 1, dtype=probs.dtype)
    # Bin $j$ holds $((j-1)/M, j/M]$: the number of inner edges strictly below the value.
    index = torch.searchsorted(edges[1:-1], confidence, right=False)
    counts = torch.bincount(index, minlength=bins)
    sums = torch.zeros(bins, dtype=probs.dtype).index_add_(0, index, confidence)
    hits = torch.zeros(bins, dtype=probs.dtype).index_add_(0, index, correct)
    filled = counts.to(probs.dtype)
    nan = torch.full((bins,), float("nan"), dtype=probs.dtype)
    # $$\operatorname{conf}_j = \frac{1}{n_j}\sum_{i \in j}\hat p(x_i), \quad
    #   \operatorname{acc}_j = \frac{1}{n_j}\sum_{i \in j}[\hat y_i = y_i]$$
    mean_confidence = torch.where(counts > 0, sums / filled.clamp(min=1), nan)
    accuracy = torch.where(counts > 0, hits / filled.clamp(min=1), nan)
    return Reliability(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 10) -> float:
    r"""The expected calibration error $\sum_j \frac{n_j}{n}|\mathrm{acc}_j - \mathrm{conf}_j|$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.classifiers import expected_calibration_error
    >>> g = torch.Generator().manual_seed(0)
    >>> p = torch.softmax(2 * torch.randn(100_000, 3, generator=g, dtype=torch.float64), dim=1)
    >>> y = torch.multinomial(p, 1, generator=g)[:, 0]  # calibrated: labels drawn from p
    >>> sharp = torch.softmax(3 * torch.log(p), dim=1)  # overconfident
    >>> expected_calibration_error(p, y) < 0.01, expected_calibration_error(sharp, y) > 0.05
    (True, True)
    """
    return reliability(probs, labels, n_bins).ece
