r"""SGD, Adam and AdamW written one mathematical step at a time, matching ``torch.optim``.

Each step is an in-place update under the equation it computes. Weight decay is either
**coupled**, $\lambda(\theta - \theta_0)$ added to the gradient (an L2 penalty), or
**decoupled**, $\theta \leftarrow \theta - \eta\lambda(\theta - \theta_0)$ (SGDW, AdamW).
The centre $\theta_0$ is zero unless a parameter group carries ``"centre"``, one tensor per
parameter (L2-SP). `decay_groups` leaves biases and normalization layers undecayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from weightdecay._checks import check_betas, check_hyper, check_nonnegative, group_centres
from weightdecay.normalization import NORM_LAYERS

__all__ = ["DECAY_RULES", "SGD", "Adam", "AdamW", "decay_groups", "decays"]

_Closure = Callable[[], float] | None


def _evaluate(closure: _Closure) -> float | None:
    """The closure's loss, computed with gradients enabled (None without a closure)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGD(Optimizer):
    r"""SGD with momentum, dampening, Nesterov, and coupled or decoupled weight decay.

    With gradient $g_t$, direction $\tilde g_t = \pm g_t + \lambda(\theta_{t-1} - \theta_0)$ (the
    $\lambda$ term only when coupled) and buffer $\xi_t = \mu\xi_{t-1} + (1 - \zeta)\tilde g_t$
    ($\xi_1 = \tilde g_1$, and $\xi_t = \tilde g_t$ without momentum):

    $$\theta_t = \theta_{t-1} - \eta\,\xi_t \quad\text{or, with Nesterov,}\quad
    \theta_t = \theta_{t-1} - \eta\,(\tilde g_t + \mu\xi_t).$$

    Takes ``torch.optim.SGD``'s arguments, and raises where it raises.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups; a group may carry ``"centre"`` ($\theta_0$).
    dampening : float, default 0
        $\zeta$: the new direction enters the buffer with weight $1 - \zeta$.
    decoupled : bool, default False
        True: SGDW, $\theta \leftarrow \theta - \eta\lambda(\theta - \theta_0)$ before the
        step on the undecayed gradient. False: torch's coupled decay (an L2 penalty),
        which a sparse gradient cannot absorb (``RuntimeError``, as in torch).

    Examples
    --------
    The same arguments give torch's trajectory; decoupled decay alone only shrinks:

    >>> import torch
    >>> from weightdecay.optim import SGD
    >>> settings = dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
    >>> ours, theirs = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    >>> opt_ours, opt_theirs = SGD([ours], **settings), torch.optim.SGD([theirs], **settings)
    >>> for step in range(5):
    ...     for p, opt in ((ours, opt_ours), (theirs, opt_theirs)):
    ...         p.grad = torch.tensor([1.0, -2.0, 0.5]) * (step + 1)
    ...         opt.step()
    >>> torch.allclose(ours, theirs, rtol=1e-6, atol=0)
    True
    >>> p = torch.ones(2, requires_grad=True)
    >>> opt = SGD([p], lr=0.1, weight_decay=0.5, momentum=0.9, decoupled=True)
    >>> p.grad = torch.zeros(2)
    >>> opt.step()
    >>> p.detach()  # (1 - 0.1 * 0.5) * 1
    tensor([0.9500, 0.9500])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        decoupled: bool = False,
    ) -> None:
        check_hyper("lr", lr)
        check_hyper("momentum", momentum)
        check_hyper("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r} and dampening={dampening!r}"
            )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov)
        defaults.update(weight_decay=weight_decay, maximize=maximize, decoupled=decoupled)
        super().__init__(params, {**defaults, "centre": None})

    @torch.no_grad()
    def step(self, closure: _Closure = None) -> float | None:  # type: ignore[override]
        """Update every parameter that has a gradient; return the closure's loss, if any."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, mu, zeta = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            lam, sign = float(group["weight_decay"]), -1.0 if group["maximize"] else 1.0
            decoupled = lam != 0 and group["decoupled"]
            wd = 0.0 if group["decoupled"] else lam  # the lambda inside the direction
            centres = group_centres(group)
            for i, p in enumerate(group["params"]):
                if (g := p.grad) is None:
                    continue
                centre = None if centres is None else centres[i]
                if decoupled:
                    # $$\theta \leftarrow (1 - \eta\lambda)\,\theta + \eta\lambda\theta_0$$
                    p.mul_(1 - lr * lam)
                    if centre is not None:
                        p.add_(centre, alpha=lr * lam)
                elif wd and g.is_sparse:
                    raise RuntimeError(
                        "coupled weight_decay cannot be added to a sparse gradient (as in "
                        "torch.optim.SGD); use decoupled=True or weight_decay=0"
                    )
                # $\tilde g_t = \pm g_t + \lambda(\theta_{t-1} - \theta_0)$ is never formed: each
                # use below adds its terms in place, so no step allocates (the buffer is state).
                buf = None
                if mu != 0:
                    buf, weight = self.state[p].get("momentum_buffer"), 1 - zeta
                    if buf is None:
                        # $$\xi_1 = \tilde g_1$$
                        buf = self.state[p]["momentum_buffer"] = g.mul(sign)
                        weight = 1.0
                    else:
                        # $$\xi_t = \mu\xi_{t-1} + (1 - \zeta)\tilde g_t$$
                        buf.mul_(mu).add_(g, alpha=weight * sign)
                    if wd:
                        buf.add_(p, alpha=weight * wd)
                        if centre is not None:
                            buf.add_(centre, alpha=-weight * wd)
                    if not group["nesterov"]:
                        # $$\theta_t = \theta_{t-1} - \eta\xi_t$$
                        p.add_(buf, alpha=-lr)
                        continue
                # $$\theta_t = \theta_{t-1} - \eta\tilde g_t
                #   = (1 - \eta\lambda)\,\theta_{t-1} \mp \eta g_t + \eta\lambda\theta_0$$
                if wd:
                    p.mul_(1 - lr * wd)
                p.add_(g, alpha=-lr * sign)
                if wd and centre is not None:
                    p.add_(centre, alpha=lr * wd)
                if buf is not None:
                    # Nesterov: $$\theta_t \leftarrow \theta_t - \eta\mu\xi_t$$
                    p.add_(buf, alpha=-lr * mu)
        return loss


