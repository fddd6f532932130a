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
# Weight decay asks for one multiplication per parameter and step. Whether a training
# step pays only for that, or for several extra sweeps over memory and a temporary the
# size of the model, depends on where the decay is computed: inside the optimizer, in
# the loss as a penalty, or in the loss as a Gaussian prior. This page counts what each
# form asks of memory, which is exact and the same in every build, and then times one
# training step (forward, backward, update) of each form, which is neither.
#
# The timings below come from a short run made while this site was built (model sizes
# $10^3$ to $10^6$ parameters, a few steps each). The full measurement, $10^3$ to
# $10^8$ parameters with repeated rounds, is `make bench`
# (`benchmarks/decay_cost.py`); it reports the same tables and judges the targets at
# the sizes where they matter. Every sentence on this page that depends on a time
# begins with "In this build", and every table or figure of times carries those words
# in its caption: those are the parts that change from one build to the next.

# %%
import base64
import io

import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, Markdown

from weightdecay.cost.bandwidth import OPERATIONS, bytes_moved, last_level_cache
from weightdecay.cost.forms import FORMS, LEARNING_RATE, WEIGHT_DECAY
from weightdecay.cost.memory import MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD
from weightdecay.cost.model import LAYERS, cost_mlp, largest_parameter, mlp_widths, parameter_count
from weightdecay.cost.plan import FULL, QUICK, run_plan
from weightdecay.cost.runner import BATCH
from weightdecay.cost.summary import MEMORY_RESOLUTION, format_bytes, format_time, ratios, targets
from weightdecay.cost.trace import trace_step
from weightdecay.environment import describe
from weightdecay.experiments.bayes import FORM_LABELS, run_bayes_experiment
from weightdecay.report import TIMING_PREFIX, format_seconds

# The settings the prose below describes.
assert QUICK.sizes == (10**3, 10**4, 10**5, 10**6) and QUICK.bandwidth_sizes == (10**8,)
assert FULL.sizes == tuple(10**k for k in range(3, 9)) and FULL.bandwidth_sizes == (
    10**8,
    4 * 10**8,
)
assert (QUICK.isolate, QUICK.rounds, FULL.isolate, FULL.rounds) == ("round", 1, "size", 2)
assert QUICK.warmup == FULL.warmup == 3 and QUICK.memory_steps == FULL.memory_steps == 3
assert (STEADY_MMAP_THRESHOLD, MMAP_THRESHOLD, MEMORY_RESOLUTION) == (2**25, 2**16, 2**19)

# %% [markdown]
# ## The timed network
#
# The network is a stack of square linear layers with ReLU between them, $h$ wide,
# trained on the mean squared error of one batch. Each layer holds an $h \times h$
# weight and $h$ biases, so with $q$ layers the model has
#
# $$D = q\,(h^2 + h)$$
#
# parameters, and `mlp_widths` picks the $h$ that brings $D$ closest to a target. The
# largest parameter, one weight, has $h^2$ entries; it sets the memory target below.
# The page's run uses the first four sizes, `make bench` all six.

# %%
rows = [
    "| target | width $h$ | parameters $D$ | largest parameter | float32 | run |",
    "| ---: | ---: | ---: | ---: | ---: | --- |",
]
for target in FULL.sizes:
    widths = mlp_widths(target)
    count, largest = parameter_count(widths), largest_parameter(widths)
    assert count == LAYERS * (widths[0] ** 2 + widths[0])
    if target in QUICK.sizes:  # build it and count: the formula is the model
        net = cost_mlp(widths)
        assert sum(p.numel() for p in net.parameters()) == count
        assert max(p.numel() for p in net.parameters()) == largest
    run_in = "page and `make bench`" if target in QUICK.sizes else "`make bench`"
    rows.append(
        f"| {target:.0e} | {widths[0]:,} | {count:,} | {largest:,} | "
        f"{format_bytes(4 * largest)} | {run_in} |"
    )
Markdown("\n".join(rows))

