r"""What one training step allocates and moves, counted operation by operation.

Times vary from run to run; what a step asks of memory does not. `trace_step` runs one
step of a form under a dispatch mode that sees every ATen operation PyTorch executes,
forward, backward and update (the hook behind ``torch.utils.flop_counter``, from the
internal module ``torch.utils._python_dispatch``). For each operation it counts the
bytes of every **new** tensor it returns (storage none of its inputs shares), the bytes
it **reads** (each tensor input, at most its storage's size, so a broadcast scalar
counts once) and the bytes it **writes** (each new output, and each input its schema
marks as written, as in-place operations do). Views move nothing. The counts are exact:
the same in every run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from benchmarks.cost.forms import parameter_count, training_step

__all__ = ["Traffic", "trace_step"]


@dataclass(frozen=True)
class Traffic:
    """What one traced step allocated, read and wrote, in bytes, by ATen operation.

    Attributes
    ----------
    n_params : int
        $D$, the network's parameter count.
    allocated, read, written : dict of str to int
        Bytes of new tensors, bytes read and bytes written, by operation (``add``, ...).
    """

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

    def moved_by_operation(self) -> dict[str, int]:
        """Bytes read plus bytes written, by operation."""
        return {op: self.read[op] + self.written[op] for op in self.read}


def _tensors(tree: Any) -> list[Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, Tensor)]


def _bytes(t: Tensor) -> int:
    return min(t.numel() * t.element_size(), t.untyped_storage().nbytes())


class _Counter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.allocated: Counter[str] = Counter()
        self.read: Counter[str] = Counter()
        self.written: Counter[str] = Counter()

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = str(func.overloadpacket.__name__)
        inputs = _tensors((args, kwargs))
        storages = {t.untyped_storage().data_ptr() for t in inputs}
        new = [t for t in _tensors(out) if t.untyped_storage().data_ptr() not in storages]
        mutated = [  # the inputs the schema marks as written (``Tensor(a!)``)
            t
            for i, argument in enumerate(func._schema.arguments)
            if argument.alias_info is not None and argument.alias_info.is_write
            for t in _tensors(args[i] if i < len(args) else kwargs.get(argument.name))
        ]
        if new or mutated:  # otherwise a view, or an input returned untouched
            self.allocated[name] += sum(t.untyped_storage().nbytes() for t in new)
            self.read[name] += sum(_bytes(t) for t in inputs)
            self.written[name] += sum(_bytes(t) for t in [*new, *mutated])
        return out


def trace_step(form: str, width: int) -> Traffic:
    r"""Count the second float32 training step of `form` on the network `width` wide.

    The first step, untraced, creates the optimizer's state, as warm-up steps do.

    Parameters
    ----------
    form : str
        A key of `benchmarks.cost.forms.FORMS`.
    width : int
        The network's width $h$.

    Returns
    -------
    Traffic

    Raises
    ------
    TypeError, ValueError
        On an unknown form or an invalid width.

    Examples
    --------
    Torch's coupled decay allocates $g + \lambda\theta$ anew, 4 bytes per parameter;
    this package's decoupled decay allocates nothing the plain step does not:

    >>> from benchmarks.cost.trace import trace_step
    >>> plain = trace_step("none", 8)
    >>> trace_step("sgd", 8).total_allocated - plain.total_allocated == 4 * plain.n_params
    True
    >>> trace_step("ours-sgdw", 8).total_allocated == plain.total_allocated
    True
    """
    _, step = training_step(form, width)
    step()
    with _Counter() as counter:
        step()
    return Traffic(
        parameter_count(width), dict(counter.allocated), dict(counter.read), dict(counter.written)
    )
