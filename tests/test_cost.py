"""The cost benchmark's machinery: exact sizes, equal steps across forms, checked input.

Nothing here times a step or asserts a time: ``make bench`` measures performance and
the page "What decay costs" reports it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import pytest
import torch

from benchmarks.cost.forms import (
    FORMS,
    check_form,
    cost_mlp,
    mlp_width,
    parameter_count,
    training_step,
)
from benchmarks.cost.measure import (
    MEMORY_RESOLUTION,
    OPERATIONS,
    bytes_moved,
    peak_extra,
    time_steps,
)
from benchmarks.cost.run import FULL, QUICK, Bandwidth, StepTiming, process_tasks
from benchmarks.cost.summary import (
    compare,
    memory_check,
    ratios,
    targets,
)
from benchmarks.cost.trace import trace_step
from benchmarks.stats import bootstrap_ratio, format_time
from weightdecay.claims import TOLERANCES
from weightdecay.metrics import relative_error
from weightdecay.prior import log_prior_constant

WIDTH, LR, LAMBD = 5, 0.1, 0.05
F64 = torch.float64

# The network ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 2, 7, 30])
def test_parameter_count_is_the_built_networks(width: int) -> None:
    net = cost_mlp(width)
    assert sum(p.numel() for p in net.parameters()) == parameter_count(width)
    assert max(p.numel() for p in net.parameters()) == width**2


@pytest.mark.parametrize("target", [8, 10**3, 12_345, 10**5, 10**6, 10**8])
def test_width_gives_the_closest_count(target: int) -> None:
    h = mlp_width(target)
    best = min(abs(parameter_count(w) - target) for w in range(max(1, h - 3), h + 4))
    assert abs(parameter_count(h) - target) == best


def test_network_is_seeded_and_leaves_the_global_generator_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = cost_mlp(6, seed=3), cost_mlp(6, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(next(a.parameters()), next(cost_mlp(6, seed=4).parameters()))
    assert next(cost_mlp(6, dtype=F64).parameters()).dtype == F64


# Every form takes the step it should ---------------------------------------------------


def _after(form: str, steps: int) -> list[torch.Tensor]:
    model, step = training_step(form, WIDTH, dtype=F64, lr=LR, lambd=LAMBD)
    for _ in range(steps):
        step()
    return [p.detach().clone() for p in model.parameters()]


SGD_FORMS = [key for key, form in FORMS.items() if form.baseline == "none" and form.decays]


@pytest.mark.parametrize("form", SGD_FORMS)
def test_one_step_of_every_sgd_form_is_the_decayed_step(form: str) -> None:
    """theta - lr (g + lambda theta): the plain step minus lr lambda theta (oracle)."""
    start = [p.detach().clone() for p in training_step("none", WIDTH, dtype=F64)[0].parameters()]
    plain = _after("none", 1)
    oracle = [q - LR * LAMBD * t for q, t in zip(plain, start, strict=True)]
    assert relative_error(_after(form, 1), oracle) < TOLERANCES["penalty_steps"][F64]


@pytest.mark.parametrize("form", SGD_FORMS)
def test_sgd_forms_follow_torch_sgd_weight_decay_over_steps(form: str) -> None:
    bound = TOLERANCES["prior_steps" if form == "prior" else "penalty_steps"][F64]
    assert relative_error(_after(form, 5), _after("sgd", 5)) < bound


def test_our_adamw_follows_torch_adamw() -> None:
    model, step = training_step("ours-adamw", WIDTH, dtype=F64, lr=LR, lambd=LAMBD)
    twin, twin_step = training_step("adamw", WIDTH, dtype=F64, lr=LR, lambd=LAMBD)
    for _ in range(5):
        step()
        twin_step()
    assert relative_error(list(model.parameters()), list(twin.parameters())) < 1e-12


def test_prior_objective_is_the_penalty_plus_its_constant() -> None:
    value = {
        form: float(training_step(form, WIDTH, dtype=F64, lambd=LAMBD)[1]())
        for form in ("penalty", "prior")
    }
    n_terms = 16 * WIDTH  # the batch's targets
    constant = log_prior_constant(parameter_count(WIDTH), LAMBD, n_terms=n_terms)
    assert value["prior"] == pytest.approx(value["penalty"] + constant, rel=1e-13)


def test_every_baseline_is_undecayed_and_in_its_own_family() -> None:
    for form in FORMS.values():
        assert not FORMS[form.baseline].decays
        assert form.decays == (form.key not in ("none", "adamw-none"))


def test_trace_counts_the_coupled_temporary_exactly() -> None:
    plain, coupled, ours = (trace_step(form, 8) for form in ("none", "sgd", "ours-sgdw"))
    unit = 4 * parameter_count(8)
    assert coupled.total_allocated - plain.total_allocated == unit
    assert coupled.moved - plain.moved == 3 * unit  # reads g and theta, writes g + wd theta
    assert ours.total_allocated == plain.total_allocated
    assert sum(ours.moved_by_operation().values()) == ours.moved


# Argument validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mlp_width(5), ValueError, "n_params must be >= 8"),
        (lambda: mlp_width(1000.0), TypeError, "n_params must be an integer"),  # type: ignore[arg-type]
        (lambda: parameter_count(0), ValueError, "width must be >= 1"),
        (lambda: cost_mlp(3, dtype=torch.int64), ValueError, "dtype must be"),
        (lambda: cost_mlp(3, seed=-1), ValueError, "seed must be >= 0"),
        (lambda: check_form("l1"), ValueError, "form must be one of none, sgd"),
        (lambda: check_form(3), TypeError, "form must be a str"),
        (lambda: training_step("sgd", 4, lambd=0.0), ValueError, "lambd must be .* > 0"),
        (lambda: training_step("sgd", 4, lr=float("nan")), ValueError, "lr must be"),
        (lambda: QUICK.replace(isolate="thread"), ValueError, "isolate must be"),
        (lambda: QUICK.replace(sizes=(4,)), ValueError, "sizes must be integers >= 8, got 4"),
        (lambda: QUICK.replace(sizes=()), ValueError, "sizes and forms must be non-empty"),
        (lambda: QUICK.replace(forms=("sgd",)), ValueError, "include 'none', the baseline"),
        (lambda: QUICK.replace(forms=("none", "l1")), ValueError, "form must be one of"),
        (lambda: QUICK.replace(repeats=0), ValueError, "repeats must be integers >= 1"),
        (lambda: QUICK.replace(threads=0), ValueError, "threads must be integers >= 1"),
        (lambda: QUICK.replace(min_time=-1.0), ValueError, "min_time must be >= 0"),
        (lambda: bytes_moved("scale", 10), ValueError, "operation must be one of copy"),
        (lambda: bytes_moved("copy", 0), ValueError, "n_elements must be an integer >= 1"),
        (lambda: bootstrap_ratio([], [1.0]), ValueError, "must be non-empty, got 0 and 1"),
        (lambda: bootstrap_ratio([1.0], [1.0], resamples=0), ValueError, "resamples must"),
    ],
)
def test_arguments_are_validated(
    call: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


# The measuring process's helpers -------------------------------------------------------


def test_steps_are_interleaved_with_the_order_rotating() -> None:
    calls: list[str] = []
    steps = {name: functools.partial(calls.append, name) for name in "abc"}
    times = time_steps(steps, warmup=1, repeats=3, min_time=0.0)
    assert {name: len(t) for name, t in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert "".join(calls) == "abc" + "abc" + "bca" + "cab"  # warm-up, then rotating


def test_peak_memory_sees_a_temporary() -> None:
    extra = peak_extra(lambda: torch.ones(2**24).add_(1.0).sum())  # 64 MiB
    if extra is None:
        pytest.skip("/proc/self/clear_refs cannot be written here")
    assert 63 * 2**20 <= extra <= 72 * 2**20


def test_bytes_moved_counts_each_read_and_write() -> None:
    n = 10**8
    assert bytes_moved("copy", n) == bytes_moved("decay", n) == bytes_moved("decay-foreach", n)
    assert bytes_moved("decay", n) == 8 * n
    assert bytes_moved("coupled-temporary", n) == 12 * n
    assert set(OPERATIONS) == {"copy", "decay", "decay-foreach", "coupled-temporary"}


# Plans ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("isolate", "processes"), [("configuration", 8), ("size", 4), ("round", 2)]
)
def test_processes_cover_every_configuration_once_per_round(isolate: str, processes: int) -> None:
    plan = QUICK.replace(sizes=(100, 1000), forms=("none", "sgd"), rounds=2, isolate=isolate)
    found = process_tasks(plan)
    assert len(found) == processes
    for round_ in (0, 1):
        tasks = [task for r, batch in found if r == round_ for task in batch]
        assert sorted(tasks) == sorted(itertools.product((100, 1000), ("none", "sgd")))
        assert tasks[0][1] == ("none" if round_ == 0 else "sgd")  # odd rounds reversed


def test_plans_cover_the_sizes_they_promise() -> None:
    assert FULL.sizes == tuple(10**k for k in range(3, 9)) and set(FULL.forms) == set(FORMS)
    assert min(FULL.bandwidth_sizes) >= 10**8 and FULL.rounds >= 2
    assert max(QUICK.sizes) <= QUICK.interleave_up_to and len(process_tasks(QUICK)) == 1
    assert all(b > a for a, b in itertools.pairwise(FULL.sizes))


# The summary ---------------------------------------------------------------------------


def _timing(form: str, target: int, times: tuple[float, ...], peak: int | None) -> StepTiming:
    return StepTiming(form, target, mlp_width(target), times, peak)


def test_bandwidth_figures_from_given_times() -> None:
    n = 10**6
    band = Bandwidth(
        n, {"copy": (2e-3, 1e-3, 3e-3), "decay": (1e-3,), "coupled-temporary": (3e-3,)}
    )
    assert band.gb_per_second("copy") == pytest.approx(8 * n / 2e-3 / 1e9)
    assert band.fraction("decay") == pytest.approx(2.0)
    assert band.gb_per_second("coupled-temporary") == pytest.approx(12 * n / 3e-3 / 1e9)
    assert band.tensor_bytes == 4 * n


def test_ratios_are_against_each_family_baseline() -> None:
    steps = [
        _timing("none", 100, (2.0, 2.0), 0),
        _timing("prior", 100, (5.0, 5.0), 0),
        _timing("adamw-none", 100, (4.0,), 0),
        _timing("ours-adamw", 100, (2.0,), 0),
        _timing("sgd", 1000, (1.0,), 0),
    ]
    found = {(q.form, q.reference): q.ratio for q in ratios(steps)}
    assert found == {
        ("none", "none"): 1.0,
        ("prior", "none"): 2.5,
        ("adamw-none", "adamw-none"): 1.0,
        ("ours-adamw", "adamw-none"): 0.5,
    }
    q = compare(steps, "prior", "none", 100)
    assert q.low == q.high == 2.5


def test_memory_check_allows_one_largest_parameter() -> None:
    size = 10**7
    base = _timing("none", size, (1.0,), 10 * 2**20)
    largest = base.largest_bytes
    assert largest == 4 * mlp_width(size) ** 2
    within = _timing("sgd", size, (1.0,), 10 * 2**20 + largest + MEMORY_RESOLUTION)
    over = _timing("sgd", size, (1.0,), 10 * 2**20 + largest + MEMORY_RESOLUTION + 1)
    assert memory_check(within, base) is True
    assert memory_check(over, base) is False
    assert memory_check(_timing("sgd", size, (1.0,), None), base) is None
    assert (
        memory_check(_timing("sgd", 10**3, (1.0,), 10**9), _timing("none", 10**3, (1.0,), 0))
        is None
    )


def test_targets_are_judged_and_missing_ones_reported() -> None:
    size = 10**7
    steps = [
        _timing("none", size, (1.0, 1.0, 1.0), 0),
        _timing("sgd", size, (1.2, 1.2, 1.2), 0),
        _timing("penalty", size, (1.5, 1.5, 1.5), 0),
        _timing("ours-sgd", size, (1.0, 1.0, 1.0), 0),
        _timing("ours-sgdw", size, (1.3, 1.3, 1.3), 0),
    ]
    band = Bandwidth(10**8, {"copy": (1.0,), "decay": (1.5,), "decay-foreach": (1.2,)})
    status = {(t.name, t.where): t.status for t in targets(steps, [band])}
    assert status[("penalty in loss vs optimizer decay", "1e+07, penalty")] == "reported"
    assert status[("penalty in loss vs optimizer decay", "1e+08, penalty")] == "not measured"
    assert status[("ours no slower than torch (ours-sgd / sgd)", "1e+07")] == "met"
    assert status[("ours no slower than torch (ours-sgdw / sgd)", "1e+07")] == "missed"
    assert status[("decay bandwidth / copy bandwidth", "1e+08 entries")] == "missed"
    assert status[("decay-foreach bandwidth / copy bandwidth", "1e+08 entries")] == "met"
    memory = [s for (name, _), s in status.items() if name.startswith("decayed peak")]
    assert memory and set(memory) == {"met"}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.99996, "1.00 s"), (0.9994, "999 ms"), (0.00099996, "1 ms"), (1.2e-7, "0.12 µs")],
)
def test_format_time_picks_the_unit_after_rounding(seconds: float, shown: str) -> None:
    assert format_time(seconds) == shown


def test_bootstrap_interval_is_seeded_and_brackets_the_ratio() -> None:
    a, b = [2.0, 2.2, 1.8, 2.1, 1.9], [1.0, 1.1, 0.9, 1.0, 1.05]
    assert bootstrap_ratio(a, b) == bootstrap_ratio(a, b)
    low, high = bootstrap_ratio(a, b)
    assert low <= 2.0 <= high
