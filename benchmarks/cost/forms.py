r"""The timed network and the forms of weight decay, each as one training step.

The network is `LAYERS` square linear layers of width $h$ with ReLU between them: it
has $D = L(h^2 + h)$ parameters, the largest a weight of $h^2$ entries. A step of any
form clears the gradients, computes the mean squared error on one batch (plus the
form's penalty), backpropagates and updates. With learning rate $\eta$ and decay
$\lambda$ every SGD form takes the step $\theta \leftarrow \theta - \eta(g +
\lambda\theta)$, computed in a different way; the AdamW forms take AdamW's step. Each
decayed form is compared with the undecayed form of its family, its `Form.baseline`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from weightdecay import optim
from weightdecay._checks import check_count, check_dtype
from weightdecay.data import derive_seed, torch_generator
from weightdecay.models import Net
from weightdecay.penalty import l2_penalty
from weightdecay.prior import scaled_negative_log_prior

__all__ = [
    "BATCH",
    "FORMS",
    "LAYERS",
    "LEARNING_RATE",
    "WEIGHT_DECAY",
    "Form",
    "check_form",
    "cost_mlp",
    "mlp_width",
    "parameter_count",
    "training_step",
]

LAYERS = 4
"""Linear layers of the timed network."""
BATCH = 16
"""Examples per step."""
LEARNING_RATE = 1e-3
"""$\\eta$ of every step."""
WEIGHT_DECAY = 1e-2
"""$\\lambda$ of every step."""

Params = list[Tensor]
MakeOptimizer = Callable[[Params, float, float], Optimizer]
Penalty = Callable[[Params, float, int], Tensor]


def parameter_count(width: int) -> int:
    """Parameters of the timed network of layers `width` wide: ``LAYERS * (h*h + h)``.

    Examples
    --------
    >>> from benchmarks.cost.forms import parameter_count
    >>> parameter_count(15)
    960
    """
    h = check_count("width", width)
    return LAYERS * (h * h + h)


def mlp_width(n_params: int) -> int:
    """The width whose network has the parameter count closest to `n_params`.

    Parameters
    ----------
    n_params : int
        The target count, >= ``2 * LAYERS`` (the count at width 1).

    Returns
    -------
    int
        The width (the smaller one on a tie).

    Raises
    ------
    TypeError, ValueError
        If `n_params` is not an integer, or too small.

    Examples
    --------
    >>> from benchmarks.cost.forms import mlp_width, parameter_count
    >>> mlp_width(1000), parameter_count(mlp_width(10**8))
    (15, 99980000)
    """
    target = check_count("n_params", n_params, minimum=2 * LAYERS)
    # $$h^2 + h = D/L \iff h = \tfrac12\big(\sqrt{1 + 4D/L} - 1\big)$$
    root = math.floor((math.sqrt(1 + 4 * target / LAYERS) - 1) / 2)
    return min({max(1, root), root + 1}, key=lambda h: (abs(parameter_count(h) - target), h))


def cost_mlp(width: int, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """The timed network, initialized by PyTorch's default from `seed`.

    The global generator's state is left as it was.

    Examples
    --------
    >>> from benchmarks.cost.forms import cost_mlp, parameter_count
    >>> sum(p.numel() for p in cost_mlp(15).parameters()) == parameter_count(15)
    True
    """
    h = check_count("width", width)
    check_dtype("dtype", dtype)
    # LAYERS linear layers of width h, ReLU between them: Net's hidden blocks and its head
    return Net(h, h, LAYERS - 1, h, seed=check_count("seed", seed, minimum=0), dtype=dtype)


def _penalty_vector(params: Params, lambd: float, n_terms: int) -> Tensor:
    # $$\frac{\lambda}{2}\lVert\theta\rVert^2$$ of the concatenated parameters (a copy)
    return 0.5 * lambd * torch.nn.utils.parameters_to_vector(params).pow(2).sum()


def _penalty(params: Params, lambd: float, n_terms: int) -> Tensor:
    return l2_penalty(params, lambd)


def _torch_sgd(**options: bool) -> MakeOptimizer:
    return lambda params, lr, lambd: torch.optim.SGD(params, lr=lr, weight_decay=lambd, **options)


def _plain_sgd(params: Params, lr: float, lambd: float) -> Optimizer:
    return torch.optim.SGD(params, lr=lr)


def _ours_sgd(decoupled: bool) -> MakeOptimizer:
    return lambda params, lr, lambd: optim.SGD(
        params, lr=lr, weight_decay=lambd, decoupled=decoupled
    )


def _torch_adamw(decay: bool) -> MakeOptimizer:
    return lambda params, lr, lambd: torch.optim.AdamW(
        params, lr=lr, weight_decay=lambd if decay else 0.0
    )


def _ours_adamw(params: Params, lr: float, lambd: float) -> Optimizer:
    return optim.AdamW(params, lr=lr, weight_decay=lambd)


@dataclass(frozen=True)
class Form:
    """One way of computing a training step with, or without, weight decay.

    Attributes
    ----------
    key : str
        Its name in `FORMS` and on the command line.
    label : str
        Its name in tables and figures.
    code : str
        The line of code that makes it, for the reader.
    baseline : str
        The key of the undecayed form it is compared with.
    optimizer : callable
        ``(params, lr, lambd) -> Optimizer``.
    penalty : callable or None
        ``(params, lambd, n_terms) -> Tensor``, added to the loss; None for none.
    """

    key: str
    label: str
    code: str
    baseline: str
    optimizer: MakeOptimizer
    penalty: Penalty | None = None

    @property
    def decays(self) -> bool:
        """Whether the form applies weight decay (it is not its own baseline)."""
        return self.key != self.baseline


_SAME = "the same, "
FORMS: dict[str, Form] = {
    form.key: form
    for form in [
        Form("none", "no decay", "torch.optim.SGD(params, lr)", "none", _plain_sgd),
        Form("sgd", "torch SGD wd (default)", "torch.optim.SGD(params, lr, weight_decay=λ)",
             "none", _torch_sgd()),
        Form("sgd-foreach", "torch SGD wd (foreach)", _SAME + "foreach=True", "none",
             _torch_sgd(foreach=True)),
        Form("sgd-single", "torch SGD wd (single-tensor)", _SAME + "foreach=False", "none",
             _torch_sgd(foreach=False)),
        Form("sgd-fused", "torch SGD wd (fused)", _SAME + "fused=True", "none",
             _torch_sgd(fused=True)),
        Form("penalty", "penalty in loss, per parameter",
             "loss + λ/2 * sum(p.pow(2).sum() for p in params)", "none", _plain_sgd, _penalty),
        Form("penalty-vector", "penalty in loss, parameters_to_vector",
             "loss + λ/2 * parameters_to_vector(params).pow(2).sum()", "none", _plain_sgd,
             _penalty_vector),
        Form("prior", "Gaussian prior log_prob", "loss + scaled_negative_log_prior(params, λ, N)",
             "none", _plain_sgd, scaled_negative_log_prior),
        Form("ours-sgd", "our SGD wd (coupled)",
             "weightdecay.optim.SGD(params, lr, weight_decay=λ)", "none", _ours_sgd(False)),
        Form("ours-sgdw", "our SGD wd (decoupled)", _SAME + "decoupled=True", "none",
             _ours_sgd(True)),
        Form("adamw-none", "torch AdamW, no decay",
             "torch.optim.AdamW(params, lr, weight_decay=0)", "adamw-none", _torch_adamw(False)),
        Form("adamw", "torch AdamW wd", "torch.optim.AdamW(params, lr, weight_decay=λ)",
             "adamw-none", _torch_adamw(True)),
        Form("ours-adamw", "our AdamW wd", "weightdecay.optim.AdamW(params, lr, weight_decay=λ)",
             "adamw-none", _ours_adamw),
    ]
}  # fmt: skip
"""Every form, by key, in the order of the reports."""


def check_form(key: object) -> Form:
    """Return `FORMS[key]`, or raise naming the valid keys.

    Examples
    --------
    >>> from benchmarks.cost.forms import check_form
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


