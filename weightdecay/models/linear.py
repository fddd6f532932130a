r"""Multi-output linear regression with weight decay: from scratch, and its `torch.nn` twin.

The model is $\hat Y = XW + \mathbf{1}b^\top$ with $X \in \mathbb{R}^{m\times d}$,
$W \in \mathbb{R}^{d\times k}$, $b \in \mathbb{R}^{k}$, trained on

$$J(W, b) = \underbrace{\frac{1}{mk}\sum_{i=1}^{m}\sum_{j=1}^{k}(\hat y_{ij} - y_{ij})^2}_{L}
+ \frac{\lambda}{2}\lVert W\rVert_F^2 .$$

The bias is not decayed: it only shifts the outputs, so shrinking it towards zero
would pull predictions towards the origin without reducing the model's
flexibility, and the usual Gaussian-prior reading puts a flat prior on it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from weightdecay._checks import check_count, check_dtype, check_nonnegative, check_positive
from weightdecay.models._layer import copy_linear, weight_and_bias_groups
from weightdecay.optim.sgd import SGD

__all__ = ["ScratchLinearRegression", "TorchLinearRegression"]


def _check_batch(name: str, tensor: object, columns: int, dtype: torch.dtype) -> Tensor:
    """Check that `tensor` is a 2-d tensor with `columns` columns and `dtype`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.ndim != 2 or tensor.shape[1] != columns:
        raise ValueError(f"{name} must have shape (m, {columns}), got {tuple(tensor.shape)}")
    if tensor.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {tensor.dtype}")
    return tensor


