"""The build hook: it renders the executed notebooks, offers them for download, executes
nothing, and fails naming the page when a notebook is missing or older than its page."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import yaml

from tests.site_support import mini_site, mkdocs_build

PAGE = "# %% [markdown]\n# # A page\n\n# %%\nprint('from the source')\n"


def _executed(executed_dir: Path, name: str, source: str, printed: str) -> Path:
    """An executed notebook of `source` as the command writes it, whose code cell printed
    `printed` (which executing `source` would not print)."""
    notebook = jupytext.reads(source, fmt="py:percent")
    code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    executed_dir.mkdir(exist_ok=True)
    path = executed_dir / Path(name).with_suffix(".ipynb")
    nbformat.write(notebook, path)
    return path


def test_the_build_renders_the_executed_notebook_and_offers_both_downloads(
    tmp_path: Path,
) -> None:
    config = mini_site(tmp_path, {"page.py": PAGE})
    executed = _executed(tmp_path / "executed", "page.py", PAGE, "from the executed notebook\n")
    site = tmp_path / "site"
    result = mkdocs_build(config, site, tmp_path / "executed")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    html = (site / "page.html").read_text()
    assert "from the executed notebook" in html  # the executed notebook, not executed again
    assert (site / "page.py").read_text() == PAGE
    assert (site / "page.ipynb").read_bytes() == executed.read_bytes()
    assert 'href="page.py" download' in html
    assert 'href="page.ipynb" download' in html
    assert "rendered 1 notebook pages" in log


def test_a_missing_executed_notebook_fails_the_build_naming_the_page(tmp_path: Path) -> None:
    config = mini_site(tmp_path, {"page.py": PAGE, "other.py": PAGE})
    _executed(tmp_path / "executed", "other.py", PAGE, "done\n")
    result = mkdocs_build(config, tmp_path / "site", tmp_path / "executed")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        f"page.py: its executed notebook {tmp_path / 'executed' / 'page.ipynb'} is missing" in log
    )
    assert "other.py:" not in log
    assert "run `make notebooks`" in log


def test_an_executed_notebook_older_than_its_page_fails_the_build(tmp_path: Path) -> None:
    config = mini_site(tmp_path, {"page.py": PAGE})
    executed = _executed(tmp_path / "executed", "page.py", PAGE, "done\n")
    page = tmp_path / "docs" / "page.py"
    os.utime(executed, (page.stat().st_mtime - 10,) * 2)
    result = mkdocs_build(config, tmp_path / "site", tmp_path / "executed")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"page.py: its executed notebook {executed} is older than the page" in log
    assert "run `make notebooks`" in log


def test_the_build_refuses_to_let_mkdocs_jupyter_execute(tmp_path: Path) -> None:
    config = mini_site(tmp_path, {"page.py": PAGE})
    settings = yaml.safe_load(config.read_text())
    for plugin in settings["plugins"]:
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            plugin["mkdocs-jupyter"]["execute"] = True
    config.write_text(yaml.safe_dump(settings))
    result = mkdocs_build(config, tmp_path / "site", tmp_path / "executed")
    assert result.returncode != 0
    assert "set `execute: false` for mkdocs-jupyter" in result.stdout + result.stderr
