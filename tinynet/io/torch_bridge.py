"""PyTorch models in and out: `from_torch` and `to_torch`, weights copied exactly.

    model = tinynet.io.from_torch(torch_model)    # a torch.nn.Sequential -> tinynet
    torch_model = tinynet.io.to_torch(model)      # and back

Supported, in both directions (``nn.Sequential`` nested to any depth):

==================================  =============================================
torch.nn                            tinynet
==================================  =============================================
Linear(in, out, bias)               Dense(in, out, bias); weight transposed
Conv2d(in, out, kernel_size,        Conv2d(in, out, kernel_size, stride, padding,
stride, padding, dilation, groups,  dilation, groups, bias); ``padding`` "same",
bias)                               "valid" or a pair; weight (out, in / groups,
                                    kh, kw) as it is
Conv1d(...), the same arguments     Conv1d(...), one-int tuples; weight (out,
                                    in / groups, k) as it is
MaxPool2d(kernel_size, stride,      MaxPool2d(kernel_size, stride, padding,
padding, dilation)                  dilation)
AvgPool2d(kernel_size, stride,      AvgPool2d(kernel_size, stride, padding,
padding, count_include_pad,         count_include_pad, divisor_override)
divisor_override)
AdaptiveAvgPool2d(output_size)      AdaptiveAvgPool2d(output_size)
ReLU(inplace)                       ReLU(inplace)
LeakyReLU(negative_slope)           LeakyReLU(negative_slope)
Sigmoid, Tanh, SiLU                 Sigmoid, Tanh, SiLU (and Swish -> SiLU)
GELU(approximate)                   GELU(approximate)
Softmax(dim)                        Softmax(axis)
Dropout(p)                          Dropout(p)
BatchNorm1d, BatchNorm2d(n, eps,    BatchNorm1d, BatchNorm2d(n, eps, momentum,
momentum, affine)                   affine), the running statistics and
                                    ``num_batches_tracked``; ``momentum=None``
                                    (a cumulative average) too
Flatten() (start_dim=1)             Flatten()
Unflatten(dim, unflattened_size)    Unflatten(dim, unflattened_size)
Sequential(Flatten(),               Reshape(shape), one way: torch has no Reshape
Unflatten(1, shape))                module (it comes back as those two)
Embedding(num, dim)                 Embedding(num, dim)
LayerNorm(d, eps, elementwise_      LayerNorm(d, eps, elementwise_affine); one
affine)                             normalized axis
RNN, LSTM, GRU(input_size,          RNN, LSTM, GRU(input_size, hidden_size,
hidden_size, num_layers, bias,      num_layers, bias, batch_first); weights as
batch_first)                        they are (PyTorch's names and gate order)
MultiheadAttention(embed_dim,       MultiheadAttention(embed_dim, num_heads, bias,
num_heads, bias, batch_first)       batch_first, causal); ``out_proj`` transposed
Sequential(...)                     Sequential(...), children named by position
torch_modules.Residual(block)       Residual(block): ``x + block(x)``
==================================  =============================================

torch's recurrent and attention modules take and return more than one tensor, and
torch has no position-embedding module, so `to_torch` builds the subclasses in
`tinynet.io.torch_modules` for them (`RNN`, `LSTM`, `GRU` returning the output
sequence only, `SelfAttention` with a ``causal`` flag, `PositionalEmbedding`, and
`Residual` for tinynet's skip connection, so `tinynet.sequence.gpt_block` converts), which
work inside an ``nn.Sequential`` and have torch's ``state_dict`` names; `from_torch`
takes those and the plain ``torch.nn`` ones. An RNN with ``nonlinearity="relu"``,
bidirectional, with ``dropout`` or ``proj_size``, an attention with ``kdim``/``vdim``,
``dropout``, ``add_bias_kv`` or ``add_zero_attn``, an Embedding with ``padding_idx``,
``max_norm`` or ``scale_grad_by_freq``, and a LayerNorm with ``bias=False`` are refused.

Each module's parameters and buffers are copied (nothing is shared), in the module's
own dtype (float16/32/64), as ``load_state_dict`` checks them; the training mode is
carried over. The pools' square sizes go to torch as ints (``MaxPool2d(2)``, as
usually written), other sizes as pairs. Anything else is refused with a
`ConversionError` naming the module and its position (``model.2.0``): tinynet's
`Parallel` has no ``torch.nn`` module; torch's ``Softmax(dim=None)``,
BatchNorm with ``track_running_stats=False`` or ``bias=False``, a convolution with a
``padding_mode`` other than ``"zeros"``, and pools with
``ceil_mode=True`` or ``return_indices=True`` no tinynet equivalent. ``inplace`` of
LeakyReLU, SiLU and Dropout is dropped (the same values).

Needs PyTorch (``pip install torch``), imported only when these functions are called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynet.containers import Residual, Sequential
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
from tinynet.layers.adaptive import AdaptiveAvgPool2d
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.base import Layer
from tinynet.layers.conv import Conv1d, Conv2d
from tinynet.layers.dense import Dense
from tinynet.layers.embedding import Embedding, PositionalEmbedding
from tinynet.layers.layernorm import LayerNorm
from tinynet.layers.normalization import BatchNorm1d, BatchNorm2d
from tinynet.layers.pooling import AvgPool2d, MaxPool2d
from tinynet.layers.recurrent import GRU, LSTM, RNN
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten, Reshape, Unflatten
from tinynet.state_dict import StateDictError

if TYPE_CHECKING:
    import torch


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
    if not module.track_running_stats:
        raise ConversionError(
            f"from_torch: {path} is {_short(module)}; tinynet's BatchNorm keeps running "
            f"statistics (track_running_stats=False has none)"
        )
    if module.affine and module.bias is None:
        raise ConversionError(
            f"from_torch: {path} is {_short(module)} without a bias (bias=False); tinynet's "
            f"BatchNorm has a weight and a bias (affine=True) or neither"
        )
    cls = BatchNorm2d if type(module).__name__ == "BatchNorm2d" else BatchNorm1d
    return cls(
        module.num_features,
        eps=module.eps,
        momentum=module.momentum,
        affine=module.affine,
        dtype=_numpy_dtype(module, path),
    )


def _refuse(module: Any, path: str, flags: dict[str, object]) -> None:
    """A `ConversionError` naming the first of ``flags`` (attribute: the only value
    tinynet has) that ``module`` sets otherwise."""
    for name, supported in flags.items():
        if getattr(module, name) != supported:
            raise ConversionError(
                f"from_torch: {path} is {_short(module)} with {name}={getattr(module, name)!r}; "
                f"tinynet's {type(module).__name__} has only {name}={supported!r}"
            )


def _conv_arguments(conv: Any) -> dict[str, Any]:
    """The constructor arguments of a torch or a tinynet Conv1d or Conv2d, read from it:
    the two name them alike (``padding`` is "same", "valid" or a tuple in both)."""
    names = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation")
    arguments = {name: getattr(conv, name) for name in (*names, "groups")}
    return {**arguments, "bias": conv.bias is not None}


def _conv(module: Any, path: str) -> Layer:
    _refuse(module, path, {"padding_mode": "zeros"})
    cls = Conv1d if type(module).__name__ == "Conv1d" else Conv2d
    return cls(**_conv_arguments(module), dtype=_numpy_dtype(module, path))


def _max_pool(module: Any, path: str) -> Layer:
    _refuse(module, path, {"ceil_mode": False, "return_indices": False})
    return MaxPool2d(module.kernel_size, module.stride, module.padding, module.dilation)


def _avg_pool(module: Any, path: str) -> Layer:
    _refuse(module, path, {"ceil_mode": False})
    return AvgPool2d(
        module.kernel_size,
        module.stride,
        module.padding,
        count_include_pad=module.count_include_pad,
        divisor_override=module.divisor_override,
    )


def _flatten(module: Any, path: str) -> Layer:
    if (module.start_dim, module.end_dim) != (1, -1):
        raise ConversionError(
            f"from_torch: {path} is {_short(module)}; tinynet's Flatten flattens every axis "
            f"but the batch axis (start_dim=1, end_dim=-1)"
        )
    return Flatten()


def _embedding(module: Any, path: str) -> Layer:
    _refuse(module, path, {"padding_idx": None, "max_norm": None, "scale_grad_by_freq": False})
    return Embedding(module.num_embeddings, module.embedding_dim, dtype=_numpy_dtype(module, path))


def _layer_norm(module: Any, path: str) -> Layer:
    if module.elementwise_affine and module.bias is None:
        raise ConversionError(
            f"from_torch: {path} is {_short(module)} without a bias (bias=False); tinynet's "
            f"LayerNorm has a weight and a bias (elementwise_affine=True) or neither"
        )
    dtype = _numpy_dtype(module, path) if module.elementwise_affine else np.float32
    return LayerNorm(module.normalized_shape, module.eps, module.elementwise_affine, dtype=dtype)


def _recurrent(module: Any, path: str) -> Layer:
    flags: dict[str, object] = {"bidirectional": False, "dropout": 0.0}
    if module.mode == "LSTM":
        flags["proj_size"] = 0
    if module.mode.startswith("RNN"):
        flags["nonlinearity"] = "tanh"
    _refuse(module, path, flags)
    cls = {"LSTM": LSTM, "GRU": GRU}.get(module.mode, RNN)
    names = ("input_size", "hidden_size", "num_layers", "bias", "batch_first")
    arguments = {name: getattr(module, name) for name in names}
    return cls(**arguments, dtype=_numpy_dtype(module, path))


def _attention(module: Any, path: str) -> Layer:
    if not module._qkv_same_embed_dim:
        raise ConversionError(
            f"from_torch: {path} is {_short(module)} with kdim={module.kdim}, "
            f"vdim={module.vdim}; tinynet's MultiheadAttention is self-attention "
            f"(kdim = vdim = embed_dim)"
        )
    _refuse(module, path, {"dropout": 0.0, "bias_k": None, "add_zero_attn": False})
    return MultiheadAttention(
        module.embed_dim,
        module.num_heads,
        bias=module.in_proj_bias is not None,
        batch_first=module.batch_first,
        causal=getattr(module, "causal", False),
        dtype=_numpy_dtype(module, path),
    )


def _residual(module: Any, path: str) -> Layer:
    return Residual(_from(module.block, f"{path}.block"))


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
    "BatchNorm2d": _batch_norm,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "MaxPool2d": _max_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": lambda m, _: AdaptiveAvgPool2d(m.output_size),
    "Flatten": _flatten,
    "Unflatten": lambda m, _: Unflatten(m.dim, tuple(m.unflattened_size)),
    "Embedding": _embedding,
    "LayerNorm": _layer_norm,
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "MultiheadAttention": _attention,
    "SelfAttention": _attention,
    "PositionalEmbedding": lambda m, p: PositionalEmbedding(
        m.max_len, m.embedding_dim, dtype=_numpy_dtype(m, p)
    ),
    "Residual": _residual,
    "Sequential": _sequential,
}
"""torch.nn class name (or `tinynet.io.torch_modules` class name) -> ``(module, path) ->
layer`` (weights are copied afterwards)."""


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
    from tinynet.io import torch_modules

    cls, name = type(module), type(module).__name__
    ours = getattr(_torch().nn, name, None) is cls or getattr(torch_modules, name, None) is cls
    build = _FROM_TORCH.get(name) if ours else None
    if build is None:
        raise ConversionError(
            f"from_torch: {path} is {cls.__module__}.{cls.__qualname__} ({_short(module)}), "
            f"which tinynet cannot convert; supported: torch.nn's or tinynet.io.torch_modules' "
            f"{', '.join(_FROM_TORCH)}"
        )
    try:
        layer = build(module, path)
    except (ValueError, TypeError) as error:
        if isinstance(error, ConversionError):
            raise
        raise ConversionError(f"from_torch: {path} ({_short(module)}): {error}") from error
    if type(layer) in (Sequential, Residual):  # its children were converted with it
        layer.training = module.training
        return layer
    _copy_from_torch(module, layer, path)
    for sub_layer, sub_module in zip(layer.modules(), module.modules(), strict=True):
        sub_layer.training = sub_module.training  # attention's out_proj too
    return layer


def _copy_from_torch(module: Any, layer: Layer, path: str) -> None:
    """A leaf module's parameters and buffers into ``layer``, Linear weights transposed."""
    state = {name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()}
    for name in transposed_names(layer) & state.keys():
        state[name] = state[name].T
    try:
        layer.load_state_dict(state, casting="equiv")
    except StateDictError as error:
        raise ConversionError(f"from_torch: {path} ({_short(module)}): {error}") from error


