r"""The L2-regularized cross-entropy of a linear classifier: value, gradient, Hessian.

A linear classifier with $K$ classes computes logits $Z = XW + \mathbf{1}b^\top$ with
$X \in \mathbb{R}^{m\times d}$. Two parametrizations are used, as in scikit-learn:

* binary ($K = 2$): one logit per row, $W \in \mathbb{R}^{d\times 1}$,
  $p_i = \sigma(z_i)$ the probability of class 1 (logistic regression);
* multinomial ($K \ge 3$): $W \in \mathbb{R}^{d\times K}$,
  $P = \operatorname{softmax}(Z)$ row by row (softmax regression).

The functions below read the parametrization from the number of columns of $W$, so a
two-class softmax ($W$ with two columns, as ``nn.Linear(d, 2)`` with
``CrossEntropyLoss`` builds it) is accepted too.

With targets $T$ (the labels as a column for $K = 2$, one-hot rows otherwise) the
objective is the mean cross-entropy plus the penalty on $W$, the bias free:

$$J(W, b) = \frac{1}{m}\sum_{i=1}^{m}\ell_i(W, b) + \frac{\lambda}{2}\lVert W\rVert_F^2,
\qquad
\ell_i = \begin{cases} \log(1 + e^{z_i}) - t_i z_i & K = 2,\\
\log\sum_k e^{z_{ik}} - z_{i y_i} & K \ge 3. \end{cases}$$

Both cases share one gradient, $\partial \ell_i/\partial z_i = p_i - t_i$, so with
$\Delta = (P - T)/m$

$$\frac{\partial J}{\partial W} = X^\top\Delta + \lambda W, \qquad
\frac{\partial J}{\partial b} = \Delta^\top\mathbf{1},$$

the same shape as for the squared error, with $P - T$ in place of $\hat Y - Y$.
"""

from __future__ import annotations

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative

__all__ = [
    "check_labels",
    "class_probabilities",
    "gradient",
    "hessian",
    "mean_cross_entropy",
    "n_outputs",
    "objective",
    "probabilities",
    "targets",
]


def n_outputs(n_classes: int) -> int:
    r"""The number of logits per row: 1 for two classes, `n_classes` otherwise.

    Parameters
    ----------
    n_classes : int
        $K \ge 2$.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        If `n_classes` is not an integer >= 2.

    Examples
    --------
    >>> from weightdecay.cross_entropy import n_outputs
    >>> n_outputs(2), n_outputs(3)
    (1, 3)
    """
    k = check_count("n_classes", n_classes, minimum=2)
    return 1 if k == 2 else k


def check_labels(labels: object, n_classes: int, n_rows: int | None = None) -> Tensor:
    r"""Check that `labels` is a 1-d integer tensor with values in ``[0, n_classes)``.

    Parameters
    ----------
    labels : object
        The candidate labels.
    n_classes : int
        $K \ge 2$.
    n_rows : int or None, default None
        The number of rows the labels must have, if known.

    Returns
    -------
    Tensor
        `labels` itself.

    Raises
    ------
    TypeError
        If `labels` is not an integer tensor.
    ValueError
        If it is not 1-d, has the wrong length, or a label is out of range.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cross_entropy import check_labels
    >>> check_labels(torch.tensor([0, 2, 1]), 3)
    tensor([0, 2, 1])
    >>> check_labels(torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
    ...
    ValueError: labels must lie in [0, 3), got values from 0 to 3
    """
    k = check_count("n_classes", n_classes, minimum=2)
    if not isinstance(labels, Tensor) or labels.dtype not in (torch.int64, torch.int32):
        found = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"labels must be an int64 or int32 torch.Tensor, got {found}")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {tuple(labels.shape)}")
    if n_rows is not None and labels.shape[0] != n_rows:
        raise ValueError(f"labels must have {n_rows} entries (one per row), got {labels.shape[0]}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels must lie in [0, {k}), got values from {labels.min().item()} "
            f"to {labels.max().item()}"
        )
    return labels


