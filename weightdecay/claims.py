r"""A page's claims checked in one line, and every bound they are checked against.

`check` asserts a measured value against one bound and returns a `Claim`, one line in a
notebook, also appended as JSON to the file ``WEIGHTDECAY_CLAIMS`` names (with the page
``WEIGHTDECAY_PAGE`` names) for the site's page of every claim. A bound of `TOLERANCES` is
exact or a multiple of the machine epsilon $\varepsilon$ (Higham 2002, §3.1; Higham and Mary
2019): $n\varepsilon$ for one pass of $n$ rounded operations; $\sqrt{Sn}\,\varepsilon$ for $S$
steps of $n$, their errors independent in sign and adding like a random walk (the worst case
$Sn\varepsilon$ is thousands of times the measured values). `RUNTIME` holds the bounds
computed from each problem. Standard library only: the site's build loads this file alone.
"""

from __future__ import annotations

import json
import math
import operator
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "CLAIMS_FILE", "EPS", "PAGE", "RUNTIME", "TOLERANCES",
    "Claim", "Tolerance", "check", "eps", "format_number", "tolerance_rows",
]  # fmt: skip

CLAIMS_FILE = "WEIGHTDECAY_CLAIMS"
"""The environment variable naming the file that claims are recorded in."""

PAGE = "WEIGHTDECAY_PAGE"
"""The environment variable naming the page a claim is made on."""

EPS: dict[str, float] = {"float32": 2.0**-23, "float64": 2.0**-52}
"""Machine epsilon $\\varepsilon$ by dtype name: the gap between 1 and the next float."""


def eps(dtype: object) -> float:
    """Machine epsilon of ``"float32"``, ``"float64"`` or the ``torch.dtype`` of either.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.claims import eps
    >>> eps("float64") == 2.0**-52, eps(torch.float32) == 2.0**-23
    (True, True)
    """
    name = str(dtype).removeprefix("torch.")
    if name not in EPS:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return EPS[name]