# %% [markdown]
# Every form below trains the same network from the same seed on the same batch of
# $m = 16$ examples, with learning rate $\eta = 10^{-3}$ and decay $\lambda = 10^{-2}$.
# The SGD forms all take the same step,
#
# $$\theta \leftarrow \theta - \eta\,(g + \lambda\theta),$$
#
# $g$ the gradient of the data loss, and differ only in how they compute it (the test
# suite checks that their parameters agree to $10^{-12}$ after a step in float64); the
# AdamW forms take AdamW's step. Each decayed form is compared with the undecayed form
# of its family.

# %%
code = {
    "none": "`torch.optim.SGD(params, lr)`",
    "sgd": "`torch.optim.SGD(params, lr, weight_decay=λ)`",
    "sgd-foreach": "the same, `foreach=True`",
    "sgd-single": "the same, `foreach=False`",
    "sgd-fused": "the same, `fused=True`",
    "penalty": "`loss + λ/2 * sum(p.pow(2).sum() for p in params)`",
    "penalty-vector": "`loss + λ/2 * parameters_to_vector(params).pow(2).sum()`",
    "prior": "`loss + scaled_negative_log_prior(params, λ, N)`",
    "ours-sgd": "`weightdecay.optim.SGD(params, lr, weight_decay=λ)`",
    "ours-sgdw": "the same, `decoupled=True`",
    "adamw-none": "`torch.optim.AdamW(params, lr, weight_decay=0)`",
    "adamw": "`torch.optim.AdamW(params, lr, weight_decay=λ)`",
    "ours-adamw": "`weightdecay.optim.AdamW(params, lr, weight_decay=λ)`",
}
assert set(code) == set(FORMS) and (LEARNING_RATE, WEIGHT_DECAY, BATCH) == (1e-3, 1e-2, 16)
Markdown(
    "\n".join(
        ["| key | form | code | compared with |", "| --- | --- | --- | --- |"]
        + [
            f"| `{k}` | {f.label} | {code[k]} | "
            f"{FORMS[f.baseline].label if f.decays else '(baseline)'} |"
            for k, f in FORMS.items()
        ]
    )
)

# %% [markdown]
# ## What each form asks of memory
#
# Decay multiplies, adds and nothing more: on a CPU its time is the time to stream
# the parameters through the processor, so what matters is how many bytes a form reads
# and writes, and how many new tensors it allocates (a fresh allocation of more than
# 32 MiB also costs page faults and zeroing by the kernel at every step). The table
# traces the second step of each form on the $10^6$-parameter model, every ATen
# operation PyTorch executes in the forward pass, the backward pass and the update
# (`weightdecay.cost.trace`), and reports what the form adds to the undecayed step of
# its family, in units of $4D$ bytes: one float32 buffer the size of the whole model.
# Reading and writing every parameter once is 2 units.

# %%
trace_widths = mlp_widths(10**6)
D = parameter_count(trace_widths)
unit = 4 * D
traces = {key: trace_step(key, trace_widths) for key in FORMS}
extra_alloc, extra_moved = {}, {}
rows = [
    "| form | allocated | moved (read + written) | where, by operation |",
    "| --- | ---: | ---: | --- |",
]
for key, form in FORMS.items():
    base = traces[form.baseline]
    extra_alloc[key] = traces[key].total_allocated - base.total_allocated
    extra_moved[key] = traces[key].moved - base.moved
    ops = {
        op: traces[key].read.get(op, 0)
        + traces[key].written.get(op, 0)
        - base.read.get(op, 0)
        - base.written.get(op, 0)
        for op in {**base.read, **traces[key].read}  # every operation of either step
    }
    detail = ", ".join(f"`{op}` {v / unit:.2f}" for op, v in ops.items() if abs(v) >= 0.05 * unit)
    rows.append(
        f"| {form.label} | {extra_alloc[key] / unit:.2f} | {extra_moved[key] / unit:.2f} | "
        f"{detail or '-'} |"
    )
