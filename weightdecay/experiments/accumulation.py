r"""Gradient accumulation: what to scale when the loss is split over micro-batches.

Split a batch into $K$ equal micro-batches, $L = \frac{1}{K}\sum_k L_k$, and sum the
gradients of $K$ backward passes before one optimizer step.

* A penalty in the loss must be divided by $K$ like the data loss:
  $\sum_k \nabla\frac{1}{K}\big(L_k + \frac{\lambda}{2}\lVert\theta\rVert^2\big)
  = \nabla L + \lambda\theta$. Adding the whole penalty to every micro-batch loss
  gives $\nabla L + K\lambda\theta$: $K$ times the decay.
* Decay inside the optimizer (``weight_decay``, coupled or decoupled) acts once per
  ``step()``, not per backward pass: it needs no scaling at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from weightdecay._checks import check_count, check_positive
from weightdecay.data import make_clusters
from weightdecay.metrics import flatten, relative_error
from weightdecay.models.mlp import Net
from weightdecay.optim.adam import AdamW
from weightdecay.optim.sgd import SGD
from weightdecay.penalty import l2_penalty
from weightdecay.seeding import derive_seed

__all__ = ["AccumulationResult", "accumulation_experiment"]


@dataclass(frozen=True)
class AccumulationResult:
    r"""Relative differences of accumulated runs from their full-batch references.

    Attributes
    ----------
    micro_batches : int
        $K$.
    penalty_scaled : float
        Penalty divided by $K$ against full-batch SGD on MSE + penalty.
    penalty_unscaled : float
        Whole penalty per micro-batch against full-batch SGD on MSE + penalty.
    penalty_unscaled_vs_k_lambda : float
        The same run against full-batch SGD with $K\lambda$.
    optimizer_decay : float
        ``SGD(weight_decay)`` with accumulation against the full batch.
    decoupled_decay : float
        AdamW with accumulation against the full batch.
    rows : int
        Examples in the full batch.
    hidden : int
        Width of the network's hidden layers.
    steps : int
        Optimizer steps of every run.
    """

    micro_batches: int
    penalty_scaled: float
    penalty_unscaled: float
    penalty_unscaled_vs_k_lambda: float
    optimizer_decay: float
    decoupled_decay: float
    rows: int
    hidden: int
    steps: int


def accumulation_experiment(
    *, micro_batches: int = 4, weight_decay: float = 0.1, steps: int = 50, seed: int = 0
) -> AccumulationResult:
    r"""Train the second source's network with and without accumulation, float64.

    Parameters
    ----------
    micro_batches : int, default 4
        $K$; must divide the 60 examples.
    weight_decay : float, default 0.1
        $\lambda$.
    steps : int, default 50
        Optimizer steps.
    seed : int, default 0
        Seeds data and initialization.

    Returns
    -------
    AccumulationResult

    Examples
    --------
    >>> from weightdecay.experiments.accumulation import accumulation_experiment
    >>> r = accumulation_experiment(steps=5)
    >>> r.penalty_scaled < 1e-12, r.penalty_unscaled > 1e-6, r.penalty_unscaled_vs_k_lambda < 1e-12
    (True, True, True)
    """
    k = check_count("micro_batches", micro_batches)
    lam = check_positive("weight_decay", weight_decay)
    n_steps = check_count("steps", steps)
    data = make_clusters(seed=seed)
    if data.n % k:
        raise ValueError(f"micro_batches must divide {data.n} examples, got {micro_batches!r}")
    template = Net(seed=derive_seed(seed, "init"), dtype=torch.float64)
    chunks = list(zip(data.features.chunk(k), data.y.chunk(k), strict=True))

    def train(
        optimizer_name: str, decay: float, penalty: float, split: bool, scale: bool
    ) -> torch.Tensor:
        model = copy.deepcopy(template)
        if optimizer_name == "adamw":
            optimizer: torch.optim.Optimizer = AdamW(
                model.parameters(), lr=1e-2, weight_decay=decay
            )
        else:
            optimizer = SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=decay)
        batches = chunks if split else [(data.features, data.y)]
        for _ in range(n_steps):
            optimizer.zero_grad()
            for x, y in batches:
                data_loss = (model(x) - y).pow(2).mean()
                reg = l2_penalty(model.parameters(), penalty) if penalty else 0.0
                if not split:
                    loss = data_loss + reg
                elif scale:
                    # $$\frac{1}{K}\big(L_k + \frac{\lambda}{2}\lVert\theta\rVert^2\big)$$
                    loss = (data_loss + reg) / k
                else:
                    # $$\frac{1}{K}L_k + \frac{\lambda}{2}\lVert\theta\rVert^2$$: the mistake
                    loss = data_loss / k + reg
                loss.backward()
            optimizer.step()
        return flatten(model.parameters())

    full_penalty = train("sgd", 0.0, lam, split=False, scale=True)
    return AccumulationResult(
        micro_batches=k,
        penalty_scaled=relative_error(
            train("sgd", 0.0, lam, split=True, scale=True), full_penalty
        ),
        penalty_unscaled=relative_error(
            train("sgd", 0.0, lam, split=True, scale=False), full_penalty
        ),
        penalty_unscaled_vs_k_lambda=relative_error(
            train("sgd", 0.0, lam, split=True, scale=False),
            train("sgd", 0.0, k * lam, split=False, scale=True),
        ),
        optimizer_decay=relative_error(
            train("sgd", lam, 0.0, split=True, scale=True),
            train("sgd", lam, 0.0, split=False, scale=True),
        ),
        decoupled_decay=relative_error(
            train("adamw", lam, 0.0, split=True, scale=True),
            train("adamw", lam, 0.0, split=False, scale=True),
        ),
        rows=data.n,
        hidden=next(template.parameters()).shape[0],  # first weight: (hidden, inputs)
        steps=n_steps,
    )
