"""`Sequential`: layers applied one after another, itself a layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

import numpy as np

from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


class Sequential(Layer):
    """Apply ``layers`` in order; backward runs them in reverse.

    A `Sequential` is a `Layer`, so it nests. It is indexable (``model[0]``, a slice is
    a new `Sequential` sharing the layers), iterable and has a ``len``. Parameters are
    named by position, as in PyTorch: ``0.weight``, ``0.bias``, ``2.weight``...

    A layer instance may appear only once in the tree (``ValueError`` otherwise): it
    keeps what backward needs from its last forward, so a second use would overwrite
    the first use's cache and give wrong gradients. To tie weights, give two layers the
    same `Parameter` (``b.weight = a.weight``); gradients of both uses then add up.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: argument {i} must be a Layer, got {type(layer).__name__}"
                )
        self._check_each_layer_once(layers)
        self.layers: list[Layer] = list(layers)

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> layers[-1](... layers[0](x))."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """Backpropagate ``grad_y`` through every layer in reverse; return grad_x."""
        for layer in reversed(self.layers):
            grad_y = layer.backward(grad_y)
        return grad_y

    def backward_params(self, grad_y: FloatArray) -> None:
        """As ``backward``, but the first layer skips its input gradient."""
        if not self.layers:
            return
        for layer in reversed(self.layers[1:]):
            grad_y = layer.backward(grad_y)
        self.layers[0].backward_params(grad_y)

    def append(self, layer: Layer) -> Sequential:
        """Add ``layer`` at the end; return self."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.append: expected a Layer, got {type(layer).__name__}")
        self._check_each_layer_once([*self.layers, layer])
        self.layers.append(layer)
        return self

    def _check_each_layer_once(self, layers: Sequence[Layer]) -> None:
        """Raise if a layer instance would appear twice in this tree, or contain it
        (see the class docstring)."""
        seen = {id(self)}
        for layer in (module for top in layers for module in top.modules()):
            if id(layer) in seen:
                raise ValueError(
                    f"Sequential: {layer!r} appears more than once; a layer keeps the input "
                    f"of its last forward for backward, so one instance cannot serve two "
                    f"places. Use separate layers (sharing parameters if intended: "
                    f"b.weight = a.weight)"
                )
            seen.add(id(layer))

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
        if not self.layers:
            return "Sequential()"
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"

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
        shape = input_shape if input_shape is not None else self._default_input_shape()
        params = self.parameters()
        dtype = params[0].dtype if params else np.dtype(np.float32)
        # forward rebinds its cache attributes (in eval mode, to None): snapshot them all
        snapshot = [(layer, dict(vars(layer))) for layer in self.modules()]
        self.eval()
        try:
            x = np.zeros((1, *shape), dtype)
            rows = [("Layer", "Output shape", "Params")]
            for i, layer in enumerate(self.layers):
                x = layer.forward(x)
                out = "(None, " + ", ".join(map(str, x.shape[1:])) + ")"
                rows.append((f"({i}) {layer!r}".split("\n")[0], out, f"{layer.num_parameters():,}"))
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

    def _default_input_shape(self) -> Shape:
        first = next((m for m in self.modules() if not isinstance(m, Sequential)), None)
        features = getattr(first, "in_features", None)
        if not isinstance(features, int):
            raise ValueError(
                f"Sequential.summary: cannot tell the input shape from {first!r}; "
                f"pass input_shape, e.g. summary(input_shape=(784,))"
            )
        return (features,)
