"""Containers: layers made of layers, each itself a layer, so they nest.

`Sequential` applies its layers one after another; `Residual` adds a block's output to
its input; `Parallel` (and `Concat`) feeds one input to several branches and joins
their outputs.

**Checked once.** Each child checks its input (`Layer.check_input`) on the first batch
of each sample shape and dtype and is trusted after, so a wrong size is named where it
happens and a training step pays for no checks.

**In-place layers** (``ReLU(inplace=True)``) may write over an earlier layer's output,
never over the container's input (its caller or a skip path reads it): such a child gets
a copy, so ``model(x)`` never changes ``x``. That is right for a layer that changes
values only where its gradient is zero, as ReLU; a custom in-place layer must keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, overload

import numpy as np

from tinynet import limits, validation
from tinynet.layers.base import Layer
from tinynet.summary import summary
from tinynet.typing import DTypeLike, FloatArray, Shape

C = TypeVar("C", bound="Container")


def _require_layers(owner: str, layers: Iterable[object]) -> None:
    """Raise ``TypeError`` naming ``owner`` and the position of anything not a `Layer`."""
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner}: argument {i} must be a Layer, got {type(layer).__name__}")


def _require_each_once(container: Layer, layers: Iterable[Layer]) -> None:
    """``ValueError`` if a layer instance would appear twice in ``container``'s tree (or
    be the container): it keeps its last forward's input, so it cannot serve two places."""
    seen = {id(container)}
    for layer in (module for top in layers for module in top.modules()):
        if id(layer) in seen:
            raise ValueError(
                f"{type(container).__name__}: {layer!r} appears more than once; a layer keeps "
                f"the input of its last forward for backward, so one instance cannot serve "
                f"two places. Use separate layers (sharing parameters if intended: "
                f"b.weight = a.weight)"
            )
        seen.add(id(layer))


def first_layer(layer: Layer) -> Layer:
    """The layer that sees ``layer``'s input first: inside nested `Sequential`s, the first."""
    while isinstance(layer, Sequential) and layer.layers:
        layer = layer.layers[0]
    return layer


def last_layer(layer: Layer) -> Layer:
    """The layer whose output is ``layer``'s output: inside nested `Sequential`s, the last.

    Other containers (`Residual`, `Parallel`) compute their output themselves, so they
    are their own last layer.
    """
    while isinstance(layer, Sequential) and layer.layers:
        layer = layer.layers[-1]
    return layer


class Container(Layer):
    """Base of layers made of layers: calls its children checked on the first batch of
    each input shape, trusted after, and never lets an in-place child write its input."""

    def __init__(self) -> None:
        super().__init__()
        self._checked: set[tuple[Shape, np.dtype[Any]]] = set()

    def trusts(self, x: FloatArray) -> bool:
        """Whether the children have checked an input of ``x``'s sample shape and dtype."""
        return (x.shape[1:], x.dtype) in self._checked

    def trust(self, x: FloatArray) -> None:
        """Record that a forward of ``x``'s sample shape and dtype passed every check."""
        self._checked.add((x.shape[1:], x.dtype))

    def call(self, child: Layer, x: FloatArray, given: FloatArray, trusted: bool) -> FloatArray:
        """``child``'s output for ``x``, computed by this container from its input
        ``given``: checked by the child unless ``trusted``, and on a copy for an in-place
        child if ``x`` may be ``given``'s memory."""
        if child.inplace and np.may_share_memory(x, given):
            x = x.copy()
        return child.forward(x) if trusted else child(x)

    def astype(self: C, dtype: DTypeLike) -> C:
        """As `Layer.astype`; inputs of the old dtype are checked again."""
        for module in self.modules():
            if isinstance(module, Container):
                module._checked.clear()
        return super().astype(dtype)


def _nested_repr(name: str, children: Iterable[tuple[str, Layer]], extra: str = "") -> str:
    """PyTorch's container repr: ``Name(`` then the extra line and ``(child): repr`` lines,
    indented, then ``)``; ``Name(extra)`` when there are no children."""
    lines = [f"  ({key}): " + repr(child).replace("\n", "\n  ") for key, child in children]
    if not lines:
        return f"{name}({extra})"
    return f"{name}(\n" + "\n".join(([f"  {extra}"] if extra else []) + lines) + "\n)"


def _short_name(layer: Layer) -> str:
    """The first line of ``repr(layer)``: enough to name a container in a message."""
    return repr(layer).split("\n")[0].rstrip("(") or type(layer).__name__


