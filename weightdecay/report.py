"""Parity checks: each measured figure with its tolerance, ready to print and assert.

The pages of the site, the home page's headline table and the tests all take their
tolerances from `weightdecay.tolerances.TOLERANCES`, where each bound states its origin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from weightdecay.experiments.accumulation import AccumulationResult
from weightdecay.experiments.adaptive import AdaptiveComparison
from weightdecay.experiments.bayes import BayesExperiment
from weightdecay.experiments.classification import Identities, SklearnParity, Trajectory
from weightdecay.experiments.linear import LinearExperiment
from weightdecay.experiments.momentum import MomentumComparison
from weightdecay.metrics import relative_error
from weightdecay.tolerances import TOLERANCES, eps

__all__ = [
    "SKLEARN_LAMBDA_MIN",
    "SKLEARN_TOL",
    "TIMING_PREFIX",
    "TOLERANCES",
    "ParityCheck",
    "assert_checks",
    "bayes_checks",
    "checks_table",
    "classification_checks",
    "decay_form_checks",
    "format_seconds",
    "format_value",
    "linear_checks",
]

SKLEARN_TOL, SKLEARN_LAMBDA_MIN = 1e-14, 1e-4
"""scikit-learn's stopping tolerance in the classifier comparisons, and their smallest λ."""


@dataclass(frozen=True)
class ParityCheck:
    """One measured parity figure and the bound it must meet.

    Attributes
    ----------
    experiment : str
        Which experiment it comes from.
    quantity : str
        What is compared, and by which measure.
    dtype : str
        "float32" or "float64".
    value : float
        The measured figure.
    tolerance : float
        The bound; with `exact` the value must equal it, otherwise be below it.
    exact : bool, default False
        True for claims of exact equality (bitwise, or a MAPE of exactly 0.0).
    origin : str, default ""
        The name of the bound in `weightdecay.tolerances` (its derivation).

    Examples
    --------
    >>> from weightdecay.report import ParityCheck
    >>> ParityCheck("demo", "relative error", "float64", 3e-16, 1e-12).holds
    True
    >>> ParityCheck("demo", "max |difference|", "float64", 1e-17, 0.0, exact=True).holds
    False
    """

    experiment: str
    quantity: str
    dtype: str
    value: float
    tolerance: float
    exact: bool = False
    origin: str = ""

    @property
    def holds(self) -> bool:
        """Whether the measured value meets the bound."""
        return self.value == self.tolerance if self.exact else self.value < self.tolerance

    @property
    def bound(self) -> str:
        """The bound as printed: ``= 0`` or ``< 1e-12``."""
        return f"= {format_value(self.tolerance)}" if self.exact else f"< {self.tolerance:.1e}"


def format_value(value: float) -> str:
    """Print a parity figure: ``0`` when exactly zero, else three significant digits.

    Parameters
    ----------
    value : float
        The figure.

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.report import format_value
    >>> format_value(0.0), format_value(6.347e-14)
    ('0', '6.35e-14')
    """
    return "0" if value == 0 else f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


TIMING_PREFIX = "In this build,"
"""Opening words of a sentence whose content depends on wall-clock timings.

Reproducibility checks mask such sentences, and every `format_seconds` output, when
they compare two executions of a page.
"""


def format_seconds(seconds: float) -> str:
    """Print a wall-clock time as ``1.234 s`` (the form that reproducibility checks mask).

    Parameters
    ----------
    seconds : float
        A duration.

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.report import format_seconds
    >>> format_seconds(0.5)
    '0.500 s'
    """
    return f"{seconds:.3f} s"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def linear_checks(result: LinearExperiment) -> list[ParityCheck]:
    """The first source's parity claims, measured on one `run_linear_experiment` result.

    Parameters
    ----------
    result : LinearExperiment

    Returns
    -------
    list of ParityCheck
        MAPE after copying parameters (exactly 0), final MAPE of predictions,
        weight and bias, and (float64 only) the number of differing log lines (0).

    Examples
    --------
    >>> from weightdecay import run_linear_experiment
    >>> from weightdecay.report import linear_checks
    >>> checks = linear_checks(run_linear_experiment(epochs=2))
    >>> len(checks), all(check.holds for check in checks)
    (7, True)
    """
    dtype, name = result.dtype, "from scratch vs torch.nn"
    parity = result.parity()

    def check(quantity: str, value: float, tolerance: str) -> ParityCheck:
        exact = tolerance == "exact"
        return ParityCheck(name, quantity, _name(dtype), value, TOLERANCES[tolerance][dtype],
                           exact=exact, origin=tolerance)  # fmt: skip

    checks = [
        check("MAPE of predictions after copy_params (%)", result.mape_after_copy, "exact"),
        check("MAPE of validation loss after copy_params (%)", result.mape_loss_after_copy,
              "exact"),
        check("MAPE of validation predictions after training (%)",
              parity["mape_predictions"], "linear_mape"),
        check("MAPE of the weight after training (%)", parity["mape_weight"], "linear_mape"),
        check("MAPE of the bias after training (%)", parity["mape_bias"], "linear_mape"),
    ]  # fmt: skip
    if dtype == torch.float64:
        scratch, torch_log = result.scratch.log_lines(), result.reference.log_lines()
        differing = sum(a != b for a, b in zip(scratch, torch_log, strict=True))
        checks.append(
            check(f"epoch-log lines that differ (of {len(scratch)}, 4 decimals)", differing,
                  "exact")
        )  # fmt: skip
    checks.append(
        check("tracked first steps, largest relative error", max(_step_errors(result)),
              "linear_steps")
    )  # fmt: skip
    return checks