def _check_problem(x: object, labels: object, w: object, b: object) -> tuple[Tensor, Tensor]:
    """Check shapes and dtypes of a classification problem; return ``(x, labels)``."""
    if not isinstance(w, Tensor) or w.ndim != 2:
        raise ValueError(f"w must be a 2-d tensor (n_features, n_outputs), got {w!r}")
    if not isinstance(b, Tensor) or b.shape != (w.shape[1],):
        found = tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__
        raise ValueError(f"b must have shape ({w.shape[1]},), got {found}")
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != w.shape[0]:
        found = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (m, {w.shape[0]}), got {found}")
    if not x.dtype == w.dtype == b.dtype:
        raise TypeError(f"x, w and b must share a dtype, got {x.dtype}, {w.dtype}, {b.dtype}")
    return x, check_labels(labels, max(2, w.shape[1]), x.shape[0])


def _targets(labels: Tensor, n_logits: int, dtype: torch.dtype) -> Tensor:
    """$T$ for a model with `n_logits` logits: a column for one, one-hot rows otherwise."""
    if n_logits == 1:
        return labels.to(dtype).unsqueeze(1)
    return torch.nn.functional.one_hot(labels, n_logits).to(dtype)


def targets(labels: Tensor, n_classes: int, dtype: torch.dtype = torch.float64) -> Tensor:
    r"""The target matrix $T$: the labels as a column for two classes, else one-hot rows.

    Parameters
    ----------
    labels : Tensor
        Integer labels in ``[0, n_classes)``, shape (m,).
    n_classes : int
        $K \ge 2$.
    dtype : torch.dtype, default torch.float64
        The dtype of $T$.

    Returns
    -------
    Tensor
        Shape (m, 1) if `n_classes` is 2, else (m, n_classes).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cross_entropy import targets
    >>> targets(torch.tensor([1, 0]), 2).flatten().tolist()
    [1.0, 0.0]
    >>> targets(torch.tensor([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    check_labels(labels, n_classes)
    return _targets(labels, n_outputs(n_classes), dtype)


def probabilities(logits: Tensor) -> Tensor:
    r"""$P$ from the logits: $\sigma(Z)$ for one column, $\operatorname{softmax}(Z)$ otherwise.

    Parameters
    ----------
    logits : Tensor
        Shape (m, 1) for two classes, (m, K) otherwise.

    Returns
    -------
    Tensor
        The same shape: the probability of class 1, or of each class.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cross_entropy import probabilities
    >>> probabilities(torch.zeros(1, 1)).item(), probabilities(torch.zeros(1, 4)).tolist()
    (0.5, [[0.25, 0.25, 0.25, 0.25]])
    """
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        raise ValueError(f"logits must be a 2-d tensor, got {logits!r}")
    if logits.shape[1] == 1:
        # $$p_i = \sigma(z_i) = 1/(1 + e^{-z_i})$$
        return torch.sigmoid(logits)
    # $$p_{ik} = e^{z_{ik}} / \textstyle\sum_l e^{z_{il}}$$
    return torch.softmax(logits, dim=1)


def class_probabilities(logits: Tensor) -> Tensor:
    r"""Every class's probability from the logits: $(1 - p, p)$ for one logit.

    Parameters
    ----------
    logits : Tensor
        Shape (m, 1) or (m, K).

    Returns
    -------
    Tensor
        Shape (m, 2) or (m, K), rows summing to 1.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cross_entropy import class_probabilities
    >>> class_probabilities(torch.tensor([[0.0]])).tolist()
    [[0.5, 0.5]]
    """
    p = probabilities(logits)
    return torch.cat([1 - p, p], dim=1) if p.shape[1] == 1 else p


def mean_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    r"""The mean cross-entropy $\frac{1}{m}\sum_i \ell_i$, computed stably from the logits.

    Parameters
    ----------
    logits : Tensor
        Shape (m, 1) for two classes (the logit of class 1), (m, K) otherwise.
    labels : Tensor
        Integer labels, shape (m,).

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    PyTorch's two losses are the oracles:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from weightdecay.cross_entropy import mean_cross_entropy
    >>> z, y = torch.randn(6, 1, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1, 0])
    >>> bce = F.binary_cross_entropy_with_logits(z[:, 0], y.double())
    >>> torch.allclose(mean_cross_entropy(z, y), bce, rtol=1e-15)
    True
    >>> z3, y3 = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 2, 1, 1, 2, 0])
    >>> torch.allclose(mean_cross_entropy(z3, y3), F.cross_entropy(z3, y3), rtol=1e-15)
    True

    Large logits keep their digits: $\log(1 + e^{40}) - 40 = \log(1 + e^{-40})$.

    >>> import math
    >>> big = mean_cross_entropy(torch.tensor([[40.0]], dtype=torch.float64), torch.tensor([1]))
    >>> math.isclose(big.item(), math.log1p(math.exp(-40)), rel_tol=1e-15)
    True
    """
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        raise ValueError(f"logits must be a 2-d tensor, got {logits!r}")
    n_classes = 2 if logits.shape[1] == 1 else logits.shape[1]
    check_labels(labels, n_classes, logits.shape[0])
    if logits.shape[1] == 1:
        z = logits[:, 0]
        # $$\ell_i = \log(1 + e^{z_i}) - t_i z_i = \log(1 + e^{(1 - 2t_i)z_i})$$ for
        # $t_i \in \{0, 1\}$: no cancellation, and no `softplus`, which returns $z$ itself
        # above $z = 20$ (off by up to $e^{-20} \approx 2\times 10^{-9}$, gradient exactly 1).
        sign = 1 - 2 * labels.to(z.dtype)
        return torch.logaddexp(torch.zeros_like(z), sign * z).mean()
    # $$\ell_i = \log\textstyle\sum_k e^{z_{ik}} - z_{i y_i}$$
    picked = logits.gather(1, labels.unsqueeze(1))[:, 0]
    return (torch.logsumexp(logits, dim=1) - picked).mean()


def objective(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> Tensor:
    r"""$J(W, b) = \frac{1}{m}\sum_i\ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$.

    Parameters
    ----------
    x : Tensor
        Inputs, shape (m, d).
    labels : Tensor
        Integer labels, shape (m,).
    w : Tensor
        Weights, shape (d, 1) for two classes or (d, K).
    b : Tensor
        Bias, shape (1,) or (K,); not penalized.
    lambd : float
        $\lambda \ge 0$.

    Returns
    -------
    Tensor
        A scalar (differentiable in `w` and `b`).

    Raises
    ------
    TypeError, ValueError
        If a shape, dtype or label is wrong, or `lambd` is negative.

    Examples
    --------
    At $W = 0, b = 0$ every class has probability $1/K$, so $J = \log K$:

    >>> import math, torch
    >>> from weightdecay.cross_entropy import objective
    >>> x, y = torch.randn(5, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1])
    >>> w, b = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    >>> math.isclose(objective(x, y, w, b, 0.1).item(), math.log(3), rel_tol=1e-15)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    _check_problem(x, labels, w, b)
    # $$J = \frac{1}{m}\sum_i \ell_i + \frac{\lambda}{2}\lVert W\rVert_F^2$$
    return mean_cross_entropy(x @ w + b, labels) + lam / 2 * w.pow(2).sum()


