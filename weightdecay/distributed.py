r"""Weight decay under data parallelism: DDP and ZeRO on CPU processes against one process.

Rank $r$ of $R$ computes the gradient $g_r$ of the mean loss over its $m/R$ rows of a batch of
$m$; ``DistributedDataParallel`` (DDP) averages them into the full batch's gradient,
$\bar g = \frac{1}{R}\sum_r g_r = \nabla L$. The decay then acts once per step: on every
parameter in every rank under DDP, on each rank's shard under ZeRO (``ZeroRedundancyOptimizer``).
Either way the parameters follow one process on the full batch up to rounding, which
`run_data_parallel` measures on separate CPU processes (gloo, loopback only), along with two
setups that apply the decay more than once per step.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.multiprocessing.spawn import start_processes
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer

from weightdecay._checks import check_count, check_positive
from weightdecay.claims import TOLERANCES
from weightdecay.data import derive_seed, torch_generator
from weightdecay.metrics import max_abs_diff, relative_error
from weightdecay.models import Net
from weightdecay.optim import SGD, AdamW, decay_groups
from weightdecay.penalty import l2_penalty

__all__ = [
    "BATCH_SIZE", "N_ROWS", "OPTIMIZERS", "SETUPS", "TOLERANCE", "ParallelResult", "Setup",
    "owner_counts", "run_data_parallel",
]  # fmt: skip

TOLERANCE = TOLERANCES["data_parallel"]["float64"]
"""A correct setup's bound on its relative difference from one process, in float64: the
rounding of another summation order, a random walk over the run (`claims.TOLERANCES`)."""

N_ROWS = 128
"""Rows of the seeded regression set."""

BATCH_SIZE = 32
"""Rows of the global batch of one step, split evenly over the ranks."""

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

    `optimizer` is a key of `OPTIMIZERS`; `zero` shards it with ``ZeroRedundancyOptimizer``
    (inside DDP). `penalty` decays by $\frac{\lambda}{2}\lVert w\rVert^2$ (weights only) added
    whole to the loss of every backward pass, not by the optimizer's ``weight_decay``. `summed`
    replaces DDP by an ``all_reduce`` sum of the gradients after the backward pass, the data
    loss divided by $R$. `micro_batches` $A$ makes $A$ backward passes per rank and step, all
    but the last under DDP's ``no_sync``, the data loss divided by $A$.

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
        r"""How many times one step applies the decay, in units of $\lambda$: 1, $A$ or $AR$.

        A penalty in the loss is differentiated once per backward pass, the $A$ micro-batches'
        gradients summed, and the $R$ ranks' when `summed`; the optimizer decays once a step.

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


_SGD, _ADAMW = "weightdecay.optim.SGD", "weightdecay.optim.AdamW"
_TORCH_SGD, _TORCH_ADAMW = "torch.optim.SGD", "torch.optim.AdamW"
_A2 = "DDP + no_sync accumulation (A = 2) +"
# fmt: off
SETUPS: dict[str, Setup] = {setup.name: setup for setup in (
    Setup("ddp-torch-sgd", "DDP + torch.optim.SGD(weight_decay)", _TORCH_SGD),
    Setup("ddp-torch-adamw", "DDP + torch.optim.AdamW", _TORCH_ADAMW),
    Setup("ddp-sgd", "DDP + weightdecay.optim.SGD(weight_decay)", _SGD),
    Setup("ddp-adamw", "DDP + weightdecay.optim.AdamW", _ADAMW),
    Setup("zero-torch-sgd", "DDP + ZeRO(torch.optim.SGD)", _TORCH_SGD, zero=True),
    Setup("zero-torch-adamw", "DDP + ZeRO(torch.optim.AdamW)", _TORCH_ADAMW, zero=True),
    Setup("zero-sgd", "DDP + ZeRO(weightdecay.optim.SGD)", _SGD, zero=True),
    Setup("zero-adamw", "DDP + ZeRO(weightdecay.optim.AdamW)", _ADAMW, zero=True),
    Setup("ddp-penalty", "DDP + penalty in each rank's loss, averaged", _TORCH_SGD, penalty=True),
    Setup("ddp-accumulation", f"{_A2} torch.optim.AdamW", _TORCH_ADAMW, micro_batches=2),
    Setup("summed-penalty", "all_reduce(SUM) + penalty in each rank's loss", _TORCH_SGD,
          penalty=True, summed=True),
    Setup("accumulation-penalty", f"{_A2} penalty in each micro-batch's loss", _TORCH_SGD,
          penalty=True, micro_batches=2),
)}
# fmt: on
"""Every setup `run_data_parallel` knows, by name; the last two apply the decay too often."""


