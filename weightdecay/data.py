"""Seeded builders for the data sets of the two source documents, and of the site's pages.

The source documents' builders draw in float64 and then cast, so the float32 data set
of a seed is the rounding of its float64 data set. Two more regressions serve the
pages: `scaled_regression`, whose columns span three orders of magnitude, and
`high_dimensional_regression`, with more features than training rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_dtype, check_nonnegative
from weightdecay.models.mlp import Net
from weightdecay.seeding import derive_seed, torch_generator

__all__ = [
    "ClusterData",
    "RegressionSplit",
    "cluster_inputs",
    "featurize",
    "high_dimensional_regression",
    "make_clusters",
    "make_regression_split",
    "scaled_regression",
]


@dataclass(frozen=True)
class RegressionSplit:
    """A train/validation split for multi-output linear regression.

    Attributes
    ----------
    x_train, y_train : Tensor
        Training inputs (n_train, n_features) and targets (n_train, n_targets).
    x_valid, y_valid : Tensor
        Validation inputs and targets.
    bias : float
        The intercept `make_regression` added to every target.
    coef : Tensor
        The true coefficients, shape (n_features, n_targets).
    seed : int
        The seed the split was built from.

    Examples
    --------
    >>> from weightdecay import make_regression_split
    >>> split = make_regression_split(seed=0)
    >>> split.n_train, split.n_features, split.n_targets
    (100, 6, 3)
    """

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
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    n_samples: int = 10_100,
    n_train: int = 100,
    n_features: int = 6,
    n_targets: int = 3,
    n_informative: int = 5,
    noise: float = 1.0,
) -> RegressionSplit:
    """The first source document's regression data: 10,100 x 6 -> 3, the first 100 rows train.

    Built with scikit-learn's `make_regression`. The original passes an unseeded
    ``random.random()`` as the bias; here it is ``random.Random(seed).random()``,
    the same uniform draw on [0, 1), made reproducible.

    Parameters
    ----------
    seed : int, default 0
        Seeds both the bias and `make_regression`.
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    n_samples : int, default 10_100
        Total rows.
    n_train : int, default 100
        Leading rows used for training; the rest validate.
    n_features : int, default 6
        Input columns.
    n_targets : int, default 3
        Outputs.
    n_informative : int, default 5
        Columns with a nonzero true coefficient.
    noise : float, default 1.0
        Standard deviation of the Gaussian noise on the targets.

    Returns
    -------
    RegressionSplit

    Raises
    ------
    TypeError, ValueError
        If a count is not a positive integer, `n_train` leaves no validation
        rows, `n_informative` exceeds `n_features`, `noise` is negative or
        `dtype` is not float32/float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import make_regression_split
    >>> split = make_regression_split(seed=0)
    >>> tuple(split.x_train.shape), tuple(split.y_train.shape), tuple(split.x_valid.shape)
    ((100, 6), (100, 3), (10000, 6))
    >>> split.x_train.dtype
    torch.float64
    >>> torch.equal(split.y_valid, make_regression_split(seed=0).y_valid)
    True
    >>> float32 = make_regression_split(seed=0, dtype=torch.float32)
    >>> torch.equal(float32.x_train, split.x_train.float())
    True
    """
    root = check_count("seed", seed, minimum=0)
    check_dtype("dtype", dtype)
    total = check_count("n_samples", n_samples, minimum=2)
    train = check_count("n_train", n_train)
    if train >= total:
        raise ValueError(f"n_train must be < n_samples = {total}, got {n_train!r}")
    features = check_count("n_features", n_features)
    targets = check_count("n_targets", n_targets)
    informative = check_count("n_informative", n_informative)
    if informative > features:
        raise ValueError(
            f"n_informative must be <= n_features = {features}, got {n_informative!r}"
        )
    sigma = check_nonnegative("noise", noise)
    bias = random.Random(derive_seed(root, "bias")).random()
    # scikit-learn is imported here, not at the top: it takes a second to load, which
    # every process importing this package (the cost benchmark's workers, the ranks of
    # the data-parallel runs) would otherwise pay.
    from sklearn.datasets import make_regression

    x, y, coef = make_regression(
        n_samples=total,
        n_features=features,
        n_targets=targets,
        n_informative=informative,
        bias=bias,
        noise=sigma,
        coef=True,
        random_state=derive_seed(root, "make_regression"),
    )
    x_t = torch.as_tensor(x, dtype=torch.float64).to(dtype)
    y_t = torch.as_tensor(y, dtype=torch.float64).reshape(total, targets).to(dtype)
    return RegressionSplit(
        x_train=x_t[:train].clone(),
        y_train=y_t[:train].clone(),
        x_valid=x_t[train:].clone(),
        y_valid=y_t[train:].clone(),
        bias=bias,
        coef=torch.as_tensor(coef, dtype=torch.float64).reshape(features, targets).to(dtype),
        seed=root,
    )


def featurize(x: Tensor) -> Tensor:
    """The second source document's features ``[x, x**2]``.

    Parameters
    ----------
    x : Tensor
        A 1-d tensor of inputs.

    Returns
    -------
    Tensor
        Shape (len(x), 2).

    Raises
    ------
    TypeError, ValueError
        If `x` is not a 1-d tensor.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import featurize
    >>> featurize(torch.tensor([-2.0, 3.0]))
    tensor([[-2.,  4.],
            [ 3.,  9.]])
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-d, got shape {tuple(x.shape)}")
    return torch.stack([x, x.pow(2)], dim=1)


