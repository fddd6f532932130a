"""The documentation site: strict build, offline assets, a browser pass over every page.

The site is built once per session as ``make docs`` builds it: ``docs/execute.py``
executes every page afresh, then ``mkdocs build --strict`` renders them. The executed
notebooks are compared with a second execution of every page.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from tests.site_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DOCS,
    PAGES,
    ROOT,
    execute_notebooks,
    execute_page,
    mask_timings,
    mkdocs_build,
    notebook_outputs,
    serve,
)

HTML_PAGES = [
    "index",
    "from-scratch",
    "bayesian",
    "l2-vs-decay",
    "closed-form",
    "overfitting",
    "shrinkage",
    "beyond-map",
    "informative-priors",
    "classifiers",
    "normalization-layers",
    "data-parallel",
    "decay-cost",
    "notation",
    "api",
    "references",
    "environment",
    "claims",
]


@pytest.fixture(scope="session")
def executed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the site build keeps the executed notebooks of the pages."""
    return tmp_path_factory.mktemp("executed")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, executed_dir: Path) -> tuple[Path, str]:
    """The built site and the log of its two steps: execution, then rendering."""
    cache_dir = tmp_path_factory.mktemp("cache")  # written, never read: not the project's
    executed = execute_notebooks(DOCS, executed_dir, cache_dir)
    log = executed.stdout + executed.stderr
    assert executed.returncode == 0, log[-5000:]
    site_dir = tmp_path_factory.mktemp("site")
    result = mkdocs_build(ROOT / "mkdocs.yml", site_dir, executed_dir)
    log += result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    return site_dir, log


