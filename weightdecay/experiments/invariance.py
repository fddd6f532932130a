r"""The data and the static measurements of the page on normalization layers.

`gaussian_blobs` draws the seeded classification set; `invariance_figures` measures,
for every weight of `weightdecay.models.normalized.NormalizedClassifier`, the loss
change under rescaling, the cosine of its gradient with it and the gradient's
$1/c$ scaling; `epsilon_deviation` compares the loss change at a positive $\epsilon$
with its first-order value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_positive
from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
from weightdecay.scale_invariance import (
    first_order_loss_change,
    gradient_scaling_error,
    loss_change_under_scaling,
    scale_invariant_weights,
    scaled_loss,
    weight_gradient_cosine,
)
from weightdecay.seeding import derive_seed, torch_generator

__all__ = [
    "INVARIANCE_SCALES",
    "ROUNDING_BOUND",
    "Blobs",
    "EpsilonDeviation",
    "InvarianceFigures",
    "epsilon_deviation",
    "gaussian_blobs",
    "invariance_figures",
]

INVARIANCE_SCALES = (0.01, 0.5, 2.0, 100.0)
"""The factors $c$ of the rescaling checks."""

ROUNDING_BOUND = 1e-13
r"""The bound of the rounding-level checks on normalization layers, about $450\varepsilon$.

$\varepsilon = 2^{-52}$, float64's machine epsilon. Each quantity held to it comes out
of a pass or two over the 256 rows of a batch or the at most 1024 entries of a weight:
about $n = 2^{11}$ roundings. Rounding errors of random sign add like a random walk, to
about $\sqrt n\,\varepsilon$, and the bound is ten times that:
$10\sqrt{2^{11}}\,\varepsilon \approx 1.0\times 10^{-13}$ (a probabilistic bound that
fails with a probability below $2e^{-50}$; Higham and Mary, 2019). Every rounding going
the same way, the worst case, would give $n\varepsilon \approx 4.5\times 10^{-13}$. For a
training run of $S$ steps of $n$ roundings the random walk is $\sqrt{Sn}\,\varepsilon$:
the same bound covers 300 steps of about 700 roundings.

Examples
--------
>>> import math
>>> from weightdecay.experiments.invariance import ROUNDING_BOUND
>>> eps = 2.0**-52
>>> ROUNDING_BOUND <= 10 * math.sqrt(2**11) * eps, ROUNDING_BOUND <= math.sqrt(300 * 700) * eps
(True, True)
"""


@dataclass(frozen=True)
class Blobs:
    """A classification set: Gaussian blobs of unit variance around random centres.

    Attributes
    ----------
    x_train, y_train : Tensor
        Training inputs (n_train, dim), float64, and labels (n_train,), int64.
    x_test, y_test : Tensor
        Test inputs and labels, drawn from the same blobs.
    centres : Tensor
        The class centres, (n_classes, dim).
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    centres: Tensor


