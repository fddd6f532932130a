r"""SGD with decay on scale-invariant weights: the norm's equilibrium, the effective learning rate.

`run_norm_dynamics` trains `weightdecay.models.normalized.NormalizedClassifier` on
seeded Gaussian blobs with plain mini-batch SGD (no momentum), once per decay strength
$\lambda$, and records at every step, for each scale-invariant weight $W$: its norm,
the norm of the data gradient $g$ and their cosine. From these follow the effective
learning rate $\eta/\lVert W\rVert^2$, the angular update $\eta\lVert g\rVert/\lVert W\rVert$
and the gradient at unit norm $\lVert\hat g\rVert = \lVert g\rVert\,\lVert W\rVert$,
which `weightdecay.equilibrium` predicts at equilibrium.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from weightdecay._checks import check_count, check_nonnegative, check_positive
from weightdecay.equilibrium import (
    comparison_bias,
    comparison_standard_error,
    equilibrium_angular_update,
    equilibrium_norm,
    relaxation_steps,
)
from weightdecay.experiments.invariance import (
    ROUNDING_BOUND,
    Blobs,
    _model,
    _one_thread,
    epsilon_deviation,
    gaussian_blobs,
    invariance_figures,
)
from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier
from weightdecay.optim.groups import decay_groups
from weightdecay.report import ParityCheck
from weightdecay.scale_invariance import (
    scale_invariant_weights,
)
from weightdecay.seeding import torch_generator

__all__ = [
    "EQUILIBRIUM_TOLERANCE",
    "SETTLED_RELAXATIONS",
    "NormDynamics",
    "NormRun",
    "integrated_autocorrelation_time",
    "rescaled_training_difference",
    "run_norm_dynamics",
    "scale_invariance_checks",
]

SETTLED_RELAXATIONS = 5.0
r"""Relaxation times $1/(4\eta\lambda)$ that must pass before the averaging window."""

EQUILIBRIUM_TOLERANCE = 0.02
"""Relative tolerance of the observed equilibrium norm and angular update.

