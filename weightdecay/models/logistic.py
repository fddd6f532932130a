r"""L2-regularized logistic and softmax regression: from scratch, and the `torch.nn` twin.

The scratch model steps on the hand-derived gradient of
$J = \frac{1}{m}\sum_i\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$
(`weightdecay.cross_entropy.gradient`); the twin is an ``nn.Linear`` with PyTorch's own
cross-entropy and ``torch.optim.SGD(weight_decay=λ)`` on the weight's group only. Two
classes use one logit (logistic regression), three or more one logit per class
(softmax regression), as scikit-learn's `LogisticRegression` does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from weightdecay._checks import check_count, check_dtype, check_nonnegative, check_positive
from weightdecay.cross_entropy import check_labels, class_probabilities, gradient, n_outputs
from weightdecay.models._layer import copy_linear, weight_and_bias_groups

__all__ = ["ScratchLogisticRegression", "TorchLogisticRegression"]


class ScratchLogisticRegression:
    r"""A linear classifier trained by hand-derived gradient steps on $J$.

    Parameters
    ----------
    n_features : int
        $d$, the number of input columns.
    n_classes : int
        $K \ge 2$; two classes use one logit.
    lambd : float
        $\lambda \ge 0$ on $W$ (the bias is not decayed).
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    generator : torch.Generator or None, default None
        Source of the standard-normal initial $W$ and $b$ (scaled by 0.1).

    Attributes
    ----------
    w : Tensor
        Shape (n_features, 1) for two classes, else (n_features, n_classes): the
        transpose of ``nn.Linear.weight``.
    b : Tensor
        Shape (1,) or (n_classes,).

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer (`n_classes` >= 2), `lambd` is negative
        or not finite, or `dtype` is not float32 or float64.

    Examples
    --------
    One step equals a step on $J$ differentiated by autograd:

    >>> import torch
    >>> from weightdecay.cross_entropy import objective
    >>> from weightdecay.models.logistic import ScratchLogisticRegression
    >>> g = torch.Generator().manual_seed(0)
    >>> model = ScratchLogisticRegression(3, 4, lambd=0.1, generator=g)
    >>> x, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    >>> w, b = model.w.clone().requires_grad_(), model.b.clone().requires_grad_()
    >>> objective(x, y, w, b, 0.1).backward()
    >>> model.step(x, y, lr=0.5)
    >>> torch.allclose(model.w, w.detach() - 0.5 * w.grad, rtol=1e-14, atol=1e-16)
    True
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        lambd: float,
        *,
        dtype: torch.dtype = torch.float64,
        generator: torch.Generator | None = None,
    ) -> None:
        self.n_features = check_count("n_features", n_features)
        self.n_classes = check_count("n_classes", n_classes, minimum=2)
        self.lambd = check_nonnegative("lambd", lambd)
        self.dtype = check_dtype("dtype", dtype)
        k = n_outputs(n_classes)
        self.w = 0.1 * torch.randn(n_features, k, dtype=dtype, generator=generator)
        self.b = 0.1 * torch.randn(k, dtype=dtype, generator=generator)

    def parameters(self) -> list[Tensor]:
        """The parameters, ``[w, b]`` (live tensors, updated in place by `step`).

        Returns
        -------
        list of Tensor

        Examples
        --------
        >>> from weightdecay.models.logistic import ScratchLogisticRegression
        >>> [tuple(p.shape) for p in ScratchLogisticRegression(5, 2, 0.0).parameters()]
        [(5, 1), (1,)]
        """
        return [self.w, self.b]

    def copy_params(self, layer: nn.Linear) -> None:
        """Copy an ``nn.Linear`` (its weight transposed, and its bias) into this model.

        Parameters
        ----------
        layer : nn.Linear
            ``n_features`` inputs, as many outputs as this model has logits, a bias,
            this model's dtype.

        Raises
        ------
        TypeError, ValueError
            If `layer` is not such a layer.

        Examples
        --------
        >>> import torch
        >>> from weightdecay.models.logistic import ScratchLogisticRegression as Scratch
        >>> from weightdecay.models.logistic import TorchLogisticRegression as Twin
        >>> twin, model = Twin(4, 3, seed=0), Scratch(4, 3, 0.0)
        >>> model.copy_params(twin.layer)
        >>> torch.equal(model.w, twin.layer.weight.T), torch.equal(model.b, twin.layer.bias)
        (True, True)
        """
        copy_linear(layer, self.w, self.b)

    def logits(self, x: Tensor) -> Tensor:
        r"""The logits $Z = XW + \mathbf{1}b^\top$.

        Parameters
        ----------
        x : Tensor
            Shape (m, n_features), this model's dtype.

        Returns
        -------
        Tensor
            Shape (m, 1) for two classes, else (m, n_classes).

        Raises
        ------
        TypeError, ValueError
            If `x` has the wrong type, shape or dtype.

        Examples
        --------
        >>> import torch
        >>> from weightdecay.models.logistic import ScratchLogisticRegression
        >>> model = ScratchLogisticRegression(2, 3, 0.0)
        >>> model.logits(torch.zeros(4, 2, dtype=torch.float64)).shape
        torch.Size([4, 3])
        """
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.n_features:
            found = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (m, {self.n_features}), got {found}")
        if x.dtype != self.dtype:
            raise TypeError(f"x must have dtype {self.dtype}, got {x.dtype}")
        # $$Z = XW + \mathbf{1}b^\top$$
        return x @ self.w + self.b

    def predict_proba(self, x: Tensor) -> Tensor:
        """The probability of each class, shape (m, n_classes), rows summing to 1.

        Parameters
        ----------
        x : Tensor
            Shape (m, n_features).

        Returns
        -------
        Tensor

        Examples
        --------
        >>> import torch
        >>> from weightdecay.models.logistic import ScratchLogisticRegression
        >>> model = ScratchLogisticRegression(2, 2, 0.0)
        >>> p = model.predict_proba(torch.randn(3, 2, dtype=torch.float64))
        >>> p.shape, torch.allclose(p.sum(dim=1), torch.ones(3, dtype=torch.float64))
        (torch.Size([3, 2]), True)
        """
        return class_probabilities(self.logits(x))

    def step(self, x: Tensor, labels: Tensor, lr: float) -> None:
        r"""One gradient step on a batch: $\theta \leftarrow \theta - \eta\nabla_\theta J$.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (m, n_features).
        labels : Tensor
            Integer labels in ``[0, n_classes)``, shape (m,).
        lr : float
            $\eta > 0$.

        Raises
        ------
        TypeError, ValueError
            If `lr` is not finite and positive, or a tensor is malformed.

        Examples
        --------
        See the class's example.
        """
        eta = check_positive("lr", lr)
        self.logits(x)
        check_labels(labels, self.n_classes, x.shape[0])
        grad_w, grad_b = gradient(x, labels, self.w, self.b, self.lambd)
        # $$b \leftarrow b - \eta\,\Delta^\top\mathbf{1}$$
        self.b -= eta * grad_b
        # $$W \leftarrow W - \eta\,(X^\top\Delta + \lambda W)$$
        self.w -= eta * grad_w