class Sequential(Container):
    """Apply ``layers`` in order; backward runs them in reverse. It nests, indexes
    (``model[0]``; a slice shares the layers), iterates and has a ``len``; parameters are
    named by position, as PyTorch's (``0.weight``, ``2.bias``). A layer instance may appear
    once (``ValueError``): to tie weights, give two layers one `Parameter` (``b.weight =
    a.weight``). One ``backward`` per training ``forward``; ``x`` is never written.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        _require_layers("Sequential", layers)
        _require_each_once(self, layers)
        self.layers: list[Layer] = list(layers)
        self._awaits_backward = False

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x: FloatArray) -> FloatArray:
        """``x -> layers[-1](... layers[0](x))``; ``x`` itself is never written."""
        self._awaits_backward = self.training
        trusted, y = self.trusts(x), x
        for layer in self.layers:
            y = self.call(layer, y, x, trusted)
        self.trust(x)
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """Backpropagate ``grad_y`` through every layer in reverse; return grad_x."""
        self._consume_forward()
        for layer in reversed(self.layers):
            grad_y = layer.backward(grad_y)
        return grad_y

    def backward_params(self, grad_y: FloatArray) -> None:
        """As ``backward``, but the first layer skips its input gradient."""
        self._consume_forward()
        if not self.layers:
            return
        for layer in reversed(self.layers[1:]):
            grad_y = layer.backward(grad_y)
        self.layers[0].backward_params(grad_y)

    def _consume_forward(self) -> None:
        """One backward per training forward, even through custom layers that do not
        consume their cache: a second would add the same gradients again."""
        self.saved(True if self._awaits_backward else None)
        self._awaits_backward = False

    def output_activation(self) -> str | None:
        """The last layer's: a `Sequential` ending in `Softmax` gives probabilities."""
        return self.layers[-1].output_activation() if self.layers else None

    def append(self, layer: Layer) -> Sequential:
        """Add ``layer`` at the end; return self."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.append: expected a Layer, got {type(layer).__name__}")
        _require_each_once(self, [*self.layers, layer])
        self.layers.append(layer)
        self._checked.clear()
        return self

    @overload
    def __getitem__(self, index: int) -> Layer: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Layer | Sequential:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        return _nested_repr("Sequential", self.named_children())

    def summary(
        self,
        input_shape: Shape | None = None,
        *,
        print_fn: Callable[[str], object] | None = print,
    ) -> str:
        """A table of each layer, its output shape and parameter count, printed by
        ``print_fn`` (``None``: not printed) and returned, as Keras's (`tinynet.summary`)."""
        return summary(self, input_shape, print_fn=print_fn)


class Residual(Container):
    """A skip connection: ``y = x + block(x)`` (the building block of ResNets).

    ``block`` is any layer (a `Sequential` for several) that keeps its input's shape:
    x (N, ...) -> y of the same shape and dtype; anything else is an error at the first
    forward. The gradient flows through both paths: ``grad_x = grad_y + block'(grad_y)``.
    The block's parameters are named ``block.<its names>``, e.g. ``block.0.weight``.
    """

    def __init__(self, block: Layer) -> None:
        super().__init__()
        if not isinstance(block, Layer):
            raise TypeError(f"Residual: block must be a Layer, got {type(block).__name__}")
        _require_each_once(self, [block])
        self.block = block

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> x + block(x)."""
        y = self.call(self.block, x, x, self.trusts(x))
        if y.shape != x.shape:
            raise ValueError(
                f"Residual: the block must keep its input's shape, but "
                f"{_short_name(self.block)} mapped input of shape {x.shape} to {y.shape}"
            )
        self.trust(x)
        return x + y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y -> grad_y + the block's input gradient (accumulates the block's grads)."""
        return grad_y + self.block.backward(grad_y)

    def backward_params(self, grad_y: FloatArray) -> None:
        """The block's parameter gradients only: the skip path has none."""
        self.block.backward_params(grad_y)

    def __repr__(self) -> str:
        return _nested_repr("Residual", self.named_children())


PARALLEL_MODES = ("concat", "sum")


