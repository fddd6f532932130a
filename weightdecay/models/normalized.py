r"""A small classifier whose hidden linear layers each feed a normalization layer.

Every hidden block is ``Linear(bias=False) -> BatchNorm1d or LayerNorm -> ReLU``,
followed by a linear head. The normalization divides each pre-activation by a
standard deviation computed from the pre-activations themselves, so multiplying a
hidden weight by $c > 0$ leaves the output unchanged (exactly when the
normalization's $\epsilon$ is 0, or `NEGLIGIBLE_EPS`): see
`weightdecay.scale_invariance`. `gaussian_blobs` draws a seeded classification set of
overlapping classes for it to learn.
"""

from __future__ import annotations

import itertools
import sys
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from weightdecay._checks import check_count, check_dtype, check_nonnegative, check_positive
from weightdecay.seeding import torch_generator

__all__ = ["NEGLIGIBLE_EPS", "NORMS", "Blobs", "NormalizedClassifier", "gaussian_blobs"]

NORMS = ("batch", "layer")
"""The normalizations `NormalizedClassifier` can put after its hidden linear layers."""

NEGLIGIBLE_EPS = sys.float_info.min
r"""An $\epsilon$ that changes nothing: the smallest positive normal float64, about 2.2e-308.

PyTorch's BatchNorm refuses $\epsilon = 0$ in training mode. Added to a float64
variance $\sigma^2 > 2^{54}\epsilon \approx 4\times 10^{-292}$ it is below half a unit
in the last place, so $\sigma^2 + \epsilon$ rounds to $\sigma^2$ and the layer computes
exactly what $\epsilon = 0$ would.
"""


class NormalizedClassifier(nn.Sequential):
    r"""``in -> [Linear(bias=False) -> Norm -> ReLU] * n_hidden -> Linear -> logits``.

    Parameters
    ----------
    in_features : int, default 4
        Input width.
    n_classes : int, default 4
        Number of classes (width of the head's output, the logits).
    hidden : int, default 32
        Width of each hidden block.
    n_hidden : int, default 2
        Number of hidden blocks.
    norm : {"batch", "layer"}, default "batch"
        ``nn.BatchNorm1d`` (statistics over the batch, per feature) or ``nn.LayerNorm``
        (statistics over the features, per example) after each hidden linear layer.
    eps : float, default 1e-5
        The normalization's $\epsilon$ in $(z - \mu)/\sqrt{\sigma^2 + \epsilon}$
        (PyTorch's default). The scale invariance is exact for $\epsilon = 0$, which
        BatchNorm refuses in training; `NEGLIGIBLE_EPS` computes the same.
    seed : int or None, default None
        Seed for PyTorch's default initialization, drawn in float32 and then cast,
        with the global generator's state restored afterwards; None draws from the
        global generator.
    dtype : torch.dtype, default torch.float64
        float32 or float64.

    Raises
    ------
    TypeError, ValueError
        If a width or count is not a positive integer, `norm` is not one of `NORMS`,
        `eps` is negative or not finite, or `dtype` is not float32 or float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models.normalized import NormalizedClassifier
    >>> model = NormalizedClassifier(seed=0)
    >>> model
    NormalizedClassifier(
      (0): Linear(in_features=4, out_features=32, bias=False)
      (1): BatchNorm1d(32, eps=1e-05, ...)
      (2): ReLU()
      (3): Linear(in_features=32, out_features=32, bias=False)
      (4): BatchNorm1d(32, eps=1e-05, ...)
      (5): ReLU()
      (6): Linear(in_features=32, out_features=4, bias=True)
    )
    >>> model(torch.randn(8, 4, dtype=torch.float64)).shape
    torch.Size([8, 4])
    >>> torch.equal(model[0].weight, NormalizedClassifier(seed=0, norm="layer")[0].weight)
    True
    >>> NormalizedClassifier(norm="group")
    Traceback (most recent call last):
    ...
    ValueError: norm must be one of ('batch', 'layer'), got 'group'
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
        widths = [
            check_count("in_features", in_features),
            *[check_count("hidden", hidden)] * check_count("n_hidden", n_hidden),
        ]
        classes = check_count("n_classes", n_classes)
        if not isinstance(norm, str):
            raise TypeError(f"norm must be a str, got {norm!r} ({type(norm).__name__})")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        epsilon = check_nonnegative("eps", eps)
        check_dtype("dtype", dtype)
        if seed is None:
            layers = _layers(widths, classes, norm, epsilon)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(check_count("seed", seed, minimum=0))
                layers = _layers(widths, classes, norm, epsilon)
        super().__init__(*layers)
        self.to(dtype)
        self.norm = norm
        self.eps = epsilon

    def __getitem__(self, idx: slice | int) -> nn.Sequential | nn.Module:
        """A layer, or a slice of the layers as a plain ``nn.Sequential``.

        Examples
        --------
        The first hidden block's pre-activations:

        >>> import torch
        >>> from weightdecay.models.normalized import NormalizedClassifier
        >>> model = NormalizedClassifier(seed=0)
        >>> model[:1]
        Sequential(
          (0): Linear(in_features=4, out_features=32, bias=False)
        )
        >>> x = torch.randn(3, 4, dtype=torch.float64)
        >>> torch.equal(model[:1](x), x @ model[0].weight.T)
        True
        """
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


def _layers(widths: list[int], n_classes: int, norm: str, eps: float) -> list[nn.Module]:
    """The hidden blocks between consecutive widths, then the head."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        layers.append(nn.Linear(fan_in, fan_out, bias=False, dtype=torch.float32))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(fan_out, eps=eps, dtype=torch.float32))
        else:
            layers.append(nn.LayerNorm(fan_out, eps=eps, dtype=torch.float32))
        layers.append(nn.ReLU())
    layers.append(nn.Linear(widths[-1], n_classes, dtype=torch.float32))
    return layers


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

    A label $y$ is uniform over the classes and $x \sim \mathcal{N}(\mu_y, I)$. With a
    spread $s$ of about 1 the blobs overlap, so no classifier is perfect and the
    mini-batch gradient does not vanish during training. The defaults fit
    `NormalizedClassifier`'s.

    Parameters
    ----------
    n_train, n_test : int, default 4096, 2048
        Numbers of training and test points.
    n_classes : int, default 4
        Number of blobs (classes), at least 2.
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
    >>> from weightdecay.models.normalized import gaussian_blobs
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
