r"""Adam and AdamW, one mathematical step at a time.

With gradient $g_t$, learning rate $\eta$, decay $\lambda$, $\beta_1, \beta_2$ and
$\epsilon$, one step is

1. direction: $d_t = g_t$ (or $-g_t$ when maximizing);
2. weight decay, **coupled** (Adam's ``weight_decay``): $d_t \leftarrow d_t + \lambda\theta_{t-1}$;
   or **decoupled** (AdamW): $\theta_{t-1} \leftarrow (1 - \eta\lambda)\theta_{t-1}$;
3. first moment: $m_t = \beta_1 m_{t-1} + (1 - \beta_1) d_t$;
4. second moment: $v_t = \beta_2 v_{t-1} + (1 - \beta_2) d_t^2$, and with AMSGrad
   $\hat v_t = \max(\hat v_{t-1}, v_t)$;
5. update: $\theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
   \frac{m_t}{\sqrt{v_t}/\sqrt{1 - \beta_2^t} + \epsilon}$.

With coupled decay, $\lambda\theta$ passes through step 5's division by
$\sqrt{v_t}$: a coordinate with small gradients is decayed much harder than one with
large gradients. Decoupled decay shrinks every coordinate by the same factor
(Loshchilov and Hutter, *Decoupled Weight Decay Regularization*, 2019).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from weightdecay.optim._checks import check_betas, check_hyper, group_centres

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam with coupled (L2) or decoupled weight decay, and optional AMSGrad.

    Takes the arguments of ``torch.optim.Adam`` (keyword-only where torch's are).

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups.
    lr : float or Tensor, default 1e-3
        $\eta \ge 0$.
    betas : tuple of float, default (0.9, 0.999)
        $(\beta_1, \beta_2)$, each in $[0, 1)$.
    eps : float, default 1e-8
        $\epsilon \ge 0$.
    weight_decay : float, default 0
        $\lambda \ge 0$.
    amsgrad : bool, default False
        Use $\hat v_t = \max(\hat v_{t-1}, v_t)$ in the denominator.
    maximize : bool, default False
        Ascend instead of descend.
    decoupled_weight_decay : bool, default False
        True: AdamW's decay, $\theta \leftarrow (1 - \eta\lambda)\theta$.

    Raises
    ------
    ValueError
        Where ``torch.optim.Adam`` raises one: negative `lr`, `eps` or
        `weight_decay`; a beta outside $[0, 1)$; betas that are not both floats.

    Notes
    -----
    A parameter group may carry ``"decay_centre"`` (one tensor per parameter): decay
    then pulls towards it instead of zero, coupled or decoupled.

    Sparse gradients raise ``RuntimeError`` at the step, as in ``torch.optim.Adam``.

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
        beta1, beta2 = check_betas(betas)
        check_hyper("weight_decay", weight_decay)
        defaults = {
            "lr": lr,
            "betas": (beta1, beta2),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
            "decay_centre": None,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled optimizer, filling options that older states lack."""
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        r"""Take one optimization step on every parameter that has a gradient.

        Parameters
        ----------
        closure : callable or None, default None
            Re-evaluates the model and returns the loss.

        Returns
        -------
        float or None
            The closure's loss, if a closure was given.

        Raises
        ------
        RuntimeError
            On a sparse gradient.

        Examples
        --------
        The first step moves every coordinate by about $\eta$, whatever its gradient:

        >>> import torch
        >>> from weightdecay.optim import Adam
        >>> p = torch.zeros(2, requires_grad=True)
        >>> opt = Adam([p], lr=0.1)
        >>> p.grad = torch.tensor([1e-3, 1e3])
        >>> opt.step()
        >>> p.detach()
        tensor([-0.1000, -0.1000])
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # One parameter at a time, every step on it before the next: a parameter
            # decayed in step 2 is still in cache when step 5 updates it.
            centres = group_centres(group)
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                d = self._direction(p, group)
                d = self._weight_decay(p, d, group, None if centres is None else centres[i])
                state = self._state(p, group)
                state["step"] += 1
                self._first_moment(state["exp_avg"], d, group)
                self._second_moment(state["exp_avg_sq"], d, group)
                second = self._amsgrad(state, group)
                self._update(p, state, second, group)
        return loss

    def _state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The moments of one parameter, created as zeros on its first step."""
        state: dict[str, Any] = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _direction(self, p: Tensor, group: dict[str, Any]) -> Tensor:
        """Step 1: the gradient, negated when maximizing."""
        grad = p.grad
        assert grad is not None
        if grad.is_sparse:
            raise RuntimeError(
                "Adam does not support sparse gradients (neither does torch.optim.Adam); "
                "consider torch.optim.SparseAdam"
            )
        # $$d_t = \pm g_t$$
        return -grad if group["maximize"] else grad

    def _weight_decay(
        self, p: Tensor, d: Tensor, group: dict[str, Any], centre: Tensor | None = None
    ) -> Tensor:
        r"""Step 2: coupled decay joins the direction; decoupled decay shrinks the parameter.

        With a decay centre $\theta_0$ (the group's ``decay_centre``) both pull towards it.
        """
        lam, lr = float(group["weight_decay"]), float(group["lr"])
        if lam == 0:
            return d
        if group["decoupled_weight_decay"]:
            # $$\theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1} + \eta\lambda\theta_0$$
            p.mul_(1 - lr * lam)
            if centre is not None:
                p.add_(centre, alpha=lr * lam)
            return d
        # $$d_t \leftarrow d_t + \lambda(\theta_{t-1} - \theta_0)$$
        decayed = d.add(p, alpha=lam)
        if centre is not None:
            decayed.add_(centre, alpha=-lam)
        return decayed

    def _first_moment(self, exp_avg: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        """Step 3: the running mean of the direction."""
        beta1 = group["betas"][0]
        # $$m_t = \beta_1 m_{t-1} + (1 - \beta_1) d_t$$
        exp_avg.lerp_(d, 1 - beta1)

    def _second_moment(self, exp_avg_sq: Tensor, d: Tensor, group: dict[str, Any]) -> None:
        """Step 4: the running mean of the squared direction."""
        beta2 = group["betas"][1]
        # $$v_t = \beta_2 v_{t-1} + (1 - \beta_2) d_t^2$$
        exp_avg_sq.mul_(beta2).addcmul_(d, d, value=1 - beta2)

    def _amsgrad(self, state: dict[str, Any], group: dict[str, Any]) -> Tensor:
        """Step 4 (AMSGrad): the running maximum of $v_t$, else $v_t$ itself."""
        if not group["amsgrad"]:
            return state["exp_avg_sq"]  # type: ignore[no-any-return]
        # $$\hat v_t = \max(\hat v_{t-1}, v_t)$$
        torch.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"], out=state["max_exp_avg_sq"])
        return state["max_exp_avg_sq"]  # type: ignore[no-any-return]

    def _update(
        self, p: Tensor, state: dict[str, Any], second: Tensor, group: dict[str, Any]
    ) -> None:
        """Step 5: the bias-corrected, normalized step."""
        beta1, beta2 = group["betas"]
        step = float(state["step"])
        lr, eps = float(group["lr"]), float(group["eps"])
        # $$\hat\eta_t = \eta / (1 - \beta_1^t)$$
        step_size = lr / (1 - beta1**step)
        # $$\sqrt{v_t}/\sqrt{1 - \beta_2^t} + \epsilon$$
        denominator = (second.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
        # $$\theta_t = \theta_{t-1} - \hat\eta_t\, m_t / (\ldots)$$
        p.addcdiv_(state["exp_avg"], denominator, value=-step_size)


class AdamW(Adam):
    r"""Adam with decoupled weight decay, ``torch.optim.AdamW``'s defaults ($\lambda = 10^{-2}$).

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups.
    lr : float or Tensor, default 1e-3
        $\eta \ge 0$.
    betas : tuple of float, default (0.9, 0.999)
        $(\beta_1, \beta_2)$.
    eps : float, default 1e-8
        $\epsilon$.
    weight_decay : float, default 1e-2
        $\lambda$: each step multiplies the parameters by $1 - \eta\lambda$.
    amsgrad : bool, default False
        AMSGrad.
    maximize : bool, default False
        Ascend instead of descend.

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
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
