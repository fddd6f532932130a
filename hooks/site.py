"""MkDocs hooks of the site build.

* Copy MathJax 3 and the iframe-worker shim (search from file://) from the npm
  packages that ``npm ci`` installs into node_modules/ into the site, so nothing is
  fetched from a CDN.
* Remove the MathJax 2 loader and configuration that mkdocs-jupyter's template puts
  in every notebook page (a script URL of its own and a MathJax 2 config block), and
  nbconvert's Mermaid loader, which imports from a CDN (the pages draw no diagrams).
* Put a download link to each notebook page's py:percent source (which mkdocs-jupyter's
  ``include_source`` copies next to the page) under the page's title.
* Print each executed page and how long its execution and rendering took.
"""

from __future__ import annotations

import logging
import re
import time
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

_started: dict[str, float] = {}
_times: dict[str, float] = {}


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
    _started.clear()
    _times.clear()
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the vendored front-end files to the site's files."""
    for uri, source in VENDORED.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


def on_page_markdown(markdown: str, page: Page, **kwargs: Any) -> str:
    """Start the clock of a notebook page."""
    # mkdocs-jupyter executes the notebook inside page.render(), which runs between
    # this event and on_page_content.
    if _is_notebook(page):
        log.info("executing %s ...", page.file.src_uri)
        _started[page.file.src_uri] = time.perf_counter()
    return markdown


def on_page_content(html: str, page: Page, **kwargs: Any) -> str:
    """Report a notebook page's time and strip the template's MathJax 2 block."""
    if not _is_notebook(page):
        return html
    elapsed = time.perf_counter() - _started.pop(page.file.src_uri)
    _times[page.file.src_uri] = elapsed
    log.info("executed %s in %.1f s", page.file.src_uri, elapsed)
    stripped = html
    for name, pattern in (("MathJax 2", MATHJAX2_BLOCK), ("Mermaid loader", MERMAID_LOADER)):
        stripped, count = pattern.subn("", stripped)
        if count != 1:
            raise PluginError(
                f"{page.file.src_uri}: expected one {name} block from the notebook "
                f"template, found {count}; the template changed, update hooks/site.py"
            )
    source = Path(page.file.src_uri).name
    link = (
        f'<p class="page-source"><a href="{source}" download>Download the source of this page'
        f"</a> (<code>{source}</code>, a jupytext py:percent notebook that "
        "<code>jupytext --to ipynb</code> converts).</p>"
    )
    heading_end = stripped.find("</h1>")
    if heading_end < 0:
        raise PluginError(f"{page.file.src_uri}: a notebook page must open with a # title")
    cut = heading_end + len("</h1>")
    return stripped[:cut] + link + stripped[cut:]


def on_post_build(config: MkDocsConfig) -> None:
    """Summarize the executed pages."""
    total = sum(_times.values())
    summary = ", ".join(f"{uri} {seconds:.1f} s" for uri, seconds in _times.items())
    log.info("executed %d pages in %.1f s: %s", len(_times), total, summary)