It must exceed five standard errors plus the predicted bias of each comparison
(`NormRun.comparison_standard_error`, `NormRun.comparison_bias`).
"""


def integrated_autocorrelation_time(series: Tensor, window_factor: float = 5.0) -> float:
    r"""$\tau_{\text{int}} = 1 + 2\sum_{k=1}^{M}\hat\rho_k$, estimated from the series itself.

    The variance of the mean of $N$ correlated values is about
    $\operatorname{Var}(x)\,\tau_{\text{int}}/N$: the series holds
    $N/\tau_{\text{int}}$ effectively independent values. For an AR(1) series,
    $\rho_k = \rho^k$ and $\tau_{\text{int}} = (1 + \rho)/(1 - \rho)$; with
    $\rho = 1 - 1/\tau$, that is $2\tau - 1$, about twice the relaxation time.

    The autocorrelations $\hat\rho_k$ are those of the mean-subtracted series (with
    the $1/N$ normalization), summed up to the smallest lag $M$ with
    $M \ge c\,\hat\tau_{\text{int}}(M)$ (the self-consistent window of Madras and
    Sokal, 1988): far enough to hold the correlated part, short enough to keep the
    noise of the remote lags out. The estimate is reliable when the series is many
    times $\tau_{\text{int}}$ long; its relative variance is about $2(2M + 1)/N$.

    Parameters
    ----------
    series : Tensor
        One-dimensional, at least two values, not all equal.
    window_factor : float, default 5.0
        $c > 0$.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If `series` is not a one-dimensional floating tensor of at least two values
        that are not all equal, or `window_factor` is not a finite positive number.

    Examples
    --------
    An AR(1) series with $\rho = 0.8$, for which $\tau_{\text{int}} = 9$:

    >>> import torch
    >>> from weightdecay.experiments.norm_dynamics import integrated_autocorrelation_time
    >>> gen = torch.Generator().manual_seed(0)
    >>> noise = torch.randn(100_000, generator=gen, dtype=torch.float64)
    >>> x = [noise[0].item() / 0.6]  # the stationary standard deviation, 1/sqrt(1 - 0.8^2)
    >>> for e in noise[1:].tolist():
    ...     x.append(0.8 * x[-1] + e)
    >>> tau = integrated_autocorrelation_time(torch.tensor(x, dtype=torch.float64))

    Within four of the estimate's standard deviations, $\sqrt{2(2M + 1)/N}$ with
    $M \approx 5 \times 9$ and $N = 10^5$ (0.043), and for independent values
    ($\tau_{\text{int}} = 1$, $M \approx 5$: 0.015):

    >>> abs(tau / 9 - 1) < 4 * 0.043
    True
    >>> abs(integrated_autocorrelation_time(noise) - 1) < 4 * 0.015
    True
    """
    if not isinstance(series, Tensor) or series.dim() != 1 or not series.is_floating_point():
        raise TypeError(f"series must be a one-dimensional floating tensor, got {series!r}")
    c = check_positive("window_factor", window_factor)
    n = series.shape[0]
    if n < 2:
        raise ValueError(f"series must hold at least two values, got {n}")
    x = series.double() - series.double().mean()
    spectrum = torch.fft.rfft(x, n=2 * n)
    # $$\hat c_k = \frac{1}{N}\sum_t x_t x_{t+k}$$
    autocovariance = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n)[:n] / n
    if autocovariance[0].item() <= 0:
        raise ValueError("series must not be constant")
    rho = autocovariance / autocovariance[0]
    # $$\hat\tau_{\text{int}}(M) = 1 + 2\sum_{k=1}^{M}\hat\rho_k$$
    tau = 1 + 2 * torch.cumsum(rho[1:], dim=0)
    lags = torch.arange(1, n, dtype=torch.float64)
    inside = (lags >= c * tau).nonzero()
    m = int(inside[0, 0].item()) if inside.numel() else n - 2
    return float(tau[m].item())


def _f64(values: Sequence[float]) -> Tensor:
    """A float64 tensor of `values`."""
    return torch.tensor(list(values), dtype=torch.float64)


@dataclass(frozen=True)
class NormRun:
    r"""The record of one training run at one decay strength.

    Attributes
    ----------
    lr : float
        $\eta$.
    weight_decay : float
        $\lambda$ on the decayed group (the scale-invariant weights and the head's
        weight, by `weightdecay.optim.decay_groups`).
    names : tuple of str
        The scale-invariant weights, in column order.
    norms : Tensor
        $\lVert W_t\rVert$, shape (steps + 1, len(names)): before each step and at the end.
    grad_norms : Tensor
        $\lVert g_t\rVert$, the mini-batch data-loss gradient at $W_t$, shape (steps, len(names)).
    cosines : Tensor
        $\cos(g_t, W_t)$, shape (steps, len(names)).
    loss, accuracy : Tensor
        The mini-batch's cross-entropy and accuracy before each step, shape (steps,).
    test_accuracy : float
        The trained model's accuracy on the test set (training-mode statistics of the
        whole test set).
    final_state : dict of str to Tensor
        The trained model's state dict.

    Examples
    --------
    The derived series follow from the recorded ones:

    >>> import torch
    >>> from weightdecay.experiments.norm_dynamics import run_norm_dynamics
    >>> run = run_norm_dynamics(lambdas=(0.05,), steps=40, window=20).runs[0]
    >>> run.norms.shape, run.grad_norms.shape, run.loss.shape
    (torch.Size([41, 2]), torch.Size([40, 2]), torch.Size([40]))
    >>> torch.allclose(run.effective_lr * run.unit_grad_norms, run.angular_update)
    True
    """

    lr: float
    weight_decay: float
    names: tuple[str, ...]
    norms: Tensor = field(repr=False)
    grad_norms: Tensor = field(repr=False)
    cosines: Tensor = field(repr=False)
    loss: Tensor = field(repr=False)
    accuracy: Tensor = field(repr=False)
    test_accuracy: float
    final_state: dict[str, Tensor] = field(repr=False)

    @property
    def effective_lr(self) -> Tensor:
        r"""$\eta/\lVert W_t\rVert^2$ per step and weight, shape (steps, len(names))."""
        # $$\eta_{\text{eff}} = \eta/\lVert W_t\rVert^2$$
        return self.lr / self.norms[:-1] ** 2

    @property
    def angular_update(self) -> Tensor:
        r"""$\eta\lVert g_t\rVert/\lVert W_t\rVert$ per step and weight."""
        return self.lr * self.grad_norms / self.norms[:-1]

    @property
    def unit_grad_norms(self) -> Tensor:
        r"""The norm of the gradient at unit weight norm, per step and weight.

        $\lVert\hat g_t\rVert = \lVert g_t\rVert\,\lVert W_t\rVert$, shape (steps, len(names)).
        """
        return self.grad_norms * self.norms[:-1]

    def recursion_error(self) -> float:
        r"""The largest relative error of the norm recursion over the run.

        The recursion is $\lVert W_{t+1}\rVert^2
        = (1 - \eta\lambda)^2\lVert W_t\rVert^2 + \eta^2\lVert g_t\rVert^2$.

        Returns
        -------
        float
            Over all steps and weights.
        """
        n = self.norms**2
        # $$(1 - \eta\lambda)^2\lVert W_t\rVert^2 + \eta^2\lVert g_t\rVert^2$$
        predicted = (1 - self.lr * self.weight_decay) ** 2 * n[
            :-1
        ] + self.lr**2 * self.grad_norms**2
        return ((n[1:] - predicted).abs() / n[1:]).max().item()

    def observed_norm(self, window: int) -> Tensor:
        r"""Mean $\lVert W_t\rVert$ over the last `window` steps, per weight."""
        return self.norms[-window - 1 : -1].mean(dim=0)

    def predicted_norm(self, window: int) -> Tensor:
        r"""`equilibrium_norm` with $G$ the mean of $\lVert\hat g_t\rVert^2$ over the window."""
        big_g = self.unit_grad_norms[-window:].pow(2).mean(dim=0)
        return torch.tensor(
            [equilibrium_norm(self.lr, self.weight_decay, g.item()) for g in big_g],
            dtype=torch.float64,
        )

    def observed_angular_update(self, window: int) -> Tensor:
        """Root mean square of the angular update over the last `window` steps."""
        return self.angular_update[-window:].pow(2).mean(dim=0).sqrt()

    def predicted_angular_update(self) -> float:
        r"""`equilibrium_angular_update`, $\sqrt{\eta\lambda(2 - \eta\lambda)}$."""
        return equilibrium_angular_update(self.lr, self.weight_decay)

    def fluctuation(self, window: int) -> Tensor:
        r"""Relative standard deviation of $\lVert W_t\rVert^2$ over the window, per weight."""
        n = self.norms[-window - 1 : -1] ** 2
        return n.std(dim=0) / n.mean(dim=0)

    def standard_error(self, window: int) -> Tensor:
        r"""The relative standard error of `observed_norm`, from the run's own series.

        $\sigma\sqrt{\tau_{\text{int}}/N}\,/\,\overline{\lVert W\rVert}$ over the window's
        $N$ values of $\lVert W_t\rVert$, with $\sigma$ their standard deviation and
        $\tau_{\text{int}}$ their `integrated_autocorrelation_time`. (Linearized, the
        norm relaxes as an AR(1) series with per-step factor
        $\rho = 1 - 4\eta\lambda + 2\eta^2\lambda^2$, so $\tau_{\text{int}}$ is about
        $(1 + \rho)/(1 - \rho) \approx 2\tau - 1$ for the relaxation time
        $\tau = 1/(4\eta\lambda)$.) The estimate needs a window many times
        $\tau_{\text{int}}$ long. The comparisons with the predicted equilibrium have
        errors of their own, `comparison_standard_error`.
        """
        norms = self.norms[-window - 1 : -1]
        errors = []
        for column in norms.T:
            tau = integrated_autocorrelation_time(column)
            spread = column.std(unbiased=False) / column.mean()
            # $$\frac{\sigma}{\overline{\lVert W\rVert}}\sqrt{\frac{\tau_{\text{int}}}{N}}$$
            errors.append(spread * math.sqrt(tau / window))
        return torch.stack(errors)

    def comparison_bias(self, window: int) -> tuple[Tensor, Tensor]:
        r"""The predicted relative offsets of the observed norm and angular update.

        `weightdecay.equilibrium.comparison_bias` with $v$ the square of `fluctuation`:
        $v/8$ for `observed_norm` against `predicted_norm`, $v$ for
        `observed_angular_update` against `predicted_angular_update`, per weight.
        """
        pairs = [comparison_bias(f.item() ** 2) for f in self.fluctuation(window)]
        norm, angular = zip(*pairs, strict=True)
        return _f64(norm), _f64(angular)

    def comparison_standard_error(self, window: int) -> tuple[Tensor, Tensor]:
        r"""The relative standard errors of the same two comparisons, per weight.

        `weightdecay.equilibrium.comparison_standard_error` with $v$ the square of
        `fluctuation`: $\sqrt{2v}/(4qN)$ and $\sqrt{2v}/(2qN)$,
        $q = \eta\lambda(2 - \eta\lambda)$, $N$ = `window`.
        """
        pairs = [
            comparison_standard_error(self.lr, self.weight_decay, f.item() ** 2, window)
            for f in self.fluctuation(window)
        ]
        norm, angular = zip(*pairs, strict=True)
        return _f64(norm), _f64(angular)

    def comparison_errors(self, window: int) -> tuple[Tensor, Tensor]:
        r"""The relative errors observed / predicted - 1 of the norm and the angular update."""
        norm = self.observed_norm(window) / self.predicted_norm(window) - 1
        angular = self.observed_angular_update(window) / self.predicted_angular_update() - 1
        return norm, angular


@dataclass(frozen=True)
class NormDynamics:
    r"""Runs of one seeded set-up at several decay strengths.

    Attributes
    ----------
    runs : tuple of NormRun
        One per decay strength, in the order asked.
    steps, batch_size, window, seed : int
        The set-up; `window` is the number of final steps averaged.
    lr : float
        $\eta$.
    norm : str
        "batch" or "layer".
    eps : float
        The normalization's $\epsilon$.
    """

    runs: tuple[NormRun, ...]
    lr: float
    steps: int
    batch_size: int
    window: int
    seed: int
    norm: str
    eps: float

    def run(self, weight_decay: float) -> NormRun:
        """The run at `weight_decay`.

        Raises
        ------
        KeyError
            If no run has that decay strength.
        """
        for run in self.runs:
            if run.weight_decay == weight_decay:
                return run
        raise KeyError(f"no run with weight_decay={weight_decay!r}")

    def relaxations_before_window(self, run: NormRun) -> float:
        r"""Relaxation times $1/(4\eta\lambda)$ before the window (inf if $\lambda = 0$)."""
        if run.weight_decay == 0:
            return math.inf
        return (self.steps - self.window) / relaxation_steps(self.lr, run.weight_decay)

    def settled(self) -> list[NormRun]:
        """The runs with decay whose window starts `SETTLED_RELAXATIONS` relaxation times in."""
        return [
            run
            for run in self.runs
            if run.weight_decay > 0 and self.relaxations_before_window(run) >= SETTLED_RELAXATIONS
        ]

    def equilibrium_errors(self) -> tuple[float, float]:
        """Largest relative error of the norm and of the angular update over `settled` runs.

        Raises
        ------
        ValueError
            If no run is settled.
        """
        if not self.settled():
            raise ValueError(
                f"no run with decay settles {SETTLED_RELAXATIONS} relaxation times before "
                f"the window: steps={self.steps}, window={self.window}, lr={self.lr}"
            )
        norm_error = angular_error = 0.0
        for run in self.settled():
            norm, angular = run.comparison_errors(self.window)
            norm_error = max(norm_error, norm.abs().max().item())
            angular_error = max(angular_error, angular.abs().max().item())
        return norm_error, angular_error


def _groups(
    model: nn.Module, lr: float, weight_decay: float, scale: float = 1.0
) -> list[dict[str, Any]]:
    r"""`decay_groups`, with the scale-invariant weights in a group of their own.

    That group gets learning rate $c^2\eta$ and decay $\lambda/c^2$ for `scale` $c$.
    """
    invariant = {id(p) for p in scale_invariant_weights(model).values()}
    groups = decay_groups(model, weight_decay)
    split: list[dict[str, Any]] = [
        {
            "params": [p for p in groups[0]["params"] if id(p) in invariant],
            "lr": scale**2 * lr,
            "weight_decay": weight_decay / scale**2,
        }
    ]
    for group in groups:
        params = [p for p in group["params"] if id(p) not in invariant]
        if params:
            split.append({"params": params, "lr": lr, "weight_decay": group["weight_decay"]})
    return split


def _batches(data: Blobs, steps: int, batch_size: int, seed: int) -> Tensor:
    """The row indices of every mini-batch, drawn with replacement, shape (steps, batch_size)."""
    generator = torch_generator(seed, "batches")
    return torch.randint(0, data.x_train.shape[0], (steps, batch_size), generator=generator)


def _train(
    model: nn.Module, lr: float, weight_decay: float, data: Blobs, batches: Tensor
) -> NormRun:
    """Plain SGD over `batches`, recording the scale-invariant weights at every step."""
    weights = scale_invariant_weights(model)
    if not weights:
        raise ValueError(f"model must have scale-invariant weights, got {type(model).__name__}")
    optimizer = torch.optim.SGD(_groups(model, lr, weight_decay), lr=lr)
    rows: list[Tensor] = []
    for idx in batches:
        x, y = data.x_train[idx], data.y_train[idx]
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        with torch.no_grad():
            stats = [loss, (logits.argmax(dim=1) == y).double().mean()]
            for w in weights.values():
                assert w.grad is not None
                norm, grad_norm = w.norm(), w.grad.norm()
                # $$\cos(g_t, W_t) = \langle g_t, W_t\rangle/(\lVert g_t\rVert\,\lVert W_t\rVert)$$
                stats += [norm, grad_norm, (w.grad * w).sum() / (norm * grad_norm)]
            rows.append(torch.stack(stats).detach())
        # $$W_{t+1} = W_t - \eta\,(g_t + \lambda W_t)$$
        optimizer.step()
    record = torch.stack(rows)
    final = torch.stack([w.detach().norm() for w in weights.values()])
    with torch.no_grad():
        test_logits = model(data.x_test)
    return NormRun(
        lr=lr,
        weight_decay=weight_decay,
        names=tuple(weights),
        norms=torch.cat([record[:, 2::3], final[None]]),
        grad_norms=record[:, 3::3].clone(),
        cosines=record[:, 4::3].clone(),
        loss=record[:, 0].clone(),
        accuracy=record[:, 1].clone(),
        test_accuracy=(test_logits.argmax(dim=1) == data.y_test).double().mean().item(),
        final_state={key: value.clone() for key, value in model.state_dict().items()},
    )


def run_norm_dynamics(
    lambdas: Sequence[float] = (0.0, 2e-3, 8e-3, 3.2e-2),
    *,
    lr: float = 0.25,
    steps: int = 3000,
    batch_size: int = 128,
    window: int = 1500,
    norm: str = "batch",
    eps: float = NEGLIGIBLE_EPS,
    seed: int = 0,
) -> NormDynamics:
    r"""Train the normalized classifier with plain SGD at each decay strength, from one start.

    Every run starts from the same seeded initialization and sees the same seeded
    sequence of mini-batches (drawn with replacement from `gaussian_blobs`), in
    float64; decay $\lambda$ applies to the weights `weightdecay.optim.decay_groups`
    decays (the scale-invariant hidden weights and the head's weight), none to the
    normalization parameters and the head's bias.

    Parameters
    ----------
    lambdas : sequence of float, default (0, 2e-3, 8e-3, 3.2e-2)
        The decay strengths $\lambda \ge 0$, each with $\eta\lambda < 1$.
    lr : float, default 0.25
        $\eta$.
    steps : int, default 3000
        SGD steps per run.
    batch_size : int, default 128
        Mini-batch size.
    window : int, default 1500
        Final steps over which equilibrium figures are averaged (<= `steps`).
    norm : {"batch", "layer"}, default "batch"
        The classifier's normalization.
    eps : float, default `NEGLIGIBLE_EPS`
        The normalization's $\epsilon$ (the scale invariance is exact with it).
    seed : int, default 0
        Seeds the data, the initialization and the mini-batches.

    Returns
    -------
    NormDynamics

    Raises
    ------
    TypeError, ValueError
        If `lambdas` is empty or holds a negative value or one with $\eta\lambda \ge 1$,
        a count is not a positive integer, or `window` exceeds `steps`.

    Examples
    --------
    >>> from weightdecay.experiments.norm_dynamics import run_norm_dynamics
    >>> result = run_norm_dynamics(lambdas=(0.0, 0.05), steps=300, window=100)
    >>> [run.names for run in result.runs]
    [('0.weight', '3.weight'), ('0.weight', '3.weight')]
    >>> result.run(0.0).recursion_error() < 1e-13, result.run(0.05).recursion_error() < 1e-13
    (True, True)
    >>> bool((result.run(0.0).norms.diff(dim=0) >= 0).all())  # no decay: the norm only grows
    True
    """
    eta = check_positive("lr", lr)
    values = [check_nonnegative("lambdas", lam) for lam in lambdas]
    if not values:
        raise ValueError("lambdas must hold at least one decay strength, got an empty sequence")
    for lam in values:
        if eta * lam >= 1:
            raise ValueError(f"lambdas must satisfy lr * lambda < 1, got {lam!r} with lr={eta}")
    n_steps = check_count("steps", steps)
    size = check_count("batch_size", batch_size)
    span = check_count("window", window)
    if span > n_steps:
        raise ValueError(f"window must be <= steps = {n_steps}, got {window!r}")
    data = gaussian_blobs(seed=seed)
    batches = _batches(data, n_steps, size, seed)
    template = _model(norm, eps, seed)
    with _one_thread():
        runs = tuple(_train(copy.deepcopy(template), eta, lam, data, batches) for lam in values)
    return NormDynamics(runs, eta, n_steps, size, span, seed, norm, eps)


def rescaled_training_difference(
    scale: float = 2.0,
    *,
    lr: float = 0.25,
    weight_decay: float = 1.6e-2,
    steps: int = 300,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[float, float]:
    r"""Train from $(W_0, \eta, \lambda)$ and from $(cW_0, c^2\eta, \lambda/c^2)$; compare.

    On the scale-invariant weights $W$ only (every other parameter keeps $\eta$ and
    its decay). With $g(cW) = g(W)/c$, one step from $cW$ is
    $cW - c^2\eta\big(g(W)/c + (\lambda/c^2)\,cW\big) = c\big(W - \eta(g(W) + \lambda W)\big)$:
    the second run is $cW_t$ at every step, and the network's function is the same.
    Only $\eta\lambda$ (with $\eta$ measured relative to $\lVert W\rVert^2$) matters.

    Parameters
    ----------
    scale : float, default 2.0
        $c > 0$.
    lr, weight_decay : float, default 0.25, 1.6e-2
        $\eta$ and $\lambda$ of the reference run.
    steps, batch_size : int, default 300, 128
        Steps and mini-batch size.
    seed : int, default 0
        Seeds data, initialization and mini-batches (as `run_norm_dynamics`, with
        ``eps=NEGLIGIBLE_EPS`` and BatchNorm).

    Returns
    -------
    tuple of float
        The largest relative difference $\lVert W^{(c)}_t - cW_t\rVert/\lVert cW_t\rVert$
        over steps and scale-invariant weights, and the largest absolute difference of
        any other parameter.

    Examples
    --------
    >>> from weightdecay.experiments.norm_dynamics import rescaled_training_difference
    >>> weights, others = rescaled_training_difference(3.0, steps=50)
    >>> weights < 1e-12, others < 1e-12
    (True, True)
    """
    c = check_positive("scale", scale)
    eta = check_positive("lr", lr)
    lam = check_nonnegative("weight_decay", weight_decay)
    data = gaussian_blobs(seed=seed)
    batches = _batches(
        data, check_count("steps", steps), check_count("batch_size", batch_size), seed
    )
    models = [_model("batch", NEGLIGIBLE_EPS, seed) for _ in range(2)]
    invariant = [scale_invariant_weights(model) for model in models]
    with torch.no_grad():
        for w in invariant[1].values():
            w.mul_(c)
    optimizers = [
        torch.optim.SGD(_groups(models[0], eta, lam), lr=eta),
        torch.optim.SGD(_groups(models[1], eta, lam, scale=c), lr=eta),
    ]
    with _one_thread():
        return _compare_rescaled(models, optimizers, invariant, c, data, batches)


def _compare_rescaled(
    models: list[NormalizedClassifier],
    optimizers: list[torch.optim.SGD],
    invariant: list[dict[str, nn.Parameter]],
    c: float,
    data: Blobs,
    batches: Tensor,
) -> tuple[float, float]:
    """Step both runs over `batches`; return the largest differences (see the caller)."""
    weight_error = other_error = 0.0
    for idx in batches:
        x, y = data.x_train[idx], data.y_train[idx]
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        with torch.no_grad():
            for name, w in invariant[0].items():
                # $$\lVert W^{(c)}_t - cW_t\rVert/\lVert cW_t\rVert$$
                error = ((invariant[1][name] - c * w).norm() / (c * w).norm()).item()
                weight_error = max(weight_error, error)
            pairs = zip(models[0].named_parameters(), models[1].parameters(), strict=True)
            for (name, p), q in pairs:
                if name not in invariant[0]:
                    other_error = max(other_error, (p - q).abs().max().item())
    return weight_error, other_error


def scale_invariance_checks(
    seed: int = 0,
    dynamics: NormDynamics | None = None,
    rescaled: tuple[float, float] | None = None,
) -> list[ParityCheck]:
    r"""The claims of the page on normalization layers, measured (float64).

    Parameters
    ----------
    seed : int, default 0
        Seeds every measurement that is not passed in.
    dynamics : NormDynamics or None, default None
        A `run_norm_dynamics` result; None runs the default one (about ten seconds).
    rescaled : tuple of float or None, default None
        A `rescaled_training_difference` result at ``scale=2``; None runs the default
        one. A power of two scales every rounding exactly, so the claim is equality.

    Returns
    -------
    list of ParityCheck
        Invariance of the loss, orthogonality and $1/c$ scaling of the gradient under
        BatchNorm and LayerNorm; the first-order value of the change with
        $\epsilon = 10^{-5}$; the per-step norm recursion; the equilibrium norm and
        angular update; the rescaled run.

    Examples
    --------
    >>> from weightdecay.experiments.norm_dynamics import (run_norm_dynamics,
    ...                                                    scale_invariance_checks)
    >>> short = run_norm_dynamics(lambdas=(0.0, 0.05), steps=600, window=200)
    >>> checks = scale_invariance_checks(dynamics=short, rescaled=(0.0, 0.0))
    >>> len(checks), all(check.holds for check in checks)
    (12, True)
    """
    if dynamics is None:
        dynamics = run_norm_dynamics(seed=seed)
    if rescaled is None:
        rescaled = rescaled_training_difference(seed=seed)
    name, f64 = "normalization layers", "float64"
    checks = []
    for norm, label in (("batch", "BatchNorm"), ("layer", "LayerNorm")):
        loss, cos, grad = invariance_figures(norm, seed=seed).worst()
        bound = ROUNDING_BOUND
        checks += [
            ParityCheck(name, f"{label}: relative change of L under W -> cW", f64, loss, bound),
            ParityCheck(name, f"{label}: cosine of grad L and W", f64, cos, bound),
            ParityCheck(name, f"{label}: c grad L(cW) vs grad L(W) (relative)", f64,
                        grad, bound),
        ]  # fmt: skip
    deviation = epsilon_deviation(2.0, seed=seed)
    norm_error, angular_error = dynamics.equilibrium_errors()
    checks += [
        # The first-order value's relative error is of order eps |1 - c^-2| / sigma_min^2.
        ParityCheck(name, "eps = 1e-5, c = 2: change vs first-order value (relative)", f64,
                    deviation.discrepancy, deviation.order),
        ParityCheck(name, "norm recursion under SGD with decay, every step (relative)",
                    f64, max(run.recursion_error() for run in dynamics.runs), bound),
        ParityCheck(name, "equilibrium norm: observed vs predicted (relative)", f64,
                    norm_error, EQUILIBRIUM_TOLERANCE),
        ParityCheck(name, "angular update: observed RMS vs predicted (relative)",
                    f64, angular_error, EQUILIBRIUM_TOLERANCE),
        ParityCheck(name, "rescaled run (c = 2) vs c x reference: weights", f64,
                    rescaled[0], 0.0, exact=True),
        ParityCheck(name, "rescaled run (c = 2) vs reference: other parameters",
                    f64, rescaled[1], 0.0, exact=True),
    ]  # fmt: skip
    return checks