class ScratchLinearRegression:
    r"""Linear regression trained by hand-derived gradient steps on $J$.

    Parameters
    ----------
    n_features : int
        $d$, the number of input columns (features).
    n_targets : int
        $k$, the number of outputs.
    lambd : float
        The decay strength $\lambda \ge 0$ on $W$ (the bias is not decayed).
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    generator : torch.Generator or None, default None
        Source of the standard-normal initial $W$ and $b$; None uses the
        global generator.
    centre : Tensor or None, default None
        $W_0$, shape (n_features, n_targets): decay pulls $W$ towards it (L2-SP),
        $\nabla_W J = X^\top\Delta + \lambda(W - W_0)$.

    Attributes
    ----------
    w : Tensor
        The weights, shape (n_features, n_targets). Note the orientation:
        ``nn.Linear.weight`` is its transpose.
    b : Tensor
        The bias, shape (n_targets,).

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, `lambd` is negative or not
        finite, or `dtype` is not float32 or float64.

    Examples
    --------
    One gradient step equals a step on $J$ differentiated by autograd:

    >>> import torch
    >>> from weightdecay import ScratchLinearRegression
    >>> g = torch.Generator().manual_seed(0)
    >>> model = ScratchLinearRegression(4, 2, lambd=0.1, generator=g)
    >>> x, y = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    >>> w = model.w.clone().requires_grad_()
    >>> b = model.b.clone().requires_grad_()
    >>> J = (x @ w + b - y).pow(2).mean() + 0.1 / 2 * w.pow(2).sum()
    >>> J.backward()
    >>> _ = model.step(x, y, lr=0.5)
    >>> torch.allclose(model.w, w.detach() - 0.5 * w.grad, rtol=1e-14, atol=1e-15)
    True
    >>> torch.allclose(model.b, b.detach() - 0.5 * b.grad, rtol=1e-14, atol=1e-15)
    True
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        lambd: float,
        *,
        dtype: torch.dtype = torch.float64,
        generator: torch.Generator | None = None,
        centre: Tensor | None = None,
    ) -> None:
        self.n_features = check_count("n_features", n_features)
        self.n_targets = check_count("n_targets", n_targets)
        self.lambd = check_nonnegative("lambd", lambd)
        self.dtype = check_dtype("dtype", dtype)
        self.w = torch.randn(n_features, n_targets, dtype=dtype, generator=generator)
        self.b = torch.randn(n_targets, dtype=dtype, generator=generator)
        if centre is not None:
            if not isinstance(centre, Tensor) or centre.shape != (n_features, n_targets):
                found = getattr(centre, "shape", centre)
                raise ValueError(
                    f"centre must have shape ({n_features}, {n_targets}), got {found!r}"
                )
            if centre.dtype != dtype:
                raise TypeError(f"centre must have dtype {dtype}, got {centre.dtype}")
        self.centre = centre

    def parameters(self) -> list[Tensor]:
        """The parameters, ``[w, b]``.

        Returns
        -------
        list of Tensor
            The live tensors (updated in place by `step`).

        Examples
        --------
        >>> from weightdecay import ScratchLinearRegression
        >>> [tuple(p.shape) for p in ScratchLinearRegression(6, 3, 0.01).parameters()]
        [(6, 3), (3,)]
        """
        return [self.w, self.b]

    def copy_params(self, layer: nn.Linear) -> None:
        """Copy the parameters of an ``nn.Linear`` into this model.

        Parameters
        ----------
        layer : nn.Linear
            A layer with ``in_features == n_features``, ``out_features == n_targets``,
            a bias and this model's dtype.

        Raises
        ------
        TypeError
            If `layer` is not an ``nn.Linear`` with a bias, or its dtype differs.
        ValueError
            If its sizes differ.

        Examples
        --------
        >>> import torch
        >>> from weightdecay import ScratchLinearRegression
        >>> layer = torch.nn.Linear(6, 3, dtype=torch.float64)
        >>> model = ScratchLinearRegression(6, 3, 0.01)
        >>> model.copy_params(layer)
        >>> x = torch.randn(4, 6, dtype=torch.float64)
        >>> torch.equal(model.predict(x), layer(x).detach())
        True
        """
        copy_linear(layer, self.w, self.b)

    def predict(self, x: Tensor) -> Tensor:
        r"""Predictions $\hat Y = XW + \mathbf{1}b^\top$.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (m, n_features), this model's dtype.

        Returns
        -------
        Tensor
            Shape (m, n_targets).

        Raises
        ------
        TypeError, ValueError
            If `x` has the wrong type, shape or dtype.

        Examples
        --------
        >>> import torch
        >>> from weightdecay import ScratchLinearRegression
        >>> model = ScratchLinearRegression(2, 1, 0.0)
        >>> model.w[:] = torch.tensor([[1.0], [2.0]]); model.b[:] = 0.5
        >>> model.predict(torch.tensor([[1.0, 1.0]], dtype=torch.float64))
        tensor([[3.5000]], dtype=torch.float64)
        """
        _check_batch("x", x, self.n_features, self.dtype)
        # $$\hat Y = XW + \mathbf{1}b^\top$$
        return x @ self.w + self.b

    def gradients(self, x: Tensor, y: Tensor, pred: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""The gradients $\partial J/\partial W$ and $\partial J/\partial b$ on a batch.

        With $\Delta = \frac{2}{mk}(\hat Y - Y)$ (the derivative of the mean over
        the $mk$ entries of the batch):

        * $\partial L/\partial W = X^\top\Delta$, since $\hat y_{ij}$ depends on
          $w_{pj}$ through $x_{ip}$ only;
        * $\partial J/\partial W = X^\top\Delta + \lambda W$, the penalty adding
          $\lambda W$;
        * $\partial J/\partial b = \Delta^\top\mathbf{1}$, the column sums of $\Delta$,
          with no decay term.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (m, n_features).
        y : Tensor
            Targets, shape (m, n_targets).
        pred : Tensor or None, default None
            ``predict(x)`` if already computed.

        Returns
        -------
        tuple of Tensor
            ``(grad_w, grad_b)`` with the shapes of ``w`` and ``b``.

        Raises
        ------
        TypeError, ValueError
            If a tensor has the wrong type, shape or dtype, or `x` and `y`
            have different numbers of rows.

        Examples
        --------
        Autograd of $J$ is the oracle:

        >>> import torch
        >>> from weightdecay import ScratchLinearRegression
        >>> model = ScratchLinearRegression(3, 2, lambd=0.2)
        >>> x, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
        >>> w, b = model.w.clone().requires_grad_(), model.b.clone().requires_grad_()
        >>> ((x @ w + b - y).pow(2).mean() + 0.1 * w.pow(2).sum()).backward()
        >>> gw, gb = model.gradients(x, y)
        >>> torch.allclose(gw, w.grad, rtol=1e-13), torch.allclose(gb, b.grad, rtol=1e-13)
        (True, True)
        """
        _check_batch("y", y, self.n_targets, self.dtype)
        if pred is None:
            pred = self.predict(x)
        else:
            _check_batch("x", x, self.n_features, self.dtype)
            _check_batch("pred", pred, self.n_targets, self.dtype)
        if not x.shape[0] == y.shape[0] == pred.shape[0]:
            raise ValueError(
                f"x, y and pred must have the same number of rows, got "
                f"{x.shape[0]}, {y.shape[0]} and {pred.shape[0]}"
            )
        # $$\Delta = \frac{2}{mk}(\hat Y - Y)$$
        delta = 2 * (pred - y) / y.numel()
        # $$\frac{\partial J}{\partial W} = X^\top\Delta + \lambda (W - W_0)$$
        if self.centre is None:
            grad_w = x.T @ delta + self.lambd * self.w
        else:
            grad_w = x.T @ delta + self.lambd * (self.w - self.centre)
        # $$\frac{\partial J}{\partial b} = \Delta^\top\mathbf{1}$$
        grad_b = delta.sum(dim=0)
        return grad_w, grad_b

    def step(self, x: Tensor, y: Tensor, lr: float) -> Tensor:
        r"""One gradient step on a batch, $\theta \leftarrow \theta - \eta\,\nabla_\theta J$.

        Parameters
        ----------
        x : Tensor
            Inputs, shape (m, n_features).
        y : Tensor
            Targets, shape (m, n_targets).
        lr : float
            The learning rate $\eta > 0$.

        Returns
        -------
        Tensor
            The predictions on `x` before the step (for the loss log).

        Raises
        ------
        TypeError, ValueError
            If `lr` is not a finite positive number, or a tensor is malformed.

        Examples
        --------
        With $\lambda > 0$ and zero data gradient, a step only shrinks $W$:

        >>> import torch
        >>> from weightdecay import ScratchLinearRegression
        >>> model = ScratchLinearRegression(2, 1, lambd=0.5)
        >>> x = torch.zeros(3, 2, dtype=torch.float64)
        >>> y = model.predict(x)
        >>> w0 = model.w.clone()
        >>> _ = model.step(x, y, lr=0.1)
        >>> torch.allclose(model.w, (1 - 0.1 * 0.5) * w0)
        True
        """
        eta = check_positive("lr", lr)
        pred = self.predict(x)
        grad_w, grad_b = self.gradients(x, y, pred)
        # $$b \leftarrow b - \eta\,\Delta^\top\mathbf{1}$$
        self.b -= eta * grad_b
        # $$W \leftarrow W - \eta\,(X^\top\Delta + \lambda W)$$
        self.w -= eta * grad_w
        return pred