@dataclass(frozen=True)
class Tolerance:
    r"""One bound, ``units`` machine epsilons (0 for exact claims), and its derivation.

    Index it by dtype for the bound, $\text{units}\cdot\varepsilon$; `formula` says how `units`
    follows from the computation, in the table's notation, and `origin` derives it in words.

    Examples
    --------
    >>> from weightdecay.claims import TOLERANCES
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


# The runs: the first source, 100 rows in batches of 33 (4 steps an epoch, 16 epochs), each
# entry of W updated from a 33-row sum plus a 6-term product; the second, 1000 full-batch
# steps of a network of 261 parameters; the classifiers, m = 60 rows, 27 features, K <= 3
# classes, 300 steps of 10-row batches; data parallelism, 20 steps of 32-row batches through
# a hidden layer of 16 units.
_LINEAR_STEPS, _LINEAR_TERMS, _LINEAR_TRACKED = 16 * 4, 33 + 6, 5
_BAYES_EPOCHS, _NET_PARAMETERS, _PARALLEL_STEPS, _PARALLEL_TERMS = 1000, 261, 20, 32 + 16
_ROWS, _FEATURES, _CLASSES, _CLASSIFIER_STEPS = 60, 27, 3, 300

# fmt: off
TOLERANCES: dict[str, Tolerance] = {
    "exact": Tolerance("copied parameters, identical logs", 0.0, "0",
        "the two computations perform the same operations in the same order"),
    "linear_mape": Tolerance(
        "first source: MAPE (%) of predictions, weight and bias after training",
        100 * math.sqrt(_LINEAR_STEPS * _LINEAR_TERMS),
        r"$100\sqrt{Sn}$, $S = 64$ steps, $n = 33 + 6$",
        "random-walk rounding over the run, times 100 for a percentage (the sources "
        "print 4.7e-14, 1.1e-14 and 8.4e-15 for one unseeded run)"),
    "linear_steps": Tolerance("first source: parameters after each of the first 5 steps",
        math.sqrt(_LINEAR_TRACKED * _LINEAR_TERMS) / 2,
        r"$\sqrt{tn}/2$, $t = 5$ steps, $n = 33 + 6$",
        "random-walk rounding of the operations the hand-written and the autograd update "
        "may round differently, each rounding at most half an ε relative (these early steps "
        "move W by up to its own size, so no term is negligible)"),
    "penalty_steps": Tolerance(
        "penalty in the loss against SGD(weight_decay), first 5 steps", 8, "8",
        "the same update rounded in two ways (a CPU kernel may fuse g + λθ into one "
        "rounding): at most one rounding a step, 5 steps, rounded up"),
    "prior_steps": Tolerance("Gaussian prior against SGD(weight_decay), first 5 steps", 8, "8",
        "as for the penalty; the prior's gradient θ/(Nτ) rounds about four times more "
        "than λθ, but that term enters the step scaled by ηλ = 1e-4"),
    "final": Tolerance("second source: any two forms' parameters after 1000 epochs",
        2 * math.sqrt(_BAYES_EPOCHS), r"$2\sqrt{S}$, $S = 1000$",
        "the forms differ by at most two roundings a step; over the run these add "
        "like a random walk"),
    "classifier_steps": Tolerance("classifiers: scratch against torch.nn after every step",
        math.sqrt(_CLASSIFIER_STEPS * (10 + _FEATURES)), r"$\sqrt{Sn}$, $S = 300$, $n = 10 + 27$",
        "random-walk rounding over 300 steps, each a 10-row sum and a 27-term product"),
    "data_parallel": Tolerance(
        "data parallelism: a correct setup against one process on the full batch",
        math.sqrt(_PARALLEL_STEPS * _PARALLEL_TERMS), r"$\sqrt{Sn}$, $S = 20$, $n = 32 + 16$",
        "the ranks sum the batch's gradient in another order; random-walk rounding over "
        "20 steps of a 32-row sum and a 16-term product"),
    "decay_form_steps": Tolerance(
        "penalty in the loss against SGD(weight_decay), with and without momentum",
        2 * math.sqrt(300), r"$2\sqrt{S}$, $S = 300$",
        "two roundings a step that the two forms make differently, 300 full-batch steps, "
        "adding like a random walk"),
    "accumulation": Tolerance("gradient accumulation, correctly scaled, against the full batch",
        math.sqrt(50 * (60 + 10)), r"$\sqrt{S(n + h)}$, $S = 50$, $n = 60$, $h = 10$",
        "50 steps of a 60-row sum and a product over 10 hidden units, summed in "
        "micro-batches instead of at once"),
    "gradient_batch": Tolerance("first source: dJ/dW and dJ/db by hand against autograd",
        33, "$n = 33$ rows",
        "one pass of sums over the 33 rows of a mini-batch, summed in another order"),
    "gradient_classifier": Tolerance(
        "classifiers: the gradient by hand, and the posterior's, against autograd",
        _ROWS, "$m = 60$ rows",
        "one pass of sums over the 60 training rows, summed in another order"),
    "hessian": Tolerance("classifiers: the Hessian by hand against autograd",
        4 * _ROWS * _CLASSES, "$4mK$, $m = 60$, $K \\le 3$",
        "each entry sums over the rows products of about four rounded factors per class"),
    "penalty_gradient": Tolerance("the penalty's gradient by autograd against λθ", 2, "2",
        "autograd forms λ/2 · 2θ, two roundings against one"),
    "nll_mse": Tolerance("the Gaussian NLL at σ² = 1/2 against MSE + log(π)/2", 4, "4",
        "both sum the same squares; they differ by an exact division by 2σ² = 1 and "
        "the rounding of a constant and its addition"),
    "prior_penalty": Tolerance("-(1/N) log prior against the penalty plus its constant",
        _NET_PARAMETERS, "$D = 261$ parameters",
        "one pass over the parameters, summed in another order"),
    "prior_gradient": Tolerance("the prior's gradient against λθ", 8, "8",
        "θ/τ/N against λθ with τ = 1/(Nλ): about four roundings, doubled"),
    "posterior": Tolerance("classifiers: -(1/m) log posterior against J plus its constant",
        _ROWS + (_FEATURES + 1) * _CLASSES, "$m + D$, $m = 60$, $D \\le 84$",
        "one pass over the rows' log-likelihoods and the parameters' log-densities"),
}
"""The tolerances of the site's parity claims, by name: ``TOLERANCES["final"]["float64"]``."""

