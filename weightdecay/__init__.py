r"""Weight decay (L2 regularization) in PyTorch, derived, built from scratch and checked.

One module per idea: `penalty` (the penalty and the libraries' parameters), `prior` (the
Gaussian prior and noise model, $\tau = 1/(N\lambda)$), `closed_form` and `bayes_linear`,
`classifiers`, `normalization`, `optim`, `models`, `data`, `metrics`, `claims`,
`distributed` and `environment`. The names below are the ones most pages use.
"""

from weightdecay.classifiers import expected_calibration_error, fit_logistic
from weightdecay.data import (
    ClusterData,
    RegressionSplit,
    cluster_inputs,
    featurize,
    make_clusters,
    make_regression_split,
)
from weightdecay.metrics import flatten, mape, max_abs_diff, mse, relative_error
from weightdecay.models import (
    Net,
    ScratchLinearRegression,
    ScratchLogisticRegression,
    TorchLinearRegression,
    TorchLogisticRegression,
)
from weightdecay.penalty import (
    decay_from_logistic_c,
    decay_from_ridge_alpha,
    l2_penalty,
    l2_penalty_grad,
    logistic_c,
    ridge_alpha,
    squared_norm,
)
from weightdecay.prior import (
    MSE_NOISE_VARIANCE,
    decay_from_variance,
    gaussian_log_prior,
    gaussian_nll,
    log_prior_constant,
    prior_precision,
    prior_variance,
    scaled_negative_log_prior,
)

__version__ = "0.1.0"

__all__ = [
    "MSE_NOISE_VARIANCE",
    "ClusterData",
    "Net",
    "RegressionSplit",
    "ScratchLinearRegression",
    "ScratchLogisticRegression",
    "TorchLinearRegression",
    "TorchLogisticRegression",
    "cluster_inputs",
    "decay_from_logistic_c",
    "decay_from_ridge_alpha",
    "decay_from_variance",
    "expected_calibration_error",
    "featurize",
    "fit_logistic",
    "flatten",
    "gaussian_log_prior",
    "gaussian_nll",
    "l2_penalty",
    "l2_penalty_grad",
    "log_prior_constant",
    "logistic_c",
    "make_clusters",
    "make_regression_split",
    "mape",
    "max_abs_diff",
    "mse",
    "prior_precision",
    "prior_variance",
    "relative_error",
    "ridge_alpha",
    "scaled_negative_log_prior",
    "squared_norm",
]
