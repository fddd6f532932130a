r"""The second source document's experiment: three ways to apply the same decay.

From one initialization, full-batch gradient descent on the small ReLU network
with decay on *all* parameters (biases too), in three forms:

* ``"penalty"``: the loss $L(\theta) + \frac{\lambda}{2}\lVert\theta\rVert^2$,
  differentiated by autograd, plain ``SGD``;
* ``"sgd"``: the loss $L(\theta)$ and ``SGD(weight_decay=lambda)``, which adds
  $\lambda\theta$ to the gradient inside the optimizer;
* ``"prior"``: the loss $L(\theta) - \frac{1}{N}\log\mathcal{N}(\theta \mid 0, \tau I)$
  with $\tau = 1/(N\lambda)$, plain ``SGD``.

All three have the gradient $\nabla L + \lambda\theta$; they differ only in the
rounding of its computation.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_dtype, check_positive
from weightdecay.data import ClusterData, featurize, make_clusters
from weightdecay.experiments.result import TrainingRun
from weightdecay.metrics import flatten, max_abs_diff, relative_error
from weightdecay.models.mlp import Net
from weightdecay.optim.sgd import SGD
from weightdecay.penalty import l2_penalty
from weightdecay.prior import prior_variance, scaled_negative_log_prior
from weightdecay.seeding import derive_seed

__all__ = ["FORMS", "FORM_LABELS", "BayesExperiment", "run_bayes_experiment", "train_form"]

FORMS = ("penalty", "sgd", "prior")
"""The three ways of applying decay, in the order the second source document runs them."""

FORM_LABELS = {
    "penalty": "from scratch (penalty in the loss)",
    "sgd": "PyTorch (SGD weight_decay)",
    "prior": "Bayesian (Gaussian prior)",
}
"""A human-readable name for each form."""


def _split_like(vector: Tensor, model: Net) -> list[Tensor]:
    """Split a flat parameter vector into tensors shaped like `model`'s parameters."""
    shapes = [p.shape for p in model.parameters()]
    total = sum(p.numel() for p in model.parameters())
    if not isinstance(vector, Tensor) or vector.shape != (total,):
        found = getattr(vector, "shape", vector)
        raise ValueError(f"centre must be a flat tensor of {total} values, got {found!r}")
    dtype = next(model.parameters()).dtype
    if vector.dtype != dtype:
        raise TypeError(f"centre must have dtype {dtype}, got {vector.dtype}")
    pieces = torch.split(vector, [s.numel() for s in shapes])
    return [piece.reshape(shape).clone() for piece, shape in zip(pieces, shapes, strict=True)]


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return form


