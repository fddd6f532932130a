r"""Weight decay (L2 regularization) in PyTorch, derived, built from scratch and checked.

The package is split by mathematical idea:

* `weightdecay.penalty`: the L2 penalty and its gradient;
* `weightdecay.prior`: the Gaussian prior it corresponds to, and the map
  $\tau = 1/(N\lambda)$;
* `weightdecay.likelihood`: the Gaussian noise model: the mean NLL is MSE/(2σ²) plus a
  constant, and the matching decay is 2σ²/(Nτ);
* `weightdecay.ridge`: the map to scikit-learn's `Ridge`;
* `weightdecay.cross_entropy`, `weightdecay.logistic`, `weightdecay.categorical`,
  `weightdecay.calibration`: the same for classifiers, and their calibration;
* `weightdecay.metrics`: parity measures;
* `weightdecay.data`, `weightdecay.models`: the two source documents' data and
  models.
"""

from weightdecay.calibration import expected_calibration_error
from weightdecay.data import (
    ClusterData,
    RegressionSplit,
    cluster_inputs,
    featurize,
    make_clusters,
    make_regression_split,
)
from weightdecay.likelihood import MSE_NOISE_VARIANCE, gaussian_nll
from weightdecay.logistic import decay_from_logistic_c, fit_logistic, logistic_c
from weightdecay.metrics import flatten, mape, max_abs_diff, mse, relative_error
from weightdecay.models import (
    Net,
    ScratchLinearRegression,
    ScratchLogisticRegression,
    TorchLinearRegression,
    TorchLogisticRegression,
)
from weightdecay.penalty import l2_penalty, l2_penalty_grad, squared_norm
from weightdecay.prior import (
    decay_from_variance,
    gaussian_log_prior,
    log_prior_constant,
    prior_precision,
    prior_variance,
    scaled_negative_log_prior,
)
from weightdecay.ridge import decay_from_ridge_alpha, ridge_alpha

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