def gradient(
    x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float
) -> tuple[Tensor, Tensor]:
    r"""The hand-derived gradient of $J$: $(X^\top\Delta + \lambda W,\ \Delta^\top\mathbf{1})$.

    Parameters
    ----------
    x, labels, w, b, lambd
        As in `objective`.

    Returns
    -------
    tuple of Tensor
        ``(grad_w, grad_b)`` with the shapes of `w` and `b`.

    Examples
    --------
    Autograd of `objective` is the oracle, for two and for three classes:

    >>> import torch
    >>> from weightdecay.cross_entropy import gradient, objective
    >>> x = torch.randn(6, 4, dtype=torch.float64)
    >>> cases = [(1, torch.tensor([0, 1, 1, 0, 1, 0])), (3, torch.tensor([0, 2, 1, 1, 2, 0]))]
    >>> for k, y in cases:
    ...     w = torch.randn(4, k, dtype=torch.float64, requires_grad=True)
    ...     b = torch.randn(k, dtype=torch.float64, requires_grad=True)
    ...     objective(x, y, w, b, 0.3).backward()
    ...     gw, gb = gradient(x, y, w.detach(), b.detach(), 0.3)
    ...     print(torch.allclose(gw, w.grad, rtol=1e-13), torch.allclose(gb, b.grad, rtol=1e-13))
    True True
    True True
    """
    lam = check_nonnegative("lambd", lambd)
    x, labels = _check_problem(x, labels, w, b)
    # $$\Delta = \frac{1}{m}(P - T)$$
    delta = (probabilities(x @ w + b) - _targets(labels, w.shape[1], x.dtype)) / x.shape[0]
    # $$\frac{\partial J}{\partial W} = X^\top\Delta + \lambda W$$
    grad_w = x.T @ delta + lam * w
    # $$\frac{\partial J}{\partial b} = \Delta^\top\mathbf{1}$$
    grad_b = delta.sum(dim=0)
    return grad_w, grad_b


