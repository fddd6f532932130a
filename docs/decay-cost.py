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
# # What decay costs
#
# Weight decay asks for one multiplication per parameter and step,
# $\theta \leftarrow (1 - \eta\lambda)\,\theta$. What a training step actually pays for it
# depends on where the decay is written. Inside the optimizer it can be one pass over the
# parameters, in place. Written into the loss, as the penalty
# $\frac{\lambda}{2}\lVert\theta\rVert^2$ or as a Gaussian prior of variance
# $\tau = 1/(N\lambda)$, it joins the autograd graph: a chain of elementwise operations
# in the forward pass and their derivatives in the backward pass, nearly each of them a
# new tensor the size of the parameters. Every SGD form below takes the same step,
#
# $$\theta \leftarrow \theta - \eta\,(g + \lambda\theta),$$
#
# with $g$ the gradient of the data loss (the test suite checks that their parameters
# agree after a step in float64); they differ in the memory they allocate and move, and
# so in time.
#
# The page first counts what one step of each form allocates and moves, which is exact
# and the same on every machine, then times one training step (forward, backward,
# update) of each form on networks of growing size, which is neither. Every sentence,
# table and figure that depends on a time begins with "In this build".

# %%
import base64
import copy
import io
import os
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import HTML, Markdown

from benchmarks import cost, stats
from weightdecay import Net, l2_penalty, make_clusters, scaled_negative_log_prior
from weightdecay.claims import Claim, check
from weightdecay.data import derive_seed


def table(df: pd.DataFrame, caption: str, name: str, number: str = "{:.2f}") -> HTML:
    """The DataFrame's own HTML, on one line with its caption first and a fixed id.

    Reproducibility checks mask a timing sentence to the end of its line: on one line,
    a table whose caption begins with "In this build" is masked whole.
    """
    styler = df.style.format(number, subset=df.select_dtypes("number").columns)
    if df.index.name is None:
        styler = styler.hide(axis="index")
    return HTML(styler.set_caption(caption).set_uuid(name).to_html().replace("\n", ""))


def claims(*found: Claim) -> Markdown:
    """The checked claims, one a line."""
    return Markdown("\n".join(f"- {claim}" for claim in found))


# %% [markdown]
# ## The network and the runs
#
# The network is a stack of square linear layers with ReLU between them, $h$ wide,
# trained on the mean squared error of one batch of $m$ examples: with $q$ layers it has
# $D = q\,(h^2 + h)$ parameters, and the benchmark picks the $h$ that brings $D$ closest
# to each target. Every form trains it from the same seed on the same batch. The page
# runs the quick measurement; `make bench` runs the full one.

# %%
plans = {"this page": cost.QUICK, "make bench": cost.FULL}
settings = pd.DataFrame(
    {
        name: {
            "parameter counts": " to ".join(
                f"{cost.parameter_count(cost.mlp_width(s)):,}" for s in (p.sizes[0], p.sizes[-1])
            ),
            "forms": str(len(p.forms)),
            "PyTorch threads": str(p.threads or "PyTorch's default"),
            "processes": f"{p.rounds} round(s), one per {p.isolate}",
            "forms interleaved up to": f"{p.interleave_up_to:,} parameters",
            "timed steps per form": f"at least {p.repeats}, and {p.min_time:g} s",
            "bandwidth, entries per tensor": ", ".join(f"{n:,}" for n in p.bandwidth_sizes),
        }
        for name, p in plans.items()
    }
)
settings.index.name = "setting"
table(
    settings,
    f"The two measurements; in both, q = {cost.LAYERS} layers, m = {cost.BATCH} examples, "
    f"η = {cost.LEARNING_RATE:g} and λ = {cost.WEIGHT_DECAY:g}.",
    "settings",
)

