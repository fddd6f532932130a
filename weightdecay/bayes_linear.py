r"""Bayesian linear regression: posterior, predictive, evidence, and evidence maximization.

One target at a time: $y = Xw + b + \varepsilon$, $\varepsilon \sim \mathcal{N}(0, \beta^{-1})$,
prior $w \sim \mathcal{N}(w_0, \alpha^{-1} I)$ and a flat prior on the bias, handled by
centring $X$ and $y$. Here $\alpha$ is the **weight precision** (Bishop's $\alpha$,
scikit-learn's ``lambda_``) and $\beta$ the **noise precision** (Bishop's $\beta$,
scikit-learn's ``alpha_``); the names below say which is which.

With $X_c^\top X_c = V\,\mathrm{diag}(s)\,V^\top$:

* posterior covariance $\Sigma = (\alpha I + \beta X_c^\top X_c)^{-1}$ and mean
  $m = \Sigma(\beta X_c^\top y_c + \alpha w_0)$: ridge regression with
  $\alpha_{\text{Ridge}} = \alpha/\beta$, which is our $\lambda = 2\alpha/(\beta n)$;
* the intercept of the centred model, $b_c = b + \bar x^\top w$, has the posterior
  $\mathcal{N}(\bar y, 1/(\beta n))$ independently of $w$ (the columns of $X_c$ are
  orthogonal to the constant), so the predictive variance at $x$ is
  $1/\beta + 1/(\beta n) + x_c^\top\Sigma x_c$;
* the evidence $\log p(y \mid \alpha, \beta) = \frac{1}{2}\big[d\log\alpha + n\log\beta
  -{}\beta\lVert y_c - X_c m\rVert^2 - \alpha\lVert m\rVert^2 - \log|\Sigma^{-1}|
  -{}n\log 2\pi\big]$ (with $w_0 = 0$, as scikit-learn computes it);
* MacKay's fixed point (Bishop, PRML 3.5.2): $\gamma = \sum_i \beta s_i/(\alpha + \beta s_i)$,
  $\alpha \leftarrow \gamma/\lVert m\rVert^2$,
  $\beta \leftarrow (n - \gamma)/\lVert y_c - X_c m\rVert^2$.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative, check_positive

__all__ = [
    "EvidenceFit",
    "EvidenceRunawayError",
    "Posterior",
    "log_evidence",
    "matching_decay",
    "maximize_evidence",
    "posterior",
]


def _check_xy(x: Tensor, y: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-d tensor, got {getattr(x, 'shape', x)!r}")
    if not isinstance(y, Tensor) or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must be a 1-d tensor with {x.shape[0]} entries (one target at a time), "
            f"got {getattr(y, 'shape', y)!r}"
        )
    if x.dtype != y.dtype:
        raise TypeError(f"x and y must share a dtype, got {x.dtype} and {y.dtype}")


def matching_decay(weight_precision: float, noise_precision: float, n_samples: int) -> float:
    r"""Our $\lambda = 2\alpha/(\beta n)$ whose ridge solution is the posterior mean (one target).

    Parameters
    ----------
    weight_precision : float
        $\alpha > 0$.
    noise_precision : float
        $\beta > 0$.
    n_samples : int
        $n$.

    Returns
    -------
    float

    Examples
    --------
    With noise variance 1/2 ($\beta = 2$) this is $\lambda = \alpha/n = 1/(n\tau)$:

    >>> from weightdecay.bayes_linear import matching_decay
    >>> matching_decay(3.0, 2.0, n_samples=60)
    0.05
    """
    a = check_positive("weight_precision", weight_precision)
    b = check_positive("noise_precision", noise_precision)
    n = check_count("n_samples", n_samples)
    # $$\lambda = \frac{2\alpha}{\beta n}$$
    return 2 * a / (b * n)


@dataclass(frozen=True)
class Posterior:
    r"""The Gaussian posterior over the weights, and the intercept it implies.

    Attributes
    ----------
    mean : Tensor
        $m$, shape (d,).
    cov : Tensor
        $\Sigma$, shape (d, d).
    intercept : float
        $\bar y - \bar x^\top m$.
    noise_precision : float
        $\beta$.
    x_mean : Tensor
        $\bar x$, used to centre new inputs.
    n_samples : int
        $n$, the training rows: the intercept's posterior variance is $1/(\beta n)$.
    """

    mean: Tensor
    cov: Tensor
    intercept: float
    noise_precision: float
    x_mean: Tensor
    n_samples: int

    def predict(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Predictive mean and standard deviation, $\sigma(x)$.

        $\sigma^2(x) = 1/\beta + 1/(\beta n) + x_c^\top\Sigma x_c$: the noise, the posterior
        variance of the intercept under its flat prior, and that of the weights'
        contribution. scikit-learn's ``BayesianRidge.predict(..., return_std=True)`` leaves
        out the middle one.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (m, d).

        Returns
        -------
        tuple of Tensor
            ``(mean, std)``, each of shape (m,).

        Examples
        --------
        >>> import torch
        >>> from weightdecay.bayes_linear import posterior
        >>> x = torch.randn(30, 2, dtype=torch.float64)
        >>> y = x @ torch.tensor([1.0, -1.0], dtype=torch.float64)
        >>> mean, std = posterior(x, y, 1.0, 100.0).predict(x[:3])
        >>> bool((std > 0.1).all())  # at least the noise's 1/sqrt(beta)
        True

        At the mean of the training inputs the weights' term vanishes, leaving
        $(1 + 1/n)/\beta$:

        >>> _, std = posterior(x, y, 1.0, 100.0).predict(x.mean(dim=0, keepdim=True))
        >>> abs(float(std[0] ** 2) / ((1 + 1 / 30) / 100.0) - 1) < 1e-15  # a few eps
        True
        """
        xc = x - self.x_mean
        noise = 1 / self.noise_precision
        # $$\sigma^2(x) = \frac{1}{\beta} + \frac{1}{\beta n} + x_c^\top \Sigma x_c$$
        variance = noise + noise / self.n_samples + ((xc @ self.cov) * xc).sum(dim=1)
        return x @ self.mean + self.intercept, variance.sqrt()