RUNTIME: dict[str, tuple[str, str]] = {
    "linear_solve": (r"$d\,\kappa(H)\,\varepsilon$",
        "a backward-stable solve of a d×d system H perturbs the solution by at most κ(H) "
        "times its backward error dε (ridge against scikit-learn, the posterior mean against "
        "ridge)"),
    "early_stopping": (r"$\sqrt{t(n + d)} + d\min(t\eta' s_{\max}, \kappa(X_c^\top X_c))$",
        "t steps of gradient descent, each an n-row sum and a d-term product, add "
        "their roundings like a random walk; a rounding of an eigenvalue s_i moves the "
        "closed form's gain f_i/s_i by about tη' relative, and never more than κ"),
    "stopping_rule": (r"$2\lVert\nabla J(\theta_{\mathrm{sk}})\rVert/h_{\min}$",
        "scikit-learn stops when its gradient is small; a strongly convex objective "
        "with smallest Hessian eigenvalue h_min puts its point within ‖∇J‖/h_min of the "
        "optimum, twice that for second-order terms and our own optimum's rounding; "
        "never above scikit-learn's tol 1e-14 over the smallest λ compared, 1e-4"),
}
"""Bounds computed from each problem at run time: name, formula and derivation."""
# fmt: on


def tolerance_rows() -> list[dict[str, str]]:
    """The table of tolerances: one row per bound, both dtypes, formula and origin.

    Examples
    --------
    >>> from weightdecay.claims import tolerance_rows
    >>> rows = tolerance_rows()
    >>> list(rows[0]), rows[0]["name"], rows[0]["float64"]
    (['name', 'claim', 'units of ε', 'float64', 'float32', 'origin'], 'exact', '0')
    >>> [row["name"] for row in rows][-3:]
    ['linear_solve', 'early_stopping', 'stopping_rule']
    """
    rows = [
        {"name": name, "claim": tol.claim, "units of ε": tol.formula}
        | {d: "0" if tol.units == 0 else f"{tol[d]:.1e}" for d in ("float64", "float32")}
        | {"origin": tol.origin}
        for name, tol in TOLERANCES.items()
    ]
    return rows + [
        {"name": name, "claim": "computed for each problem", "units of ε": formula}
        | {"float64": "run time", "float32": "run time", "origin": origin}
        for name, (formula, origin) in RUNTIME.items()
    ]


_RELATIONS = {"below": "<", "at_most": "≤", "equals": "=", "above": ">", "at_least": "≥"}
_HOLDS = {"<": operator.lt, "≤": operator.le, "=": operator.eq, ">": operator.gt, "≥": operator.ge}


def format_number(value: float) -> str:
    """A measured value or a bound as the claims show it: three significant digits.

    Examples
    --------
    >>> from weightdecay.claims import format_number
    >>> [format_number(v) for v in (0.0, 261.0, 0.123456, 3.2e-16)]
    ['0', '261', '0.123', '3.20e-16']
    """
    if value == 0 or (abs(value) >= 1e-3 and abs(value) < 1e5 and float(value).is_integer()):
        return f"{value:g}"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.2e}"


