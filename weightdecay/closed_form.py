r"""Closed forms for linear regression with weight decay: ridge, its eigen view, early stopping.

The objective is $J(W, b) = \frac{1}{nk}\lVert Y - XW - \mathbf{1}b^\top\rVert_F^2
+ \frac{\lambda}{2}\lVert W - W_0\rVert_F^2$ (centre $W_0$, zero by default). With
$\alpha = nk\lambda/2$ (`Ridge.alpha`) and $X_c^\top X_c = V\mathrm{diag}(s)V^\top$ on centred
data, ridge keeps $s_i/(s_i + \alpha)$ of the least-squares fit along $v_i$.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.optimize import minimize_scalar
from torch import Tensor

from weightdecay._checks import (
    check_count,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_same_dtype,
    check_tensor,
)
from weightdecay.optim import SGD
from weightdecay.penalty import ridge_alpha

__all__ = [
    "Descent",
    "Shrinkage",
    "decay_from_early_stopping",
    "descent_to_ridge",
    "early_stopping_filter",
    "gd_iterate",
    "ridge_closed_form",
    "shrinkage",
]


def _centred(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    check_matrix("y", y, rows=check_matrix("x", x).shape[0])
    check_same_dtype(("x", "y"), x, y)
    x_mean, y_mean = x.mean(dim=0), y.mean(dim=0)
    return x - x_mean, y - y_mean, x_mean, y_mean


def ridge_closed_form(
    x: Tensor, y: Tensor, lambd: float, centre: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""Minimize $J(W, b)$ exactly: $(X_c^\top X_c + \alpha I)W = X_c^\top Y_c + \alpha W_0$.

    Returns ``(W, b)``, shapes (d, k) and (k,), for inputs (n, d), targets (n, k) and `centre`
    $W_0$ (d, k) or None; $\lambda = 0$ needs $X_c$ of full column rank.

    Examples
    --------
    >>> import torch
    >>> from sklearn.linear_model import Ridge
    >>> from weightdecay.closed_form import ridge_closed_form
    >>> from weightdecay.penalty import ridge_alpha
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(30, 6, generator=g, dtype=torch.float64).split([4, 2], dim=1)
    >>> w, b = ridge_closed_form(x, y, lambd=0.5)
    >>> fit = Ridge(alpha=ridge_alpha(0.5, 30, 2)).fit(x.numpy(), y.numpy())
    >>> torch.allclose(w, torch.from_numpy(fit.coef_.T), rtol=1e-12, atol=1e-14)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    xc, yc, x_mean, y_mean = _centred(x, y)
    (n, d), k = x.shape, y.shape[1]
    alpha = ridge_alpha(lam, n, k)
    # $$(X_c^\top X_c + \alpha I)\,W = X_c^\top Y_c + \alpha W_0$$
    lhs = xc.T @ xc + alpha * torch.eye(d, dtype=x.dtype)
    rhs = xc.T @ yc
    if centre is not None:
        rhs = rhs + alpha * check_tensor("centre", centre, (d, k), x.dtype)
    w = torch.linalg.solve(lhs, rhs)
    # $$b = \bar y - W^\top \bar x$$
    b = y_mean - x_mean @ w
    return w, b


@dataclass(frozen=True)
class Shrinkage:
    r"""The eigen view of ridge regression for one design and one $\lambda$.

    `eigenvalues` $s_i$ of $X_c^\top X_c$ (descending), `factors` $s_i/(s_i + \alpha)$ (at
    $\alpha = 0$: 1 on the column space of $X_c$, else 0) and `alpha` $= nk\lambda/2$.
    """

    eigenvalues: Tensor
    factors: Tensor
    alpha: float

    @property
    def effective_parameters(self) -> float:
        r"""$\gamma = \sum_i s_i/(s_i + \alpha)$; at $\lambda = 0$ the rank of $X_c$."""
        return float(self.factors.sum())


def shrinkage(x: Tensor, lambd: float, n_targets: int = 1) -> Shrinkage:
    r"""Shrinkage factors $s_i/(s_i + \alpha)$, $\alpha = nk\lambda/2$, of $X_c^\top X_c$.

    At $\alpha = 0$ a direction is kept when $s_i > s_{\max}\max(n, d)\,\varepsilon$ (the
    rounding level of $X_c^\top X_c$), so that $\gamma$ is the rank of $X_c$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import shrinkage
    >>> x = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> shrinkage(x, 0.0).effective_parameters, 0 < shrinkage(x, 1.0).effective_parameters < 3
    (3.0, True)
    >>> shrinkage(torch.cat([x, 2 * x[:, :1]], dim=1), 0.0).effective_parameters  # rank
    3.0
    """
    lam, k = check_nonnegative("lambd", lambd), check_count("n_targets", n_targets)
    xc = check_matrix("x", x) - x.mean(dim=0)
    alpha = ridge_alpha(lam, x.shape[0], k)
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

    `lr` is $\eta$ on the objective that averages over $N$ = `n_terms` terms ($N = nk$).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import early_stopping_filter
    >>> early_stopping_filter(torch.tensor([0.0, 1.0, 50.0]), lr=0.5, steps=3, n_terms=100)
    tensor([0.0000, 0.0297, 0.8750])
    """
    eta = check_positive("lr", lr)
    t, n = check_count("steps", steps, minimum=0), check_count("n_terms", n_terms)
    largest = float(eigenvalues.max()) if eigenvalues.numel() else 0.0
    if 2 * eta / n * largest >= 2:
        raise ValueError(
            f"lr must be < N / s_max = {n / largest:.6g} for gradient descent to converge "
            f"on this design, got {lr!r}"
        )
    step = 2 * eta / n * eigenvalues
    # $$1 - (1 - \eta' s_i)^t, \qquad \eta' = 2\eta/N$$
    power = 1 - (1 - step) ** t
    # For $\eta' s_i \ll 1$ rounding $1 - \eta' s_i$ drops digits; this form keeps them:
    # $$1 - (1 - \eta' s_i)^t = -\operatorname{expm1}\big(t\,\log(1 - \eta' s_i)\big)$$
    small = (step < 1) & (t > 0)
    accurate = -torch.expm1(t * torch.log1p(-torch.where(small, step, torch.zeros_like(step))))
    return torch.where(small, accurate, power)