def gaussian_blobs(
    n_train: int = 4096,
    n_test: int = 2048,
    *,
    n_classes: int = 4,
    dim: int = 4,
    spread: float = 1.0,
    seed: int = 0,
) -> Blobs:
    r"""Seeded Gaussian blobs: centres $\mu_k \sim \mathcal{N}(0, s^2 I)$, points around them.

    A label $y$ is uniform over the classes and $x \sim \mathcal{N}(\mu_y, I)$.

    With a spread $s$ of about 1 the blobs overlap, so no classifier is perfect and
    the mini-batch gradient does not vanish during training.

    Parameters
    ----------
    n_train, n_test : int, default 4096, 2048
        Numbers of training and test points.
    n_classes : int, default 4
        Number of blobs (classes), each label drawn uniformly.
    dim : int, default 4
        Input dimension.
    spread : float, default 1.0
        $s > 0$, the standard deviation of the centres.
    seed : int, default 0
        Seeds centres, training and test draws (each its own generator).

    Returns
    -------
    Blobs

    Raises
    ------
    TypeError, ValueError
        If a count is not a positive integer (`n_classes` >= 2) or `spread` not
        a finite positive number.

    Examples
    --------
    Each class's training points scatter around its centre with unit variance:

    >>> import torch
    >>> from weightdecay.experiments.norm_dynamics import gaussian_blobs
    >>> data = gaussian_blobs(n_train=20000, seed=0)
    >>> data.x_train.shape, data.x_test.shape, data.centres.shape
    (torch.Size([20000, 4]), torch.Size([2048, 4]), torch.Size([4, 4]))
    >>> noise = data.x_train - data.centres[data.y_train]
    >>> bool((noise.var(dim=0) - 1).abs().max() < 0.05)
    True
    >>> torch.equal(gaussian_blobs(seed=0).x_test, gaussian_blobs(seed=0).x_test)
    True
    """
    train = check_count("n_train", n_train)
    test = check_count("n_test", n_test)
    classes = check_count("n_classes", n_classes, minimum=2)
    d = check_count("dim", dim)
    s = check_positive("spread", spread)
    centres = s * torch.randn(
        classes, d, dtype=torch.float64, generator=torch_generator(seed, "blob centres")
    )

    def draw(count: int, purpose: str) -> tuple[Tensor, Tensor]:
        generator = torch_generator(seed, purpose)
        labels = torch.randint(0, classes, (count,), generator=generator)
        noise = torch.randn(count, d, dtype=torch.float64, generator=generator)
        # $$x = \mu_y + \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$
        return centres[labels] + noise, labels

    x_train, y_train = draw(train, "blobs train")
    x_test, y_test = draw(test, "blobs test")
    return Blobs(x_train, y_train, x_test, y_test, centres)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run PyTorch on one thread (faster for these tiny operations), then restore."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _model(norm: str, eps: float, seed: int) -> NormalizedClassifier:
    """The classifier of the experiments, sized for `gaussian_blobs`' defaults."""
    return NormalizedClassifier(norm=norm, eps=eps, seed=derive_seed(seed, "init"))


@dataclass(frozen=True)
class InvarianceFigures:
    r"""The scale-invariance identities measured on one model and one batch (float64).

    Attributes
    ----------
    norm : str
        "batch" or "layer".
    names : tuple of str
        The weights measured: the scale-invariant ones, then the head's.
    loss_change : tuple of float
        Per weight, the largest $|L(cW) - L(W)|/|L(W)|$ over `INVARIANCE_SCALES`.
    cosine : tuple of float
        Per weight, $|\cos(\nabla L, W)|$.
    gradient_scaling : tuple of float
        Per weight, the largest
        $\lVert c\nabla L(cW) - \nabla L(W)\rVert/\lVert\nabla L(W)\rVert$.
    invariant : tuple of bool
        Per weight, whether `scale_invariant_weights` lists it.
    """

    norm: str
    names: tuple[str, ...]
    loss_change: tuple[float, ...]
    cosine: tuple[float, ...]
    gradient_scaling: tuple[float, ...]
    invariant: tuple[bool, ...]

    def worst(self, invariant: bool = True) -> tuple[float, float, float]:
        """The largest loss change, cosine and gradient-scaling error over the weights.

        Parameters
        ----------
        invariant : bool, default True
            Over the scale-invariant weights (largest) or the others (smallest).

        Returns
        -------
        tuple of float
        """
        rows = [
            (loss, cos, grad)
            for loss, cos, grad, flag in zip(
                self.loss_change, self.cosine, self.gradient_scaling, self.invariant, strict=True
            )
            if flag == invariant
        ]
        if not rows:
            raise ValueError(f"no weight with invariant={invariant!r} was measured")
        pick = max if invariant else min
        loss, cos, grad = (pick(column) for column in zip(*rows, strict=True))
        return loss, cos, grad