class TorchLogisticRegression(nn.Module):
    r"""The `torch.nn` twin: an ``nn.Linear`` with PyTorch's cross-entropy.

    Parameters
    ----------
    n_features : int
        Input width $d$.
    n_classes : int
        $K \ge 2$; two classes use one output and ``binary_cross_entropy_with_logits``,
        more use $K$ outputs and ``cross_entropy``.
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    seed : int or None, default None
        Seed for PyTorch's default ``nn.Linear`` initialization (the global generator's
        state is left untouched); None draws from the global generator.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer or `dtype` not float32/float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.models.logistic import TorchLogisticRegression
    >>> TorchLogisticRegression(5, 2, seed=0)(torch.zeros(3, 5, dtype=torch.float64)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        d = check_count("n_features", n_features)
        self.n_classes = check_count("n_classes", n_classes, minimum=2)
        check_dtype("dtype", dtype)
        if seed is None:
            self.layer = nn.Linear(d, n_outputs(n_classes), dtype=dtype)
        else:
            check_count("seed", seed, minimum=0)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.layer = nn.Linear(d, n_outputs(n_classes), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        """The logits, shape (m, 1) or (m, n_classes).

        Parameters
        ----------
        x : Tensor
            Shape (m, n_features).

        Returns
        -------
        Tensor

        Examples
        --------
        >>> import torch
        >>> from weightdecay.models.logistic import TorchLogisticRegression
        >>> TorchLogisticRegression(2, 4, seed=0)(torch.ones(1, 2, dtype=torch.float64)).shape
        torch.Size([1, 4])
        """
        out: Tensor = self.layer(x)
        return out

    def loss(self, x: Tensor, labels: Tensor) -> Tensor:
        """PyTorch's mean cross-entropy on a batch (no penalty: the optimizer decays).

        Parameters
        ----------
        x : Tensor
            Shape (m, n_features).
        labels : Tensor
            Integer labels, shape (m,).

        Returns
        -------
        Tensor
            A scalar.

        Examples
        --------
        >>> import math, torch
        >>> from weightdecay.models.logistic import TorchLogisticRegression
        >>> model = TorchLogisticRegression(2, 3, seed=0)
        >>> _ = torch.nn.init.zeros_(model.layer.weight), torch.nn.init.zeros_(model.layer.bias)
        >>> loss = model.loss(torch.ones(2, 2, dtype=torch.float64), torch.tensor([0, 2]))
        >>> math.isclose(loss.item(), math.log(3))
        True
        """
        check_labels(labels, self.n_classes, x.shape[0])
        logits = self(x)
        if logits.shape[1] == 1:
            return functional.binary_cross_entropy_with_logits(
                logits[:, 0], labels.to(logits.dtype)
            )
        return functional.cross_entropy(logits, labels)

    def sgd(self, lr: float, weight_decay: float) -> torch.optim.SGD:
        r"""``torch.optim.SGD`` with `weight_decay` on the weight's group and 0 on the bias's.

        Parameters
        ----------
        lr : float
            $\eta > 0$.
        weight_decay : float
            $\lambda \ge 0$.

        Returns
        -------
        torch.optim.SGD

        Raises
        ------
        TypeError, ValueError
            If `lr` is not finite and positive or `weight_decay` negative or not finite.

        Examples
        --------
        >>> from weightdecay.models.logistic import TorchLogisticRegression
        >>> opt = TorchLogisticRegression(3, 2, seed=0).sgd(lr=0.1, weight_decay=0.01)
        >>> [group["weight_decay"] for group in opt.param_groups]
        [0.01, 0.0]
        """
        eta = check_positive("lr", lr)
        lam = check_nonnegative("weight_decay", weight_decay)
        return torch.optim.SGD(weight_and_bias_groups(self.layer, lam), lr=eta)
