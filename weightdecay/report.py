"""Parity checks: each measured figure with its tolerance, ready to print and assert.

The pages of the site, the home page's headline table and the tests all take their
tolerances from `weightdecay.tolerances.TOLERANCES`, where each bound states its origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from weightdecay.claims import check
from weightdecay.experiments.bayes import BayesExperiment
from weightdecay.tolerances import TOLERANCES

__all__ = [
    "TIMING_PREFIX",
    "TOLERANCES",
    "ParityCheck",
    "assert_checks",
    "bayes_checks",
    "checks_table",
    "format_seconds",
    "format_value",
]


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
    """Raise if any check fails, naming every failing one; record each as a claim.

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
    rows = list(checks)
    failed = [c for c in rows if not c.holds]
    if failed:
        described = "; ".join(
            f"{c.experiment} / {c.quantity} / {c.dtype}: {format_value(c.value)} not {c.bound}"
            for c in failed
        )
        raise AssertionError(f"{len(failed)} parity check(s) failed: {described}")
    for c in rows:  # every check is also a claim of its page (see `weightdecay.claims`)
        claim = f"{c.experiment}: {c.quantity}"
        if c.exact:
            check(claim, c.value, equals=c.tolerance, dtype=c.dtype, origin=c.origin)
        else:
            check(claim, c.value, below=c.tolerance, dtype=c.dtype, origin=c.origin)