# The claims of the text below, checked on the trace.
assert all(
    extra_alloc[k] == 0 for k in ("ours-sgd", "ours-sgdw", "sgd-fused", "adamw", "ours-adamw")
)
assert all(extra_alloc[k] == unit for k in ("sgd", "sgd-single", "sgd-foreach"))
assert extra_moved["ours-sgdw"] == extra_moved["ours-sgd"] == 2 * unit  # one pass: read, write
assert extra_moved["sgd"] == extra_moved["sgd-foreach"] == 3 * unit
assert extra_moved["sgd-fused"] == unit  # the gradients' write its schema allows
assert unit < extra_alloc["penalty"] < extra_alloc["penalty-vector"] < extra_alloc["prior"]
assert extra_moved["penalty"] < extra_moved["penalty-vector"] < extra_moved["prior"]
# On the CPU, torch's default SGD is the single-tensor loop: `add`, not `_foreach_add`.
assert "add" in traces["sgd"].allocated and "_foreach_add" not in traces["sgd"].allocated
assert traces["sgd-foreach"].allocated["_foreach_add"] == unit
# The penalty: p**2 forward and p**1 backward (`pow`), two products, one accumulation.
penalty_ops = traces["penalty"].allocated
assert penalty_ops["pow"] == 2 * unit and penalty_ops["add"] >= unit
assert abs(penalty_ops["mul"] - 2 * unit) < 0.001 * unit
assert traces["penalty-vector"].allocated["cat"] == unit  # a copy of every parameter
assert 0 <= traces["prior"].allocated["eq"] - D < 64  # validation: a bool per parameter
Markdown("\n".join(rows) + f"\n\nUnits of $4D$ = {format_bytes(unit)}, $D$ = {D:,}.")

# %% [markdown]
# Reading the table from the top:
#
# **Coupled decay in `torch.optim.SGD`.** On the CPU, SGD's default implementation is
# the single-tensor loop: PyTorch's documentation of `torch.optim.SGD` (its `foreach`
# argument) says the foreach implementation is tried by default on CUDA, and warns
# that it takes about the size of the parameters more peak memory than the loop,
# its intermediates being a list of tensors rather than one. For each parameter it forms
# the decayed gradient out of place, `grad = grad.add(param, alpha=weight_decay)`,
#
# $$u = g + \lambda\theta \quad\text{(a new tensor: read } g, \theta\text{, write } u\text{)},$$
#
# and then updates $\theta \leftarrow \theta - \eta u$ in place. That is one temporary
# the size of the parameter at a time and one extra pass of 3 units over the plain
# step. With `foreach=True` the temporaries of all parameters exist at once
# (`torch._foreach_add` returns a list): the same traffic, but a peak of $D$ extra
# entries instead of the largest parameter's. With `fused=True` one kernel reads
# $\theta$ and $g$ and writes $\theta$, the decay folded in: it allocates nothing. (The
# count follows each operation's schema, and `_fused_sgd_` declares the gradients
# writable as well as the parameters: its 1 unit of extra traffic is the gradients'
# write it is allowed, an upper bound.)
#
# **This package's optimizers.** `weightdecay.optim.SGD` keeps the direction as a
# linear combination of tensors and applies a term in $\theta$ itself as a rescaling,
# so without momentum, as here, coupled and decoupled decay both become
#
# $$\theta \leftarrow (1 - \eta\lambda)\,\theta \quad\text{(in place: read and write } \theta \text{ once)},$$
#
# followed by the plain update $\theta \leftarrow \theta - \eta g$. The decay update is
# a single in-place pass, 2 units, and allocates nothing; torch's single-tensor AdamW
# does the same with `param.mul_(1 - lr * weight_decay)`. Both updates go through one
# call over the list of parameters (`torch._foreach_mul_`, `torch._foreach_add_`), so
# the table shows the plain update moving from `add_` to `_foreach_add_`: the same
# bytes, fewer Python calls.
#
# **The penalty in the loss, parameter by parameter.** Autograd differentiates what it
# is given. For $\frac{\lambda}{2}\sum_p \lVert p\rVert^2$ the forward pass allocates
# $p^2$ for every parameter before summing it, and the backward pass computes the
# derivative of `pow` as a product, $\delta \cdot 2\,p^{2-1}$ (with $\delta$ the gradient arriving from the sum), allocating $p^{1}$ and
# the products, before adding $\lambda p$ to the data gradient in a new tensor:
#
# $$\frac{\partial}{\partial p}\,\frac{\lambda}{2}\lVert p\rVert^2 = \lambda p,\qquad \text{computed as}\quad \Big(\tfrac{\lambda}{2}\Big)\cdot 2\cdot p^{1}.$$
#
# Each of these is a parameter-sized temporary and a pass over memory.
#
# **Through `parameters_to_vector`.** `torch.nn.utils.parameters_to_vector` returns
# `torch.cat` of every parameter's view: a copy of the whole model into one new
# vector (read $D$, write $D$), which the backward pass of `pow` keeps alive until the
# gradient has flowed back through it, and then splits again.
#
# **The Gaussian prior.** `torch.distributions.Normal.log_prob` evaluates
# $-\frac{(\theta - \theta_0)^2}{2\tau} - \log\sqrt{\tau} - \frac{1}{2}\log 2\pi$ one
# elementwise operation at a time: a subtraction, a square, a negation, a division and
# two more subtractions, each a new tensor the size of the parameter, and the backward
# pass retraces the chain. Before that, argument validation (on by default: see
# `torch.distributions.Distribution.set_default_validate_args` in PyTorch's
# documentation) checks that every entry lies in the support, comparing $\theta$ with
# itself into a boolean tensor of one byte per parameter. The result equals the
# penalty plus a constant (`weightdecay.prior`), at the highest cost of all.

