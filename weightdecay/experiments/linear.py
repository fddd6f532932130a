r"""The first source document's experiment: weight decay from scratch against `torch.optim.SGD`.

Both models start from the same parameters, see the same mini-batches in the
same order, and decay only the weight. The scratch model applies
$W \leftarrow W - \eta(X^\top\Delta + \lambda W)$ by hand; the twin lets
``SGD(weight_decay=lambda)`` add $\lambda W$ to the autograd gradient.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_dtype, check_nonnegative, check_positive
from weightdecay.data import RegressionSplit, make_regression_split
from weightdecay.experiments.result import TrainingRun, format_epoch
from weightdecay.metrics import flatten, mape, mse, relative_error
from weightdecay.models.linear import ScratchLinearRegression, TorchLinearRegression
from weightdecay.seeding import derive_seed, torch_generator

__all__ = ["LinearExperiment", "run_linear_experiment"]


@dataclass(frozen=True)
class LinearExperiment:
    """Result of `run_linear_experiment`.

    Attributes
    ----------
    data : RegressionSplit
        The data both models saw.
    dtype : torch.dtype
        The dtype of data and parameters.
    lambd, lr : float
        Decay strength and learning rate.
    epochs, batch_size : int
        Passes over the training rows and mini-batch size.
    mape_before_copy : float
        MAPE (percent) of the scratch model's validation predictions against the
        twin's, each with its own random initialization.
    mape_after_copy : float
        The same after copying the twin's parameters into the scratch model.
    mape_loss_after_copy : float
        MAPE of the two validation losses after the copy.
    scratch, reference : TrainingRun
        The scratch model's and the ``torch.nn`` twin's runs. Their
        ``params`` are ``{"weight": (n_features, n_targets), "bias": (n_targets,)}``
        and ``predictions`` are on the validation inputs.

    Examples
    --------
    >>> from weightdecay import run_linear_experiment
    >>> result = run_linear_experiment(epochs=1)
    >>> result.batch_size, len(result.scratch.steps), result.mape_before_copy > 0
    (33, 4, True)
    """

    data: RegressionSplit
    dtype: torch.dtype
    lambd: float
    lr: float
    epochs: int
    batch_size: int
    mape_before_copy: float
    mape_after_copy: float
    mape_loss_after_copy: float
    scratch: TrainingRun
    reference: TrainingRun

    def parity(self) -> dict[str, float]:
        """Final scratch-versus-twin agreement, the reference being the twin.

        Returns
        -------
        dict of str to float
            ``mape_predictions``, ``mape_weight``, ``mape_bias`` (percent, the
            first source document's metric) and ``relerr_predictions``,
            ``relerr_params`` (norm-wise relative).

        Examples
        --------
        >>> from weightdecay import run_linear_experiment
        >>> parity = run_linear_experiment(epochs=2).parity()
        >>> sorted(parity)
        ['mape_bias', 'mape_predictions', 'mape_weight', 'relerr_params', 'relerr_predictions']
        >>> parity["relerr_params"] < 1e-13
        True
        """
        s, r = self.scratch, self.reference
        return {
            "mape_predictions": mape(s.predictions, r.predictions),
            "mape_weight": mape(s.params["weight"], r.params["weight"]),
            "mape_bias": mape(s.params["bias"], r.params["bias"]),
            "relerr_predictions": relative_error(s.predictions, r.predictions),
            "relerr_params": relative_error(s.final_vector(), r.final_vector()),
        }


def _batches(n: int, size: int) -> list[slice]:
    """Consecutive mini-batches in order; the last may be shorter (100 // 3: 33, 33, 33, 1)."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _train_scratch(
    model: ScratchLinearRegression,
    data: RegressionSplit,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    track_steps: int,
    log: Callable[[str], None] | None,
) -> TrainingRun:
    """Mini-batch gradient descent with the hand-derived update."""
    train_loss: list[float] = []
    valid_loss: list[float] = []
    steps: list[Tensor] = []
    start = time.perf_counter()
    for epoch in range(epochs):
        losses = []
        for rows in _batches(data.n_train, batch_size):
            x, y = data.x_train[rows], data.y_train[rows]
            pred = model.step(x, y, lr)
            losses.append(mse(pred, y))
            if len(steps) < track_steps:
                steps.append(flatten(model.parameters()))
        train_loss.append(sum(losses) / len(losses))
        valid_loss.append(mse(model.predict(data.x_valid), data.y_valid))
        if log is not None:
            log("scratch " + format_epoch(epoch, train_loss[-1], valid_loss[-1]))
    elapsed = time.perf_counter() - start
    return TrainingRun(
        name="scratch",
        train_loss=tuple(train_loss),
        valid_loss=tuple(valid_loss),
        steps=tuple(steps),
        params={"weight": model.w.clone(), "bias": model.b.clone()},
        predictions=model.predict(data.x_valid),
        elapsed=elapsed,
    )


def _train_torch(
    model: TorchLinearRegression,
    data: RegressionSplit,
    *,
    lr: float,
    lambd: float,
    epochs: int,
    batch_size: int,
    track_steps: int,
    log: Callable[[str], None] | None,
    centre: Tensor | None = None,
) -> TrainingRun:
    """Mini-batch ``SGD(weight_decay=lambd)`` on the weight group of an ``nn.Linear``."""
    optimizer = model.sgd(lr=lr, weight_decay=lambd, centre=centre)
    loss_fn = torch.nn.MSELoss()
    train_loss: list[float] = []
    valid_loss: list[float] = []
    steps: list[Tensor] = []

    def current() -> list[Tensor]:
        return [model.layer.weight.T, model.layer.bias]

    start = time.perf_counter()
    for epoch in range(epochs):
        losses = []
        for rows in _batches(data.n_train, batch_size):
            loss = loss_fn(model(data.x_train[rows]), data.y_train[rows])
            losses.append(loss.detach().item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if len(steps) < track_steps:
                steps.append(flatten(current()))
        train_loss.append(sum(losses) / len(losses))
        with torch.no_grad():
            valid_loss.append(float(loss_fn(model(data.x_valid), data.y_valid)))
        if log is not None:
            log("torch   " + format_epoch(epoch, train_loss[-1], valid_loss[-1]))
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        predictions = model(data.x_valid)
    weight, bias = (p.detach().clone() for p in current())
    return TrainingRun(
        name="torch",
        train_loss=tuple(train_loss),
        valid_loss=tuple(valid_loss),
        steps=tuple(steps),
        params={"weight": weight.contiguous(), "bias": bias},
        predictions=predictions,
        elapsed=elapsed,
    )


def run_linear_experiment(
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    lambd: float = 0.01,
    lr: float = 0.01,
    epochs: int = 16,
    batch_size: int | None = None,
    track_steps: int = 5,
    log: Callable[[str], None] | None = None,
    centre: Tensor | None = None,
) -> LinearExperiment:
    r"""Train the scratch model and its ``torch.nn`` twin from one initialization.

    The defaults are the first source document's settings: $\lambda = 0.01$,
    learning rate 0.01, 16 epochs, batches of ``100 // 3 = 33`` rows in order
    (so each epoch takes four steps, the last on one row).

    Parameters
    ----------
    dtype : torch.dtype, default torch.float64
        float32 or float64 for data and parameters.
    seed : int, default 0
        Seeds the data set and both initializations.
    lambd : float, default 0.01
        Decay strength on the weight ($\lambda \ge 0$).
    lr : float, default 0.01
        Learning rate (> 0).
    epochs : int, default 16
        Passes over the training rows.
    batch_size : int or None, default None
        Rows per step; None means ``n_train // 3``.
    track_steps : int, default 5
        How many first steps to record the parameters after.
    log : callable or None, default None
        Called with each epoch's log line (``print`` shows progress).
    centre : Tensor or None, default None
        $W_0$, shape (6, 3) for the default data: both models decay towards it (L2-SP).

    Returns
    -------
    LinearExperiment

    Raises
    ------
    TypeError, ValueError
        On a bad dtype, seed, rate, count or batch size.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import run_linear_experiment
    >>> result = run_linear_experiment(epochs=3)
    >>> result.mape_after_copy, result.mape_loss_after_copy
    (0.0, 0.0)
    >>> result.scratch.log_lines() == result.reference.log_lines()
    True
    >>> result.parity()["mape_predictions"] < 1e-11
    True
    """
    check_dtype("dtype", dtype)
    root = check_count("seed", seed, minimum=0)
    lam = check_nonnegative("lambd", lambd)
    eta = check_positive("lr", lr)
    n_epochs = check_count("epochs", epochs)
    n_track = check_count("track_steps", track_steps, minimum=0)
    data = make_regression_split(seed=root, dtype=dtype)
    size = data.n_train // 3 if batch_size is None else check_count("batch_size", batch_size)

    twin = TorchLinearRegression(
        data.n_features, data.n_targets, dtype=dtype, seed=derive_seed(root, "torch-init")
    )
    scratch = ScratchLinearRegression(
        data.n_features,
        data.n_targets,
        lam,
        dtype=dtype,
        generator=torch_generator(root, "scratch-init"),
        centre=centre,
    )
    with torch.no_grad():
        twin_pred = twin(data.x_valid)
        twin_loss = mse(twin_pred, data.y_valid)
    before = mape(scratch.predict(data.x_valid), twin_pred)
    scratch.copy_params(twin.layer)
    after = mape(scratch.predict(data.x_valid), twin_pred)
    after_loss = mape(mse(scratch.predict(data.x_valid), data.y_valid), twin_loss)

    reference = _train_torch(
        twin,
        data,
        centre=centre,
        lr=eta,
        lambd=lam,
        epochs=n_epochs,
        batch_size=size,
        track_steps=n_track,
        log=log,
    )
    scratch_run = _train_scratch(
        scratch, data, lr=eta, epochs=n_epochs, batch_size=size, track_steps=n_track, log=log
    )
    return LinearExperiment(
        data=data,
        dtype=dtype,
        lambd=lam,
        lr=eta,
        epochs=n_epochs,
        batch_size=size,
        mape_before_copy=before,
        mape_after_copy=after,
        mape_loss_after_copy=after_loss,
        scratch=scratch_run,
        reference=reference,
    )