def _step_errors(result: LinearExperiment) -> list[float]:
    pairs = zip(result.scratch.steps, result.reference.steps, strict=True)
    return [relative_error(a, b) for a, b in pairs]


def bayes_checks(result: BayesExperiment) -> list[ParityCheck]:
    """The second source's parity claims, measured on one `run_bayes_experiment` result.

    Parameters
    ----------
    result : BayesExperiment
        A result holding all three forms.

    Returns
    -------
    list of ParityCheck
        Penalty-in-loss against ``SGD(weight_decay)`` over the tracked steps within
        ``TOLERANCES["penalty_steps"]``; the prior form against it within
        ``TOLERANCES["prior_steps"]``;
        every pair of final parameter vectors within ``TOLERANCES["final"]``.

    Raises
    ------
    ValueError
        If `result` lacks one of the three forms.

    Examples
    --------
    >>> from weightdecay import run_bayes_experiment
    >>> from weightdecay.report import bayes_checks
    >>> checks = bayes_checks(run_bayes_experiment(epochs=20))
    >>> len(checks), all(check.holds for check in checks)
    (5, True)
    """
    missing = {"penalty", "sgd", "prior"} - set(result.runs)
    if missing:
        raise ValueError(f"result must hold all three forms; missing {sorted(missing)}")
    dtype, name = result.dtype, "penalty / SGD / prior"
    steps = len(result.runs["sgd"].steps)

    def check(quantity: str, value: float, tolerance: str) -> ParityCheck:
        return ParityCheck(name, quantity, _name(dtype), value, TOLERANCES[tolerance][dtype],
                           origin=tolerance)  # fmt: skip

    epochs = result.epochs
    return [
        check(f"penalty vs SGD(weight_decay): relative error, first {steps} steps",
              max(result.step_differences("penalty")), "penalty_steps"),
        check(f"prior vs SGD(weight_decay): relative error, first {steps} steps",
              max(result.step_differences("prior")), "prior_steps"),
        check(f"penalty vs SGD(weight_decay): final parameters, {epochs} epochs",
              result.final_difference("penalty"), "final"),
        check(f"prior vs SGD(weight_decay): final parameters, {epochs} epochs",
              result.final_difference("prior"), "final"),
        check(f"prior vs penalty: final parameters, {epochs} epochs",
              result.final_difference("prior", "penalty"), "final"),
    ]  # fmt: skip


