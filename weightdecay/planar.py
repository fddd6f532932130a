r"""Two-dimensional classification sets, and the polynomial features that make them hard.

A linear classifier on the raw coordinates $(x_1, x_2)$ draws straight boundaries.
On the monomials $x_1^i x_2^j$, $1 \le i + j \le q$, it draws polynomial curves of
degree $q$: flexible enough to overfit a small training set, which is what weight
decay is for. The features are standardized with the training set's mean and
standard deviation, so one $\lambda$ acts on comparable scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative
from weightdecay.seeding import torch_generator

__all__ = ["PlanarTask", "make_blobs", "make_moons", "make_task", "polynomial_features"]


def _check_points(x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != 2:
        found = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (m, 2), got {found}")
    return x


def polynomial_features(x: Tensor, degree: int) -> Tensor:
    r"""The monomials $x_1^{i} x_2^{j}$ with $1 \le i + j \le q$, by degree, then by falling $i$.

    Parameters
    ----------
    x : Tensor
        Points, shape (m, 2).
    degree : int
        $q \ge 1$.

    Returns
    -------
    Tensor
        Shape (m, q(q + 3)/2), in scikit-learn's `PolynomialFeatures` order
        (without its constant column).

    Raises
    ------
    TypeError, ValueError
        If `x` is not of shape (m, 2) or `degree` not a positive integer.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.planar import polynomial_features
    >>> polynomial_features(torch.tensor([[2.0, 3.0]]), 2)
    tensor([[2., 3., 4., 6., 9.]])
    """
    points = _check_points(x)
    q = check_count("degree", degree)
    columns = [
        # $$x_1^{i} x_2^{\,p - i}$$
        points[:, 0].pow(i) * points[:, 1].pow(p - i)
        for p in range(1, q + 1)
        for i in range(p, -1, -1)
    ]
    return torch.stack(columns, dim=1)


def _balanced_labels(n: int, n_classes: int, generator: torch.Generator) -> Tensor:
    """``n`` labels, as even across classes as possible, in random order."""
    return (torch.arange(n) % n_classes)[torch.randperm(n, generator=generator)]


def make_moons(
    n: int, noise: float = 0.25, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    r"""Two interleaved half circles with Gaussian noise.

    Class 0 lies on $(\cos t, \sin t)$, class 1 on $(1 - \cos t, \tfrac12 - \sin t)$,
    with $t \sim U(0, \pi)$; then $\mathcal N(0, \sigma^2 I)$ noise is added.

    Parameters
    ----------
    n : int
        The number of points.
    noise : float, default 0.25
        $\sigma \ge 0$.
    seed : int, default 0
        Seeds the labels, positions and noise.
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    tuple of Tensor
        Points, shape (n, 2), and labels in {0, 1}, shape (n,).

    Examples
    --------
    >>> from weightdecay.planar import make_moons
    >>> x, y = make_moons(6, noise=0.0)
    >>> x.shape, sorted(y.tolist())
    (torch.Size([6, 2]), [0, 0, 0, 1, 1, 1])
    """
    m = check_count("n", n)
    sigma = check_nonnegative("noise", noise)
    labels = _balanced_labels(m, 2, torch_generator(seed, "labels"))
    t = math.pi * torch.rand(m, dtype=dtype, generator=torch_generator(seed, "positions"))
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    # $$x = (1 - \cos t,\ \tfrac12 - \sin t)$$ for class 1
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    points = torch.where(labels.unsqueeze(1) == 1, lower, upper)
    noise_draw = torch.randn(m, 2, dtype=dtype, generator=torch_generator(seed, "noise"))
    return points + sigma * noise_draw, labels


def make_blobs(
    n: int,
    n_classes: int = 3,
    spread: float = 1.0,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    r"""Overlapping Gaussian clusters with centres on a circle of radius 1.5.

    Class $k$ is $\mathcal N(c_k, s^2 I)$ with
    $c_k = 1.5\,(\cos(\pi/2 + 2\pi k/K), \sin(\pi/2 + 2\pi k/K))$.

    Parameters
    ----------
    n : int
        The number of points.
    n_classes : int, default 3
        $K \ge 2$.
    spread : float, default 1.0
        $s \ge 0$.
    seed : int, default 0
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    tuple of Tensor
        Points, shape (n, 2), and labels in ``[0, n_classes)``, shape (n,).

    Examples
    --------
    >>> from weightdecay.planar import make_blobs
    >>> x, y = make_blobs(9, spread=0.0)
    >>> sorted(set(round(v, 6) for v in x.norm(dim=1).tolist()))
    [1.5]
    """
    m = check_count("n", n)
    k = check_count("n_classes", n_classes, minimum=2)
    s = check_nonnegative("spread", spread)
    labels = _balanced_labels(m, k, torch_generator(seed, "labels"))
    angle = math.pi / 2 + 2 * math.pi * labels.to(dtype) / k
    # $$c_k = 1.5\,(\cos\phi_k, \sin\phi_k)$$
    centres = 1.5 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    noise_draw = torch.randn(m, 2, dtype=dtype, generator=torch_generator(seed, "noise"))
    return centres + s * noise_draw, labels


@dataclass(frozen=True)
class PlanarTask:
    """A 2-D classification task with a small training set and a large test set.

    Attributes
    ----------
    name : str
        "moons" or "blobs".
    n_classes : int
    degree : int
        The polynomial degree of the features.
    points_train, points_test : Tensor
        The raw 2-D points.
    y_train, y_test : Tensor
        Integer labels.
    mean, std : Tensor
        The training features' column means and standard deviations.
    """

    name: str
    n_classes: int
    degree: int
    points_train: Tensor
    y_train: Tensor
    points_test: Tensor
    y_test: Tensor
    mean: Tensor
    std: Tensor

    def features(self, points: Tensor) -> Tensor:
        r"""Standardized polynomial features $(\phi(x) - \mu)/s$ of any points.

        Parameters
        ----------
        points : Tensor
            Shape (m, 2).

        Returns
        -------
        Tensor
            Shape (m, number of monomials).

        Examples
        --------
        >>> import torch
        >>> from weightdecay.planar import make_task
        >>> task = make_task("moons", n_train=50, degree=3)
        >>> f = task.features(task.points_train)
        >>> torch.allclose(f.mean(dim=0), torch.zeros(9, dtype=torch.float64), atol=1e-12)
        True
        """
        # $$\tilde\phi(x) = (\phi(x) - \mu) / s$$
        return (polynomial_features(points, self.degree) - self.mean) / self.std

    @cached_property
    def x_train(self) -> Tensor:
        """The training features (computed on first use, then kept)."""
        return self.features(self.points_train)

    @cached_property
    def x_test(self) -> Tensor:
        """The test features (computed on first use, then kept)."""
        return self.features(self.points_test)


def make_task(
    name: str, *, n_train: int = 60, n_test: int = 4000, degree: int = 6, seed: int = 0
) -> PlanarTask:
    """The moons (two classes) or blobs (three classes) task with polynomial features.

    Parameters
    ----------
    name : {"moons", "blobs"}
    n_train : int, default 60
        A small training set, so that a flexible model can overfit it.
    n_test : int, default 4000
        A large test set, for accuracy and calibration.
    degree : int, default 6
        The polynomial degree of the features.
    seed : int, default 0
        Seeds both sets (the test set with a derived seed).

    Returns
    -------
    PlanarTask

    Raises
    ------
    ValueError
        If `name` is not one of the two tasks.

    Examples
    --------
    >>> from weightdecay.planar import make_task
    >>> task = make_task("blobs", n_train=30, n_test=100)
    >>> task.n_classes, tuple(task.x_train.shape), tuple(task.x_test.shape)
    (3, (30, 27), (100, 27))
    """
    if name not in ("moons", "blobs"):
        raise ValueError(f"name must be one of ['blobs', 'moons'], got {name!r}")
    n_tr = check_count("n_train", n_train, minimum=2)
    n_te = check_count("n_test", n_test)
    q = check_count("degree", degree)
    test_seed = seed + 1_000_003
    if name == "moons":
        n_classes = 2
        points_train, y_train = make_moons(n_tr, seed=seed)
        points_test, y_test = make_moons(n_te, seed=test_seed)
    else:
        n_classes = 3
        points_train, y_train = make_blobs(n_tr, seed=seed)
        points_test, y_test = make_blobs(n_te, seed=test_seed)
    phi = polynomial_features(points_train, q)
    return PlanarTask(
        name, n_classes, q, points_train, y_train, points_test, y_test, phi.mean(dim=0),
        phi.std(dim=0),
    )  # fmt: skip
