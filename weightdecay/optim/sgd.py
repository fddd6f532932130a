r"""Stochastic gradient descent with momentum, written one mathematical step at a time.

With gradient $g_t$, learning rate $\eta$, decay $\lambda$, momentum $\mu$ and
dampening $\tau$, one step of ``SGD`` is

1. direction: $d_t = g_t$ (or $-g_t$ when maximizing);
2. weight decay, **coupled** (torch's ``weight_decay``):
   $d_t \leftarrow d_t + \lambda\theta_{t-1}$, exactly the gradient of an L2 penalty;
   or **decoupled** (SGDW): $\theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}$,
   the parameter shrunk directly and $d_t$ left alone;
3. momentum: $b_t = \mu b_{t-1} + (1 - \tau) d_t$ ($b_1 = d_1$), then $d_t \leftarrow b_t$,
   or with Nesterov $d_t \leftarrow d_t + \mu b_t$;
4. update: $\theta_t = \theta_{t-1} - \eta d_t$.

The direction is kept as a linear combination of tensors, $d = \sum_j c_j T_j$, and only
folded into the parameters or the momentum buffer in place: no step allocates a
temporary the size of a parameter (the momentum buffer is state, created once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from weightdecay.optim._checks import check_hyper, group_centres

__all__ = ["SGD"]

# $$d = \sum_j c_j T_j$$: one (tensors, coefficient) pair per term, one tensor per parameter.
Terms = list[tuple[list[Tensor], float]]


class SGD(Optimizer):
    r"""SGD with momentum and coupled or decoupled weight decay.

    Takes the arguments of ``torch.optim.SGD`` (the same keyword dictionary builds
    either) plus `decoupled`.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups (dicts), as for any ``torch.optim`` optimizer.
    lr : float or Tensor, default 1e-3
        Learning rate $\eta \ge 0$.
    momentum : float, default 0
        $\mu \ge 0$.
    dampening : float, default 0
        $\tau$: the new direction enters the buffer with weight $1 - \tau$.
    weight_decay : float, default 0
        $\lambda \ge 0$.
    nesterov : bool, default False
        Nesterov momentum (needs $\mu > 0$ and $\tau = 0$).
    maximize : bool, default False
        Ascend instead of descend.
    decoupled : bool, default False
        False: torch's coupled decay, $\lambda\theta$ added to the gradient (an L2
        penalty). True: SGDW, $\theta \leftarrow (1 - \eta\lambda)\theta$ before the
        plain step on the undecayed gradient.

    Raises
    ------
    ValueError
        Where ``torch.optim.SGD`` raises one: negative `lr`, `momentum` or
        `weight_decay`; `nesterov` without momentum or with dampening.

    Notes
    -----
    A parameter group may carry ``"decay_centre"``: one tensor per parameter, the
    $\theta_0$ that decay pulls towards instead of zero (L2-SP); both the coupled and
    the decoupled form use it.

    With coupled decay and sparse gradients this raises ``RuntimeError`` at the step,
    as ``torch.optim.SGD`` does (a sparse gradient cannot absorb $\lambda\theta$).

    Examples
    --------
    The same arguments give torch's trajectory:

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

    Decoupled decay with zero gradient only shrinks:

    >>> p = torch.ones(2, requires_grad=True)
    >>> opt = SGD([p], lr=0.1, weight_decay=0.5, momentum=0.9, decoupled=True)
    >>> p.grad = torch.zeros(2)
    >>> opt.step()
    >>> p.detach()
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
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "decoupled": decoupled,
            "decay_centre": None,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled optimizer, filling options that older states lack."""
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled", False)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one optimization step on every parameter that has a gradient.

        Parameters
        ----------
        closure : callable or None, default None
            Re-evaluates the model and returns the loss (run with gradients enabled).

        Returns
        -------
        float or None
            The closure's loss, if a closure was given.

        Examples
        --------
        >>> import torch
        >>> from weightdecay.optim import SGD
        >>> p = torch.tensor([2.0], requires_grad=True)
        >>> opt = SGD([p], lr=0.5)
        >>> p.grad = torch.tensor([1.0])
        >>> opt.step()
        >>> p.item()
        1.5
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            has_grad = [p.grad is not None for p in group["params"]]
            params = [p for p, keep in zip(group["params"], has_grad, strict=True) if keep]
            if not params:
                continue
            all_centres = group_centres(group)
            centres = (
                None
                if all_centres is None
                else [c for c, keep in zip(all_centres, has_grad, strict=True) if keep]
            )
            direction = self._direction(params, group)
            direction = self._weight_decay(params, direction, group, centres)
            direction = self._momentum(params, direction, group)
            self._update(params, direction, group)
        return loss

    def _direction(self, params: list[Tensor], group: dict[str, Any]) -> Terms:
        """Step 1: the gradient, negated when maximizing."""
        grads = [p.grad for p in params if p.grad is not None]
        # $$d_t = \pm g_t$$
        return [(grads, -1.0 if group["maximize"] else 1.0)]

    def _weight_decay(
        self,
        params: list[Tensor],
        direction: Terms,
        group: dict[str, Any],
        centres: list[Tensor] | None = None,
    ) -> Terms:
        r"""Step 2: coupled decay joins the direction; decoupled decay shrinks the parameters.

        With a decay centre $\theta_0$ (the group's ``decay_centre``) both decay towards
        it: $\lambda(\theta - \theta_0)$ joins the direction, or
        $\theta \leftarrow \theta - \eta\lambda(\theta - \theta_0)$.
        """
        lam, lr = float(group["weight_decay"]), float(group["lr"])
        if lam == 0:
            return direction
        if group["decoupled"]:
            # $$\theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} + \eta\lambda\theta_0$$
            _scale_(params, 1 - lr * lam)
            if centres is not None:
                _add_(params, centres, lr * lam)
            return direction
        if any(t.is_sparse for tensors, _ in direction for t in tensors):
            raise RuntimeError(
                "coupled weight_decay cannot be added to a sparse gradient (torch.optim.SGD "
                "raises here too); use decoupled=True or weight_decay=0 for sparse parameters"
            )
        # $$d_t \leftarrow d_t + \lambda(\theta_{t-1} - \theta_0)$$
        if centres is not None:
            return [*direction, (params, lam), (centres, -lam)]
        return [*direction, (params, lam)]

    def _momentum(self, params: list[Tensor], direction: Terms, group: dict[str, Any]) -> Terms:
        """Step 3: fold the direction into the momentum buffer (state), in place."""
        mu, tau = float(group["momentum"]), float(group["dampening"])
        if mu == 0:
            return direction
        buffers = []
        for i, p in enumerate(params):
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                # $$b_1 = d_1$$
                buf = _combine(direction, i)
                state["momentum_buffer"] = buf
            else:
                # $$b_t = \mu b_{t-1} + (1 - \tau) d_t$$
                buf.mul_(mu)
                for tensors, c in direction:
                    buf.add_(tensors[i], alpha=(1 - tau) * c)
            buffers.append(buf)
        if group["nesterov"]:
            # $$d_t \leftarrow d_t + \mu b_t$$
            return [*direction, (buffers, mu)]
        # $$d_t \leftarrow b_t$$
        return [(buffers, 1.0)]

    def _update(self, params: list[Tensor], direction: Terms, group: dict[str, Any]) -> None:
        r"""Step 4: $\theta_t = \theta_{t-1} - \eta d_t$, term by term, in place."""
        lr = float(group["lr"])
        # A term in the parameters themselves is a rescaling: apply it first, while
        # the other terms (gradients, buffers) do not depend on the parameters.
        for tensors, c in direction:
            if tensors is params:
                # $$\theta \leftarrow (1 - \eta c)\,\theta$$
                _scale_(params, 1 - lr * c)
        for tensors, c in direction:
            if tensors is not params:
                # $$\theta \leftarrow \theta - \eta c\,T$$
                _add_(params, tensors, -lr * c)


def _scale_(params: list[Tensor], factor: float) -> None:
    """``p *= factor`` for every parameter, in place, in one call over the list.

    ``torch._foreach_mul_`` (as torch.optim's foreach implementations use it) does on
    the CPU what a Python loop of ``mul_`` does, element for element, without a Python
    call per tensor: the same numbers, less overhead on small models.
    """
    torch._foreach_mul_(params, factor)


def _add_(params: list[Tensor], tensors: list[Tensor], alpha: float) -> None:
    """``p += alpha * t`` for every pair, in place; one call over the lists when dense."""
    if any(t.is_sparse for t in tensors):
        for p, t in zip(params, tensors, strict=True):
            p.add_(t, alpha=alpha)
    else:
        torch._foreach_add_(params, tensors, alpha=alpha)


def _combine(direction: Terms, i: int) -> Tensor:
    r"""Materialize $\sum_j c_j T_j[i]$ as a new tensor (the first momentum buffer)."""
    (first, c0), *rest = direction
    out = first[i].detach().clone()
    if c0 != 1.0:
        out.mul_(c0)
    for tensors, c in rest:
        out.add_(tensors[i], alpha=c)
    return out
