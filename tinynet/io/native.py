"""tinynet's own model file: one ``.npz`` holding weights, architecture and (optionally)
optimizer state and user metadata, read back without pickle and without the model's code.

Layout of the archive (every member a plain ``.npy`` array, so ``numpy.load`` reads it)::

    __tinynet__                    uint8, the UTF-8 JSON header below
    0.weight, 0.bias, ...          the model's state dict (PyTorch names, tinynet layout)
    optimizer/state/<i>/<buffer>   optimizer state per parameter position (if saved)

and the JSON header::

    {"format": "tinynet", "format_version": 1, "tinynet_version": "0.1.0",
     "dtype": "float32",               # of every parameter (null if it has none)
     "model": {...},                   # see tinynet.io.architecture
     "head": null | {"task": "multiclass", "link": "softmax", "columns": 10},
     "optimizer": null | {"type": "tinynet.optim.adam.Adam",
                          "param_groups": [{"lr": ..., "initial_lr": ...,
                                            "params": [0, 1, ...]}, ...],
                          "state": {"0": {"step": 3}, ...}},
     "metadata": {...}}                # the user's JSON, {} if none

where the optimizer's parameter indices (``params``, ``state``) are positions in
``model.parameters()``, whatever order the optimizer's groups list them in (an
optimizer over some of them, as in fine-tuning, is saved too). Files
from before parameter groups (one group, ``"initial_lr"`` beside it) still load.

Use: ``tinynet.save(model, "model.npz")`` and ``model = tinynet.load("model.npz")``,
as Keras's ``save``/``load_model``. To keep training later, pass ``optimizer=``
(and any ``metadata``) and read everything back with `load_full`, or into the model and
optimizer you have with `load_states` (as a checkpoint resumes). ``save`` refuses, before
writing, a model that would not load back (`tinynet.io.savable.check_savable`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.heads import Head
from tinynet.io.architecture import Budget, describe, rebuild
from tinynet.io.errors import ModelFormatError
from tinynet.io.npy import short_repr
from tinynet.io.npz import NpzReader, open_npz, write_npz
from tinynet.io.savable import HEADER, architecture_difference, check_savable, common_dtype
from tinynet.layers.base import Layer
from tinynet.optim.optimizer import Optimizer
from tinynet.optim.registry import optimizer_class
from tinynet.parameter import Parameter
from tinynet.registry import UnknownNameError
from tinynet.state_dict import ArraySpec, find_mismatch
from tinynet.typing import Array
from tinynet.validation import is_integer, is_shape
from tinynet.version import __version__

FORMAT = "tinynet"
FORMAT_VERSION = 1
"""The version this tinynet writes; it reads this one and older."""
OPTIMIZER_PREFIX = "optimizer/"
MAX_HEADER_BYTES = 16 * 2**20
"""A longer header is refused: parsing JSON can take 20 times its size in Python objects."""
_KIND = "a tinynet model file (.npz written by tinynet.save)"
_COUNTER = "num_batches_tracked"
_OPTIMIZER_ARRAY = re.compile(r"optimizer/state/([0-9]+)/([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Loaded:
    """Everything a tinynet model file holds.

    ``model`` is rebuilt with the saved weights, in the mode it was saved in;
    ``optimizer`` is rebuilt over ``model.parameters()`` with its saved
    hyperparameters and state (``None`` if none was saved); ``metadata`` is the
    user's JSON (``{}`` if none).
    """

    model: Layer
    optimizer: Optimizer | None
    metadata: dict[str, Any]
    tinynet_version: str
    format_version: int


def recorded_input_shape(metadata: Mapping[str, Any], source: str) -> tuple[int, ...] | None:
    """The shape of one sample as the saved model takes it, as ``tinynet train --save``
    records it (metadata ``input_shape``: the model file's ``INPUT_SHAPE``, e.g.
    ``(1, 28, 28)``); ``None`` if none was recorded. ``ModelFormatError`` naming
    ``source`` for anything but a list of positive ints."""
    shape = metadata.get("input_shape")
    if shape is None:
        return None
    if not (isinstance(shape, list) and is_shape(shape) and len(shape) <= 8):
        raise ModelFormatError(
            f"{source}: metadata input_shape must be a list of at most 8 positive ints, "
            f"got {short_repr(shape)}"
        )
    return tuple(int(d) for d in shape)


# --- saving ------------------------------------------------------------------------------


def save(
    model: Layer,
    path: str | os.PathLike[str],
    *,
    optimizer: Optimizer | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model`` (architecture and weights) to ``path``, an ``.npz``, atomically.

    ``optimizer``, if given, must be over ``model.parameters()`` in that order; its
    hyperparameters and state are saved too, so training can continue after
    `load_full`. ``metadata`` is any JSON object (epoch, metrics...; tuples come back
    as lists). Every layer's class must be registered (built-ins are; see
    ``tinynet.register_layer``), rebuild from its ``config()`` (`check_savable`: what
    `load` would do, tried first) and all parameters must share one dtype.

    The file is written to a temporary name and renamed over ``path``: an error or
    crash leaves the previous file intact. Raises ``TypeError`` or ``ValueError`` for
    anything that could not be loaded again, before writing.
    """
    architecture = check_savable(model)
    arrays = model.state_dict()
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tinynet_version": __version__,
        "dtype": common_dtype("save", model),
        "model": architecture,
        "head": None if model.head is None else model.head.to_dict(),
        "optimizer": None,
        "metadata": _checked_metadata(metadata),
    }
    if optimizer is not None:
        header["optimizer"], optimizer_arrays = _optimizer_section(optimizer, model)
        arrays.update(optimizer_arrays)
    encoded = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
    with atomic_write(path) as handle:
        write_npz(handle, {HEADER: encoded, **arrays})


