r"""Scale invariance of a weight that feeds a normalization layer, and its gradient.

A linear layer's pre-activations $z = Wx$ entering BatchNorm (training mode) or
LayerNorm become $\hat z = (z - \mu)/\sqrt{\sigma^2 + \epsilon}$, where $\mu$ and
$\sigma^2$ are computed from $z$ itself. Under $W \to cW$ with $c > 0$, $\mu \to c\mu$
and $\sigma^2 \to c^2\sigma^2$, so

$$L_\epsilon(cW) = L_{\epsilon/c^2}(W), \qquad\text{and for } \epsilon = 0:\quad
L(cW) = L(W).$$

Differentiating $L(cW) = L(W)$ in $c$ at $c = 1$ gives
$\langle\nabla L(W), W\rangle = 0$; differentiating it in $W$ gives
$c\,\nabla L(cW) = \nabla L(W)$. What SGD with decay does with such a weight is in
`weightdecay.equilibrium`. The same holds for a normalization's gain and bias taken
together when a positively homogeneous activation (ReLU), a linear layer without bias
and another normalization follow them; `loss_change_under_scaling` scales several
parameters at once to measure it.

The measuring functions evaluate the model through ``torch.func.functional_call`` with
the scaled weight and copies of the buffers, so the model itself (parameters,
gradients, BatchNorm running statistics) is left untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from weightdecay._checks import check_positive

__all__ = [
    "NORM_LAYERS",
    "WEIGHT_LAYERS",
    "first_order_loss_change",
    "gradient_scaling_error",
    "loss_change_under_scaling",
    "scale_invariant_weights",
    "scaled_loss",
    "weight_gradient_cosine",
]

LossFn = Callable[[Tensor, Tensor], Tensor]
"""A loss of (outputs, targets), returning a scalar tensor."""

WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""Layers whose weight can be scale-invariant: their output is linear in the weight."""

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
)
"""Normalizations that divide by a standard deviation (or root mean square) of their input."""

# These subtract a per-channel mean, so a per-channel bias before them cancels.
_PER_CHANNEL_MEAN: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def scale_invariant_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    r"""The weights of `model` whose rescaling $W \to cW$ ($c > 0$) leaves the output unchanged.

    A weight qualifies when its layer (Linear or Conv, `WEIGHT_LAYERS`) is followed
    directly, inside an ``nn.Sequential`` (nested ones are flattened), by a
    normalization of `NORM_LAYERS`. The layer's bias must be absent unless the
    normalization subtracts a per-channel mean (BatchNorm, InstanceNorm), which
    cancels it; a bias before LayerNorm, GroupNorm or RMSNorm breaks the invariance
    of the weight alone. BatchNorm qualifies in training mode only (in evaluation mode it
    divides by running statistics), and exactly only with $\epsilon = 0$.

    The search is conservative: a layer separated from its normalization by another
    module, or wired in a custom ``forward``, is not listed.

    Parameters
    ----------
    model : nn.Module
        The model to search (it and any submodule may be an ``nn.Sequential``).

    Returns
    -------
    dict of str to nn.Parameter
        Parameter name (as in ``model.named_parameters()``) to parameter, in order.

    Raises
    ------
    TypeError
        If `model` is not an ``nn.Module``.

    Examples
    --------
    The two hidden weights of the classifier are listed, the head's is not, and the
    loss confirms it:

    >>> import torch
    >>> from torch import nn
    >>> from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> from weightdecay.scale_invariance import (loss_change_under_scaling,
    ...                                           scale_invariant_weights)
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> list(scale_invariant_weights(model))
    ['0.weight', '3.weight']
    >>> x, y = torch.randn(32, 4, dtype=torch.float64), torch.arange(32) % 4
    >>> [loss_change_under_scaling(model, name, 3.0, x, y) < 1e-14
    ...  for name in ("0.weight", "3.weight", "6.weight")]
    [True, True, False]

    A bias before LayerNorm does not cancel:

    >>> list(scale_invariant_weights(nn.Sequential(nn.Linear(3, 5), nn.LayerNorm(5))))
    []
    >>> list(scale_invariant_weights(nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))))
    ['0.weight']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    found: dict[str, nn.Parameter] = {}
    _search(model, "", found)
    return found


def _flatten(sequence: nn.Sequential, prefix: str) -> list[tuple[str, nn.Module]]:
    """The leaves of a (possibly nested) Sequential, with their full names."""
    leaves: list[tuple[str, nn.Module]] = []
    for name, child in sequence.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            leaves += _flatten(child, f"{full}.")
        else:
            leaves.append((full, child))
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
        weight = layer.weight
        if isinstance(weight, nn.Parameter) and (
            layer.bias is None or isinstance(after, _PER_CHANNEL_MEAN)
        ):
            found[f"{name}.weight"] = weight
    for name, leaf in leaves:
        _search(leaf, f"{name}.", found)


def _parameter(model: nn.Module, name: str) -> nn.Parameter:
    """The parameter called `name` in `model`, or an error listing the names."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r} ({type(name).__name__})")
    params = dict(model.named_parameters())
    if name not in params:
        raise ValueError(
            f"name must be a parameter of model, one of {sorted(params)}; got {name!r}"
        )
    return params[name]


