"""Shared pytest set-up: every random generator seeded before each test and doctest."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything() -> Iterator[None]:
    """Seed Python's, NumPy's and PyTorch's global generators for every test."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - the legacy global generator, for code that uses it
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict[str, object]) -> None:
    """Make the usual names available in doctests (examples still import what they use)."""
    doctest_namespace["np"] = np
    doctest_namespace["torch"] = torch


try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is part of the test extra
    pass
else:
    # Derandomized: two runs of the suite draw the same examples.
    settings.register_profile(
        "repro",
        derandomize=True,
        deadline=None,
        max_examples=60,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("repro")