def cluster_inputs(points_per_cluster: int = 20, dtype: torch.dtype = torch.float64) -> Tensor:
    """Three evenly spaced clusters on [-10, -6], [-2, 2] and [6, 10].

    Parameters
    ----------
    points_per_cluster : int, default 20
        Points in each cluster (>= 2).
    dtype : torch.dtype, default torch.float64
        float32 or float64.

    Returns
    -------
    Tensor
        Shape (3 * points_per_cluster,).

    Examples
    --------
    >>> from weightdecay import cluster_inputs
    >>> cluster_inputs(3)
    tensor([-10.,  -8.,  -6.,  -2.,   0.,   2.,   6.,   8.,  10.], dtype=torch.float64)
    """
    count = check_count("points_per_cluster", points_per_cluster, minimum=2)
    check_dtype("dtype", dtype)
    pieces = [torch.linspace(lo, hi, count, dtype=torch.float64) for lo, hi in _CLUSTERS]
    return torch.cat(pieces).to(dtype)


_CLUSTERS = ((-10.0, -6.0), (-2.0, 2.0), (6.0, 10.0))


@dataclass(frozen=True)
class ClusterData:
    """The second source document's 1-d regression set.

    Attributes
    ----------
    x : Tensor
        Inputs, shape (n,).
    features : Tensor
        ``featurize(x)``, shape (n, 2).
    y : Tensor
        Targets, shape (n, 1): a seeded random `Net`'s output plus Gaussian noise.
    noise_std : float
        The noise standard deviation.
    seed : int
        The seed the set was built from.

    Examples
    --------
    >>> from weightdecay import make_clusters
    >>> data = make_clusters(seed=0)
    >>> data.n, data.noise_std
    (60, 0.5)
    """

    x: Tensor
    features: Tensor
    y: Tensor
    noise_std: float
    seed: int

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.x.shape[0])


