r"""Linear and softmax regression from scratch and as `torch.nn` twins, and small networks.

Scratch models step on hand-derived gradients, $W$ of shape (inputs, outputs) (``nn.Linear``'s
transpose); twins train an ``nn.Linear`` by SGD. Only $W$ decays: the bias just shifts outputs.
"""

from __future__ import annotations

import itertools
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.nn import functional

from weightdecay._checks import (
    check_count,
    check_dtype,
    check_matrix,
    check_nonnegative,
    check_positive,
    check_tensor,
)
from weightdecay.classifiers import check_labels, class_probabilities, gradient, n_outputs
from weightdecay.optim import SGD

__all__ = [
    "NEGLIGIBLE_EPS",
    "NORMS",
    "Net",
    "NormalizedClassifier",
    "ScratchLinearRegression",
    "ScratchLogisticRegression",
    "TorchLinearRegression",
    "TorchLogisticRegression",
]

_T = TypeVar("_T")

NORMS = ("batch", "layer")
"""The normalizations a `Net` can put after its hidden linear layers."""

NEGLIGIBLE_EPS = sys.float_info.min
r"""An $\epsilon$ that changes nothing (BatchNorm refuses 0 in training): about 2.2e-308.

A float64 variance above $2^{54}\epsilon \approx 4\cdot 10^{-292}$ is unchanged, once rounded,
by adding $\epsilon$.
"""