def test_every_page_is_built(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    for name in HTML_PAGES:
        assert (site_dir / f"{name}.html").is_file(), name


def test_build_reports_each_executed_page_and_its_time(site: tuple[Path, str]) -> None:
    _, log = site
    for page in PAGES:
        pattern = rf"executed {re.escape(page.name)} in \d+\.\d s \[\d+/{len(PAGES)}\]"
        assert re.search(pattern, log), page.name
    assert re.search(rf"executed {len(PAGES)} pages in \d+\.\d s: the parallel phase", log)
    assert "WARNING" not in log.replace("[IPKernelApp] WARNING | Kernel is running over TCP", "")


def test_sources_and_executed_notebooks_are_downloadable(
    site: tuple[Path, str], executed_dir: Path
) -> None:
    site_dir, _ = site
    for page in PAGES:
        notebook = page.with_suffix(".ipynb").name
        assert (site_dir / page.name).read_text() == page.read_text()
        assert (site_dir / notebook).read_bytes() == (executed_dir / notebook).read_bytes()
        html = (site_dir / page.with_suffix(".html").name).read_text()
        assert f'href="{page.name}"' in html, f"no download link to {page.name}"
        assert f'href="{notebook}"' in html, f"no download link to {notebook}"


# Rows of the home page's table of parity figures before the page of every claim replaced
# it: the claims page must list at least as many.
HOME_TABLE_ROWS = 92


def test_the_claims_page_lists_every_claim_the_pages_checked(
    site: tuple[Path, str], executed_dir: Path
) -> None:
    site_dir, _ = site
    records = [
        json.loads(line)
        for path in sorted((executed_dir.parent / "claims").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    html = (site_dir / "claims.html").read_text()
    assert f"checked {len(records)} claims" in html
    assert len({(r["page"], r["claim"], r["dtype"]) for r in records}) >= HOME_TABLE_ROWS
    for page in {r["page"] for r in records}:
        count = sum(r["page"] == page for r in records)
        assert re.search(rf'href="{re.escape(page[:-3])}\.html"[^<]*</a> \({count}\)', html), page


def test_no_cdn_and_local_mathjax(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    assert (site_dir / "assets/mathjax/tex-svg-full.js").stat().st_size > 1_000_000
    assert (site_dir / "assets/iframe-worker/shim.js").is_file()
    pattern = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(https?:)?//', re.I)
    for html in site_dir.glob("*.html"):
        text = html.read_text()
        assert not pattern.search(text), f"{html.name} loads a remote script or stylesheet"
        assert "cdnjs" not in text and "unpkg" not in text and "jsdelivr" not in text, html.name
        assert "MathJax.Hub.Config" not in text, f"{html.name} still carries a MathJax 2 config"


@pytest.fixture(scope="session")
def reruns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[dict[str, str]]]]:
    """Every page executed once more, as the build executes them (a second run of
    ``docs/execute.py``, with a kernel server of its own); each page's outputs."""
    out_dir = tmp_path_factory.mktemp("rerun")
    result = execute_notebooks(DOCS, out_dir, tmp_path_factory.mktemp("rerun-cache"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return {
        page.name: notebook_outputs(nbformat.read(out_dir / f"{page.stem}.ipynb", as_version=4))
        for page in PAGES
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_outputs_are_reproducible(
    page: Path,
    site: tuple[Path, str],
    executed_dir: Path,
    reruns: dict[str, list[list[dict[str, str]]]],
) -> None:
    """The build's outputs and a second execution agree once wall-clock timings are masked."""
    executed = executed_dir / page.with_suffix(".ipynb").name
    first = notebook_outputs(nbformat.read(executed, as_version=4))
    second = reruns[page.name]
    assert len(first) == len(second) > 0
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a == b, f"{page.name}, code cell {index} printed different outputs"


def test_a_forked_kernel_prints_what_a_kernel_of_its_own_prints(
    site: tuple[Path, str], executed_dir: Path
) -> None:
    """The build forks each page's kernel from a server that has imported the pages'
    modules; a page run in a plain kernel of its own (tables, figures, scikit-learn,
    PyTorch) prints the same outputs."""
    page = DOCS / "overfitting.py"
    forked = notebook_outputs(nbformat.read(executed_dir / "overfitting.ipynb", as_version=4))
    assert execute_page(str(page)) == forked


def test_mask_timings() -> None:
    assert mask_timings("took 0.512 s and 12.000 s") == "took <seconds> and <seconds>"
    assert mask_timings("In this build, x was 2.0 times y.\nnext") == "<timing sentence>\nnext"
    assert mask_timings("1e-12 and 0.5 s") == "1e-12 and 0.5 s"


# The browser pass -------------------------------------------------------------------------

RAW_MATH = re.compile(r"\$[^$\s][^$]*\$|\\\(|\\\[")

_VISIBLE_TEXT_WITHOUT_CODE = """() => {
  const root = document.querySelector('article') || document.body;
  const clone = root.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea')
       .forEach(node => node.remove());
  return clone.textContent;
}"""

_IMAGES = """() => Array.from(document.querySelectorAll('article img')).map(img => ({
  src: img.src.slice(0, 60), complete: img.complete, width: img.naturalWidth
}))"""
# Tables wider than the content column (they would be cut off at its edge, or scroll).
_WIDE_TABLES = """() => {
  const right = document.querySelector('.md-content__inner').getBoundingClientRect().right;
  return Array.from(document.querySelectorAll('article table'))
    .filter(t => t.getBoundingClientRect().right > right + 1)
    .map(t => t.innerText.slice(0, 60));
}"""


def _has_math(name: str) -> bool:
    """Whether a page's source writes math (the API page gets it from the docstrings)."""
    sources = [ROOT / "docs" / f"{name}{suffix}" for suffix in (".md", ".py")]
    text = "".join(path.read_text() for path in sources if path.exists())
    return name == "api" or "$" in text


def _browser() -> object:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def test_every_page_in_a_browser(site: tuple[Path, str]) -> None:
    """Math typeset, figures loaded, tables in the column, no console errors, nothing remote."""
    site_dir, _ = site
    manager = _browser()
    with serve(site_dir) as base, manager as playwright:  # type: ignore[attr-defined]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        foreign: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        host = urlparse(base).netloc

        def record(request: object) -> None:
            url = request.url  # type: ignore[attr-defined]
            if not url.startswith("data:") and urlparse(url).netloc != host:
                foreign.append(url)

        page.on("request", record)
        html = functools.cache(Path.read_text)  # each linked page read once
        figures = 0
        for name in HTML_PAGES:
            page.goto(f"{base}{name}.html", wait_until="load")  # its images and scripts
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
            )
            page.evaluate("() => MathJax.startup.promise")
            if _has_math(name):
                assert page.locator("mjx-container").count() > 0, f"{name}: no typeset math"
            leftover = RAW_MATH.findall(page.evaluate(_VISIBLE_TEXT_WITHOUT_CODE))
            assert not leftover, f"{name}: raw math left in the prose: {leftover[:3]}"
            wide = page.evaluate(_WIDE_TABLES)
            assert not wide, f"{name}: tables wider than the content column: {wide}"
            for image in page.evaluate(_IMAGES):
                assert image["complete"] and image["width"] > 0, f"{name}: broken image {image}"
                figures += 1
            for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
                parsed = urlparse(href)
                if parsed.netloc == host and parsed.path.endswith((".html", ".py", ".ipynb")):
                    target = site_dir / unquote(parsed.path).lstrip("/")
                    assert target.is_file(), f"{name}: link to missing {parsed.path}"
                    if parsed.fragment and target.suffix == ".html":
                        anchor = f'id="{parsed.fragment}"'
                        assert anchor in html(target), f"{name}: missing anchor {href}"
            assert not errors, f"{name}: console errors {errors}"
            assert not foreign, f"{name}: requests to other hosts {foreign}"
        assert figures >= 5
        browser.close()


def test_site_opened_from_disk(site: tuple[Path, str]) -> None:
    """The offline build works from file://: math typesets and nothing leaves the machine."""
    site_dir, _ = site
    manager = _browser()
    with manager as playwright:  # type: ignore[attr-defined]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        remote: list[str] = []
        page.on("request", lambda r: remote.append(r.url) if r.url.startswith("http") else None)
        page.goto((site_dir / "bayesian.html").as_uri())
        page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 10")
        assert not remote, remote
        browser.close()