@dataclass(frozen=True)
class Claim:
    """One checked claim: what, measured how much, against which bound, from where.

    `relation` is one of ``<``, ``≤``, ``=``, ``>``, ``≥``; `origin` names an entry of
    `TOLERANCES` or, in the page's words, where the bound comes from; `dtype`, `page` may be "".

    Examples
    --------
    >>> from weightdecay.claims import Claim
    >>> print(Claim("demo", 2e-16, "<", 1e-12, "float64", "final", "index.py"))
    ✓ demo (float64): 2.00e-16 < 1.00e-12 [final]
    """

    claim: str
    measured: float
    relation: str
    bound: float
    dtype: str = ""
    origin: str = ""
    page: str = ""

    def __str__(self) -> str:
        """One line: mark, claim, dtype, measured, relation, bound and origin."""
        dtype = f" ({self.dtype})" if self.dtype else ""
        origin = f" [{self.origin}]" if self.origin else ""
        measured, bound = format_number(self.measured), format_number(self.bound)
        return f"✓ {self.claim}{dtype}: {measured} {self.relation} {bound}{origin}"

    def _repr_markdown_(self) -> str:
        return str(self).replace("✓", "✔", 1)


def check(
    claim: str,
    measured: float,
    *,
    below: float | Tolerance | None = None,
    at_most: float | Tolerance | None = None,
    equals: float | None = None,
    above: float | None = None,
    at_least: float | None = None,
    dtype: object = None,
    origin: str = "",
) -> Claim:
    r"""Assert that `measured` meets one bound, and record and return the claim.

    Exactly one of `below` (<), `at_most` (≤), `equals` (=), `above` (>) or `at_least` (≥),
    the relation of `measured` to the bound, is given: a number, with `origin` saying where it
    comes from, or a `Tolerance`, standing for its value in `dtype` (the dtype measured in,
    ``"float64"`` or a ``torch.dtype``) and naming the origin. A claim that fails raises an
    ``AssertionError`` naming it, the measured value (a number, 0-d tensor or bool) and the bound.

    Examples
    --------
    >>> from weightdecay.claims import TOLERANCES, check
    >>> print(check("prior vs penalty", 0.0, below=TOLERANCES["final"], dtype="float64"))
    ✓ prior vs penalty (float64): 0 < 1.40e-14 [final]
    >>> print(check("faulty setup misses", 0.607, above=1e-2, origin="a real difference"))
    ✓ faulty setup misses: 0.607 > 0.01 [a real difference]
    >>> check("rounding only", 3e-9, below=1e-12)
    Traceback (most recent call last):
    ...
    AssertionError: rounding only: measured 3.00e-09, claimed < 1.00e-12
    """
    bounds = (below, at_most, equals, above, at_least)
    given = {kind: b for kind, b in zip(_RELATIONS, bounds, strict=True) if b is not None}
    if len(given) != 1:
        raise ValueError(f"give exactly one bound for {claim!r}, got {sorted(given) or 'none'}")
    ((kind, bound),) = given.items()
    if isinstance(bound, Tolerance):
        if dtype is None:
            raise ValueError(f"a Tolerance bound needs a dtype for {claim!r}, got dtype=None")
        if not origin:
            names = [name for name, tolerance in TOLERANCES.items() if tolerance is bound]
            if not names:
                raise ValueError(
                    f"the Tolerance bound of {claim!r} is not one of TOLERANCES; "
                    "pass origin= to say where it comes from"
                )
            origin = names[0]
        bound = bound[dtype]
    value, limit = float(measured), float(bound)
    if not (math.isfinite(value) and math.isfinite(limit)):
        raise ValueError(f"{claim!r}: measured {value!r} and bound {limit!r} must be finite")
    relation = _RELATIONS[kind]
    if not _HOLDS[relation](value, limit):
        raise AssertionError(
            f"{claim}: measured {format_number(value)}, claimed {relation} {format_number(limit)}"
        )
    name = "" if dtype is None else str(dtype).removeprefix("torch.")
    result = Claim(claim, value, relation, limit, name, origin, os.environ.get(PAGE, ""))
    target = os.environ.get(CLAIMS_FILE)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    return result