def _seeded(seed: int | None, build: Callable[[], _T]) -> _T:
    """``build()`` after ``torch.manual_seed(seed)``, the global generator's state restored."""
    if seed is None:
        return build()
    check_count("seed", seed, minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class _Scratch:
    r"""The affine map $Z = XW + \mathbf{1}b^\top$, $W$ and $b$ plain tensors, and its step."""

    w: Tensor
    b: Tensor

    def __init__(self, n_features: int, lambd: float, dtype: torch.dtype) -> None:
        self.n_features = check_count("n_features", n_features)
        self.lambd = check_nonnegative("lambd", lambd)
        self.dtype = check_dtype("dtype", dtype)

    def parameters(self) -> list[Tensor]:
        """The parameters ``[w, b]``: live tensors, updated in place by ``step``."""
        return [self.w, self.b]

    def copy_params(self, layer: nn.Linear) -> None:
        r"""Copy an ``nn.Linear`` of this model's sizes and dtype: $W = \text{weight}^\top$."""
        if not isinstance(layer, nn.Linear) or layer.bias is None:
            raise TypeError(f"layer must be an nn.Linear with a bias, got {layer!r}")
        n_in, n_out = self.w.shape
        if (layer.in_features, layer.out_features) != (n_in, n_out):
            raise ValueError(
                f"layer must map {n_in} -> {n_out} features, "
                f"got {layer.in_features} -> {layer.out_features}"
            )
        if layer.weight.dtype != self.dtype:
            raise TypeError(f"layer must have dtype {self.dtype}, got {layer.weight.dtype}")
        with torch.no_grad():
            self.w.copy_(layer.weight.T)  # nn.Linear stores the (n_out, n_in) transpose
            self.b.copy_(layer.bias)

    def _affine(self, x: Tensor) -> Tensor:
        check_matrix("x", x, columns=self.n_features, dtype=self.dtype)
        return x @ self.w + self.b  # $Z = XW + \mathbf{1}b^\top$

    def _descend(self, grad_w: Tensor, grad_b: Tensor, eta: float) -> None:
        self.b -= eta * grad_b  # $b \leftarrow b - \eta\,\partial J/\partial b$
        self.w -= eta * grad_w  # $W \leftarrow W - \eta\,(X^\top\Delta + \lambda (W - W_0))$


class ScratchLinearRegression(_Scratch):
    r"""Linear regression $\hat Y = XW + \mathbf{1}b^\top$ trained by hand-derived steps on $J$.

    $$J(W, b) = \frac{1}{mk}\sum_{i,j}(\hat y_{ij} - y_{ij})^2
    + \frac{\lambda}{2}\lVert W - W_0\rVert_F^2$$

    Parameters
    ----------
    generator : torch.Generator or None, default None
        Source of the standard-normal initial ``w`` (n_features, n_targets) and ``b``.
    centre : Tensor or None, default None
        $W_0$, the point decay pulls $W$ towards (L2-SP); None is zero.

    Examples
    --------
    One step equals a step on $J$ differentiated by autograd:

    >>> import torch
    >>> from weightdecay.models import ScratchLinearRegression
    >>> g = torch.Generator().manual_seed(0)
    >>> model = ScratchLinearRegression(4, 2, lambd=0.1, generator=g)
    >>> x, y = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    >>> w, b = model.w.clone().requires_grad_(), model.b.clone().requires_grad_()
    >>> ((x @ w + b - y).pow(2).mean() + 0.1 / 2 * w.pow(2).sum()).backward()
    >>> _ = model.step(x, y, lr=0.5)
    >>> torch.allclose(model.w, w.detach() - 0.5 * w.grad, rtol=1e-14, atol=1e-15)
    True
    >>> torch.allclose(model.b, b.detach() - 0.5 * b.grad, rtol=1e-14, atol=1e-15)
    True
    >>> layer = torch.nn.Linear(4, 2).double()
    >>> model.copy_params(layer); torch.equal(model.w, layer.weight.T)
    True
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        lambd: float,
        *,
        dtype: torch.dtype = torch.float64,
        generator: torch.Generator | None = None,
        centre: Tensor | None = None,
    ) -> None:
        super().__init__(n_features, lambd, dtype)
        self.n_targets = check_count("n_targets", n_targets)
        self.w = torch.randn(n_features, n_targets, dtype=dtype, generator=generator)
        self.b = torch.randn(n_targets, dtype=dtype, generator=generator)
        if centre is not None:
            check_tensor("centre", centre, tuple(self.w.shape), dtype)
        self.centre = centre

    def predict(self, x: Tensor) -> Tensor:
        r"""The predictions $\hat Y = XW + \mathbf{1}b^\top$, shape (m, n_targets)."""
        return self._affine(x)

    def gradients(self, x: Tensor, y: Tensor, pred: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""The gradients $\partial J/\partial W$ and $\partial J/\partial b$ on a batch.

        With $\Delta = \frac{2}{mk}(\hat Y - Y)$: $\partial J/\partial W = X^\top\Delta +
        \lambda(W - W_0)$ and $\partial J/\partial b = \Delta^\top\mathbf{1}$, with no decay
        term. `pred` is ``predict(x)`` if already computed.
        """
        check_matrix("x", x, columns=self.n_features, dtype=self.dtype)
        check_matrix("y", y, columns=self.n_targets, dtype=self.dtype)
        if pred is None:
            pred = self._affine(x)
        else:
            check_matrix("pred", pred, columns=y.shape[1], dtype=y.dtype)
        if len({x.shape[0], y.shape[0], pred.shape[0]}) > 1:
            got = f"{x.shape[0]}, {y.shape[0]} and {pred.shape[0]}"
            raise ValueError(f"x, y and pred must have the same number of rows, got {got}")
        delta = 2 * (pred - y) / y.numel()  # $\Delta = \frac{2}{mk}(\hat Y - Y)$
        # $$\partial J/\partial W = X^\top\Delta + \lambda (W - W_0)$$
        if self.centre is None:
            grad_w = x.T @ delta + self.lambd * self.w
        else:
            grad_w = x.T @ delta + self.lambd * (self.w - self.centre)
        return grad_w, delta.sum(dim=0)  # $\partial J/\partial b = \Delta^\top\mathbf{1}$

    def step(self, x: Tensor, y: Tensor, lr: float) -> Tensor:
        r"""A step $\theta \leftarrow \theta - \eta\nabla J$; returns predictions before it."""
        eta = check_positive("lr", lr)
        pred = self.predict(x)
        self._descend(*self.gradients(x, y, pred), eta)
        return pred


class ScratchLogisticRegression(_Scratch):
    r"""Logistic (two classes, one logit) or softmax regression trained by hand-derived steps.

    $J = \frac{1}{n}\sum_i \ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$ with the cross-entropy
    $\ell_i$, stepping on `weightdecay.classifiers.gradient`. ``w`` has shape (d, 1) for two
    classes, else (d, K); the initial ``w``, ``b`` are 0.1 times standard normal draws.

    Examples
    --------
    One step equals a step on $J$ differentiated by autograd:

    >>> import torch
    >>> from weightdecay.classifiers import objective
    >>> from weightdecay.models import ScratchLogisticRegression
    >>> model = ScratchLogisticRegression(3, 4, 0.1, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    >>> w, b = model.w.clone().requires_grad_(), model.b.clone().requires_grad_()
    >>> objective(x, y, w, b, 0.1).backward()
    >>> model.step(x, y, lr=0.5)
    >>> torch.allclose(model.w, w.detach() - 0.5 * w.grad, rtol=1e-14, atol=1e-16)
    True
    >>> model.predict_proba(x).sum(dim=1).allclose(torch.ones(8, dtype=torch.float64))
    True
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        lambd: float,
        *,
        dtype: torch.dtype = torch.float64,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_features, lambd, dtype)
        self.n_classes = check_count("n_classes", n_classes, minimum=2)
        k = n_outputs(n_classes)
        self.w = 0.1 * torch.randn(n_features, k, dtype=dtype, generator=generator)
        self.b = 0.1 * torch.randn(k, dtype=dtype, generator=generator)

    def logits(self, x: Tensor) -> Tensor:
        r"""The logits $Z = XW + \mathbf{1}b^\top$, shape (m, 1) or (m, K)."""
        return self._affine(x)

    def predict_proba(self, x: Tensor) -> Tensor:
        """Every class's probability, shape (m, K), rows summing to 1."""
        return class_probabilities(self.logits(x))

    def step(self, x: Tensor, labels: Tensor, lr: float) -> None:
        r"""One step $\theta \leftarrow \theta - \eta\nabla_\theta J$ (the class's example)."""
        eta = check_positive("lr", lr)
        self.logits(x)
        check_labels(labels, self.n_classes, x.shape[0])
        self._descend(*gradient(x, labels, self.w, self.b, self.lambd), eta)


class TorchLinearRegression(nn.Module):
    """The twin of `ScratchLinearRegression`: an ``nn.Linear`` (``self.layer``) and its SGD.

    `seed` seeds PyTorch's default initialization, drawn in `dtype`, leaving the global
    generator untouched; None draws from the global generator.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import TorchLinearRegression
    >>> model, twin = TorchLinearRegression(6, 3, seed=0), TorchLinearRegression(6, 3, seed=0)
    >>> model(torch.zeros(2, 6).double()).shape, torch.equal(model.layer.weight, twin.layer.weight)
    (torch.Size([2, 3]), True)
    >>> [group["weight_decay"] for group in model.sgd(lr=0.01, weight_decay=0.01).param_groups]
    [0.01, 0.0]
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        *,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        n, k = check_count("n_features", n_features), check_count("n_targets", n_targets)
        check_dtype("dtype", dtype)
        self.layer = _seeded(seed, lambda: nn.Linear(n, k, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        r"""The outputs $X\,\text{weight}^\top + \text{bias}$."""
        out: Tensor = self.layer(x)
        return out

    def sgd(
        self, lr: float, weight_decay: float, centre: Tensor | None = None
    ) -> torch.optim.Optimizer:
        r"""SGD with `weight_decay` $\lambda$ on the weight's group and 0 on the bias's.

        ``torch.optim.SGD``; with a `centre` $W_0$ of shape (inputs, outputs), this package's
        `weightdecay.optim.SGD`, which decays the weight towards $W_0$.
        """
        eta = check_positive("lr", lr)
        lam = check_nonnegative("weight_decay", weight_decay)
        weight: dict[str, Any] = {"params": [self.layer.weight], "weight_decay": lam}
        groups = [weight, {"params": [self.layer.bias], "weight_decay": 0.0}]
        if centre is None:
            return torch.optim.SGD(groups, lr=eta)
        expected = (self.layer.in_features, self.layer.out_features)
        check_tensor("centre", centre, expected, self.layer.weight.dtype)
        weight["centre"] = [centre.T.contiguous()]
        return SGD(groups, lr=eta)


class TorchLogisticRegression(TorchLinearRegression):
    """The twin of `ScratchLogisticRegression`: an ``nn.Linear`` and PyTorch's cross-entropy.

    One output and ``binary_cross_entropy_with_logits`` for two classes, $K$ outputs and
    ``cross_entropy`` for more; `seed` as in `TorchLinearRegression`.

    Examples
    --------
    >>> import math, torch
    >>> from weightdecay.models import TorchLogisticRegression
    >>> TorchLogisticRegression(5, 2, seed=0)(torch.zeros(3, 5, dtype=torch.float64)).shape
    torch.Size([3, 1])
    >>> model = TorchLogisticRegression(2, 3, seed=0)
    >>> _ = torch.nn.init.zeros_(model.layer.bias)
    >>> loss = model.loss(torch.zeros(2, 2).double(), torch.tensor([0, 2]))
    >>> math.isclose(loss.item(), math.log(3))
    True
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        k = n_outputs(check_count("n_classes", n_classes, minimum=2))
        super().__init__(n_features, k, dtype=dtype, seed=seed)
        self.n_classes = n_classes

    def loss(self, x: Tensor, labels: Tensor) -> Tensor:
        """PyTorch's mean cross-entropy on a batch (no penalty: the optimizer decays)."""
        check_labels(labels, self.n_classes, x.shape[0])
        z = self(x)
        if z.shape[1] == 1:
            return functional.binary_cross_entropy_with_logits(z[:, 0], labels.to(z.dtype))
        return functional.cross_entropy(z, labels)


class Net(nn.Sequential):
    r"""A fully connected network, by default the second source's ``2 -> 10 -> 10 -> 10 -> 1``.

    Each hidden block is ``Linear -> activation``, or with a `norm`
    ``Linear(bias=False) -> BatchNorm1d or LayerNorm -> activation``; a linear head follows.

    Parameters
    ----------
    seed : int or None, default None
        Seeds PyTorch's default initialization, drawn in float32 and then cast (the same
        values in float32 and float64), the global generator left untouched.
    activation : callable, default nn.ReLU
        Builds each hidden activation module.
    norm : {None, "batch", "layer"}, default None
        The normalization after each hidden linear layer, with $\epsilon$ = `eps`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import Net
    >>> net = Net(seed=0, dtype=torch.float64)
    >>> [tuple(p.shape) for p in net.parameters()]
    [(10, 2), (10,), (10, 10), (10,), (10, 10), (10,), (1, 10), (1,)]
    >>> torch.equal(Net(seed=0).state_dict()["0.weight"].double(), net.state_dict()["0.weight"])
    True
    """

    def __init__(
        self,
        in_features: int = 2,
        hidden: int = 10,
        n_hidden: int = 3,
        out_features: int = 1,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
        activation: Callable[[], nn.Module] = nn.ReLU,
        norm: str | None = None,
        eps: float = 1e-5,
    ) -> None:
        widths = [
            check_count("in_features", in_features),
            *[check_count("hidden", hidden)] * check_count("n_hidden", n_hidden),
        ]
        head = check_count("out_features", out_features)
        if norm is not None and norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS} or None, got {norm!r}")
        epsilon = check_nonnegative("eps", eps)
        check_dtype("dtype", dtype)
        f32 = torch.float32

        def build() -> list[nn.Module]:
            layers: list[nn.Module] = []
            for fan_in, fan_out in itertools.pairwise(widths):
                layers.append(nn.Linear(fan_in, fan_out, bias=norm is None, dtype=f32))
                if norm == "batch":
                    layers.append(nn.BatchNorm1d(fan_out, eps=epsilon, dtype=f32))
                elif norm == "layer":
                    layers.append(nn.LayerNorm(fan_out, eps=epsilon, dtype=f32))
                layers.append(activation())
            return [*layers, nn.Linear(widths[-1], head, dtype=f32)]

        super().__init__(*_seeded(seed, build))
        self.to(dtype)

    def __getitem__(self, idx: slice | int) -> nn.Sequential | nn.Module:
        """A layer, or a slice of the layers as a plain ``nn.Sequential``."""
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def dead_units(self, inputs: Tensor) -> list[int]:
        """Per hidden layer, the units whose activation is zero on every one of `inputs`.

        A ReLU unit negative on all training inputs passes no gradient back: under plain
        gradient descent on that data it stays dead.

        Examples
        --------
        >>> import torch
        >>> from weightdecay.models import Net
        >>> net, x = Net(seed=0, dtype=torch.float64), torch.randn(50, 2, dtype=torch.float64)
        >>> _ = net[0].bias.detach().fill_(-1e6)  # every first-layer unit switched off
        >>> net.dead_units(x)[0], len(net.dead_units(x))
        (10, 3)
        """
        first = self[0]
        assert isinstance(first, nn.Linear)
        h = check_matrix("inputs", inputs, columns=first.in_features, dtype=first.weight.dtype)
        counts = []
        with torch.no_grad():
            for layer in self:
                h = layer(h)
                if not isinstance(layer, nn.Linear | nn.BatchNorm1d | nn.LayerNorm):
                    counts.append(int((h.amax(dim=0) == 0).sum()))
        return counts


class NormalizedClassifier(Net):
    r"""``in -> [Linear(bias=False) -> Norm -> ReLU] * n_hidden -> Linear -> logits``, float64.

    A `Net` with a `norm`: each normalization divides the pre-activations by their own
    standard deviation, so scaling a hidden weight by $c > 0$ leaves the output unchanged
    (exactly for $\epsilon = 0$, or `NEGLIGIBLE_EPS`): see `weightdecay.normalization`.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models import NormalizedClassifier
    >>> model = NormalizedClassifier(seed=0)
    >>> [type(layer).__name__ for layer in model]
    ['Linear', 'BatchNorm1d', 'ReLU', 'Linear', 'BatchNorm1d', 'ReLU', 'Linear']
    >>> model[:1](torch.eye(4, dtype=torch.float64)).shape, model[0].bias
    (torch.Size([4, 32]), None)
    """

    def __init__(
        self,
        in_features: int = 4,
        n_classes: int = 4,
        hidden: int = 32,
        n_hidden: int = 2,
        *,
        norm: str = "batch",
        eps: float = 1e-5,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__(
            in_features, hidden, n_hidden, n_classes, seed=seed, dtype=dtype, norm=norm, eps=eps
        )
