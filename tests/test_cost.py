"""The cost measurement: exact model sizes, equal steps across forms, sane runner fields.

Nothing here asserts a time: performance is measured by benchmarks/decay_cost.py and
reported, never asserted by a timed test.
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from weightdecay.cost.bandwidth import OPERATIONS, Bandwidth, bytes_moved, measure_bandwidth
from weightdecay.cost.forms import FORMS, check_form, make_step
from weightdecay.cost.memory import PeakRSS
from weightdecay.cost.model import cost_mlp, largest_parameter, mlp_widths, parameter_count
from weightdecay.cost.plan import FULL, QUICK
from weightdecay.cost.runner import StepTiming, measure_in_one_process, measure_steps, run_steps
from weightdecay.cost.summary import (
    MEMORY_RESOLUTION,
    bootstrap_ratio,
    format_time,
    memory_check,
    targets,
)
from weightdecay.metrics import relative_error
from weightdecay.prior import log_prior_constant

TOLERANCE = 1e-12


# The model -----------------------------------------------------------------------------


@pytest.mark.parametrize("widths", [[3, 4, 2], [7, 7], [2, 10, 10, 10, 1], [5, 1, 5]])
def test_parameter_count_is_exact(widths: list[int]) -> None:
    net = cost_mlp(widths)
    assert sum(p.numel() for p in net.parameters()) == parameter_count(widths)
    assert max(p.numel() for p in net.parameters()) == largest_parameter(widths)


@pytest.mark.parametrize("target", [10**3, 12_345, 10**5, 10**6, 10**7, 10**8])
def test_widths_give_the_closest_count(target: int) -> None:
    widths = mlp_widths(target)
    (h,) = set(widths)
    assert len(widths) == 5
    best = min(abs(parameter_count([w] * 5) - target) for w in range(max(1, h - 3), h + 4))
    assert abs(parameter_count(widths) - target) == best
    assert abs(parameter_count(widths) - target) / target < 0.1


def test_model_is_seeded_and_leaves_the_global_generator_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = cost_mlp([6, 6, 6], seed=3), cost_mlp([6, 6, 6], seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert cost_mlp([6, 6], dtype=torch.float64)[0].weight.dtype == torch.float64


# Every form takes the step it should -----------------------------------------------------


def _setup(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    net = cost_mlp([6, 5, 5, 4], seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(8, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(8, 4, generator=gen, dtype=torch.float64)
    return net, x, y


def _after_steps(
    form: str, steps: int, lr: float = 0.1, lambd: float = 0.05
) -> list[torch.Tensor]:
    net, x, y = _setup()
    _, step = make_step(form, net, x, y, lr=lr, lambd=lambd)
    for _ in range(steps):
        step()
    return [p.detach().clone() for p in net.parameters()]


def _largest_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(relative_error(p, q) for p, q in zip(a, b, strict=True))


SGD_FORMS = [
    "sgd-foreach", "sgd-single", "sgd-fused", "penalty", "penalty-vector", "prior",
    "ours-sgd", "ours-sgdw",
]  # fmt: skip


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("form", SGD_FORMS)
def test_sgd_forms_match_torch_sgd_weight_decay(form: str, steps: int) -> None:
    """Coupled decay, the penalty, the prior and SGDW take SGD(weight_decay)'s steps."""
    reference = _after_steps("sgd", steps)
    assert _largest_error(_after_steps(form, steps), reference) < TOLERANCE


def test_the_decayed_step_by_hand() -> None:
    """One step is theta - lr (g + lambda theta), g the data loss's gradient."""
    lr, lambd = 0.1, 0.05
    net, x, y = _setup()
    start = [p.detach().clone() for p in net.parameters()]
    torch.nn.functional.mse_loss(net(x), y).backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    by_hand = [t - lr * (g + lambd * t) for t, g in zip(start, grads, strict=True)]
    assert _largest_error(_after_steps("sgd", 1, lr, lambd), by_hand) < TOLERANCE
    plain = [t - lr * g for t, g in zip(start, grads, strict=True)]
    assert _largest_error(_after_steps("none", 1, lr, lambd), plain) < TOLERANCE


def test_ours_adamw_matches_torch_adamw() -> None:
    assert _largest_error(_after_steps("ours-adamw", 3), _after_steps("adamw", 3)) < TOLERANCE
    net, x, y = _setup()
    twin = copy.deepcopy(net)
    _, step = make_step("adamw-none", net, x, y, lr=0.1)
    reference = torch.optim.AdamW(twin.parameters(), lr=0.1, weight_decay=0.0)
    for _ in range(3):
        step()
        reference.zero_grad()
        torch.nn.functional.mse_loss(twin(x), y).backward()
        reference.step()
    assert _largest_error(list(net.parameters()), list(twin.parameters())) < TOLERANCE


