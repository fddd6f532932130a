"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

DTYPES = st.sampled_from([torch.float32, torch.float64])
LAMBDAS = st.one_of(st.just(0.0), st.floats(min_value=1e-8, max_value=10.0))
POSITIVE_LAMBDAS = st.floats(min_value=1e-6, max_value=10.0)
SHAPES = st.lists(st.integers(min_value=1, max_value=5), min_size=0, max_size=3).map(tuple)


@st.composite
def tensor_lists(
    draw: st.DrawFn, dtype: torch.dtype | None = None, requires_grad: bool = False
) -> list[torch.Tensor]:
    """One to four tensors of random shapes with standard-normal entries, one dtype."""
    chosen = draw(DTYPES) if dtype is None else dtype
    shapes = draw(st.lists(SHAPES, min_size=1, max_size=4))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=gen, dtype=chosen).requires_grad_(requires_grad)
        for shape in shapes
    ]
