r"""Closed forms for linear regression with weight decay: ridge, its eigen view, early stopping.

Our objective averages the squared error over all $nk$ entries and decays $W$ only,
optionally towards a centre $W_0$:

$$J(W, b) = \frac{1}{nk}\lVert Y - XW - \mathbf{1}b^\top\rVert_F^2
+ \frac{\lambda}{2}\lVert W - W_0\rVert_F^2 .$$

Setting $\partial J/\partial b = 0$ gives $b = \bar y - W^\top\bar x$, which leaves the
centred problem in $X_c = X - \mathbf{1}\bar x^\top$, $Y_c = Y - \mathbf{1}\bar y^\top$.
Setting $\partial J/\partial W = 0$ and multiplying by $nk/2$:

$$(X_c^\top X_c + \alpha I)\,W = X_c^\top Y_c + \alpha W_0, \qquad \alpha = \frac{nk\lambda}{2},$$

scikit-learn's `Ridge(alpha=...)` (with $W_0 = 0$). For every $\lambda > 0$ the matrix is
positive definite, so the solution exists and is unique; at $\lambda = 0$ it is unique
only when $X_c$ has full column rank. With the eigendecomposition
$X_c^\top X_c = V\,\mathrm{diag}(s)\,V^\top$, the ridge solution is, along each
eigen-direction with $s_i > 0$, the least-squares solution multiplied by
$s_i/(s_i + \alpha)$, and zero along directions with $s_i = 0$; gradient descent from
zero, stopped after $t$ steps, multiplies it by $1 - (1 - \eta' s_i)^t$ instead,
$\eta' = 2\eta/(nk)$ being the step on the quadratic's curvature scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.optimize import minimize_scalar
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative, check_positive
from weightdecay.optim.sgd import SGD
from weightdecay.ridge import ridge_alpha

__all__ = [
    "Descent",
    "Shrinkage",
    "descent_to_ridge",
    "early_stopping_filter",
    "gd_iterate",
    "matching_lambda",
    "ridge_closed_form",
    "shrinkage",
]


def _centred(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-d tensor, got {getattr(x, 'shape', x)!r}")
    if not isinstance(y, Tensor) or y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must be a 2-d tensor with {x.shape[0]} rows, got {getattr(y, 'shape', y)!r}"
        )
    if x.dtype != y.dtype:
        raise TypeError(f"x and y must share a dtype, got {x.dtype} and {y.dtype}")
    x_mean, y_mean = x.mean(dim=0), y.mean(dim=0)
    return x - x_mean, y - y_mean, x_mean, y_mean


def ridge_closed_form(
    x: Tensor, y: Tensor, lambd: float, centre: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""Minimize $J(W, b)$ exactly: $(X_c^\top X_c + \alpha I)W = X_c^\top Y_c + \alpha W_0$.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (n, d).
    y : Tensor
        Targets, shape (n, k), same dtype.
    lambd : float
        $\lambda \ge 0$. Every $\lambda > 0$ has a unique minimizer; 0 gives least
        squares, which is unique (and solvable here) only if $X_c$ has full column rank.
    centre : Tensor or None, default None
        $W_0$, shape (d, k); None means zero.

    Returns
    -------
    tuple of Tensor
        ``(W, b)`` of shapes (d, k) and (k,).

    Raises
    ------
    ValueError, TypeError
        On malformed shapes or dtypes, or a negative `lambd`.

    Examples
    --------
    The gradient of $J$ vanishes there, and scikit-learn agrees:

    >>> import torch
    >>> from sklearn.linear_model import Ridge
    >>> from weightdecay.closed_form import ridge_closed_form
    >>> from weightdecay.ridge import ridge_alpha
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    >>> y = torch.randn(30, 2, generator=g, dtype=torch.float64)
    >>> w, b = ridge_closed_form(x, y, lambd=0.5)
    >>> fit = Ridge(alpha=ridge_alpha(0.5, 30, 2)).fit(x.numpy(), y.numpy())
    >>> torch.allclose(w, torch.from_numpy(fit.coef_.T), rtol=1e-12, atol=1e-14)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    xc, yc, x_mean, y_mean = _centred(x, y)
    n, d = x.shape
    k = y.shape[1]
    alpha = ridge_alpha(lam, n, k)
    # $$(X_c^\top X_c + \alpha I)\,W = X_c^\top Y_c + \alpha W_0$$
    lhs = xc.T @ xc + alpha * torch.eye(d, dtype=x.dtype)
    rhs = xc.T @ yc
    if centre is not None:
        if centre.shape != (d, k):
            raise ValueError(f"centre must have shape {(d, k)}, got {tuple(centre.shape)}")
        rhs = rhs + alpha * centre
    w = torch.linalg.solve(lhs, rhs)
    # $$b = \bar y - W^\top \bar x$$
    b = y_mean - x_mean @ w
    return w, b


@dataclass(frozen=True)
class Shrinkage:
    r"""The eigen view of ridge regression for one design and one $\lambda$.

    Attributes
    ----------
    eigenvalues : Tensor
        $s_i$, the eigenvalues of $X_c^\top X_c$, descending.
    factors : Tensor
        $s_i/(s_i + \alpha)$ for each direction; at $\alpha = 0$, 1 for the directions
        of the column space of $X_c$ and 0 for the others.
    alpha : float
        $nk\lambda/2$.
    """

    eigenvalues: Tensor
    factors: Tensor
    alpha: float

    @property
    def effective_parameters(self) -> float:
        r"""$\gamma = \sum_i s_i/(s_i + \alpha)$, the effective number of parameters.

        At $\lambda = 0$ it is the rank of $X_c$, which is $d$ only for full column rank.
        """
        return float(self.factors.sum())


def shrinkage(x: Tensor, lambd: float, n_targets: int = 1) -> Shrinkage:
    r"""Shrinkage factors $s_i/(s_i + \alpha)$ of the eigen-directions of $X_c^\top X_c$.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (n, d).
    lambd : float
        $\lambda \ge 0$.
    n_targets : int, default 1
        $k$, which enters $\alpha = nk\lambda/2$.

    Returns
    -------
    Shrinkage

    Notes
    -----
    At $\alpha = 0$ a direction counts as kept when its eigenvalue exceeds
    $s_{\max}\max(n, d)\,\varepsilon$, the rounding level of forming $X_c^\top X_c$ and
    of its eigendecomposition (the threshold NumPy's ``matrix_rank`` uses), so that
    $\gamma$ is the rank of $X_c$.

    Examples
    --------
    With no decay every direction of a full-rank design is kept whole; $\gamma$ counts
    the parameters, and a repeated column does not count:

    >>> import torch
    >>> from weightdecay.closed_form import shrinkage
    >>> x = torch.randn(50, 3, dtype=torch.float64)
    >>> shrinkage(x, 0.0).effective_parameters
    3.0
    >>> 0 < shrinkage(x, 1.0).effective_parameters < 3
    True
    >>> shrinkage(torch.cat([x, 2 * x[:, :1]], dim=1), 0.0).effective_parameters
    3.0
    """
    lam = check_nonnegative("lambd", lambd)
    k = check_count("n_targets", n_targets)
    xc = x - x.mean(dim=0)
    n = x.shape[0]
    alpha = ridge_alpha(lam, n, k)
    eigenvalues = torch.linalg.eigvalsh(xc.T @ xc).flip(0).clamp_min(0)
    if alpha > 0:
        # $$f_i = \frac{s_i}{s_i + \alpha}$$
        factors = eigenvalues / (eigenvalues + alpha)
    else:
        # $$f_i = [\,s_i > s_{\max}\max(n, d)\,\varepsilon\,]$$
        level = float(eigenvalues.max()) * max(x.shape) * torch.finfo(x.dtype).eps
        factors = (eigenvalues > level).to(x.dtype)
    return Shrinkage(eigenvalues, factors, alpha)


def early_stopping_filter(eigenvalues: Tensor, lr: float, steps: int, n_terms: int) -> Tensor:
    r"""The factor $1 - (1 - \eta' s_i)^t$, $\eta' = 2\eta/N$, of gradient descent from zero.

    Parameters
    ----------
    eigenvalues : Tensor
        $s_i$.
    lr : float
        Our learning rate $\eta$ on the objective that averages over $N$ terms.
    steps : int
        $t \ge 0$.
    n_terms : int
        $N = nk$.

    Returns
    -------
    Tensor

    Notes
    -----
    Where $\eta' s_i < 1$ the factor is evaluated as
    $-\operatorname{expm1}\big(t\,\operatorname{log1p}(-\eta' s_i)\big)$, which keeps
    its relative accuracy when $\eta' s_i$ is tiny; the power form would lose the digits
    of $\eta' s_i$ that rounding $1 - \eta' s_i$ drops.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import early_stopping_filter
    >>> early_stopping_filter(torch.tensor([0.0, 1.0, 50.0]), lr=0.5, steps=3, n_terms=100)
    tensor([0.0000, 0.0297, 0.8750])
    """
    eta = check_positive("lr", lr)
    t = check_count("steps", steps, minimum=0)
    n = check_count("n_terms", n_terms)
    largest = float(eigenvalues.max()) if eigenvalues.numel() else 0.0
    if 2 * eta / n * largest >= 2:
        raise ValueError(
            f"lr must be < N / s_max = {n / largest:.6g} for gradient descent to converge "
            f"on this design, got {lr!r}"
        )
    step = 2 * eta / n * eigenvalues
    # $$1 - (1 - \eta' s_i)^t, \qquad \eta' = 2\eta/N$$
    power = 1 - (1 - step) ** t
    # For $\eta' s_i \ll 1$ the power form loses the digits of $\eta' s_i$ that rounding
    # $1 - \eta' s_i$ drops (a relative error near $\varepsilon/(\eta' s_i)$); the same
    # factor as $-\operatorname{expm1}\big(t\operatorname{log1p}(-\eta' s_i)\big)$ keeps them.
    # $$1 - (1 - \eta' s_i)^t = -\operatorname{expm1}\big(t\,\log(1 - \eta' s_i)\big)$$
    small = (step < 1) & (t > 0)
    accurate = -torch.expm1(t * torch.log1p(-torch.where(small, step, torch.zeros_like(step))))
    return torch.where(small, accurate, power)


def gd_iterate(x: Tensor, y: Tensor, lr: float, steps: int) -> Tensor:
    r"""Gradient descent on the centred least-squares quadratic, from zero, in closed form.

    $W_t = V\,\mathrm{diag}\big((1 - (1 - \eta' s_i)^t)/s_i\big)\,V^\top X_c^\top Y_c$
    (directions with $s_i = 0$ stay at zero).

    Parameters
    ----------
    x, y : Tensor
        Inputs (n, d) and targets (n, k).
    lr : float
        $\eta$ for the objective $\frac{1}{nk}\lVert Y_c - X_cW\rVert_F^2$.
    steps : int
        $t$.

    Returns
    -------
    Tensor
        $W_t$, shape (d, k).

    Examples
    --------
    It equals running the steps:

    >>> import torch
    >>> from weightdecay.closed_form import gd_iterate
    >>> g = torch.Generator().manual_seed(1)
    >>> x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    >>> y = torch.randn(20, 2, generator=g, dtype=torch.float64)
    >>> xc, yc = x - x.mean(0), y - y.mean(0)
    >>> w = torch.zeros(3, 2, dtype=torch.float64)
    >>> for _ in range(7):
    ...     w = w - 0.1 * 2 / 40 * xc.T @ (xc @ w - yc)
    >>> torch.allclose(gd_iterate(x, y, lr=0.1, steps=7), w, rtol=1e-12, atol=1e-15)
    True
    """
    xc, yc, _, _ = _centred(x, y)
    eigenvalues, vectors = torch.linalg.eigh(xc.T @ xc)
    n_terms = y.numel()
    filt = early_stopping_filter(eigenvalues, lr, steps, n_terms)
    safe = torch.where(eigenvalues > 0, eigenvalues, torch.ones_like(eigenvalues))
    gain = torch.where(eigenvalues > 0, filt / safe, torch.zeros_like(eigenvalues))
    # $$W_t = V\,\mathrm{diag}\big(f_i / s_i\big)\,V^\top X_c^\top Y_c$$
    w: Tensor = vectors @ (gain[:, None] * (vectors.T @ (xc.T @ yc)))
    return w


def matching_lambda(x: Tensor, lr: float, steps: int, n_targets: int = 1) -> float:
    r"""The $\lambda$ whose ridge filter $s_i/(s_i + \alpha)$ best matches early stopping's.

    Minimizes $\sum_i \big(s_i/(s_i + \alpha) - (1 - (1 - \eta' s_i)^t)\big)^2$ over
    $\log\lambda$.

    Parameters
    ----------
    x : Tensor
        Inputs (n, d).
    lr : float
        $\eta$.
    steps : int
        $t \ge 1$.
    n_targets : int, default 1
        $k$.

    Returns
    -------
    float
        $\lambda$.

    Examples
    --------
    More steps match a weaker decay:

    >>> import torch
    >>> from weightdecay.closed_form import matching_lambda
    >>> scales = torch.logspace(-1, 0.5, 6, dtype=torch.float64)
    >>> x = torch.randn(40, 6, dtype=torch.float64) * scales
    >>> matching_lambda(x, lr=0.01, steps=10) > matching_lambda(x, lr=0.01, steps=100)
    True
    """
    check_count("steps", steps)
    k = check_count("n_targets", n_targets)
    n = x.shape[0]
    eigenvalues = shrinkage(x, 0.0).eigenvalues
    target = early_stopping_filter(eigenvalues, lr, steps, n * k)

    def mismatch(log_lambda: float) -> float:
        alpha = ridge_alpha(math.exp(log_lambda), n, k)
        return float(((eigenvalues / (eigenvalues + alpha) - target) ** 2).sum())

    result = minimize_scalar(
        mismatch, bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-10}
    )
    return math.exp(float(result.x))


@dataclass(frozen=True)
class Descent:
    r"""Full-batch gradient descent with weight decay, measured against the closed form.

    The error splits into modes that contract independently: one per eigen-direction
    $v_i$ of $X_c^\top X_c$ (the $k$ entries of $v_i^\top E_t$, rate
    $r_i = |1 - \eta'(s_i + \alpha)|$) and one for the bias (rate $|1 - 2\eta/k|$). From
    zero the distance after $t$ steps is therefore
    $d_t = \big(\sum_i a_i r_i^{2t}\big)^{1/2}$, with $a_i$ the squared initial error of
    mode $i$.

    Attributes
    ----------
    distances : list of float
        $\lVert(W_t, b_t) - (W^\star, b^\star)\rVert$ after each step.
    predicted_rate : float
        The slowest per-step contraction, $\max\big(\max_i|1 - \eta'(s_i + \alpha)|,
        |1 - 2\eta/k|\big)$ with $\eta' = 2\eta/(nk)$.
    mode_rates : Tensor
        $r_i$ for the $d$ eigen-directions, then the bias's rate.
    mode_weights : Tensor
        $a_i$: $\lVert v_i^\top W^\star\rVert^2$ for each eigen-direction, then
        $\lVert b^\star\rVert^2$ (the run starts from zero).
    """

    distances: list[float]
    predicted_rate: float
    mode_rates: Tensor
    mode_weights: Tensor

    def observed_rate(self, step: int) -> float:
        """The measured contraction $d_{t}/d_{t-1}$ at `step` (1-based, >= 2)."""
        return self.distances[step - 1] / self.distances[step - 2]

    def modal_distance(self, step: int) -> float:
        r"""The distance after `step` steps in exact arithmetic, $(\sum_i a_i r_i^{2t})^{1/2}$.

        ``modal_distance(0)`` is the starting distance $\lVert(W^\star, b^\star)\rVert$.
        """
        t = check_count("step", step, minimum=0)
        return float((self.mode_weights * self.mode_rates ** (2 * t)).sum().sqrt())

    def transient(self, step: int) -> float:
        r"""Bound on $1 - (d_t/d_{t-1})/r_1$ from the modes faster than the slowest.

        With $r_1$ the slowest rate and $A_1$ the weight of the modes that have it,
        $1 - d_t/(r_1 d_{t-1}) \le 1 - d_t^2/(r_1 d_{t-1})^2
        \le \sum_{r_i < r_1} a_i r_i^{2(t-1)}(1 - r_i^2/r_1^2)\big/\big(A_1 r_1^{2(t-1)}\big)$,
        and it is at least 0: the observed contraction approaches $r_1$ from below as
        the faster modes die out (in exact arithmetic).

        Parameters
        ----------
        step : int
            $t \ge 1$.

        Returns
        -------
        float
        """
        t = check_count("step", step)
        slowest = self.mode_rates.max()
        slow = self.mode_rates == slowest
        ratio = self.mode_rates / slowest
        # $$\sum_{r_i < r_1} a_i (r_i/r_1)^{2(t-1)} (1 - r_i^2/r_1^2) \big/ A_1$$
        fast = self.mode_weights * ratio ** (2 * (t - 1)) * (1 - ratio**2)
        return float(fast[~slow].sum() / self.mode_weights[slow].sum())


def descent_to_ridge(x: Tensor, y: Tensor, lambd: float, lr: float, steps: int) -> Descent:
    r"""Run `SGD(weight_decay=lambd)` on $W$ (bias undecayed) from zero, on centred inputs.

    On centred inputs the bias decouples from the weights and the error
    $E_t = W_t - W^\star$ obeys $E_{t+1} = (I - \eta'(X_c^\top X_c + \alpha I))E_t$,
    the bias error $(1 - 2\eta/k)$ per step; the slowest factor is the predicted rate.

    Parameters
    ----------
    x : Tensor
        Inputs (n, d); centred here.
    y : Tensor
        Targets (n, k).
    lambd : float
        $\lambda > 0$.
    lr : float
        $\eta$.
    steps : int
        Steps to run.

    Returns
    -------
    Descent

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import descent_to_ridge
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    >>> y = torch.randn(40, 2, generator=g, dtype=torch.float64)
    >>> run = descent_to_ridge(x, y, lambd=0.1, lr=0.3, steps=100)
    >>> abs(run.observed_rate(60) / run.predicted_rate - 1) < 1e-4, run.distances[-1] < 1e-8
    (True, True)

    The observed contraction falls short of the slowest rate by at most the transient
    of the faster modes:

    >>> 0 <= 1 - run.observed_rate(20) / run.predicted_rate <= run.transient(20)
    True
    """
    lam = check_positive("lambd", lambd)
    eta = check_positive("lr", lr)
    n_steps = check_count("steps", steps)
    xc = x - x.mean(dim=0)
    w_star, b_star = ridge_closed_form(xc, y, lam)
    n, k = y.shape
    w = torch.zeros(x.shape[1], k, dtype=x.dtype, requires_grad=True)
    b = torch.zeros(k, dtype=x.dtype, requires_grad=True)
    optimizer = SGD([{"params": [w], "weight_decay": lam}, {"params": [b]}], lr=eta)
    distances = []
    for _ in range(n_steps):
        optimizer.zero_grad()
        (xc @ w + b - y).pow(2).mean().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        distances.append(torch.cat([(w - w_star).flatten(), b - b_star]).norm().item())
    s, vectors = torch.linalg.eigh(xc.T @ xc)
    eta_prime, alpha = 2 * eta / (n * k), ridge_alpha(lam, n, k)
    # $$r_i = |1 - \eta'(s_i + \alpha)|, \qquad r_b = |1 - 2\eta/k|$$
    bias_rate = torch.tensor([abs(1 - 2 * eta / k)], dtype=x.dtype)
    rates = torch.cat([(1 - eta_prime * (s + alpha)).abs(), bias_rate])
    # $$a_i = \lVert v_i^\top W^\star\rVert^2, \qquad a_b = \lVert b^\star\rVert^2$$
    weights = torch.cat([(vectors.T @ w_star).pow(2).sum(dim=1), b_star.pow(2).sum()[None]])
    # $$\max\big(\max_i |1 - \eta'(s_i + \alpha)|,\ |1 - 2\eta/k|\big)$$
    rate = float(rates.max())
    return Descent(distances, rate, rates, weights)