def _checked_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise TypeError("save: metadata must be a mapping with str keys (a JSON object)")
    try:
        json.dumps(dict(metadata))
    except (TypeError, ValueError) as error:
        raise TypeError(f"save: metadata must hold JSON values only: {error}") from None
    return dict(metadata)


def _optimizer_section(
    optimizer: Optimizer, model: Layer
) -> tuple[dict[str, Any], dict[str, Array]]:
    """The optimizer's JSON description and its state arrays, by archive name."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"save: optimizer must be a tinynet Optimizer, got {optimizer!r}")
    params = model.parameters()
    index = {id(p): i for i, p in enumerate(params)}
    foreign = sum(id(p) not in index for p in optimizer.params)
    if foreign:
        raise ValueError(
            f"save: {foreign} of the optimizer's parameters are not the model's; its state "
            f"can be restored only over model.parameters() (all or some, in any groups)"
        )
    state = optimizer.state_dict()
    model_index = [index[id(p)] for p in optimizer.params]  # by the optimizer's position
    arrays: dict[str, Array] = {}
    entries: dict[str, dict[str, Any]] = {}
    for position, entry in state["state"].items():
        i = model_index[position]
        entries[str(i)] = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{OPTIMIZER_PREFIX}state/{i}/{key}"] = value
            else:
                entries[str(i)][key] = value
    groups = [
        {**group, "params": [model_index[k] for k in group["params"]]}
        for group in state["param_groups"]
    ]
    cls = type(optimizer)
    section = {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "param_groups": groups,
        "state": entries,
    }
    return section, arrays


# --- loading -----------------------------------------------------------------------------


def load(path: str | os.PathLike[str]) -> Layer:
    """The model saved at ``path`` by `save`, rebuilt with its weights; no code is run.

    Layer types are looked up in the registry (custom layers: import their module
    first). Optimizer state and metadata in the file are ignored (see `load_full`).
    Raises ``FileNotFoundError``, or `ModelFormatError` (a ``ValueError``) naming
    the file and what is wrong with it; the architecture is sized against the file's
    arrays before it is built, every array's name, shape and dtype is checked against
    it before any is read, and parameters holding NaN or infinity are refused. Memory
    and what a hostile file can do: see ``SECURITY.md``.
    """
    with open_npz(path, _KIND) as reader:
        return _read_model(reader, _read_header(reader))


def load_full(path: str | os.PathLike[str]) -> Loaded:
    """The model, optimizer and metadata saved at ``path`` (see `Loaded`, `load`)."""
    with open_npz(path, _KIND) as reader:
        header = _read_header(reader)
        model = _read_model(reader, header)
        optimizer = _read_optimizer(reader, header.get("optimizer"), model)
        metadata = header.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{reader.source}: metadata must be a JSON object")
        _check_data_section(metadata.get("data"), reader.source)
        version = str(header.get("tinynet_version", "unknown"))
        return Loaded(model, optimizer, metadata, version, header["format_version"])


class ModelMismatchError(ModelFormatError):
    """A sound model file that holds another model than the one it is loaded into
    (`load_states`); ``detail`` says where they first differ."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: the file's model does not fit this one: {detail}")
        self.detail = detail


