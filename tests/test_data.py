"""The seeded data builders: layout, reproducibility, and the generating process."""

from __future__ import annotations

import pytest
import torch

from weightdecay import Net, cluster_inputs, featurize, make_clusters, make_regression_split
from weightdecay.data import derive_seed, make_blobs


def test_regression_split_layout() -> None:
    split = make_regression_split(seed=0)
    assert split.x_train.shape == (100, 6) and split.y_train.shape == (100, 3)
    assert split.x_valid.shape == (10_000, 6) and split.y_valid.shape == (10_000, 3)
    assert (split.n_train, split.n_features, split.n_targets) == (100, 6, 3)
    assert 0.0 <= split.bias < 1.0
    # Five informative columns: exactly one row of the true coefficients is zero.
    assert int((split.coef.abs().sum(dim=1) == 0).sum()) == 1


def test_regression_split_follows_its_generating_model() -> None:
    split = make_regression_split(seed=3)
    x = torch.cat([split.x_train, split.x_valid])
    y = torch.cat([split.y_train, split.y_valid])
    residual = y - (x @ split.coef + split.bias)
    # noise = 1: the residuals are standard normal (10,100 x 3 of them).
    assert abs(float(residual.mean())) < 0.05
    assert abs(float(residual.std()) - 1.0) < 0.05


def test_regression_split_is_reproducible_and_seed_dependent() -> None:
    a, b, c = (make_regression_split(seed=s) for s in (7, 7, 8))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_valid, b.y_valid)
    assert a.bias == b.bias
    assert not torch.equal(a.x_train, c.x_train) and a.bias != c.bias


def test_float32_is_the_rounding_of_float64() -> None:
    f64 = make_regression_split(seed=1)
    f32 = make_regression_split(seed=1, dtype=torch.float32)
    assert f32.y_valid.dtype == torch.float32
    assert torch.equal(f32.y_valid, f64.y_valid.float())


def test_clusters_follow_their_generating_model() -> None:
    data = make_clusters(seed=2)
    assert torch.equal(data.x, cluster_inputs(20))
    assert torch.equal(data.features, featurize(data.x))
    assert data.x[:20].min() == -10 and data.x[:20].max() == -6
    assert data.x[20:40].min() == -2 and data.x[20:40].max() == 2
    assert data.x[40:].min() == 6 and data.x[40:].max() == 10
    labeller = Net(seed=derive_seed(2, "labels"), dtype=torch.float64)
    with torch.no_grad():
        residual = data.y - labeller(data.features)
    noise = torch.randn(
        60,
        1,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(derive_seed(2, "noise")),
    )
    torch.testing.assert_close(residual, 0.5 * noise, rtol=0, atol=1e-12)


def test_clusters_reproducible_and_noise_level() -> None:
    assert torch.equal(make_clusters(seed=4).y, make_clusters(seed=4).y)
    assert not torch.equal(make_clusters(seed=4).y, make_clusters(seed=5).y)
    quiet = make_clusters(seed=4, noise=0.0)
    assert not torch.equal(quiet.y, make_clusters(seed=4).y)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: make_regression_split(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (lambda: make_regression_split(seed=1.5), TypeError, r"seed must be an integer, got 1\.5"),  # type: ignore[arg-type]
        (lambda: make_regression_split(dtype=torch.int32), ValueError, "dtype must be"),
        (
            lambda: make_regression_split(n_rows=100, n_train=100),
            ValueError,
            "n_train must be < n_rows = 100, got 100",
        ),
        (
            lambda: make_regression_split(n_informative=7),
            ValueError,
            "n_informative must be <= n_features = 6, got 7",
        ),
        (lambda: make_regression_split(noise=-1.0), ValueError, r"noise must be >= 0, got -1\.0"),
        (lambda: make_clusters(noise=float("nan")), ValueError, "noise must be finite"),
        (lambda: make_clusters(points_per_cluster=1), ValueError, "must be >= 2, got 1"),
        (lambda: featurize(torch.zeros(2, 2)), ValueError, r"x must be 1-d, got shape \(2, 2\)"),
        (lambda: featurize([1.0]), TypeError, "x must be a torch.Tensor, got list"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_named(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_derive_seed_bad_input() -> None:
    with pytest.raises(ValueError, match="purpose must be a non-empty string"):
        derive_seed(0, "")
    with pytest.raises(TypeError, match="purpose must be a str, got 3"):
        derive_seed(0, 3)  # type: ignore[arg-type]


def test_make_blobs_names_a_bad_stream() -> None:
    with pytest.raises(ValueError, match="stream must be None or a non-empty string, got ''"):
        make_blobs(5, stream="")
    with pytest.raises(TypeError, match="stream must be None or a str, got 3"):
        make_blobs(5, stream=3)  # type: ignore[arg-type]
