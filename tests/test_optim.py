"""The from-scratch optimizers against torch.optim: every option, 100 steps, float64.

Both sides are fed the same seeded gradient sequence; parameters must agree within
1e-12 norm-wise relative. SGDW's oracle is torch's SGD(weight_decay=0) with the
parameters multiplied by (1 - lr * weight_decay) by hand before each step.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR

from weightdecay.metrics import relative_error
from weightdecay.normalization import NORM_LAYERS
from weightdecay.optim import SGD, Adam, AdamW, decay_groups, decays

STEPS = 100
TOLERANCE = 1e-12


def initial_parameters() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    return [torch.randn(shape, generator=gen, dtype=torch.float64) for shape in shapes]


def gradient_sequence() -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [
        [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in initial_parameters()]
        for _ in range(STEPS)
    ]


GRADIENTS = gradient_sequence()


def train(
    make: Callable[..., torch.optim.Optimizer],
    groups: tuple[dict[str, Any], dict[str, Any]],
    defaults: dict[str, Any],
    *,
    decouple_by_hand: bool = False,
    cosine: bool = False,
    roundtrip_at: int | None = None,
) -> list[torch.Tensor]:
    """Run STEPS steps with two parameter groups (weights, biases) and return the parameters."""
    params = [p.clone().requires_grad_() for p in initial_parameters()]

    def build() -> torch.optim.Optimizer:
        settings = [dict(g) for g in groups]
        if decouple_by_hand:
            for s in settings:
                s["weight_decay"] = 0.0
        param_groups = [
            {"params": [params[0], params[2]], **settings[0]},
            {"params": [params[1], params[3]], **settings[1]},
        ]
        return make(param_groups, **defaults)

    optimizer = build()
    scheduler = CosineAnnealingLR(optimizer, T_max=STEPS) if cosine else None
    for step in range(STEPS):
        if roundtrip_at is not None and step == roundtrip_at:
            saved = copy.deepcopy(optimizer.state_dict())
            optimizer = build()
            optimizer.load_state_dict(saved)
        for p, g in zip(params, GRADIENTS[step], strict=True):
            p.grad = g.clone()
        if decouple_by_hand:
            with torch.no_grad():
                for group, spec in zip(optimizer.param_groups, groups, strict=True):
                    wd = spec.get("weight_decay", defaults.get("weight_decay", 0.0))
                    for p in group["params"]:
                        p.mul_(1 - group["lr"] * wd)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return [p.detach() for p in params]


# SGD: momentum off/on, dampening, Nesterov, maximize, coupled/decoupled, lr, weight_decay.
MOMENTUM_SETTINGS = [
    {"momentum": 0.0},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.1},
    {"momentum": 0.9, "nesterov": True},
]
SGD_CASES = [
    (m, maximize, decoupled, lr, wd)
    for m, maximize, decoupled, lr, wd in itertools.product(
        MOMENTUM_SETTINGS, [False, True], [False, True], [0.01, 0.1], [0.0, 1e-2, 0.5]
    )
]


def sgd_groups(lr: float, wd: float) -> tuple[dict[str, Any], dict[str, Any]]:
    # The second group: half the learning rate, its own decay.
    return {"lr": lr, "weight_decay": wd}, {"lr": lr / 2, "weight_decay": 0.3 * wd + 0.01}


@pytest.mark.parametrize(("momentum", "maximize", "decoupled", "lr", "wd"), SGD_CASES)
@pytest.mark.parametrize("mode", ["plain", "roundtrip", "cosine"])
def test_sgd_matches_torch(
    momentum: dict[str, Any], maximize: bool, decoupled: bool, lr: float, wd: float, mode: str
) -> None:
    groups = sgd_groups(lr, wd)
    extra: dict[str, Any] = {
        "cosine": mode == "cosine",
        "roundtrip_at": 50 if mode == "roundtrip" else None,
    }
    ours = train(SGD, groups, {**momentum, "maximize": maximize, "decoupled": decoupled}, **extra)
    reference = train(
        torch.optim.SGD,
        groups,
        {**momentum, "maximize": maximize},
        decouple_by_hand=decoupled,
        **extra,
    )
    assert relative_error(ours, reference) < TOLERANCE


ADAM_CASES = list(
    itertools.product([False, True], [False, True], [False, True], [1e-3, 1e-2], [0.0, 1e-2, 0.5])
)


@pytest.mark.parametrize(("amsgrad", "maximize", "decoupled", "lr", "wd"), ADAM_CASES)
@pytest.mark.parametrize("mode", ["plain", "roundtrip", "cosine"])
def test_adam_matches_torch(
    amsgrad: bool, maximize: bool, decoupled: bool, lr: float, wd: float, mode: str
) -> None:
    groups = sgd_groups(lr, wd)
    options = {"amsgrad": amsgrad, "maximize": maximize, "decoupled_weight_decay": decoupled}
    extra: dict[str, Any] = {
        "cosine": mode == "cosine",
        "roundtrip_at": 50 if mode == "roundtrip" else None,
    }
    ours = train(Adam, groups, options, **extra)
    reference = train(torch.optim.Adam, groups, options, **extra)
    assert relative_error(ours, reference) < TOLERANCE


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_matches_torch_adamw_with_its_defaults(amsgrad: bool) -> None:
    groups: tuple[dict[str, Any], dict[str, Any]] = ({"lr": 1e-2}, {"lr": 5e-3})
    ours = train(AdamW, groups, {"amsgrad": amsgrad}, roundtrip_at=30)
    reference = train(torch.optim.AdamW, groups, {"amsgrad": amsgrad}, roundtrip_at=30)
    assert relative_error(ours, reference) < TOLERANCE
    assert AdamW([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 1e-2


# Sparse gradients and bad arguments: accept where torch accepts, raise its exception type.


def sparse_outcome(make: Callable[..., torch.optim.Optimizer], **kwargs: Any) -> object:
    """Two steps on a sparse embedding: the final table, or the exception type raised."""
    torch.manual_seed(0)
    embedding = nn.Embedding(10, 3, sparse=True).double()
    try:
        optimizer = make(embedding.parameters(), lr=0.1, **kwargs)
        for _ in range(2):
            optimizer.zero_grad()
            embedding(torch.tensor([1, 2, 2, 7])).pow(2).sum().backward()
            optimizer.step()
    except Exception as error:  # the type is the outcome
        return type(error)
    return embedding.weight.detach().clone()


SPARSE_SGD = [
    {},
    {"weight_decay": 0.1},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"maximize": True},
    {"momentum": 0.9, "weight_decay": 0.1},
]


@pytest.mark.parametrize("kwargs", SPARSE_SGD, ids=str)
def test_sparse_sgd_behaves_like_torch(kwargs: dict[str, Any]) -> None:
    ours, theirs = sparse_outcome(SGD, **kwargs), sparse_outcome(torch.optim.SGD, **kwargs)
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, torch.Tensor), f"torch accepts, ours raised {ours}"
        assert relative_error(ours, theirs) < TOLERANCE
    else:
        assert ours is theirs


def test_sparse_sgdw_equals_manual_decay() -> None:
    # The oracle: torch's SGD without decay, the table multiplied by (1 - lr * wd) by hand.
    ours = sparse_outcome(SGD, weight_decay=0.1, decoupled=True, momentum=0.9)
    torch.manual_seed(0)
    embedding = nn.Embedding(10, 3, sparse=True).double()
    optimizer = torch.optim.SGD(embedding.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        optimizer.zero_grad()
        embedding(torch.tensor([1, 2, 2, 7])).pow(2).sum().backward()
        with torch.no_grad():
            embedding.weight.mul_(1 - 0.1 * 0.1)
        optimizer.step()
    assert isinstance(ours, torch.Tensor)
    assert relative_error(ours, embedding.weight.detach()) < TOLERANCE


@pytest.mark.parametrize(
    ("ours", "theirs"), [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)]
)
@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1}, {"amsgrad": True}], ids=str)
def test_sparse_adam_behaves_like_torch(
    ours: type[torch.optim.Optimizer], theirs: type[torch.optim.Optimizer], kwargs: dict[str, Any]
) -> None:
    assert sparse_outcome(ours, **kwargs) is sparse_outcome(theirs, **kwargs) is RuntimeError


BAD_SGD = [
    {"lr": -0.1},
    {"momentum": -0.5},
    {"weight_decay": -1e-3},
    {"nesterov": True},
    {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
    {"lr": 0.0},
    {"dampening": -1.0},
]
BAD_ADAM = [
    {"lr": -0.1},
    {"betas": (1.0, 0.999)},
    {"betas": (-0.1, 0.999)},
    {"betas": (0.9, 1.0)},
    {"betas": (0, 0.9)},
    {"eps": -1e-8},
    {"weight_decay": -1e-3},
    {"lr": 0.0, "betas": (0.0, 0.0)},
]


def construction_outcome(make: Callable[..., torch.optim.Optimizer], **kwargs: Any) -> object:
    try:
        make([torch.zeros(2, requires_grad=True)], **kwargs)
    except Exception as error:
        return error
    return None


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [(SGD, torch.optim.SGD, k) for k in BAD_SGD]
    + [(Adam, torch.optim.Adam, k) for k in BAD_ADAM]
    + [(AdamW, torch.optim.AdamW, k) for k in BAD_ADAM],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_arguments_accepted_and_refused_as_torch_does(
    ours: Callable[..., torch.optim.Optimizer],
    theirs: Callable[..., torch.optim.Optimizer],
    kwargs: dict[str, Any],
) -> None:
    mine, reference = construction_outcome(ours, **kwargs), construction_outcome(theirs, **kwargs)
    if reference is None:
        assert mine is None, f"torch accepts {kwargs}, ours raised {mine!r}"
        return
    assert type(mine) is type(reference), (mine, reference)
    # Our message names the offending argument.
    name = next(iter(kwargs)) if "nesterov" not in kwargs else "nesterov"
    assert name in str(mine), str(mine)


def test_schedulers_and_state_dict_work() -> None:
    p = torch.zeros(3, requires_grad=True)
    optimizer = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, decoupled=True)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for _ in range(4):
        p.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    state = optimizer.state_dict()
    assert state["param_groups"][0]["decoupled"] is True
    assert "momentum_buffer" in state["state"][0]


# The parameter-group helper.


def test_decay_groups_split_by_the_table() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3),
        nn.BatchNorm2d(2),
        nn.Flatten(),
        nn.Linear(8, 4),
        nn.LayerNorm(4),
        nn.Linear(4, 2, bias=False),
    )
    groups = decay_groups(model, 0.05)
    decayed = {id(p) for p in groups[0]["params"]}
    expected = {id(model[0].weight), id(model[3].weight), id(model[5].weight)}
    assert decayed == expected and groups[0]["weight_decay"] == 0.05
    assert len(groups[1]["params"]) == 2 + 2 + 2 and groups[1]["weight_decay"] == 0.0


def test_decay_groups_embeddings_and_unknown_modules() -> None:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 3), nn.PReLU())
    with pytest.raises(ValueError, match="no decay rule for PReLU"):
        decay_groups(model, 0.1)
    groups = decay_groups(model, 0.1, overrides={nn.PReLU: False})
    assert len(groups[0]["params"]) == 1  # only the Linear weight; embeddings default off
    groups = decay_groups(model, 0.1, embeddings=True, overrides={nn.PReLU: False})
    assert len(groups[0]["params"]) == 2


def test_decay_groups_shared_and_frozen_parameters() -> None:
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)
    second.weight = first.weight  # tied: listed once
    second.bias.requires_grad_(False)  # frozen: left out
    groups = decay_groups(nn.Sequential(first, second), 0.1)
    assert sum(len(g["params"]) for g in groups) == 2
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        decay_groups(first, -0.1)
    with pytest.raises(ValueError, match="no trainable parameters"):
        decay_groups(nn.ReLU(), 0.1)


@pytest.mark.parametrize(
    ("lazy", "shape"), [(nn.LazyBatchNorm1d, (4, 3)), (nn.LazyInstanceNorm2d, (2, 3, 4, 4))]
)
def test_lazy_normalizations_stay_normalizations_once_initialized(
    lazy: type[nn.Module], shape: tuple[int, ...]
) -> None:
    layer = lazy(affine=True)
    assert isinstance(layer, NORM_LAYERS) and not decays(layer, "weight")
    layer(torch.randn(*shape))
    assert type(layer) is not lazy  # it became BatchNorm1d or InstanceNorm2d
    assert isinstance(layer, NORM_LAYERS) and not decays(layer, "weight")


def test_norm_layers_cover_every_batch_and_instance_normalization() -> None:
    """The public list covers every subclass of the two private bases it replaced."""
    pending = [nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm]
    while pending:
        kind = pending.pop()
        pending += kind.__subclasses__()
        if not kind.__name__.startswith("_"):
            assert issubclass(kind, NORM_LAYERS), kind


def test_decays_rnn_and_attention() -> None:
    lstm = nn.LSTM(3, 4)
    assert decays(lstm, "weight_ih_l0") and not decays(lstm, "bias_hh_l0")
    attention = nn.MultiheadAttention(4, 2)
    assert decays(attention, "in_proj_weight") and not decays(attention, "in_proj_bias")


# No temporaries the size of a parameter in a (post-first) SGD step.


def largest_allocation(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the largest CPU allocation during one step (after buffers exist)."""
    from torch.profiler import ProfilerActivity, profile

    optimizer.step()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        optimizer.step()
    return max((e.cpu_memory_usage for e in prof.events()), default=0)


