"""Containers: layers made of layers, each itself a layer, so they nest.

`Sequential` applies its layers one after another; `Residual` adds a block's output to
its input; `Parallel` (and `Concat`) feeds one input to several branches and joins
their outputs.

**In-place layers** (``ReLU(inplace=True)``) write over the array they are given. Two
rules keep that from ever changing an array someone still reads, using what each layer
declares (``inplace``, ``saves_output``, ``aliases_input``):

- An array a layer keeps for its backward is never written: an in-place layer right
  after one that keeps its output, or after views of it (``Sigmoid(), Flatten(),
  ReLU(inplace=True)``), is refused at construction, as is one first in a `Residual`
  block (the skip path adds the input back) or first in one of several `Parallel`
  branches (the others read it). `ValueError`, naming the layers.
- The caller's input is never written: where an in-place layer would receive a
  `Sequential`'s own input (first, or after layers whose output may be their input:
  `Flatten`, `Dropout`), the `Sequential` copies it for that layer. So ``model(x)``,
  ``predict`` and ``fit`` never change ``x``, and ``ReLU(inplace=True)`` first in a
  model (as PyTorch allows) costs what ``ReLU()`` costs there, no more. A bare in-place
  layer called directly still writes over its input: that is what it is for.

Refusing the second case instead would give false alarms (a `Sequential` cannot know
whether a `Dense` comes before it in an outer one) and make model files and converted
PyTorch models with such a layer unloadable; the copy is always right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


def _require_layers(owner: str, layers: Iterable[object]) -> None:
    """Raise ``TypeError`` naming ``owner`` and the position of anything not a `Layer`."""
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner}: argument {i} must be a Layer, got {type(layer).__name__}")


def _require_each_once(container: Layer, layers: Iterable[Layer]) -> None:
    """Raise ``ValueError`` if a layer instance would appear twice in ``container``'s tree
    (or be the container itself): a layer keeps the input of its last forward for
    backward, so one instance cannot serve two places. Tie weights instead."""
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


def default_input_shape(layer: Layer, owner: str) -> Shape:
    """One sample's shape as ``layer``'s first leaf layer tells it: ``(in_features,)`` or
    ``(num_features,)``. ``ValueError`` (its message headed by ``owner``) when that layer
    has neither, as an activation or `Flatten` (the sample's shape is then not known)."""
    first = next((m for m in layer.modules() if next(m.named_children(), None) is None), None)
    features = getattr(first, "in_features", getattr(first, "num_features", None))
    if not isinstance(features, int):
        raise ValueError(
            f"{owner}: cannot tell the input shape from {first!r}; pass input_shape, one "
            f"sample's shape, e.g. input_shape=(784,)"
        )
    return (features,)


def writes_input(layer: Layer) -> bool:
    """Whether ``layer.forward`` may write into the array it is given: an in-place layer,
    or a `Parallel` of one branch that does. A `Sequential` never does (it copies for
    such a layer, see the module's docstring); a `Residual` block cannot (refused)."""
    if isinstance(layer, Sequential):
        return False
    if isinstance(layer, Parallel):
        return any(writes_input(branch) for branch in layer.branches)
    if isinstance(layer, Residual):
        return False
    return layer.inplace


def may_alias_input(layer: Layer) -> bool:
    """Whether the array ``layer.forward`` returns may share memory with its input: a
    view (`Flatten`), the input itself (`Dropout` in inference mode, an in-place layer),
    or a `Sequential` of only such layers."""
    if isinstance(layer, Sequential):
        return all(may_alias_input(child) for child in layer.layers)
    if isinstance(layer, Parallel):
        branches = layer.branches
        return layer.mode == "sum" and len(branches) == 1 and may_alias_input(branches[0])
    if isinstance(layer, Residual):
        return False
    return layer.aliases_input or layer.inplace


def _keeper(layers: Sequence[Layer]) -> Layer | None:
    """The layer among ``layers`` (run in order) that keeps for its backward the array
    their output is, or a view of: `None` when the output is fresh memory or the input."""
    for layer in reversed(layers):
        kept = _keeper(layer.layers) if isinstance(layer, Sequential) else None
        if kept is not None:
            return kept
        if not isinstance(layer, Sequential) and last_layer(layer).saves_output:
            return layer
        if not may_alias_input(layer):
            return None
    return None


def _first_writing_caller_input(layers: Sequence[Layer]) -> int | None:
    """The position of the layer that would write into the input of a `Sequential` of
    ``layers``: an in-place one reached by that input itself or a view of it."""
    for i, layer in enumerate(layers):
        if writes_input(layer):
            return i
        if not may_alias_input(layer):
            return None
    return None


def _require_safe_inplace(layers: Sequence[Layer]) -> None:
    """Raise ``ValueError`` where an in-place layer would overwrite an output an earlier
    layer keeps for its backward (directly or through views): gradients would silently
    be wrong."""
    for i in range(1, len(layers)):
        keeper = _keeper(layers[:i]) if writes_input(layers[i]) else None
        if keeper is not None:
            raise ValueError(
                f"Sequential: {_short_name(first_layer(layers[i]))} at position {i} would "
                f"overwrite the output that {_short_name(last_layer(keeper))} keeps "
                f"for its backward; put in-place layers right after a Dense, or use ReLU()"
            )


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


class Sequential(Layer):
    """Apply ``layers`` in order; backward runs them in reverse.

    A `Sequential` is a `Layer`, so it nests. It is indexable (``model[0]``, a slice is
    a new `Sequential` sharing the layers), iterable and has a ``len``. Parameters are
    named by position, as in PyTorch: ``0.weight``, ``0.bias``, ``2.weight``...

    A layer instance may appear only once in the tree (``ValueError`` otherwise): it
    keeps what backward needs from its last forward, so a second use would overwrite
    the first use's cache and give wrong gradients. To tie weights, give two layers the
    same `Parameter` (``b.weight = a.weight``); gradients of both uses then add up.

    ``forward`` never writes into its input: an in-place layer that would receive it
    (first, or after `Flatten`) gets a copy (see the module's docstring). One
    ``backward`` per training ``forward``: a second raises ``RuntimeError``.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        _require_layers("Sequential", layers)
        _require_each_once(self, layers)
        _require_safe_inplace(layers)
        self.layers: list[Layer] = list(layers)
        self._awaits_backward = False

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x: FloatArray) -> FloatArray:
        """``x -> layers[-1](... layers[0](x))``; ``x`` itself is never written."""
        self._awaits_backward = self.training
        protect = _first_writing_caller_input(self.layers)
        for i, layer in enumerate(self.layers):
            if i == protect:
                x = x.copy()  # the in-place layer writes into a copy, not the caller's x
            x = layer.forward(x)
        return x

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
        consume their own cache (built-in ones do): a second would add the same
        gradients again."""
        self.saved(True if self._awaits_backward else None)
        self._awaits_backward = False

    def append(self, layer: Layer) -> Sequential:
        """Add ``layer`` at the end; return self."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.append: expected a Layer, got {type(layer).__name__}")
        _require_each_once(self, [*self.layers, layer])
        _require_safe_inplace([*self.layers, layer])
        self.layers.append(layer)
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
        """Return a table of each layer, its output shape and parameter count, and print it.

        ``print_fn`` receives the table (``None``: do not print), as in Keras.

        ``input_shape`` is the shape of one sample, e.g. ``(784,)``; by default it is
        ``(in_features,)`` of the first layer, when that layer has one. Shapes are found
        by running one zero sample through the network in inference mode (no cache,
        no random numbers drawn), so custom layers need nothing extra. Every layer's
        attributes are restored afterwards, so a summary between a forward and its
        backward leaves the backward cache (and the train/eval modes) as they were.
        """
        shape = (
            input_shape
            if input_shape is not None
            else default_input_shape(self, "Sequential.summary")
        )
        dtype = self.dtype
        # forward rebinds its cache attributes (in eval mode, to None): snapshot them all
        snapshot = [(layer, dict(vars(layer))) for layer in self.modules()]
        self.eval()
        try:
            x = np.zeros((1, *shape), dtype)
            rows = [("Layer", "Output shape", "Params")]
            for i, layer in enumerate(self.layers):
                x = layer.forward(x)
                out = "(None, " + ", ".join(map(str, x.shape[1:])) + ")"
                label = repr(layer) if "\n" not in repr(layer) else f"{type(layer).__name__}(...)"
                rows.append((f"({i}) {label}", out, f"{layer.num_parameters():,}"))
        finally:
            for layer, attributes in snapshot:
                vars(layer).update(attributes)
        widths = [max(len(row[c]) for row in rows) for c in range(3)]
        rule = "-" * (sum(widths) + 4)
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        text = "\n".join(
            [lines[0], rule, *lines[1:], rule, f"Total params: {self.num_parameters():,}"]
        )
        if print_fn is not None:
            print_fn(text)
        return text


class Residual(Layer):
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
        if writes_input(block):
            raise ValueError(
                f"Residual: the block starts with {_short_name(first_layer(block))}, which "
                f"would overwrite the input the skip path adds back; start it with ReLU() instead"
            )
        self.block = block

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> x + block(x)."""
        y = self.block.forward(x)
        if y.shape != x.shape:
            raise ValueError(
                f"Residual: the block must keep its input's shape, but "
                f"{_short_name(self.block)} mapped input of shape {x.shape} to {y.shape}"
            )
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


class Parallel(Layer):
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
        for branch in branches if len(branches) > 1 else ():
            if writes_input(branch):
                raise ValueError(
                    f"{type(self).__name__}: branch {_short_name(first_layer(branch))} would "
                    f"overwrite the input the other branches read; start it with ReLU() instead"
                )
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
        outputs = [branch.forward(x) for branch in self.branches]
        y = self._sum(outputs) if self.mode == "sum" else self._concat(outputs)
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

    def config(self) -> dict[str, Any]:
        return {"mode": self.mode}


class Concat(Parallel):
    """`Parallel` in its default ``mode="concat"``, under the name Keras users look for."""

    def __init__(self, *branches: Layer) -> None:
        super().__init__(*branches, mode="concat")

    def config(self) -> dict[str, Any]:
        return {}


def _add_all(arrays: Sequence[FloatArray]) -> FloatArray:
    """The sum of one or more arrays of one shape, in a new array (or the only one)."""
    if len(arrays) == 1:
        return arrays[0]
    total = arrays[0] + arrays[1]
    for array in arrays[2:]:
        total += array
    return total