class Parallel(Container):
    """Feed the same x to every branch and join their outputs: concatenated or summed.

    ``mode="concat"`` (default): branch outputs (N, ..., D_i), alike but for the last
    axis, are concatenated along it into (N, ..., sum D_i), as ``torch.cat(..., dim=-1)``
    or Keras' ``Concatenate``. ``mode="sum"``: outputs of one shape are added. Backward
    hands each branch its slice of grad_y (all of it, for ``"sum"``) and sums the
    branches' input gradients into grad_x, of x's shape and dtype. Branches are named
    by position, as in `Sequential`: parameters ``0.weight``, ``1.0.weight``...
    """

    def __init__(self, *branches: Layer, mode: str = "concat") -> None:
        super().__init__()
        _require_layers(type(self).__name__, branches)
        _require_each_once(self, branches)
        if not branches:
            raise ValueError(f"{type(self).__name__}: expected at least one branch, got none")
        if mode not in PARALLEL_MODES:
            raise ValueError(
                f"{type(self).__name__}: mode must be one of {PARALLEL_MODES}, got {mode!r}"
            )
        self.branches: list[Layer] = list(branches)
        self.mode = mode
        self._widths: list[int] | None = None
        self._output_shape: Shape | None = None

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, branch in enumerate(self.branches):
            yield str(i), branch

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> the branches' outputs, concatenated along the last axis or summed."""
        trusted, outputs, held = self.trusts(x), [], 0
        for branch in self.branches:
            outputs.append(self.call(branch, x, x, trusted))
            held += limits.product(outputs[-1].shape[1:])
            what = f"branch outputs (the first {len(outputs)} of {len(self.branches)})"
            limits.require_sample_elements(self, what, held)
        y = self._sum(outputs) if self.mode == "sum" else self._concat(outputs)
        self.trust(x)
        self._widths = [out.shape[-1] for out in outputs] if self.training else None
        self._output_shape = y.shape if self.training else None
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (the output's shape) -> the sum of the branches' input gradients."""
        pieces = self._split(grad_y)
        return _add_all(
            [branch.backward(piece) for branch, piece in zip(self.branches, pieces, strict=True)]
        )

    def backward_params(self, grad_y: FloatArray) -> None:
        """Each branch's parameter gradients from its slice of grad_y; no input gradient."""
        for branch, piece in zip(self.branches, self._split(grad_y), strict=True):
            branch.backward_params(piece)

    def _concat(self, outputs: Sequence[FloatArray]) -> FloatArray:
        leading = {out.shape[:-1] for out in outputs}
        if len(leading) > 1 or outputs[0].ndim < 2:
            raise ValueError(
                f"{type(self).__name__}: to concatenate along the last axis, branch outputs "
                f"must be (N, ..., D_i) and agree but for D_i; got shapes {self._shapes(outputs)}"
            )
        return np.concatenate(outputs, axis=-1)

    def _sum(self, outputs: Sequence[FloatArray]) -> FloatArray:
        if len({out.shape for out in outputs}) > 1:
            raise ValueError(
                f"{type(self).__name__}: mode='sum' needs branch outputs of one shape, "
                f"got shapes {self._shapes(outputs)}"
            )
        return _add_all(outputs)

    def _shapes(self, outputs: Sequence[FloatArray]) -> str:
        return ", ".join(
            f"{out.shape} from {_short_name(branch)}"
            for branch, out in zip(self.branches, outputs, strict=True)
        )

    def _split(self, grad_y: FloatArray) -> list[FloatArray]:
        """grad_y checked against the last output, cut into the branches' parts."""
        widths = self.saved(self._widths)
        validation.same_shape(type(self).__name__, grad_y, self.saved(self._output_shape), "grad_y")
        self._widths = self._output_shape = None  # consumed: one backward per forward
        if self.mode == "sum":
            return [grad_y] * len(self.branches)
        return np.split(grad_y, np.cumsum(widths[:-1]), axis=-1)

    def __repr__(self) -> str:
        extra = "" if self.mode == "concat" else f"mode={self.mode!r}"
        return _nested_repr(type(self).__name__, self.named_children(), extra)


class Concat(Parallel):
    """`Parallel` in its default ``mode="concat"``, under the name Keras users look for."""

    def __init__(self, *branches: Layer) -> None:
        super().__init__(*branches, mode="concat")


def _add_all(arrays: Sequence[FloatArray]) -> FloatArray:
    """The sum of one or more arrays of one shape, in a new array (or the only one)."""
    if len(arrays) == 1:
        return arrays[0]
    total = arrays[0] + arrays[1]
    for array in arrays[2:]:
        total += array
    return total
