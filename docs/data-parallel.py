# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Weight decay under data parallelism
#
# Data-parallel training keeps a copy of the model on each of $R$ processes (ranks),
# gives each rank its own part of every batch, and combines the ranks' gradients so
# that the copies stay equal. Weight decay enters that loop at one point, and where
# that point lies decides whether the decay is applied once per step, as on a single
# process, or several times. This page locates it for PyTorch's two common set-ups,
# `DistributedDataParallel` (DDP) and `ZeroRedundancyOptimizer` (ZeRO), with torch's
# optimizers and with this package's, and checks each against one process on the full
# batch. Two faulty variants show what to watch for.
#
# **The set-up.** Two ranks on the CPU, started by `torch.multiprocessing.start_processes`
# (forked from a fork server that has imported the package once) and connected by `torch.distributed` over the gloo backend on the loopback interface.
# The model is `Linear(4, 16) → Tanh → Linear(16, 1)` in float64; its two weights
# decay and its two biases do not (`weightdecay.optim.decay_groups`), with
# $\lambda = 0.1$. The data are 128 seeded regression rows, taken 32 per step for 20
# steps; each rank trains on its own 16 rows of every batch. All setups run in one
# start of the ranks (`weightdecay.distributed.run_data_parallel`); each rank saves its final
# parameters, and the page's own process trains the same recipe on the full batches
# for comparison.

# %%
import pandas as pd
import torch

from weightdecay.claims import TOLERANCES, check
from weightdecay.distributed import (
    BATCH_SIZE,
    N_ROWS,
    OPTIMIZERS,
    SETUPS,
    owner_counts,
    run_data_parallel,
)

WORLD_SIZE, STEPS, DECAY = 2, 20, 0.1

# %% [markdown]
# ## Where the gradient is averaged
#
# Rank $r$ holds a set $\mathcal{S}_r$ of $m/R$ rows of the batch and computes the mean loss
# over them, $L_r = \frac{R}{m}\sum_{i \in \mathcal{S}_r}\ell_i$. DDP registers a hook on the
# gradient accumulator of every parameter. It groups the parameters into buckets (of at
# most `bucket_cap_mb` megabytes, roughly in the reverse order of `model.parameters()`,
# which is about the order in which backward produces them), and as soon as the
# backward pass has produced every gradient in a bucket it starts an all-reduce of
# that bucket, which sums it over the ranks, and divides by $R$, while the backward
# pass carries on through the earlier layers
# ([Li et al., 2020](references.html#li2020ddp); PyTorch's documentation of
# [DistributedDataParallel](https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html)).
# When `loss.backward()` returns, every rank holds
#
# $$\bar g = \frac{1}{R}\sum_{r=1}^{R}\nabla L_r
# = \frac{1}{R}\sum_{r=1}^{R}\frac{R}{m}\sum_{i \in \mathcal{S}_r}\nabla\ell_i
# = \frac{1}{m}\sum_{i=1}^{m}\nabla\ell_i = \nabla L,$$
#
# the gradient of the full batch's mean loss. The middle step needs shards of equal
# size: the mean of equal-size means is the mean of all rows. With unequal shards the
# plain average over ranks gives the rows of the smaller shard more weight. Each row's
# weight in the average of the two ranks' means, read off by autograd for a batch of 32
# rows split evenly and split 24 / 8:

# %%
rows = torch.zeros(BATCH_SIZE, dtype=torch.float64, requires_grad=True)
table = []
row_weights = {}
for cut in (BATCH_SIZE // 2, 3 * BATCH_SIZE // 4):
    # $$\frac{1}{2}\big(\operatorname{mean}(S_0) + \operatorname{mean}(S_1)\big)$$
    mean_of_means = (rows[:cut].mean() + rows[cut:].mean()) / 2
    (weights,) = torch.autograd.grad(mean_of_means, rows)
    row_weights[cut] = weights
    table.append({"split": f"{cut} / {BATCH_SIZE - cut}",
                  "weight of a row of rank 0": weights[0].item(),
                  "weight of a row of rank 1": weights[-1].item(), "1 / B": 1 / BATCH_SIZE})  # fmt: skip
even, uneven = row_weights[BATCH_SIZE // 2], row_weights[3 * BATCH_SIZE // 4]
# The weights sum to 1, so a row of rank 1 above 1/B puts a row of rank 0 below it.
print(check("24 / 8 split: weight of a rank-1 row over 1/B", uneven[-1] * BATCH_SIZE, above=1.0,
            dtype=torch.float64, origin="the prose: the smaller shard weighs more"))  # fmt: skip
# Exact: 1/16 and 1/2 are powers of two, so the even split's weights carry no rounding.
print(check("even split: largest |weight of a row − 1/B|", (even - 1 / BATCH_SIZE).abs().max(),
            equals=0.0, dtype=torch.float64, origin="exact: powers of two"))  # fmt: skip
print(check("24 / 8 split: |weight of a rank-1 row − 3 × weight of a rank-0 row|",
            abs(uneven[-1] - 3 * uneven[0]), equals=0.0, dtype=torch.float64,
            origin="exact, as measured"))  # fmt: skip
pd.DataFrame(table).style.format(precision=6).hide(axis="index")

# %% [markdown]
# Split evenly, every row weighs $1/m$ (asserted); split 24 / 8, a row of the smaller
# shard weighs three times as much as a row of the larger (asserted). Everything below
# uses equal shards.
#
# ## Where the decay happens
#
# The decay is not part of the loss here but of `optimizer.step()`, which each rank
# calls after `backward()` has returned, on the averaged $\bar g$. Coupled decay
# (`SGD`'s `weight_decay`) forms the direction $\bar g + \lambda\theta$; decoupled
# decay (`AdamW`) multiplies $\theta$ by $1 - \eta\lambda$ and then steps on $\bar g$.
# The decay term never passes through the all-reduce, so nothing sums it over the
# ranks: each rank applies it once, to its own copy, from the same $\theta$ and
# $\bar g$ as every other rank, and the copies stay equal. One step of a rank is thus
# one step of a single process on the full batch.
#
# **What ZeRO changes.** `ZeroRedundancyOptimizer` is the first stage of ZeRO
# ([Rajbhandari et al., 2020](references.html#rajbhandari2020)): the optimizer's state
# (momentum buffers, Adam's moments) is split over the ranks instead of copied on each.
# It partitions the parameters, group by group, largest first, each to the rank that
# holds the fewest scalars so far, and every rank builds a local optimizer of the given
# class (`optimizer_class`) on its part of each group, with that group's options
# (PyTorch's documentation of
# [ZeroRedundancyOptimizer](https://pytorch.org/docs/stable/distributed.optim.html)).
# DDP still averages the gradients. In `step()` each rank steps, and so decays, only
# the parameters it owns; then every parameter is broadcast from its owner to the
# other ranks. A parameter is decayed once per step, by one rank, and copied.
#
# The setups, where each applies the decay, and how many times per step (in units of
# $\lambda$, from `Setup.decay_multiplier`):

# %%
table = []
for setup in SETUPS.values():
    combined = "all_reduce(SUM) after backward" if setup.summed else "DDP, mean in backward"
    if setup.penalty:
        where = "the loss of each backward pass"
    elif setup.zero:
        where = "step(), on the owning rank"
    else:
        where = "step(), on every rank"
    table.append({"setup": setup.label, "gradients combined by": combined,
                  "decay applied in": where,
                  "decay per step": f"{setup.decay_multiplier(WORLD_SIZE)}λ"})  # fmt: skip
pd.DataFrame(table).style.hide(axis="index")

# %% [markdown]
# Optimizer settings: SGD with learning rate 0.05 and momentum 0.9, AdamW with learning
# rate 0.01, the same for torch's classes and this package's. A penalty
# $\frac{\lambda}{2}\lVert w\rVert^2$ (weights only) replaces the optimizer's
# `weight_decay` in the setups that put it in the loss; with accumulation each rank runs
# $A = 2$ backward passes of 8 rows per step, the first under DDP's `no_sync`.

# %% tags=["hide"]
# The package's settings the prose quotes: rows, batch and shard sizes, optimizers, A = 2.
assert (
    N_ROWS,
    BATCH_SIZE,
    BATCH_SIZE // WORLD_SIZE,
    {name: settings for name, (_, settings) in OPTIMIZERS.items()},
    {setup.micro_batches for setup in SETUPS.values() if setup.micro_batches > 1},
) == (
    128,
    32,
    16,
    {
        "torch.optim.SGD": {"lr": 0.05, "momentum": 0.9},
        "torch.optim.AdamW": {"lr": 0.01},
        "weightdecay.optim.SGD": {"lr": 0.05, "momentum": 0.9},
        "weightdecay.optim.AdamW": {"lr": 0.01},
    },
    {2},
)

# %% [markdown]
# ## Two ranks against one process
#
# Each setup's final parameters against one process running the same recipe on the
# full batches: the largest norm-wise relative difference over the four parameter
# tensors, $\max_j \lVert\theta_j^{\text{ranks}} - \theta_j^{\text{one}}\rVert_2 /
# \lVert\theta_j^{\text{one}}\rVert_2$. A correct setup differs by rounding only (the
# ranks average two means of 16 rows where one process takes one mean of 32), so the
# bound is a rounding bound: each step sums the batch's 32 rows and the 16 hidden units'
# products in another order, and over the 20 steps these roundings add like a random
# walk, $\sqrt{20\,(32 + 16)}\,\varepsilon$ with $\varepsilon$ the float64 machine
# epsilon (the `data_parallel` entry of `weightdecay.claims.TOLERANCES`; the check lines print
# its value). The two faulty setups are compared with one process whose decay is
# multiplied by the factor in the table above; the last line compares the ranks'
# copies with each other.

# %%
results = run_data_parallel(steps=STEPS, world_size=WORLD_SIZE, weight_decay=DECAY, seed=0)
by_name = {r.setup.name: r for r in results}
for r in results:
    if r.decay_multiplier == 1:
        print(check(f"{r.setup.label} vs one process", r.relative_difference,
                    below=TOLERANCES["data_parallel"], dtype=torch.float64))  # fmt: skip
    else:
        print(check(f"{r.setup.label} vs one process with {r.decay_multiplier}λ",
                    r.explained_difference, below=TOLERANCES["data_parallel"],
                    dtype=torch.float64))  # fmt: skip
print(check("all setups: largest absolute difference between the ranks' parameters",
            max(r.replica_difference for r in results), equals=0.0, dtype=torch.float64,
            origin="exact"))  # fmt: skip
pd.DataFrame(
    {"setup": r.setup.label, "decay per step": f"{r.decay_multiplier}λ",
     "vs one process with λ": r.relative_difference,
     "vs one process with that decay": r.explained_difference,
     "between the ranks": r.replica_difference}
    for r in results
).style.format("{:.2e}", subset=["vs one process with λ", "vs one process with that decay",
                                 "between the ranks"]).hide(axis="index")  # fmt: skip

# %% [markdown]
# Every correct setup matches one process within that bound (asserted): DDP and ZeRO,
# each with torch's SGD and AdamW and with this package's, the penalty in the loss
# averaged by DDP, and accumulation under `no_sync` with the optimizer's decay. At the
# end of every setup the two ranks hold bitwise the same parameters (asserted). The
# table gives every setup's differences.
#
# **The shards.** What each rank's local optimizer holds and steps, and which of those
# parameters sit in the decayed group, under ZeRO and under plain DDP:

# %%
zero_names = [name for name, setup in SETUPS.items() if setup.zero]
zero = by_name[zero_names[0]]
differing = [n for n in zero_names
             if (by_name[n].stepped, by_name[n].decayed) != (zero.stepped, zero.decayed)]  # fmt: skip
ddp = by_name["ddp-torch-adamw"]
table = [
    {"set-up": label, "rank": rank, "parameters stepped": ", ".join(result.stepped[rank]),
     "scalars": result.shard_sizes[rank], "parameters decayed": ", ".join(result.decayed[rank])}
    for label, result in (("DDP + ZeRO", zero), ("DDP", ddp))
    for rank in range(WORLD_SIZE)
]  # fmt: skip

# The partition ZeRO's rule predicts: group by group, largest first, to the emptiest rank.
# The model the set-up describes, Linear(4, 16) -> Tanh -> Linear(16, 1), rebuilt here.
described = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
sizes = {name: p.numel() for name, p in described.named_parameters()}
predicted: list[list[str]] = [[] for _ in range(WORLD_SIZE)]
load = [0] * WORLD_SIZE
for group in (["0.weight", "2.weight"], ["0.bias", "2.bias"]):
    for name in sorted(group, key=lambda n: -sizes[n]):
        owner = load.index(min(load))
        predicted[owner].append(name)
        load[owner] += sizes[name]
misplaced = sum(len(set(p) ^ set(s)) for p, s in zip(predicted, zero.stepped, strict=True))
# What the prose reads off the partition: rank 0 the first layer's weight, rank 1 the rest.
described_shards = [{"0.weight"}, set(sizes) - {"0.weight"}]

weights = [name for name in zero.parameters if name.endswith("weight")]
zero_counts, ddp_counts = owner_counts(zero.decayed, weights), owner_counts(ddp.decayed, weights)
print(check("ZeRO setups whose shards differ from the first ZeRO setup's", len(differing),
            equals=0, origin="exact count"))  # fmt: skip
print(check("ZeRO: parameters stepped by other than exactly one rank", sum(
    c != 1 for c in owner_counts(zero.stepped, zero.parameters).values()), equals=0,
    origin="exact count"))  # fmt: skip
print(check("parameters placed otherwise than ZeRO's rule predicts", misplaced, equals=0,
            origin="exact count"))  # fmt: skip
print(check("ZeRO: scalars per rank, total |difference| from the rule's prediction", sum(
    abs(a - b) for a, b in zip(zero.shard_sizes, load, strict=True)), equals=0,
    origin="exact count"))  # fmt: skip
print(check("ZeRO: parameters placed otherwise than 0.weight on rank 0, the rest on rank 1",
            sum(len(p ^ set(s)) for p, s in zip(described_shards, zero.stepped, strict=True)),
            equals=0, origin="exact count"))  # fmt: skip
print(check("ZeRO: weights decayed by other than exactly one rank", sum(
    c != 1 for c in zero_counts.values()), equals=0, origin="exact count"))  # fmt: skip
print(check("ZeRO: ranks that decay no weight", sum(not shard for shard in zero.decayed),
            equals=0, origin="exact count"))  # fmt: skip
print(check("DDP: weights decayed by other than every rank", sum(
    c != WORLD_SIZE for c in ddp_counts.values()), equals=0, origin="exact count"))  # fmt: skip
print(check("DDP: ranks that do not step every parameter", sum(
    set(shard) != set(ddp.parameters) for shard in ddp.stepped), equals=0,
    origin="exact count"))  # fmt: skip
pd.DataFrame(table).style.hide(axis="index")

# %% [markdown]
# Under ZeRO the two ranks' parameters are disjoint and together cover the model, as
# the rule predicts (asserted, in all four ZeRO setups alike): rank 0 owns the first
# layer's weight, rank 1 everything else. Each rank decays a weight, and each weight is
# decayed by exactly one rank per step (asserted). Under plain DDP both ranks step every
# parameter and decay every weight, each on its own copy (asserted).

# %% [markdown]
# ## What to watch for
#
# ### Decay once per step, not once per rank
#
# A penalty in the loss is fine under DDP, because DDP averages it along with the
# data: $\frac{1}{R}\sum_r\nabla\big(L_r + \frac{\lambda}{2}\lVert w\rVert^2\big)
# = \bar g + \lambda w$ (the "penalty in each rank's loss, averaged" row above). It
# goes wrong when the gradients are summed over the ranks instead, say by a hand-written
# `all_reduce(SUM)` with each rank's data loss divided by $R$ to keep the data part
# right. The data part is then right, but the penalty's gradient arrives once from every rank:
# $\sum_r\nabla\big(\frac{1}{R}L_r + \frac{\lambda}{2}\lVert w\rVert^2\big)
# = \bar g + R\lambda w$, a decay of $R\lambda$.
#
# ### Decay once per step, not once per micro-batch
#
# With gradient accumulation each rank runs $A$ backward passes per step; under
# `no_sync` DDP skips the all-reduce and the gradients accumulate locally, and the last
# backward pass all-reduces their sum. Dividing each micro-batch's data loss by $A$
# keeps the data gradient right, as on one process, but a whole penalty in every
# micro-batch's loss is differentiated $A$ times: a decay of $A\lambda$, the same mistake
# as [gradient accumulation](l2-vs-decay.html#gradient-accumulation) on a single
# process. The optimizer's `weight_decay` acts once per `step()`, after the last
# micro-batch, and needs no scaling (the accumulation row with AdamW above).
#
# The two faulty setups, measured:

# %%
faulty = [r for r in results if r.decay_multiplier > 1]
faulty_names = {"summed-penalty", "accumulation-penalty"}  # the two sections above
print(check("faulty setups: names differing from summed-penalty, accumulation-penalty", len(
    {r.setup.name for r in faulty} ^ faulty_names), equals=0, origin="exact count"))  # fmt: skip
print(check("faulty setups whose decay per step is other than 2λ", sum(
    r.decay_multiplier != 2 for r in faulty), equals=0, origin="exact count"))  # fmt: skip
for r in faulty:
    print(check(f"{r.setup.label} vs one process with λ", r.relative_difference, above=1e-2,
                origin="more than 1%"))  # fmt: skip
    print(check(f"{r.setup.label} vs one process with λ, in units of the bound",
                r.relative_difference / TOLERANCES["data_parallel"]["float64"], above=1e9,
                origin="more than 10⁹ times the bound"))  # fmt: skip
    print(check(f"{r.setup.label} vs one process with {r.decay_multiplier}λ",
                r.explained_difference, below=TOLERANCES["data_parallel"],
                dtype=torch.float64))  # fmt: skip
pd.DataFrame(
    {"setup": r.setup.label, "decay per step": f"{r.decay_multiplier}λ",
     "vs one process with λ": r.relative_difference,
     "vs one process with that decay": r.explained_difference}
    for r in faulty
).style.format("{:.3g}", subset=["vs one process with λ", "vs one process with that decay"]).hide(
    axis="index"
)  # fmt: skip

# %% [markdown]
# Both miss one process with $\lambda$ by more than 1% (asserted), more than $10^9$ times
# the bound the correct setups meet (asserted), and both match one process with
# $2\lambda$ within that bound (asserted): with $R = A = 2$, each applies the decay twice.
#
# ### Scaling the learning rate with the number of ranks
#
# With more ranks the global batch usually grows, and the learning rate is often scaled
# up with it. In PyTorch's parametrization the decay per step is proportional to the
# learning rate: AdamW multiplies the parameters by $1 - \eta\lambda$, and coupled SGD's
# step $\eta(\bar g + \lambda\theta)$ contains $\eta\lambda\theta$. Scaling $\eta$ by
# $R$ at a fixed `weight_decay` therefore decays $R$ times as much per step; keeping
# $\eta\lambda$ means dividing `weight_decay` by $R$. Whether to keep it is a choice
# of tuning, but it is a change in the decay. One step of torch's AdamW and of plain
# SGD (no momentum) on a parameter of ones with zero gradient, where only the decay
# moves it:


# %%
def shrink_per_step(kind: type[torch.optim.Optimizer], lr: float, weight_decay: float) -> float:
    """The fraction by which one step with zero gradient shrinks a parameter of ones."""
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    optimizer = kind([p], lr=lr, weight_decay=weight_decay)
    p.grad = torch.zeros_like(p)
    optimizer.step()
    return 1 - p.detach()[0].item()


table = []
for kind, lr in ((torch.optim.AdamW, 0.01), (torch.optim.SGD, 0.05)):
    base = shrink_per_step(kind, lr, DECAY)
    scaled = shrink_per_step(kind, WORLD_SIZE * lr, DECAY)
    kept = shrink_per_step(kind, WORLD_SIZE * lr, DECAY / WORLD_SIZE)
    # Bound: each shrink is 1 - fl(1 - eta lambda), which one rounding near 1 moves by at
    # most eps, a relative error of eps / shrink; the two shrinks of a ratio and its
    # division add up to at most 3 R eps / base, R = WORLD_SIZE the factor of the rate.
    bound = 3 * WORLD_SIZE * torch.finfo(torch.float64).eps / base
    print(check(f"{kind.__name__}: |shrink at {WORLD_SIZE}η / shrink at η − {WORLD_SIZE}|",
                abs(scaled / base - WORLD_SIZE), below=bound, dtype=torch.float64,
                origin="3Rε / shrink: three roundings of a shrink near 1"))  # fmt: skip
    print(check(f"{kind.__name__}: |shrink at {WORLD_SIZE}η, λ/{WORLD_SIZE} / shrink at η − 1|",
                abs(kept / base - 1), below=bound, dtype=torch.float64,
                origin="3Rε / shrink: three roundings of a shrink near 1"))  # fmt: skip
    for rate, decay, shrink in (
        (lr, DECAY, base),
        (WORLD_SIZE * lr, DECAY, scaled),
        (WORLD_SIZE * lr, DECAY / WORLD_SIZE, kept),
    ):
        table.append({"optimizer": kind.__name__, "lr": rate, "weight_decay": decay,
                      "shrink per step": shrink})  # fmt: skip
pd.DataFrame(table).style.format({"lr": "{:g}", "weight_decay": "{:g}",
                                  "shrink per step": "{:.3g}"}).hide(axis="index")  # fmt: skip

# %% [markdown]
# Doubling the learning rate doubles the shrink per step for both optimizers, and
# halving `weight_decay` with it restores the shrink (both asserted, to within the
# rounding of the shrinks themselves: one rounding of $1 - \eta\lambda$ near 1 can move
# a shrink by $\varepsilon$, a relative error of $\varepsilon$ over the shrink, and a
# ratio of two shrinks carries three such errors at most, $3R\varepsilon$ over the
# smaller shrink. That bound is a worst case; the rounding near 1 often loses nothing of
# $\eta\lambda$, and then the ratios come out exact).
#
# **In short.** Decay belongs to `optimizer.step()`, which runs once per step on every
# rank (DDP) or on the owner of each parameter (ZeRO), after the gradients have been
# averaged. Count how many times a penalty in the loss reaches the gradient of one step
# (micro-batches, ranks summed rather than averaged), and remember that PyTorch's decay
# per step scales with the learning rate.
