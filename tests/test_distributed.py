"""Weight decay under data parallelism: two gloo ranks on the CPU against one process.

Every setup runs in one spawn of two processes (a module-scoped fixture, a few seconds).
In float64 the all-reduce averages two partial gradients where one process takes one
mean, so a correct setup differs from one process by rounding only: its parameters must
agree within TOLERANCE (a random-walk rounding bound of about 7e-15), norm-wise relative,
for every parameter tensor. The two faulty setups apply the decay twice per step and must
miss by more than 1e-2, twelve orders of magnitude above it, while matching one process
trained with twice the decay.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from weightdecay.distributed import (
    SETUPS,
    TOLERANCE,
    ParallelResult,
    Setup,
    owner_counts,
    run_data_parallel,
)

WORLD_SIZE = 2
FAULTY = ["summed-penalty", "accumulation-penalty"]
CORRECT = [name for name in SETUPS if name not in FAULTY]
ZERO = [name for name, setup in SETUPS.items() if setup.zero]
DEVIATION = 1e-2


@pytest.fixture(scope="module")
def results() -> dict[str, ParallelResult]:
    return {r.setup.name: r for r in run_data_parallel(world_size=WORLD_SIZE, seed=0)}


def test_tolerance_is_derived_and_tighter_than_before() -> None:
    # sqrt(20 steps * (32 + 16) terms) machine epsilons, below the former fixed 1e-12.
    assert TOLERANCE == math.sqrt(20 * 48) * torch.finfo(torch.float64).eps < 1e-12


def test_every_setup_ran_once(results: dict[str, ParallelResult]) -> None:
    assert list(results) == list(SETUPS)
    assert {name for name, r in results.items() if r.decay_multiplier > 1} == set(FAULTY)


@pytest.mark.parametrize("name", CORRECT)
def test_correct_setup_matches_one_process(results: dict[str, ParallelResult], name: str) -> None:
    result = results[name]
    assert result.decay_multiplier == 1
    assert result.matches, result.relative_difference
    assert result.relative_difference < TOLERANCE


@pytest.mark.parametrize("name", FAULTY)
def test_faulty_setup_decays_twice(results: dict[str, ParallelResult], name: str) -> None:
    result = results[name]
    assert result.decay_multiplier == 2
    assert not result.matches
    assert result.relative_difference > DEVIATION
    # What it computes instead: one process with the decay doubled.
    assert result.explained_difference < TOLERANCE


def test_ranks_end_with_identical_parameters(results: dict[str, ParallelResult]) -> None:
    assert max(r.replica_difference for r in results.values()) == 0.0


@pytest.mark.parametrize("name", ZERO)
def test_zero_shards_are_disjoint_and_cover_the_model(
    results: dict[str, ParallelResult], name: str
) -> None:
    result = results[name]
    assert result.sharded
    assert set(owner_counts(result.stepped, result.parameters).values()) == {1}
    assert all(size > 0 for size in result.shard_sizes)
    assert sum(result.shard_sizes) == 4 * 16 + 16 + 16 + 1
    # Each rank decays only the weights of its shard, and every weight exactly once.
    weights = [name for name in result.parameters if name.endswith("weight")]
    assert owner_counts(result.decayed, weights) == dict.fromkeys(weights, 1)
    for stepped, decayed in zip(result.stepped, result.decayed, strict=True):
        assert set(decayed) == {p for p in stepped if p.endswith("weight")}


def test_without_zero_every_rank_steps_and_decays_everything(
    results: dict[str, ParallelResult],
) -> None:
    for name in ("ddp-torch-sgd", "ddp-adamw", "ddp-accumulation"):
        result = results[name]
        assert not result.sharded
        assert set(owner_counts(result.stepped, result.parameters).values()) == {WORLD_SIZE}
        assert result.decayed == (("0.weight", "2.weight"),) * WORLD_SIZE


def test_parity_holds(results: dict[str, ParallelResult]) -> None:
    """Correct setups match one process, faulty ones match it with the decay multiplied."""
    assert set(results) == set(SETUPS)
    for result in results.values():
        assert result.tolerance == TOLERANCE
        measured = (
            result.relative_difference
            if result.decay_multiplier == 1
            else result.explained_difference
        )
        assert measured < result.tolerance, result.setup.name
    assert max(r.replica_difference for r in results.values()) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"setups": "ddp-sgd"}, TypeError, "setups must be a sequence"),
        ({"setups": []}, ValueError, "at least one setup"),
        ({"setups": ["ddp-nothing"]}, ValueError, "unknown setup 'ddp-nothing'"),
        ({"setups": ["ddp-sgd", "ddp-sgd"]}, ValueError, "names a setup twice"),
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"steps": True}, TypeError, "steps must be an integer"),
        ({"world_size": 1}, ValueError, "world_size must be >= 2, got 1"),
        ({"world_size": 3}, ValueError, "world_size=3 does not split"),
        ({"weight_decay": 0.0}, ValueError, "weight_decay must be > 0"),
        ({"weight_decay": "0.1"}, TypeError, "weight_decay must be a real number"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
    ],
)
def test_bad_arguments_fail_before_any_process_starts(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        run_data_parallel(**kwargs)


def test_setup_options_are_checked() -> None:
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Setup("x", "x", "torch.optim.Adagrad")
    with pytest.raises(ValueError, match="zero=True needs DDP's averaging"):
        Setup("x", "x", "torch.optim.SGD", zero=True, summed=True)
    with pytest.raises(ValueError, match="micro_batches must be >= 1"):
        Setup("x", "x", "torch.optim.SGD", micro_batches=0)


def test_refuses_to_run_inside_a_process_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")  # a group of one, on loopback
    dist.init_process_group(
        "gloo",
        init_method=f"file://{tmp_path / 'store'}",
        rank=0,
        world_size=1,
        timeout=timedelta(seconds=30),
    )
    try:
        with pytest.raises(RuntimeError, match="already belongs to one"):
            run_data_parallel(["ddp-sgd"])
    finally:
        dist.destroy_process_group()