class TorchLinearRegression(nn.Module):
    """The `torch.nn` twin: an ``nn.Linear`` trained by ``torch.optim.SGD``.

    Parameters
    ----------
    n_features : int
        Input width $d$.
    n_targets : int
        Output width $k$.
    dtype : torch.dtype, default torch.float64
        float32 or float64.
    seed : int or None, default None
        Seed for PyTorch's default ``nn.Linear`` initialization (the global
        generator's state is left untouched); None draws from the global
        generator.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer or `dtype` not float32/float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import TorchLinearRegression
    >>> model = TorchLinearRegression(6, 3, seed=0)
    >>> model(torch.zeros(2, 6, dtype=torch.float64)).shape
    torch.Size([2, 3])
    >>> torch.equal(model.layer.weight, TorchLinearRegression(6, 3, seed=0).layer.weight)
    True
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        *,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        n = check_count("n_features", n_features)
        k = check_count("n_targets", n_targets)
        check_dtype("dtype", dtype)
        if seed is None:
            self.layer = nn.Linear(n, k, dtype=dtype)
        else:
            check_count("seed", seed, minimum=0)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.layer = nn.Linear(n, k, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        r"""Predictions $\hat Y = X\,\text{weight}^\top + \text{bias}$.

        Parameters
        ----------
        x : Tensor
            Shape (m, n_features).

        Returns
        -------
        Tensor
            Shape (m, n_targets).

        Examples
        --------
        >>> import torch
        >>> from weightdecay import TorchLinearRegression
        >>> TorchLinearRegression(2, 1, seed=0)(torch.ones(1, 2, dtype=torch.float64)).shape
        torch.Size([1, 1])
        """
        out: Tensor = self.layer(x)
        return out

    def sgd(
        self, lr: float, weight_decay: float, centre: Tensor | None = None
    ) -> torch.optim.Optimizer:
        r"""``torch.optim.SGD`` with decay on the weight's group and none on the bias's.

        With a `centre` $W_0$ the weight decays towards it instead, through this
        package's `weightdecay.optim.SGD` and its ``decay_centre`` (``torch.optim.SGD``
        has no such option).

        Parameters
        ----------
        lr : float
            The learning rate, > 0.
        weight_decay : float
            $\lambda \ge 0$ for the weight; the bias group gets 0.
        centre : Tensor or None, default None
            $W_0$, shape (n_features, n_targets) (the transpose of ``layer.weight``).

        Returns
        -------
        torch.optim.SGD
            Two parameter groups: ``[weight]`` and ``[bias]``.

        Raises
        ------
        TypeError, ValueError
            If `lr` is not finite and positive or `weight_decay` negative or not finite.

        Examples
        --------
        >>> from weightdecay import TorchLinearRegression
        >>> opt = TorchLinearRegression(6, 3, seed=0).sgd(lr=0.01, weight_decay=0.01)
        >>> [group["weight_decay"] for group in opt.param_groups]
        [0.01, 0.0]
        """
        eta = check_positive("lr", lr)
        lam = check_nonnegative("weight_decay", weight_decay)
        if centre is not None:
            expected = (self.layer.in_features, self.layer.out_features)
            if centre.shape != expected:
                raise ValueError(f"centre must have shape {expected}, got {tuple(centre.shape)}")
            return SGD(
                [
                    {"params": [self.layer.weight], "weight_decay": lam,
                     "decay_centre": [centre.T.contiguous()]},
                    {"params": [self.layer.bias], "weight_decay": 0.0},
                ],
                lr=eta,
            )  # fmt: skip
        return torch.optim.SGD(weight_and_bias_groups(self.layer, lam), lr=eta)