def training_step(
    form: str,
    width: int,
    *,
    seed: int = 0,
    batch: int = BATCH,
    dtype: torch.dtype = torch.float32,
    lr: float = LEARNING_RATE,
    lambd: float = WEIGHT_DECAY,
) -> tuple[nn.Module, Callable[[], Tensor]]:
    r"""The timed network and a function taking one training step of `form` on it.

    The network and its batch are drawn from `seed`. The step clears the gradients
    (to None), computes $J = \mathrm{MSE}(f(x), y)$ plus the form's penalty (with $N$
    the entries of $y$), backpropagates and updates the network in place.

    Parameters
    ----------
    form : str
        A key of `FORMS`.
    width : int
        The layers' width $h$.
    seed : int, default 0
        Seeds the initialization and the batch.
    batch : int, default `BATCH`
        Examples in the batch.
    dtype : torch.dtype, default torch.float32
    lr : float, default `LEARNING_RATE`
        $\eta > 0$.
    lambd : float, default `WEIGHT_DECAY`
        $\lambda > 0$ (the prior needs a finite variance).

    Returns
    -------
    model : torch.nn.Module
    step : callable
        Takes one step; returns the detached objective before the update.

    Raises
    ------
    TypeError, ValueError
        On an unknown form or an argument out of range.

    Examples
    --------
    >>> from benchmarks.cost.forms import training_step
    >>> _, step = training_step("penalty", 8)
    >>> float(step()) > 0
    True
    """
    spec = check_form(form)
    for name, value in (("lr", lr), ("lambd", lambd)):
        if not (isinstance(value, float | int) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    root = check_count("seed", seed, minimum=0)
    model = cost_mlp(width, seed=derive_seed(root, "init"), dtype=dtype)
    gen = torch_generator(root, "batch")
    x = torch.randn(check_count("batch", batch), width, generator=gen).to(dtype)
    y = torch.randn(batch, width, generator=gen).to(dtype)
    params: Params = list(model.parameters())
    optimizer = spec.optimizer(params, float(lr), float(lambd))
    penalty = spec.penalty

    def step() -> Tensor:
        optimizer.zero_grad()
        # $$J(\theta) = \frac{1}{N}\sum_i (f(x)_i - y_i)^2\;[+\ \text{penalty}(\theta)]$$
        loss = torch.nn.functional.mse_loss(model(x), y)
        if penalty is not None:
            loss = loss + penalty(params, float(lambd), y.numel())
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return loss.detach()

    return model, step