def test_prior_objective_is_the_penalty_plus_its_constant() -> None:
    lambd = 0.05
    values = {}
    for form in ("penalty", "prior"):
        net, x, y = _setup()
        _, step = make_step(form, net, x, y, lambd=lambd)
        values[form] = float(step())
    n_params = parameter_count([6, 5, 5, 4])
    constant = log_prior_constant(n_params, lambd, n_terms=8 * 4)
    assert values["prior"] == pytest.approx(values["penalty"] + constant, rel=1e-13)


def test_every_form_has_a_baseline_that_is_undecayed() -> None:
    for form in FORMS.values():
        baseline = FORMS[form.baseline]
        assert not baseline.decays
        assert form.decays == (form.key not in ("none", "adamw-none"))


# Argument validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: mlp_widths(5), ValueError, "n_params must be >= 8"),
        (lambda: mlp_widths(1000.0), TypeError, "n_params must be an integer"),  # type: ignore[arg-type]
        (lambda: mlp_widths(1000, layers=0), ValueError, "layers must be >= 1"),
        (lambda: parameter_count([3]), ValueError, "at least two widths"),
        (lambda: parameter_count([3, 0]), ValueError, r"widths\[1\] must be >= 1"),
        (lambda: parameter_count("34"), TypeError, "widths must be a sequence"),  # type: ignore[arg-type]
        (lambda: cost_mlp([3, 2], dtype=torch.int64), ValueError, "dtype must be"),
        (lambda: check_form("l1"), ValueError, "form must be one of"),
        (lambda: check_form(3), TypeError, "form must be a str"),
        (lambda: make_step("sgd", *_setup(), lambd=0.0), ValueError, "lambd must be > 0"),
        (lambda: make_step("sgd", *_setup(), lr=-1.0), ValueError, "lr must be >= 0"),
        (lambda: measure_steps([]), ValueError, "tasks must be a non-empty"),
        (lambda: measure_steps([(4, "sgd")]), ValueError, "size must be >= 8"),
        (lambda: measure_steps([(100, "sgd")], repeats=0), ValueError, "repeats must be >= 1"),
        (lambda: measure_steps([100]), TypeError, r"tasks\[0\] must be"),  # type: ignore[list-item]
        (
            lambda: measure_in_one_process([(100, "sgd")], bandwidth_sizes=1000),  # type: ignore[arg-type]
            TypeError,
            "bandwidth_sizes must be a sequence",
        ),
        (
            lambda: measure_in_one_process([(100, "sgd")], bandwidth_sizes=[0]),
            ValueError,
            "bandwidth_sizes must be >= 1",
        ),
        (lambda: run_steps([1], ["sgd"], isolate="x"), ValueError, "isolate must"),  # type: ignore[arg-type]
        (lambda: run_steps([], ["sgd"]), ValueError, "sizes must hold"),
        (lambda: run_steps([100], []), ValueError, "forms must name"),
        (lambda: bytes_moved("scale", 10), ValueError, "operation must be one of"),
        (lambda: bytes_moved("copy", 0), ValueError, "n_elements must be >= 1"),
        (lambda: measure_bandwidth(10, repeats=0), ValueError, "repeats must be >= 1"),
        (lambda: bootstrap_ratio([], [1.0]), ValueError, "non-empty"),
    ],
)
def test_arguments_are_validated(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


# The runner ----------------------------------------------------------------------------


def test_runner_returns_sane_fields_on_a_tiny_size() -> None:
    results = measure_steps([(100, "none"), (100, "prior")], repeats=3, warmup=1, threads=1)
    assert [r.form for r in results] == ["none", "prior"]
    for r in results:
        assert r.n_params == parameter_count(mlp_widths(100)) == 80
        assert r.largest == 16 and r.width == 4 and r.threads == 1 and r.batch == 16
        assert len(r.times) >= 3 and all(t > 0 for t in r.times) and r.median > 0
        assert r.peak_bytes is None or r.peak_bytes >= 0
        assert r.memory_method and r.allocator


def test_runner_can_leave_memory_out() -> None:
    (result,) = measure_steps([(100, "sgd")], repeats=2, warmup=1, memory_steps=0, threads=1)
    assert result.peak_bytes is None and result.memory_method == "not measured in this process"
    assert len(result.times) >= 2


def test_peak_memory_sees_a_temporary() -> None:
    # release=False: the test process keeps glibc's default behaviour.
    meter = PeakRSS(release=False)
    extra = meter.measure(lambda: torch.ones(2**24).add_(1.0).sum())  # 64 MiB
    if extra is None:
        pytest.skip(f"no memory measure here: {meter.method}")
    assert 63 * 2**20 <= extra <= 72 * 2**20
    assert meter.measure(lambda: None) is not None


# Bandwidth accounting ----------------------------------------------------------------------


def test_bytes_moved_counts_each_read_and_write() -> None:
    n = 10**8
    assert bytes_moved("copy", n) == bytes_moved("decay", n) == 8 * n
    assert bytes_moved("decay-foreach", n) == 8 * n
    assert bytes_moved("coupled-temporary", n) == 12 * n
    assert bytes_moved("decay", n, element_size=8) == 16 * n
    assert set(OPERATIONS) == {"copy", "decay", "decay-foreach", "coupled-temporary"}


def test_bandwidth_figures_from_given_times() -> None:
    n = 10**6
    band = Bandwidth(n, 4, 1, {
        "copy": (2e-3, 1e-3, 3e-3), "decay": (1e-3, 1e-3, 1e-3),
        "decay-foreach": (4e-3,), "coupled-temporary": (3e-3,),
    })  # fmt: skip
    assert band.median("copy") == 2e-3
    assert band.gb_per_second("copy") == pytest.approx(8 * n / 2e-3 / 1e9)
    assert band.fraction("decay") == pytest.approx(2.0)
    assert band.fraction("decay-foreach") == pytest.approx(0.5)
    assert band.gb_per_second("coupled-temporary") == pytest.approx(12 * n / 3e-3 / 1e9)
    assert band.tensor_bytes == 4 * n


def test_measured_bandwidth_has_every_operation_and_repeat() -> None:
    band = measure_bandwidth(1000, repeats=4, warmup=0)
    assert set(band.seconds) == set(OPERATIONS)
    assert all(len(t) == 4 and min(t) > 0 for t in band.seconds.values())
    assert band.threads == torch.get_num_threads()


# The summary -------------------------------------------------------------------------------


def _timing(form: str, target: int, times: tuple[float, ...], peak: int | None) -> StepTiming:
    widths = mlp_widths(target)
    return StepTiming(form, target, parameter_count(widths), widths[0],
                      largest_parameter(widths), 16, 1, times, peak, "test", "test")  # fmt: skip


def test_memory_check_allows_one_largest_parameter() -> None:
    size = 10**7
    largest = 4 * largest_parameter(mlp_widths(size))
    base = _timing("none", size, (1.0,), 10 * 2**20)
    within = _timing("sgd", size, (1.0,), 10 * 2**20 + largest + MEMORY_RESOLUTION)
    over = _timing("sgd", size, (1.0,), 10 * 2**20 + largest + MEMORY_RESOLUTION + 1)
    assert memory_check(within, base) is True
    assert memory_check(over, base) is False
    assert memory_check(_timing("sgd", size, (1.0,), None), base) is None
    small = _timing("sgd", 10**3, (1.0,), 10**9)
    assert memory_check(small, _timing("none", 10**3, (1.0,), 0)) is None


def test_targets_are_judged_and_missing_ones_reported() -> None:
    size = 10**7
    steps = [
        _timing("none", size, (1.0, 1.0, 1.0), 0),
        _timing("sgd", size, (1.2, 1.2, 1.2), 0),
        _timing("penalty", size, (1.5, 1.5, 1.5), 0),
        _timing("ours-sgd", size, (1.0, 1.0, 1.0), 0),
        _timing("ours-sgdw", size, (1.3, 1.3, 1.3), 0),
    ]
    band = Bandwidth(10**8, 4, 1, {"copy": (1.0,), "decay": (1.5,), "decay-foreach": (1.2,),
                                   "coupled-temporary": (2.0,)})  # fmt: skip
    found = {(t.name, t.where): t for t in targets(steps, [band])}
    statuses = {key: t.status for key, t in found.items()}
    assert statuses[("penalty in loss vs optimizer decay", "1e+07, penalty")] == "reported"
    assert statuses[("penalty in loss vs optimizer decay", "1e+08, penalty")] == "not measured"
    assert statuses[("ours no slower than torch (ours-sgd / sgd)", "1e+07")] == "met"
    assert statuses[("ours no slower than torch (ours-sgdw / sgd)", "1e+07")] == "missed"
    assert statuses[("decay bandwidth / copy bandwidth", "1e+08 entries")] == "missed"
    assert statuses[("decay-foreach bandwidth / copy bandwidth", "1e+08 entries")] == "met"
    memory = [t for t in found.values() if t.name.startswith("decayed peak")]
    assert memory and all(t.status == "met" for t in memory)


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
    assert low <= 2.0 / 1.0 <= high


def test_plans_cover_the_issue_sizes() -> None:
    assert FULL.sizes[0] == 10**3 and FULL.sizes[-1] == 10**8
    assert min(FULL.bandwidth_sizes) >= 10**8
    assert max(QUICK.sizes) <= 10**7
    assert all(b > a for a, b in itertools.pairwise(FULL.sizes))