def scaled_loss(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = nn.functional.cross_entropy,
    *,
    requires_grad: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""$L(cW)$: the loss with the parameter `name` multiplied by `scale`, model untouched.

    The call runs the model in its current mode (BatchNorm in training mode uses
    the batch's statistics) on copies of its buffers, so running statistics are
    not updated.

    Parameters
    ----------
    model : nn.Module
        The model.
    name : str
        A parameter name of ``model.named_parameters()``.
    scale : float
        $c > 0$.
    inputs, targets : Tensor
        One batch.
    loss_fn : callable, default ``nn.functional.cross_entropy``
        ``loss_fn(outputs, targets)``, a scalar.
    requires_grad : bool, default False
        Whether to build the graph for the gradient with respect to $cW$.

    Returns
    -------
    tuple of Tensor
        The loss and the scaled weight $cW$ it was computed at (a leaf tensor that
        requires grad when `requires_grad` is set).

    Raises
    ------
    TypeError, ValueError
        If `model` is not a module, `name` is not one of its parameters, `scale`
        is not a finite positive number, or `inputs` or `targets` is not a tensor.

    Examples
    --------
    At ``scale=1`` it is the model's own loss in training mode, and the model's state
    (here BatchNorm's running statistics) is left as it was:

    >>> import torch
    >>> from torch import nn
    >>> from weightdecay.models.normalized import NormalizedClassifier
    >>> from weightdecay.scale_invariance import scaled_loss
    >>> model = NormalizedClassifier(seed=0)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> before = {k: v.clone() for k, v in model.state_dict().items()}
    >>> loss, w = scaled_loss(model, "0.weight", 1.0, x, y)
    >>> all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    True
    >>> torch.equal(loss, nn.functional.cross_entropy(model(x), y))
    True
    >>> scaled_loss(model, "0.bias", 1.0, x, y)
    Traceback (most recent call last):
    ...
    ValueError: name must be a parameter of model, one of [...]; got '0.bias'
    """
    weight = _parameter(model, name)
    c = check_positive("scale", scale)
    for label, tensor in (("inputs", inputs), ("targets", targets)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{label} must be a torch.Tensor, got {type(tensor).__name__}")
    # $$W \to cW$$
    scaled = (c * weight.detach()).requires_grad_(requires_grad)
    state = {key: buffer.clone() for key, buffer in model.named_buffers()}
    state[name] = scaled
    with torch.set_grad_enabled(requires_grad):
        outputs = functional_call(model, state, (inputs,))
        loss = loss_fn(outputs, targets)
    return loss, scaled


def _names(model: nn.Module, name: str | Sequence[str]) -> tuple[str, ...]:
    """One parameter name, or several distinct ones, each checked against `model`."""
    names = tuple(name) if isinstance(name, (tuple, list)) else (name,)
    if not names:
        raise ValueError("name must name at least one parameter, got an empty sequence")
    if len(set(names)) != len(names):
        raise ValueError(f"name must not repeat a parameter, got {name!r}")
    for each in names:
        _parameter(model, each)
    return names


def _loss_at_scale(
    model: nn.Module,
    names: tuple[str, ...],
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
) -> float:
    r"""The loss with every parameter of `names` multiplied by `scale`, model untouched."""
    params = dict(model.named_parameters())
    state = {key: buffer.clone() for key, buffer in model.named_buffers()}
    for name in names:
        # $$\theta \to c\,\theta$$
        state[name] = scale * params[name].detach()
    with torch.no_grad():
        loss = loss_fn(functional_call(model, state, (inputs,)), targets)
    return loss.item()


def _gradient(
    model: nn.Module, name: str, scale: float, inputs: Tensor, targets: Tensor, loss_fn: LossFn
) -> tuple[Tensor, Tensor, Tensor]:
    r"""The loss, $cW$ and $\nabla L(cW)$."""
    loss, scaled = scaled_loss(model, name, scale, inputs, targets, loss_fn, requires_grad=True)
    (grad,) = torch.autograd.grad(loss, scaled)
    return loss.detach(), scaled.detach(), grad


def loss_change_under_scaling(
    model: nn.Module,
    name: str | Sequence[str],
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = nn.functional.cross_entropy,
) -> float:
    r"""The relative change of the loss under $W \to cW$: $|L(cW) - L(W)|\,/\,|L(W)|$.

    Zero up to rounding for a scale-invariant weight with $\epsilon = 0$. Several
    parameters can be scaled together: a normalization's gain and bias $(\gamma, \beta)$
    are jointly scale-invariant when a positively homogeneous activation (ReLU), a
    linear layer without bias and another normalization follow them.

    Parameters
    ----------
    model : nn.Module
        The model, in the mode to measure (training or evaluation).
    name : str or sequence of str
        The parameter $W$, or several distinct parameters all multiplied by $c$.
    scale : float
        $c > 0$.
    inputs, targets : Tensor
        One batch.
    loss_fn : callable, default ``nn.functional.cross_entropy``
        ``loss_fn(outputs, targets)``.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As `scaled_loss`; ``ValueError`` also if $L(W) = 0$, or if `name` is an empty
        sequence or repeats a parameter.

    Examples
    --------
    Checked against a direct evaluation with the weight rescaled in place:

    >>> import torch
    >>> from torch import nn
    >>> from weightdecay.scale_invariance import loss_change_under_scaling
    >>> torch.manual_seed(0) and None
    >>> model = nn.Sequential(nn.Linear(3, 6, bias=False), nn.LayerNorm(6, eps=0.0),
    ...                       nn.Linear(6, 2)).double()
    >>> x, y = torch.randn(10, 3, dtype=torch.float64), torch.arange(10) % 2
    >>> change = loss_change_under_scaling(model, "0.weight", 5.0, x, y)
    >>> change < 1e-14
    True
    >>> before = nn.functional.cross_entropy(model(x), y).item()
    >>> with torch.no_grad():
    ...     _ = model[2].weight.mul_(5.0)
    >>> after = nn.functional.cross_entropy(model(x), y).item()
    >>> with torch.no_grad():
    ...     _ = model[2].weight.div_(5.0)
    >>> abs(loss_change_under_scaling(model, "2.weight", 5.0, x, y)
    ...     - abs(after - before) / before) < 1e-14
    True

    The first normalization's gain and bias, followed by ReLU, a linear layer without
    bias and a second normalization, are invariant together but not apart:

    >>> from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> with torch.no_grad():
    ...     _ = model[1].bias.normal_(generator=torch.Generator().manual_seed(1))
    >>> x, y = torch.randn(32, 4, dtype=torch.float64), torch.arange(32) % 4
    >>> loss_change_under_scaling(model, ("1.weight", "1.bias"), 3.0, x, y) < 1e-14
    True
    >>> loss_change_under_scaling(model, "1.weight", 3.0, x, y) > 1e-3
    True
    """
    names = _names(model, name)
    c = check_positive("scale", scale)
    for label, tensor in (("inputs", inputs), ("targets", targets)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{label} must be a torch.Tensor, got {type(tensor).__name__}")
    base = _loss_at_scale(model, names, 1.0, inputs, targets, loss_fn)
    scaled = _loss_at_scale(model, names, c, inputs, targets, loss_fn)
    if base == 0:
        raise ValueError("the loss L(W) must be nonzero for a relative change, got 0.0")
    # $$\frac{|L(cW) - L(W)|}{|L(W)|}$$
    return abs(scaled - base) / abs(base)


def weight_gradient_cosine(
    model: nn.Module,
    name: str,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = nn.functional.cross_entropy,
) -> float:
    r"""The cosine between the gradient $\nabla L(W)$ and the weight $W$.

    $\cos = \langle\nabla L, W\rangle/(\lVert\nabla L\rVert\,\lVert W\rVert)$.

    From $\frac{d}{dc}L(cW)\big|_{c=1} = \langle\nabla L(W), W\rangle$: zero up to
    rounding when $L(cW) = L(W)$ for all $c > 0$.

    Parameters
    ----------
    model : nn.Module
        The model.
    name : str
        The parameter $W$.
    inputs, targets : Tensor
        One batch.
    loss_fn : callable, default ``nn.functional.cross_entropy``
        ``loss_fn(outputs, targets)``.

    Returns
    -------
    float
        In $[-1, 1]$.

    Raises
    ------
    TypeError, ValueError
        As `scaled_loss`; ``ValueError`` also if the gradient or the weight is zero.

    Examples
    --------
    The derivative in $c$, by a central difference, is the inner product the cosine
    normalizes (checked here on a weight that is not scale-invariant):

    >>> import torch
    >>> from weightdecay.models.normalized import NormalizedClassifier
    >>> from weightdecay.scale_invariance import scaled_loss, weight_gradient_cosine
    >>> model = NormalizedClassifier(seed=0)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> cos = weight_gradient_cosine(model, "6.weight", x, y)
    >>> h = 1e-5
    >>> up, down = (scaled_loss(model, "6.weight", 1 + s, x, y)[0].item() for s in (h, -h))
    >>> loss, w = scaled_loss(model, "6.weight", 1.0, x, y, requires_grad=True)
    >>> (grad,) = torch.autograd.grad(loss, w)
    >>> abs((up - down) / (2 * h) - cos * grad.norm().item() * w.norm().item()) < 1e-8
    True
    >>> abs(cos) > 0.01
    True
    """
    _, weight, grad = _gradient(model, name, 1.0, inputs, targets, loss_fn)
    scale: float = grad.norm().item() * weight.norm().item()
    if scale == 0:
        raise ValueError(f"the gradient and the weight {name!r} must be nonzero, got zero")
    # $$\cos = \frac{\langle\nabla L, W\rangle}{\lVert\nabla L\rVert\,\lVert W\rVert}$$
    return (grad * weight).sum().item() / scale


def gradient_scaling_error(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = nn.functional.cross_entropy,
) -> float:
    r"""How far $c\,\nabla L(cW)$ is from $\nabla L(W)$, relative: the gradient's $1/c$ scaling.

    Differentiating $L(cW) = L(W)$ in $W$ gives $c\,\nabla L(cW) = \nabla L(W)$: the
    gradient is inversely proportional to the weight's scale.

    Parameters
    ----------
    model : nn.Module
        The model.
    name : str
        The parameter $W$.
    scale : float
        $c > 0$.
    inputs, targets : Tensor
        One batch.
    loss_fn : callable, default ``nn.functional.cross_entropy``
        ``loss_fn(outputs, targets)``.

    Returns
    -------
    float
        $\lVert c\,\nabla L(cW) - \nabla L(W)\rVert / \lVert\nabla L(W)\rVert$.

    Raises
    ------
    TypeError, ValueError
        As `scaled_loss`; ``ValueError`` also if $\nabla L(W) = 0$.

    Examples
    --------
    Zero up to rounding for a hidden weight (exact normalization, float64), far from
    zero for the head:

    >>> import torch
    >>> from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
    >>> from weightdecay.scale_invariance import gradient_scaling_error
    >>> model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    >>> x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 4
    >>> gradient_scaling_error(model, "3.weight", 7.0, x, y) < 1e-14
    True
    >>> gradient_scaling_error(model, "6.weight", 7.0, x, y) > 0.1
    True
    """
    c = check_positive("scale", scale)
    _, _, grad = _gradient(model, name, 1.0, inputs, targets, loss_fn)
    _, _, grad_scaled = _gradient(model, name, c, inputs, targets, loss_fn)
    reference: float = grad.norm().item()
    if reference == 0:
        raise ValueError(f"the gradient with respect to {name!r} must be nonzero, got zero")
    # $$\frac{\lVert c\,\nabla L(cW) - \nabla L(W)\rVert}{\lVert\nabla L(W)\rVert}$$
    distance: float = (c * grad_scaled - grad).norm().item()
    return distance / reference


def first_order_loss_change(
    model: nn.Module,
    name: str,
    scale: float,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn = nn.functional.cross_entropy,
) -> float:
    r"""The first-order prediction of $L(cW) - L(W)$ when the normalization has $\epsilon > 0$.

    With $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$, the change is
    $L_{\epsilon/c^2}(W) - L_\epsilon(W)
    \approx -\epsilon(1 - c^{-2})\,\partial L/\partial\epsilon$;
    and differentiating $L_\epsilon(cW) = L_{\epsilon/c^2}(W)$ in $c$ at $c = 1$ gives
    $\langle\nabla L, W\rangle = -2\epsilon\,\partial L/\partial\epsilon$. Together:

    $$L(cW) - L(W) \approx \tfrac{1}{2}\big(1 - c^{-2}\big)\,\langle\nabla L(W), W\rangle,$$

    with a relative error of order $\epsilon\,|1 - c^{-2}|/\sigma^2$, $\sigma^2$ the
    smallest variance the normalization divides by.

    Parameters
    ----------
    model : nn.Module
        The model.
    name : str
        The parameter $W$ (a scale-invariant weight, see `scale_invariant_weights`).
    scale : float
        $c > 0$.
    inputs, targets : Tensor
        One batch.
    loss_fn : callable, default ``nn.functional.cross_entropy``
        ``loss_fn(outputs, targets)``.

    Returns
    -------
    float
        The predicted change, signed.

    Raises
    ------
    TypeError, ValueError
        As `scaled_loss`.

    Examples
    --------
    Against the measured change, with PyTorch's default $\epsilon = 10^{-5}$:

    >>> import torch
    >>> from weightdecay.models.normalized import NormalizedClassifier
    >>> from weightdecay.scale_invariance import first_order_loss_change, scaled_loss
    >>> model = NormalizedClassifier(seed=0)
    >>> x, y = torch.randn(64, 4, dtype=torch.float64), torch.arange(64) % 4
    >>> measured = (scaled_loss(model, "3.weight", 2.0, x, y)[0]
    ...             - scaled_loss(model, "3.weight", 1.0, x, y)[0]).item()
    >>> predicted = first_order_loss_change(model, "3.weight", 2.0, x, y)
    >>> abs(measured / predicted - 1) < 1e-3
    True
    """
    c = check_positive("scale", scale)
    _, weight, grad = _gradient(model, name, 1.0, inputs, targets, loss_fn)
    # $$L(cW) - L(W) \approx \tfrac{1}{2}(1 - c^{-2})\,\langle\nabla L(W), W\rangle$$
    return 0.5 * (1 - c**-2) * (grad * weight).sum().item()
