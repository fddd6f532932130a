r"""Seeded data sets: the two source documents', the pages' regressions, planar classification.

Each draw has its own generator, seeded by `derive_seed` from one integer and a purpose, so
changing one draw never shifts another. `make_regression_split`, `make_clusters` and
`cluster_inputs` work in float64 and round to `dtype`: their float32 sets are the float64 ones
rounded. `make_moons` and `make_blobs` draw in `dtype` itself: their float32 sets are other
draws. `scaled_regression` and `high_dimensional_regression` are float64 only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from weightdecay._checks import check_count, check_dtype, check_nonnegative
from weightdecay.models import Net

__all__ = [
    "ClusterData", "PlanarTask", "RegressionSplit", "cluster_inputs", "derive_seed", "featurize",
    "high_dimensional_regression", "make_blobs", "make_clusters", "make_moons",
    "make_regression_split", "make_task", "polynomial_features", "scaled_regression",
    "torch_generator",
]  # fmt: skip

_F64 = torch.float64


def derive_seed(seed: int, purpose: str) -> int:
    """A child seed in [0, 2**31) for one named draw, a function of (`seed`, `purpose`) only.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import derive_seed, torch_generator
    >>> derive_seed(0, "init") == derive_seed(0, "init") != derive_seed(0, "noise")
    True
    >>> torch.equal(*(torch.randn(3, generator=torch_generator(0, "noise")) for _ in "ab"))
    True
    """
    root = check_count("seed", seed, minimum=0)
    if not isinstance(purpose, str):
        raise TypeError(f"purpose must be a str, got {purpose!r}")
    if not purpose:
        raise ValueError("purpose must be a non-empty string, got ''")
    sequence = np.random.SeedSequence(entropy=root, spawn_key=list(purpose.encode()))
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> 1)


def torch_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU `torch.Generator` seeded with ``derive_seed(seed, purpose)``."""
    return torch.Generator().manual_seed(derive_seed(seed, purpose))


@dataclass(frozen=True)
class RegressionSplit:
    """A regression train/validation split; ``bias`` and ``coef`` are the true model's."""

    x_train: Tensor
    y_train: Tensor
    x_valid: Tensor
    y_valid: Tensor
    bias: float
    coef: Tensor
    seed: int

    @property
    def n_train(self) -> int:
        """Number of training rows $n$."""
        return int(self.x_train.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.x_train.shape[1])

    @property
    def n_targets(self) -> int:
        """Number of outputs $k$."""
        return int(self.y_train.shape[1])


def make_regression_split(
    *, seed: int = 0, dtype: torch.dtype = torch.float64, n_rows: int = 10_100,
    n_train: int = 100, n_features: int = 6, n_targets: int = 3, n_informative: int = 5,
    noise: float = 1.0,
) -> RegressionSplit:  # fmt: skip
    """The first source's regression data: 10,100 x 6 -> 3, the first 100 rows train.

    scikit-learn's `make_regression` (`noise` the targets' noise standard deviation); the
    original's unseeded ``random.random()`` bias becomes the same uniform draw, seeded.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import make_regression_split
    >>> split, f32 = make_regression_split(), make_regression_split(dtype=torch.float32)
    >>> split.n_train, split.n_features, split.n_targets, len(split.x_valid)
    (100, 6, 3, 10000)
    >>> torch.equal(f32.x_train, split.x_train.float())
    True
    """
    root = check_count("seed", seed, minimum=0)
    check_dtype("dtype", dtype)
    total = check_count("n_rows", n_rows, minimum=2)
    if (train := check_count("n_train", n_train)) >= total:
        raise ValueError(f"n_train must be < n_rows = {total}, got {n_train!r}")
    features, targets = check_count("n_features", n_features), check_count("n_targets", n_targets)
    if (informative := check_count("n_informative", n_informative)) > features:
        raise ValueError(f"n_informative must be <= n_features = {features}, got {informative}")
    sigma = check_nonnegative("noise", noise)
    bias = random.Random(derive_seed(root, "bias")).random()
    # Imported here: scikit-learn takes a second to load, which workers would otherwise pay.
    from sklearn.datasets import make_regression

    x, y, coef = make_regression(
        n_samples=total, n_features=features, n_targets=targets, n_informative=informative,
        bias=bias, noise=sigma, coef=True, random_state=derive_seed(root, "make_regression"),
    )  # fmt: skip
    x_t = torch.as_tensor(x, dtype=_F64).to(dtype)
    y_t = torch.as_tensor(y, dtype=_F64).reshape(total, targets).to(dtype)
    coef_t = torch.as_tensor(coef, dtype=_F64).reshape(features, targets).to(dtype)
    return RegressionSplit(
        x_t[:train].clone(), y_t[:train].clone(), x_t[train:].clone(), y_t[train:].clone(),
        bias, coef_t, root,
    )  # fmt: skip