def train_form(
    form: str,
    model: Net,
    data: ClusterData,
    *,
    lr: float,
    weight_decay: float,
    epochs: int,
    track_steps: int = 5,
    grid: Tensor | None = None,
    centre: list[Tensor] | None = None,
) -> TrainingRun:
    r"""Train `model` in place by full-batch gradient descent with decay applied as `form`.

    Parameters
    ----------
    form : {"penalty", "sgd", "prior"}
        How decay enters (see the module docstring).
    model : Net
        The network, in the dtype of `data`; trained in place.
    data : ClusterData
        The training set.
    lr : float
        Learning rate (> 0).
    weight_decay : float
        $\lambda > 0$, applied to every parameter.
    epochs : int
        Full-batch steps.
    track_steps : int, default 5
        How many first steps to record the parameters after.
    grid : Tensor or None, default None
        1-d inputs to predict on after training; None predicts on ``data.x``.
    centre : list of Tensor or None, default None
        $\theta_0$, one tensor per parameter: decay towards it (L2-SP) instead of zero.
        The penalty becomes $\frac{\lambda}{2}\lVert\theta - \theta_0\rVert^2$, the prior
        $\mathcal{N}(\theta_0, \tau I)$, and the "sgd" form uses this package's SGD with
        the group's ``decay_centre`` (``torch.optim.SGD`` has none).

    Returns
    -------
    TrainingRun
        ``train_loss`` is the MSE before each step; ``params`` are the named
        parameters; ``predictions`` are on `grid`.

    Raises
    ------
    TypeError, ValueError
        On an unknown form, a non-positive rate or decay, or a bad count.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import Net, make_clusters
    >>> from weightdecay.experiments.bayes import train_form
    >>> data = make_clusters(seed=0)
    >>> settings = dict(lr=1e-2, weight_decay=1e-2, epochs=20)
    >>> run = train_form("sgd", Net(seed=1, dtype=torch.float64), data, **settings)
    >>> len(run.train_loss), len(run.steps), tuple(run.predictions.shape)
    (20, 5, (60, 1))

    The penalty in the loss takes the same steps as the optimizer's decay, to within
    rounding (the two round $g + \lambda\theta$ differently):

    >>> from weightdecay import relative_error
    >>> from weightdecay.report import TOLERANCES
    >>> twin = train_form("penalty", Net(seed=1, dtype=torch.float64), data, **settings)
    >>> bound = TOLERANCES["penalty_steps"][torch.float64]
    >>> max(relative_error(a, b) for a, b in zip(run.steps, twin.steps)) <= bound
    True
    """
    _check_form(form)
    eta = check_positive("lr", lr)
    lam = check_positive("weight_decay", weight_decay)
    n_epochs = check_count("epochs", epochs)
    n_track = check_count("track_steps", track_steps, minimum=0)
    # N: the loss below averages over every entry of y.
    n_terms = data.y.numel()
    optimizer: torch.optim.Optimizer
    if centre is None:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=eta, weight_decay=lam if form == "sgd" else 0.0
        )
    else:
        optimizer = SGD(
            [{"params": list(model.parameters()), "decay_centre": centre}],
            lr=eta,
            weight_decay=lam if form == "sgd" else 0.0,
        )
    losses: list[float] = []
    steps: list[Tensor] = []
    start = time.perf_counter()
    for _ in range(n_epochs):
        optimizer.zero_grad()
        # $$L(\theta) = \frac{1}{N}\sum_{i=1}^{N}(f_\theta(x_i) - y_i)^2$$
        data_loss = (model(data.features) - data.y).pow(2).mean()
        if form == "penalty":
            # $$L(\theta) + \frac{\lambda}{2}\lVert\theta\rVert^2$$
            loss = data_loss + l2_penalty(model.parameters(), lam, centre)
        elif form == "prior":
            # $$L(\theta) - \frac{1}{N}\log\mathcal{N}(\theta \mid 0, \tau I)$$
            # with $\tau = 1/(N\lambda)$
            loss = data_loss + scaled_negative_log_prior(model.parameters(), lam, n_terms, centre)
        else:
            # $$L(\theta)$$, with $\lambda\theta$ added to the gradient by SGD.
            loss = data_loss
        losses.append(data_loss.detach().item())
        loss.backward()
        optimizer.step()
        if len(steps) < n_track:
            steps.append(flatten(model.parameters()))
    elapsed = time.perf_counter() - start
    inputs = data.features if grid is None else featurize(grid)
    with torch.no_grad():
        predictions = model(inputs)
    return TrainingRun(
        name=form,
        train_loss=tuple(losses),
        valid_loss=(),
        steps=tuple(steps),
        params={name: p.detach().clone() for name, p in model.named_parameters()},
        predictions=predictions,
        elapsed=elapsed,
    )


@dataclass(frozen=True)
class BayesExperiment:
    r"""Result of `run_bayes_experiment`.

    Attributes
    ----------
    data : ClusterData
        The training set.
    dtype : torch.dtype
        The dtype of data and parameters.
    lr, weight_decay : float
        Learning rate and $\lambda$.
    epochs : int
        Full-batch steps per run.
    init : Tensor
        The shared initial parameters, flattened.
    grid : Tensor
        The inputs the predictions are made on.
    runs : dict of str to TrainingRun
        One run per form.

    Examples
    --------
    >>> from weightdecay import run_bayes_experiment
    >>> result = run_bayes_experiment(epochs=3, forms=("sgd", "prior"))
    >>> list(result.runs), result.init.shape
    (['sgd', 'prior'], torch.Size([261]))
    """

    data: ClusterData
    dtype: torch.dtype
    lr: float
    weight_decay: float
    epochs: int
    init: Tensor
    grid: Tensor
    runs: dict[str, TrainingRun]

    @property
    def n_terms(self) -> int:
        """$N$, the number of terms the MSE averages over (every entry of ``data.y``)."""
        return self.data.y.numel()

    @property
    def tau(self) -> float:
        r"""The matching prior variance $\tau = 1/(N\lambda)$."""
        return prior_variance(self.weight_decay, self.n_terms)

    def step_differences(self, form: str, reference: str = "sgd") -> list[float]:
        """Norm-wise relative difference of the tracked parameters, step by step.

        Parameters
        ----------
        form, reference : str
            Two of the forms; `reference` is the denominator.

        Returns
        -------
        list of float
            One value per tracked step.

        Examples
        --------
        >>> from weightdecay import run_bayes_experiment
        >>> result = run_bayes_experiment(epochs=5)
        >>> differences = result.step_differences("penalty")
        >>> len(differences), max(differences) < 1e-15  # float64: rounding at most
        (5, True)
        """
        a, b = self.runs[_check_form(form)], self.runs[_check_form(reference)]
        return [relative_error(x, y) for x, y in zip(a.steps, b.steps, strict=True)]

    def step_max_abs(self, form: str, reference: str = "sgd") -> list[float]:
        """Largest absolute parameter difference at each tracked step (0.0 means bitwise equal).

        Parameters
        ----------
        form, reference : str
            Two of the forms.

        Returns
        -------
        list of float

        Examples
        --------
        >>> from weightdecay import run_bayes_experiment
        >>> max(run_bayes_experiment(epochs=5).step_max_abs("prior")) < 1e-12
        True
        """
        a, b = self.runs[_check_form(form)], self.runs[_check_form(reference)]
        return [max_abs_diff(x, y) for x, y in zip(a.steps, b.steps, strict=True)]

    def final_difference(self, form: str, reference: str = "sgd") -> float:
        """Norm-wise relative difference of the final parameter vectors.

        Parameters
        ----------
        form, reference : str
            Two of the forms.

        Returns
        -------
        float

        Examples
        --------
        >>> from weightdecay import run_bayes_experiment
        >>> run_bayes_experiment(epochs=5).final_difference("penalty")
        0.0
        """
        a, b = self.runs[_check_form(form)], self.runs[_check_form(reference)]
        return relative_error(a.final_vector(), b.final_vector())


