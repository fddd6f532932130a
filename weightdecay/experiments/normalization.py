r"""What excluding biases and normalization parameters from decay changes.

A LayerNorm's gain $\gamma$ multiplies a normalized activation; in the network here,
where the LayerNorm is the last normalization before the head, decaying it pulls
$\gamma$ towards 0, that is, towards switching the layer's output off, rather than
towards the identity ($\gamma = 1$). (A gain and bias followed by ReLU, a linear layer
without bias and another normalization are instead scale-invariant together, see
`weightdecay.scale_invariance.loss_change_under_scaling`.) The experiment trains one
small network with LayerNorm twice with AdamW: decay on every parameter, and decay only
where `weightdecay.optim.decay_groups` puts it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from weightdecay._checks import check_count, check_positive
from weightdecay.data import make_clusters
from weightdecay.optim.adam import AdamW
from weightdecay.optim.groups import decay_groups

__all__ = ["GroupsResult", "groups_experiment"]


@dataclass(frozen=True)
class GroupsResult:
    """Norm-layer gains and training loss after decay on all parameters or by the table.

    Attributes
    ----------
    decayed_names, undecayed_names : list of str
        The helper's split of the parameter names.
    gains : dict of str to torch.Tensor
        Per run ("all", "groups"), the LayerNorm gains after training.
    final_mse : dict of str to float
        Per run, the training MSE after training.
    """

    decayed_names: list[str]
    undecayed_names: list[str]
    gains: dict[str, torch.Tensor]
    final_mse: dict[str, float]


def groups_experiment(
    *, weight_decay: float = 0.5, lr: float = 1e-2, steps: int = 1500, seed: int = 0
) -> GroupsResult:
    r"""Train a LayerNorm network on the second source's data, decay on all vs by the table.

    Parameters
    ----------
    weight_decay : float, default 0.5
        $\lambda$ (strong, to make the effect visible in a short run).
    lr : float, default 1e-2
        AdamW's learning rate.
    steps : int, default 1500
        Full-batch steps.
    seed : int, default 0
        Seeds data and initialization.

    Returns
    -------
    GroupsResult

    Examples
    --------
    >>> from weightdecay.experiments.normalization import groups_experiment
    >>> result = groups_experiment(steps=100)
    >>> bool(result.gains["all"].mean() < result.gains["groups"].mean())
    True
    """
    lam = check_positive("weight_decay", weight_decay)
    eta = check_positive("lr", lr)
    n_steps = check_count("steps", steps)
    data = make_clusters(seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        template = nn.Sequential(
            nn.Linear(2, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 1)
        ).double()
    names = {id(p): name for name, p in template.named_parameters()}
    groups = decay_groups(template, lam)
    decayed = [names[id(p)] for p in groups[0]["params"]]
    undecayed = [names[id(p)] for p in groups[1]["params"]]
    gains, final_mse = {}, {}
    for run in ("all", "groups"):
        model = copy.deepcopy(template)
        params = model.parameters() if run == "all" else decay_groups(model, lam)
        optimizer = AdamW(params, lr=eta, weight_decay=lam)
        for _ in range(n_steps):
            optimizer.zero_grad()
            # Inputs scaled by 1/10 so that x**2 (up to 100) does not dominate the first layer.
            loss = (model(data.features / 10) - data.y).pow(2).mean()
            loss.backward()
            optimizer.step()
        norm = model[1]
        assert isinstance(norm, nn.LayerNorm)
        gains[run] = norm.weight.detach().clone()
        final_mse[run] = loss.item()
    return GroupsResult(decayed, undecayed, gains, final_mse)