def featurize(x: Tensor) -> Tensor:
    """The second source's features ``[x, x**2]`` of a 1-d `x`, shape (len(x), 2).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import featurize
    >>> featurize(torch.tensor([-2.0, 3.0])).tolist()
    [[-2.0, 4.0], [3.0, 9.0]]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-d, got shape {tuple(x.shape)}")
    return torch.stack([x, x.pow(2)], dim=1)


def cluster_inputs(points_per_cluster: int = 20, dtype: torch.dtype = torch.float64) -> Tensor:
    """Three clusters of evenly spaced points on [-10, -6], [-2, 2] and [6, 10].

    Examples
    --------
    >>> from weightdecay.data import cluster_inputs
    >>> cluster_inputs(3)
    tensor([-10.,  -8.,  -6.,  -2.,   0.,   2.,   6.,   8.,  10.], dtype=torch.float64)
    """
    count = check_count("points_per_cluster", points_per_cluster, minimum=2)
    check_dtype("dtype", dtype)
    ends = ((-10.0, -6.0), (-2.0, 2.0), (6.0, 10.0))
    return torch.cat([torch.linspace(lo, hi, count, dtype=_F64) for lo, hi in ends]).to(dtype)


@dataclass(frozen=True)
class ClusterData:
    """The second source's 1-d regression set: ``x`` (n,), ``featurize(x)``, ``y`` (n, 1)."""

    x: Tensor
    features: Tensor
    y: Tensor
    noise: float
    seed: int

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.x.shape[0])


def make_clusters(
    *, seed: int = 0, dtype: torch.dtype = torch.float64, points_per_cluster: int = 20,
    noise: float = 0.5,
) -> ClusterData:  # fmt: skip
    r"""`cluster_inputs` labelled by a seeded random `Net` on ``[x, x**2]``, plus noise.

    $y = f_{\theta^\star}([x, x^2]) + \sigma z$, $z \sim \mathcal N(0, 1)$, $\sigma$ = `noise`,
    computed in float64 and then cast to `dtype`; `seed` seeds the network and the noise.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import make_clusters
    >>> data = make_clusters(seed=0)
    >>> tuple(data.features.shape), tuple(data.y.shape), data.n, data.noise
    ((60, 2), (60, 1), 60, 0.5)
    >>> torch.equal(make_clusters(seed=0, dtype=torch.float32).y, data.y.float())
    True
    """
    root = check_count("seed", seed, minimum=0)
    check_dtype("dtype", dtype)
    sigma = check_nonnegative("noise", noise)
    x = cluster_inputs(points_per_cluster, _F64)
    features = featurize(x)
    labeller = Net(seed=derive_seed(root, "labels"), dtype=_F64)
    noise_draw = torch.randn(len(x), 1, dtype=_F64, generator=torch_generator(root, "noise"))
    with torch.no_grad():
        y = labeller(features) + sigma * noise_draw  # $y = f_{\theta^\star}([x, x^2]) + \sigma z$
    return ClusterData(x.to(dtype), features.to(dtype), y.to(dtype), sigma, root)