def decay_form_checks(
    momentum: list[MomentumComparison],
    accumulation: AccumulationResult,
    adaptive: AdaptiveComparison,
    *,
    momentum_steps: int = 300,
) -> list[ParityCheck]:
    """The parity claims of the page on L2 penalties against weight decay (float64).

    Parameters
    ----------
    momentum : list of MomentumComparison
        From `weightdecay.experiments.momentum.compare_momentum_decay`.
    accumulation : AccumulationResult
        From `weightdecay.experiments.accumulation.accumulation_experiment`.
    adaptive : AdaptiveComparison
        From `weightdecay.experiments.adaptive.compare_adam_decay`.
    momentum_steps : int, default 300
        The full-batch steps of the momentum comparisons (their bound grows as its root).

    Returns
    -------
    list of ParityCheck
        Penalty against coupled SGD decay under each momentum setting; SGDW against
        coupled decay without momentum; the correctly scaled accumulations against
        their full batches; Adam with L2 against the ridge solution.

    Examples
    --------
    >>> from weightdecay.experiments.accumulation import accumulation_experiment
    >>> from weightdecay.experiments.adaptive import compare_adam_decay
    >>> from weightdecay.experiments.momentum import compare_momentum_decay
    >>> from weightdecay.report import decay_form_checks
    >>> checks = decay_form_checks(compare_momentum_decay(epochs=10),
    ...                            accumulation_experiment(steps=3), compare_adam_decay(),
    ...                            momentum_steps=10)
    >>> len(checks), all(c.holds for c in checks)
    (10, True)
    """
    name, f64, unit = "L2 vs weight decay", "float64", eps("float64")
    # $$2\sqrt{S}\,\varepsilon$$: two roundings a step, S full-batch steps, a random walk.
    penalty_bound = 2 * math.sqrt(momentum_steps) * unit
    # $$\sqrt{S(n + h)}\,\varepsilon$$: S steps of an n-row sum and an h-term product.
    acc_bound = math.sqrt(accumulation.steps * (accumulation.rows + accumulation.hidden)) * unit
    # $$d\,\kappa(A)\,\varepsilon$$ for the ridge system Adam + L2 converges to.
    ridge_bound = adaptive.ridge.numel() * adaptive.condition * unit
    checks = [
        ParityCheck(name, f"SGD, {row.setting}: penalty in loss vs weight_decay", f64,
                    row.penalty_vs_coupled, penalty_bound, origin="decay_form_steps")
        for row in momentum
    ]  # fmt: skip
    checks += [
        ParityCheck(name, f"SGD, {momentum[0].setting}: SGDW vs weight_decay", f64,
                    momentum[0].decoupled_vs_coupled, 0.0, exact=True, origin="exact"),
        ParityCheck(name, "accumulation, penalty / A vs full batch", f64,
                    accumulation.penalty_scaled, acc_bound, origin="accumulation"),
        ParityCheck(name, "accumulation, whole penalty vs full batch with A lambda", f64,
                    accumulation.penalty_unscaled_vs_k_lambda, acc_bound, origin="accumulation"),
        ParityCheck(name, "accumulation, SGD weight_decay vs full batch", f64,
                    accumulation.optimizer_decay, acc_bound, origin="accumulation"),
        ParityCheck(name, "accumulation, AdamW vs full batch", f64,
                    accumulation.decoupled_decay, acc_bound, origin="accumulation"),
        ParityCheck(name, "Adam + L2 vs ridge closed form (relative distance)", f64,
                    float(adaptive.distance_to_ridge("L2")[-1]), ridge_bound,
                    origin="linear_solve"),
    ]  # fmt: skip
    return checks


