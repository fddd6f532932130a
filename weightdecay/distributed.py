r"""Weight decay under data parallelism: DDP and ZeRO on CPU processes against one process.

With $R$ ranks, each holding $B/R$ rows of a global batch of $B$ rows, rank $r$ computes
the mean loss over its rows, $L_r$, and its gradient $g_r = \nabla L_r$.
``DistributedDataParallel`` (DDP) all-reduces the gradients during the backward pass and
divides by $R$, so every rank holds

$$\bar g = \frac{1}{R}\sum_{r=1}^{R} g_r = \nabla L,$$

the gradient of the full batch's mean loss (equal shards: the mean of the means is the
mean). Decay happens afterwards, inside ``optimizer.step()``, once per step:

* DDP: every rank steps every parameter, identically. Coupled decay (``SGD``'s
  ``weight_decay``) adds $\lambda\theta$ to $\bar g$; decoupled decay (``AdamW``)
  multiplies $\theta$ by $1 - \eta\lambda$.
* ZeRO (``ZeroRedundancyOptimizer``): each rank steps, and so decays, only the
  parameters of its shard, then broadcasts them to the other ranks.

Either way the parameters follow one process on the full batch, up to rounding.
`run_data_parallel` measures that on $R$ processes spawned on the CPU (gloo backend,
loopback only), together with two setups that apply the decay more than once per step.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.multiprocessing.spawn import spawn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer

from weightdecay._checks import check_count, check_positive
from weightdecay.metrics import max_abs_diff, relative_error
from weightdecay.optim.adam import AdamW
from weightdecay.optim.groups import decay_groups
from weightdecay.optim.sgd import SGD
from weightdecay.penalty import l2_penalty
from weightdecay.seeding import derive_seed, torch_generator
from weightdecay.tolerances import TOLERANCES

__all__ = [
    "BATCH_SIZE",
    "N_ROWS",
    "OPTIMIZERS",
    "SETUPS",
    "TOLERANCE",
    "ParallelResult",
    "Setup",
    "free_port",
    "owner_counts",
    "rank_rows",
    "run_data_parallel",
]

TOLERANCE = TOLERANCES["data_parallel"]["float64"]
"""Bound on a correct setup's relative difference from one process (float64).

The ranks' averaged gradient differs from the full batch's only by the rounding of a
different summation order; over the run these roundings add like a random walk (the
``data_parallel`` entry of `weightdecay.tolerances`).
"""

N_ROWS = 128
"""Rows of the seeded regression set."""

BATCH_SIZE = 32
"""Rows of the global batch of one step, split evenly over the ranks."""

_IN_FEATURES, _HIDDEN = 4, 16  # the model's input and hidden widths

OPTIMIZERS: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {
    "torch.optim.SGD": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "torch.optim.AdamW": (torch.optim.AdamW, {"lr": 0.01}),
    "weightdecay.optim.SGD": (SGD, {"lr": 0.05, "momentum": 0.9}),
    "weightdecay.optim.AdamW": (AdamW, {"lr": 0.01}),
}
"""The optimizers a setup may use, with their settings (``weight_decay`` comes per group)."""


@dataclass(frozen=True)
class Setup:
    r"""One way of wiring data-parallel training and of applying the decay.

    Attributes
    ----------
    name : str
        Short key.
    label : str
        What the setup does, for tables.
    optimizer : str
        A key of `OPTIMIZERS`.
    zero : bool, default False
        Shard the optimizer with ``ZeroRedundancyOptimizer`` (inside DDP).
    penalty : bool, default False
        Decay as $\frac{\lambda}{2}\lVert w\rVert^2$ (weights only) added whole to the
        loss of every backward pass, instead of the optimizer's ``weight_decay``.
    summed : bool, default False
        No DDP: the ranks' gradients are summed by ``all_reduce`` after the backward
        pass, the data loss divided by $R$ beforehand to make up for it.
    micro_batches : int, default 1
        $K$ backward passes per rank and optimizer step (gradient accumulation), every
        one but the last under DDP's ``no_sync``; the data loss is divided by $K$.

    Raises
    ------
    ValueError
        For an unknown `optimizer`, `zero` with `summed`, or `micro_batches` < 1.

    Examples
    --------
    >>> from weightdecay.distributed import SETUPS
    >>> SETUPS["ddp-adamw"].label
    'DDP + weightdecay.optim.AdamW'
    """

    name: str
    label: str
    optimizer: str
    zero: bool = False
    penalty: bool = False
    summed: bool = False
    micro_batches: int = 1

    def __post_init__(self) -> None:
        """Check that the options fit together."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.zero and self.summed:
            raise ValueError("zero=True needs DDP's averaging; got summed=True with it")
        check_count("micro_batches", self.micro_batches)

    def decay_multiplier(self, world_size: int) -> int:
        r"""How many times one optimizer step applies the decay, in units of $\lambda$.

        A penalty in the loss is differentiated once per backward pass, and the
        gradients of the $K$ micro-batches are summed, as are the $R$ ranks' when
        `summed` (DDP averages them instead): $K$, times $R$ when summed. Decay in the
        optimizer acts once per ``step()``: 1.

        Parameters
        ----------
        world_size : int
            $R \ge 1$.

        Returns
        -------
        int

        Examples
        --------
        >>> from weightdecay.distributed import SETUPS
        >>> [SETUPS[name].decay_multiplier(4) for name in
        ...  ("ddp-torch-sgd", "ddp-penalty", "summed-penalty", "accumulation-penalty")]
        [1, 1, 4, 2]
        """
        ranks = check_count("world_size", world_size)
        if not self.penalty:
            return 1
        return self.micro_batches * (ranks if self.summed else 1)


