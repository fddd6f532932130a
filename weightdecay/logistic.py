r"""Where L2-regularized logistic regression ends up: Newton's method, and scikit-learn's C.

scikit-learn's `LogisticRegression` (L2 penalty, any solver but liblinear) minimizes

$$C\sum_{i=1}^{m}\ell_i(W, b) + \frac{1}{2}\lVert W\rVert_F^2,$$

the intercept unpenalized. Dividing by $Cm > 0$ leaves the minimizer unchanged and gives
$\frac{1}{m}\sum_i\ell_i + \frac{1}{2Cm}\lVert W\rVert_F^2$, which is $J$ with

$$\lambda = \frac{1}{Cm}, \qquad C = \frac{1}{m\lambda}.$$

$J$ has no closed-form minimizer, but its gradient and Hessian
(`weightdecay.cross_entropy`) give Newton's method, which converges quadratically: a
few iterations reach the optimum to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative, check_positive
from weightdecay.cross_entropy import (
    check_labels,
    class_probabilities,
    gradient,
    hessian,
    n_outputs,
    objective,
)

__all__ = [
    "LogisticFit",
    "NewtonDivergedError",
    "decay_from_logistic_c",
    "fit_logistic",
    "gauge_direction",
    "logistic_c",
    "smallest_curvature",
]


def logistic_c(lambd: float, n_samples: int) -> float:
    r"""scikit-learn's ``C`` for decay $\lambda$ on $m$ samples: $C = 1/(m\lambda)$.

    Parameters
    ----------
    lambd : float
        $\lambda > 0$ (``C = inf`` would mean no penalty; pass it explicitly).
    n_samples : int
        $m$, the rows the mean cross-entropy averages over.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If `lambd` is not finite and positive, or `n_samples` not a positive integer.

    Examples
    --------
    >>> from weightdecay.logistic import decay_from_logistic_c, logistic_c
    >>> logistic_c(0.01, 200)
    0.5
    >>> decay_from_logistic_c(logistic_c(0.01, 200), 200)
    0.01
    """
    lam = check_positive("lambd", lambd)
    m = check_count("n_samples", n_samples)
    # $$C = \frac{1}{m\lambda}$$
    return 1.0 / (m * lam)


def decay_from_logistic_c(c: float, n_samples: int) -> float:
    r"""The decay $\lambda = 1/(Cm)$ that scikit-learn's ``C`` means on $m$ samples.

    Parameters
    ----------
    c : float
        ``C > 0``.
    n_samples : int
        $m$.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If `c` is not finite and positive, or `n_samples` not a positive integer.

    Examples
    --------
    >>> from weightdecay.logistic import decay_from_logistic_c
    >>> decay_from_logistic_c(1.0, 100)
    0.01
    """
    c_value = check_positive("c", c)
    m = check_count("n_samples", n_samples)
    # $$\lambda = \frac{1}{Cm}$$
    return 1.0 / (c_value * m)


_ROUNDING = 64 * torch.finfo(torch.float64).eps


def gauge_direction(n_features: int, n_logits: int, dtype: torch.dtype) -> Tensor:
    r"""$u = (0, \dots, 0, \mathbf{1}/\sqrt{k})$: every intercept moving together (0 if $k = 1$).

    For $k \ge 2$ logits the Hessian of $J$ in $\Theta = [W;\, b^\top]$ (flattened row
    by row) is blind to $u$, and adding $uu^\top$ makes it invertible without changing
    its action on directions orthogonal to $u$.

    Parameters
    ----------
    n_features : int
        $d$.
    n_logits : int
        $k$.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        Shape ((d + 1) k,).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.logistic import gauge_direction
    >>> u = gauge_direction(1, 2, torch.float64)   # d = 1, k = 2: (w_1, w_2, b_1, b_2)
    >>> u[:2].tolist(), bool(u[2] == u[3]), abs(u.norm().item() - 1) < 1e-15
    ([0.0, 0.0], True, True)
    """
    d, k = check_count("n_features", n_features), check_count("n_logits", n_logits)
    u = torch.zeros((d + 1) * k, dtype=dtype)
    if k > 1:
        u[d * k :] = k**-0.5
    return u


def smallest_curvature(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> float:
    r"""$\mu$: the smallest eigenvalue of $H + uu^\top$, the Hessian of $J$ at $(W, b)$.

    $u$ is `gauge_direction`, along which $H$ is blind for two or more logits (every
    intercept moving together changes no probability); adding $uu^\top$ leaves the
    curvature in every other direction as it is. Its eigenvalue 1 along $u$ is never the
    smallest: along a unit change $v$ of the intercepts alone, the curvature is the mean
    over rows of $v^\top S_i v$, the variance of $v$'s entries under $p_i$, at most $1/2$.
    Near a minimizer $\theta^\ast$ the
    gradient at $\theta$ is $H(\theta - \theta^\ast)$ to first order, so

    $$\lVert\theta - \theta^\ast\rVert \lesssim \lVert\nabla J(\theta)\rVert / \mu,$$

    with $\theta - \theta^\ast$ taken orthogonal to $u$ (intercepts centred): how far
    another solver's answer can be from the optimum, read off its gradient.

    Parameters
    ----------
    x, labels, w, b, lambd
        As in `weightdecay.cross_entropy.objective`.

    Returns
    -------
    float
        $\mu$; positive for $\lambda > 0$.

    Examples
    --------
    A point a small step $\delta$ from the optimum is no farther than its gradient's
    norm over $\mu$ (up to second-order terms):

    >>> import torch
    >>> from weightdecay.cross_entropy import gradient
    >>> from weightdecay.logistic import fit_logistic, smallest_curvature
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(50, 3, dtype=torch.float64, generator=g)
    >>> y = (x[:, 0] + torch.randn(50, dtype=torch.float64, generator=g) > 0).long()
    >>> fit = fit_logistic(x, y, 2, lambd=0.1)
    >>> mu = smallest_curvature(x, y, fit.w, fit.b, 0.1)
    >>> delta = 1e-6 * torch.randn(4, 1, dtype=torch.float64, generator=g)  # (W; b)
    >>> gw, gb = gradient(x, y, fit.w + delta[:3], fit.b + delta[3], 0.1)
    >>> gradient_norm = torch.cat([gw, gb.unsqueeze(0)]).norm().item()
    >>> mu > 0, delta.norm().item() <= 1.001 * gradient_norm / mu
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    h = hessian(x, labels, w, b, lam)
    u = gauge_direction(w.shape[0], w.shape[1], h.dtype)
    # $$\mu = \lambda_{\min}(H + uu^\top)$$
    return float(torch.linalg.eigvalsh(h + torch.outer(u, u))[0])