def big_parameters() -> list[torch.Tensor]:
    params = []
    for _ in range(2):
        p = torch.randn(250_000).requires_grad_()
        p.grad = torch.randn(p.shape)
        params.append(p)
    return params


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weight_decay": 0.01},
        {"weight_decay": 0.01, "maximize": True},
        {"weight_decay": 0.01, "momentum": 0.9},
        {"weight_decay": 0.01, "momentum": 0.9, "dampening": 0.1},
        {"weight_decay": 0.01, "momentum": 0.9, "nesterov": True},
        {"weight_decay": 0.01, "momentum": 0.9, "decoupled": True},
    ],
    ids=str,
)
def test_sgd_step_allocates_no_parameter_sized_temporary(kwargs: dict[str, Any]) -> None:
    parameter_bytes = 250_000 * 4
    assert largest_allocation(SGD(big_parameters(), lr=0.1, **kwargs)) < parameter_bytes // 100
    # The measurement sees such temporaries: torch's coupled decay allocates one.
    torch_kwargs = {k: v for k, v in kwargs.items() if k != "decoupled"}
    assert largest_allocation(torch.optim.SGD(big_parameters(), lr=0.1, **torch_kwargs)) >= (
        parameter_bytes
    )


# Decay towards a centre theta_0 (L2-SP), coupled and decoupled.

