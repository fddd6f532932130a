r"""Every bound a parity claim of the site is checked against, and where it comes from.

A bound is either exact (the two computations perform the same operations in the same
order), a multiple of the machine epsilon $\varepsilon$ derived from the operations the
two computations round differently, or computed at run time from the problem itself
(a condition number, a solver's stopping rule); the last kind is listed here with its
formula. Two rounding models are used, both from Higham's *Accuracy and Stability of
Numerical Algorithms* (2002, §3.1) and Higham and Mary (2019):

* one pass of $n$ rounded operations (a sum, an inner product): the worst case
  $n\varepsilon$;
* a training run of $S$ steps of $n$ rounded operations each: the errors of the steps
  are independent in sign, so they add like a random walk, $\sqrt{Sn}\,\varepsilon$
  (the probabilistic bound; the worst case $Sn\varepsilon$ is reached only when every
  rounding goes the same way, and is thousands of times the measured values).

This module imports NumPy only, so the documentation build can print the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EPS", "RUNTIME", "TOLERANCES", "Tolerance", "eps", "tolerance_rows"]

EPS: dict[str, float] = {name: float(np.finfo(name).eps) for name in ("float32", "float64")}
"""Machine epsilon $\\varepsilon$ by dtype name: the gap between 1 and the next float."""


def eps(dtype: object) -> float:
    """Machine epsilon of a dtype given by name or as a ``torch.dtype``.

    Parameters
    ----------
    dtype : str or torch.dtype
        ``"float32"``, ``"float64"``, ``torch.float32`` or ``torch.float64``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For any other dtype.

    Examples
    --------
    >>> from weightdecay.tolerances import eps
    >>> eps("float64") == 2.0**-52, eps(torch.float32) == 2.0**-23
    (True, True)
    """
    name = str(dtype).removeprefix("torch.")
    if name not in EPS:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return EPS[name]


@dataclass(frozen=True)
class Tolerance:
    r"""One bound: a multiple of $\varepsilon$ (or exactly 0), and its derivation.

    Attributes
    ----------
    claim : str
        What the bound applies to.
    units : float
        The bound in units of $\varepsilon$ (0 for exact claims).
    formula : str
        How `units` follows from the computation, in the table's notation.
    origin : str
        The derivation in words.

    Examples
    --------
    >>> from weightdecay.tolerances import TOLERANCES
    >>> TOLERANCES["penalty_steps"]["float64"] == 8 * 2.0**-52
    True
    >>> TOLERANCES["exact"]["float32"]
    0.0
    """

    claim: str
    units: float
    formula: str
    origin: str

    def __getitem__(self, dtype: object) -> float:
        """The bound in `dtype`: ``units * eps(dtype)``."""
        return self.units * eps(dtype)

    def bound(self, dtype: object) -> float:
        """The bound in `dtype` (the same as indexing by it)."""
        return self[dtype]


# The first source's run: 100 rows in batches of 33, so 4 steps an epoch for 16 epochs,
# and each entry of W is updated from a 33-row sum plus a 6-term product.
_LINEAR_STEPS, _LINEAR_TERMS, _LINEAR_TRACKED = 16 * 4, 33 + 6, 5
# The second source's run: 1000 full-batch steps on a network of 261 parameters.
_BAYES_EPOCHS, _NET_PARAMETERS = 1000, 261
# The classifiers: m = 60 rows, 27 features, K <= 3 classes, 300 steps of 10-row batches.
_ROWS, _FEATURES, _CLASSES, _CLASSIFIER_STEPS = 60, 27, 3, 300
_CLASSIFIER_PARAMETERS = (_FEATURES + 1) * _CLASSES
# Data parallelism: 20 steps of 32-row batches through a hidden layer of 16 units.
_PARALLEL_STEPS, _PARALLEL_TERMS = 20, 32 + 16

TOLERANCES: dict[str, Tolerance] = {
    "exact": Tolerance(
        "copied parameters, identical logs",
        0.0,
        "0",
        "the two computations perform the same operations in the same order",
    ),
    "linear_mape": Tolerance(
        "first source: MAPE (%) of predictions, weight and bias after training",
        100 * math.sqrt(_LINEAR_STEPS * _LINEAR_TERMS),
        r"$100\sqrt{Sn}$, $S = 64$ steps, $n = 33 + 6$",
        "random-walk rounding over the run, times 100 for a percentage (the sources "
        "print 4.7e-14, 1.1e-14 and 8.4e-15 for one unseeded run)",
    ),
    "linear_steps": Tolerance(
        "first source: parameters after each of the first 5 steps",
        math.sqrt(_LINEAR_TRACKED * _LINEAR_TERMS) / 2,
        r"$\sqrt{tn}/2$, $t = 5$ steps, $n = 33 + 6$",
        "random-walk rounding of the operations the hand-written and the autograd update "
        "may round differently, each rounding at most half an ε relative (these early steps "
        "move W by up to its own size, so no term is negligible)",
    ),
    "penalty_steps": Tolerance(
        "penalty in the loss against SGD(weight_decay), first 5 steps",
        8,
        "8",
        "the same update rounded in two ways (a CPU kernel may fuse g + λθ into one "
        "rounding): at most one rounding a step, 5 steps, rounded up",
    ),
    "prior_steps": Tolerance(
        "Gaussian prior against SGD(weight_decay), first 5 steps",
        8,
        "8",
        "as for the penalty; the prior's gradient θ/(Nτ) rounds about four times more "
        "than λθ, but that term enters the step scaled by ηλ = 1e-4",
    ),
    "final": Tolerance(
        "second source: any two forms' parameters after 1000 epochs",
        2 * math.sqrt(_BAYES_EPOCHS),
        r"$2\sqrt{S}$, $S = 1000$",
        "the forms differ by at most two roundings a step; over the run these add "
        "like a random walk",
    ),
    "classifier_steps": Tolerance(
        "classifiers: scratch against torch.nn after every step",
        math.sqrt(_CLASSIFIER_STEPS * (10 + _FEATURES)),
        r"$\sqrt{Sn}$, $S = 300$, $n = 10 + 27$",
        "random-walk rounding over 300 steps, each a 10-row sum and a 27-term product",
    ),
    "data_parallel": Tolerance(
        "data parallelism: a correct setup against one process on the full batch",
        math.sqrt(_PARALLEL_STEPS * _PARALLEL_TERMS),
        r"$\sqrt{Sn}$, $S = 20$, $n = 32 + 16$",
        "the ranks sum the batch's gradient in another order; random-walk rounding over "
        "20 steps of a 32-row sum and a 16-term product",
    ),
    "decay_form_steps": Tolerance(
        "penalty in the loss against SGD(weight_decay), with and without momentum",
        2 * math.sqrt(300),
        r"$2\sqrt{S}$, $S = 300$",
        "two roundings a step that the two forms make differently, 300 full-batch steps, "
        "adding like a random walk",
    ),
    "accumulation": Tolerance(
        "gradient accumulation, correctly scaled, against the full batch",
        math.sqrt(50 * (60 + 10)),
        r"$\sqrt{S(n + h)}$, $S = 50$, $n = 60$, $h = 10$",
        "50 steps of a 60-row sum and a product over 10 hidden units, summed in "
        "micro-batches instead of at once",
    ),
    "gradient_batch": Tolerance(
        "first source: dJ/dW and dJ/db by hand against autograd",
        33,
        "$n = 33$ rows",
        "one pass of sums over the 33 rows of a mini-batch, summed in another order",
    ),
    "gradient_classifier": Tolerance(
        "classifiers: the gradient by hand, and the posterior's, against autograd",
        _ROWS,
        "$m = 60$ rows",
        "one pass of sums over the 60 training rows, summed in another order",
    ),
    "hessian": Tolerance(
        "classifiers: the Hessian by hand against autograd",
        4 * _ROWS * _CLASSES,
        "$4mK$, $m = 60$, $K \\le 3$",
        "each entry sums over the rows products of about four rounded factors per class",
    ),
    "penalty_gradient": Tolerance(
        "the penalty's gradient by autograd against λθ",
        2,
        "2",
        "autograd forms λ/2 · 2θ, two roundings against one",
    ),
    "nll_mse": Tolerance(
        "the Gaussian NLL at σ² = 1/2 against MSE + log(π)/2",
        4,
        "4",
        "both sum the same squares; they differ by an exact division by 2σ² = 1 and "
        "the rounding of a constant and its addition",
    ),
    "prior_penalty": Tolerance(
        "-(1/N) log prior against the penalty plus its constant",
        _NET_PARAMETERS,
        "$P = 261$ parameters",
        "one pass over the parameters, summed in another order",
    ),
    "prior_gradient": Tolerance(
        "the prior's gradient against λθ",
        8,
        "8",
        "θ/τ/N against λθ with τ = 1/(Nλ): about four roundings, doubled",
    ),
    "posterior": Tolerance(
        "classifiers: -(1/m) log posterior against J plus its constant",
        _ROWS + _CLASSIFIER_PARAMETERS,
        "$m + P$, $m = 60$, $P \\le 84$",
        "one pass over the rows' log-likelihoods and the parameters' log-densities",
    ),
}
"""The tolerances of the site's parity claims, by name.

