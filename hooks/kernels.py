"""Jupyter kernels forked from one process that has already imported the pages' modules.

A fresh kernel spends seconds importing PyTorch, pandas, scikit-learn and Matplotlib
before a page's first line runs, and every page pays it again. `KernelServer` starts one
process that imports, once, the modules the pages import (read from their ``import``
statements), then forks a kernel for each page: each kernel is a process of its own,
with a fresh namespace, the page's environment and working directory, and a freshly
seeded ``random`` and NumPy global generator, as a new process would have.

Jupyter starts a kernel by running the command of its kernel spec; here that command is
this file's ``connect`` mode, a small process that passes the kernel's arguments, its
environment and its standard streams to the server and stands in for the forked kernel:
it forwards the signals it receives, and exits with the kernel's exit status. If it is
killed, the server kills the kernel.

    python hooks/kernels.py serve SOCKET    # the server (started by `KernelServer`)
    python hooks/kernels.py connect SOCKET -f CONNECTION_FILE    # one kernel
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the stand-in that imports this file starts fast
    from jupyter_client.manager import AsyncKernelManager

HERE = Path(__file__).resolve()
INLINE = "module://matplotlib_inline.backend_inline"  # what ipykernel sets, if unset
KERNEL_NAME = "python3"  # the forked kernel stands in for the usual Python kernel
# What a library imports later, on first use, at a cost worth paying once: PyTorch
# imports torch._dynamo (about a second) when the first torch.optim optimizer is built.
LATER = {"torch": ("torch._dynamo",)}


def page_imports(pages: Iterable[Path]) -> list[str]:
    """The absolute modules the code cells of `pages` import, sorted, and `LATER`'s.

    ``import a.b`` and ``from a.b import c`` both name ``a.b``; relative imports and
    cells that do not parse are left out. A page that imports a package of `LATER`
    brings the modules that the package imports on first use.
    """
    import jupytext  # here: the stand-in that imports this file should start fast

    modules: set[str] = set()
    for page in pages:
        for cell in jupytext.read(page).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module)
    roots = {name.partition(".")[0] for name in modules}
    return sorted(modules.union(*(LATER.get(root, ()) for root in roots)))


class KernelServer:
    """A running kernel server: a kernel spec whose kernels fork from it.

    Parameters
    ----------
    preload
        The modules to import once, before any kernel is forked.
    env
        The server's environment (the thread counts that libraries read on import).
    cwd
        The server's working directory, put first on its ``sys.path`` as ``python -m``
        would (the kernels' own directory replaces it in each kernel).

    Use it as a context manager; `manager` gives the kernel manager of one page's kernel.
    """

    def __init__(self, preload: Iterable[str], env: dict[str, str], cwd: Path) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="kernels-")
        self._root = Path(self._directory.name)
        socket_path = self._root / "server.sock"
        spec = self._root / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        argv = [sys.executable, str(HERE), "connect", str(socket_path)]
        kernel = {
            "argv": [*argv, "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        (spec / "kernel.json").write_text(json.dumps(kernel))
        self._process = subprocess.Popen(
            [sys.executable, str(HERE), "serve", str(socket_path), *preload],
            stdin=subprocess.PIPE,  # the server ends when this pipe closes
            stdout=subprocess.PIPE,
            env={**env, "MPLBACKEND": env.get("MPLBACKEND", INLINE)},
            cwd=cwd,
            text=True,
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline()
        if ready.strip() != "ready":
            self.close()
            raise RuntimeError(f"the kernel server did not start (it printed {ready!r})")

    def manager(self, name: str) -> AsyncKernelManager:
        """The manager of a kernel forked from this server, named `name` (a page's stem).

        The kernel talks over Unix sockets in the server's directory, not over TCP ports.
        """
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        specs = KernelSpecManager(kernel_dirs=[str(self._root / "kernels")])
        return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs,
                                  transport="ipc", ip=str(self._root / name))  # fmt: skip

    def close(self) -> None:
        """Stop the server (it kills the kernels still running) and remove its files."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._directory.cleanup()

    def __enter__(self) -> KernelServer:
        """The server itself."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server (`close`)."""
        self.close()


# The server.


def serve(path: str, preload: list[str]) -> None:
    """Import `preload`, then fork a kernel for each connection to the socket `path`."""
    sys.path[0] = os.getcwd()  # as `python -m` has it, not this file's directory
    for name in preload:
        with contextlib.suppress(Exception):  # a page that needs it fails by itself
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    kernels: dict[int, socket.socket] = {}  # pid -> the connection of its stand-in
    print("ready", flush=True)
    try:
        while True:
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is sys.stdin:
                    return  # the build is done with the server
                if key.fileobj is listener:
                    connection, _ = listener.accept()
                    pid = _fork(connection, listener, selector, kernels)
                    kernels[pid] = connection
                    selector.register(connection, selectors.EVENT_READ)
                    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                else:  # a stand-in closed its end: it was killed, so is its kernel
                    pid = next(p for p, c in kernels.items() if c is key.fileobj)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    selector.unregister(key.fileobj)
            _reap(kernels, selector)
    finally:
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _reap(kernels: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    """Tell the stand-in of each kernel that has exited its exit status."""
    while kernels:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = kernels.pop(pid, None)
        if connection is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(connection)
        with contextlib.suppress(OSError):
            message = {"exit": os.waitstatus_to_exitcode(status)}
            connection.sendall(json.dumps(message).encode() + b"\n")
        connection.close()


def _fork(
    connection: socket.socket,
    listener: socket.socket,
    selector: selectors.BaseSelector,
    kernels: dict[int, socket.socket],
) -> int:
    """Receive a kernel's request on `connection`, fork, and run the kernel in the child."""
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not data.endswith(b"\n"):
        more = connection.recv(1 << 20)
        if not more:
            raise ConnectionError("the kernel's request ended early")
        data += more
    request = json.loads(data)
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    code = 1
    try:  # the child: it never returns to the server's loop
        selector.close()
        listener.close()
        for other in kernels.values():
            other.close()
        connection.close()
        for target, fd in enumerate(fds):  # the stand-in's stdin, stdout and stderr
            os.dup2(fd, target)
            os.close(fd)
        code = _run_kernel(request["argv"], request["env"], request["cwd"])
    finally:
        os._exit(code)


def _run_kernel(argv: list[str], env: dict[str, str], cwd: str) -> int:
    """Become a fresh kernel: its environment, directory, generators; run it."""
    import random

    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.path[0] = cwd
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules and env.get("OMP_NUM_THREADS", "").isdigit():
        sys.modules["torch"].set_num_threads(int(env["OMP_NUM_THREADS"]))
    # What `python -m ipykernel_launcher` runs as __main__:
    import ipykernel_launcher  # type: ignore[import-untyped]
    from ipykernel.kernelapp import IPKernelApp

    sys.modules["__main__"] = ipykernel_launcher  # spawned workers import it, as usual
    sys.argv = [ipykernel_launcher.__file__, *argv]
    try:
        IPKernelApp.launch_instance(argv)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


# The stand-in that Jupyter starts as the kernel.


def connect(path: str, argv: list[str]) -> int:
    """Have the server at `path` fork a kernel with `argv`; wait for it; its exit status."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    socket.send_fds(client, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    replies = client.makefile("rb")
    pid = json.loads(replies.readline())["pid"]

    def forward(number: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, forward)
    line = replies.readline()
    return int(json.loads(line)["exit"]) if line else 1


def main(argv: list[str]) -> int:
    """``serve SOCKET [MODULE ...]`` or ``connect SOCKET KERNEL-ARGUMENTS...``."""
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1], argv[2:])
        return 0
    if len(argv) >= 2 and argv[0] == "connect":
        return connect(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
