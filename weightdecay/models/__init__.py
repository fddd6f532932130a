"""The models: linear and logistic regression (scratch and `torch.nn`), small networks."""

from weightdecay.models.linear import ScratchLinearRegression, TorchLinearRegression
from weightdecay.models.logistic import ScratchLogisticRegression, TorchLogisticRegression
from weightdecay.models.mlp import Net
from weightdecay.models.normalized import NEGLIGIBLE_EPS, NormalizedClassifier

__all__ = [
    "NEGLIGIBLE_EPS",
    "Net",
    "NormalizedClassifier",
    "ScratchLinearRegression",
    "ScratchLogisticRegression",
    "TorchLinearRegression",
    "TorchLogisticRegression",
]