def posterior(
    x: Tensor,
    y: Tensor,
    weight_precision: float,
    noise_precision: float,
    prior_mean: Tensor | None = None,
) -> Posterior:
    r"""The posterior $\mathcal{N}(m, \Sigma)$ for given precisions.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (n, d).
    y : Tensor
        One target, shape (n,).
    weight_precision : float
        $\alpha > 0$ (the prior variance is $\tau = 1/\alpha$).
    noise_precision : float
        $\beta > 0$.
    prior_mean : Tensor or None, default None
        $w_0$, shape (d,); None means zero.

    Returns
    -------
    Posterior

    Examples
    --------
    The posterior mean is the ridge solution for the matching $\lambda$:

    >>> import torch
    >>> from weightdecay.bayes_linear import matching_decay, posterior
    >>> from weightdecay.closed_form import ridge_closed_form
    >>> x, y = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    >>> post = posterior(x, y, weight_precision=2.0, noise_precision=0.5)
    >>> w, b = ridge_closed_form(x, y[:, None], matching_decay(2.0, 0.5, 40))
    >>> torch.allclose(post.mean, w[:, 0], rtol=1e-12), abs(post.intercept - float(b)) < 1e-12
    (True, True)
    """
    _check_xy(x, y)
    a = check_positive("weight_precision", weight_precision)
    b = check_positive("noise_precision", noise_precision)
    x_mean, y_mean = x.mean(dim=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    d = x.shape[1]
    w0 = torch.zeros(d, dtype=x.dtype) if prior_mean is None else prior_mean
    if w0.shape != (d,):
        raise ValueError(f"prior_mean must have shape ({d},), got {tuple(w0.shape)}")
    # $$\Sigma = (\alpha I + \beta X_c^\top X_c)^{-1}$$
    precision = a * torch.eye(d, dtype=x.dtype) + b * xc.T @ xc
    cov = torch.linalg.inv(precision)
    # $$m = \Sigma(\beta X_c^\top y_c + \alpha w_0)$$
    mean = torch.linalg.solve(precision, b * xc.T @ yc + a * w0)
    return Posterior(mean, cov, float(y_mean - x_mean @ mean), b, x_mean, x.shape[0])


def log_evidence(x: Tensor, y: Tensor, weight_precision: float, noise_precision: float) -> float:
    r"""$\log p(y \mid \alpha, \beta)$ for the centred data, zero prior mean.

    Parameters
    ----------
    x : Tensor
        Inputs (n, d).
    y : Tensor
        One target (n,).
    weight_precision, noise_precision : float
        $\alpha$ and $\beta$.

    Returns
    -------
    float

    Examples
    --------
    It equals the log-density of $y_c$ under its marginal
    $\mathcal{N}(0, \beta^{-1}I + \alpha^{-1}X_cX_c^\top)$:

    >>> import torch
    >>> from weightdecay.bayes_linear import log_evidence
    >>> x, y = torch.randn(15, 2, dtype=torch.float64), torch.randn(15, dtype=torch.float64)
    >>> xc, yc = x - x.mean(0), y - y.mean()
    >>> cov = torch.eye(15, dtype=torch.float64) / 3.0 + xc @ xc.T / 0.7
    >>> direct = torch.distributions.MultivariateNormal(torch.zeros(15, dtype=torch.float64), cov)
    >>> abs(log_evidence(x, y, 0.7, 3.0) - float(direct.log_prob(yc))) < 1e-10
    True
    """
    post = posterior(x, y, weight_precision, noise_precision)
    xc, yc = x - x.mean(dim=0), y - y.mean()
    n, d = x.shape
    a, b = float(weight_precision), float(noise_precision)
    sse = float((yc - xc @ post.mean).pow(2).sum())
    # $$\log|\Sigma^{-1}| = -\log|\Sigma|$$
    logdet_precision = -float(torch.linalg.slogdet(post.cov)[1])
    # $$\tfrac12\big[d\log\alpha + n\log\beta - \beta E_D - \alpha\lVert m\rVert^2
    #     - \log|\Sigma^{-1}| - n\log 2\pi\big]$$
    return 0.5 * (
        d * math.log(a)
        + n * math.log(b)
        - b * sse
        - a * float(post.mean.pow(2).sum())
        - logdet_precision
        - n * math.log(2 * math.pi)
    )


class EvidenceRunawayError(RuntimeError):
    r"""Evidence maximization left the valid range: a precision became non-positive or infinite.

    Centring removes one direction, so $\operatorname{rank} X_c \le \min(n - 1, d)$, and
    $\gamma = \sum_i \beta s_i/(\alpha + \beta s_i)$ can approach at most that rank. When
    $X_c$ has rank $n - 1$ (generic inputs with $n \le d + 1$ rows) and there is no
    hyperprior, the model interpolates the data: the residual sum of squares $E_D$ goes
    to zero, $\gamma \to n - 1$, $n - \gamma \to 1$, and $\beta = (n - \gamma)/E_D$ grows
    without bound. In floating point the null-space eigenvalues of $X_c^\top X_c$ are not
    zero but of the order of the machine epsilon times its largest eigenvalue; once
    $\beta s_i \gg \alpha$ each of them adds about 1 to $\gamma$, which then exceeds $n$
    and turns $\beta$ negative. The ``history`` attribute holds the
    ``(weight_precision, noise_precision)`` pairs up to that point.
    """

    def __init__(self, message: str, history: list[tuple[float, float]]) -> None:
        super().__init__(message)
        self.history = history


@dataclass(frozen=True)
class EvidenceFit:
    r"""The result of `maximize_evidence` for one target.

    Attributes
    ----------
    posterior : Posterior
        At the final precisions.
    weight_precision, noise_precision : float
        $\alpha$ and $\beta$ at convergence.
    gamma : float
        $\sum_i \beta s_i/(\alpha + \beta s_i)$, the effective number of parameters.
    n_iter : int
        Iterations run.
    history : list of tuple of float
        $(\alpha, \beta)$ after each iteration.
    """

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
    r"""MacKay's fixed-point iteration for $\alpha$ and $\beta$, as scikit-learn's `BayesianRidge`.

    Starting from $\beta = 1/\mathrm{Var}(y)$, $\alpha = 1$, repeat: posterior mean $m$,
    $\gamma = \sum_i \beta s_i/(\alpha + \beta s_i)$,
    $\alpha \leftarrow (\gamma + 2\lambda_1)/(\lVert m\rVert^2 + 2\lambda_2)$,
    $\beta \leftarrow (n - \gamma + 2\alpha_1)/(\lVert y_c - X_c m\rVert^2 + 2\alpha_2)$,
    until the summed absolute change of $m$ is below `tol`. The hyperprior parameters are
    scikit-learn's (Gamma shapes and rates on $\beta$: `alpha_1`, `alpha_2`; on $\alpha$:
    `lambda_1`, `lambda_2`); zero means none.

    Parameters
    ----------
    x : Tensor
        Inputs (n, d).
    y : Tensor
        One target (n,).
    max_iter : int, default 300
        Iteration cap.
    tol : float, default 1e-3
        Convergence threshold on $\sum_i |m_i - m_i^{\text{old}}|$.
    alpha_1, alpha_2, lambda_1, lambda_2 : float, default 0
        Gamma hyperprior parameters, each $\ge 0$.

    Returns
    -------
    EvidenceFit

    Raises
    ------
    EvidenceRunawayError
        If a precision leaves $(0, \infty)$: typically when the centred inputs can be
        interpolated (rank $n - 1$, so $n \le d + 1$) and there is no hyperprior on the
        noise precision.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.bayes_linear import maximize_evidence
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(100, 3, generator=g, dtype=torch.float64)
    >>> noise = torch.randn(100, generator=g, dtype=torch.float64)
    >>> y = x @ torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64) + 0.5 * noise
    >>> fit = maximize_evidence(x, y, tol=1e-12, max_iter=1000)
    >>> round(1 / fit.noise_precision ** 0.5, 1)  # the noise's standard deviation
    0.5
    """
    _check_xy(x, y)
    n_max = check_count("max_iter", max_iter)
    threshold = check_nonnegative("tol", tol)
    a1, a2 = check_nonnegative("alpha_1", alpha_1), check_nonnegative("alpha_2", alpha_2)
    l1, l2 = check_nonnegative("lambda_1", lambda_1), check_nonnegative("lambda_2", lambda_2)
    n = x.shape[0]
    xc, yc = x - x.mean(dim=0), y - y.mean()
    s, vectors = torch.linalg.eigh(xc.T @ xc)
    s = s.clamp_min(0)
    projected = vectors.T @ (xc.T @ yc)
    beta = 1.0 / (float(y.var(unbiased=False)) + torch.finfo(torch.float64).eps)
    alpha = 1.0

    def mean_for(alpha: float, beta: float) -> Tensor:
        # $$m = V\,\mathrm{diag}\big(1/(s_i + \alpha/\beta)\big)\,V^\top X_c^\top y_c$$
        result: Tensor = vectors @ (projected / (s + alpha / beta))
        return result

    previous: Tensor | None = None
    iteration = 0
    history: list[tuple[float, float]] = []
    for iteration in range(n_max):
        m = mean_for(alpha, beta)
        sse = float((yc - xc @ m).pow(2).sum())
        # $$\gamma = \sum_i \frac{\beta s_i}{\alpha + \beta s_i}$$
        gamma = float((beta * s / (alpha + beta * s)).sum())
        # $$\alpha \leftarrow \frac{\gamma}{\lVert m\rVert^2},
        #   \qquad \beta \leftarrow \frac{n - \gamma}{E_D}$$
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
    post = posterior(x, y, alpha, beta)
    gamma = float((beta * s / (alpha + beta * s)).sum())
    return EvidenceFit(post, alpha, beta, gamma, iteration + 1, history)
