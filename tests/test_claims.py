"""The one-line check of a claim, its record, and the page of every claim built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hooks import site
from weightdecay.claims import CLAIMS_FILE, PAGE, TOLERANCES, Claim, Tolerance, check


def test_each_relation_holds_and_fails_where_it_should() -> None:
    assert check("a", 1.0, below=2.0).relation == "<"
    assert check("a", 2.0, at_most=2.0).relation == "≤"
    assert check("a", 0.0, equals=0.0).relation == "="
    assert check("a", 3.0, above=2.0).relation == ">"
    assert check("a", 2.0, at_least=2.0).relation == "≥"
    failing = [
        lambda: check("a", 1.0, below=1.0),
        lambda: check("a", 1.0, at_most=0.5),
        lambda: check("a", 1.0, equals=0.0),
        lambda: check("a", 1.0, above=1.0),
        lambda: check("a", 1.0, at_least=1.5),
    ]
    for attempt in failing:
        with pytest.raises(AssertionError, match="^a: measured 1, claimed"):
            attempt()


def test_a_tolerance_bound_takes_its_value_in_the_dtype_and_names_its_origin() -> None:
    claim = check("b", 0.0, below=TOLERANCES["final"], dtype=torch.float32)
    assert claim.bound == TOLERANCES["final"][torch.float32]
    assert (claim.dtype, claim.origin) == ("float32", "final")


def test_bad_input_is_refused_with_the_claim_named() -> None:
    with pytest.raises(ValueError, match="exactly one bound for 'c', got none"):
        check("c", 1.0)
    with pytest.raises(ValueError, match=r"exactly one bound .* \['above', 'below'\]"):
        check("c", 1.0, below=2.0, above=0.0)
    with pytest.raises(ValueError, match="needs a dtype for 'c'"):
        check("c", 0.0, below=TOLERANCES["final"])
    with pytest.raises(ValueError, match="must be finite"):
        check("c", float("nan"), below=1.0)


def test_a_tolerance_outside_the_table_needs_an_origin() -> None:
    own = Tolerance("a page's own bound", 4.0, "4", "four roundings")
    with pytest.raises(ValueError, match="Tolerance bound of 'd' is not one of TOLERANCES"):
        check("d", 0.0, below=own, dtype="float64")
    claim = check("d", 0.0, below=own, dtype="float64", origin="four roundings")
    assert (claim.bound, claim.origin) == (4 * 2.0**-52, "four roundings")


def test_claims_are_recorded_with_their_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "claims.jsonl"
    monkeypatch.setenv(CLAIMS_FILE, str(target))
    monkeypatch.setenv(PAGE, "demo.py")
    check("first", 1e-16, below=1e-12, origin="rounding")
    check("parity: relative error", 0.0, equals=0.0, dtype=torch.float64, origin="exact")
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [Claim(**r) for r in records] == [
        Claim("first", 1e-16, "<", 1e-12, "", "rounding", "demo.py"),
        Claim("parity: relative error", 0.0, "=", 0.0, "float64", "exact", "demo.py"),
    ]


def test_nothing_is_recorded_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CLAIMS_FILE, raising=False)
    monkeypatch.chdir(tmp_path)
    check("quiet", 1.0, above=0.0)
    assert list(tmp_path.iterdir()) == []


def test_the_claims_page_groups_rows_by_page_in_navigation_order(tmp_path: Path) -> None:
    rows = [
        Claim("x | y", 2e-16, "<", 1e-12, "float64", "final", "b.py"),
        Claim("z", 0.607, ">", 0.01, "", "a real difference", "a.py"),
        Claim("w", 3.0, "≥", 2.0, "", "", "b.py"),
    ]
    for name in ("a", "b"):
        lines = [json.dumps(r.__dict__) for r in rows if r.page == f"{name}.py"]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pages = [("Page B", "b.py"), ("Page A", "a.py"), ("Empty", "c.py")]
    page = site.claims_page(pages, tmp_path)
    assert "checked 3 claims" in page
    assert page.index("## [Page B](b.py) (2)") < page.index("## [Page A](a.py) (1)")
    assert "Empty" not in page
    assert "| x \\| y | float64 | 2.00e-16 | < 1.00e-12 | final |" in page
    assert "| z |  | 0.607 | > 0.01 | a real difference |" in page


def test_the_claims_page_refuses_records_of_unknown_pages(tmp_path: Path) -> None:
    record = Claim("z", 1.0, ">", 0.0, "", "", "gone.py").__dict__
    (tmp_path / "gone.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"not in the site: \['gone.py'\]"):
        site.claims_page([("Page A", "a.py")], tmp_path)


def test_claims_are_read_beside_the_executed_notebooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_EXECUTED_DIR", str(tmp_path / "executed"))
    assert site.claims_dir() == tmp_path / "claims"
