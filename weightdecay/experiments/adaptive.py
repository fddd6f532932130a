r"""Adam: an L2 penalty is rescaled by the adaptive denominator; decoupled decay is not.

With coupled decay Adam's direction is $d = g + \lambda\theta$, and the step divides it
by $\sqrt{\hat v} + \epsilon$: the decay a coordinate receives per step is about
$\eta\lambda/(\sqrt{\hat v_i} + \epsilon)$, large where gradients are small. A
stationary point of Adam with L2 still solves $\nabla L + \lambda\theta = 0$, the
ridge problem. AdamW multiplies every coordinate by $1 - \eta\lambda$ and converges
elsewhere: where $\hat m_i / (\sqrt{\hat v_i} + \epsilon) = -\lambda\theta_i$.

The test problem is linear regression whose features have very different scales,
so that the coordinates' gradient magnitudes, and hence $\sqrt{\hat v_i}$, differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_positive
from weightdecay.optim.adam import Adam
from weightdecay.seeding import torch_generator

__all__ = ["AdaptiveComparison", "compare_adam_decay", "scaled_regression"]


def scaled_regression(
    *, seed: int = 0, n_samples: int = 200, n_features: int = 8, noise: float = 0.5
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Linear data whose columns have scales $10^{-1.5}, \dots, 10^{1.5}$, float64.

    Parameters
    ----------
    seed : int, default 0
        Seeds inputs, true weights and noise.
    n_samples, n_features : int
        Shape of the design matrix.
    noise : float, default 0.5
        Standard deviation of the target noise.

    Returns
    -------
    tuple of Tensor
        ``(x, y, scales)``: inputs (n_samples, n_features), targets (n_samples,) and
        the column scales.

    Examples
    --------
    >>> from weightdecay.experiments.adaptive import scaled_regression
    >>> x, y, scales = scaled_regression()
    >>> tuple(x.shape), round(float(scales[-1] / scales[0]))
    ((200, 8), 1000)
    """
    gen = torch_generator(seed, "scaled-regression")
    scales = torch.logspace(-1.5, 1.5, n_features, dtype=torch.float64)
    x = torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64) * scales
    w = torch.randn(n_features, generator=gen, dtype=torch.float64) / scales
    y = x @ w + noise * torch.randn(n_samples, generator=gen, dtype=torch.float64)
    return x, y, scales


@dataclass(frozen=True)
class AdaptiveComparison:
    r"""Adam with L2 against AdamW on `scaled_regression`, same lr and lambda.

    Attributes
    ----------
    ridge : Tensor
        The minimizer of MSE + lambda/2 ||w||^2 (normal equations).
    trajectories : dict of str to Tensor
        Per form ("L2", "decoupled"), the weights after every step, (steps, d).
    shrinkage : dict of str to Tensor
        Per form, the per-coordinate decay coefficient at the end of training, per unit
        of learning rate: one step removes the fraction $\eta_t$ times this of a weight.
        $\lambda/(\sqrt{\hat v_i} + \epsilon)$ for L2, $\lambda$ for AdamW.
    lr, weight_decay : float
        Peak learning rate and $\lambda$.
    condition : float
        $\kappa(H)$, the 2-norm condition number of the ridge system
        $H = \frac{2}{n}X^\top X + \lambda I$ whose solution is `ridge`.
    scaled_condition : float
        $\kappa(SHS)$ with $S = \operatorname{diag}(H)^{-1/2}$: what is left of $\kappa(H)$
        once the rows and columns are scaled to a unit diagonal.
    """

    ridge: Tensor
    trajectories: dict[str, Tensor]
    shrinkage: dict[str, Tensor]
    lr: float
    weight_decay: float
    condition: float
    scaled_condition: float

    def final(self, form: str) -> Tensor:
        """The last weights of a form."""
        return self.trajectories[form][-1]

    def distance_to_ridge(self, form: str) -> Tensor:
        r"""$\lVert w_t - w_{ridge}\rVert / \lVert w_{ridge}\rVert$ for every step."""
        distance: Tensor = (self.trajectories[form] - self.ridge).norm(dim=1)
        relative: Tensor = distance / self.ridge.norm()
        return relative

    def settled_step(self, form: str, bound: float) -> int | None:
        """The first step (counted from 1) from which the distance to ridge stays below `bound`.

        None if the last step is not below it.
        """
        above = (self.distance_to_ridge(form) >= bound).nonzero()
        steps = self.trajectories[form].shape[0]
        settled = 1 if len(above) == 0 else int(above[-1]) + 2
        return settled if settled <= steps else None


def compare_adam_decay(
    *, seed: int = 0, lr: float = 0.05, weight_decay: float = 1.0, steps: int = 3000
) -> AdaptiveComparison:
    r"""Train Adam (coupled decay) and AdamW from zero, cosine schedule to 0, full batch.

    Parameters
    ----------
    seed : int, default 0
        Seeds the data.
    lr : float, default 0.05
        Peak learning rate.
    weight_decay : float, default 1.0
        $\lambda$ for both.
    steps : int, default 3000
        Full-batch steps.

    Returns
    -------
    AdaptiveComparison

    Examples
    --------
    >>> from weightdecay.experiments.adaptive import compare_adam_decay
    >>> result = compare_adam_decay(steps=300)
    >>> l2, decoupled = (float(result.distance_to_ridge(f)[-1]) for f in ("L2", "decoupled"))
    >>> l2 < decoupled
    True
    >>> result.settled_step("decoupled", 1e-3) is None
    True
    """
    eta = check_positive("lr", lr)
    lam = check_positive("weight_decay", weight_decay)
    n_steps = check_count("steps", steps)
    x, y, _ = scaled_regression(seed=seed)
    n, d = x.shape
    # MSE + lambda/2 ||w||^2 is minimized where (2/n) X^T (X w - y) + lambda w = 0.
    system = 2 / n * x.T @ x + lam * torch.eye(d, dtype=x.dtype)
    ridge = torch.linalg.solve(system, 2 / n * x.T @ y)
    trajectories, shrinkage = {}, {}
    for form in ("L2", "decoupled"):
        w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
        optimizer = Adam([w], lr=eta, weight_decay=lam, decoupled_weight_decay=form == "decoupled")
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)
        path = []
        for _ in range(n_steps):
            optimizer.zero_grad()
            (x @ w - y).pow(2).mean().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            path.append(w.detach().clone())
        trajectories[form] = torch.stack(path)
        state, group = optimizer.state[w], optimizer.param_groups[0]
        beta2, eps, step = group["betas"][1], group["eps"], float(state["step"])
        # $$\sqrt{\hat v} + \epsilon$$, Adam's own denominator at the last step
        denominator = state["exp_avg_sq"].sqrt() / (1 - beta2**step) ** 0.5 + eps
        shrinkage[form] = lam / denominator if form == "L2" else torch.full((d,), lam)
    condition = float(torch.linalg.cond(system))
    scale = system.diagonal().rsqrt()
    scaled_condition = float(torch.linalg.cond(scale[:, None] * system * scale[None, :]))
    return AdaptiveComparison(
        ridge, trajectories, shrinkage, eta, lam, condition, scaled_condition
    )
