r"""SGD with momentum: coupled decay is an L2 penalty, decoupled decay (SGDW) is not.

Coupled decay adds $\lambda\theta$ to the gradient before the momentum buffer, so the
buffer sees exactly the gradient of $L + \frac{\lambda}{2}\lVert\theta\rVert^2$: the
two are the same algorithm. SGDW shrinks $\theta$ by $1 - \eta\lambda$ outside the
buffer. With momentum $\mu$ the buffer accumulates past decay terms, so coupled decay
acts about $1/(1 - \mu)$ times as strongly per step.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from weightdecay._checks import check_count, check_nonnegative, check_positive
from weightdecay.data import make_clusters
from weightdecay.metrics import flatten, relative_error
from weightdecay.models.mlp import Net
from weightdecay.optim.sgd import SGD
from weightdecay.penalty import l2_penalty
from weightdecay.seeding import derive_seed

__all__ = [
    "MOMENTUM_SETTINGS",
    "DecayRate",
    "MomentumComparison",
    "compare_momentum_decay",
    "pure_decay_rate",
]

MOMENTUM_SETTINGS: dict[str, dict[str, Any]] = {
    "no momentum": {"momentum": 0.0},
    "momentum 0.9": {"momentum": 0.9},
    "momentum 0.9, dampening 0.5": {"momentum": 0.9, "dampening": 0.5},
    "Nesterov 0.9": {"momentum": 0.9, "nesterov": True},
}
"""The SGD settings the comparison runs."""


@dataclass(frozen=True)
class MomentumComparison:
    """Final parameters of three trainings under one SGD setting.

    Attributes
    ----------
    setting : str
        A key of `MOMENTUM_SETTINGS`.
    coupled : torch.Tensor
        ``SGD(weight_decay=lambda)`` on the MSE.
    penalty : torch.Tensor
        ``SGD(weight_decay=0)`` on MSE + L2 penalty through autograd.
    decoupled : torch.Tensor
        SGDW: ``SGD(weight_decay=lambda, decoupled=True)`` on the MSE.
    """

    setting: str
    coupled: torch.Tensor
    penalty: torch.Tensor
    decoupled: torch.Tensor

    @property
    def penalty_vs_coupled(self) -> float:
        """Relative difference, L2 penalty against coupled decay."""
        return relative_error(self.penalty, self.coupled)

    @property
    def decoupled_vs_coupled(self) -> float:
        """Relative difference, SGDW against coupled decay."""
        return relative_error(self.decoupled, self.coupled)


def compare_momentum_decay(
    *, seed: int = 0, lr: float = 1e-3, weight_decay: float = 0.1, epochs: int = 300
) -> list[MomentumComparison]:
    r"""Train the second source's network three ways under each SGD setting, float64.

    Parameters
    ----------
    seed : int, default 0
        Seeds data and initialization.
    lr : float, default 1e-3
        Learning rate (small enough for every setting to train stably).
    weight_decay : float, default 0.1
        $\lambda$.
    epochs : int, default 300
        Full-batch steps.

    Returns
    -------
    list of MomentumComparison
        One per `MOMENTUM_SETTINGS` entry.

    Examples
    --------
    >>> from weightdecay.experiments.momentum import compare_momentum_decay
    >>> rows = compare_momentum_decay(epochs=20)
    >>> [row.penalty_vs_coupled < 1e-12 for row in rows]
    [True, True, True, True]
    >>> rows[0].decoupled_vs_coupled < 1e-12, rows[1].decoupled_vs_coupled > 1e-6
    (True, True)
    """
    eta = check_positive("lr", lr)
    lam = check_nonnegative("weight_decay", weight_decay)
    n_epochs = check_count("epochs", epochs)
    data = make_clusters(seed=seed)
    template = Net(seed=derive_seed(seed, "init"), dtype=torch.float64)
    rows = []
    for setting, options in MOMENTUM_SETTINGS.items():
        finals = {}
        for form in ("coupled", "penalty", "decoupled"):
            model = copy.deepcopy(template)
            optimizer = SGD(
                model.parameters(),
                lr=eta,
                weight_decay=0.0 if form == "penalty" else lam,
                decoupled=form == "decoupled",
                **options,
            )
            for _ in range(n_epochs):
                optimizer.zero_grad()
                loss = (model(data.features) - data.y).pow(2).mean()
                if form == "penalty":
                    loss = loss + l2_penalty(model.parameters(), lam)
                loss.backward()
                optimizer.step()
            finals[form] = flatten(model.parameters())
        rows.append(
            MomentumComparison(setting, finals["coupled"], finals["penalty"], finals["decoupled"])
        )
    return rows


@dataclass(frozen=True)
class DecayRate:
    r"""Per-step decay rates of a parameter under pure decay (zero data gradient).

    Attributes
    ----------
    momentum : float
        $\mu$.
    coupled : float
        Measured rate $-\log(\theta_{t}/\theta_{t-1})$ at the last step, coupled decay.
    decoupled : float
        The same for SGDW: $-\log(1 - \eta\lambda)$, up to rounding.
    predicted : float
        The coupled rate from the recurrence's dominant root.
    """

    momentum: float
    coupled: float
    decoupled: float
    predicted: float

    @property
    def ratio(self) -> float:
        """Coupled rate over decoupled rate."""
        return self.coupled / self.decoupled


def pure_decay_rate(
    momentum: float, *, lr: float = 0.01, weight_decay: float = 0.01, steps: int = 3000
) -> DecayRate:
    r"""Run both decays on one parameter with zero data gradient and measure their rates.

    Coupled: $b_t = \mu b_{t-1} + \lambda\theta_{t-1}$, $\theta_t = \theta_{t-1} - \eta b_t$,
    a linear recurrence whose dominant root $r$ solves
    $r^2 - (1 + \mu - \eta\lambda)\,r + \mu = 0$; the rate is
    $-\log r \approx \eta\lambda/(1 - \mu)$. Decoupled: $\theta_t = (1 - \eta\lambda)\theta_{t-1}$,
    rate $-\log(1 - \eta\lambda) \approx \eta\lambda$.

    When $(1 + \mu - \eta\lambda)^2 < 4\mu$ the roots are complex and the parameter
    oscillates while it decays: the rate read at one step is then not the envelope's.

    Parameters
    ----------
    momentum : float
        $\mu \in [0, 1)$.
    lr, weight_decay : float
        $\eta$ and $\lambda$.
    steps : int, default 3000
        Steps before the rate is read (the transient must have died out).

    Returns
    -------
    DecayRate

    Examples
    --------
    >>> from weightdecay.experiments.momentum import pure_decay_rate
    >>> rate = pure_decay_rate(0.9)
    >>> abs(rate.coupled / rate.predicted - 1) < 1e-9, round(rate.ratio, 1)
    (True, 10.0)
    """
    mu = check_nonnegative("momentum", momentum)
    if mu >= 1:
        raise ValueError(f"momentum must be < 1, got {momentum!r}")
    eta, lam = check_positive("lr", lr), check_positive("weight_decay", weight_decay)
    n = check_count("steps", steps, minimum=2)
    rates = {}
    for decoupled in (False, True):
        theta = torch.ones(1, dtype=torch.float64, requires_grad=True)
        optimizer = SGD([theta], lr=eta, momentum=mu, weight_decay=lam, decoupled=decoupled)
        previous = 1.0
        for _ in range(n):
            theta.grad = torch.zeros_like(theta)
            previous = theta.item()
            optimizer.step()
        rates[decoupled] = -math.log(theta.item() / previous)
    # $$r^2 - (1 + \mu - \eta\lambda) r + \mu = 0$$: the root of largest modulus sets the rate.
    root = max(abs(np.roots([1.0, -(1 + mu - eta * lam), mu])))
    return DecayRate(mu, rates[False], rates[True], -math.log(float(root)))