# %% [markdown]
# ## The memory floor
#
# The decay update moves 8 bytes per float32 parameter, so on a machine whose memory
# delivers $B$ bytes per second no implementation can decay $D$ parameters faster than
#
# $$t_{\text{decay}} \ge \frac{8D}{B}.$$
#
# The measure of $B$ is a plain copy of the same size, `dst.copy_(p)`, also 8 bytes
# per entry (one read, one write), timed against `p.mul_(1 - lr * wd)`, torch's
# `_foreach_mul_` (the decoupled decay of its foreach AdamW) and the out-of-place sum
# of coupled decay, `dst.add(p, alpha=wd)` with `dst` in the gradient's place, the
# repeats interleaved (`weightdecay.cost.bandwidth`). The sizes must exceed the
# processor's caches, or the copy measures the cache: the full run uses $10^8$ and
# $4 \cdot 10^8$ entries, the page $10^8$.

# %%
cache = last_level_cache()
n_band = QUICK.bandwidth_sizes[-1]
per_tensor = 4 * n_band
assert bytes_moved("decay", n_band) == bytes_moved("copy", n_band) == 2 * per_tensor
assert {name: r + w for name, (_, r, w) in OPERATIONS.items()}["coupled-temporary"] == 3
if cache is None:
    cache_note = "The caches of this machine are not described by its kernel."
else:
    verdict = (
        "enough to stream from memory"
        if per_tensor >= 2 * cache
        else "which only just exceeds it, so part of a pass may still hit the cache and "
        "the bandwidths below are an upper bound"
    )
    cache_note = (
        f"This machine's largest cache holds {format_bytes(cache)}; a tensor of {n_band:,} "
        f"float32 entries is {format_bytes(per_tensor)}, {per_tensor / cache:.1f} times "
        f"that, {verdict}."
    )
print(cache_note)

# %% [markdown]
# ## One training step, timed
#
# The measuring process pins PyTorch's threads (`torch.set_num_threads`, see PyTorch's
# documentation *CPU threading and TorchScript inference*) and works in two phases
# (`weightdecay.cost.runner`). First memory, in the first round only: for each
# configuration in turn it builds the model, takes two steps, then records the peak
# resident memory of three more as Linux counts it (`VmHWM`, reset by writing to
# `/proc/self/clear_refs`), since PyTorch's CPU allocations are invisible to Python's
# own memory tools. Then time: it
# builds each configuration again, takes three untimed steps, then times steps one by
# one and keeps the median. Memory comes first because a temporary that reuses a
# block freed earlier in the process raises no resident memory; for the timing,
# glibc's allocator is told to reuse freed memory and to map afresh only blocks of
# 32 MiB or more (`weightdecay.cost.memory.fix_allocator`): left to adapt, it decides
# by what was freed before whether a step's temporaries cost fresh pages, and a step's
# time then depends on the order of the configurations. The time of a step can also
# depend on where its tensors land, so `make bench` takes two rounds, the order of the
# forms reversed in the second, and pools the steps of both, in one process per round
# and model size; the page's short run takes one round, in one process, which then
# measures the bandwidths below (their tensors are mapped afresh whatever came before).

