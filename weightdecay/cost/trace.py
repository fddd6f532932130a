r"""Count what one training step allocates and moves, operation by operation.

Times vary from run to run; what a step asks of memory does not. `trace_step` runs one
step of a form under a dispatch mode that sees every ATen operation PyTorch executes,
forward, backward and update (the hook behind ``torch.utils.flop_counter``; it lives in
``torch.utils._python_dispatch``, an internal module). For each operation it counts

* the bytes of every **new** tensor it returns (storage that none of its inputs
  shares): what the step allocates;
* the bytes it **reads** (each tensor input, counted at most at the size of its
  storage, so a broadcast scalar counts once) and **writes** (each new output and each
  input its schema marks as written, as in-place operations do): the traffic the step
  must move, if no cache held anything. Views (outputs that share an input's storage,
  nothing written) move nothing.

The counts are exact and deterministic: the same for every run at a given model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from weightdecay._checks import check_count
from weightdecay.cost.forms import make_step
from weightdecay.cost.model import cost_mlp, parameter_count

__all__ = ["Traffic", "trace_step"]


@dataclass(frozen=True)
class Traffic:
    """What one traced step allocated, read and wrote, in bytes.

    Attributes
    ----------
    form : str
        The form traced.
    n_params : int
        $D$, the model's parameter count.
    allocated : dict of str to int
        Bytes of new tensors, by ATen operation (``add``, ``pow``, ...).
    read, written : dict of str to int
        Bytes read and written, by operation.
    """

    form: str
    n_params: int
    allocated: dict[str, int]
    read: dict[str, int]
    written: dict[str, int]

    @property
    def total_allocated(self) -> int:
        """Bytes of all new tensors."""
        return sum(self.allocated.values())

    @property
    def moved(self) -> int:
        """Bytes read plus bytes written."""
        return sum(self.read.values()) + sum(self.written.values())


def _tensors(tree: Any) -> list[Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, Tensor)]


def _bytes(t: Tensor) -> int:
    """Bytes a pass over `t` touches: its size, at most its storage's."""
    return min(t.numel() * t.element_size(), t.untyped_storage().nbytes())


def _written_inputs(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
    """The inputs that the operation's schema marks as written (``Tensor(a!)``)."""
    written = []
    for i, argument in enumerate(func._schema.arguments):
        if argument.alias_info is not None and argument.alias_info.is_write:
            value = args[i] if i < len(args) else kwargs.get(argument.name)
            written += _tensors(value)
    return written


class _Counter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.allocated: Counter[str] = Counter()
        self.read: Counter[str] = Counter()
        self.written: Counter[str] = Counter()

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        keywords = kwargs or {}
        out = func(*args, **keywords)
        name = str(func.overloadpacket.__name__)
        inputs = _tensors((args, keywords))
        storages = {t.untyped_storage().data_ptr() for t in inputs}
        new = [t for t in _tensors(out) if t.untyped_storage().data_ptr() not in storages]
        mutated = _written_inputs(func, args, keywords)
        if new or mutated:  # otherwise a view, or an input returned untouched
            self.allocated[name] += sum(t.untyped_storage().nbytes() for t in new)
            self.read[name] += sum(_bytes(t) for t in inputs)
            self.written[name] += sum(_bytes(t) for t in [*new, *mutated])
        return out


def trace_step(form: str, widths: list[int], *, batch: int = 16, seed: int = 0) -> Traffic:
    r"""Trace the second training step of `form` on `cost_mlp(widths)` (float32).

    The first step, untraced, creates the optimizer's state, as the warm-up steps of
    a timing do.

    Parameters
    ----------
    form : str
        A key of `weightdecay.cost.forms.FORMS`.
    widths : list of int
        The network's widths (`weightdecay.cost.model.cost_mlp`).
    batch : int, default 16
        Examples in the batch.
    seed : int, default 0
        Seeds the model and the batch.

    Returns
    -------
    Traffic

    Raises
    ------
    TypeError, ValueError
        On an unknown form or invalid widths, batch or seed.

    Examples
    --------
    Torch's coupled decay allocates $g + \lambda\theta$ anew, 4 bytes per parameter;
    this package's update allocates nothing the plain step does not:

    >>> from weightdecay.cost.trace import trace_step
    >>> widths = [8, 8, 8]
    >>> plain = trace_step("none", widths)
    >>> trace_step("sgd", widths).total_allocated - plain.total_allocated == 4 * plain.n_params
    True
    >>> trace_step("ours-sgdw", widths).total_allocated == plain.total_allocated
    True
    """
    n = check_count("batch", batch)
    root = check_count("seed", seed, minimum=0)
    model = cost_mlp(widths, seed=root)
    gen = torch.Generator().manual_seed(root)
    x = torch.randn(n, widths[0], generator=gen)
    y = torch.randn(n, widths[-1], generator=gen)
    _, step = make_step(form, model, x, y)
    step()
    with _Counter() as counter:
        step()
    return Traffic(
        form,
        parameter_count(widths),
        dict(counter.allocated),
        dict(counter.read),
        dict(counter.written),
    )
