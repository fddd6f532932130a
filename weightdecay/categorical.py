r"""The Bayesian reading of a decayed classifier: MAP under a categorical likelihood.

A classifier's outputs *are* a distribution over the labels: $p(y_i = k \mid x_i, W, b)
= p_{ik}$ (for two classes, a Bernoulli with parameter $p_i$). The log-likelihood of
the labels is therefore minus the summed cross-entropy, with no noise model to assume
and no variance to fix, unlike the squared error, whose MAP reading depends on a noise
variance $\sigma^2$ (the mean Gaussian negative log-likelihood is
$\text{MSE}/(2\sigma^2)$ plus a constant, see `weightdecay.likelihood`):

$$\log p(y \mid X, W, b) = -\sum_{i=1}^{m}\ell_i(W, b).$$

With the prior $W \sim \mathcal N(0, \tau I)$ and a flat prior on $b$,

$$-\frac{1}{m}\log p(W, b \mid X, y) = \frac{1}{m}\sum_i\ell_i + \frac{1}{2m\tau}\lVert W\rVert_F^2
+ \frac{D}{2m}\log(2\pi\tau) + \text{const},$$

which is $J$ plus a constant exactly when $\lambda = 1/(m\tau)$: the map
`weightdecay.prior.prior_variance` already gives, with $N = m$ rows (the cross-entropy
averages over rows, not over classes). Here $\tau$ is the prior variance of every
weight, so $\sqrt{\tau}$ is the typical size of the change in a logit per unit change
of a standardized feature, before seeing data: a small $\tau$ (large $\lambda$) keeps
logits small and predictions near uniform, a large one lets them grow.
"""

from __future__ import annotations

import torch
from torch import Tensor

from weightdecay._checks import check_positive
from weightdecay.cross_entropy import check_labels
from weightdecay.prior import gaussian_log_prior, prior_variance

__all__ = ["categorical_log_likelihood", "scaled_negative_log_posterior"]


def categorical_log_likelihood(logits: Tensor, labels: Tensor) -> Tensor:
    r"""$\log p(y \mid X, W, b)$ summed over rows, from `torch.distributions`.

    A ``Bernoulli(logits=z)`` for one logit per row, a ``Categorical(logits=z)``
    otherwise: an implementation independent of `weightdecay.cross_entropy`.

    Parameters
    ----------
    logits : Tensor
        Shape (m, 1) or (m, K).
    labels : Tensor
        Integer labels, shape (m,).

    Returns
    -------
    Tensor
        A scalar, differentiable in `logits`.

    Examples
    --------
    It is minus $m$ times the mean cross-entropy:

    >>> import torch
    >>> from weightdecay.categorical import categorical_log_likelihood
    >>> from weightdecay.cross_entropy import mean_cross_entropy
    >>> z, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1, 0, 0, 1])
    >>> torch.allclose(categorical_log_likelihood(z, y), -8 * mean_cross_entropy(z, y), rtol=1e-14)
    True
    """
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        raise ValueError(f"logits must be a 2-d tensor, got {logits!r}")
    check_labels(labels, max(2, logits.shape[1]), logits.shape[0])
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
    r"""Minus the log-posterior over $m$, with prior variance $\tau = 1/(m\lambda)$ on $W$.

    $-\frac{1}{m}[\log p(y \mid X, W, b) + \log\mathcal N(W \mid 0, \tau I)]$; the
    bias has a flat prior, so it contributes no term.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (m, d).
    labels : Tensor
        Integer labels, shape (m,).
    w, b : Tensor
        Weights (d, 1) or (d, K) and bias (1,) or (K,); the bias has a flat prior.
    lambd : float
        $\lambda > 0$.

    Returns
    -------
    Tensor
        A scalar, differentiable in `w` and `b`: `objective` plus
        `log_prior_constant(w.numel(), lambd, m)`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.categorical import scaled_negative_log_posterior
    >>> from weightdecay.cross_entropy import objective
    >>> from weightdecay.prior import log_prior_constant
    >>> x, y = torch.randn(10, 2, dtype=torch.float64), torch.tensor([0, 1] * 5)
    >>> w, b = torch.randn(2, 1, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    >>> posterior = scaled_negative_log_posterior(x, y, w, b, 0.1)
    >>> J = objective(x, y, w, b, 0.1) + log_prior_constant(2, 0.1, 10)
    >>> torch.allclose(posterior, J, rtol=1e-14)
    True
    """
    lam = check_positive("lambd", lambd)
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-d tensor, got {x!r}")
    m = x.shape[0]
    # $$\tau = \frac{1}{m\lambda}$$
    tau = prior_variance(lam, m)
    # $$-\frac{1}{m}\left[\log p(y \mid X, W, b) + \log p(W)\right]$$
    return -(categorical_log_likelihood(x @ w + b, labels) + gaussian_log_prior(w, tau)) / m