# --- tinynet -> torch ------------------------------------------------------------------


def _torch_dtype(layer: Layer) -> Any:
    return getattr(_torch(), str(layer.dtype))


def _batch_norm_to_torch(layer: BatchNorm1d | BatchNorm2d, nn: Any) -> Any:
    return getattr(nn, type(layer).__name__)(
        layer.num_features,
        eps=layer.eps,
        momentum=layer.momentum,
        affine=layer.affine,
        dtype=getattr(_torch(), str(layer.running_mean.dtype)),
    )


def _size(pair: tuple[Any, Any]) -> Any:
    """A pool's (H, W) size as torch's modules are usually given it: an int if square."""
    return pair[0] if pair[0] == pair[1] and pair[0] is not None else pair


def _avg_pool_to_torch(layer: AvgPool2d, nn: Any) -> Any:
    return nn.AvgPool2d(
        _size(layer.kernel_size),
        _size(layer.stride),
        _size(layer.padding),
        count_include_pad=layer.count_include_pad,
        divisor_override=layer.divisor_override,
    )


def _recurrent_to_torch(layer: RNN | LSTM | GRU, nn: Any) -> Any:
    from tinynet.io import torch_modules

    cls = getattr(torch_modules, type(layer).__name__)
    return cls(**layer.config(), dtype=_torch_dtype(layer))


