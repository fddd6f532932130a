"""MkDocs hooks of the site build.

* Copy MathJax 3 and the iframe-worker shim (search from file://) from the npm
  packages that ``npm ci`` installs into node_modules/ into the site, so nothing is
  fetched from a CDN.
* Remove the MathJax 2 loader and configuration that mkdocs-jupyter's template puts
  in every notebook page (a script URL of its own and a MathJax 2 config block), and
  nbconvert's Mermaid loader, which imports from a CDN (the pages draw no diagrams).
* Put two download links under each notebook page's title: its py:percent source (which
  mkdocs-jupyter's ``include_source`` copies next to the page) and its executed notebook,
  with the outputs of this build (which hooks/notebooks.py copies next to the page).
* Fill the table of tolerances into the API page, from `weightdecay.claims.TOLERANCES` (loaded
  from its file: it needs only the standard library, so the build process does not import
  PyTorch).
* Write the page of every claim, ``claims.md``, from the records that
  `weightdecay.claims.check` left in ``build/claims/`` while the pages executed, and
  add the figures the pages saved in ``build/figures/`` (the home page shows one).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.site")

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
# Site path -> file installed by `npm ci` (versions pinned in package-lock.json).
VENDORED = {
    "assets/mathjax/tex-svg-full.js": NODE_MODULES / "mathjax" / "es5" / "tex-svg-full.js",
    "assets/iframe-worker/shim.js": NODE_MODULES / "iframe-worker" / "shim" / "index.js",
}
# nbconvert's base/mathjax.html.j2 macro, from its opening comment to its closing one.
MATHJAX2_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
# nbconvert's lab/mermaidjs.html.j2 loader script, which imports mermaid from a CDN.
MERMAID_LOADER = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{'
    r'\s*const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.S,
)


TOLERANCES_MARKER = "<!-- tolerances -->"
CLAIMS_SOURCE = ROOT / "weightdecay" / "claims.py"


@functools.cache
def claims_module() -> Any:
    """`weightdecay/claims.py`, loaded from its file alone (it needs only the standard library)."""
    spec = importlib.util.spec_from_file_location("_claims", CLAIMS_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def tolerance_table() -> str:
    """The Markdown table of `weightdecay.claims.tolerance_rows`."""
    rows: list[dict[str, str]] = claims_module().tolerance_rows()
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row[key] for key in header) + " |" for row in rows]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Page, **kwargs: Any) -> str:
    """Replace the API page's marker with the table of tolerances."""
    if page.file.src_uri != "api.md":
        return markdown
    if markdown.count(TOLERANCES_MARKER) != 1:
        raise PluginError(f"api.md must hold the line {TOLERANCES_MARKER} exactly once")
    return markdown.replace(TOLERANCES_MARKER, tolerance_table())


def _is_notebook(page: Page) -> bool:
    return page.file.src_uri.endswith(".py")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fail early, with the fix, when the npm assets have not been installed."""
    for source in VENDORED.values():
        if not source.is_file():
            raise PluginError(
                f"{source} does not exist. Run `npm ci` (or `make docs`, which does) "
                "to install the pinned front-end packages of package.json."
            )
    return config


def claims_dir() -> Path:
    """Where the pages' claims were recorded: beside the executed notebooks' folder."""
    executed = Path(os.environ.get("DOCS_EXECUTED_DIR") or ROOT / "build" / "executed")
    return executed.parent / "claims"


FIGURES_DIR = ROOT / "build" / "figures"


def _nav_pages(nav: Any) -> list[tuple[str, str]]:
    """(title, file) of every page of the navigation, in its order."""
    found: list[tuple[str, str]] = []
    for item in nav if isinstance(nav, list) else [nav]:
        if isinstance(item, dict):
            for title, target in item.items():
                if isinstance(target, str):
                    found.append((title, target))
                else:
                    found += _nav_pages(target)
    return found


def claims_page(pages: list[tuple[str, str]], directory: Path | None = None) -> str:
    """The Markdown of the page of every claim, grouped by page: (title, file) in order.

    The claims are read from `directory`, by default `claims_dir`.
    """
    records: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((directory or claims_dir()).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records.setdefault(record["page"], []).append(record)
    unknown = sorted(set(records) - {page for _, page in pages})
    if unknown:
        raise PluginError(f"claims recorded for pages that are not in the site: {unknown}")
    total = sum(len(rows) for rows in records.values())
    lines = [
        "# Every claim on this site",
        "",
        f"The pages of this build checked {total} claims, each in one line beside what it "
        "checks; a claim that failed would have stopped the build. Each row gives the "
        "measured value, the bound it met, and the bound's origin: a name from the "
        "[table of tolerances](api.md#tolerances) or the page's own words.",
    ]
    for title, page in pages:
        rows = records.get(page, [])
        if not rows:
            continue
        lines += ["", f"## [{title}]({page}) ({len(rows)})", ""]
        lines += [
            "| claim | dtype | measured | bound | origin |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            cells = [
                row["claim"].replace("|", "\\|"),
                row["dtype"],
                claims_module().format_number(row["measured"]),
                f"{row['relation']} {claims_module().format_number(row['bound'])}",
                row["origin"].replace("|", "\\|"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the vendored front-end files, the pages' figures and the page of every claim."""
    for uri, source in VENDORED.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    for figure in sorted(FIGURES_DIR.glob("*")):
        files.append(File.generated(config, f"figures/{figure.name}", abs_src_path=str(figure)))
    pages = [(title, page) for title, page in _nav_pages(config["nav"]) if page.endswith(".py")]
    files.append(File.generated(config, "claims.md", content=claims_page(pages)))
    return files


def on_page_content(html: str, page: Page, **kwargs: Any) -> str:
    """Strip the template's MathJax 2 block and Mermaid loader; link the page's downloads."""
    if not _is_notebook(page):
        return html
    stripped = html
    for name, pattern in (("MathJax 2", MATHJAX2_BLOCK), ("Mermaid loader", MERMAID_LOADER)):
        stripped, count = pattern.subn("", stripped)
        if count != 1:
            raise PluginError(
                f"{page.file.src_uri}: expected one {name} block from the notebook "
                f"template, found {count}; the template changed, update hooks/site.py"
            )
    source = Path(page.file.src_uri).name
    executed = Path(source).with_suffix(".ipynb").name
    link = (
        f'<p class="page-source"><a href="{source}" download>Download the source of this page'
        f"</a> (<code>{source}</code>, a jupytext py:percent notebook that "
        "<code>jupytext --to ipynb</code> converts) or "
        f'<a href="{executed}" download>the executed notebook</a> (<code>{executed}</code>, '
        "with the outputs of this build).</p>"
    )
    heading_end = stripped.find("</h1>")
    if heading_end < 0:
        raise PluginError(f"{page.file.src_uri}: a notebook page must open with a # title")
    cut = heading_end + len("</h1>")
    return stripped[:cut] + link + stripped[cut:]