def classification_checks(
    trajectories: Iterable[Trajectory],
    parities: Iterable[SklearnParity],
    derived: Iterable[Identities],
) -> list[ParityCheck]:
    """The parity claims of the page on classifiers (float64).

    Parameters
    ----------
    trajectories : iterable of Trajectory
        From `weightdecay.experiments.classification.trajectory_parity`.
    parities : iterable of SklearnParity
        From `weightdecay.experiments.classification.sklearn_parity`.
    derived : iterable of Identities
        From `weightdecay.experiments.classification.identities`.

    Returns
    -------
    list of ParityCheck

    Examples
    --------
    >>> from weightdecay.experiments import classification as c
    >>> from weightdecay.planar import make_task
    >>> from weightdecay.report import classification_checks
    >>> task = make_task("moons", degree=3)
    >>> checks = classification_checks([c.trajectory_parity(task, epochs=2)],
    ...                                [c.sklearn_parity(task, 0.01)], [c.identities(task)])
    >>> len(checks), all(check.holds for check in checks)
    (8, True)
    """
    name, f64 = "classifiers", "float64"

    def check(quantity: str, value: float, tolerance: str) -> ParityCheck:
        return ParityCheck(name, quantity, f64, value, TOLERANCES[tolerance][f64],
                           origin=tolerance)  # fmt: skip

    checks = []
    for row in derived:
        kind = f"{row.task}, K={row.n_classes}"
        checks += [
            check(f"{kind}: gradient by hand vs autograd", row.gradient, "gradient_classifier"),
            check(f"{kind}: Hessian by hand vs autograd", row.hessian, "hessian"),
            check(f"{kind}: -(1/m) log posterior vs J + constant", row.posterior, "posterior"),
            check(f"{kind}: posterior gradient vs gradient of J", row.posterior_gradient,
                  "gradient_classifier"),
        ]  # fmt: skip
        if row.two_class_softmax is not None and row.two_class_bound is not None:
            checks.append(
                ParityCheck(name, f"{kind}: two-logit softmax at lambda vs logistic at lambda/2",
                            f64, row.two_class_softmax, row.two_class_bound,
                            origin="linear_solve")
            )  # fmt: skip
    checks += [
        check(f"{run.task}, K={run.n_classes}: scratch vs torch.nn, every step "
              f"({len(run.step_errors)})", max(run.step_errors), "classifier_steps")
        for run in trajectories
    ]  # fmt: skip
    for fit in parities:
        kind = f"{fit.task}, lambda={fit.lambd:g}"
        # $$\lVert\theta_{\mathrm{sk}} - \theta^\ast\rVert \le 2\lVert\nabla J\rVert/\mu$$,
        # as a fraction of each block's norm, never above scikit-learn's tol / lambda_min.
        cap = SKLEARN_TOL / SKLEARN_LAMBDA_MIN
        bound_w = min(2 * fit.bound / fit.fit.w.norm().item(), cap)
        b = fit.fit.b - fit.fit.b.mean() if fit.fit.b.numel() > 1 else fit.fit.b
        bound_b = min(2 * fit.bound / b.norm().item(), cap)
        checks += [
            ParityCheck(name, f"{kind}: W vs scikit-learn LogisticRegression", f64,
                        fit.error_w, bound_w, origin="stopping_rule"),
            ParityCheck(name, f"{kind}: b vs scikit-learn LogisticRegression", f64,
                        fit.error_b, bound_b, origin="stopping_rule"),
        ]  # fmt: skip
    return checks


def checks_table(checks: Iterable[ParityCheck]) -> str:
    """A Markdown table of checks: experiment, quantity, dtype, measured, bound, origin.

    The experiment column is left out when every check comes from the same one; the
    origin names the bound's entry in `weightdecay.tolerances`.

    Parameters
    ----------
    checks : iterable of ParityCheck

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.report import ParityCheck, checks_table
    >>> rows = [ParityCheck("demo", "relative error", "float64", 2e-16, 1e-12, origin="final"),
    ...         ParityCheck("other", "MAPE (%)", "float32", 0.0, 0.0, exact=True)]
    >>> print(checks_table(rows))
    | experiment | quantity | dtype | measured | bound | origin | holds |
    | --- | --- | --- | --- | --- | --- | --- |
    | demo | relative error | float64 | 2.00e-16 | < 1.0e-12 | final | yes |
    | other | MAPE (%) | float32 | 0 | = 0 |  | yes |
    >>> print(checks_table(rows[:1]))
    | quantity | dtype | measured | bound | origin | holds |
    | --- | --- | --- | --- | --- | --- |
    | relative error | float64 | 2.00e-16 | < 1.0e-12 | final | yes |
    """
    rows = list(checks)
    with_experiment = len({c.experiment for c in rows}) > 1
    header = ["quantity", "dtype", "measured", "bound", "origin", "holds"]
    if with_experiment:
        header.insert(0, "experiment")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for c in rows:
        cells = [c.quantity, c.dtype, format_value(c.value), c.bound, c.origin]
        cells.append("yes" if c.holds else "**NO**")
        if with_experiment:
            cells.insert(0, c.experiment)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def assert_checks(checks: Iterable[ParityCheck]) -> None:
    """Raise if any check fails, naming every failing one.

    Parameters
    ----------
    checks : iterable of ParityCheck

    Raises
    ------
    AssertionError
        Listing each failing check with its value and bound.

    Examples
    --------
    >>> from weightdecay.report import ParityCheck, assert_checks
    >>> assert_checks([ParityCheck("demo", "relative error", "float64", 2e-16, 1e-12)])
    >>> assert_checks([ParityCheck("demo", "error", "float64", 2e-6, 1e-12)])
    Traceback (most recent call last):
    ...
    AssertionError: 1 parity check(s) failed: demo / error / float64: 2.00e-06 not < 1.0e-12
    """
    failed = [c for c in checks if not c.holds]
    if failed:
        described = "; ".join(
            f"{c.experiment} / {c.quantity} / {c.dtype}: {format_value(c.value)} not {c.bound}"
            for c in failed
        )
        raise AssertionError(f"{len(failed)} parity check(s) failed: {described}")
