"""Hand the executed notebook pages to mkdocs-jupyter; execute nothing.

``docs/execute.py`` (``make notebooks``, which ``make docs`` runs first) executes every
page into ``build/executed`` (``DOCS_EXECUTED_DIR``). This hook makes mkdocs-jupyter
render each page's executed notebook instead of its bare source (mkdocs-jupyter's own
execution stays off: ``execute: false`` in mkdocs.yml, and the hook refuses to run
otherwise), and copies the executed notebook into the site next to its page, as
``<page>.ipynb``, for download.

* ``mkdocs build`` executes nothing: a page whose executed notebook is missing, or older
  than its source, fails the build, naming the page and the command to run.
* Under ``mkdocs serve`` (``make serve``), each build first runs
  ``docs/execute.py --cached``: an edit to a page, to the package or to the lock file
  executes again the pages it concerns, the others come from the cache.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, set_exclusions
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.notebooks")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hooks.execute import SCRIPT, executed_dir  # noqa: E402 - after the project is importable

_state: dict[str, Any] = {}


def _plugin_executes(config: MkDocsConfig) -> bool:
    plugin = config.plugins.get("mkdocs-jupyter")
    return plugin is not None and bool(plugin.config.get("execute"))


def on_startup(command: str, dirty: bool) -> None:
    """Remember whether this is ``mkdocs serve`` (which re-executes changed pages)."""
    _state["command"] = command


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Refuse a configuration in which mkdocs-jupyter would execute the pages."""
    if _plugin_executes(config):
        raise PluginError(
            "docs/execute.py executes the notebook pages: set `execute: false` for "
            "mkdocs-jupyter in mkdocs.yml"
        )
    _state.pop("executed", None)
    return config


def _execute_changed(config: MkDocsConfig, out_dir: Path) -> None:
    """Under ``mkdocs serve``: run ``docs/execute.py --cached`` before the build."""
    command = [sys.executable, str(SCRIPT), "--cached", "--docs-dir", str(config.docs_dir),
               "--out", str(out_dir)]  # fmt: skip
    log.info("executing the pages whose inputs changed: %s", " ".join(command[1:]))
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        raise PluginError("docs/execute.py --cached failed (above): the site is not rebuilt")


def _problem(src_uri: str, source: Path, executed: Path) -> str | None:
    if not executed.is_file():
        return f"{src_uri}: its executed notebook {executed} is missing"
    if executed.stat().st_mtime < source.stat().st_mtime:
        return f"{src_uri}: its executed notebook {executed} is older than the page"
    return None


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Find each notebook page's executed notebook; add it to the site for download."""
    out_dir = executed_dir()
    if _state.get("command") == "serve":
        _execute_changed(config, out_dir)
    set_exclusions(files, config)  # as MkDocs will: mkdocs-jupyter's wrappers have none yet
    pages = [
        file
        for file in files
        if file.src_uri.endswith(".py")
        and file.is_documentation_page()
        and file.inclusion.is_included()  # type: ignore[no-untyped-call]
    ]
    executed: dict[str, Path] = {}
    problems = []
    for file in pages:
        notebook = out_dir / Path(file.src_uri).with_suffix(".ipynb").name
        problem = _problem(file.src_uri, Path(str(file.abs_src_path)), notebook)
        if problem is not None:
            problems.append(problem)
        executed[file.src_uri] = notebook
    if problems:
        raise PluginError(
            "\n".join(problems) + "\nThe build renders executed pages and executes none: run "
            "`make notebooks` (or `.venv/bin/python docs/execute.py`) first, or `make docs`, "
            "which runs both."
        )
    for src_uri, notebook in executed.items():
        uri = Path(src_uri).with_suffix(".ipynb").as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(notebook)))
    _state["executed"] = executed
    _state["render_start"] = time.perf_counter()
    return files


def _without_inline_css(src_uri: str, content: str) -> str:
    """Drop the notebook CSS mkdocs-jupyter appends to pages converted from ``.ipynb``.

    Pages converted from ``.py`` sources do not get it; the site keeps that rendering.
    """
    start = content.rfind("<style>")
    tail = content[start:].rstrip()
    if start < 0 or not tail.endswith("</style>") or tail.count("</style>") != 1:
        raise PluginError(
            f"{src_uri}: expected mkdocs-jupyter's inline notebook CSS at the end of the "
            "executed notebook's HTML; its template changed, update hooks/notebooks.py"
        )
    return content[:start].rstrip() + "\n"


def on_pre_page(page: Page, config: MkDocsConfig, files: Files) -> Page:
    """Make mkdocs-jupyter render the executed notebook instead of the bare source."""
    executed = _state.get("executed", {}).get(page.file.src_uri)
    if executed is None:
        return page
    render = page.render  # mkdocs-jupyter's, installed by its own on_pre_page

    def render_executed(config: MkDocsConfig, files: Files) -> None:
        source = page.file.abs_src_path
        page.file.abs_src_path = str(executed)
        try:
            render(config, files)
        finally:
            page.file.abs_src_path = source
        page.content = _without_inline_css(page.file.src_uri, page.content or "")

    page.render = render_executed  # type: ignore[method-assign]
    return page


def on_post_build(config: MkDocsConfig) -> None:
    """Report the time the rendering of the site took."""
    if "render_start" in _state:
        seconds = time.perf_counter() - _state["render_start"]
        log.info("rendered %d notebook pages and the rest of the site in %.1f s",
                 len(_state["executed"]), seconds)  # fmt: skip
