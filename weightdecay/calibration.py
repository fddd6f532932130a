r"""Calibration: whether predictions made with confidence 0.8 are right 80% of the time.

A classifier's confidence on input $x$ is its largest class probability
$\hat p(x) = \max_k p_k(x)$, and it is right when that class is the label. Sorting the
test points into $B$ equal-width bins of confidence, bin $b$ holds $n_b$ points with
mean confidence $\operatorname{conf}_b$ and accuracy $\operatorname{acc}_b$; the
reliability diagram plots one against the other, and the expected calibration error is
their gap weighted by the bins' shares (Naeini, Cooper and Hauskrecht, 2015; Guo,
Pleiss, Sun and Weinberger, 2017):

$$\mathrm{ECE} = \sum_{b=1}^{B}\frac{n_b}{n}\,\bigl|\operatorname{acc}_b
- \operatorname{conf}_b\bigr|.$$
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count
from weightdecay.cross_entropy import check_labels

__all__ = ["Reliability", "expected_calibration_error", "reliability"]


@dataclass(frozen=True)
class Reliability:
    """Per-bin confidence and accuracy of a classifier's top-class predictions.

    Attributes
    ----------
    edges : Tensor
        The $B + 1$ bin edges, from 0 to 1.
    counts : Tensor
        Points per bin (int64).
    confidence : Tensor
        Mean confidence per bin (NaN for an empty bin).
    accuracy : Tensor
        Fraction correct per bin (NaN for an empty bin).
    """

    edges: Tensor
    counts: Tensor
    confidence: Tensor
    accuracy: Tensor

    @property
    def ece(self) -> float:
        r"""$\sum_b \frac{n_b}{n}\lvert\operatorname{acc}_b - \operatorname{conf}_b\rvert$."""
        filled = self.counts > 0
        weights = self.counts[filled].to(self.confidence.dtype) / self.counts.sum()
        gaps = (self.accuracy[filled] - self.confidence[filled]).abs()
        # $$\mathrm{ECE} = \sum_b \tfrac{n_b}{n}\lvert\mathrm{acc}_b - \mathrm{conf}_b\rvert$$
        return (weights * gaps).sum().item()


def reliability(probs: Tensor, labels: Tensor, n_bins: int = 10) -> Reliability:
    r"""Bin the top-class confidences into `n_bins` equal bins of [0, 1].

    Bin $b$ (from 1) holds the confidences in $((b - 1)/B,\ b/B]$; the first bin also
    holds 0.

    Parameters
    ----------
    probs : Tensor
        Class probabilities, shape (n, K), rows summing to 1.
    labels : Tensor
        Integer labels in ``[0, K)``, shape (n,).
    n_bins : int, default 10
        $B$.

    Returns
    -------
    Reliability

    Raises
    ------
    TypeError, ValueError
        If `probs` is not a 2-d floating tensor with values in [0, 1] and at least
        two columns, `labels` does not match it, or `n_bins` is not a positive integer.

    Examples
    --------
    Four predictions at confidence 0.9 of which three are right, and two at 0.6 of
    which one is right:

    >>> import torch
    >>> from weightdecay.calibration import reliability
    >>> p = torch.tensor([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2, dtype=torch.float64)
    >>> y = torch.tensor([0, 0, 0, 1, 1, 0])
    >>> r = reliability(p, y, n_bins=10)
    >>> r.counts.tolist()
    [0, 0, 0, 0, 0, 2, 0, 0, 4, 0]
    >>> r.accuracy[[5, 8]].tolist()
    [0.5, 0.75]
    >>> round(r.ece, 12)  # (2 * |0.5 - 0.6| + 4 * |0.75 - 0.9|) / 6
    0.133333333333
    """
    if not isinstance(probs, Tensor) or probs.ndim != 2 or probs.shape[1] < 2:
        found = tuple(probs.shape) if isinstance(probs, Tensor) else type(probs).__name__
        raise ValueError(f"probs must have shape (n, K) with K >= 2, got {found}")
    if not probs.is_floating_point():
        raise TypeError(f"probs must be a floating tensor, got {probs.dtype}")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError(
            f"probs must lie in [0, 1], got values from {probs.min().item()} "
            f"to {probs.max().item()}"
        )
    check_labels(labels, probs.shape[1], probs.shape[0])
    bins = check_count("n_bins", n_bins)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).to(probs.dtype)
    edges = torch.linspace(0, 1, bins + 1, dtype=probs.dtype)
    # Bin $b$ holds $((b-1)/B, b/B]$: the number of inner edges strictly below the value.
    index = torch.searchsorted(edges[1:-1], confidence, right=False)
    counts = torch.bincount(index, minlength=bins)
    sums = torch.zeros(bins, dtype=probs.dtype).index_add_(0, index, confidence)
    hits = torch.zeros(bins, dtype=probs.dtype).index_add_(0, index, correct)
    filled = counts.to(probs.dtype)
    nan = torch.full((bins,), float("nan"), dtype=probs.dtype)
    # $$\operatorname{conf}_b = \frac{1}{n_b}\sum_{i \in b}\hat p(x_i), \qquad
    #   \operatorname{acc}_b = \frac{1}{n_b}\sum_{i \in b}[\hat y_i = y_i]$$
    mean_confidence = torch.where(counts > 0, sums / filled.clamp(min=1), nan)
    accuracy = torch.where(counts > 0, hits / filled.clamp(min=1), nan)
    return Reliability(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 10) -> float:
    """The ECE of top-class predictions over `n_bins` equal-width bins.

    Parameters
    ----------
    probs : Tensor
        Class probabilities, shape (n, K).
    labels : Tensor
        Integer labels, shape (n,).
    n_bins : int, default 10
        $B$.

    Returns
    -------
    float
        In [0, 1]; 0 for a calibrated classifier (per bin).

    Raises
    ------
    TypeError, ValueError
        As `reliability`.

    Examples
    --------
    Labels drawn from the predicted probabilities themselves make a calibrated
    classifier, whose ECE shrinks as the sample grows:

    >>> import torch
    >>> from weightdecay.calibration import expected_calibration_error
    >>> g = torch.Generator().manual_seed(0)
    >>> p = torch.softmax(2 * torch.randn(100_000, 3, generator=g, dtype=torch.float64), dim=1)
    >>> y = torch.multinomial(p, 1, generator=g)[:, 0]
    >>> expected_calibration_error(p, y) < 0.01
    True
    >>> overconfident = torch.softmax(3 * torch.log(p), dim=1)
    >>> expected_calibration_error(overconfident, y) > 0.05
    True
    """
    return reliability(probs, labels, n_bins).ece
