r"""Weights that feed a normalization layer: scale invariance, and their norm under SGD.

A normalization divides $z = Wx$ by a standard deviation of $z$, so $L(cW) = L(W)$ for $c > 0$
(for $\epsilon = 0$; else $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$), and SGD with decay drives
$\lVert W\rVert$ to an equilibrium. Losses are evaluated on copies of the buffers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.ao.nn import quantized
from torch.func import functional_call
from torch.nn.functional import cross_entropy

from weightdecay._checks import check_nonnegative, check_positive, check_rate

__all__ = [
    "NORM_LAYERS",
    "WEIGHT_LAYERS",
    "equilibrium_angular_update",
    "equilibrium_norm",
    "first_order_loss_change",
    "gradient_scaling_error",
    "loss_change_under_scaling",
    "next_squared_norm",
    "relaxation_steps",
    "scale_invariant_weights",
    "scaled_loss",
    "weight_gradient_cosine",
]

LossFn = Callable[[Tensor, Tensor], Tensor]  # loss_fn(outputs, targets) -> scalar tensor
# These subtract a per-channel mean, so a per-channel bias before them cancels. A Lazy one
# becomes its plain class once initialized; torch.ao's quantized BatchNorm is none of them.
_CENTRING: tuple[type[nn.Module], ...] = (
    *(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm),
    *(nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d),
    *(quantized.BatchNorm2d, quantized.BatchNorm3d),
    *(nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
    *(nn.LazyInstanceNorm1d, nn.LazyInstanceNorm2d, nn.LazyInstanceNorm3d),
)

WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""Layers whose output is linear in their weight, so the weight can be scale-invariant."""