_SETUP_LIST = [
    Setup("ddp-torch-sgd", "DDP + torch.optim.SGD(weight_decay)", "torch.optim.SGD"),
    Setup("ddp-torch-adamw", "DDP + torch.optim.AdamW", "torch.optim.AdamW"),
    Setup("ddp-sgd", "DDP + weightdecay.optim.SGD(weight_decay)", "weightdecay.optim.SGD"),
    Setup("ddp-adamw", "DDP + weightdecay.optim.AdamW", "weightdecay.optim.AdamW"),
    Setup("zero-torch-sgd", "DDP + ZeRO(torch.optim.SGD)", "torch.optim.SGD", zero=True),
    Setup("zero-torch-adamw", "DDP + ZeRO(torch.optim.AdamW)", "torch.optim.AdamW", zero=True),
    Setup("zero-sgd", "DDP + ZeRO(weightdecay.optim.SGD)", "weightdecay.optim.SGD", zero=True),
    Setup(
        "zero-adamw", "DDP + ZeRO(weightdecay.optim.AdamW)", "weightdecay.optim.AdamW", zero=True
    ),
    Setup(
        "ddp-penalty",
        "DDP + penalty in each rank's loss, averaged",
        "torch.optim.SGD",
        penalty=True,
    ),
    Setup(
        "ddp-accumulation",
        "DDP + no_sync accumulation (K = 2) + torch.optim.AdamW",
        "torch.optim.AdamW",
        micro_batches=2,
    ),
    Setup(
        "summed-penalty",
        "all_reduce(SUM) + penalty in each rank's loss",
        "torch.optim.SGD",
        penalty=True,
        summed=True,
    ),
    Setup(
        "accumulation-penalty",
        "DDP + no_sync accumulation (K = 2) + penalty in each micro-batch's loss",
        "torch.optim.SGD",
        penalty=True,
        micro_batches=2,
    ),
]
SETUPS: dict[str, Setup] = {setup.name: setup for setup in _SETUP_LIST}
"""Every setup `run_data_parallel` knows, by name; the last two apply the decay too often."""


