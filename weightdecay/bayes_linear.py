r"""Bayesian linear regression: posterior, predictive, evidence, and evidence maximization.

One target: $y \sim \mathcal{N}(Xw + b, 1/\beta)$, $w \sim \mathcal{N}(w_0, \tau I)$, flat prior
on $b$ (centred data): $1/\tau$ is the **weight precision** (scikit-learn's ``lambda_``),
$\beta$ the **noise precision** (``alpha_``).
"""

from __future__ import annotations

import math
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

__all__ = [
    "EvidenceFit",
    "EvidenceRunawayError",
    "Posterior",
    "decay_from_precisions",
    "log_evidence",
    "maximize_evidence",
    "posterior",
]


def _check_xy(x: Tensor, y: Tensor) -> None:
    n = check_matrix("x", x).shape[0]
    if check_tensor("y", y).shape != (n,):
        raise ValueError(
            f"y must be a 1-d tensor with {n} entries (one target at a time), "
            f"got shape {tuple(y.shape)}"
        )
    check_same_dtype(("x", "y"), x, y)


def decay_from_precisions(weight_precision: float, noise_precision: float, n_train: int) -> float:
    r"""Our $\lambda = 2/(\beta n\tau)$ whose ridge solution is the posterior mean (one target).

    Examples
    --------
    >>> from weightdecay.bayes_linear import decay_from_precisions
    >>> decay_from_precisions(3.0, 2.0, n_train=60)  # noise variance 1/2: lambda = 1 / (n tau)
    0.05
    """
    a = check_positive("weight_precision", weight_precision)
    b, n = check_positive("noise_precision", noise_precision), check_count("n_train", n_train)
    # $$\lambda = \frac{2}{\beta n\tau}$$
    return 2 * a / (b * n)