# %% [markdown]
# ## What each form allocates and moves
#
# On a CPU, decay is so little arithmetic that its time is the time to stream tensors
# through the processor: what matters is how many bytes a form reads and writes, and
# how many new tensors it allocates. The table traces the second step of each form on
# the largest network of the page's run, every ATen operation PyTorch executes in the
# forward pass, the backward pass and the update, and reports what the form adds to the
# undecayed step of its family, in units of $4D$ bytes, one float32 copy of the whole
# model. Reading and writing every parameter once is two units.

# %%
width = cost.mlp_width(cost.QUICK.sizes[-1])
traces = {key: cost.trace_step(key, width) for key in cost.FORMS}
D = traces["none"].n_params
unit = 4 * D
alloc, moved, where = {}, {}, {}
for key, form in cost.FORMS.items():
    base, trace = traces[form.baseline], traces[key]
    alloc[key] = (trace.total_allocated - base.total_allocated) / unit
    moved[key] = (trace.moved - base.moved) / unit
    ops, base_ops = trace.moved_by_operation(), base.moved_by_operation()
    change = {op: ops.get(op, 0) - base_ops.get(op, 0) for op in sorted({*ops, *base_ops})}
    where[key] = ", ".join(
        f"{op} {v / unit:+.2f}" for op, v in change.items() if abs(v) >= unit / 20
    )
traffic = pd.DataFrame(
    {
        "form": [f.label for f in cost.FORMS.values()],
        "code": [f.code for f in cost.FORMS.values()],
        "allocates": list(alloc.values()),
        "moves": list(moved.values()),
        "moved by operation": [where[k] or "-" for k in cost.FORMS],
    }
)
table(
    traffic,
    f"Extra bytes of one step over its family's undecayed step, in units of "
    f"4D = {stats.format_bytes(unit)} (D = {D:,}).",
    "traffic",
)

# %%
claims(
    check("torch's SGD(weight_decay) allocates one temporary the size of the model",
          alloc["sgd"], equals=1, origin="exact count of the traced operations"),
    check("with foreach=True it allocates the same", alloc["sgd-foreach"], equals=1,
          origin="exact count"),
    check("on the CPU, torch's default SGD moves what foreach=False moves",
          moved["sgd"] - moved["sgd-single"], equals=0, origin="exact count"),
    check("torch's coupled decay moves three units: reads g and θ, writes g + λθ",
          moved["sgd"], equals=3, origin="exact count"),
    check("fused SGD allocates nothing extra", alloc["sgd-fused"], equals=0,
          origin="exact count"),
    check("this package's SGD allocates nothing extra, coupled or decoupled",
          max(alloc["ours-sgd"], alloc["ours-sgdw"]), equals=0, origin="exact count"),
    check("this package's decay moves two units: reads and writes θ once",
          max(moved["ours-sgd"], moved["ours-sgdw"]), equals=2, origin="exact count"),
    check("AdamW's decay allocates nothing extra, torch's or this package's",
          max(alloc["adamw"], alloc["ours-adamw"]), equals=0, origin="exact count"),
    check("this package's AdamW step allocates one temporary fewer than torch's AdamW(0)",
          alloc["ours-adamw"], equals=-1, origin="exact count"),
    check("the penalty per parameter allocates more than SGD(weight_decay)",
          alloc["penalty"] - alloc["sgd"], above=0, origin="exact count"),
    check("parameters_to_vector allocates more than the penalty per parameter",
          alloc["penalty-vector"] - alloc["penalty"], above=0, origin="exact count"),
    check("the Gaussian prior allocates the most of all",
          alloc["prior"] - max(v for k, v in alloc.items() if k != "prior"), above=0,
          origin="exact count"),
    check("the penalty's pow allocates two units (p² forward, p¹ backward)",
          traces["penalty"].allocated["pow"] / unit, equals=2, origin="exact count"),
    check("parameters_to_vector copies every parameter once (cat)",
          traces["penalty-vector"].allocated["cat"] / unit, equals=1, origin="exact count"),
    check("the prior's validation allocates a byte per parameter (eq)",
          round(traces["prior"].allocated["eq"] / D, 3), equals=1,
          origin="exact count, to a thousandth of a byte: one 0-d comparison besides"),
)  # fmt: skip