@dataclass(frozen=True)
class ParallelResult:
    r"""One setup trained on $R$ ranks, against one process on the full batch.

    Attributes
    ----------
    setup : Setup
        What was run.
    world_size : int
        $R$.
    relative_difference : float
        The largest, over the parameter tensors, of
        $\lVert\theta_{\text{ranks}} - \theta_{\text{one}}\rVert_2 /
        \lVert\theta_{\text{one}}\rVert_2$, the reference trained with $\lambda$.
    explained_difference : float
        The same against one process trained with $m\lambda$, $m$ the setup's
        `decay_multiplier` (equal to `relative_difference` when $m = 1$).
    replica_difference : float
        The largest absolute difference between any rank's final parameters and rank 0's.
    tolerance : float
        `TOLERANCE`.
    parameters : tuple of str
        The model's parameter names.
    stepped : tuple of tuple of str
        Per rank, the parameters its (local) optimizer holds and steps.
    decayed : tuple of tuple of str
        Per rank, those of them in a parameter group with ``weight_decay`` > 0.
    shard_sizes : tuple of int
        Per rank, the number of scalars in `stepped`.
    """

    setup: Setup
    world_size: int
    relative_difference: float
    explained_difference: float
    replica_difference: float
    tolerance: float
    parameters: tuple[str, ...]
    stepped: tuple[tuple[str, ...], ...]
    decayed: tuple[tuple[str, ...], ...]
    shard_sizes: tuple[int, ...]

    @property
    def decay_multiplier(self) -> int:
        """How many times one step applies the decay (1 when the setup is correct)."""
        return self.setup.decay_multiplier(self.world_size)

    @property
    def matches(self) -> bool:
        """Whether the ranks' parameters equal one process's within `tolerance`."""
        return self.relative_difference < self.tolerance

    @property
    def sharded(self) -> bool:
        """Whether every parameter is stepped by exactly one rank (ZeRO's partition)."""
        return all(n == 1 for n in owner_counts(self.stepped, self.parameters).values())


def rank_rows(batch_size: int, rank: int, world_size: int) -> slice:
    r"""The rows of a global batch that one rank trains on: its contiguous $1/R$ part.

    Parameters
    ----------
    batch_size : int
        Rows in the global batch; `world_size` must divide it.
    rank : int
        $0 \le r < R$.
    world_size : int
        $R \ge 1$.

    Returns
    -------
    slice

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If `world_size` does not divide `batch_size`, or `rank` is out of range.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.distributed import rank_rows
    >>> rank_rows(32, 1, 2)
    slice(16, 32, None)
    >>> batch = torch.arange(6)
    >>> torch.cat([batch[rank_rows(6, r, 3)] for r in range(3)]).equal(batch)
    True
    """
    rows = check_count("batch_size", batch_size)
    ranks = check_count("world_size", world_size)
    index = check_count("rank", rank, minimum=0)
    if rows % ranks:
        raise ValueError(f"world_size must divide batch_size={rows}, got {world_size!r}")
    if index >= ranks:
        raise ValueError(f"rank must be < world_size={ranks}, got {rank!r}")
    share = rows // ranks
    return slice(index * share, (index + 1) * share)


def owner_counts(shards: Sequence[Sequence[str]], names: Sequence[str]) -> dict[str, int]:
    """How many ranks hold each parameter: all ones when `shards` partition `names`.

    Parameters
    ----------
    shards : sequence of sequence of str
        Per rank, the names of the parameters it holds.
    names : sequence of str
        Every parameter's name.

    Returns
    -------
    dict of str to int
        For each name of `names`, the number of shards that list it.

    Raises
    ------
    ValueError
        If a shard names a parameter that `names` lacks.

    Examples
    --------
    >>> from weightdecay.distributed import owner_counts
    >>> owner_counts([["w1"], ["w2", "b1"]], ["w1", "b1", "w2"])
    {'w1': 1, 'b1': 1, 'w2': 1}
    >>> owner_counts([["w1", "b1"], ["w1", "b1"]], ["w1", "b1", "w2"])
    {'w1': 2, 'b1': 2, 'w2': 0}
    """
    counts = dict.fromkeys(names, 0)
    for rank, shard in enumerate(shards):
        for name in shard:
            if name not in counts:
                raise ValueError(f"shards[{rank}] names an unknown parameter: {name!r}")
            counts[name] += 1
    return counts


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the system's choice).

    Returns
    -------
    int

    Examples
    --------
    >>> from weightdecay.distributed import free_port
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class _Config:
    """What every rank needs: the setups and the run's settings (pickled to the children)."""

    setups: tuple[Setup, ...]
    steps: int
    world_size: int
    weight_decay: float
    seed: int
    port: int
    out_dir: str


