r"""The derivations of the pages, measured: each identity evaluated at a seeded point.

Every function of `weightdecay.penalty`, `weightdecay.prior` and
`weightdecay.likelihood` checks its own identity in its doctest; `derivation_checks`
measures them all once more on the source documents' data and models, so the site can
print the figures and assert them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weightdecay.bayes_linear import matching_decay, maximize_evidence
from weightdecay.closed_form import gd_iterate, ridge_closed_form
from weightdecay.data import make_clusters, make_regression_split
from weightdecay.likelihood import MSE_NOISE_VARIANCE, gaussian_nll
from weightdecay.metrics import relative_error
from weightdecay.models.linear import ScratchLinearRegression
from weightdecay.models.mlp import Net
from weightdecay.optim.sgd import SGD
from weightdecay.penalty import l2_penalty, l2_penalty_grad
from weightdecay.prior import log_prior_constant, scaled_negative_log_prior
from weightdecay.report import ParityCheck
from weightdecay.ridge import ridge_alpha
from weightdecay.seeding import derive_seed, torch_generator
from weightdecay.tolerances import TOLERANCES, eps

__all__ = [
    "closed_form_checks",
    "derivation_checks",
    "early_stopping_checks",
    "scalar_relative_error",
]


def scalar_relative_error(a: Tensor | float, b: Tensor | float) -> float:
    """Relative difference $|a - b| / |b|$ of two numbers, `b` the reference.

    Parameters
    ----------
    a, b : Tensor or float
        Two scalars (0-d tensors are converted with ``float``); `b` nonzero.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If `b` is zero.

    Examples
    --------
    >>> from weightdecay.derivations import scalar_relative_error
    >>> scalar_relative_error(1.5, 2.0)
    0.25
    """
    x, y = float(a), float(b)
    if y == 0:
        raise ValueError("b must be nonzero for a relative error, got 0.0")
    return abs(x - y) / abs(y)


def derivation_checks(seed: int = 0, lambd: float = 0.01) -> list[ParityCheck]:
    r"""Measure the identities the pages derive, in float64, at seeded points.

    * $\nabla_W J = X^\top\Delta + \lambda W$ and $\nabla_b J = \Delta^\top\mathbf{1}$
      (`ScratchLinearRegression.gradients`) against autograd, on the first
      mini-batch of the first source's data;
    * $\nabla\frac{\lambda}{2}\lVert\theta\rVert^2 = \lambda\theta$ (autograd against
      `l2_penalty_grad`) on the second source's network;
    * the mean Gaussian NLL at $\sigma^2 = 1/2$ equals $\text{MSE} + \frac{1}{2}\log\pi$;
    * $-\frac{1}{N}\log\mathcal{N}(\theta \mid 0, \tau I)
      = \frac{\lambda}{2}\lVert\theta\rVert^2 + \frac{D}{2N}\log(2\pi\tau)$ with
      $\tau = 1/(N\lambda)$, and its gradient equals $\lambda\theta$.

    Parameters
    ----------
    seed : int, default 0
        Seeds the data and the parameters.
    lambd : float, default 0.01
        $\lambda$.

    Returns
    -------
    list of ParityCheck
        Relative errors, each with its bound from `weightdecay.tolerances`.

    Examples
    --------
    >>> from weightdecay.derivations import derivation_checks
    >>> checks = derivation_checks()
    >>> len(checks), all(check.holds for check in checks)
    (6, True)
    """
    name, f64 = "derivations", "float64"
    # First source: one mini-batch of 33 rows, the scratch model's gradients vs autograd.
    split = make_regression_split(seed=seed)
    model = ScratchLinearRegression(
        split.n_features, split.n_targets, lambd, generator=torch_generator(seed, "derivations")
    )
    x, y = split.x_train[:33], split.y_train[:33]
    w = model.w.clone().requires_grad_()
    b = model.b.clone().requires_grad_()
    # $$J = \frac{1}{mk}\lVert XW + \mathbf{1}b^\top - Y\rVert_F^2
    #     + \frac{\lambda}{2}\lVert W\rVert_F^2$$
    objective = (x @ w + b - y).pow(2).mean() + lambd / 2 * w.pow(2).sum()
    objective.backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and b.grad is not None
    grad_w, grad_b = model.gradients(x, y)

    # Second source: the network's parameters on the three-cluster data.
    data = make_clusters(seed=seed)
    net = Net(seed=derive_seed(seed, "derivations"), dtype=torch.float64)
    params = list(net.parameters())
    n_terms, n_params = data.y.numel(), sum(p.numel() for p in params)
    l2_penalty(params, lambd).backward()  # type: ignore[no-untyped-call]
    penalty_grads = [p.grad.clone() for p in params if p.grad is not None]
    net.zero_grad()
    prior_term = scaled_negative_log_prior(params, lambd, n_terms)
    prior_term.backward()  # type: ignore[no-untyped-call]
    prior_grads = [p.grad.clone() for p in params if p.grad is not None]
    analytic = l2_penalty_grad(params, lambd)
    with torch.no_grad():
        pred = net(data.features)
        mse = (pred - data.y).pow(2).mean()
        nll = gaussian_nll(pred, data.y, MSE_NOISE_VARIANCE)
        penalty_plus_constant = l2_penalty(params, lambd) + log_prior_constant(
            n_params, lambd, n_terms
        )

    def check(quantity: str, value: float, tolerance: str) -> ParityCheck:
        return ParityCheck(name, quantity, f64, value, TOLERANCES[tolerance][f64],
                           origin=tolerance)  # fmt: skip

    return [
        check("dJ/dW by hand vs autograd (relative)", relative_error(grad_w, w.grad),
              "gradient_batch"),
        check("dJ/db by hand vs autograd (relative)", relative_error(grad_b, b.grad),
              "gradient_batch"),
        check("penalty gradient: autograd vs lambda theta (relative)",
              relative_error(penalty_grads, analytic), "penalty_gradient"),
        check("Gaussian NLL at variance 1/2 vs MSE + log(pi)/2 (relative)",
              scalar_relative_error(nll, mse + 0.5 * math.log(math.pi)), "nll_mse"),
        check("-(1/N) log prior vs penalty + constant (relative)",
              scalar_relative_error(prior_term.detach(), penalty_plus_constant),
              "prior_penalty"),
        check("prior gradient vs lambda theta (relative)",
              relative_error(prior_grads, analytic), "prior_gradient"),
    ]  # fmt: skip


def early_stopping_checks(
    x: Tensor,
    y: Tensor,
    lr: float,
    checkpoints: tuple[int, ...] = (10, 200),
    experiment: str = "early stopping",
) -> list[ParityCheck]:
    r"""`gd_iterate`'s closed form against this package's SGD run on the centred data.

    Parameters
    ----------
    x, y : Tensor
        Inputs (n, d) and targets (n, k), float64.
    lr : float
        $\eta$, below $N/s_{\max}$ so that the iteration converges.
    checkpoints : tuple of int, default (10, 200)
        Steps after which the two are compared.
    experiment : str, default "early stopping"
        The label of the checks.

    Returns
    -------
    list of ParityCheck
        One relative error per checkpoint, bound
        $\big(\sqrt{t(n + d)} + d\min(t\eta' s_{\max}, \kappa)\big)\varepsilon$ (the
        ``early_stopping`` entry of `weightdecay.tolerances.RUNTIME`).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.derivations import early_stopping_checks
    >>> x, y = torch.randn(30, 3, dtype=torch.float64), torch.randn(30, 2, dtype=torch.float64)
    >>> [check.holds for check in early_stopping_checks(x, y, lr=0.1, checkpoints=(5, 50))]
    [True, True]
    """
    xc, yc = x - x.mean(dim=0), y - y.mean(dim=0)
    (n, d), unit = x.shape, eps(x.dtype)
    s = torch.linalg.eigvalsh(xc.T @ xc)
    kappa, s_max = (s[-1] / s[0]).item(), s[-1].item()
    step = 2 * lr / y.numel()  # eta' = 2 eta / (n k): the loss is a mean over n k entries
    w = torch.zeros(x.shape[1], y.shape[1], dtype=x.dtype, requires_grad=True)
    optimizer = SGD([w], lr=lr)
    checks = []
    for t in range(1, max(checkpoints) + 1):
        optimizer.zero_grad()
        (xc @ w - yc).pow(2).mean().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if t in checkpoints:
            error = relative_error(gd_iterate(x, y, lr=lr, steps=t), w.detach())
            # $$\big(\sqrt{t(n + d)} + d\min(t\eta' s_{\max}, \kappa)\big)\,\varepsilon$$:
            # a rounding of s_i moves the gain f_i/s_i by about t eta' relative per unit.
            bound = (math.sqrt(t * (n + d)) + d * min(t * step * s_max, kappa)) * unit
            checks.append(
                ParityCheck(experiment, f"early stopping: closed form vs {t} SGD steps "
                            "(relative)", "float64", error, bound, origin="early_stopping")
            )  # fmt: skip
    return checks


def closed_form_checks(seed: int = 0, lambd: float = 0.01) -> list[ParityCheck]:
    r"""The closed forms of the linear model against their oracles, float64.

    * `weightdecay.closed_form.ridge_closed_form` on the first source's data against
      scikit-learn's ``Ridge(alpha = nk\lambda/2)``, weights and intercepts;
    * the early-stopping closed form `gd_iterate` against 10 and 200 steps of this
      package's SGD on the centred data;
    * the Bayesian posterior mean against the ridge solution for the matching $\lambda$,
      at the evidence maximum on the second source's data.

    Parameters
    ----------
    seed : int, default 0
        Seeds the data.
    lambd : float, default 0.01
        $\lambda$ for the ridge comparison.

    Returns
    -------
    list of ParityCheck

    Examples
    --------
    >>> from weightdecay.derivations import closed_form_checks
    >>> checks = closed_form_checks()
    >>> len(checks), all(check.holds for check in checks)
    (5, True)
    """
    name, f64 = "closed forms", "float64"
    split = make_regression_split(seed=seed)
    x, y = split.x_train, split.y_train
    n, k = y.shape
    w_star, b_star = ridge_closed_form(x, y, lambd)
    from sklearn.linear_model import Ridge  # here: a second to load, needed only here

    alpha = ridge_alpha(lambd, n, k)
    fit = Ridge(alpha=alpha).fit(x.numpy(), y.numpy())
    # $$\lVert\delta W\rVert/\lVert W\rVert \le d\,\kappa(A)\,\varepsilon$$ for the
    # solve of $A = X_c^\top X_c + \alpha I$; the intercept $b = \bar y - W^\top\bar x$
    # inherits $\lVert\bar x\rVert\lVert\delta W\rVert$ plus its own d-term product.
    xc = x - x.mean(dim=0)
    d, unit = x.shape[1], eps(x.dtype)
    a = xc.T @ xc + alpha * torch.eye(d, dtype=x.dtype)
    bound_w = d * torch.linalg.cond(a).item() * unit
    spread = x.mean(dim=0).norm().item() * w_star.norm().item() / b_star.norm().item()
    bound_b = spread * (bound_w + d * unit) + unit
    checks = [
        ParityCheck(name, "ridge W vs scikit-learn Ridge (relative)", f64,
                    relative_error(w_star, torch.from_numpy(fit.coef_.T.copy())), bound_w,
                    origin="linear_solve"),
        ParityCheck(name, "ridge b vs scikit-learn Ridge (relative)", f64,
                    relative_error(b_star, torch.from_numpy(fit.intercept_.copy())), bound_b,
                    origin="linear_solve"),
    ]  # fmt: skip
    checks += early_stopping_checks(x, y, lr=0.5, experiment=name)
    data = make_clusters(seed=seed)
    evidence = maximize_evidence(data.features, data.y[:, 0], tol=1e-12, max_iter=10_000)
    lam = matching_decay(evidence.weight_precision, evidence.noise_precision, data.n)
    w_ridge, _ = ridge_closed_form(data.features, data.y, lam)
    phi = data.features - data.features.mean(dim=0)
    precision = phi.T @ phi + lam * data.n * torch.eye(phi.shape[1], dtype=phi.dtype)
    bound = phi.shape[1] * torch.linalg.cond(precision).item() * eps(phi.dtype)
    checks.append(
        ParityCheck(name, "posterior mean vs ridge at the matching lambda (relative)", f64,
                    relative_error(evidence.posterior.mean, w_ridge[:, 0]), bound,
                    origin="linear_solve")
    )  # fmt: skip
    return checks
