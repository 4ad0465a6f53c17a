"""Saving and loading models, without pickle.

- `save` / `load` / `load_full`: tinynet's own ``.npz`` file (weights, architecture,
  optional optimizer state and metadata); loading needs no Python file of the model.
- `save_safetensors` / `load_safetensors`: weights only, in PyTorch's layout, for
  ``torch.nn`` interop (needs the optional ``safetensors`` package).
- `export_onnx` / `to_onnx`: the model as an ONNX graph for onnxruntime and other
  runtimes (needs the optional ``onnx`` package); `register_onnx` adds a custom
  layer's converter.
- `from_torch` / `to_torch`: a ``torch.nn.Sequential`` as a tinynet model and back,
  weights copied (needs PyTorch).
- `write_json`: a report (metrics, benchmark results) as a JSON file, atomically.

Layer types are resolved through `tinynet.registry` (``@tinynet.register_layer``).
"""

from tinynet.io.errors import ConversionError, ModelFormatError
from tinynet.io.jsonfile import write_json
from tinynet.io.native import FORMAT_VERSION, Loaded, load, load_full, save
from tinynet.io.onnx_export import export_onnx, to_onnx
from tinynet.io.onnx_graph import OnnxGraph, register_onnx
from tinynet.io.safetensors_format import load_safetensors, save_safetensors
from tinynet.io.torch_bridge import from_torch, to_torch

__all__ = [
    "FORMAT_VERSION",
    "ConversionError",
    "Loaded",
    "ModelFormatError",
    "OnnxGraph",
    "export_onnx",
    "from_torch",
    "load",
    "load_full",
    "load_safetensors",
    "register_onnx",
    "save",
    "save_safetensors",
    "to_onnx",
    "to_torch",
    "write_json",
]