def _attention_to_torch(layer: MultiheadAttention, nn: Any) -> Any:
    from tinynet.io import torch_modules

    return torch_modules.SelfAttention(
        layer.embed_dim,
        layer.num_heads,
        bias=layer.bias,
        batch_first=layer.batch_first,
        causal=layer.causal,
        dtype=_torch_dtype(layer),
    )


def _positional_to_torch(layer: PositionalEmbedding, nn: Any) -> Any:
    from tinynet.io import torch_modules

    return torch_modules.PositionalEmbedding(
        layer.max_len, layer.embedding_dim, dtype=_torch_dtype(layer)
    )


def _layer_norm_to_torch(layer: LayerNorm, nn: Any) -> Any:
    dtype = _torch_dtype(layer) if layer.weight is not None else None
    return nn.LayerNorm(layer.normalized_shape, layer.eps, layer.elementwise_affine, dtype=dtype)


_TO_TORCH: dict[type[Layer], Callable[[Any, Any], Any]] = {
    Dense: lambda layer, nn: nn.Linear(
        layer.in_features,
        layer.out_features,
        bias=layer.bias is not None,
        dtype=_torch_dtype(layer),
    ),
    Conv1d: lambda layer, nn: nn.Conv1d(**_conv_arguments(layer), dtype=_torch_dtype(layer)),
    Conv2d: lambda layer, nn: nn.Conv2d(**_conv_arguments(layer), dtype=_torch_dtype(layer)),
    MaxPool2d: lambda layer, nn: nn.MaxPool2d(
        _size(layer.kernel_size), _size(layer.stride), _size(layer.padding), _size(layer.dilation)
    ),
    AvgPool2d: _avg_pool_to_torch,
    AdaptiveAvgPool2d: lambda layer, nn: nn.AdaptiveAvgPool2d(_size(layer.output_size)),
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
    BatchNorm2d: _batch_norm_to_torch,
    Flatten: lambda layer, nn: nn.Flatten(),
    Unflatten: lambda layer, nn: nn.Unflatten(layer.dim, layer.unflattened_size),
    Reshape: lambda layer, nn: nn.Sequential(nn.Flatten(), nn.Unflatten(1, layer.shape)).train(
        layer.training
    ),
    Embedding: lambda layer, nn: nn.Embedding(
        layer.num_embeddings, layer.embedding_dim, dtype=_torch_dtype(layer)
    ),
    PositionalEmbedding: _positional_to_torch,
    LayerNorm: _layer_norm_to_torch,
    RNN: _recurrent_to_torch,
    LSTM: _recurrent_to_torch,
    GRU: _recurrent_to_torch,
    MultiheadAttention: _attention_to_torch,
}
"""tinynet layer class -> ``(layer, torch.nn) -> module`` (weights are copied afterwards)."""