def gd_iterate(x: Tensor, y: Tensor, lr: float, steps: int) -> Tensor:
    r"""$t$ steps of gradient descent from zero on the centred least squares, in closed form.

    $W_t = V\,\mathrm{diag}\big((1 - (1 - \eta' s_i)^t)/s_i\big)\,V^\top X_c^\top Y_c$
    (zero along $s_i = 0$), for $\frac{1}{nk}\lVert Y_c - X_cW\rVert_F^2$ at learning rate $\eta$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import gd_iterate
    >>> g = torch.Generator().manual_seed(1)
    >>> x, y = torch.randn(20, 5, generator=g, dtype=torch.float64).split([3, 2], dim=1)
    >>> xc, yc, w = x - x.mean(0), y - y.mean(0), torch.zeros(3, 2, dtype=torch.float64)
    >>> for _ in range(7):
    ...     w = w - 0.1 * 2 / 40 * xc.T @ (xc @ w - yc)
    >>> torch.allclose(gd_iterate(x, y, lr=0.1, steps=7), w, rtol=1e-12, atol=1e-15)
    True
    """
    xc, yc, _, _ = _centred(x, y)
    eigenvalues, vectors = torch.linalg.eigh(xc.T @ xc)
    filt = early_stopping_filter(eigenvalues, lr, steps, y.numel())
    safe = torch.where(eigenvalues > 0, eigenvalues, torch.ones_like(eigenvalues))
    gain = torch.where(eigenvalues > 0, filt / safe, torch.zeros_like(eigenvalues))
    # $$W_t = V\,\mathrm{diag}\big(f_i / s_i\big)\,V^\top X_c^\top Y_c$$
    w: Tensor = vectors @ (gain[:, None] * (vectors.T @ (xc.T @ yc)))
    return w