class States(NamedTuple):
    """A model file's state dicts, read by `load_states` for a live model and optimizer:
    ``model`` for ``model.load_state_dict(..., strict=False)``, ``optimizer`` (``None`` if
    the file holds none, or none was asked for) for ``optimizer.load_state_dict``, saved
    by an optimizer of ``optimizer_class``; ``metadata`` is the user's JSON."""

    model: dict[str, Array]
    optimizer: dict[str, Any] | None
    optimizer_class: type[Optimizer] | None
    metadata: dict[str, Any]


def load_states(
    path: str | os.PathLike[str], model: Layer, optimizer: Optimizer | None = None
) -> States:
    """The state dicts saved at ``path`` for the live ``model`` (and ``optimizer``), read
    without building a second model or optimizer: loading them restores the objects in
    memory in place, as a checkpoint resumes (`tinynet.checkpoint.restore_checkpoint`).

    Checked before any array is read: the file's architecture describes ``model``'s
    layers and settings, and its weights have ``model``'s names and shapes in a dtype
    it takes (`ModelMismatchError` naming the first difference); the parameters must be
    finite; the saved optimizer's state arrays must fit the model's parameters (its class
    is returned for the caller to compare; ``load_state_dict`` checks its settings).
    Raises ``FileNotFoundError``, or `ModelFormatError` naming the file.
    """
    with open_npz(path, _KIND) as reader:
        header = _read_header(reader)
        _require_same_model(reader, header.get("model"), model)
        weights = _read_weights_for(reader, model)
        section = header.get("optimizer")
        saved = None
        if optimizer is not None and section is not None:
            saved = _saved_optimizer(reader, section, model.parameters())
        metadata = header.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{reader.source}: metadata must be a JSON object")
        if saved is None:
            return States(weights, None, None, metadata)
        return States(weights, saved[1], saved[0], metadata)


def _require_same_model(reader: NpzReader, node: object, model: Layer) -> None:
    """`ModelMismatchError` where the file's architecture differs from ``model``'s."""
    ours = json.loads(json.dumps(describe(model)))
    try:
        difference = architecture_difference(
            ours, node, "model", ("this model has", "the file holds")
        )
    except (KeyError, TypeError, AttributeError):
        raise ModelFormatError(f"{reader.source}: the model's description is malformed") from None
    if difference:
        raise ModelMismatchError(reader.source, difference)


def _read_weights_for(reader: NpzReader, model: Layer) -> dict[str, Array]:
    """The file's weight arrays, checked against ``model``'s state dict before any is
    read (a file missing a BatchNorm batch counter keeps the model's own)."""
    given = {name: spec for name, spec in reader.specs.items() if _is_weight(name)}
    expected = model.state_specs()
    mismatch = find_mismatch(expected, given)
    mismatch.missing = [name for name in mismatch.missing if not name.endswith(_COUNTER)]
    if mismatch.fatal(strict=True):
        lines = mismatch.message(type(model).__name__).splitlines()[1:]
        raise ModelMismatchError(reader.source, "; ".join(line.strip() for line in lines))
    arrays = {name: reader.read(name) for name in expected if name in given}
    for name, _ in model.named_parameters():
        check_finite(arrays[name], f"{reader.source}: parameter {name!r}")
    return arrays


_DATA_LISTS = {"features": str, "targets": str, "class_names": str, "sample_shape": int}
"""The fields of metadata ``data`` (`DataSplits.describe`, written by ``tinynet train``)
that ``tinynet predict`` and ``evaluate`` use: each null or a list of these."""


def _check_data_section(data: object, source: str) -> None:
    """Refuse metadata ``data`` fields of the wrong kind (a 2 KB file's ``sample_shape``
    ``[10**9, "x"]`` would build a 1 GB string), naming the file and the field."""
    if not isinstance(data, dict):
        return  # not the section tinynet writes: the CLI ignores it
    for field, kind in _DATA_LISTS.items():
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, list) or not all(
            isinstance(item, kind) and not isinstance(item, bool) for item in value
        ):
            raise ModelFormatError(
                f"{source}: metadata data.{field} must be a list of "
                f"{'positive ints' if kind is int else 'strings'}, got {short_repr(value)}"
            )
        if kind is int and (len(value) > 8 or any(item < 1 for item in value)):
            raise ModelFormatError(
                f"{source}: metadata data.sample_shape must be at most 8 positive ints, "
                f"got {short_repr(value)}"
            )


