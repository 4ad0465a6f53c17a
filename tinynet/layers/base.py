"""`Layer`: the one base class every layer, container and user extension derives from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from tinynet.blocks import cast
from tinynet.heads import Head
from tinynet.layers.config import constructor_config
from tinynet.parameter import Parameter
from tinynet.registry import Registry
from tinynet.state_dict import (
    ArraySpec,
    Casting,
    IncompatibleKeys,
    layer_state,
    load_layer_state,
)
from tinynet.typing import Array, DTypeLike, FloatArray
from tinynet.validation import describe

L = TypeVar("L", bound="Layer")
T = TypeVar("T")


class Layer(ABC):
    """A differentiable function of a batch, with optional trainable parameters.

    Subclasses write ``forward`` and ``backward``; everything else comes from here:

    - ``forward(x) -> y`` maps a batch (first axis is the batch) to a batch and, in
      training mode only, keeps what ``backward`` needs.
    - ``backward(grad_y) -> grad_x`` takes dLoss/dy of the last ``forward``, adds
      dLoss/dparam into each parameter's ``.grad`` (``+=``: gradients accumulate until
      ``zero_grad``) and returns dLoss/dx, of ``x``'s shape and dtype. It consumes what
      ``forward`` kept (see `saved`): a second ``backward`` needs a new ``forward``.
    - Parameters are found by looking at the instance's attributes: any `Parameter`
      or child `Layer` assigned to ``self`` is registered, in assignment order, named
      after the attribute (``weight``, ``bias``, ``block.weight``...), as PyTorch does.
    - ``training`` is ``True`` after construction; ``eval()`` switches to inference
      mode (no caching; Dropout is the identity) and ``train()`` back.
    """

    training: bool
    buffer_names: ClassVar[tuple[str, ...]] = ()
    """Attributes holding non-trainable state arrays (BatchNorm's running statistics):
    saved and loaded with the parameters, updated in place, never by an optimizer."""
    head: Head | None = None
    """What the outputs (N, C) mean (`tinynet.heads.Head`): recorded by ``fit``, saved
    and loaded with the model, read by ``predict`` and ``evaluate``."""
    inplace: bool = False
    """Whether ``forward`` may write its output over its input (``ReLU(inplace=True)``):
    a container then hands it a copy where its input is an array someone else reads
    (see `tinynet.containers`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register every subclass as it is defined, so a file can name it (`LAYERS`);
        a class whose name starts with ``_`` is private and not registered."""
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYERS.add(cls)

    def __init__(self) -> None:
        self.training = True

    @abstractmethod
    def forward(self, x: FloatArray) -> FloatArray:
        """Compute the output for a batch ``x``; cache what backward needs if training."""

    @abstractmethod
    def backward(self, grad_y: FloatArray) -> FloatArray:
        """Accumulate parameter gradients from ``grad_y`` and return the input gradient."""

    def backward_params(self, grad_y: FloatArray) -> None:
        """``backward`` without the input gradient, which a network's first layer does not
        need (for `Dense`, the largest product of the backward pass); override to skip it."""
        self.backward(grad_y)

    def __call__(self, x: FloatArray) -> FloatArray:
        """``forward(x)`` after ``check_input(x)``: how a user calls a layer. Containers
        check each child's input once per sample shape, then call ``forward`` alone."""
        self.check_input(x)
        return self.forward(x)

    def check_input(self, x: FloatArray) -> None:
        """Raise if ``x`` is not an input this layer takes, naming what it expected (here: a
        NumPy array with a batch axis; layers with size or dtype rules override it)."""
        if not isinstance(x, np.ndarray) or x.ndim == 0:
            name = repr(self).split("\n")[0].rstrip("(")
            raise TypeError(
                f"{name}: expected input to be a numpy array (N, ...), got {describe(x)}"
            )

    def output_activation(self) -> str | None:
        """``"softmax"`` or ``"sigmoid"`` if this layer's outputs are probabilities
        already (it is, or ends in, that activation), else ``None``: logits or values."""
        return None

    # --- structure -------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The direct sub-layers, with their attribute names, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Layer):
                yield name, value

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer and every layer inside it, depth first, with name prefixes
        ``""``, ``"0."``, ``"0.block."``... (those of `named_parameters`)."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}{name}.")

    def modules(self) -> Iterator[Layer]:
        """This layer and every layer inside it, depth first."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter of this layer and its sub-layers, named like ``0.weight``."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(f"{prefix}{name}.")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, FloatArray]]:
        """Every buffer (see ``buffer_names``) here and in sub-layers, named like parameters."""
        for name in self.buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def parameters(self) -> list[Parameter]:
        """The trainable parameters, each once, in a stable order (pass to an optimizer)."""
        unique: dict[int, Parameter] = {}
        for _, p in self.named_parameters():
            unique.setdefault(id(p), p)
        return list(unique.values())

    def num_parameters(self) -> int:
        """The number of trainable scalars."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self, *, copy: bool = True) -> dict[str, Array]:
        """Every parameter and buffer by attribute path (``0.weight``, ``3.running_mean``),
        in PyTorch's order; a shared parameter under each name. C-contiguous copies, or
        the live arrays with ``copy=False``."""
        return layer_state(self, copy=copy)

    def state_specs(self) -> dict[str, ArraySpec]:
        """The shape and dtype each `state_dict` entry has, without copying anything."""
        return {name: ArraySpec.of(a) for name, a in self.state_dict(copy=False).items()}

    def load_state_dict(
        self, state_dict: Mapping[str, Array], strict: bool = True, *, casting: Casting = "safe"
    ) -> IncompatibleKeys:
        """Copy ``state_dict``'s arrays into the parameters and buffers, in place, after
        checking all: `StateDictError` lists missing, (``strict``) unexpected and misfit
        keys, changing nothing. Dtypes cast by numpy's ``casting`` rule. Returns
        ``(missing_keys, unexpected_keys)``, as PyTorch's."""
        return load_layer_state(self, state_dict, strict=strict, casting=casting)

    # --- mode and dtype ----------------------------------------------------------------

    def train(self: L, mode: bool = True) -> L:
        """Set training mode (``mode=True``) or inference mode, here and in sub-layers."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self: L) -> L:
        """Set inference mode: no caching for backward, Dropout off, running statistics."""
        return self.train(False)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the parameters (float32 for a layer without any): what inputs
        must have."""
        params = self.parameters()
        return params[0].dtype if params else np.dtype(np.float32)

    def astype(self: L, dtype: DTypeLike) -> L:
        """Cast every parameter (data and grad) and float buffer to a float ``dtype``;
        return self. Integer buffers (BatchNorm's ``num_batches_tracked``) keep their
        dtype. Optimizers over the parameters follow (see `tinynet.blocks.cast`)."""
        target = np.dtype(dtype)
        cast(self.parameters(), target)
        for layer in self.modules():
            for name in layer.buffer_names:
                buffer = getattr(layer, name)
                if buffer.dtype.kind == "f":
                    setattr(layer, name, buffer.astype(target))
        return self

    # --- helpers for subclasses ------------------------------------------------------

    def saved(self, value: T | None) -> T:
        """``value``, cached by ``forward``; ``RuntimeError`` if ``None`` (no training
        forward). Built-in layers reset the cache to ``None`` in ``backward``, so a second
        ``backward`` raises instead of adding the same gradients twice."""
        if value is None:
            raise RuntimeError(
                f"{self!r}: backward() needs a forward() in training mode first "
                f"(training={self.training}); each forward serves one backward, which "
                f"consumes its cache (to combine two losses, add their gradients and call "
                f"backward once)"
            )
        return value

    def extra_repr(self) -> str:
        """The constructor arguments shown inside ``repr``; override in subclasses."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this layer (weights and sub-layers aside), as JSON
        values. By default read from the constructor's signature and the attributes of
        the same names (`tinynet.layers.config.constructor_config`); override for
        arguments not kept so."""
        return constructor_config(self, rebuilt=(Layer, np.random.Generator))

    @classmethod
    def from_config(cls: type[L], config: dict[str, Any], children: list[Layer]) -> L:
        """Rebuild a layer from `config` and its rebuilt sub-layers (in `named_children`
        order): ``cls(*children, **config)``. Override if the constructor differs."""
        return cls(*children, **config)

    def requires_grad_(self: L, requires_grad: bool = True) -> L:
        """Set ``requires_grad`` of every parameter (``False``: optimizers leave them
        alone, for fine-tuning), as PyTorch's; returns the layer."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self


LAYERS: Registry[Layer] = Registry("layer")
"""Every `Layer` subclass by the name saved files use: tinynet's own by class name
(``"Dense"``), others by ``module.QualifiedName`` (``"my_layers.Scale"``)."""