class Adam(Optimizer):
    r"""Adam with coupled (L2) or decoupled weight decay, and optional AMSGrad.

    With the direction $\tilde g_t = \pm g_t + \lambda(\theta_{t-1} - \theta_0)$ (the $\lambda$
    term only when coupled), the averages
    $\tilde m_t = \beta_1\tilde m_{t-1} + (1 - \beta_1)\tilde g_t$ and
    $\tilde v_t = \beta_2\tilde v_{t-1} + (1 - \beta_2)\tilde g_t^2$ (AMSGrad: the running
    maximum of the latter) and the estimates $\hat m_t = \tilde m_t/(1 - \beta_1^t)$,
    $\hat v_t = \tilde v_t/(1 - \beta_2^t)$:

    $$\theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$

    Coupled decay passes through the division by $\sqrt{\hat v_t}$, so coordinates with small
    gradients decay harder; decoupled decay (AdamW) shrinks all alike (Loshchilov and
    Hutter, 2019). Takes ``torch.optim.Adam``'s arguments, and raises where it raises
    (sparse gradients included).

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups; a group may carry ``"centre"`` ($\theta_0$).
    decoupled_weight_decay : bool, default False
        True: AdamW's $\theta \leftarrow \theta - \eta\lambda(\theta - \theta_0)$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.optim import Adam
    >>> settings = dict(lr=0.01, weight_decay=0.1, amsgrad=True)
    >>> ours, theirs = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    >>> opt_ours, opt_theirs = Adam([ours], **settings), torch.optim.Adam([theirs], **settings)
    >>> for step in range(5):
    ...     for p, opt in ((ours, opt_ours), (theirs, opt_theirs)):
    ...         p.grad = torch.tensor([1.0, -2.0, 0.5]) / (step + 1)
    ...         opt.step()
    >>> torch.equal(ours, theirs)
    True
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_hyper("lr", lr)
        check_hyper("eps", eps)
        betas = check_betas(betas)
        check_hyper("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        defaults.update(maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, {**defaults, "centre": None})

    @torch.no_grad()
    def step(self, closure: _Closure = None) -> float | None:  # type: ignore[override]
        """Update every parameter that has a gradient; return the closure's loss, if any."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, lam, eps = float(group["lr"]), float(group["weight_decay"]), float(group["eps"])
            (beta1, beta2), amsgrad = group["betas"], group["amsgrad"]
            centres = group_centres(group)
            for i, p in enumerate(group["params"]):
                if (g := p.grad) is None:
                    continue
                centre = None if centres is None else centres[i]
                if g.is_sparse:
                    raise RuntimeError("Adam does not support sparse gradients (nor does torch)")
                state = self.state[p]
                if not state:  # $t = 0$, $\tilde m_0 = \tilde v_0 = 0$ (and AMSGrad's maximum)
                    moments = ["exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if amsgrad else [])]
                    state["step"] = torch.tensor(0.0)
                    for key in moments:
                        state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                # $$\tilde g_t = \pm g_t$$
                d = -g if group["maximize"] else g
                if lam != 0 and group["decoupled_weight_decay"]:
                    # $$\theta \leftarrow (1 - \eta\lambda)\,\theta + \eta\lambda\theta_0$$
                    p.mul_(1 - lr * lam)
                    if centre is not None:
                        p.add_(centre, alpha=lr * lam)
                elif lam != 0:
                    # $$\tilde g_t \leftarrow \tilde g_t + \lambda(\theta_{t-1} - \theta_0)$$
                    d = d.add(p, alpha=lam)
                    if centre is not None:
                        d.add_(centre, alpha=-lam)
                # $$\tilde m_t = \beta_1\tilde m_{t-1} + (1 - \beta_1)\tilde g_t$$
                m = state["exp_avg"].lerp_(d, 1 - beta1)
                # $$\tilde v_t = \beta_2\tilde v_{t-1} + (1 - \beta_2)\tilde g_t^2$$
                v = state["exp_avg_sq"].mul_(beta2).addcmul_(d, d, value=1 - beta2)
                if amsgrad:
                    # AMSGrad: $$\max_{s \le t}\tilde v_s$$ stands for $\tilde v_t$ from here on
                    v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                # $$\sqrt{\hat v_t} + \epsilon = \sqrt{\tilde v_t}/\sqrt{1-\beta_2^t} + \epsilon$$
                denominator = v.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)  # one temporary
                # $$\theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
                #   \frac{\tilde m_t}{\sqrt{\hat v_t} + \epsilon}$$
                p.addcdiv_(m, denominator, value=-(lr / (1 - beta1**t)))
        return loss