CENTRE_CASES = [
    (SGD, torch.optim.SGD, {"momentum": 0.9}, "decoupled"),
    (SGD, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, "decoupled"),
    (SGD, torch.optim.SGD, {}, "decoupled"),
    (Adam, torch.optim.Adam, {"amsgrad": True}, "decoupled_weight_decay"),
    (Adam, torch.optim.Adam, {}, "decoupled_weight_decay"),
]


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize(("ours_cls", "torch_cls", "options", "flag"), CENTRE_CASES)
def test_centre_matches_its_oracle(
    ours_cls: Callable[..., torch.optim.Optimizer],
    torch_cls: Callable[..., torch.optim.Optimizer],
    options: dict[str, Any],
    flag: str,
    decoupled: bool,
) -> None:
    """Coupled: torch with weight_decay on the gradient g - lambda theta_0. Decoupled: torch
    without decay, theta <- (1 - lr lambda) theta + lr lambda theta_0 by hand before each step."""
    lr, lam = 0.01, 0.3
    gen = torch.Generator().manual_seed(5)
    centres = [
        torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in initial_parameters()
    ]
    ours_params = [p.clone().requires_grad_() for p in initial_parameters()]
    ref_params = [p.clone().requires_grad_() for p in initial_parameters()]
    ours = ours_cls(
        [{"params": ours_params, "centre": centres}],
        lr=lr, weight_decay=lam, **{flag: decoupled}, **options,
    )  # fmt: skip
    reference = torch_cls(ref_params, lr=lr, weight_decay=0.0 if decoupled else lam, **options)
    for step in range(STEPS):
        for p, g in zip(ours_params, GRADIENTS[step], strict=True):
            p.grad = g.clone()
        ours.step()
        with torch.no_grad():
            for p, g, c in zip(ref_params, GRADIENTS[step], centres, strict=True):
                if decoupled:
                    p.mul_(1 - lr * lam).add_(c, alpha=lr * lam)
                    p.grad = g.clone()
                else:
                    p.grad = g - lam * c
        reference.step()
    assert (
        relative_error([p.detach() for p in ours_params], [p.detach() for p in ref_params])
        < TOLERANCE
    )


def test_centre_is_checked() -> None:
    p = torch.zeros(3, requires_grad=True)
    optimizer = SGD([{"params": [p], "centre": [torch.zeros(2)]}], lr=0.1, weight_decay=0.1)
    p.grad = torch.ones(3)
    with pytest.raises(ValueError, match=r"centre\[0\] must be a tensor of shape \(3,\)"):
        optimizer.step()
    mixed = SGD([{"params": [p], "centre": torch.zeros(3).double()}], lr=0.1, weight_decay=0.1)
    message = r"^centre must be .* dtype torch.float32, got shape \(3,\) and dtype torch.float64"
    with pytest.raises(TypeError, match=message):
        mixed.step()
    other = Adam([{"params": [p], "centre": []}], weight_decay=0.1)
    with pytest.raises(ValueError, match="one tensor per parameter"):
        other.step()
