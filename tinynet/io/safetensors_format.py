"""safetensors files in PyTorch's layout: weights that ``torch.nn.Sequential`` loads.

A tinynet model and the ``torch.nn`` model of the same architecture share their
state-dict names (``0.weight``, ``0.bias``...). The one difference in layout is
`Dense`'s weight: tinynet stores (in_features, out_features), ``torch.nn.Linear``
(out_features, in_features), so Dense weights are transposed on the way out and back.
Other layers' arrays are written as they are. The file's metadata says
``{"format": "pt"}``, as ``safetensors.torch.save_file`` writes it::

    tinynet.io.save_safetensors(model, "model.safetensors")
    torch_model.load_state_dict(safetensors.torch.load_file("model.safetensors"))

Needs the optional ``safetensors`` package (``pip install safetensors``), imported
only when these functions are called. Only the architecture's weights are stored:
loading fills an existing model.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.files import open_regular
from tinynet.io.errors import ModelFormatError
from tinynet.io.native import check_finite
from tinynet.io.pickled import refuse_pickle
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.state_dict import ArraySpec, IncompatibleKeys, StateDictError, find_mismatch
from tinynet.typing import Array

_DTYPES = {
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
    "I8": np.int8,
    "I16": np.int16,
    "I32": np.int32,
    "I64": np.int64,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
"""safetensors dtype codes numpy can hold (BF16 and FP8 it cannot)."""


def _safetensors(module: str = "") -> Any:
    """``safetensors`` (or a submodule), or an ``ImportError`` saying how to install it."""
    try:
        return importlib.import_module("safetensors" + module)
    except ImportError:
        raise ImportError(
            "safetensors support needs the optional package safetensors: pip install safetensors"
        ) from None


def transposed_names(model: Layer) -> set[str]:
    """State-dict names of the arrays whose PyTorch layout is the transpose (Dense weights)."""
    return {f"{prefix}weight" for prefix, layer in model.named_modules() if type(layer) is Dense}


def to_torch_layout(model: Layer) -> dict[str, Array]:
    """``model.state_dict()`` with Dense weights transposed to (out, in), C-contiguous."""
    flip = transposed_names(model)
    return {
        name: np.ascontiguousarray(array.T) if name in flip else array
        for name, array in model.state_dict().items()
    }


def save_safetensors(
    model: Layer, path: str | os.PathLike[str], *, metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``model``'s weights to ``path`` as safetensors in PyTorch's layout, atomically.

    ``metadata`` (str -> str) is stored in the file's header beside ``format: pt``.
    """
    tensors = to_torch_layout(model)
    data = _safetensors(".numpy").save(tensors, metadata={"format": "pt", **(metadata or {})})
    with atomic_write(path) as handle:
        handle.write(data)


def load_safetensors(
    model: Layer, path: str | os.PathLike[str], *, strict: bool = True
) -> IncompatibleKeys:
    """Copy the weights in the safetensors file ``path`` (PyTorch layout) into ``model``.

    Names, shapes (in PyTorch's layout) and dtypes are all checked from the file's
    header before any data is read, so on any error ``model`` is unchanged:
    ``FileNotFoundError``; `ModelFormatError` for a file that is not safetensors (not a
    regular file, or a PyTorch pickle, which is refused unread with how to save it as
    safetensors);
    `tinynet.state_dict.StateDictError` for weights that do not fit ``model``. dtypes
    are cast as ``load_state_dict`` does (safe casts only). NaN or infinite parameters
    are a `ModelFormatError`, as `tinynet.load` refuses them. Returns the missing and
    unexpected keys (both empty if ``strict``).
    """
    file = Path(path)
    with open_regular(file, "a safetensors file", ModelFormatError):
        pass  # FileNotFoundError, or a directory or device refused; safe_open maps the file
    refuse_pickle(file)
    flip = transposed_names(model)
    expected = {
        name: ArraySpec(spec.shape[::-1], spec.dtype) if name in flip else spec
        for name, spec in model.state_specs().items()
    }
    with _open(file) as reader:
        found = _file_specs(reader, file)
        mismatch = find_mismatch(expected, found)
        if mismatch.fatal(strict):
            raise StateDictError(
                mismatch.message(type(model).__name__) + "\n  (shapes in PyTorch's layout)",
                mismatch,
            )
        tensors = {name: reader.get_tensor(name) for name in expected if name in found}
    for name, _ in model.named_parameters():
        if name in tensors:
            check_finite(tensors[name], f"{file}: tensor {name!r}", "safetensors.numpy.load_file")
    state = {name: array.T if name in flip else array for name, array in tensors.items()}
    model.load_state_dict(state, strict=False)  # every key was checked above
    return IncompatibleKeys(mismatch.missing, mismatch.unexpected)


def _open(file: Path) -> Any:
    """``safe_open(file)``, with a clear error if it is not a safetensors file."""
    safetensors = _safetensors()
    try:
        return safetensors.safe_open(str(file), framework="np")
    except safetensors.SafetensorError as error:
        raise ModelFormatError(f"{file} is not a valid safetensors file: {error}") from None


def _file_specs(reader: Any, file: Path) -> dict[str, ArraySpec]:
    """Shape and dtype of every tensor, from the header alone."""
    found = {}
    names: list[str] = reader.keys()
    for name in names:
        tensor = reader.get_slice(name)
        code = tensor.get_dtype()
        if code not in _DTYPES:
            raise ModelFormatError(
                f"{file}: tensor {name!r} has dtype {code}, which numpy cannot hold; "
                f"convert it to float32 first (in PyTorch: tensor.float())"
            )
        found[name] = ArraySpec(tuple(tensor.get_shape()), np.dtype(_DTYPES[code]))
    return found