def scaled_regression(
    *, seed: int = 0, n_train: int = 200, n_features: int = 8, noise: float = 0.5
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Linear data ``(x, y, scales)`` whose columns have scales $10^{-1.5}, \dots, 10^{1.5}$.

    Column $j$ is standard normal times $c_j$, its true weight standard normal over $c_j$: all
    columns contribute alike, the gradients differ by orders of magnitude. Float64.

    Examples
    --------
    >>> from weightdecay.data import scaled_regression
    >>> x, y, scales = scaled_regression()
    >>> tuple(x.shape), tuple(y.shape), round(float(scales[-1] / scales[0]))
    ((200, 8), (200,), 1000)
    """
    root = check_count("seed", seed, minimum=0)
    n, d = check_count("n_train", n_train), check_count("n_features", n_features)
    sigma = check_nonnegative("noise", noise)
    gen = torch_generator(root, "scaled-regression")
    scales = torch.logspace(-1.5, 1.5, d, dtype=_F64)
    x = torch.randn(n, d, generator=gen, dtype=_F64) * scales
    w = torch.randn(d, generator=gen, dtype=_F64) / scales
    y = x @ w + sigma * torch.randn(n, generator=gen, dtype=_F64)  # $y = Xw + \sigma z$
    return x, y, scales


def high_dimensional_regression(
    *, seed: int = 0, n_train: int = 20, n_valid: int = 100, n_features: int = 200
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""*Dive into Deep Learning*'s overfitting set: few rows, many features, float64.

    $y = 0.05 + 0.01\sum_j x_j + 0.01z$ with $x$ and $z$ standard normal; returns
    ``(x_train, y_train, x_valid, y_valid)``.

    Examples
    --------
    >>> from weightdecay.data import high_dimensional_regression
    >>> [tuple(t.shape) for t in high_dimensional_regression()]
    [(20, 200), (20, 1), (100, 200), (100, 1)]
    """
    root = check_count("seed", seed, minimum=0)
    train, valid = check_count("n_train", n_train), check_count("n_valid", n_valid)
    d = check_count("n_features", n_features)
    gen = torch_generator(root, "high-dimensional")
    x = torch.randn(train + valid, d, generator=gen, dtype=_F64)
    noise = 0.01 * torch.randn(train + valid, 1, generator=gen, dtype=_F64)
    # $$y = 0.05 + 0.01\sum_j x_j + 0.01z$$
    y = 0.05 + 0.01 * x.sum(dim=1, keepdim=True) + noise
    return x[:train], y[:train], x[train:], y[train:]


def polynomial_features(x: Tensor, degree: int) -> Tensor:
    r"""The monomials $x_1^i x_2^j$, $1 \le i + j \le q$, of points `x` of shape (n, 2).

    In scikit-learn's `PolynomialFeatures` order (by degree, then by falling $i$), without
    its constant column: shape (n, q(q + 3)/2).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import polynomial_features
    >>> polynomial_features(torch.tensor([[2.0, 3.0]]), 2)
    tensor([[2., 3., 4., 6., 9.]])
    """
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != 2:
        found = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (n, 2), got {found}")
    q = check_count("degree", degree)
    powers = [(i, p - i) for p in range(1, q + 1) for i in range(p, -1, -1)]
    return torch.stack([x[:, 0].pow(i) * x[:, 1].pow(j) for i, j in powers], dim=1)


def make_moons(
    n: int, noise: float = 0.25, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    r"""Two interleaved half circles: `n` points (n, 2) and balanced labels in {0, 1}.

    Class 0 lies on $(\cos t, \sin t)$, class 1 on $(1 - \cos t, \tfrac12 - \sin t)$ with
    $t \sim U(0, \pi)$, plus $\mathcal N(0, \sigma^2 I)$ noise, $\sigma$ = `noise`.

    Examples
    --------
    >>> from weightdecay.data import make_moons
    >>> x, y = make_moons(6, noise=0.0)
    >>> x.shape, sorted(y.tolist())
    (torch.Size([6, 2]), [0, 0, 0, 1, 1, 1])
    """
    m = check_count("n", n)
    sigma = check_nonnegative("noise", noise)
    labels = (torch.arange(m) % 2)[torch.randperm(m, generator=torch_generator(seed, "labels"))]
    t = math.pi * torch.rand(m, dtype=dtype, generator=torch_generator(seed, "positions"))
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    points = torch.where(labels.unsqueeze(1) == 1, lower, upper)
    noise_draw = torch.randn(m, 2, dtype=dtype, generator=torch_generator(seed, "noise"))
    return points + sigma * noise_draw, labels  # $x = \text{point} + \sigma z$


def make_blobs(
    n: int, n_classes: int = 3, spread: float = 1.0, *, centres: Tensor | None = None,
    seed: int = 0, stream: str | None = None, dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""Gaussian blobs: `n` points $x \sim \mathcal N(c_y, \sigma^2 I)$ and their labels $y$.

    The standard deviation $\sigma$ is `spread`.

    Parameters
    ----------
    centres : Tensor or None, default None
        The centres $c_k$, shape (n_classes, dim). None puts them on a circle in the plane,
        $c_k = 1.5\,(\cos\phi_k, \sin\phi_k)$ with $\phi_k = \pi/2 + 2\pi k/K$.
    stream : str or None, default None
        None draws labels balanced across the classes (shuffled by the seed's "labels"
        generator), then the noise (its "noise" generator). A name draws uniform labels,
        then the noise, from the seed's one generator of that name.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.data import make_blobs, torch_generator
    >>> x, y = make_blobs(9, spread=0.0)
    >>> sorted(set(round(v, 6) for v in x.norm(dim=1).tolist()))
    [1.5]
    >>> centres = torch.randn(4, 5, dtype=torch.float64, generator=torch_generator(0, "c"))
    >>> x, y = make_blobs(20000, 4, centres=centres, stream="train")
    >>> bool(((x - centres[y]).var(dim=0) - 1).abs().max() < 0.05)
    True
    """
    m = check_count("n", n)
    k = check_count("n_classes", n_classes, minimum=2)
    s = check_nonnegative("spread", spread)
    if stream is not None and not isinstance(stream, str):
        raise TypeError(f"stream must be None or a str, got {stream!r}")
    if stream == "":
        raise ValueError("stream must be None or a non-empty string, got ''")
    if centres is not None and (not isinstance(centres, Tensor) or centres.shape[:1] != (k,)):
        found = tuple(centres.shape) if isinstance(centres, Tensor) else type(centres).__name__
        raise ValueError(f"centres must have shape ({k}, dim), got {found}")
    if stream is None:
        shuffle = torch.randperm(m, generator=torch_generator(seed, "labels"))
        labels = (torch.arange(m) % k)[shuffle]  # as even across the classes as possible
        noise_generator = torch_generator(seed, "noise")
    else:
        noise_generator = torch_generator(seed, stream)
        labels = torch.randint(0, k, (m,), generator=noise_generator)
    if centres is None:
        angle = math.pi / 2 + 2 * math.pi * labels.to(dtype) / k  # $\phi_y$
        at = 1.5 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    else:
        at = centres[labels].to(dtype)
    noise = torch.randn(m, at.shape[1], dtype=dtype, generator=noise_generator)
    return at + s * noise, labels  # $x = c_y + \sigma z$


@dataclass(frozen=True)
class PlanarTask:
    """A 2-D classification task, "moons" or "blobs", with polynomial features of `degree`.

    ``mean`` and ``std`` are the training features' column means and standard deviations.
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
        """Polynomial features of points (m, 2), minus `mean`, over `std`."""
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

    A small training set, which a flexible model overfits, and a large test set drawn with
    seed ``seed + 1_000_003``.

    Examples
    --------
    >>> from weightdecay.data import make_task
    >>> task = make_task("blobs", n_train=30, n_test=100)
    >>> task.n_classes, tuple(task.x_train.shape), tuple(task.x_test.shape)
    (3, (30, 27), (100, 27))
    >>> bool(task.x_train.mean(dim=0).abs().max() < 1e-12)  # standardized
    True
    """
    if name not in ("moons", "blobs"):
        raise ValueError(f"name must be one of ['blobs', 'moons'], got {name!r}")
    n_tr = check_count("n_train", n_train, minimum=2)
    n_te = check_count("n_test", n_test)
    q = check_count("degree", degree)
    draw = make_moons if name == "moons" else make_blobs
    points_train, y_train = draw(n_tr, seed=seed)
    points_test, y_test = draw(n_te, seed=seed + 1_000_003)
    phi = polynomial_features(points_train, q)
    return PlanarTask(
        name, 2 if name == "moons" else 3, q, points_train, y_train, points_test, y_test,
        phi.mean(dim=0), phi.std(dim=0),
    )  # fmt: skip