NORM_LAYERS: tuple[type[nn.Module], ...] = (*_CENTRING, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
"""Normalizations that divide by a standard deviation (or root mean square) of their input."""


def scale_invariant_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    r"""The weights of `model` whose rescaling $W \to cW$ ($c > 0$) leaves the output unchanged.

    A `WEIGHT_LAYERS` layer's weight qualifies when one of `NORM_LAYERS` follows it directly in
    an ``nn.Sequential`` (nested ones flattened) and it has no bias, unless the normalization
    subtracts a per-channel mean (BatchNorm, InstanceNorm). Exact for $\epsilon = 0$, BatchNorm
    in training mode only; layers wired in a custom ``forward`` are not found.

    Examples
    --------
    >>> from torch import nn
    >>> from weightdecay.models import NormalizedClassifier
    >>> from weightdecay.normalization import scale_invariant_weights
    >>> list(scale_invariant_weights(NormalizedClassifier(seed=0)))  # not the head, 6.weight
    ['0.weight', '3.weight']
    >>> [list(scale_invariant_weights(nn.Sequential(nn.Linear(3, 5), norm(5))))  # with a bias
    ...  for norm in (nn.LayerNorm, nn.BatchNorm1d)]
    [[], ['0.weight']]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    found: dict[str, nn.Parameter] = {}
    _search(model, "", found)
    return found


def _flatten(sequence: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    """The leaves of a (possibly nested) Sequential, with their full names."""
    leaves: list[tuple[str, nn.Module]] = []
    for name, child in sequence.named_children():
        nested = isinstance(child, nn.Sequential)
        leaves += _flatten(child, f"{prefix}{name}.") if nested else [(f"{prefix}{name}", child)]
    return leaves


def _search(module: nn.Module, prefix: str, found: dict[str, nn.Parameter]) -> None:
    """Collect the scale-invariant weights under `module` into `found`."""
    if not isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            _search(child, f"{prefix}{name}.", found)
        return
    leaves = _flatten(module, prefix)
    for (name, layer), (_, after) in itertools.pairwise(leaves):
        if not isinstance(layer, WEIGHT_LAYERS) or not isinstance(after, NORM_LAYERS):
            continue
        if isinstance(layer.weight, nn.Parameter) and (
            layer.bias is None or isinstance(after, _CENTRING)
        ):
            found[f"{name}.weight"] = layer.weight
    for name, leaf in leaves:
        _search(leaf, f"{name}.", found)


def _checked(
    model: nn.Module, name: str | Sequence[str], scale: float, inputs: Tensor, targets: Tensor
) -> tuple[tuple[str, ...], float]:
    """The parameter names of `name` (one, or several if a tuple or list) and $c$, checked."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = tuple(name) if isinstance(name, (tuple, list)) else (name,)
    if not names:
        raise ValueError("name must name at least one parameter, got an empty sequence")
    params = dict(model.named_parameters())
    for each in names:
        if not isinstance(each, str):
            raise TypeError(f"name must be a str, got {each!r} ({type(each).__name__})")
        if each not in params:
            raise ValueError(
                f"name must be a parameter of model, one of {sorted(params)}; got {each!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"name must not repeat a parameter, got {name!r}")
    c = check_positive("scale", scale)
    for label, tensor in (("inputs", inputs), ("targets", targets)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{label} must be a torch.Tensor, got {type(tensor).__name__}")
    return names, c


def scaled_loss(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = cross_entropy,
    *,
    requires_grad: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""$L(cW)$: the loss with the parameter `name` multiplied by `scale`, model untouched.

    `name` is one of ``model.named_parameters()``; the model runs in its current mode on
    copies of its buffers. Returns the loss and $cW$, a leaf tensor; with `requires_grad`, the
    graph from $cW$ to the loss is built.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from weightdecay.models import NormalizedClassifier
    >>> from weightdecay.normalization import scaled_loss
    >>> model = NormalizedClassifier(seed=0)
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> loss, w = scaled_loss(model, "0.weight", 1.0, x, y)
    >>> model[1].running_mean.count_nonzero().item()  # BatchNorm's statistics not updated
    0
    >>> torch.equal(loss, nn.functional.cross_entropy(model(x), y))
    True
    """
    _, c = _checked(model, [name], scale, inputs, targets)
    weight = dict(model.named_parameters())[name]
    # $$W \to cW$$
    scaled = (c * weight.detach()).requires_grad_(requires_grad)
    state = {key: buffer.clone() for key, buffer in model.named_buffers()} | {name: scaled}
    with torch.set_grad_enabled(requires_grad):
        loss = loss_fn(functional_call(model, state, (inputs,)), targets)
    return loss, scaled


def loss_change_under_scaling(
    model: nn.Module,
    name: str | Sequence[str],
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = cross_entropy,
) -> float:
    r"""The relative change of the loss under $W \to cW$: $|L(cW) - L(W)|\,/\,|L(W)|$.

    Zero for a scale-invariant weight with $\epsilon = 0$. `name` may list several parameters,
    all scaled: a normalization's gain and bias together are invariant when ReLU, a linear
    layer without bias and another normalization follow. Otherwise as `scaled_loss`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> from weightdecay.normalization import loss_change_under_scaling
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> with torch.no_grad():
    ...     _ = model[1].bias.normal_(generator=torch.Generator().manual_seed(1))
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(32, 4, dtype=torch.float64), torch.arange(32) % 4
    >>> loss_change_under_scaling(model, ("1.weight", "1.bias"), 3.0, x, y) < 1e-14
    True
    >>> loss_change_under_scaling(model, "1.weight", 3.0, x, y) > 1e-3
    True
    """
    names, c = _checked(model, name, scale, inputs, targets)
    params = dict(model.named_parameters())
    losses = []
    for factor in (1.0, c):
        state = {key: buffer.clone() for key, buffer in model.named_buffers()}
        # $$\theta \to c\theta$$ for each parameter named
        state |= {each: factor * params[each].detach() for each in names}
        with torch.no_grad():
            losses.append(loss_fn(functional_call(model, state, (inputs,)), targets).item())
    base, scaled = losses
    if base == 0:
        raise ValueError("the loss L(W) must be nonzero for a relative change, got 0.0")
    # $$|L(cW) - L(W)|\,/\,|L(W)|$$
    return abs(scaled - base) / abs(base)


def weight_gradient_cosine(
    model: nn.Module, name: str, inputs: Tensor, targets: Tensor, loss_fn: LossFn = cross_entropy
) -> float:
    r"""The cosine between the gradient and the weight, zero when $L(cW) = L(W)$.

    $$\cos = \frac{\langle\nabla L, W\rangle}{\lVert\nabla L\rVert\,\lVert W\rVert},
    \qquad \langle\nabla L(W), W\rangle = \frac{\mathrm{d}}{\mathrm{d}c}L(cW)\Big|_{c=1}.$$

    Arguments as in `scaled_loss`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> from weightdecay.normalization import weight_gradient_cosine
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> [abs(weight_gradient_cosine(model, w, x, y)) < 1e-14 for w in ("3.weight", "6.weight")]
    [True, False]
    """
    loss, weight = scaled_loss(model, name, 1.0, inputs, targets, loss_fn, requires_grad=True)
    (grad,) = torch.autograd.grad(loss, weight)
    scale: float = grad.norm().item() * weight.norm().item()
    if scale == 0:
        raise ValueError(f"the gradient and the weight {name!r} must be nonzero, got zero")
    # $$\langle\nabla L, W\rangle / (\lVert\nabla L\rVert\,\lVert W\rVert)$$
    return (grad * weight).sum().item() / scale


def gradient_scaling_error(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = cross_entropy,
) -> float:
    r"""How far the gradient is from scaling as $1/c$, relative.

    $$\frac{\lVert c\,\nabla L(cW) - \nabla L(W)\rVert}{\lVert\nabla L(W)\rVert},$$

    zero when $L(cW) = L(W)$. Arguments as in `scaled_loss`; $\nabla L(W)$ must be nonzero.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> from weightdecay.normalization import gradient_scaling_error
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> [gradient_scaling_error(model, w, 7.0, x, y) < 1e-14 for w in ("3.weight", "6.weight")]
    [True, False]
    """
    c = check_positive("scale", scale)
    grads: list[Tensor] = []
    for s in (1.0, c):
        loss, weight = scaled_loss(model, name, s, inputs, targets, loss_fn, requires_grad=True)
        grads += torch.autograd.grad(loss, weight)
    grad, grad_scaled = grads
    reference: float = grad.norm().item()
    if reference == 0:
        raise ValueError(f"the gradient with respect to {name!r} must be nonzero, got zero")
    # $$\lVert c\,\nabla L(cW) - \nabla L(W)\rVert / \lVert\nabla L(W)\rVert$$
    return float((c * grad_scaled - grad).norm().item()) / reference


def first_order_loss_change(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = cross_entropy,
) -> float:
    r"""The first-order prediction of $L(cW) - L(W)$ when the normalization has $\epsilon > 0$.

    From $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$ and its derivative in $c$ at 1,
    $\langle\nabla L, W\rangle = -2\epsilon\,\partial L/\partial\epsilon$:

    $$L(cW) - L(W) \approx \tfrac{1}{2}\big(1 - c^{-2}\big)\,\langle\nabla L(W), W\rangle,$$

    to a relative error of order $\epsilon\,|1 - c^{-2}|$ over the smallest variance normalized.
    Arguments as in `scaled_loss`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import NormalizedClassifier
    >>> from weightdecay.normalization import first_order_loss_change, scaled_loss
    >>> model = NormalizedClassifier(seed=0)  # PyTorch's default eps = 1e-5
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(64, 4, dtype=torch.float64), torch.arange(64) % 4
    >>> measured = (scaled_loss(model, "3.weight", 2.0, x, y)[0]
    ...             - scaled_loss(model, "3.weight", 1.0, x, y)[0]).item()
    >>> abs(measured / first_order_loss_change(model, "3.weight", 2.0, x, y) - 1) < 1e-3
    True
    """
    c = check_positive("scale", scale)
    loss, weight = scaled_loss(model, name, 1.0, inputs, targets, loss_fn, requires_grad=True)
    (grad,) = torch.autograd.grad(loss, weight)
    # $$L(cW) - L(W) \approx \tfrac{1}{2}(1 - c^{-2})\,\langle\nabla L(W), W\rangle$$
    return 0.5 * (1 - c**-2) * (grad * weight).sum().item()


def next_squared_norm(
    squared_norm: float, grad_squared_norm: float, lr: float, weight_decay: float
) -> float:
    r"""$\lVert W'\rVert^2$ after one SGD step with decay, for a gradient orthogonal to $W$.

    With $g$ the data gradient (without the decay term), $W' = (1 - \eta\lambda)W - \eta g$:

    $$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2.$$

    Examples
    --------
    >>> import torch
    >>> from weightdecay.normalization import next_squared_norm
    >>> _ = torch.manual_seed(0)
    >>> w, g = torch.randn(2, 15, dtype=torch.float64)
    >>> g -= (g @ w) / (w @ w) * w  # orthogonal to w
    >>> predicted = next_squared_norm((w @ w).item(), (g @ g).item(), lr=0.1, weight_decay=0.01)
    >>> w.grad = g
    >>> torch.optim.SGD([w], lr=0.1, weight_decay=0.01).step()
    >>> abs((w @ w).item() / predicted - 1) < 1e-14
    True
    """
    n = check_nonnegative("squared_norm", squared_norm)
    gg = check_nonnegative("grad_squared_norm", grad_squared_norm)
    eta, lam = check_rate(lr, weight_decay, positive_decay=False)
    # $$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2$$
    return (1 - eta * lam) ** 2 * n + eta**2 * gg


def equilibrium_norm(lr: float, weight_decay: float, unit_grad_squared_norm: float) -> float:
    r"""The weight norm at which SGD's decay and gradient steps balance, on average.

    A scale-invariant weight has $g = \hat g/\lVert W\rVert$, $\hat g$ the gradient at
    $W/\lVert W\rVert$. With $G = \mathbb{E}\lVert\hat g\rVert^2$ (`unit_grad_squared_norm`)
    the fixed point of $\nu' = (1 - \eta\lambda)^2\nu + \eta^2 G/\nu$, $\nu = \lVert W\rVert^2$, is

    $$\lVert W\rVert^4 = \frac{\eta\,G}{\lambda(2 - \eta\lambda)}, \qquad 0 < \eta\lambda < 1.$$

    Examples
    --------
    >>> from weightdecay.normalization import equilibrium_norm, next_squared_norm
    >>> eta, lam, G = 0.5, 0.01, 0.3
    >>> n = [100.0, 1e-3]  # the recursion converges to it from above and below
    >>> for _ in range(2000):
    ...     n = [next_squared_norm(m, G / m, eta, lam) for m in n]
    >>> [abs(m**0.5 / equilibrium_norm(eta, lam, G) - 1) < 1e-12 for m in n]
    [True, True]
    """
    eta, lam = check_rate(lr, weight_decay, positive_decay=True)
    big_g = check_nonnegative("unit_grad_squared_norm", unit_grad_squared_norm)
    # $$\lVert W\rVert^4 = \eta G / \big(\lambda(2 - \eta\lambda)\big)$$
    return float((eta * big_g / (lam * (2 - eta * lam))) ** 0.25)


def equilibrium_angular_update(lr: float, weight_decay: float) -> float:
    r"""The root-mean-square angular update $\eta\lVert g\rVert/\lVert W\rVert$ at equilibrium.

    Dividing the balance $\big(1 - (1 - \eta\lambda)^2\big)\nu = \eta^2\lVert g\rVert^2$ (in
    expectation) by $\nu = \lVert W\rVert^2$, whatever $G$ (`equilibrium_norm`):

    $$\sqrt{\mathbb{E}\big[\eta^2\lVert g\rVert^2/\lVert W\rVert^2\big]}
    = \sqrt{\eta\lambda(2 - \eta\lambda)} \approx \sqrt{2\eta\lambda}.$$

    Examples
    --------
    >>> from weightdecay.normalization import equilibrium_angular_update, equilibrium_norm
    >>> eta, lam = 0.5, 0.01  # at the equilibrium norm, ||g|| = sqrt(G) / ||W||
    >>> angular = [eta * G**0.5 / equilibrium_norm(eta, lam, G) ** 2 for G in (0.01, 1.0, 50.0)]
    >>> [abs(a / equilibrium_angular_update(eta, lam) - 1) < 1e-14 for a in angular]
    [True, True, True]
    """
    eta, lam = check_rate(lr, weight_decay, positive_decay=True)
    # $$\sqrt{\eta\lambda(2 - \eta\lambda)}$$
    return math.sqrt(eta * lam * (2 - eta * lam))


def relaxation_steps(lr: float, weight_decay: float) -> float:
    r"""The steps over which $\lVert W\rVert^2$ relaxes to equilibrium, $1/(4\eta\lambda)$.

    Linearized at the fixed point, a deviation shrinks per step by $1 - 4\eta\lambda +
    2\eta^2\lambda^2 \approx e^{-4\eta\lambda}$ (far above it, by decay alone: half as fast).

    Examples
    --------
    >>> import math
    >>> from weightdecay.normalization import equilibrium_norm, next_squared_norm, relaxation_steps
    >>> eta, lam, G = 0.1, 0.01, 1.0
    >>> n = 1.001 * (n_star := equilibrium_norm(eta, lam, G) ** 2)
    >>> for _ in range(round(relaxation_steps(eta, lam))):
    ...     n = next_squared_norm(n, G / n, eta, lam)
    >>> abs((n - n_star) / (0.001 * n_star) - math.exp(-1)) < 0.01  # shrunk by about 1/e
    True
    """
    eta, lam = check_rate(lr, weight_decay, positive_decay=True)
    # $$t_{\text{relax}} = 1/(4\eta\lambda)$$
    return 1 / (4 * eta * lam)
