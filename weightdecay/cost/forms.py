r"""The forms of weight decay whose training step is timed, each as a step function.

One step is the same everywhere: clear the gradients, compute the mean squared error
of the network on one batch (plus a penalty, for the forms that put decay in the
loss), backpropagate, and let the optimizer update. With learning rate $\eta$ and decay
$\lambda$, all the SGD forms take the same step, $\theta \leftarrow \theta - \eta(g +
\lambda\theta)$, computed in different ways; the AdamW forms take AdamW's step.

The keys of `FORMS`, in the order of the report:

``none``
    `torch.optim.SGD` without decay: the reference time of the SGD forms.
``sgd``, ``sgd-foreach``, ``sgd-single``, ``sgd-fused``
    `torch.optim.SGD(weight_decay=λ)` in its default implementation (which on the CPU
    is the single-tensor one), with ``foreach=True``, ``foreach=False`` and
    ``fused=True``.
``penalty``
    Plain SGD on $L + \frac{\lambda}{2}\sum_p \lVert p\rVert^2$, the sum taken
    parameter by parameter.
``penalty-vector``
    The same penalty on ``torch.nn.utils.parameters_to_vector(params)``.
``prior``
    Plain SGD on $L - \frac{1}{N}\log p(\theta)$ with the Gaussian prior of variance
    $\tau = 1/(N\lambda)$, through `weightdecay.prior.scaled_negative_log_prior`
    (``torch.distributions.Normal.log_prob``).
``ours-sgd``, ``ours-sgdw``
    `weightdecay.optim.SGD` with coupled and with decoupled decay.
``adamw-none``, ``adamw``, ``ours-adamw``
    `torch.optim.AdamW` without and with decay, and `weightdecay.optim.AdamW`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from weightdecay import optim
from weightdecay._checks import check_nonnegative
from weightdecay.penalty import l2_penalty
from weightdecay.prior import scaled_negative_log_prior

__all__ = [
    "FORMS",
    "LEARNING_RATE",
    "WEIGHT_DECAY",
    "Form",
    "check_form",
    "make_step",
    "penalty_per_parameter",
    "penalty_vector",
    "prior_penalty",
]

LEARNING_RATE = 1e-3
"""$\\eta$ of every timed step."""
WEIGHT_DECAY = 1e-2
"""$\\lambda$ of every timed step."""

Params = list[Tensor]
MakeOptimizer = Callable[[Params, float, float], Optimizer]
Penalty = Callable[[Params, float, int], Tensor]


def penalty_per_parameter(params: Params, lambd: float, n_terms: int) -> Tensor:
    r"""$\frac{\lambda}{2}\sum_p \sum_j p_j^2$, one ``p.pow(2).sum()`` per parameter.

    Parameters
    ----------
    params : list of Tensor
        The parameters (non-empty).
    lambd : float
        $\lambda$.
    n_terms : int
        Unused; the signature is shared with `prior_penalty`.

    Returns
    -------
    Tensor
        A 0-d tensor.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.forms import penalty_per_parameter
    >>> penalty_per_parameter([torch.tensor([3.0]), torch.tensor([4.0])], 0.5, 1).item()
    6.25
    """
    # $$\frac{\lambda}{2}\sum_p \lVert p\rVert^2$$
    return l2_penalty(params, lambd)


def penalty_vector(params: Params, lambd: float, n_terms: int) -> Tensor:
    r"""$\frac{\lambda}{2}\lVert\theta\rVert^2$ of the concatenated vector $\theta$.

    ``torch.nn.utils.parameters_to_vector`` concatenates the parameters (a copy of
    every one of them) before squaring.

    Parameters
    ----------
    params : list of Tensor
        The parameters (non-empty).
    lambd : float
        $\lambda$.
    n_terms : int
        Unused; the signature is shared with `prior_penalty`.

    Returns
    -------
    Tensor
        A 0-d tensor.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.forms import penalty_vector
    >>> penalty_vector([torch.tensor([3.0]), torch.tensor([4.0])], 0.5, 1).item()
    6.25
    """
    theta = torch.nn.utils.parameters_to_vector(params)
    # $$\frac{\lambda}{2}\lVert\theta\rVert^2$$
    return 0.5 * lambd * theta.pow(2).sum()


def prior_penalty(params: Params, lambd: float, n_terms: int) -> Tensor:
    r"""$-\frac{1}{N}\log\mathcal{N}(\theta \mid 0, \tau I)$ with $\tau = 1/(N\lambda)$.

    Equal to $\frac{\lambda}{2}\lVert\theta\rVert^2$ plus a constant, so with the same
    gradient (`weightdecay.prior.scaled_negative_log_prior`).

    Parameters
    ----------
    params : list of Tensor
        The parameters (non-empty).
    lambd : float
        $\lambda > 0$.
    n_terms : int
        $N$, the number of terms the data loss averages over.

    Returns
    -------
    Tensor
        A 0-d tensor.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.forms import penalty_per_parameter, prior_penalty
    >>> theta = [torch.tensor([3.0, 1.0], dtype=torch.float64, requires_grad=True)]
    >>> prior_penalty(theta, 0.5, 4).backward()
    >>> theta[0].grad  # lambda * theta
    tensor([1.5000, 0.5000], dtype=torch.float64)
    """
    return scaled_negative_log_prior(params, lambd, n_terms)


def _torch_sgd(**options: bool) -> MakeOptimizer:
    def make(params: Params, lr: float, lambd: float) -> Optimizer:
        return torch.optim.SGD(params, lr=lr, weight_decay=lambd, **options)

    return make


def _plain_sgd(params: Params, lr: float, lambd: float) -> Optimizer:
    return torch.optim.SGD(params, lr=lr)


def _ours_sgd(decoupled: bool) -> MakeOptimizer:
    def make(params: Params, lr: float, lambd: float) -> Optimizer:
        return optim.SGD(params, lr=lr, weight_decay=lambd, decoupled=decoupled)

    return make


def _torch_adamw(params: Params, lr: float, lambd: float) -> Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=lambd)


def _torch_adamw_plain(params: Params, lr: float, lambd: float) -> Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)


def _ours_adamw(params: Params, lr: float, lambd: float) -> Optimizer:
    return optim.AdamW(params, lr=lr, weight_decay=lambd)


@dataclass(frozen=True)
class Form:
    """One way of computing a training step with (or without) weight decay.

    Attributes
    ----------
    key : str
        Its name in `FORMS` and on the command line.
    label : str
        How tables and figures name it.
    baseline : str
        The key of the undecayed form its time and memory are compared with.
    optimizer : callable
        ``(params, lr, lambd) -> Optimizer``.
    penalty : callable or None
        ``(params, lambd, n_terms) -> Tensor``, added to the loss; None for none.
    """

    key: str
    label: str
    baseline: str
    optimizer: MakeOptimizer
    penalty: Penalty | None = None

    @property
    def decays(self) -> bool:
        """Whether the form applies weight decay (it is not its own baseline)."""
        return self.key != self.baseline


FORMS: dict[str, Form] = {
    form.key: form
    for form in [
        Form("none", "no decay", "none", _plain_sgd),
        Form("sgd", "torch SGD wd (default)", "none", _torch_sgd()),
        Form("sgd-foreach", "torch SGD wd (foreach)", "none", _torch_sgd(foreach=True)),
        Form("sgd-single", "torch SGD wd (single-tensor)", "none", _torch_sgd(foreach=False)),
        Form("sgd-fused", "torch SGD wd (fused)", "none", _torch_sgd(fused=True)),
        Form("penalty", "penalty in loss, per parameter", "none", _plain_sgd,
             penalty_per_parameter),
        Form("penalty-vector", "penalty in loss, parameters_to_vector", "none", _plain_sgd,
             penalty_vector),
        Form("prior", "Gaussian prior log_prob", "none", _plain_sgd, prior_penalty),
        Form("ours-sgd", "our SGD wd (coupled)", "none", _ours_sgd(decoupled=False)),
        Form("ours-sgdw", "our SGD wd (decoupled)", "none", _ours_sgd(decoupled=True)),
        Form("adamw-none", "torch AdamW, no decay", "adamw-none", _torch_adamw_plain),
        Form("adamw", "torch AdamW wd", "adamw-none", _torch_adamw),
        Form("ours-adamw", "our AdamW wd", "adamw-none", _ours_adamw),
    ]
}  # fmt: skip
"""Every timed form, by key, in the order of the report."""


def check_form(key: object) -> Form:
    """Return `FORMS[key]`, or raise naming the valid keys.

    Parameters
    ----------
    key : str

    Returns
    -------
    Form

    Raises
    ------
    TypeError
        If `key` is not a string.
    ValueError
        If it is not a key of `FORMS`.

    Examples
    --------
    >>> from weightdecay.cost.forms import check_form
    >>> check_form("prior").baseline
    'none'
    >>> check_form("l1")
    Traceback (most recent call last):
    ...
    ValueError: form must be one of none, sgd, ..., got 'l1'
    """
    if not isinstance(key, str):
        raise TypeError(f"form must be a str, got {key!r}")
    if key not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {key!r}")
    return FORMS[key]


def make_step(
    form: str,
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float = LEARNING_RATE,
    lambd: float = WEIGHT_DECAY,
) -> tuple[Optimizer, Callable[[], Tensor]]:
    r"""An optimizer on `model` and the function that takes one training step with it.

    The step clears the gradients (``zero_grad``, which sets them to None), computes
    $J = \mathrm{MSE}(f(x), y)$ (plus the form's penalty, with $N$ the number of
    entries of `y`), backpropagates and updates.

    Parameters
    ----------
    form : str
        A key of `FORMS`.
    model : torch.nn.Module
        The network $f$; its parameters are updated in place.
    x, y : Tensor
        One batch: inputs and targets.
    lr : float, default `LEARNING_RATE`
        $\eta \ge 0$.
    lambd : float, default `WEIGHT_DECAY`
        $\lambda > 0$ (the prior needs a finite variance $1/(N\lambda)$).

    Returns
    -------
    optimizer : torch.optim.Optimizer
    step : callable
        Takes one step; returns the (detached) objective before the update.

    Raises
    ------
    TypeError, ValueError
        On an unknown form, a non-positive `lambd` or a negative `lr`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.forms import make_step
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.ones(4, 3), torch.zeros(4, 2)
    >>> _, step = make_step("penalty", net, x, y)
    >>> float(step()) > 0
    True
    """
    spec = check_form(form)
    eta = check_nonnegative("lr", lr)
    lam = check_nonnegative("lambd", lambd)
    if lam == 0:
        raise ValueError(f"lambd must be > 0, got {lambd!r}")
    params: Params = list(model.parameters())
    optimizer = spec.optimizer(params, eta, lam)
    n_terms = y.numel()
    penalty = spec.penalty

    def step() -> Tensor:
        optimizer.zero_grad()
        # $$J(\theta) = \frac{1}{N}\sum_{i}(f(x)_i - y_i)^2\;[+\ \text{penalty}(\theta)]$$
        loss = torch.nn.functional.mse_loss(model(x), y)
        if penalty is not None:
            loss = loss + penalty(params, lam, n_terms)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return loss.detach()

    return optimizer, step