@dataclass(frozen=True)
class ParallelResult:
    r"""One setup trained on $R$ = `world_size` ranks, against one process on the full batch.

    `relative_difference` is the largest over the parameter tensors of $\lVert\theta_{\text{ranks}}
    - \theta_{\text{one}}\rVert_2 / \lVert\theta_{\text{one}}\rVert_2$, one process trained with
    $\lambda$; `explained_difference` the same with `decay_multiplier` times $\lambda$;
    `replica_difference` the largest absolute difference of any rank's parameters from rank 0's.
    Per rank, `stepped` names the parameters its (local) optimizer steps, `decayed` those of
    them in a group with ``weight_decay`` > 0, and `shard_sizes` counts the scalars stepped.
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


def owner_counts(shards: Sequence[Sequence[str]], names: Sequence[str]) -> dict[str, int]:
    """How many of the ranks' `shards` list each of `names`: all ones for a partition.

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


def _model(seed: int) -> Net:
    """``Linear(4, 16) -> Tanh -> Linear(16, 1)``, float64, PyTorch's initialization seeded."""
    return Net(
        4, 16, 1, 1, seed=derive_seed(seed, "init"), dtype=torch.float64, activation=nn.Tanh
    )


def _optimizer(setup: Setup, groups: list[dict[str, Any]], sharded: bool) -> Optimizer:
    """The setup's optimizer on `groups`, wrapped in ZeRO when `sharded`."""
    kind, settings = OPTIMIZERS[setup.optimizer]
    if not sharded:
        return kind(groups, **settings)
    with warnings.catch_warnings():
        # torch.distributed.optim uses torch.jit, deprecated: an error under python -W error.
        warnings.filterwarnings("ignore", r"`torch\.jit\.(script|interface)`", DeprecationWarning)
        from torch.distributed.optim import ZeroRedundancyOptimizer
    # ZeRO gives the rank's local optimizer `kind` its part of each group, weight_decay kept.
    return ZeroRedundancyOptimizer(groups, optimizer_class=kind, **settings)


def _train(setup: Setup, config: _Config, decay: float, rank: int | None) -> dict[str, Any]:
    """Train `setup` as rank `rank` of the run, or as one process on the full batch (None)."""
    # $$y = \tanh(x^\top a) + 0.1\,z$$, $x$, $a$, $z$ standard normal: seeded float32 draws and
    # arithmetic, then cast to float64
    x = torch.randn(N_ROWS, 4, generator=torch_generator(config.seed, "features"))
    a = torch.randn(4, 1, generator=torch_generator(config.seed, "direction"))
    noise = torch.randn(N_ROWS, 1, generator=torch_generator(config.seed, "noise"))
    x_all, y_all = x.double(), (torch.tanh(x @ a) + 0.1 * noise).double()
    model = _model(config.seed)
    names = {id(p): name for name, p in model.named_parameters()}
    weights = decay_groups(model, decay)[0]["params"]
    groups = decay_groups(model, 0.0 if setup.penalty else decay)
    world_size = 1 if rank is None else config.world_size
    parallel = world_size > 1
    ddp = DistributedDataParallel(model) if parallel and not setup.summed else None
    net: nn.Module = model if ddp is None else ddp
    optimizer = _optimizer(setup, groups, sharded=parallel and setup.zero)
    k = setup.micro_batches if parallel else 1
    share = BATCH_SIZE // world_size  # this rank's contiguous 1/R part of every batch
    rows = slice((rank or 0) * share, ((rank or 0) + 1) * share)
    for step in range(config.steps):
        start = step % (N_ROWS // BATCH_SIZE) * BATCH_SIZE
        x, y = x_all[start : start + BATCH_SIZE][rows], y_all[start : start + BATCH_SIZE][rows]
        optimizer.zero_grad()
        for i, (xk, yk) in enumerate(zip(x.chunk(k), y.chunk(k), strict=True)):
            # Under no_sync DDP only accumulates; the last backward pass all-reduces the sum.
            accumulate = ddp.no_sync() if ddp is not None and i < k - 1 else None
            with accumulate or contextlib.nullcontext():
                # $$\frac{1}{A}L_{r,a}$$, or $$\frac{1}{RA}L_{r,a}$$ when the ranks' sum is taken
                loss = (net(xk) - yk).pow(2).mean() / (k * (world_size if setup.summed else 1))
                if setup.penalty:
                    # $$+\frac{\lambda}{2}\lVert w\rVert^2$$, whole, in every backward pass
                    loss = loss + l2_penalty(weights, decay)
                loss.backward()
        if parallel and setup.summed:
            for p in model.parameters():
                assert p.grad is not None
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)  # $$g = \sum_r g_r$$
        optimizer.step()
    local: Optimizer = getattr(optimizer, "optim", optimizer)  # ZeRO's local optimizer
    groups = local.param_groups
    held = [(names[id(p)], g["weight_decay"] > 0) for g in groups for p in g["params"]]
    return {
        "parameters": [p.detach().clone() for p in model.parameters()],
        "stepped": [name for name, _ in held],
        "decayed": [name for name, decayed in held if decayed],
    }


