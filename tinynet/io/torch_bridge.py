"""PyTorch models in and out: `from_torch` and `to_torch`, weights copied exactly.

    model = tinynet.io.from_torch(torch_model)    # a torch.nn.Sequential -> tinynet
    torch_model = tinynet.io.to_torch(model)      # and back

Supported, in both directions (``nn.Sequential`` nested to any depth):

==================================  =============================================
torch.nn                            tinynet
==================================  =============================================
Linear(in, out, bias)               Dense(in, out, bias); weight transposed
ReLU(inplace)                       ReLU(inplace)
LeakyReLU(negative_slope)           LeakyReLU(negative_slope)
Sigmoid, Tanh, SiLU                 Sigmoid, Tanh, SiLU (and Swish -> SiLU)
GELU(approximate)                   GELU(approximate)
Softmax(dim)                        Softmax(axis)
Dropout(p)                          Dropout(p)
BatchNorm1d(n, eps, momentum,       BatchNorm1d(n, eps, momentum, affine), with
affine)                             the running statistics
Flatten() (start_dim=1)             Flatten()
Sequential(...)                     Sequential(...), children named by position
==================================  =============================================

Each module's parameters and buffers are copied (nothing is shared), in the module's
own dtype (float16/32/64), as ``load_state_dict`` checks them; the training mode is
carried over. Anything else is refused with a `ConversionError` naming the module and
its position (``model.2.0``): tinynet's `Residual` and `Parallel` have no
``torch.nn`` module, torch's ``Softmax(dim=None)`` and ``BatchNorm1d(momentum=None)``
(a cumulative average) no tinynet equivalent. ``inplace`` of LeakyReLU, SiLU and
Dropout is dropped (the same values). torch's ``num_batches_tracked`` is copied
where tinynet's BatchNorm has it and skipped where it has not.

Needs PyTorch (``pip install torch``), imported only when these functions are called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynet.containers import Sequential
from tinynet.io.errors import ConversionError
from tinynet.io.safetensors_format import to_torch_layout, transposed_names
from tinynet.layers.activations import (
    GELU,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
)
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.layers.normalization import BatchNorm1d
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten
from tinynet.state_dict import StateDictError

if TYPE_CHECKING:
    import torch

TORCH_ONLY_BUFFERS = ("num_batches_tracked",)
"""torch buffers a tinynet layer may not have: skipped when it has none, copied when it
has one."""


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("from_torch/to_torch need PyTorch: pip install torch") from None
    return torch


def _short(obj: object) -> str:
    return repr(obj).split("\n")[0].rstrip("(") or type(obj).__name__


# --- torch -> tinynet ------------------------------------------------------------------


def _numpy_dtype(module: Any, path: str) -> np.dtype[Any]:
    """The dtype of the module's first parameter or buffer, as numpy's."""
    tensor = next(iter(module.state_dict().values()))
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in ("float16", "float32", "float64"):
        raise ConversionError(
            f"from_torch: {path} ({_short(module)}) holds {tensor.dtype} tensors; tinynet "
            f"takes float16, float32 or float64: convert first, e.g. module.float()"
        )
    return np.dtype(name)


def _linear(module: Any, path: str) -> Layer:
    dtype = _numpy_dtype(module, path)
    return Dense(module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype)


def _softmax(module: Any, path: str) -> Layer:
    if module.dim is None:
        raise ConversionError(
            f"from_torch: {path} is Softmax(dim=None), whose axis torch guesses from the input; "
            f"give it one, e.g. nn.Softmax(dim=-1)"
        )
    return Softmax(axis=module.dim)


def _batch_norm(module: Any, path: str) -> Layer:
    if module.momentum is None or not module.track_running_stats:
        raise ConversionError(
            f"from_torch: {path} is {_short(module)}; tinynet's BatchNorm1d keeps running "
            f"statistics with a momentum (not momentum=None, a cumulative average, nor "
            f"track_running_stats=False)"
        )
    return BatchNorm1d(
        module.num_features,
        eps=module.eps,
        momentum=module.momentum,
        affine=module.affine,
        dtype=_numpy_dtype(module, path),
    )


def _flatten(module: Any, path: str) -> Layer:
    if (module.start_dim, module.end_dim) != (1, -1):
        raise ConversionError(
            f"from_torch: {path} is {_short(module)}; tinynet's Flatten flattens every axis "
            f"but the batch axis (start_dim=1, end_dim=-1)"
        )
    return Flatten()


def _sequential(module: Any, path: str) -> Layer:
    return Sequential(*[_from(child, f"{path}.{name}") for name, child in module.named_children()])


_FROM_TORCH: dict[str, Callable[[Any, str], Layer]] = {
    "Linear": _linear,
    "ReLU": lambda m, _: ReLU(inplace=m.inplace),
    "LeakyReLU": lambda m, _: LeakyReLU(m.negative_slope),
    "Sigmoid": lambda m, _: Sigmoid(),
    "Tanh": lambda m, _: Tanh(),
    "SiLU": lambda m, _: SiLU(),
    "GELU": lambda m, _: GELU(m.approximate),
    "Softmax": _softmax,
    "Dropout": lambda m, _: Dropout(m.p),
    "BatchNorm1d": _batch_norm,
    "Flatten": _flatten,
    "Sequential": _sequential,
}
"""torch.nn class name -> ``(module, path) -> layer`` (weights are copied afterwards)."""


def from_torch(module: torch.nn.Module) -> Layer:
    """The tinynet model equal to ``module`` (see the module docstring), weights copied.

    ``module`` is an ``nn.Sequential`` of supported modules (or one of them). Raises
    `ConversionError` naming the first unsupported module and its position, e.g.
    ``model.3 is torch.nn.modules.conv.Conv1d``.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    return _from(module, "model")