def run_bayes_experiment(
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    lr: float = 1e-2,
    weight_decay: float = 1e-2,
    epochs: int = 1000,
    track_steps: int = 5,
    grid_points: int = 100,
    forms: Sequence[str] = FORMS,
    log: Callable[[str], None] | None = None,
    centre: Tensor | None = None,
) -> BayesExperiment:
    r"""Run each form of decay from the same initialization on the three-cluster data.

    The defaults are the second source document's: learning rate and decay
    $10^{-2}$, 1000 full-batch epochs, predictions on 100 points of [-10, 10].

    Parameters
    ----------
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    seed : int, default 0
        Seeds the data and the shared initialization.
    lr : float, default 1e-2
        Learning rate (> 0).
    weight_decay : float, default 1e-2
        $\lambda > 0$, on all parameters.
    epochs : int, default 1000
        Full-batch steps per run.
    track_steps : int, default 5
        How many first steps to record the parameters after.
    grid_points : int, default 100
        Points of the prediction grid on [-10, 10].
    forms : sequence of str, default FORMS
        Which forms to run (a non-empty subset of ``FORMS``, no repeats).
    log : callable or None, default None
        Called with one progress line per finished run (``print`` shows it).
    centre : Tensor or None, default None
        A flat vector $\theta_0$ of all parameters (the layout of `BayesExperiment.init`):
        every form decays towards it instead of zero.

    Returns
    -------
    BayesExperiment

    Raises
    ------
    TypeError, ValueError
        On a bad dtype, seed, rate, count or form.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import run_bayes_experiment
    >>> result = run_bayes_experiment(epochs=10, dtype=torch.float32)
    >>> sorted(result.runs)
    ['penalty', 'prior', 'sgd']
    >>> round(result.tau, 6), result.n_terms
    (1.666667, 60)
    >>> result.step_differences("penalty")
    [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    check_dtype("dtype", dtype)
    root = check_count("seed", seed, minimum=0)
    lam = check_positive("weight_decay", weight_decay)
    points = check_count("grid_points", grid_points, minimum=2)
    chosen = list(forms)
    if not chosen:
        raise ValueError("forms must name at least one form, got an empty sequence")
    for form in chosen:
        _check_form(form)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"forms must not repeat a form, got {tuple(chosen)!r}")
    data = make_clusters(seed=root, dtype=dtype)
    template = Net(seed=derive_seed(root, "init"), dtype=dtype)
    grid = torch.linspace(-10.0, 10.0, points, dtype=torch.float64).to(dtype)
    runs: dict[str, TrainingRun] = {}
    for form in chosen:
        run = train_form(
            form,
            copy.deepcopy(template),
            data,
            lr=lr,
            weight_decay=lam,
            epochs=epochs,
            track_steps=track_steps,
            grid=grid,
            centre=None if centre is None else _split_like(centre, template),
        )
        runs[form] = run
        if log is not None:
            log(f"{FORM_LABELS[form]}: {epochs} epochs in {run.elapsed:.2f} s")
    return BayesExperiment(
        data=data,
        dtype=dtype,
        lr=float(lr),
        weight_decay=lam,
        epochs=int(epochs),
        init=flatten(template.parameters()),
        grid=grid,
        runs=runs,
    )
