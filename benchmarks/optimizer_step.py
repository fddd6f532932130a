"""Time one optimizer step: this package's optimizers against torch.optim's default.

For each optimizer configuration and model size, both implementations get their own
copy of the same float32 parameters and gradients and step in turn, interleaved over
the repeats (the order alternates), after warm-up steps. The report gives each
median, the ratio ours / torch's with a 95% bootstrap interval, and the ratio of each
decayed step to the same implementation's undecayed step.

    python benchmarks/optimizer_step.py            # 1e7 and 1e8 parameters
    python benchmarks/optimizer_step.py --quick    # 1e5 and 1e6, a few repeats
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.stats import bootstrap_ratio
from weightdecay.optim import SGD, Adam, AdamW

CONFIGS: dict[str, tuple[Callable[..., torch.optim.Optimizer], Callable[..., Any], dict[str, Any]]]
CONFIGS = {
    "SGD": (SGD, torch.optim.SGD, {"lr": 1e-3}),
    "SGD wd": (SGD, torch.optim.SGD, {"lr": 1e-3, "weight_decay": 1e-2}),
    "SGD momentum": (SGD, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
    "SGD momentum wd": (SGD, torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-2}),
    "Adam": (Adam, torch.optim.Adam, {"lr": 1e-3}),
    "Adam wd": (Adam, torch.optim.Adam, {"lr": 1e-3, "weight_decay": 1e-2}),
    "AdamW": (AdamW, torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
}
TENSORS_PER_MODEL = 4
BLOCKS = 4


@dataclass(frozen=True)
class Timing:
    """Medians (seconds) of one configuration at one size, with the ratio's interval."""

    config: str
    size: int
    ours: float
    torch: float
    ratio: float
    low: float
    high: float


def _model(size: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for _ in range(TENSORS_PER_MODEL):
        p = torch.randn(size // TENSORS_PER_MODEL, generator=gen).requires_grad_()
        p.grad = torch.randn(p.shape, generator=gen) * 1e-3
        params.append(p)
    return params


def _time_step(optimizer: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    optimizer.step()
    return time.perf_counter() - start


def measure(config: str, size: int, repeats: int, warmup: int = 2) -> Timing:
    """Interleave steps of ours and torch's on identical copies of one model.

    `BLOCKS` blocks of `repeats` steps each, each block on freshly allocated models, the
    allocation order alternating between blocks: where a model's memory lands moves a
    memory-bound step's time by tens of percent, and neither implementation should
    always get the memory allocated first.
    """
    ours_cls, torch_cls, kwargs = CONFIGS[config]
    ours: list[float] = []
    theirs: list[float] = []
    for block in range(BLOCKS):
        makers = [(ours_cls, ours), (torch_cls, theirs)]
        if block % 2 == 1:
            makers.reverse()
        pair = [(make(_model(size, seed=0), **kwargs), sink) for make, sink in makers]
        for _ in range(warmup):
            for optimizer, _sink in pair:
                optimizer.step()
        for rep in range(repeats):
            for optimizer, sink in pair if rep % 2 == 0 else pair[::-1]:
                sink.append(_time_step(optimizer))
        del pair
    low, high = bootstrap_ratio(ours, theirs)
    m_ours, m_torch = statistics.median(ours), statistics.median(theirs)
    return Timing(config, size, m_ours, m_torch, m_ours / m_torch, low, high)


def run(
    sizes: list[int],
    repeats: int,
    log: Callable[[str], None] = print,
    configs: list[str] | None = None,
) -> list[Timing]:
    """Measure each configuration at every size, printing a line as each finishes."""
    results = []
    for size in sizes:
        for config in configs or list(CONFIGS):
            timing = measure(config, size, repeats)
            results.append(timing)
            log(
                f"{config:16s} {size:>11,d}  ours {timing.ours * 1e3:9.2f} ms  "
                f"torch {timing.torch * 1e3:9.2f} ms  ratio {timing.ratio:5.2f} "
                f"[{timing.low:.2f}, {timing.high:.2f}]"
            )
    return results


def decay_overheads(results: list[Timing]) -> list[str]:
    """Each decayed configuration's median against the undecayed one, per implementation."""
    by_key = {(t.config, t.size): t for t in results}
    lines = []
    for decayed, plain in (
        ("SGD wd", "SGD"),
        ("SGD momentum wd", "SGD momentum"),
        ("Adam wd", "Adam"),
        ("AdamW", "Adam"),
    ):
        for size in sorted({t.size for t in results}):
            d, p = by_key[(decayed, size)], by_key[(plain, size)]
            lines.append(
                f"{decayed:16s} / {plain:13s} {size:>11,d}: ours {d.ours / p.ours:5.2f}x, "
                f"torch {d.torch / p.torch:5.2f}x, torch wd / ours wd {d.torch / d.ours:5.2f}x"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per block")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--sizes", nargs="+", type=float, default=None, help="parameter counts")
    args = parser.parse_args(argv)
    sizes = [10**5, 10**6] if args.quick else [10**7, 10**8]
    if args.sizes:
        sizes = [int(s) for s in args.sizes]
    repeats = args.repeats or (3 if args.quick else 5)
    if repeats < 3:
        parser.error(f"--repeats must be >= 3, got {repeats}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, "
          f"{TENSORS_PER_MODEL} tensors per model, "
          f"{BLOCKS} blocks of {repeats} interleaved repeats")  # fmt: skip
    results = run(sizes, repeats, configs=args.configs)
    if set(args.configs) == set(CONFIGS):
        print("\ndecayed step / undecayed step (same implementation):")
        for line in decay_overheads(results):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
