"""The models: linear regression (from scratch and `torch.nn`) and the small ReLU network."""

from weightdecay.models.linear import ScratchLinearRegression, TorchLinearRegression
from weightdecay.models.mlp import Net

__all__ = ["Net", "ScratchLinearRegression", "TorchLinearRegression"]