def make_clusters(
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    points_per_cluster: int = 20,
    noise_std: float = 0.5,
) -> ClusterData:
    """Labels from a seeded random `Net` on ``[x, x**2]`` plus $N(0, 0.5^2)$ noise.

    Parameters
    ----------
    seed : int, default 0
        Seeds the labelling network and the noise.
    dtype : torch.dtype, default torch.float64
        float32 or float64 (labels are computed in float64, then cast).
    points_per_cluster : int, default 20
        Points in each of the three clusters.
    noise_std : float, default 0.5
        Standard deviation of the label noise.

    Returns
    -------
    ClusterData

    Raises
    ------
    TypeError, ValueError
        On a bad seed, count, noise level or dtype.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import make_clusters
    >>> data = make_clusters(seed=0)
    >>> tuple(data.features.shape), tuple(data.y.shape), data.n
    ((60, 2), (60, 1), 60)
    >>> torch.equal(make_clusters(seed=0, dtype=torch.float32).y, data.y.float())
    True
    """
    root = check_count("seed", seed, minimum=0)
    check_dtype("dtype", dtype)
    sigma = check_nonnegative("noise_std", noise_std)
    x = cluster_inputs(points_per_cluster, torch.float64)
    features = featurize(x)
    labeller = Net(seed=derive_seed(root, "labels"), dtype=torch.float64)
    noise = torch.randn(
        x.shape[0], 1, dtype=torch.float64, generator=torch_generator(root, "noise")
    )
    with torch.no_grad():
        # $$y = f_{\theta^\star}([x, x^2]) + \varepsilon, \qquad \varepsilon \sim N(0, \sigma^2)$$
        y = labeller(features) + sigma * noise
    return ClusterData(
        x=x.to(dtype), features=features.to(dtype), y=y.to(dtype), noise_std=sigma, seed=root
    )


def scaled_regression(
    *, seed: int = 0, n_samples: int = 200, n_features: int = 8, noise: float = 0.5
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Linear data whose columns have scales $10^{-1.5}, \dots, 10^{1.5}$, float64.

    Column $j$ is standard normal times its scale $s_j$ (log-spaced), and its true weight
    is standard normal divided by $s_j$, so every column contributes to the target on
    the same scale while the gradients of the weights differ by orders of magnitude.

    Parameters
    ----------
    seed : int, default 0
        Seeds inputs, true weights and noise.
    n_samples, n_features : int
        Shape of the design matrix.
    noise : float, default 0.5
        Standard deviation of the target noise.

    Returns
    -------
    tuple of Tensor
        ``(x, y, scales)``: inputs (n_samples, n_features), targets (n_samples,) and
        the column scales (n_features,).

    Raises
    ------
    TypeError, ValueError
        On a bad seed, size or noise level.

    Examples
    --------
    >>> from weightdecay.data import scaled_regression
    >>> x, y, scales = scaled_regression()
    >>> tuple(x.shape), tuple(y.shape), round(float(scales[-1] / scales[0]))
    ((200, 8), (200,), 1000)
    """
    root = check_count("seed", seed, minimum=0)
    n, d = check_count("n_samples", n_samples), check_count("n_features", n_features)
    sigma = check_nonnegative("noise", noise)
    gen = torch_generator(root, "scaled-regression")
    scales = torch.logspace(-1.5, 1.5, d, dtype=torch.float64)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * scales
    w = torch.randn(d, generator=gen, dtype=torch.float64) / scales
    # $$y = Xw + \varepsilon, \qquad \varepsilon \sim N(0, \sigma^2)$$
    y = x @ w + sigma * torch.randn(n, generator=gen, dtype=torch.float64)
    return x, y, scales


def high_dimensional_regression(
    *, seed: int = 0, n_train: int = 20, n_valid: int = 100, n_features: int = 200
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The overfitting set of *Dive into Deep Learning*: few rows, many features, float64.

    Targets are $y = 0.05 + 0.01\sum_j x_j + \varepsilon$ with standard normal inputs
    and $\varepsilon \sim N(0, 0.01^2)$.

    Parameters
    ----------
    seed : int, default 0
        Seeds inputs and noise.
    n_train, n_valid, n_features : int
        Training rows, validation rows and features.

    Returns
    -------
    tuple of Tensor
        ``(x_train, y_train, x_valid, y_valid)``, targets of shape (rows, 1).

    Raises
    ------
    TypeError, ValueError
        On a bad seed or size.

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
    x = torch.randn(train + valid, d, generator=gen, dtype=torch.float64)
    noise = 0.01 * torch.randn(train + valid, 1, generator=gen, dtype=torch.float64)
    # $$y = 0.05 + \sum_j 0.01\,x_j + \varepsilon$$
    y = 0.05 + 0.01 * x.sum(dim=1, keepdim=True) + noise
    return x[:train], y[:train], x[train:], y[train:]