@dataclass(frozen=True)
class Posterior:
    r"""The Gaussian posterior $\mathcal{N}(\bar w, \Sigma)$ over the weights, and the intercept.

    `mean` $\bar w$ (d,), `cov` $\Sigma$ (d, d), `intercept` $\bar y - \bar x^\top \bar w$,
    `noise_precision` $\beta$, `x_mean` $\bar x$ and `n_train` $n$, the training rows.
    """

    mean: Tensor
    cov: Tensor
    intercept: float
    noise_precision: float
    x_mean: Tensor
    n_train: int

    def predict(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Predictive mean and standard deviation at inputs (m, d), each shape (m,).

        $\operatorname{Var}(y \mid x) = 1/\beta + 1/(\beta n) + x_c^\top\Sigma x_c$: noise,
        intercept (flat prior; `BayesianRidge.predict(..., return_std=True)` leaves it out) and
        weights; see `posterior`.
        """
        xc, noise = x - self.x_mean, 1 / self.noise_precision
        # $$\mathrm{Var}(y \mid x) = \frac{1}{\beta} + \frac{1}{\beta n} + x_c^\top \Sigma x_c$$
        variance = noise + noise / self.n_train + ((xc @ self.cov) * xc).sum(dim=1)
        return x @ self.mean + self.intercept, variance.sqrt()


def posterior(
    x: Tensor,
    y: Tensor,
    weight_precision: float,
    noise_precision: float,
    centre: Tensor | None = None,
) -> Posterior:
    r"""The weights' posterior $\mathcal{N}(\bar w, \Sigma)$ for precisions $1/\tau$ and $\beta$.

    $\Sigma = (I/\tau + \beta X_c^\top X_c)^{-1}$, $\bar w = \Sigma(\beta X_c^\top y_c + w_0/\tau)$
    for inputs (n, d), one target (n,) and `centre` $w_0$ (d,), the prior's mean (zero if None).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.bayes_linear import decay_from_precisions, posterior
    >>> from weightdecay.closed_form import ridge_closed_form
    >>> x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> x, y = x[:, :3], x[:, 3]
    >>> post = posterior(x, y, weight_precision=2.0, noise_precision=0.5)
    >>> w, b = ridge_closed_form(x, y[:, None], decay_from_precisions(2.0, 0.5, 40))
    >>> torch.allclose(post.mean, w[:, 0], rtol=1e-12), abs(post.intercept - float(b)) < 1e-12
    (True, True)
    >>> _, std = post.predict(x.mean(dim=0, keepdim=True))  # at x-bar: variance (1 + 1/n)/beta
    >>> abs(float(std[0] ** 2) / ((1 + 1 / 40) / 0.5) - 1) < 1e-15
    True
    """
    _check_xy(x, y)
    a = check_positive("weight_precision", weight_precision)
    b = check_positive("noise_precision", noise_precision)
    x_mean, y_mean = x.mean(dim=0), y.mean()
    xc, yc, d = x - x_mean, y - y_mean, x.shape[1]
    w0 = torch.zeros(d, dtype=x.dtype) if centre is None else centre
    check_tensor("centre", w0, (d,), x.dtype)
    # $$\Sigma = (I/\tau + \beta X_c^\top X_c)^{-1}$$
    precision = a * torch.eye(d, dtype=x.dtype) + b * xc.T @ xc
    cov = torch.linalg.inv(precision)
    # $$\bar w = \Sigma(\beta X_c^\top y_c + w_0/\tau)$$
    mean = torch.linalg.solve(precision, b * xc.T @ yc + a * w0)
    return Posterior(mean, cov, float(y_mean - x_mean @ mean), b, x_mean, x.shape[0])


def log_evidence(x: Tensor, y: Tensor, weight_precision: float, noise_precision: float) -> float:
    r"""$\log p(y \mid \tau, \beta)$ for the centred data, zero prior mean (as scikit-learn).

    $\frac{1}{2}\big[n\log\beta - d\log\tau - \beta\lVert y_c - X_c\bar w\rVert^2
    - \lVert\bar w\rVert^2/\tau - \log|\Sigma^{-1}| - n\log 2\pi\big]$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.bayes_linear import log_evidence
    >>> x = torch.randn(15, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> xc, yc = x[:, :2] - x[:, :2].mean(0), x[:, 2] - x[:, 2].mean()
    >>> cov = torch.eye(15, dtype=torch.float64) / 3.0 + xc @ xc.T / 0.7
    >>> direct = torch.distributions.MultivariateNormal(torch.zeros_like(yc), cov)  # marginal
    >>> abs(log_evidence(x[:, :2], x[:, 2], 0.7, 3.0) - float(direct.log_prob(yc))) < 1e-10
    True
    """
    post = posterior(x, y, weight_precision, noise_precision)
    xc, yc = x - x.mean(dim=0), y - y.mean()
    n, d = x.shape
    a, b = float(weight_precision), float(noise_precision)
    sse = float((yc - xc @ post.mean).pow(2).sum())
    # $$\frac12[n\log\beta - d\log\tau - \beta E_D - |\bar w|^2/\tau + \log|\Sigma| - n\log2\pi]$$
    terms = d * math.log(a) + n * math.log(b) - b * sse - a * float(post.mean.pow(2).sum())
    return 0.5 * (terms + float(torch.linalg.slogdet(post.cov)[1]) - n * math.log(2 * math.pi))


class EvidenceRunawayError(RuntimeError):
    r"""Evidence maximization left the valid range: a precision became non-positive or infinite.

    At $\operatorname{rank} X_c = n - 1$ the fit interpolates, $E_D \to 0$ and $\beta = (n -
    \gamma)/E_D$ grows until null-space rounding pushes $\gamma$ past $n$; see ``history``.
    """

    def __init__(self, message: str, history: list[tuple[float, float]]) -> None:
        super().__init__(message)
        self.history = history


@dataclass(frozen=True)
class EvidenceFit:
    r"""The result of `maximize_evidence`; `gamma` $= \sum_i \beta s_i/(1/\tau + \beta s_i)$."""

    posterior: Posterior
    weight_precision: float
    noise_precision: float
    gamma: float
    n_iter: int
    history: list[tuple[float, float]]


def maximize_evidence(
    x: Tensor,
    y: Tensor,
    *,
    max_iter: int = 300,
    tol: float = 1e-3,
    alpha_1: float = 0.0,
    alpha_2: float = 0.0,
    lambda_1: float = 0.0,
    lambda_2: float = 0.0,
) -> EvidenceFit:
    r"""MacKay's fixed point for $\tau$ and $\beta$ (Bishop, PRML 3.5.2), as `BayesianRidge`.

    From $\beta = 1/\mathrm{Var}(y)$, $\tau = 1$: $1/\tau \leftarrow (\gamma + 2c_1)/
    (\lVert\bar w\rVert^2 + 2c_2)$, $\beta \leftarrow (n - \gamma + 2a_1)/(E_D + 2a_2)$ until
    $\sum_i |\bar w_i - \bar w_i^{\text{old}}| <$ `tol`. scikit-learn's Gamma hyperpriors (0:
    none): $a_1$, $a_2$ = `alpha_1`, `alpha_2` on $\beta$; $c_1$, $c_2$ = `lambda_1`, `lambda_2`
    on $1/\tau$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.bayes_linear import maximize_evidence
    >>> x = torch.randn(100, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> y = x[:, :3] @ torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64) + 0.5 * x[:, 3]
    >>> fit = maximize_evidence(x[:, :3], y, tol=1e-12, max_iter=1000)
    >>> round(1 / fit.noise_precision ** 0.5, 1)  # the noise's standard deviation
    0.5
    """
    _check_xy(x, y)
    n_max, threshold = check_count("max_iter", max_iter), check_nonnegative("tol", tol)
    a1, a2 = check_nonnegative("alpha_1", alpha_1), check_nonnegative("alpha_2", alpha_2)
    l1, l2 = check_nonnegative("lambda_1", lambda_1), check_nonnegative("lambda_2", lambda_2)
    n, xc, yc = x.shape[0], x - x.mean(dim=0), y - y.mean()
    s, vectors = torch.linalg.eigh(xc.T @ xc)
    s = s.clamp_min(0)
    projected = vectors.T @ (xc.T @ yc)
    alpha, beta = 1.0, 1.0 / (float(y.var(unbiased=False)) + torch.finfo(torch.float64).eps)
    previous: Tensor | None = None
    history: list[tuple[float, float]] = []
    for iteration in range(n_max):
        # $$\bar w = V\,\mathrm{diag}\big(1/(s_i + 1/(\beta\tau))\big)\,V^\top X_c^\top y_c$$
        m = vectors @ (projected / (s + alpha / beta))
        sse = float((yc - xc @ m).pow(2).sum())
        # $$\gamma = \sum_i \frac{\beta s_i}{1/\tau + \beta s_i}$$
        gamma = float((beta * s / (alpha + beta * s)).sum())
        # $$\frac{1}{\tau} \leftarrow \frac{\gamma + 2c_1}{\lVert\bar w\rVert^2 + 2c_2}, \quad
        #   \beta \leftarrow \frac{n - \gamma + 2a_1}{E_D + 2a_2}$$
        alpha = (gamma + 2 * l1) / (float(m.pow(2).sum()) + 2 * l2)
        beta = (n - gamma + 2 * a1) / (sse + 2 * a2) if sse + 2 * a2 > 0 else math.inf
        history.append((alpha, beta))
        if not (0 < alpha < math.inf and 0 < beta < math.inf):
            raise EvidenceRunawayError(
                f"evidence maximization ran away at iteration {iteration + 1}: "
                f"weight precision {alpha:.3g}, noise precision {beta:.3g} (n={n} rows, "
                f"gamma={gamma:.6g}, but the centred inputs have rank at most "
                f"min(n - 1, d) = {min(n - 1, x.shape[1])}: the fit interpolates, the residual "
                "vanishes, and rounding-level eigenvalues of the null space inflate gamma); "
                "pass small hyperpriors, for example alpha_1 = alpha_2 > 0",
                history,
            )
        if previous is not None and float((previous - m).abs().sum()) < threshold:
            break
        previous = m
    gamma = float((beta * s / (alpha + beta * s)).sum())
    return EvidenceFit(posterior(x, y, alpha, beta), alpha, beta, gamma, iteration + 1, history)