def _data(seed: int) -> tuple[Tensor, Tensor]:
    r"""A seeded regression set: $y = \tanh(x^\top a) + 0.1\,\varepsilon$, float64."""
    x = torch.randn(N_ROWS, _IN_FEATURES, generator=torch_generator(seed, "features"))
    a = torch.randn(_IN_FEATURES, 1, generator=torch_generator(seed, "direction"))
    noise = torch.randn(N_ROWS, 1, generator=torch_generator(seed, "noise"))
    return x.double(), (torch.tanh(x @ a) + 0.1 * noise).double()


def _model(seed: int) -> nn.Sequential:
    """``Linear(4, 16) -> Tanh -> Linear(16, 1)``, float64, PyTorch's initialization seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        model = nn.Sequential(nn.Linear(_IN_FEATURES, _HIDDEN), nn.Tanh(), nn.Linear(_HIDDEN, 1))
    return model.double()


def _optimizer(setup: Setup, groups: list[dict[str, Any]], sharded: bool) -> Optimizer:
    """The setup's optimizer on `groups`, wrapped in ZeRO when `sharded`."""
    kind, settings = OPTIMIZERS[setup.optimizer]
    if not sharded:
        return kind(groups, **settings)
    with warnings.catch_warnings():
        # Importing torch.distributed.optim compiles its functional optimizers with
        # torch.jit.script and torch.jit.interface, both deprecated in this torch: a
        # notice about torch's own module, raised in the ranks only (the parent never
        # imports it), and an error there when Python runs with -W error.
        warnings.filterwarnings(
            "ignore",
            message=r"`torch\.jit\.(script|interface)` is deprecated",
            category=DeprecationWarning,
        )
        from torch.distributed.optim import ZeroRedundancyOptimizer
    # ZeRO partitions each group's parameters over the ranks; the rank's local optimizer
    # `kind` gets its part of each group, with the group's weight_decay.
    return ZeroRedundancyOptimizer(groups, optimizer_class=kind, **settings)


@dataclass(frozen=True)
class _RankRun:
    """One rank's final parameters and what its local optimizer stepped and decayed."""

    parameters: list[Tensor]
    stepped: list[str]
    decayed: list[str]