def _worker(rank: int, config: _Config) -> None:
    """One rank: join the gloo group on loopback, train every setup, save the results."""
    torch.set_num_threads(1)
    # Gloo finds its interface through the host name unless told; keep it on loopback.
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    address, timeout = f"tcp://127.0.0.1:{config.port}", timedelta(seconds=60)
    dist.init_process_group("gloo", address, timeout, config.world_size, rank)
    try:
        runs = {s.name: _train(s, config, config.weight_decay, rank) for s in config.setups}
        torch.save(runs, Path(config.out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _check_setups(setups: Sequence[str] | None) -> tuple[Setup, ...]:
    if isinstance(setups, str):
        raise TypeError(f"setups must be a sequence of setup names, got the string {setups!r}")
    names = list(SETUPS if setups is None else setups)
    if not names:
        raise ValueError("setups must name at least one setup, got an empty sequence")
    for name in names:
        if name not in SETUPS:
            raise ValueError(f"setups holds an unknown setup {name!r}; known: {sorted(SETUPS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"setups names a setup twice: {names!r}")
    return tuple(SETUPS[name] for name in names)


def run_data_parallel(
    setups: Sequence[str] | None = None,
    *,
    steps: int = 20,
    world_size: int = 2,
    weight_decay: float = 0.1,
    seed: int = 0,
) -> list[ParallelResult]:
    r"""Train each setup on `world_size` CPU processes and on one, and compare.

    The model, ``Linear(4, 16) -> Tanh -> Linear(16, 1)`` in float64, has its weights decayed
    by `weight_decay` and its biases not (`weightdecay.optim.decay_groups`); `seed` draws it
    and 128 regression rows, taken 32 per step in a fixed order. The ranks (gloo on
    ``tcp://127.0.0.1``, one thread each) run the `setups` (names in `SETUPS`, all by default)
    in one ``torch.multiprocessing.start_processes`` (forked from a fresh fork server),
    each on its contiguous $1/R$ part of every batch; the reference runs the same recipe
    in this process on the full batches. The ranks do not run the caller's main script
    again, so a script may call this at top level without ``if __name__ == "__main__":``.
    A failing rank raises here, with its traceback.

    Examples
    --------
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
    # A new process runs the parent's __main__ script again (to unpickle what it defines)
    # unless it has no __file__; the ranks need only this module.
    main = sys.modules["__main__"]
    script = getattr(main, "__file__", None) if getattr(main, "__spec__", None) is None else None
    with tempfile.TemporaryDirectory(prefix="weightdecay-ranks-") as out_dir:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))  # a port the system reports free
            port = int(sock.getsockname()[1])
        config = _Config(chosen, n_steps, ranks, lam, root, port, out_dir)
        if script is not None:
            del main.__file__
        try:
            # A fork server: one fresh process imports this module (and torch._dynamo,
            # which torch.optim imports on first use) once; the ranks are forked from it.
            multiprocessing.get_context("forkserver").set_forkserver_preload(
                [__name__, "torch._dynamo"]
            )
            context = start_processes(
                _worker, args=(config,), nprocs=ranks, join=False, start_method="forkserver"
            )  # type: ignore[no-untyped-call]
        finally:
            if script is not None:
                main.__file__ = script
        while not context.join():
            pass
        saved = [torch.load(Path(out_dir, f"rank{r}.pt"), weights_only=True) for r in range(ranks)]
    sizes = {name: p.numel() for name, p in _model(root).named_parameters()}
    references: dict[tuple[str, bool, float], list[torch.Tensor]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the references run on one thread, as the ranks do
    try:
        results = []
        for setup in chosen:
            runs = [rank_runs[setup.name] for rank_runs in saved]
            final, stepped = runs[0]["parameters"], tuple(tuple(r["stepped"]) for r in runs)
            differences = []
            for decay in (lam, setup.decay_multiplier(ranks) * lam):
                key = (setup.optimizer, setup.penalty, decay)
                if key not in references:
                    references[key] = _train(setup, config, decay, None)["parameters"]
                pairs = zip(final, references[key], strict=True)
                differences.append(max(relative_error(a, b) for a, b in pairs))
            replica = max(max_abs_diff(run["parameters"], final) for run in runs)
            decayed = tuple(tuple(run["decayed"]) for run in runs)
            shards = tuple(sum(sizes[name] for name in shard) for shard in stepped)
            relative, explained = differences
            results.append(
                ParallelResult(setup, ranks, relative, explained, replica, TOLERANCE, tuple(sizes),
                               stepped, decayed, shards)
            )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return results