def hessian(x: Tensor, labels: Tensor, w: Tensor, b: Tensor, lambd: float) -> Tensor:
    r"""The Hessian of $J$ in $\Theta = [W;\, b^\top]$, flattened row by row.

    With $\tilde x_i = (x_i, 1)$ and $S_i = \operatorname{diag}(p_i) - p_i p_i^\top$
    (for one logit, $S_i = p_i(1 - p_i)$):

    $$\frac{\partial^2 J}{\partial\Theta_{ak}\,\partial\Theta_{cl}}
    = \frac{1}{m}\sum_i \tilde x_{ia}\tilde x_{ic}\,(S_i)_{kl}
    + \lambda\,[a = c \le d]\,[k = l].$$

    The cross-entropy part does not depend on the labels (they enter $J$ linearly);
    `labels` is taken for validation only. For $K \ge 3$ the matrix is singular along
    $b \mapsto b + c\mathbf{1}$: adding a constant to every logit changes no probability.

    Parameters
    ----------
    x, labels, w, b, lambd
        As in `objective`.

    Returns
    -------
    Tensor
        Shape ((d + 1) k, (d + 1) k), with $k$ the number of logits; entry
        ``[a * k + kk, c * k + l]`` as above.

    Examples
    --------
    ``torch.autograd.functional.hessian`` is the oracle:

    >>> import torch
    >>> from torch.autograd.functional import hessian as autograd_hessian
    >>> from weightdecay.cross_entropy import hessian, objective
    >>> x, y = torch.randn(9, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2])
    >>> theta = torch.randn(3, 3, dtype=torch.float64)
    >>> H = autograd_hessian(lambda t: objective(x, y, t[:2], t[2], 0.2), theta)
    >>> torch.allclose(hessian(x, y, theta[:2], theta[2], 0.2), H.reshape(9, 9), rtol=1e-13)
    True
    """
    lam = check_nonnegative("lambd", lambd)
    x, labels = _check_problem(x, labels, w, b)
    m, d = x.shape
    k = w.shape[1]
    p = probabilities(x @ w + b)
    if k == 1:
        # $$S_i = p_i(1 - p_i)$$
        s = (p * (1 - p)).unsqueeze(2)
    else:
        # $$S_i = \operatorname{diag}(p_i) - p_i p_i^\top$$
        s = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    x_tilde = torch.cat([x, torch.ones(m, 1, dtype=x.dtype)], dim=1)
    # $$H_{ak,cl} = \frac{1}{m}\sum_i \tilde x_{ia}\tilde x_{ic}(S_i)_{kl}$$
    h = torch.einsum("ia,ic,ikl->akcl", x_tilde, x_tilde, s).reshape((d + 1) * k, (d + 1) * k) / m
    # $$+\,\lambda I$$ on the weights' block (the first $dk$ coordinates), none on $b$
    h.diagonal()[: d * k] += lam
    return h
