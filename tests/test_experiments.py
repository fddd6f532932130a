"""The two source documents' experiments: every parity claim, with its tolerance.

Tolerances are norm-wise relative unless named MAPE (percent). The experiments run
once per dtype per session (a few seconds each).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from weightdecay import (
    BayesExperiment,
    LinearExperiment,
    prior_variance,
    relative_error,
    run_bayes_experiment,
    run_linear_experiment,
)
from weightdecay.data import make_clusters
from weightdecay.experiments.bayes import _split_like, train_form
from weightdecay.metrics import flatten
from weightdecay.models.mlp import Net
from weightdecay.report import TOLERANCES, assert_checks, bayes_checks, linear_checks
from weightdecay.seeding import derive_seed

DTYPES = [torch.float32, torch.float64]

# The claims' bounds, stated once in weightdecay.tolerances and shared with the site.
LINEAR_MAPE = TOLERANCES["linear_mape"]
LINEAR_STEPS = TOLERANCES["linear_steps"]
PRIOR_STEPS = TOLERANCES["prior_steps"]
FINAL = TOLERANCES["final"]


def test_tolerances_are_no_looser_than_before_they_were_derived() -> None:
    # The fixed bounds these claims had before each was derived from its rounding model.
    before = {
        "linear_mape": {torch.float64: 1e-11, torch.float32: 1e-3},
        "linear_steps": {torch.float64: 1e-13, torch.float32: 1e-6},
        "prior_steps": {torch.float64: 1e-13, torch.float32: 1e-6},
        "final": {torch.float64: 1e-12, torch.float32: 1e-5},
    }
    for name, bounds in before.items():
        for dtype, bound in bounds.items():
            assert TOLERANCES[name][dtype] <= bound, (name, dtype)


@pytest.fixture(scope="session", params=DTYPES, ids=str)
def linear(request: pytest.FixtureRequest) -> LinearExperiment:
    return run_linear_experiment(dtype=request.param)


@pytest.fixture(scope="session", params=DTYPES, ids=str)
def bayes(request: pytest.FixtureRequest) -> BayesExperiment:
    return run_bayes_experiment(dtype=request.param)


# First source document ----------------------------------------------------------------------


def test_copy_makes_predictions_and_loss_identical(linear: LinearExperiment) -> None:
    assert linear.mape_before_copy > 1.0  # independent random initializations differ
    assert linear.mape_after_copy == 0.0
    assert linear.mape_loss_after_copy == 0.0


def test_final_mape_below_tolerance(linear: LinearExperiment) -> None:
    parity = linear.parity()
    bound = LINEAR_MAPE[linear.dtype]
    for key in ("mape_predictions", "mape_weight", "mape_bias"):
        assert parity[key] < bound, (key, parity[key], bound)


def test_float64_logs_agree_to_every_printed_digit() -> None:
    result = run_linear_experiment(dtype=torch.float64)
    lines = result.scratch.log_lines()
    assert len(lines) == 16
    assert lines == result.reference.log_lines()


def test_linear_runs_have_the_seeds_shape(linear: LinearExperiment) -> None:
    assert linear.batch_size == 33 and linear.epochs == 16
    for run in (linear.scratch, linear.reference):
        assert len(run.train_loss) == len(run.valid_loss) == 16
        assert len(run.steps) == 5
        # Training works: validation error falls every epoch at this learning rate.
        assert all(b < a for a, b in zip(run.valid_loss, run.valid_loss[1:], strict=False))


def test_linear_tracked_steps_agree(linear: LinearExperiment) -> None:
    for a, b in zip(linear.scratch.steps, linear.reference.steps, strict=True):
        assert relative_error(a, b) < LINEAR_STEPS[linear.dtype]


def test_report_checks_hold(linear: LinearExperiment, bayes: BayesExperiment) -> None:
    assert_checks(linear_checks(linear))
    assert_checks(bayes_checks(bayes))


def test_report_fails_loudly_on_a_broken_claim(bayes: BayesExperiment) -> None:
    # Compare the prior run against a run with ten times the decay: the checks must fail.
    other = run_bayes_experiment(dtype=bayes.dtype, epochs=1000, weight_decay=0.1)
    broken = BayesExperiment(
        **{**bayes.__dict__, "runs": {**bayes.runs, "sgd": other.runs["sgd"]}}
    )
    with pytest.raises(AssertionError, match="parity check"):
        assert_checks(bayes_checks(broken))


def test_decay_shrinks_the_weight_and_not_the_bias_path() -> None:
    decayed = run_linear_experiment(epochs=4, lambd=1.0)
    plain = run_linear_experiment(epochs=4, lambd=0.0)
    norm = torch.linalg.matrix_norm
    assert norm(decayed.scratch.params["weight"]) < norm(plain.scratch.params["weight"])
    assert decayed.parity()["mape_predictions"] < 1e-11


def test_linear_experiment_is_reproducible() -> None:
    a, b = run_linear_experiment(epochs=2), run_linear_experiment(epochs=2)
    assert a.scratch.log_lines() == b.scratch.log_lines()
    assert torch.equal(a.scratch.final_vector(), b.scratch.final_vector())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lambd": -0.01}, ValueError, r"lambd must be >= 0, got -0\.01"),
        ({"lr": 0.0}, ValueError, "lr must be > 0, got 0.0"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"dtype": torch.float16}, ValueError, "dtype must be torch.float32 or torch.float64"),
        ({"seed": -3}, ValueError, "seed must be >= 0, got -3"),
    ],
)
def test_linear_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        run_linear_experiment(**kwargs)  # type: ignore[arg-type]


# Second source document ---------------------------------------------------------------------


def test_penalty_and_sgd_decay_agree_to_rounding_for_five_steps(
    bayes: BayesExperiment,
) -> None:
    assert len(bayes.runs["penalty"].steps) == 5
    differences = bayes.step_differences("penalty")
    assert max(differences) <= TOLERANCES["penalty_steps"][bayes.dtype]
    # The largest absolute difference is 0 exactly when a step is bitwise identical.
    pairs = zip(differences, bayes.step_max_abs("penalty"), strict=True)
    assert all((d == 0.0) == (m == 0.0) for d, m in pairs)


def test_penalty_steps_tolerance_is_about_eight_units_of_rounding() -> None:
    for dtype in DTYPES:
        assert TOLERANCES["penalty_steps"][dtype] / torch.finfo(dtype).eps == 8


def test_prior_form_tracks_sgd_decay_for_five_steps(bayes: BayesExperiment) -> None:
    differences = bayes.step_differences("prior")
    assert len(differences) == 5
    assert max(differences) < PRIOR_STEPS[bayes.dtype]


@pytest.mark.parametrize(
    ("form", "reference"), [("penalty", "sgd"), ("prior", "sgd"), ("prior", "penalty")]
)
def test_final_parameters_agree(bayes: BayesExperiment, form: str, reference: str) -> None:
    assert bayes.final_difference(form, reference) < FINAL[bayes.dtype]


def test_bayes_setting_is_the_seconds(bayes: BayesExperiment) -> None:
    assert bayes.n_terms == 60 and bayes.epochs == 1000
    assert math.isclose(bayes.tau, prior_variance(0.01, 60), rel_tol=0)
    for run in bayes.runs.values():
        assert len(run.train_loss) == 1000
        assert run.predictions.shape == (100, 1)
        assert run.elapsed > 0


def test_decay_changes_the_solution(bayes: BayesExperiment) -> None:
    # An oracle for "decay does something": the same run without decay ends elsewhere, larger.
    plain = run_bayes_experiment(
        dtype=bayes.dtype, epochs=1000, weight_decay=1e-12, forms=("sgd",)
    ).runs["sgd"]
    decayed = bayes.runs["sgd"]
    assert relative_error(decayed.final_vector(), plain.final_vector()) > 1e-3
    assert torch.linalg.vector_norm(decayed.final_vector()) < torch.linalg.vector_norm(
        plain.final_vector()
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weight_decay": 0.0}, ValueError, "weight_decay must be > 0, got 0.0"),
        ({"lr": -1.0}, ValueError, r"lr must be > 0, got -1\.0"),
        ({"forms": ("sgd", "adam")}, ValueError, "form must be one of"),
        ({"forms": ()}, ValueError, "forms must name at least one form"),
        ({"forms": ("sgd", "sgd")}, ValueError, "must not repeat"),
        ({"grid_points": 1}, ValueError, "grid_points must be >= 2, got 1"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
    ],
)
def test_bayes_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        run_bayes_experiment(**kwargs)  # type: ignore[arg-type]


# Informative prior (L2-SP): decay towards theta_0 in every form.


@pytest.fixture(scope="module")
def l2sp_centre() -> torch.Tensor:
    base = run_bayes_experiment(epochs=5)
    # A centre away from zero: the initialization shifted by a seeded perturbation.
    gen = torch.Generator().manual_seed(11)
    return base.init + 0.5 * torch.randn(base.init.shape, generator=gen, dtype=torch.float64)


@pytest.fixture(scope="module")
def l2sp(l2sp_centre: torch.Tensor) -> BayesExperiment:
    return run_bayes_experiment(epochs=1000, weight_decay=0.05, centre=l2sp_centre)


# At lambda = 0.05 towards a centre the training map amplifies a parameter difference
# about 270-fold over the run (measured below), which the random-walk model of FINAL leaves
# out: A sqrt(S) u for one rounding a step, u = eps / 2, is about 9.6e-13. The check keeps
# the bound it always had, 1e-12, which the amplification test shows is above that figure.
L2SP_FINAL = 1e-12


def centred_amplification(centre_vector: torch.Tensor) -> float:
    """How much 1000 SGD steps of the L2-SP run grow a 1e-9 relative parameter difference."""
    data = make_clusters(seed=0)
    template = Net(seed=derive_seed(0, "init"), dtype=torch.float64)
    a, b = copy.deepcopy(template), copy.deepcopy(template)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in b.parameters():
            p.mul_(1 + 1e-9 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    before = relative_error(flatten(b.parameters()), flatten(a.parameters()))
    centre = _split_like(centre_vector, template)
    for model in (a, b):
        train_form("sgd", model, data, lr=1e-2, weight_decay=0.05, epochs=1000, centre=centre)
    return relative_error(flatten(b.parameters()), flatten(a.parameters())) / before


def test_l2sp_bound_covers_the_runs_own_amplification(l2sp_centre: torch.Tensor) -> None:
    amplification = centred_amplification(l2sp_centre)
    assert amplification > 10  # the dynamics do amplify: the random-walk model is not enough
    eps = torch.finfo(torch.float64).eps
    assert amplification * math.sqrt(1000) * eps / 2 < L2SP_FINAL


@pytest.mark.parametrize(
    ("form", "reference"), [("prior", "sgd"), ("penalty", "sgd"), ("prior", "penalty")]
)
def test_prior_with_mean_equals_l2sp_and_centred_decay(
    l2sp: BayesExperiment, form: str, reference: str
) -> None:
    assert l2sp.final_difference(form, reference) < L2SP_FINAL
    assert max(l2sp.step_differences(form, reference)) < 1e-13


def test_centred_decay_ends_elsewhere_than_decay_to_zero(l2sp: BayesExperiment) -> None:
    plain = run_bayes_experiment(epochs=1000, weight_decay=0.05, forms=("sgd",))
    assert relative_error(l2sp.runs["sgd"].final_vector(), plain.runs["sgd"].final_vector()) > 1e-2


def test_centre_must_match_the_network() -> None:
    with pytest.raises(ValueError, match="centre must be a flat tensor of 261 values"):
        run_bayes_experiment(epochs=1, centre=torch.zeros(5, dtype=torch.float64))


def test_linear_experiment_with_a_centre_keeps_parity() -> None:
    gen = torch.Generator().manual_seed(12)
    centre = torch.randn(6, 3, generator=gen, dtype=torch.float64) * 20
    centred = run_linear_experiment(lambd=1.0, epochs=4, centre=centre)
    plain = run_linear_experiment(lambd=1.0, epochs=4)
    assert centred.parity()["mape_predictions"] < LINEAR_MAPE[torch.float64]
    assert relative_error(centred.scratch.final_vector(), plain.scratch.final_vector()) > 1e-3