class NewtonDivergedError(RuntimeError):
    """Newton's method did not reach the requested gradient within `max_iter` steps."""


@dataclass(frozen=True)
class LogisticFit:
    r"""The minimizer of $J$ found by Newton's method.

    Attributes
    ----------
    w : Tensor
        Shape (d, 1) for two classes, else (d, K).
    b : Tensor
        Shape (1,) or (K,); for $K \ge 3$ it sums to zero (see `fit_logistic`).
    objective : list of float
        $J$ after each iteration, the starting point first.
    gradient_max : list of float
        The largest absolute entry of $\nabla J$ at each of those points.
    """

    w: Tensor
    b: Tensor
    objective: list[float]
    gradient_max: list[float]

    @property
    def n_iter(self) -> int:
        """The number of Newton steps taken."""
        return len(self.objective) - 1

    def predict_proba(self, x: Tensor) -> Tensor:
        r"""Every class's probability at the optimum, from the logits $XW + \mathbf{1}b^\top$.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (n, d), the dtype of the fit.

        Returns
        -------
        Tensor
            Shape (n, K), rows summing to 1 (for one logit, the columns $1 - p$ and $p$).

        Examples
        --------
        >>> import torch
        >>> from weightdecay.logistic import fit_logistic
        >>> x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]], dtype=torch.float64)
        >>> fit = fit_logistic(x, torch.tensor([0, 0, 1, 1]), 2, lambd=0.1)
        >>> p = fit.predict_proba(x)
        >>> tuple(p.shape), p.argmax(dim=1).tolist()
        ((4, 2), [0, 0, 1, 1])
        """
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
    r"""Minimize $J$ by Newton's method with a backtracking line search, from $W = 0, b = 0$.

    Each iteration solves $H\delta = \nabla J$ and halves the step $\theta - t\delta$
    until $J$ decreases by at least $10^{-4}\,t\,\delta^\top\nabla J$ (Armijo). For
    $K \ge 3$ the Hessian is singular along $u = (0, \dots, 0, \mathbf{1}/\sqrt K)$
    (the intercepts moving together); $\nabla J \perp u$, so $(H + uu^\top)\delta = \nabla J$
    has the solution of $H\delta = \nabla J$ with $\delta \perp u$, and the intercepts keep
    summing to zero. Only $b - \bar b\mathbf 1$ is identified.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (m, d), float64 recommended.
    labels : Tensor
        Integer labels in ``[0, n_classes)``, shape (m,).
    n_classes : int
        $K \ge 2$.
    lambd : float
        $\lambda \ge 0$; with 0 the optimum may not exist (separable data).
    tol : float, default 1e-10
        Stop after the step whose Newton direction $\delta$ has every entry at most
        `tol` times $\max(1, \max_j|\theta_j|)$. Newton's method converges
        quadratically, so that last step leaves an error of order `tol` squared.
    max_iter : int, default 100
        Newton steps allowed.
    softmax : bool, default False
        For two classes, use two logits (a two-class softmax) instead of one.

    Returns
    -------
    LogisticFit

    Raises
    ------
    NewtonDivergedError
        If the step is still above `tol` after `max_iter` steps, or the line
        search cannot decrease $J$ (the message gives the last gradient).
    TypeError, ValueError
        For malformed inputs.

    Examples
    --------
    At the optimum the hand-derived gradient vanishes:

    >>> import torch
    >>> from weightdecay.cross_entropy import gradient
    >>> from weightdecay.logistic import fit_logistic
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 3, dtype=torch.float64, generator=g)
    >>> y = torch.randint(0, 3, (40,), generator=g)
    >>> fit = fit_logistic(x, y, 3, lambd=0.05)
    >>> gw, gb = gradient(x, y, fit.w, fit.b, 0.05)
    >>> bool(gw.abs().max() < 1e-14 and gb.abs().max() < 1e-14), fit.n_iter < 10
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    k = n_classes if softmax else n_outputs(n_classes)
    threshold = check_positive("tol", tol)
    steps = check_count("max_iter", max_iter)
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-d tensor, got {x!r}")
    check_labels(labels, n_classes, x.shape[0])
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
        # Converged: the Newton step is below `tol` relative to the parameters. It is
        # still taken, which squares the remaining error.
        converged = delta.abs().max().item() <= threshold * max(1.0, theta.abs().max().item())
        slope = (delta.flatten() @ g).item()
        t = 1.0
        # Once the predicted decrease is below the rounding of $J$, comparing values of $J$
        # says nothing: take the full Newton step (the quadratic phase).
        resolvable = slope > _ROUNDING * (1 + abs(values[-1]))
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
            f"the Newton step is still above tol={threshold:g} (relative) after "
            f"max_iter={steps} steps; largest gradient entry {gmax[-1]:.3e} (with lambd=0 "
            "the data may be separable: then the optimum does not exist)"
        )
    return LogisticFit(theta[:d].clone(), theta[d].clone(), values, gmax)