# %% [markdown]
# Reading the table from the top:
#
# **Coupled decay in `torch.optim.SGD`.** On the CPU, SGD's default implementation is
# the single-tensor loop (PyTorch's documentation of `torch.optim.SGD`: the foreach
# implementation is the default on CUDA). For each parameter it forms the decayed
# gradient out of place, `grad = grad.add(param, alpha=weight_decay)`, a temporary the
# size of the parameter, then updates $\theta$ in place. With `foreach=True` the
# temporaries of all parameters exist at once; with `fused=True` one kernel reads
# $\theta$ and $g$ and writes $\theta$ and allocates nothing (its schema declares the
# gradients writable too, so the count charges it their write, an upper bound).
#
# **This package's optimizers.** `weightdecay.optim.SGD` applies a term in $\theta$
# itself as a rescaling, so without momentum coupled and decoupled decay both become
# $\theta \leftarrow (1 - \eta\lambda)\,\theta$, in place, followed by the plain update:
# one pass, no allocation. Torch's AdamW decays the same way. (This package's Adam step
# allocates one temporary fewer than torch's, the decay aside: it divides $\sqrt{\tilde v_t}$ by
# the bias correction in place, hence its row's −1 against torch's undecayed AdamW.)
#
# **The penalty in the loss.** Autograd differentiates what it is given. For
# $\frac{\lambda}{2}\sum_p \lVert p\rVert^2$ the forward pass allocates $p^2$ for every
# parameter before summing it, and the backward pass computes the derivative of `pow`
# as a product with $p^{1}$, allocating it and the products before adding $\lambda p$ to
# the data gradient in a new tensor. `torch.nn.utils.parameters_to_vector` first copies
# every parameter into one vector (`torch.cat`), which the backward pass keeps alive and
# splits again.
#
# **The Gaussian prior.** `torch.distributions.Normal.log_prob` evaluates the
# log-density one elementwise operation at a time, each a new tensor, and the backward
# pass retraces the chain. Before that, argument validation (on by default, see
# `torch.distributions.Distribution.set_default_validate_args`) compares $\theta$ with
# itself into a boolean tensor. The result equals the penalty plus a constant
# (`weightdecay.prior`), at the highest cost of all.

# %% [markdown]
# ## One training step, timed
#
# The next cell runs the quick measurement. It starts a fresh Python process, so that
# nothing this page allocated before changes where a step's tensors land, pins the
# number of PyTorch threads, and fixes how glibc's `malloc` reuses freed memory (left to
# adapt, it decides from what was freed before whether a step's temporaries cost fresh
# pages, and a step's time would depend on the order of the forms). It then builds
# every form's network at one size and times their steps interleaved: one step of each
# form in turn, the order rotating, after untimed warm-up steps. Whatever else the
# machine runs then slows all forms alike, so their ratios hold where the times alone
# would not. `make bench` also reports each ratio's 95% bootstrap interval over the
# steps and the peak memory of every step, read from `/proc`.

# %% tags=["timed"]
run = cost.run_plan(cost.QUICK)
print(
    f"{stats.TIMING_PREFIX} the run took {stats.format_seconds(run.seconds)} "
    f"on {run.threads} thread(s)."
)