def _from(module: Any, path: str) -> Layer:
    nn = _torch().nn
    cls = type(module)
    build = _FROM_TORCH.get(cls.__name__) if getattr(nn, cls.__name__, None) is cls else None
    if build is None:
        raise ConversionError(
            f"from_torch: {path} is {cls.__module__}.{cls.__qualname__} ({_short(module)}), "
            f"which tinynet cannot convert; supported: nn.{', nn.'.join(_FROM_TORCH)}"
        )
    try:
        layer = build(module, path)
    except (ValueError, TypeError) as error:
        if isinstance(error, ConversionError):
            raise
        raise ConversionError(f"from_torch: {path} ({_short(module)}): {error}") from error
    if next(module.children(), None) is None:
        _copy_from_torch(module, layer, path)
    layer.training = module.training
    return layer


def _copy_from_torch(module: Any, layer: Layer, path: str) -> None:
    """A leaf module's parameters and buffers into ``layer``, Linear weights transposed."""
    specs = layer.state_specs()
    state = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in module.state_dict().items()
        if name in specs or name.rpartition(".")[2] not in TORCH_ONLY_BUFFERS
    }
    for name in transposed_names(layer) & state.keys():
        state[name] = state[name].T
    try:
        layer.load_state_dict(state, casting="equiv")
    except StateDictError as error:
        raise ConversionError(f"from_torch: {path} ({_short(module)}): {error}") from error


# --- tinynet -> torch ------------------------------------------------------------------


def _torch_dtype(layer: Layer) -> Any:
    return getattr(_torch(), str(layer.dtype))


def _batch_norm_to_torch(layer: BatchNorm1d, nn: Any) -> Any:
    return nn.BatchNorm1d(
        layer.num_features,
        eps=layer.eps,
        momentum=layer.momentum,
        affine=layer.affine,
        dtype=getattr(_torch(), str(layer.running_mean.dtype)),
    )


_TO_TORCH: dict[type[Layer], Callable[[Any, Any], Any]] = {
    Dense: lambda layer, nn: nn.Linear(
        layer.in_features,
        layer.out_features,
        bias=layer.bias is not None,
        dtype=_torch_dtype(layer),
    ),
    ReLU: lambda layer, nn: nn.ReLU(inplace=layer.inplace),
    LeakyReLU: lambda layer, nn: nn.LeakyReLU(layer.negative_slope),
    Sigmoid: lambda layer, nn: nn.Sigmoid(),
    Tanh: lambda layer, nn: nn.Tanh(),
    SiLU: lambda layer, nn: nn.SiLU(),
    Swish: lambda layer, nn: nn.SiLU(),
    GELU: lambda layer, nn: nn.GELU(approximate=layer.approximate),
    Softmax: lambda layer, nn: nn.Softmax(dim=layer.axis),
    Dropout: lambda layer, nn: nn.Dropout(layer.p),
    BatchNorm1d: _batch_norm_to_torch,
    Flatten: lambda layer, nn: nn.Flatten(),
}
"""tinynet layer class -> ``(layer, torch.nn) -> module`` (weights are copied afterwards)."""


def to_torch(model: Layer) -> torch.nn.Module:
    """The ``torch.nn`` module equal to ``model`` (see the module docstring), weights copied.

    A `Sequential` becomes an ``nn.Sequential`` (nested ones too). Raises
    `ConversionError` naming the first layer without a ``torch.nn`` equivalent (a
    `Residual`, `Parallel` or custom layer) and its position.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"to_torch: expected a tinynet Layer, got {type(model).__name__}")
    module: torch.nn.Module = _to(model, "model", _torch().nn)
    return module


def _to(layer: Layer, path: str, nn: Any) -> Any:
    if type(layer) is Sequential:
        module = nn.Sequential(
            *[_to(child, f"{path}.{name}", nn) for name, child in layer.named_children()]
        )
    else:
        build = _TO_TORCH.get(type(layer))
        if build is None:
            cls = type(layer)
            raise ConversionError(
                f"to_torch: {path} is {_short(layer)}, a {cls.__module__}.{cls.__qualname__}, "
                f"which has no torch.nn equivalent; supported: Sequential, "
                f"{', '.join(c.__name__ for c in _TO_TORCH)}"
            )
        module = build(layer, nn)
        _copy_to_torch(layer, module, path)
    module.training = layer.training
    return module


def _copy_to_torch(layer: Layer, module: Any, path: str) -> None:
    """``layer``'s parameters and buffers into a fresh leaf module, Dense weights transposed."""
    torch = _torch()
    state = {name: torch.from_numpy(array) for name, array in to_torch_layout(layer).items()}
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k.rpartition(".")[2] not in TORCH_ONLY_BUFFERS]
    if missing or result.unexpected_keys:  # a converter above that does not fit its layer
        raise ConversionError(
            f"to_torch: {path} ({_short(layer)}): {type(module).__name__} expects missing "
            f"{missing}, not {result.unexpected_keys}"
        )