class AdamW(Adam):
    r"""`Adam` with decoupled decay and ``torch.optim.AdamW``'s default $\lambda = 10^{-2}$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.optim import AdamW
    >>> ours, theirs = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    >>> opt_ours, opt_theirs = AdamW([ours], lr=0.1), torch.optim.AdamW([theirs], lr=0.1)
    >>> for p, opt in ((ours, opt_ours), (theirs, opt_theirs)):
    ...     p.grad = torch.tensor([0.5, -0.5])
    ...     opt.step()
    >>> torch.equal(ours, theirs), opt_ours.param_groups[0]["weight_decay"]
    (True, 0.01)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
            decoupled_weight_decay=True,
        )  # fmt: skip


_WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    *(nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d),
    *(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
    *(nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention),
)
_EMBEDDINGS: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)
DECAY_RULES = {
    "weight layers": _WEIGHT_LAYERS,
    "normalization layers": NORM_LAYERS,
    "embeddings": _EMBEDDINGS,
}
"""The module types `decays` knows, by the rule that applies to them."""


def decays(
    module: nn.Module,
    name: str,
    *,
    embeddings: bool = False,
    overrides: Mapping[type[nn.Module], bool] | None = None,
) -> bool:
    """Whether the parameter `name` owned directly by `module` should be decayed.

    | module type | parameter | decayed |
    | --- | --- | --- |
    | Linear, Bilinear, Conv1d/2d/3d, ConvTranspose1d/2d/3d | ``weight`` | yes |
    | RNN, LSTM, GRU and their cells; MultiheadAttention | names with ``weight`` | yes |
    | any of the above | ``bias`` and other names (``bias_k``, ...) | no |
    | BatchNorm*, SyncBatchNorm, LayerNorm, GroupNorm, InstanceNorm*, RMSNorm | all | no |
    | Embedding, EmbeddingBag | ``weight`` | as `embeddings` says (default no) |
    | a type in `overrides` (checked first, subclasses included) | all | as mapped |
    | any other type that owns parameters directly | | ``ValueError`` |

    Examples
    --------
    >>> from torch import nn
    >>> from weightdecay.optim import decays
    >>> decays(nn.Linear(2, 2), "weight"), decays(nn.Linear(2, 2), "bias")
    (True, False)
    >>> decays(nn.LayerNorm(4), "weight")
    False
    >>> decays(nn.PReLU(), "weight")
    Traceback (most recent call last):
    ...
    ValueError: no decay rule for PReLU (parameter 'weight'): pass overrides={PReLU: bool}
    >>> decays(nn.PReLU(), "weight", overrides={nn.PReLU: False})
    False
    """
    for kind, decision in (overrides or {}).items():
        if isinstance(module, kind):
            return bool(decision)
    if isinstance(module, NORM_LAYERS):
        return False
    if isinstance(module, _EMBEDDINGS):
        return embeddings
    if isinstance(module, _WEIGHT_LAYERS):
        return "weight" in name
    kind_name = type(module).__name__
    raise ValueError(
        f"no decay rule for {kind_name} (parameter {name!r}): pass overrides={{{kind_name}: bool}}"
    )


def decay_groups(
    model: nn.Module,
    weight_decay: float,
    *,
    embeddings: bool = False,
    overrides: Mapping[type[nn.Module], bool] | None = None,
) -> list[dict[str, Any]]:
    r"""Two parameter groups, decayed ($\lambda$ = `weight_decay`) and not, by `decays`.

    Shared parameters are listed once (their owners must agree), frozen ones not at all,
    empty groups are left out; `embeddings` and `overrides` are passed to `decays`.

    Examples
    --------
    >>> from torch import nn
    >>> from weightdecay.optim import AdamW, decay_groups
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 1))
    >>> groups = decay_groups(model, weight_decay=0.1)
    >>> [len(g["params"]) for g in groups], [g["weight_decay"] for g in groups]
    ([2, 4], [0.1, 0.0])
    >>> optimizer = AdamW(groups, lr=1e-3)
    """
    lam = check_nonnegative("weight_decay", weight_decay)
    decided: dict[int, tuple[nn.Parameter, bool, str]] = {}
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            full_name = f"{module_name}.{name}" if module_name else name
            decision = decays(module, name, embeddings=embeddings, overrides=overrides)
            previous = decided.setdefault(id(param), (param, decision, full_name))
            if previous[1] != decision:
                raise ValueError(
                    f"parameter {full_name} is shared with {previous[2]}, and the two "
                    "owners disagree on whether it decays"
                )
    if not decided:
        raise ValueError(f"model has no trainable parameters: {type(model).__name__}")
    groups = [
        {"params": [p for p, decision, _ in decided.values() if decision], "weight_decay": lam},
        {
            "params": [p for p, decision, _ in decided.values() if not decision],
            "weight_decay": 0.0,
        },
    ]
    return [group for group in groups if group["params"]]