# %%
run = run_plan(QUICK)
assert all(t > 0 for r in run.steps for t in r.times)  # every form's step time is positive
assert {(r.target, r.form) for r in run.steps} == {(s, k) for s in QUICK.sizes for k in FORMS}
assert all(r.n_params == parameter_count(mlp_widths(r.target)) for r in run.steps)
assert all(r.peak_bytes is None or r.peak_bytes >= 0 for r in run.steps)
print(
    f"{TIMING_PREFIX} {len(run.steps)} configurations were measured, "
    f"{sum(len(r.times) for r in run.steps):,} timed steps in all, {run.threads} threads "
    f"per process, in {format_seconds(run.seconds)}."
)


# %%
def figure_html(fig: plt.Figure, caption: str) -> str:
    """The figure as an inline PNG under its caption, all on one line.

    Reproducibility checks mask a timing sentence to the end of its line: on one line,
    the figure of this build's times is masked with its caption.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f"<figure><figcaption>{caption}</figcaption>"
        f'<img src="data:image/png;base64,{data}" alt="{caption}"></figure>'
    )


families = {
    "SGD: optimizer decay and decay in the loss": [
        k for k, f in FORMS.items() if f.baseline == "none"
    ],
    "AdamW": [k for k, f in FORMS.items() if f.baseline == "adamw-none"],
}
styles = ["-o", "--s", "-.^", ":v", "-D", "--P", "-.X", ":*", "-h", "--<"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
for ax, (title, keys) in zip(axes, families.items(), strict=True):
    for key, style in zip(keys, styles, strict=False):
        points = sorted((r.n_params, r.median) for r in run.steps if r.form == key)
        ax.loglog(*zip(*points, strict=True), style, label=FORMS[key].label, markersize=5)
    ax.set(title=title, xlabel="parameters $D$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
axes[0].set_ylabel("median step time (s)")
fig.tight_layout()
HTML(
    figure_html(
        fig,
        f"{TIMING_PREFIX} the median time of one training step (forward, backward, update) "
        "of each form against the parameter count, log-log.",
    )
)

# %% [markdown]
# The table gives, for each size, each form's median step time and its ratio to the
# undecayed step of its family (1 is free; 2 doubles the step), with the ratio's 95%
# bootstrap interval over the steps. Its caption, like the figure's, marks it as this
# build's measurement.

# %%
ratio_of = {(q.target, q.form): q for q in ratios(run.steps)}
median_of = {(r.target, r.form): r.median for r in run.steps}
n_of = {r.target: r.n_params for r in run.steps}
head = "".join(f"<th>{n_of[s]:,}</th>" for s in QUICK.sizes)
body = ""
for key, form in FORMS.items():
    cells = ""
    for size in QUICK.sizes:
        q = ratio_of[(size, key)]
        interval = f" [{q.low:.2f}, {q.high:.2f}]" if form.decays else ""
        cells += f"<td>{format_time(median_of[(size, key)])}<br>{q.ratio:.2f}{interval}</td>"
    body += f"<tr><td>{form.label}</td>{cells}</tr>"
Markdown(
    f"<table><caption>{TIMING_PREFIX} median step time and ratio to the undecayed step "
    f"[95% interval], by parameter count.</caption><thead><tr><th>form</th>{head}</tr>"
    f"</thead><tbody>{body}</tbody></table>"
)

# %%
largest_size = QUICK.sizes[-1]
worst = max(
    (k for k, f in FORMS.items() if f.decays), key=lambda k: ratio_of[(largest_size, k)].ratio
)
ours_vs = {
    ours: median_of[(largest_size, ours)] / median_of[(largest_size, theirs)]
    for ours, theirs in (("ours-sgd", "sgd"), ("ours-sgdw", "sgd"), ("ours-adamw", "adamw"))
}
Markdown(
    f"{TIMING_PREFIX} at {n_of[largest_size]:,} parameters the costliest form was "
    f"{FORMS[worst].label}, at {ratio_of[(largest_size, worst)].ratio:.2f} times the "
    f"undecayed step; the penalty per parameter took "
    f"{median_of[(largest_size, 'penalty')] / median_of[(largest_size, 'sgd')]:.2f} times "
    f"the step of torch's SGD with `weight_decay`, and this package's SGD (coupled, "
    f"decoupled) and AdamW took {ours_vs['ours-sgd']:.2f}, {ours_vs['ours-sgdw']:.2f} and "
    f"{ours_vs['ours-adamw']:.2f} times the step of torch's default SGD and AdamW with decay."
)

# %% [markdown]
# At the small end a step's time is mostly Python and dispatch overhead, a fixed cost
# per operation whatever the tensor's size, so there a form costs in proportion to the
# operations it launches (the penalty launches several per parameter, the prior more).
# As $D$ grows that overhead fades and the counts of the trace take over, first at the
# speed of the caches and, once the parameters and gradients outgrow them, at the
# speed of memory.

# %%
biggest = parameter_count(mlp_widths(QUICK.sizes[-1]))
footprint = 2 * 4 * biggest  # float32 parameters and gradients
if cache is not None:
    print(
        f"At {biggest:,} parameters the parameters and gradients take {format_bytes(footprint)}, "
        f"{footprint / cache:.2f} times this machine's largest cache ({format_bytes(cache)}); "
        f"at {parameter_count(mlp_widths(FULL.sizes[-1])):,}, the largest size of `make bench`, "
        f"{2 * 4 * parameter_count(mlp_widths(FULL.sizes[-1])) / cache:.1f} times."
    )

# %% [markdown]
# ## Peak memory of a step
#
# The peak resident memory of a step above what the process held at its start: the
# median over three steps, measured in the first round. To make the resident set
# follow the live tensors, the process has glibc return freed blocks of 64 KiB or more
# at once; Linux counts resident pages in batches, so figures closer than about
# 0.5 MiB are not told apart. The target, a decayed step's peak no higher than the
# undecayed step's plus one buffer the size of the largest parameter, is judged only
# where that buffer is at least four times the resolution, which the page's sizes do
# not reach: it is left to `make bench`.

# %%
assert 4 * largest_parameter(mlp_widths(QUICK.sizes[-1])) < 4 * MEMORY_RESOLUTION
peak_of = {(r.target, r.form): r.peak_bytes for r in run.steps}
head = "".join(f"<th>{n_of[s]:,}</th>" for s in QUICK.sizes)
body = "".join(
    f"<tr><td>{form.label}</td>"
    + "".join(f"<td>{format_bytes(peak_of[(s, key)])}</td>" for s in QUICK.sizes)
    + "</tr>"
    for key, form in FORMS.items()
)
largest_row = "".join(
    f"<td>{format_bytes(4 * largest_parameter(mlp_widths(s)))}</td>" for s in QUICK.sizes
)
Markdown(
    f"<table><caption>{TIMING_PREFIX} peak resident memory of one step above its start "
    f"({run.steps[0].memory_method}), by parameter count.</caption><thead><tr><th>form</th>"
    f"{head}</tr></thead><tbody>{body}<tr><td><em>largest parameter</em></td>{largest_row}"
    "</tr></tbody></table>"
)

# %% [markdown]
# ## The bandwidth of the decay update
#
# Achieved bandwidth is the bytes an operation must move divided by its median time.
# The count is the minimum: a processor that fetches a cache line before overwriting
# it (write-allocate) moves more for the copy's destination and the out-of-place sum's
# result, but not for the in-place decay, which reads every line it writes anyway. The
# in-place update can therefore report more than the copy's bandwidth.

# %%
band = run.bandwidths[-1]
rows = "".join(
    f"<tr><td><code>{name}</code></td><td><code>{code_}</code></td>"
    f"<td>{(r + w) * band.element_size}</td><td>{format_time(band.median(name))}</td>"
    f"<td>{band.gb_per_second(name):.1f}</td><td>{band.fraction(name):.0%}</td></tr>"
    for name, (code_, r, w) in OPERATIONS.items()
)
Markdown(
    f"<table><caption>{TIMING_PREFIX} {band.n_elements:,} float32 entries per tensor, "
    f"{len(band.seconds['copy'])} interleaved repeats, {band.threads} threads.</caption>"
    "<thead><tr><th>operation</th><th>code</th><th>bytes per entry</th><th>median</th>"
    f"<th>GB/s</th><th>of the copy's</th></tr></thead><tbody>{rows}</tbody></table>"
)

# %%
fraction = band.fraction("decay")
Markdown(
    f"{TIMING_PREFIX} the decay update moved {band.gb_per_second('decay'):.1f} GB/s "
    f"against the copy's {band.gb_per_second('copy'):.1f} GB/s, {fraction:.0%} of it "
    f"(the target is at least 70%: {'met' if fraction >= 0.7 else 'missed'}); torch's "
    f"`_foreach_mul_` reached {band.fraction('decay-foreach'):.0%} and the out-of-place "
    f"sum of coupled decay {band.fraction('coupled-temporary'):.0%}, allocation and "
    "page faults included."
)

# %% [markdown]
# ## The targets in this run
#
# Four targets judge the cost of decay: the overhead of the penalty in the loss against
# optimizer decay at $10^7$ and $10^8$ parameters (reported, without a bound); this
# package's optimizers no slower than torch's; the decay update at 70% or more of the
# copy's bandwidth; a decayed step's peak memory within the undecayed step's plus one
# buffer of the largest parameter. The page's run reaches only some of them; the rest
# are "not measured" here and judged by `make bench`.

# %%
found = targets(run.steps, run.bandwidths)
body = "".join(
    f"<tr><td>{t.name}</td><td>{t.where}</td><td>{t.measured}</td><td>{t.bound}</td>"
    f"<td>{t.status}</td></tr>"
    for t in found
)
Markdown(
    f"<table><caption>{TIMING_PREFIX} the targets, judged on the page's run.</caption>"
    "<thead><tr><th>target</th><th>where</th><th>measured</th><th>bound</th>"
    f"<th>status</th></tr></thead><tbody>{body}</tbody></table>"
)

# %% [markdown]
# ## The second source's three forms, timed
#
# The second source trains its small network for 1000 epochs in three ways that
# compute the same update ([A Bayesian perspective](bayesian.html)): the penalty in the
# loss, `SGD(weight_decay=λ)`, and minus $1/N$ times the Gaussian prior's log-density.
# `run_bayes_experiment` times each loop; here is the wall-clock time of each in
# float32, the second source's dtype, run while nothing else of the build runs. The
# `SGD(weight_decay)` form adds $\lambda\theta$ inside the optimizer and builds no
# penalty into the autograd graph; the penalty form adds a sum of squares to the graph,
# and the prior form a log-density evaluated through `torch.distributions`. These are
# single measurements, not a benchmark.

# %%
bayes_run = run_bayes_experiment(dtype=torch.float32)
times = {form: bayes_run.runs[form].elapsed for form in FORM_LABELS}
rows = [f"| form | {bayes_run.epochs} epochs, float32 |", "| --- | ---: |"]
rows += [f"| {label} | {format_seconds(times[form])} |" for form, label in FORM_LABELS.items()]
fastest, slowest = min(times, key=times.get), max(times, key=times.get)
assert bayes_run.epochs == 1000  # the prose above
Markdown(
    "\n".join(rows)
    + f"\n\n{TIMING_PREFIX} the fastest form was {FORM_LABELS[fastest]} and the slowest "
    f"{FORM_LABELS[slowest]}, at {times[slowest] / times[fastest]:.1f} times its time."
)

# %% [markdown]
# ## Where this ran
#
# The machine and versions of this build's measurement (the [Environment](environment.py)
# page lists the same for the whole site). The load average says whether other work
# shared the processor during the run.

# %%
info = describe()
info["last-level cache"] = format_bytes(cache)
info["threads per measuring process"] = str(run.threads)
Markdown(
    "\n".join(["| | |", "| --- | --- |", *(f"| {key} | {value} |" for key, value in info.items())])
)

# %%
Markdown(
    f"{TIMING_PREFIX} the load average (1, 5 and 15 minutes) was "
    + ", ".join(f"{x:.2f}" for x in run.load_before)
    + " before the run and "
    + ", ".join(f"{x:.2f}" for x in run.load_after)
    + f" after it, on {info['logical cores']} logical cores."
)