def decay_from_early_stopping(x: Tensor, lr: float, steps: int, n_targets: int = 1) -> float:
    r"""The $\lambda$ whose ridge filter best matches $t \ge 1$ steps of early stopping.

    It minimizes $\sum_i (s_i/(s_i + \alpha) - (1 - (1 - \eta' s_i)^t))^2$ over $\log\lambda$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import decay_from_early_stopping
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 6, generator=g, dtype=torch.float64) * torch.logspace(-1, 0.5, 6)
    >>> early, late = (decay_from_early_stopping(x, lr=0.01, steps=t) for t in (10, 100))
    >>> early > late  # more steps, weaker decay
    True
    """
    check_count("steps", steps)
    k = check_count("n_targets", n_targets)
    n = check_matrix("x", x).shape[0]
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

    The error splits into independent modes, one per eigen-direction $v_i$ (`mode_rates`
    $r_i = |1 - \eta'(s_i + \alpha)|$, `mode_weights` $a_i = \lVert v_i^\top W^\star\rVert^2$)
    and the bias (rate $|1 - 2\eta/k|$, weight $\lVert b^\star\rVert^2$), so the `distances`
    $\delta_t = \lVert(W_t, b_t) - (W^\star, b^\star)\rVert = \big(\sum_i a_i r_i^{2t}\big)^{1/2}$
    contract at the slowest rate, `predicted_rate` $= \max_i r_i$.
    """

    distances: list[float]
    predicted_rate: float
    mode_rates: Tensor
    mode_weights: Tensor

    def observed_rate(self, step: int) -> float:
        r"""The measured contraction $\delta_t/\delta_{t-1}$ at `step` (1-based, >= 2)."""
        return self.distances[step - 1] / self.distances[step - 2]

    def modal_distance(self, step: int) -> float:
        r"""The exact-arithmetic distance $(\sum_i a_i r_i^{2t})^{1/2}$ (at 0: the start)."""
        t = check_count("step", step, minimum=0)
        return float((self.mode_weights * self.mode_rates ** (2 * t)).sum().sqrt())

    def transient(self, step: int) -> float:
        r"""Bound on $1 - \delta_t/(r_1\delta_{t-1}) \ge 0$ from the modes faster than the slowest.

        $\sum_{r_i < r_1} a_i (r_i/r_1)^{2(t-1)}(1 - r_i^2/r_1^2)/a_{r_1}$, with $r_1$ the slowest
        rate and $a_{r_1}$ the weight of its modes.
        """
        t = check_count("step", step)
        slowest = self.mode_rates.max()
        slow = self.mode_rates == slowest
        ratio = self.mode_rates / slowest
        # $$\sum_{r_i < r_1} a_i (r_i/r_1)^{2(t-1)} (1 - r_i^2/r_1^2) \big/ a_{r_1}$$
        fast = self.mode_weights * ratio ** (2 * (t - 1)) * (1 - ratio**2)
        return float(fast[~slow].sum() / self.mode_weights[slow].sum())


def descent_to_ridge(x: Tensor, y: Tensor, lambd: float, lr: float, steps: int) -> Descent:
    r"""Run `SGD(weight_decay=lambd)` on $W$ (bias undecayed) from zero, on centred inputs.

    The error obeys $E_{t+1} = (I - \eta'(X_c^\top X_c + \alpha I))E_t$; see `Descent`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.closed_form import descent_to_ridge
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(40, 5, generator=g, dtype=torch.float64).split([3, 2], dim=1)
    >>> run = descent_to_ridge(x, y, lambd=0.1, lr=0.3, steps=100)
    >>> abs(run.observed_rate(60) / run.predicted_rate - 1) < 1e-4, run.distances[-1] < 1e-8
    (True, True)
    >>> 0 <= 1 - run.observed_rate(20) / run.predicted_rate <= run.transient(20)
    True
    """
    lam, eta = check_positive("lambd", lambd), check_positive("lr", lr)
    n_steps = check_count("steps", steps)
    xc = check_matrix("x", x) - x.mean(dim=0)
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