def invariance_figures(
    norm: str = "batch", *, eps: float = NEGLIGIBLE_EPS, seed: int = 0, batch_size: int = 256
) -> InvarianceFigures:
    r"""Measure $L(cW) = L(W)$, $\langle\nabla L, W\rangle = 0$ and $c\nabla L(cW) = \nabla L(W)$.

    On the seeded initial classifier and the first `batch_size` training points of
    `gaussian_blobs`, in training mode, for each scale-invariant weight and for the
    head's weight (which feeds no normalization: the control).

    Parameters
    ----------
    norm : {"batch", "layer"}, default "batch"
        The classifier's normalization.
    eps : float, default `NEGLIGIBLE_EPS`
        The normalization's $\epsilon$.
    seed : int, default 0
        Seeds the data and the initialization.
    batch_size : int, default 256
        The batch's size.

    Returns
    -------
    InvarianceFigures

    Examples
    --------
    >>> from weightdecay.experiments.norm_dynamics import invariance_figures
    >>> figures = invariance_figures("layer")
    >>> figures.names, figures.invariant
    (('0.weight', '3.weight', '6.weight'), (True, True, False))
    >>> all(v < 1e-13 for v in figures.worst(invariant=True))
    True
    >>> all(v > 1e-3 for v in figures.worst(invariant=False))
    True
    """
    count = check_count("batch_size", batch_size)
    data = gaussian_blobs(seed=seed)
    x, y = data.x_train[:count], data.y_train[:count]
    model = _model(norm, eps, seed)
    invariant = list(scale_invariant_weights(model))
    names = (*invariant, "6.weight")
    loss, cos, grad = [], [], []
    for name in names:
        loss.append(
            max(loss_change_under_scaling(model, name, c, x, y) for c in INVARIANCE_SCALES)
        )
        cos.append(abs(weight_gradient_cosine(model, name, x, y)))
        grad.append(max(gradient_scaling_error(model, name, c, x, y) for c in INVARIANCE_SCALES))
    flags = tuple(name in invariant for name in names)
    return InvarianceFigures(norm, names, tuple(loss), tuple(cos), tuple(grad), flags)


@dataclass(frozen=True)
class EpsilonDeviation:
    r"""How far from invariant the loss is with $\epsilon > 0$, measured and predicted.

    Attributes
    ----------
    scale : float
        $c$.
    loss : float
        $L(W)$.
    change : float
        The measured $L(cW) - L(W)$.
    first_order : float
        `weightdecay.scale_invariance.first_order_loss_change`,
        $\tfrac{1}{2}(1 - c^{-2})\langle\nabla L(W), W\rangle$.
    order : float
        $\epsilon\,|1 - c^{-2}|/\sigma^2_{\min}$, the order of the first-order value's
        relative error ($\sigma^2_{\min}$ the smallest variance the layer divides by).
    """

    scale: float
    loss: float
    change: float
    first_order: float
    order: float

    @property
    def discrepancy(self) -> float:
        """The first-order value's relative error, ``|change / first_order - 1|``."""
        return abs(self.change / self.first_order - 1)


def epsilon_deviation(
    scale: float, *, norm: str = "batch", eps: float = 1e-5, seed: int = 0, batch_size: int = 256
) -> EpsilonDeviation:
    r"""With $\epsilon > 0$: the measured $L(cW) - L(W)$ and its first-order value.

    For the last hidden weight (``"3.weight"``) of the seeded classifier, on the same
    batch as `invariance_figures`. The smallest variance $\sigma^2_{\min}$ the second
    normalization divides by is taken over features for BatchNorm and over examples
    for LayerNorm.

    Parameters
    ----------
    scale : float
        $c > 0$.
    norm : {"batch", "layer"}, default "batch"
        The normalization.
    eps : float, default 1e-5
        $\epsilon > 0$ (PyTorch's default).
    seed : int, default 0
        Seeds the data and the initialization.
    batch_size : int, default 256
        The batch's size.

    Returns
    -------
    EpsilonDeviation

    Raises
    ------
    TypeError, ValueError
        If `scale` or `eps` is not a finite positive number.

    Examples
    --------
    >>> from weightdecay.experiments.norm_dynamics import epsilon_deviation
    >>> deviation = epsilon_deviation(2.0)
    >>> 0 < abs(deviation.change) < 1e-4, deviation.discrepancy < deviation.order
    (True, True)
    """
    c = check_positive("scale", scale)
    epsilon = check_positive("eps", eps)
    count = check_count("batch_size", batch_size)
    data = gaussian_blobs(seed=seed)
    x, y = data.x_train[:count], data.y_train[:count]
    model = _model(norm, epsilon, seed)
    name = "3.weight"
    base, _ = scaled_loss(model, name, 1.0, x, y)
    scaled, _ = scaled_loss(model, name, c, x, y)
    predicted = first_order_loss_change(model, name, c, x, y)
    with torch.no_grad():
        # The pre-activations the second normalization sees (on a copy: its statistics move).
        z = copy.deepcopy(model)[:4](x)
    variance = z.var(dim=0 if norm == "batch" else 1, unbiased=False).min().item()
    # $$\epsilon\,|1 - c^{-2}|/\sigma^2_{\min}$$
    order = epsilon * abs(1 - c**-2) / variance
    return EpsilonDeviation(c, base.item(), (scaled - base).item(), predicted, order)