# %%
def figure_html(fig: plt.Figure, caption: str) -> str:
    """The figure as an inline PNG under its caption, on one line (masked whole)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f"<figure><figcaption>{caption}</figcaption>"
        f'<img src="data:image/png;base64,{data}" alt="{caption}"></figure>'
    )


styles = ["-o", "--s", "-.^", ":v", "-D", "--P", "-.X", ":*", "-h"]
fig, ax = plt.subplots(figsize=(8, 5))
for key, style in zip(cost.QUICK.forms, styles, strict=True):
    points = sorted((r.n_params, r.median) for r in run.steps if r.form == key)
    ax.loglog(*zip(*points, strict=True), style, label=cost.FORMS[key].label, markersize=5)
ax.set(xlabel="parameters $D$", ylabel="median step time (s)")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
HTML(
    figure_html(
        fig,
        f"{stats.TIMING_PREFIX} the median time of one training step (forward, backward, update) "
        "of each form against the parameter count, log-log.",
    )
)

# %%
ratio_of = {(q.target, q.form): q.ratio for q in cost.ratios(run.steps)}
median_of = {(r.target, r.form): r.median for r in run.steps}
n_of = {r.target: r.n_params for r in run.steps}
decayed = [key for key in cost.QUICK.forms if cost.FORMS[key].decays]
ratio_table = pd.DataFrame(
    {f"D = {n_of[s]:,}": [ratio_of[(s, key)] for key in decayed] for s in cost.QUICK.sizes},
    index=pd.Index([cost.FORMS[key].label for key in decayed], name="form"),
)
table(
    ratio_table,
    f"{stats.TIMING_PREFIX} the median step time of each form over that of no decay, whose "
    "steps took "
    + ", ".join(stats.format_time(median_of[(s, "none")]) for s in cost.QUICK.sizes)
    + ".",
    "ratios",
)

# %%
size = cost.QUICK.sizes[-1]
over_sgd = {key: median_of[(size, key)] / median_of[(size, "sgd")] for key in decayed}
costliest = max(decayed, key=lambda key: ratio_of[(size, key)])
Markdown(
    f"{stats.TIMING_PREFIX} at {n_of[size]:,} parameters the costliest form was "
    f"{cost.FORMS[costliest].label}, at {ratio_of[(size, costliest)]:.2f} times the undecayed "
    f"step; the penalty per parameter took {over_sgd['penalty']:.2f} times the step of "
    f"torch's SGD with `weight_decay`, the prior {over_sgd['prior']:.2f} times, and this "
    f"package's SGD (coupled, decoupled) {over_sgd['ours-sgd']:.2f} and "
    f"{over_sgd['ours-sgdw']:.2f} times."
)

# %%
claims(
    check(f"{stats.TIMING_PREFIX} the step with the penalty in the loss was slower than with "
          f"SGD(weight_decay) at {n_of[size]:,} parameters", over_sgd["penalty"], above=1,
          origin="slower: a ratio of medians above 1"),
    check(f"{stats.TIMING_PREFIX} the step with the Gaussian prior was slower than with "
          f"SGD(weight_decay) at {n_of[size]:,} parameters", over_sgd["prior"], above=1,
          origin="slower: a ratio of medians above 1"),
)  # fmt: skip

# %% [markdown]
# At the small end a step's time is mostly Python and dispatch overhead, a fixed cost
# per operation whatever the tensor's size, so there a form costs in proportion to the
# operations it launches: the penalty launches several per parameter, the prior more.
# As $D$ grows that overhead fades and the counts of the trace take over, first at the
# speed of the caches and, once parameters and gradients outgrow them, at the speed of
# memory.
#
# ## The decay update against a copy
#
# The decay update reads and writes every parameter once, so on a machine whose memory
# delivers $B$ bytes per second no implementation decays $D$ float32 parameters faster
# than
#
# $$t_{\text{decay}} \ge \frac{8D}{B}.$$
#
# The yardstick for $B$ is the plainest pass of the same size, a copy `dst.copy_(p)`,
# timed interleaved with `p.mul_(1 - lr * wd)`, torch's `_foreach_mul_` and the
# out-of-place sum of coupled decay. Bandwidth is the bytes an operation must move over
# its median time: the minimum count, since a processor that fetches a cache line before
# overwriting it moves more for the copy's destination and the sum's result, but not for
# the in-place decay, which reads every line it writes anyway. The in-place update can
# therefore report more than the copy's bandwidth.

# %%
band = run.bandwidths[-1]
cache = cost.last_level_cache()
cache_note = ""
if cache is not None:
    verdict = (
        "enough to stream from memory"
        if band.tensor_bytes >= 2 * cache
        else "so part of each pass may be served by the cache, and the bandwidths are an "
        "upper bound"
    )
    cache_note = (
        f" This machine's largest cache holds {stats.format_bytes(cache)}; one tensor of the "
        f"measurement holds {stats.format_bytes(band.tensor_bytes)}, "
        f"{band.tensor_bytes / cache:.1f} times that, {verdict}."
    )
claims(
    check("the decay update must move as many bytes as a copy of the same tensor",
          cost.bytes_moved("decay", band.n_elements) / cost.bytes_moved("copy", band.n_elements),
          equals=1, origin="one read and one write per entry, each"),
    check(f"{stats.TIMING_PREFIX} the decay update reached at least "
          f"{cost.BANDWIDTH_TARGET:.0%} of the copy's bandwidth", band.fraction("decay"),
          at_least=cost.BANDWIDTH_TARGET, origin="the bandwidth target of `make bench`"),
)  # fmt: skip

# %%
Markdown(
    f"{stats.TIMING_PREFIX} on tensors of {band.n_elements:,} float32 entries the decay update "
    f"moved {band.gb_per_second('decay'):.1f} GB/s against the copy's "
    f"{band.gb_per_second('copy'):.1f} GB/s, {band.fraction('decay'):.0%} of it; torch's "
    f"`_foreach_mul_` reached {band.fraction('decay-foreach'):.0%} and the out-of-place sum "
    f"of coupled decay (`{cost.OPERATIONS['coupled-temporary'][0]}`) "
    f"{band.fraction('coupled-temporary'):.0%}, allocation and page faults included." + cache_note
)

# %% [markdown]
# ## The second source's three forms, timed
#
# The second source trains its small network for many epochs in three ways that compute
# the same update ([A Bayesian perspective](bayesian.html)): the penalty in the loss,
# `SGD(weight_decay=λ)`, and minus $1/N$ times the Gaussian prior's log-density. Here is
# the wall-clock time of each loop in float32, the second source's dtype: single
# measurements, not a benchmark.

# %% tags=["timed"]
clusters = make_clusters(seed=0, dtype=torch.float32)
initial = Net(seed=derive_seed(0, "init"), dtype=torch.float32)
epochs, lam = 1000, 1e-2
decay_terms = {  # the three forms: the term added to the loss, and SGD's weight_decay
    "from scratch (penalty in the loss)": (lambda ps: l2_penalty(ps, lam), 0.0),
    "PyTorch (SGD weight_decay)": (lambda ps: 0.0, lam),
    "Bayesian (Gaussian prior)": (
        lambda ps: scaled_negative_log_prior(ps, lam, clusters.y.numel()),
        0.0,
    ),
}
seconds = {}
for label, (decay_term, sgd_decay) in decay_terms.items():
    model = copy.deepcopy(initial)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, weight_decay=sgd_decay)
    start = time.perf_counter()
    for _ in range(epochs):
        optimizer.zero_grad()
        mse = (model(clusters.features) - clusters.y).pow(2).mean()
        (mse + decay_term(model.parameters())).backward()
        optimizer.step()
    seconds[label] = time.perf_counter() - start
times = pd.Series(seconds)
table(
    pd.DataFrame(
        {
            "form": times.index,
            "time": times.map(stats.format_seconds),
            "over the fastest": times / times.min(),
        }
    ),
    f"{stats.TIMING_PREFIX} the wall-clock time of {epochs} epochs of each form, float32.",
    "bayes",
)

# %%
Markdown(
    f"{stats.TIMING_PREFIX} the load average (1, 5 and 15 minutes) was "
    + ", ".join(f"{x:.2f}" for x in run.load_before)
    + " before the measurement and "
    + ", ".join(f"{x:.2f}" for x in run.load_after)
    + f" after it, on {os.cpu_count()} logical cores (a load above their number means other "
    "work shared the processor)."
)

# %% [markdown]
# The [Environment](environment.html) page lists the machine and the versions of this
# build.
