"""Helpers for the site tests: executing pages, building, serving."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.stats import TIMING_PREFIX
from hooks.execute import SCRIPT, notebook_pages

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = notebook_pages(DOCS)
MKDOCS = Path(sys.executable).parent / "mkdocs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def mini_site(root: Path, pages: dict[str, str]) -> Path:
    """A site of `pages` (file name -> py:percent source) under `root`, with this site's
    configuration and hooks; return the path of its ``mkdocs.yml``."""
    import yaml

    docs = root / "docs"
    docs.mkdir()
    shutil.copytree(DOCS / "javascripts", docs / "javascripts")
    for name, source in pages.items():
        (docs / name).write_text(source)
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config.update(
        docs_dir=str(docs),
        nav=[{Path(name).stem: name} for name in pages],
        hooks=[str(ROOT / "hooks" / "notebooks.py"), str(ROOT / "hooks" / "site.py")],
    )
    config.pop("watch", None)
    # A few pages, not the site: pages that the hooks generate stay out of its nav, and
    # links to the site's other pages lead nowhere. Strict still fails on every warning.
    config["validation"]["nav"]["omitted_files"] = "info"
    config["validation"]["links"]["not_found"] = "info"
    config_path = root / "mkdocs.yml"
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def execute_notebooks(
    docs_dir: Path,
    out_dir: Path,
    cache_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``docs/execute.py`` on the pages of `docs_dir`, capturing its output.

    The executed notebooks go to `out_dir`, the cache is `cache_dir`; `args` are more
    options (``--cached``, say), `env` adds to the environment.
    """
    command = [sys.executable, str(SCRIPT), "--docs-dir", str(docs_dir), "--out", str(out_dir),
               "--cache-dir", str(cache_dir), *args]  # fmt: skip
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def mkdocs_build(
    config: Path,
    site_dir: Path,
    executed_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``mkdocs build --strict`` on `config` into `site_dir`, capturing its output.

    With `executed_dir`, the executed notebooks of the pages are read from there; `env`
    adds to the environment.
    """
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    if executed_dir is not None:
        env["DOCS_EXECUTED_DIR"] = str(executed_dir)
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "-f", str(config), "-d", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 at a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


_SECONDS = re.compile(r"\d+\.\d{3} s\b")
_TIMING_SENTENCE = re.compile(re.escape(TIMING_PREFIX) + r"[^\n]*")


# What differs between two executions without being a result: an object's address in
# its plain-text repr, and the random id pandas gives each styled table.
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")
_TABLE_ID = re.compile(r"\bT_[0-9a-f]{5}(?=[_\"\s])")


def mask_timings(text: str) -> str:
    """Replace wall-clock figures (``1.234 s``), timing sentences, object addresses and
    styled tables' random ids by placeholders."""
    text = _ADDRESS.sub(" at <address>>", _TABLE_ID.sub("T_<id>", text))
    return _TIMING_SENTENCE.sub("<timing sentence>", _SECONDS.sub("<seconds>", text))


def execute_page(path: str) -> list[list[dict[str, str]]]:
    """Execute one py:percent page with nbclient in a plain kernel of its own, with one
    thread (as in the build's parallel phase); return each code cell's outputs.

    Each output becomes a dict of MIME type (or ``stream``) to text, with timings masked.
    """
    import jupytext
    import nbclient

    threads = dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1")
    notebook = jupytext.read(path)
    nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(ROOT)}},
        shutdown_kernel="immediate",
    ).execute(env={**os.environ, **threads})
    return notebook_outputs(notebook)


def notebook_outputs(notebook: Any) -> list[list[dict[str, str]]]:
    """Each code cell's outputs: a dict of MIME type (or ``stream``) to text, timings masked.

    Consecutive stream pieces are joined: where the kernel cut printed text depends on
    timing, not on what was printed.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs: list[dict[str, str]] = []
        for output in cell.outputs:
            if output.output_type == "stream":
                # A kernel flushes printed text in pieces whose cut depends on timing:
                # consecutive pieces are one stream.
                if outputs and list(outputs[-1]) == ["stream"]:
                    outputs[-1]["stream"] += mask_timings(output.text)
                else:
                    outputs.append({"stream": mask_timings(output.text)})
            elif "data" in output:
                outputs.append({k: mask_timings(str(v)) for k, v in output.data.items()})
        cells.append(outputs)
    return cells