def to_torch(model: Layer) -> torch.nn.Module:
    """The ``torch.nn`` module equal to ``model`` (see the module docstring), weights copied.

    A `Sequential` becomes an ``nn.Sequential`` (nested ones too). Raises
    `ConversionError` naming the first layer without a ``torch.nn`` equivalent (a
    `Parallel` or custom layer) and its position.
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
    elif type(layer) is Residual:
        from tinynet.io import torch_modules

        module = torch_modules.Residual(_to(layer.block, f"{path}.block", nn))
    else:
        build = _TO_TORCH.get(type(layer))
        if build is None:
            cls = type(layer)
            raise ConversionError(
                f"to_torch: {path} is {_short(layer)}, a {cls.__module__}.{cls.__qualname__}, "
                f"which has no torch.nn equivalent; supported: Sequential, Residual, "
                f"{', '.join(c.__name__ for c in _TO_TORCH)}"
            )
        module = build(layer, nn)
        _copy_to_torch(layer, module, path)
        for sub_module, sub_layer in zip(module.modules(), layer.modules(), strict=False):
            sub_module.training = sub_layer.training  # attention's out_proj too
    module.training = layer.training
    return module


def _copy_to_torch(layer: Layer, module: Any, path: str) -> None:
    """``layer``'s parameters and buffers into a fresh leaf module, Dense weights transposed."""
    torch = _torch()
    state = {name: torch.from_numpy(array) for name, array in to_torch_layout(layer).items()}
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:  # a converter that does not fit its layer
        raise ConversionError(
            f"to_torch: {path} ({_short(layer)}): {type(module).__name__} expects missing "
            f"{result.missing_keys}, not {result.unexpected_keys}"
        )
