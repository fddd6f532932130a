r"""From our objective to scikit-learn's `Ridge`.

The linear-regression objective of the first source document averages the
squared error over all $n k$ entries of the $n \times k$ target matrix and
decays the weight matrix only:

$$J(W, b) = \frac{1}{nk}\lVert Y - XW - \mathbf{1}b^\top\rVert_F^2
+ \frac{\lambda}{2}\lVert W\rVert_F^2.$$

scikit-learn's `Ridge` minimizes, summed over the $k$ targets,
$\lVert Y - XW - \mathbf{1}b^\top\rVert_F^2 + \alpha\lVert W\rVert_F^2$ with an
unpenalized intercept. Multiplying $J$ by $nk > 0$ leaves its minimizer
unchanged and gives that objective with $\alpha = nk\lambda/2$.
"""

from __future__ import annotations

from weightdecay._checks import check_count, check_nonnegative

__all__ = ["decay_from_ridge_alpha", "ridge_alpha"]


def ridge_alpha(lambd: float, n_samples: int, n_targets: int = 1) -> float:
    r"""scikit-learn `Ridge` penalty weight $\alpha = nk\lambda/2$ for our objective.

    Parameters
    ----------
    lambd : float
        Our decay strength $\lambda \ge 0$.
    n_samples : int
        $n \ge 1$, the number of training rows.
    n_targets : int, default 1
        $k \ge 1$, the number of outputs the mean squared error averages over.

    Returns
    -------
    float
        $\alpha$, a penalty weight (not a precision).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `lambd` is negative or not finite, or a count is below 1.

    Examples
    --------
    At scikit-learn's solution the gradient of our objective vanishes:

    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from weightdecay import ridge_alpha
    >>> X, Y = make_regression(n_samples=50, n_features=4, n_targets=2, random_state=0)
    >>> lambd = 0.3
    >>> fit = Ridge(alpha=ridge_alpha(lambd, n_samples=50, n_targets=2)).fit(X, Y)
    >>> W = torch.tensor(fit.coef_.T, requires_grad=True)
    >>> b = torch.tensor(fit.intercept_, requires_grad=True)
    >>> X, Y = torch.tensor(X), torch.tensor(Y)
    >>> J = (X @ W + b - Y).pow(2).mean() + lambd / 2 * W.pow(2).sum()
    >>> J.backward()
    >>> float(W.grad.abs().max()) < 1e-10, float(b.grad.abs().max()) < 1e-10
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    n = check_count("n_samples", n_samples)
    k = check_count("n_targets", n_targets)
    # $$\alpha = \frac{n k \lambda}{2}$$
    return n * k * lam / 2


def decay_from_ridge_alpha(alpha: float, n_samples: int, n_targets: int = 1) -> float:
    r"""Our decay strength $\lambda = 2\alpha/(nk)$ for a `Ridge` penalty weight.

    Parameters
    ----------
    alpha : float
        scikit-learn's `Ridge.alpha` $\ge 0$.
    n_samples : int
        $n \ge 1$, the number of training rows.
    n_targets : int, default 1
        $k \ge 1$, the number of outputs.

    Returns
    -------
    float
        $\lambda$.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `alpha` is negative or not finite, or a count is below 1.

    Examples
    --------
    >>> from weightdecay import decay_from_ridge_alpha, ridge_alpha
    >>> decay_from_ridge_alpha(ridge_alpha(0.01, 100, 3), 100, 3)
    0.01
    """
    a = check_nonnegative("alpha", alpha)
    n = check_count("n_samples", n_samples)
    k = check_count("n_targets", n_targets)
    # $$\lambda = \frac{2\alpha}{n k}$$
    return 2 * a / (n * k)
