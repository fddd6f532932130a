r"""A claim of a page, checked in one line: assert it, show it, and record it.

``check("penalty vs SGD(weight_decay)", difference, below=TOLERANCES["final"],
dtype=torch.float64)`` raises an ``AssertionError`` when the measured value does not
meet its bound, and otherwise returns a `Claim` that a notebook shows as one line
(claim, measured, bound, origin). When the environment variable
``WEIGHTDECAY_CLAIMS`` names a file, every claim is also appended to it as a line of
JSON, with the page named by ``WEIGHTDECAY_PAGE``: the site's build collects them into
its page of every claim.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from weightdecay.tolerances import TOLERANCES, Tolerance

__all__ = ["CLAIMS_FILE", "PAGE", "Claim", "check"]

CLAIMS_FILE = "WEIGHTDECAY_CLAIMS"
"""The environment variable naming the file that claims are recorded in."""

PAGE = "WEIGHTDECAY_PAGE"
"""The environment variable naming the page a claim is made on."""

_RELATIONS = {"below": "<", "at_most": "≤", "equals": "=", "above": ">", "at_least": "≥"}


@dataclass(frozen=True)
class Claim:
    """One checked claim: what, measured how much, against which bound, from where.

    Attributes
    ----------
    claim : str
        The statement, as the page words it.
    measured : float
    relation : str
        One of ``<``, ``≤``, ``=``, ``>``, ``≥``.
    bound : float
    dtype : str
        ``"float64"``, ``"float32"`` or ``""`` when no dtype applies.
    origin : str
        The name of the bound in `weightdecay.tolerances.TOLERANCES`, or the page's own
        words for where the bound comes from.
    page : str
        The page that makes the claim (``""`` outside the site's build).

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
        return (
            f"✓ {self.claim}{dtype}: {_number(self.measured)} {self.relation} "
            f"{_number(self.bound)}{origin}"
        )

    def _repr_markdown_(self) -> str:
        return str(self).replace("✓", "✔", 1)


def _number(value: float) -> str:
    if value == 0 or (abs(value) >= 1e-3 and abs(value) < 1e5 and float(value).is_integer()):
        return f"{value:g}"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.2e}"


def _name(dtype: object) -> str:
    return "" if dtype is None else str(dtype).removeprefix("torch.")


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

    Exactly one of `below` ($m < b$), `at_most` ($m \le b$), `equals` ($m = b$),
    `above` ($m > b$) or `at_least` ($m \ge b$) is given. A `Tolerance` as the bound
    stands for its value in `dtype`, and names the origin.

    Parameters
    ----------
    claim : str
        The statement, as the page words it.
    measured : float
        The measured value (a number, a 0-d tensor or a bool).
    below, at_most, equals, above, at_least : float or Tolerance, optional
        The bound.
    dtype : str or torch.dtype, optional
        The dtype the value was measured in; needed when the bound is a `Tolerance`.
    origin : str, optional
        Where a numeric bound comes from, when it is not a `Tolerance`.

    Returns
    -------
    Claim

    Raises
    ------
    AssertionError
        When the claim does not hold, naming the claim, the value and the bound.
    ValueError
        When not exactly one bound is given, or a value is not finite.

    Examples
    --------
    >>> from weightdecay.claims import check
    >>> from weightdecay.tolerances import TOLERANCES
    >>> print(check("prior vs penalty", 0.0, below=TOLERANCES["final"], dtype="float64"))
    ✓ prior vs penalty (float64): 0 < 1.40e-14 [final]
    >>> print(check("faulty setup misses", 0.607, above=1e-2, origin="a real difference"))
    ✓ faulty setup misses: 0.607 > 0.01 [a real difference]
    >>> check("rounding only", 3e-9, below=1e-12)
    Traceback (most recent call last):
    ...
    AssertionError: rounding only: measured 3.00e-09, claimed < 1.00e-12
    """
    given = {
        name: value
        for name, value in (
            ("below", below),
            ("at_most", at_most),
            ("equals", equals),
            ("above", above),
            ("at_least", at_least),
        )
        if value is not None
    }
    if len(given) != 1:
        raise ValueError(f"give exactly one bound for {claim!r}, got {sorted(given) or 'none'}")
    ((kind, bound),) = given.items()
    if isinstance(bound, Tolerance):
        if dtype is None:
            raise ValueError(f"a Tolerance bound needs a dtype for {claim!r}, got dtype=None")
        origin = origin or next(k for k, v in TOLERANCES.items() if v is bound)
        bound = bound[dtype]
    value, limit = float(measured), float(bound)
    if not (math.isfinite(value) and math.isfinite(limit)):
        raise ValueError(f"{claim!r}: measured {value!r} and bound {limit!r} must be finite")
    holds = {
        "below": value < limit,
        "at_most": value <= limit,
        "equals": value == limit,
        "above": value > limit,
        "at_least": value >= limit,
    }[kind]
    relation = _RELATIONS[kind]
    if not holds:
        raise AssertionError(
            f"{claim}: measured {_number(value)}, claimed {relation} {_number(limit)}"
        )
    result = Claim(claim, value, relation, limit, _name(dtype), origin, os.environ.get(PAGE, ""))
    target = os.environ.get(CLAIMS_FILE)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    return result