def _train(setup: Setup, config: _Config, *, rank: int, world_size: int, decay: float) -> _RankRun:
    """Train `setup` as rank `rank` of `world_size` (1: one process on the full batch)."""
    x_all, y_all = _data(config.seed)
    model = _model(config.seed)
    names = {id(p): name for name, p in model.named_parameters()}
    weights = decay_groups(model, decay)[0]["params"]
    groups = decay_groups(model, 0.0 if setup.penalty else decay)
    parallel = world_size > 1
    ddp = DistributedDataParallel(model) if parallel and not setup.summed else None
    net: nn.Module = model if ddp is None else ddp
    optimizer = _optimizer(setup, groups, sharded=parallel and setup.zero)
    k = setup.micro_batches if parallel else 1
    rows = rank_rows(BATCH_SIZE, rank, world_size)
    for step in range(config.steps):
        start = step % (N_ROWS // BATCH_SIZE) * BATCH_SIZE
        x, y = x_all[start : start + BATCH_SIZE][rows], y_all[start : start + BATCH_SIZE][rows]
        optimizer.zero_grad()
        for i, (xk, yk) in enumerate(zip(x.chunk(k), y.chunk(k), strict=True)):
            # Under no_sync DDP only accumulates; the last backward pass all-reduces the sum.
            accumulate = ddp.no_sync() if ddp is not None and i < k - 1 else None
            with accumulate or contextlib.nullcontext():
                # $$\frac{1}{K}L_{r,k}$$, or $$\frac{1}{WK}L_{r,k}$$ when the ranks' sum is taken
                loss = (net(xk) - yk).pow(2).mean() / (k * (world_size if setup.summed else 1))
                if setup.penalty:
                    # $$+\frac{\lambda}{2}\lVert w\rVert^2$$, whole, in every backward pass
                    loss = loss + l2_penalty(weights, decay)
                loss.backward()
        if parallel and setup.summed:
            for p in model.parameters():
                assert p.grad is not None
                # $$g = \sum_r g_r$$
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        optimizer.step()
    local: Optimizer = getattr(optimizer, "optim", optimizer)  # ZeRO's local optimizer
    stepped = [names[id(p)] for g in local.param_groups for p in g["params"]]
    decayed = [
        names[id(p)] for g in local.param_groups if g["weight_decay"] > 0 for p in g["params"]
    ]
    return _RankRun([p.detach().clone() for p in model.parameters()], stepped, decayed)


def _worker(rank: int, config: _Config) -> None:
    """One rank: join the gloo group on loopback, train every setup, save the results."""
    torch.set_num_threads(1)
    # Gloo finds its interface through the host name unless told; keep it on loopback.
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{config.port}",
        rank=rank,
        world_size=config.world_size,
        timeout=timedelta(seconds=60),
    )
    try:
        runs = {
            setup.name: _train(
                setup, config, rank=rank, world_size=config.world_size, decay=config.weight_decay
            )
            for setup in config.setups
        }
        payload = {
            name: {"parameters": run.parameters, "stepped": run.stepped, "decayed": run.decayed}
            for name, run in runs.items()
        }
        torch.save(payload, Path(config.out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keep spawned children from re-running the caller's main script.

    The spawn start method executes the parent's ``__main__`` file again in every child
    (as ``__mp_main__``), so that functions defined there can be unpickled. The children
    here run `_worker`, which lives in this module; re-running a script or page that
    calls `run_data_parallel` at top level would have every child start processes of its
    own, which multiprocessing refuses. Without ``__main__.__file__`` it skips that step,
    as it does for an interactive session.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run the reference with one thread, as the ranks do, restoring the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_setups(setups: Sequence[str] | None) -> tuple[Setup, ...]:
    if setups is None:
        return tuple(SETUPS.values())
    if isinstance(setups, str):
        raise TypeError(f"setups must be a sequence of setup names, got the string {setups!r}")
    names = list(setups)
    if not names:
        raise ValueError("setups must name at least one setup, got an empty sequence")
    for name in names:
        if name not in SETUPS:
            raise ValueError(f"setups holds an unknown setup {name!r}; known: {sorted(SETUPS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"setups names a setup twice: {names!r}")
    return tuple(SETUPS[name] for name in names)


def _largest_relative(a: Sequence[Tensor], b: Sequence[Tensor]) -> float:
    """The largest norm-wise relative difference over matching tensors, `b` the reference."""
    return max(relative_error(x, y) for x, y in zip(a, b, strict=True))


def run_data_parallel(
    setups: Sequence[str] | None = None,
    *,
    steps: int = 20,
    world_size: int = 2,
    weight_decay: float = 0.1,
    seed: int = 0,
) -> list[ParallelResult]:
    r"""Train each setup on `world_size` spawned CPU processes and on one, and compare.

    The model is ``Linear(4, 16) -> Tanh -> Linear(16, 1)`` in float64, its weights
    decayed and its biases not (`weightdecay.optim.decay_groups`); the data are 128
    seeded regression rows, taken 32 per step in a fixed order. The reference is the
    same recipe in this process on each full batch (one backward pass, no process group).
    The ranks run in one ``torch.multiprocessing.spawn`` for all setups (gloo,
    ``tcp://127.0.0.1``, one thread each), rank $r$ taking rows `rank_rows` of every
    batch, and save their final parameters for this process to compare.

    Parameters
    ----------
    setups : sequence of str, optional
        Names in `SETUPS`; all of them by default.
    steps : int, default 20
        Optimizer steps.
    world_size : int, default 2
        $R \ge 2$; it and each setup's micro-batches must divide the batch of 32 rows.
    weight_decay : float, default 0.1
        $\lambda > 0$ on the weights.
    seed : int, default 0
        Seeds the data and the initial parameters.

    Returns
    -------
    list of ParallelResult
        One per setup, in the order given.

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or value, naming it.
    RuntimeError
        If this process already belongs to a process group.
    torch.multiprocessing.ProcessRaisedException
        If a rank fails; the message holds the rank's traceback.

    Notes
    -----
    The spawned ranks do not execute the caller's main script again (the spawn start
    method would, to find functions defined there; the ranks need only this module),
    so a script may call this function at top level, without the
    ``if __name__ == "__main__":`` guard that multiprocessing otherwise asks for.
    The port is one that the system reported free just before the ranks start; another
    process taking it in between makes rank 0 fail to listen, and this call raise.

    Examples
    --------
    Training happens on the page about data parallelism; a bad argument fails before
    any process starts:

    >>> from weightdecay.distributed import run_data_parallel
    >>> run_data_parallel(["ddp-sgd"], world_size=3)
    Traceback (most recent call last):
    ...
    ValueError: world_size=3 does not split the batch of 32 rows into ...
    """
    chosen = _check_setups(setups)
    n_steps = check_count("steps", steps)
    ranks = check_count("world_size", world_size, minimum=2)
    lam = check_positive("weight_decay", weight_decay)
    root = check_count("seed", seed, minimum=0)
    for setup in chosen:
        if BATCH_SIZE % (ranks * setup.micro_batches):
            raise ValueError(
                f"world_size={world_size!r} does not split the batch of {BATCH_SIZE} rows into "
                f"{setup.micro_batches} micro-batch(es) per rank, as setup {setup.name!r} needs"
            )
    if dist.is_initialized():
        raise RuntimeError(
            "run_data_parallel starts its own process group; this process already "
            "belongs to one (call torch.distributed.destroy_process_group() first)"
        )
    with tempfile.TemporaryDirectory(prefix="weightdecay-ranks-") as out_dir:
        config = _Config(chosen, n_steps, ranks, lam, root, free_port(), out_dir)
        with _main_script_hidden():
            context = spawn(_worker, args=(config,), nprocs=ranks, join=False)  # type: ignore[no-untyped-call]
        while not context.join():
            pass
        saved = [
            torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True) for r in range(ranks)
        ]
    template = _model(root)
    names = tuple(name for name, _ in template.named_parameters())
    sizes = {name: p.numel() for name, p in template.named_parameters()}
    references: dict[tuple[str, bool, float], list[Tensor]] = {}

    def reference(setup: Setup, decay: float) -> list[Tensor]:
        key = (setup.optimizer, setup.penalty, decay)
        if key not in references:
            with _one_thread():
                run = _train(setup, config, rank=0, world_size=1, decay=decay)
            references[key] = run.parameters
        return references[key]

    results = []
    for setup in chosen:
        runs = [rank_payload[setup.name] for rank_payload in saved]
        final = runs[0]["parameters"]
        multiplier = setup.decay_multiplier(ranks)
        stepped = tuple(tuple(run["stepped"]) for run in runs)
        results.append(
            ParallelResult(
                setup=setup,
                world_size=ranks,
                relative_difference=_largest_relative(final, reference(setup, lam)),
                explained_difference=_largest_relative(final, reference(setup, multiplier * lam)),
                replica_difference=max(max_abs_diff(run["parameters"], final) for run in runs),
                tolerance=TOLERANCE,
                parameters=names,
                stepped=stepped,
                decayed=tuple(tuple(run["decayed"]) for run in runs),
                shard_sizes=tuple(sum(sizes[name] for name in shard) for shard in stepped),
            )
        )
    return results