Index an entry by dtype (``TOLERANCES["final"]["float64"]``) for the bound itself.
The bounds computed at run time are described by `tolerance_rows` too.
"""

RUNTIME: dict[str, tuple[str, str]] = {
    "linear_solve": (
        r"$d\,\kappa(H)\,\varepsilon$",
        "a backward-stable solve of a d×d system H perturbs the solution by at most "
        "κ(H) times its backward error dε (ridge against scikit-learn, the posterior "
        "mean against ridge)",
    ),
    "early_stopping": (
        r"$\sqrt{t(n + d)} + d\min(t\eta' s_{\max}, \kappa(X_c^\top X_c))$",
        "t steps of gradient descent, each an n-row sum and a d-term product, add "
        "their roundings like a random walk; a rounding of an eigenvalue s_i moves the "
        "closed form's gain f_i/s_i by about tη' relative, and never more than κ",
    ),
    "stopping_rule": (
        r"$2\lVert\nabla J(\theta_{\mathrm{sk}})\rVert/\mu_{\min}$",
        "scikit-learn stops when its gradient is small; a strongly convex objective "
        "with smallest Hessian eigenvalue μ puts its point within ‖∇J‖/μ of the "
        "optimum, twice that for second-order terms and our own optimum's rounding; "
        "never above scikit-learn's tol 1e-14 over the smallest λ compared, 1e-4",
    ),
}
"""Bounds computed from each problem at run time: name, formula and derivation."""


def tolerance_rows() -> list[dict[str, str]]:
    """The table of tolerances: one row per bound, with both dtypes and the origin.

    Returns
    -------
    list of dict
        Keys ``name``, ``claim``, ``float64``, ``float32``, ``units of ε`` and
        ``origin``; the run-time bounds have their formula in ``units of ε``.

    Examples
    --------
    >>> from weightdecay.tolerances import tolerance_rows
    >>> rows = tolerance_rows()
    >>> rows[0]["name"], rows[0]["float64"]
    ('exact', '0')
    >>> [row["name"] for row in rows][-3:]
    ['linear_solve', 'early_stopping', 'stopping_rule']
    """
    rows = [
        {
            "name": name,
            "claim": tol.claim,
            "units of ε": tol.formula,
            "float64": "0" if tol.units == 0 else f"{tol['float64']:.1e}",
            "float32": "0" if tol.units == 0 else f"{tol['float32']:.1e}",
            "origin": tol.origin,
        }
        for name, tol in TOLERANCES.items()
    ]
    rows += [
        {
            "name": name,
            "claim": "computed for each problem",
            "units of ε": formula,
            "float64": "run time",
            "float32": "run time",
            "origin": origin,
        }
        for name, (formula, origin) in RUNTIME.items()
    ]
    return rows