def _read_header(reader: NpzReader) -> dict[str, Any]:
    """The JSON header, checked to be a tinynet header of a version this code reads."""
    spec = reader.specs.get(HEADER)
    if spec is None:
        raise ModelFormatError(
            f"{reader.source} is not a tinynet model file (no {HEADER} entry); for a plain "
            f".npz of weights use model.load_state_dict(dict(numpy.load(path)))"
        )
    if spec.dtype != np.uint8 or len(spec.shape) != 1 or spec.shape[0] > MAX_HEADER_BYTES:
        raise ModelFormatError(
            f"{reader.source}: expected {HEADER} to be UTF-8 JSON bytes (uint8, at most "
            f"{MAX_HEADER_BYTES} of them), got shape {spec.shape} and dtype {spec.dtype}"
        )
    try:
        header = json.loads(reader.read(HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFormatError(f"{reader.source}: the header is not valid JSON: {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFormatError(f"{reader.source}: the header does not describe a tinynet model")
    version = header.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFormatError(
            f"{reader.source}: format version {version!r}; this tinynet "
            f"{__version__} reads versions 1 to {FORMAT_VERSION}: upgrade tinynet"
        )
    return header


def _read_model(reader: NpzReader, header: dict[str, Any]) -> Layer:
    """Rebuild the architecture, check every weight array against it, then load them.

    Memory: the architecture is rebuilt within a `Budget` of the elements the file's
    weight arrays hold (each checked against the archive by `NpzReader`), so a small
    file cannot make this allocate large layers; see `tinynet.io.architecture`.
    Parameters holding NaN or infinity are refused (a model saved after it diverged
    cannot predict anything); buffers may hold them (a mask of -inf is legitimate).
    """
    given = {name: spec for name, spec in reader.specs.items() if _is_weight(name)}
    dtype = header.get("dtype")
    float_dtype = None if dtype is None else _float_dtype(dtype, reader.source)
    budget = Budget(sum(math.prod(spec.shape) for spec in given.values()))
    model = rebuild(header.get("model"), f"{reader.source}: model", budget=budget)
    if float_dtype is not None:
        model.astype(float_dtype)
    expected = model.state_specs()
    mismatch = find_mismatch(expected, given, casting="equiv")
    # Files written before BatchNorm counted its batches lack num_batches_tracked: it
    # starts at 0 then, as PyTorch loads its own files of that age.
    mismatch.missing = [name for name in mismatch.missing if not name.endswith(_COUNTER)]
    if mismatch.fatal(strict=True):
        raise ModelFormatError(
            f"{reader.source}: the weights do not fit the architecture the file describes\n"
            + mismatch.message(type(model).__name__)
        )
    arrays = {name: reader.read(name) for name in expected if name in given}
    for name, _ in model.named_parameters():
        check_finite(arrays[name], f"{reader.source}: parameter {name!r}")
    model.load_state_dict(arrays, strict=False, casting="equiv")
    if header.get("head") is not None:
        try:
            model.head = Head.from_dict(header["head"])
        except ValueError as error:
            raise ModelFormatError(f"{reader.source}: {error}") from None
    return model


def check_finite(array: Array, where: str, raw: str = "numpy.load") -> None:
    """`ModelFormatError` if a float ``array`` (any shape) holds NaN or infinity (min and
    max are NaN or infinite then; two passes, no temporary array); ``where`` names it,
    ``raw`` is what still reads such a file."""
    if (
        array.dtype.kind == "f"
        and array.size
        and not (np.isfinite(array.min()) and np.isfinite(array.max()))
    ):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ModelFormatError(
            f"{where} holds {bad} NaN or infinite values of {array.size}: the model "
            f"diverged before it was saved and cannot predict; retrain it or load an "
            f"earlier checkpoint ({raw} still reads the raw arrays)"
        )


def _is_weight(name: str) -> bool:
    return name != HEADER and not name.startswith(OPTIMIZER_PREFIX)


def _float_dtype(name: object, source: str) -> np.dtype[Any]:
    """The native-byte-order float dtype the header names (``">f4"`` could never run:
    every input would be refused as not of the model's dtype)."""
    try:
        dtype = np.dtype(name) if isinstance(name, str) and len(name) < 32 else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f" or not dtype.isnative:
        raise ModelFormatError(
            f"{source}: expected the header's dtype to name a float type in native byte "
            f"order (float32, float64), got {name!r}"
        )
    return dtype


def _read_optimizer(reader: NpzReader, section: object, model: Layer) -> Optimizer | None:
    """Rebuild the saved optimizer over ``model.parameters()`` and restore its state."""
    if section is None:
        return None
    params = model.parameters()
    cls, state_dict, groups = _saved_optimizer(reader, section, params)
    try:
        optimizer = cls([{**g, "params": [params[i] for i in g["params"]]} for g in groups])
        optimizer.load_state_dict(state_dict)
    except (TypeError, ValueError) as error:
        # The optimizers check every setting and the step count (one place:
        # check_hyperparameters); a custom one's errors are the file's fault too.
        raise ModelFormatError(
            f"{reader.source}: optimizer: cannot restore {cls.__name__}: "
            f"{type(error).__name__}: {error}"
        ) from error
    return optimizer


def _saved_optimizer(
    reader: NpzReader, section: object, params: list[Parameter]
) -> tuple[type[Optimizer], dict[str, Any], list[dict[str, Any]]]:
    """The saved optimizer's class, its state dict (PyTorch's layout: parameters by
    position in group order; arrays checked against ``params``, settings left to
    ``load_state_dict``) and its groups (``params`` as indices into ``params``)."""
    where = f"{reader.source}: optimizer"
    if not isinstance(section, dict) or not isinstance(section.get("state"), dict):
        raise ModelFormatError(f"{where}: expected a JSON object with a 'state' object")
    cls = _optimizer_class(section.get("type"), where)
    groups = _optimizer_groups(section, len(params), where)
    state = _optimizer_state(reader, section["state"], params, where)
    position = {i: k for k, i in enumerate(i for g in groups for i in g["params"])}
    stray = sorted(set(state) - set(position))
    if stray:
        raise ModelFormatError(f"{where}: state for parameters {stray}, which no group lists")
    state_dict = {
        "state": {position[i]: entry for i, entry in state.items()},
        "param_groups": [{**g, "params": [position[i] for i in g["params"]]} for g in groups],
    }
    return cls, state_dict, groups


def _optimizer_groups(section: dict[str, Any], count: int, where: str) -> list[dict[str, Any]]:
    """The saved parameter groups, each ``params`` a list of model-parameter indices,
    none twice. A file from before groups (one group, ``initial_lr`` beside it) gets its
    ``initial_lr`` moved into the group."""
    groups = section.get("param_groups")
    if not (isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups)):
        raise ModelFormatError(f"{where}: expected 'param_groups', a list of JSON objects")
    indices = [g.get("params") for g in groups]
    if not all(isinstance(i, list) and all(is_integer(k) for k in i) for i in indices):
        raise ModelFormatError(f"{where}: each parameter group needs 'params', a list of indices")
    flat = [k for i in indices for k in i]
    if len(set(flat)) != len(flat) or not all(0 <= k < count for k in flat):
        raise ModelFormatError(
            f"{where}: the parameter groups must list some of the model's {count} "
            f"parameters, each once, got {short_repr(indices)}"
        )
    if "initial_lr" in section:  # checked by the optimizer with the group's settings
        groups = [{**g, "initial_lr": section["initial_lr"]} for g in groups]
    return [{**g, "params": [int(k) for k in g["params"]]} for g in groups]


def _optimizer_class(name: object, where: str) -> type[Optimizer]:
    """The imported `Optimizer` subclass called ``name`` (module.qualname); never imports."""
    try:
        return optimizer_class(name)
    except UnknownNameError as error:
        raise ModelFormatError(f"{where}: {error}") from None


def _optimizer_state(
    reader: NpzReader, entries: dict[str, Any], params: list[Parameter], where: str
) -> dict[int, dict[str, Any]]:
    """Per-parameter state (PyTorch layout): JSON entries joined with their arrays, each
    array's shape and dtype checked against its parameter before it is read."""
    state: dict[int, dict[str, Any]] = {}
    for key, entry in entries.items():
        if not (
            re.fullmatch("[0-9]{1,9}", key) and int(key) < len(params) and isinstance(entry, dict)
        ):
            raise ModelFormatError(f"{where}: unexpected state entry {short_repr(key)}")
        state[int(key)] = dict(entry)
    for name, spec in reader.specs.items():
        if not name.startswith(OPTIMIZER_PREFIX):
            continue
        match = _OPTIMIZER_ARRAY.fullmatch(name)
        if match is None or int(match[1]) not in state:
            raise ModelFormatError(f"{where}: unexpected array {name!r}")
        p = params[int(match[1])]
        want = ArraySpec(p.shape, p.dtype)
        mismatch = find_mismatch({name: want}, {name: spec}, casting="equiv")
        if mismatch.wrong:
            raise ModelFormatError(f"{where}: {mismatch.wrong[0]}")
        array = reader.read(name)
        check_finite(array, f"{where}: array {name!r}")
        state[int(match[1])][match[2]] = array
    return state
