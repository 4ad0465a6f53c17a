"""Seeded mutation fuzzing of every file format tinynet reads (run by ``test_fuzz.py``).

    python tests/fuzzing.py FORMAT COUNT SEED

builds a few valid files of FORMAT, makes COUNT mutants of them with a seeded generator
and feeds each to tinynet's reader, under an address-space cap. Mutations: bit flips,
byte and integer-field overwrites, truncations, extensions, insertions, deletions,
duplications, splices between two files, and edits that know the format (zip local,
central and end-of-directory fields; whole members dropped, renamed or recompressed;
``.npy`` header text; the JSON header's values, keys and types; safetensors' header;
IDX header fields, also inside the gzip stream; PNG chunks with valid CRCs; PGM header
and pixel numbers; CSV fields, header names and lines, whitespace-only ones included).
Prints one JSON line: the number of inputs, how many loaded and how many were refused,
the seconds taken (in all, and of the slowest input), the peak RSS, and every input
that let through an exception other than the format's documented ones, or one with an
empty message. Deterministic: the same seed gives the same inputs on the same machine.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import random
import re
import resource
import struct
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from helpers import chunk, png_bytes

import tinynet
from tinynet import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    MaxPool2d,
    ReLU,
    Sequential,
    Softmax,
    Tanh,
)
from tinynet.callbacks import EarlyStopping, LearningRateScheduler
from tinynet.checkpoint import ModelCheckpoint, generators, restore_checkpoint
from tinynet.data import DataLoader
from tinynet.datasets import DataFormatError, IdxFormatError, load_data, read_idx, write_idx
from tinynet.images import ImageFormatError, load_images
from tinynet.io import ModelFormatError, load_full, load_safetensors, save_safetensors
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import SGD, Adam, StepLR
from tinynet.state_dict import StateDictError
from tinynet.train import Callback, History, Run, fit

ADDRESS_SPACE = 3 * 2**30
"""The cap on the fuzzing process: a bomb becomes an escaped MemoryError, not swapping."""

Mutator = Callable[[random.Random, bytes, list[bytes]], bytes]
INTERESTING = [
    0,
    1,
    2,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    2**62,
    2**63 - 1,
    2**64 - 1,
]
JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**31,
    2**63,
    10**30,
    0.5,
    -2.5,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    "x",
    "0",
    "float32",
    ">f4",
    "Dense",
    "Sequential",
    [],
    [1, 2],
    {},
    {"a": 1},
    "9" * 60,
]
NPY_DESCRS = [
    "'<f8'",
    "'>f4'",
    "'|O'",
    "'<U4'",
    "'V8'",
    "',f4'",
    "'<04'",
    "'(2,)f4'",
    "'f4,f4'",
    "[('a', '<f4')]",
    "'M8[ns]'",
    "'<c8'",
    "'|b1'",
    "'S3'",
    "None",
    "3",
]
NPY_SHAPES = [
    "()",
    "(0,)",
    "(1,)",
    "(2**40,)",
    "(4294967295, 4294967295)",
    "(-1,)",
    "(1.5,)",
    "('a',)",
    "[3]",
    "(True,)",
    "(" + "1," * 70 + ")",
    "(2999999999999999999999,)",
    "(10**6, 10**6)",
    "((2,),)",
]


# --- generic byte mutations ----------------------------------------------------------------


def bit_flips(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_set(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    out = bytearray(data)
    if out:
        out[rng.randrange(len(out))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
    return bytes(out)


def int_field(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    width = rng.choice([2, 4, 8])
    if len(data) < width:
        return data
    at = rng.randrange(len(data) - width + 1)
    value = rng.choice([*INTERESTING, len(data), rng.randrange(2 ** (8 * width))])
    return _put(data, at, value, width, rng.choice("<>"))


def truncate(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def extend(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    tail = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return data + rng.choice([tail, bytes(len(tail)), data[-len(tail) :]])


def delete(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[at + rng.randint(1, 32) :]


def insert(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[at:]


def duplicate(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    start = rng.randrange(len(data) + 1)
    piece = data[start : start + rng.randint(1, 256)]
    at = rng.randrange(len(data) + 1)
    return data[:at] + piece + data[at:]


def splice(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    other = rng.choice(others)
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


GENERIC: list[Mutator] = [
    bit_flips,
    byte_set,
    int_field,
    truncate,
    extend,
    delete,
    insert,
    duplicate,
    splice,
]


def _put(data: bytes, at: int, value: int, width: int, order: str = "<") -> bytes:
    code = {2: "H", 4: "I", 8: "Q"}[width]
    return data[:at] + struct.pack(order + code, value % 2 ** (8 * width)) + data[at + width :]


# --- zip archives (model files, checkpoints) ---------------------------------------------

_ZIP_FIELDS = {
    b"PK\x03\x04": [(6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)],
    b"PK\x01\x02": [
        (8, 2),
        (10, 2),
        (16, 4),
        (20, 4),
        (24, 4),
        (28, 2),
        (30, 2),
        (32, 2),
        (34, 2),
        (42, 4),
    ],
    b"PK\x05\x06": [(4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)],
    b"PK\x06\x06": [(24, 8), (32, 8), (40, 8), (48, 8)],
    b"PK\x06\x07": [(8, 8)],
}
"""Zip records and their (offset, width) fields: flags, method, crc, sizes, name and
extra lengths, offsets, entry counts (APPNOTE 4.3)."""


def zip_field(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Overwrite one field of one zip record with an interesting value."""
    records = [(i, sig) for sig in _ZIP_FIELDS for i in _find_all(data, sig)]
    if not records:
        return data
    at, sig = rng.choice(records)
    offset, width = rng.choice(_ZIP_FIELDS[sig])
    if at + offset + width > len(data):
        return data
    value = rng.choice([*INTERESTING, len(data), rng.randrange(2 ** (8 * width))])
    if offset in (6, 8) and width == 2 and rng.random() < 0.5:  # flags, method: a bit or a code
        value = rng.choice([1, 8, 9, 12, 14, 99, 0x800, 0x41])
    return _put(data, at + offset, value, width)


def zip_members(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Rewrite the archive with one member dropped, duplicated, renamed, recompressed,
    emptied or swapped with another (a valid zip, so the reader gets past the CRCs)."""
    items = _zip_items(data)
    if not items:
        return data
    names = list(items)
    name = rng.choice(names)
    action = rng.randrange(6)
    out = list(items.items())
    method = {n: zipfile.ZIP_STORED for n in names}
    if action == 0:
        out = [(n, b) for n, b in out if n != name]
    elif action == 1:
        out.append((name, items[name]))
    elif action == 2:
        new = rng.choice(["x.txt", "0.weight", "__tinynet__.npy", "a/../b.npy", ".npy", "é.npy"])
        out = [(new if n == name else n, b) for n, b in out]
        method[new] = zipfile.ZIP_STORED
    elif action == 3:
        method[name] = zipfile.ZIP_DEFLATED
    elif action == 4:
        out = [(n, b[: rng.randrange(len(b) + 1)] if n == name else b) for n, b in out]
    else:
        other = rng.choice(names)
        out = [(n, items[other] if n == name else items[name] if n == other else b) for n, b in out]
    return _write_zip(out, method)


def npy_header(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Edit the descr, shape or fortran_order of one ``.npy`` header (in a zip: of one
    member, rewriting the archive; else of the file itself)."""
    items = _zip_items(data) if data.startswith(b"PK") else None
    if not items:
        return _edit_npy(rng, data)
    name = rng.choice(list(items))
    items[name] = _edit_npy(rng, items[name])
    return _write_zip(list(items.items()), {})


def _edit_npy(rng: random.Random, member: bytes) -> bytes:
    """``member`` (an ``.npy``) with one header value replaced, or its length field."""
    if len(member) < 10 or not member.startswith(b"\x93NUMPY"):
        return member
    if rng.random() < 0.2:
        return _put(member, 8, rng.choice(INTERESTING), 2)
    length = struct.unpack("<H", member[8:10])[0]
    text = member[10 : 10 + length].decode("latin-1")
    key, pool = rng.choice(
        [("descr", NPY_DESCRS), ("shape", NPY_SHAPES), ("fortran_order", ["True", "1", "'x'"])]
    )
    start = text.find(f"'{key}': ")
    if start < 0:
        return member
    start += len(key) + 4
    end = _literal_end(text, start)
    text = text[:start] + rng.choice(pool) + text[end:]
    header = text.encode("latin-1")
    return member[:8] + struct.pack("<H", len(header)) + header + member[10 + length :]


def _literal_end(text: str, start: int) -> int:
    """Where the Python literal starting at ``text[start]`` ends (a quote or brackets)."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "'" and depth == 0 and i > start:
            return i + 1
        elif c == "," and depth == 0 and text[start] != "'":
            return i
        i += 1
    return i


def json_header(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Rewrite the archive with its ``__tinynet__`` JSON header structurally mutated."""
    items = _zip_items(data)
    if items is None or "__tinynet__.npy" not in items:
        return data
    try:
        array = np.load(io.BytesIO(items["__tinynet__.npy"]), allow_pickle=False)
        header = json.loads(array.tobytes())
    except Exception:  # numpy's own reader fails every way tinynet's must not: skip it
        return data
    for _ in range(rng.randint(1, 3)):
        section = rng.choice(["model", "optimizer", "metadata", None])
        if isinstance(header, dict) and isinstance(header.get(section), (dict, list)):
            header[section] = mutate_json(rng, header[section])  # deeper hits, more often
        else:
            header = mutate_json(rng, header)
    encoded = json.dumps(header, allow_nan=True).encode()
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(encoded, np.uint8), allow_pickle=False)
    items["__tinynet__.npy"] = buffer.getvalue()
    return _write_zip(list(items.items()), {})


def mutate_json(rng: random.Random, value: Any) -> Any:
    """``value`` with one node somewhere inside replaced, removed, added or duplicated."""
    value = copy.deepcopy(value)
    holders = [(None, None, value)]
    _collect(value, holders)
    parent, key, node = rng.choice(holders)
    action = rng.randrange(4)
    if parent is None:
        return rng.choice(JSON_VALUES) if action == 0 else value
    if action == 0 or not isinstance(node, (dict, list)):
        parent[key] = rng.choice([*JSON_VALUES, copy.deepcopy(node)])
        if isinstance(node, (int, float)) and not isinstance(node, bool) and rng.random() < 0.5:
            parent[key] = rng.choice([node * 1000, -node, node + 0.5, str(node), 0, -1])
    elif action == 1 and node:
        chosen = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        del node[chosen]
    elif action == 2 and isinstance(node, dict):
        node[rng.choice(["type", "config", "children", "name", "x", "params", "0"])] = rng.choice(
            JSON_VALUES
        )
    elif isinstance(node, list) and node:
        node.append(copy.deepcopy(rng.choice(node)))
    return value


def _collect(value: Any, holders: list[tuple[Any, Any, Any]]) -> None:
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        holders.append((value, key, child))
        _collect(child, holders)


def _zip_items(data: bytes) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except Exception:  # a mutant that is not a zip any more: leave it to the byte mutations
        return None


def _write_zip(items: list[tuple[str, bytes]], method: dict[str, int]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # "Duplicate name": a duplicate is what was wanted
        for name, body in items:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = method.get(name, zipfile.ZIP_STORED)
            archive.writestr(info, body)
    return buffer.getvalue()


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


# --- safetensors -------------------------------------------------------------------------


def safetensors_header(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """The 8-byte header length, or one value of the JSON header (dtype, shape, offsets)."""
    if len(data) < 8 or rng.random() < 0.25:
        return _put(data, 0, rng.choice([*INTERESTING, len(data), len(data) - 8]), 8)
    length = struct.unpack("<Q", data[:8])[0]
    try:
        header = json.loads(data[8 : 8 + length])
    except ValueError:
        return data
    header = mutate_json(rng, header)
    encoded = json.dumps(header, allow_nan=True).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + length :]


# --- IDX -----------------------------------------------------------------------------------


def idx_header(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """One IDX header field (magic, dtype code, ndim, a dimension), inside the gzip
    stream when the file is compressed (recompressed, so the CRC holds)."""
    compressed = data[:2] == b"\x1f\x8b"
    try:
        raw = gzip.decompress(data) if compressed else data
    except (OSError, EOFError, zlib.error):
        return data
    if len(raw) < 4:
        return data
    field = rng.randrange(4)
    if field < 3:
        raw = bytearray(raw)
        raw[rng.choice([0, 1, 2, 3])] = rng.choice([0, 1, 3, 8, 0x0B, 0x0E, 0x0F, 64, 65, 255])
        raw = bytes(raw)
    else:
        dims = (len(raw) - 4) // 4
        at = 4 + 4 * rng.randrange(max(1, min(raw[3], dims)))
        raw = _put(raw, at, rng.choice([*INTERESTING[:16], rng.randrange(2**32)]), 4, ">")
    if compressed and rng.random() < 0.5:
        raw = raw + bytes(rng.choice([1, 1000, 10**6]))  # trailing data inside the stream
    return gzip.compress(raw, mtime=0) if compressed else raw


# --- images --------------------------------------------------------------------------------


def png_chunk(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """An IHDR field, an IDAT payload, a new chunk (all with valid CRCs, so the decoder
    gets past them) or a wrong chunk length."""
    chunks = _png_chunks(data)
    if not chunks:
        return data
    index = rng.randrange(len(chunks))
    kind, body = chunks[index]
    action = rng.randrange(4)
    if action == 0 and kind == b"IHDR" and len(body) == 13:
        at, width = rng.choice([(0, 4), (4, 4), (8, 1), (9, 1), (10, 1), (11, 1), (12, 1)])
        value = rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 16, 27, 28, 29, 255, 2**31, 2**32 - 1])
        field = (value % 2 ** (8 * width)).to_bytes(width, "big")
        chunks[index] = (kind, body[:at] + field + body[at + width :])
    elif action == 1 and kind == b"IDAT":
        size = rng.choice([0, 10, 28 * 29, 28 * 57, 28 * 113, 10**7])
        noise = bytes(rng.randrange(256) for _ in range(min(size, 4096)))
        chunks[index] = (kind, zlib.compress(noise + bytes(max(0, size - 4096))))
    elif action == 2:
        new = rng.choice([b"tEXt", b"PLTE", b"IDAT", b"zzzz", b"IHDR", b"IEND", b"ABCD"])
        chunks.insert(index, (new, b"x" * rng.randint(0, 40)))
    else:
        at = 8 + sum(12 + len(body) for _, body in chunks[:index])
        return _put(data, at, rng.choice(INTERESTING[:16]), 4, ">")
    return data[:8] + b"".join(chunk(kind, body) for kind, body in chunks)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunks.append((kind, data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


PGM_TOKENS = [
    b"0",
    b"-1",
    b"28",
    b"255",
    b"256",
    b"65535",
    b"",
    b"x",
    b"1" + b"0" * 30,
    b"9" * 5000,
    b"2.5",
    b"#c\n",
    b"\xff",
    b"0" * 20 + b"1",
    b"28 28 255",
]


def pgm_numbers(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Replace one whitespace-separated token (header number or P2 pixel) of a PGM."""
    tokens = data.split(b" ") if data[:2] == b"P2" else data.split(b"\n")
    if len(tokens) < 2:
        return data
    at = rng.randrange(min(len(tokens), 4 if data[:2] == b"P5" else len(tokens)))
    tokens[at] = (
        rng.choice(PGM_TOKENS)
        if at or rng.random() < 0.2
        else rng.choice([b"P2", b"P5", b"P1", b"P2x"])
    )
    return (b" " if data[:2] == b"P2" else b"\n").join(tokens)


# --- CSV -------------------------------------------------------------------------------

CSV_TOKENS = [
    "",
    " ",
    "\t",
    "nan",
    "inf",
    "-inf",
    "-1",
    "-0",
    "+1",
    "0.5",
    "1e39",
    "-1e300",
    "1e20",
    "256",
    "2147483648",
    "9223372036854775813",
    "1_000",
    "0x10",
    "1,5",
    '"',
    '""',
    '"7"',
    "\u0661",
    "\x00",
    "label",
    "pixel0",
    "pixel99",
    "9" * 400,
]
"""Fields for a CSV: numbers NumPy's parser and Python's disagree on, values beyond
float32 or int32, negative labels, quotes, column names of the other layout."""


def csv_field(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Replace one field of one line (the header's too) with an interesting token."""
    lines = data.split(b"\n")
    at = 0 if rng.random() < 0.15 else rng.randrange(len(lines))
    fields = lines[at].split(b",")
    fields[rng.randrange(len(fields))] = rng.choice(CSV_TOKENS).encode()
    lines[at] = b",".join(fields)
    return b"\n".join(lines)


def csv_lines(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Insert a blank (empty or whitespace-only), short or long line, drop or repeat
    one (the header too), or change every line ending."""
    lines = data.split(b"\n")
    at = rng.randrange(len(lines) + 1)
    action = rng.randrange(5)
    if action == 0:
        lines.insert(at, rng.choice([b"", b" ", b"\t", b"\r", b" \t ", b",", b",,,", b'"']))
    elif action == 1 and len(lines) > 1:
        del lines[min(at, len(lines) - 1)]
    elif action == 2:
        lines.insert(at, rng.choice(lines))
    elif action == 3:
        row = rng.choice(lines)
        lines.insert(at, row + b"," + row if rng.random() < 0.5 else row.rsplit(b",", 1)[0])
    else:
        return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\n \n"]))
    return b"\n".join(lines)


def csv_seeds(_: Path) -> list[bytes]:
    rng = np.random.default_rng(3)
    table = "a,b,label\n" + "".join(
        f"{x:.3f},{y:.2e},{c}\n"
        for x, y, c in zip(rng.random(6), rng.random(6), [0, 1, 2] * 2, strict=True)
    )
    quoted = '"x","y","label"\r\n1,"2.5",3\r\n\r\n-4,5,6\r\n'
    regression = "f0,f1,f2,label\n0.5,-1.25,3,3.75\n1e-3,2,-7,-0.5\n\n"
    pixels = rng.integers(0, 256, (3, 16))
    kaggle = "label," + ",".join(f"pixel{i}" for i in range(16)) + "\n"
    kaggle += "".join(f"{i % 10}," + ",".join(map(str, row)) + "\n" for i, row in enumerate(pixels))
    return [text.encode() for text in (table, quoted, regression, kaggle)]


def read_csv_data(path: Path) -> object:
    """``load_data`` of a CSV, as any task reads it and as a classification does."""
    load_data(path)
    return load_data(path, class_labels=True)


# --- .npz datasets ------------------------------------------------------------------------


def npz_dataset_seeds(_: Path) -> list[bytes]:
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (5, 4, 4)).astype(np.uint8)
    labels = np.array([0, 1, 2, 1, 0], np.uint8)
    table = rng.random((6, 3)).astype(np.float32)
    files = [
        {"x_train": images, "y_train": labels, "x_test": images[:2], "y_test": labels[:2]},
        {"x_train": table, "y_train": rng.random((6, 2)), "x_test": table[:1]},
        {"x_train": table.astype(np.float64), "y_train": np.arange(6, dtype=np.int64)},
    ]
    seeds = []
    for arrays, save in [*((f, np.savez) for f in files), (files[0], np.savez_compressed)]:
        buffer = io.BytesIO()
        save(buffer, **arrays)
        seeds.append(buffer.getvalue())
    return seeds


# --- conv model files ----------------------------------------------------------------------


def conv_models() -> list[Sequential]:
    """Conv2d, MaxPool2d and BatchNorm2d with every geometry field set, their running
    statistics moved by a training-mode forward."""
    models = [
        Sequential(
            Conv2d(1, 3, 3, padding=1, seed=1),
            BatchNorm2d(3),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Dense(48, 5, seed=2),
        ),
        Sequential(
            Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, seed=3),
            MaxPool2d(3, stride=2, padding=1, dilation=1),
            BatchNorm2d(4, momentum=0.2),
            Conv2d(4, 2, 1, bias=False, seed=4),
        ),
    ]
    rng = np.random.default_rng(5)
    for model, channels in zip(models, (1, 2), strict=True):
        model(rng.random((3, channels, 8, 8), np.float32))
    return [model.eval() for model in models]


def conv_model_seeds(folder: Path) -> list[bytes]:
    files = [_saved(folder, lambda p, m=m: tinynet.save(m, p)) for m in conv_models()]
    return [*files, _deflated(files[1])]


# --- the formats -------------------------------------------------------------------------


@dataclass
class Format:
    """How to make valid files of a format, read one, and what may be raised."""

    suffix: str
    seeds: Callable[[Path], list[bytes]]
    read: Callable[[Path], object]
    allowed: tuple[type[BaseException], ...]
    mutators: list[Mutator]
    vague: str | None = None
    """A pattern no refusal's message may match (one that names no line, no field)."""


def _models() -> list[Sequential]:
    return [
        Sequential(Dense(6, 5, seed=1), ReLU(), BatchNorm1d(5), Dense(5, 3, seed=2), Softmax()),
        Sequential(Flatten(), Dense(4, 3, bias=False, seed=3), LeakyReLU(0.1), Dropout(0.5)),
        Sequential(Dense(3, 4, seed=4), Sequential(Tanh(), Dense(4, 2, seed=5))).eval(),
    ]


def _saved(folder: Path, write: Callable[[Path], None]) -> bytes:
    path = folder / "seed.bin"
    write(path)
    return path.read_bytes()


def _deflated(data: bytes) -> bytes:
    items = _zip_items(data)
    assert items is not None
    return _write_zip(list(items.items()), dict.fromkeys(items, zipfile.ZIP_DEFLATED))


def model_seeds(folder: Path) -> list[bytes]:
    files = [_saved(folder, lambda p, m=m: tinynet.save(m, p)) for m in _models()]
    return [*files, _deflated(files[0])]


METADATA = {"epoch": 2, "history": {"loss": [1.5, 0.75]}, "note": "fuzz"}


def checkpoint_seeds(folder: Path) -> list[bytes]:
    files = []
    for model, make in zip(_models(), [Adam, lambda p: SGD(p, lr=0.1, momentum=0.9)], strict=False):
        optimizer = make(model.parameters())
        x = np.random.default_rng(0).random(
            (4, 6 if isinstance(model[0], Dense) else 4), np.float32
        )
        for _ in range(2):
            model.zero_grad()
            y = model(x)
            model.backward(np.ones_like(y))
            optimizer.step()
        files.append(
            _saved(
                folder,
                lambda p, m=model, o=optimizer: tinynet.save(m, p, optimizer=o, metadata=METADATA),
            )
        )
    return files


def _resume_run() -> Run:
    """A fresh run of the kind `resume_seeds` checkpoints: generators, schedule, early
    stopping and Adam state all take part in restoring it."""
    model = Sequential(Dense(6, 5, seed=1), ReLU(), Dropout(0.2, seed=3), Dense(5, 3, seed=2))
    optimizer = Adam(model.parameters())
    rng = np.random.default_rng(0)
    loader = DataLoader(
        rng.random((16, 6), np.float32), rng.integers(0, 3, 16), batch_size=8, seed=0
    )
    callbacks: list[Callback] = [
        LearningRateScheduler(StepLR(optimizer, step_size=1, gamma=0.5)),
        EarlyStopping("loss", patience=3),
    ]
    return Run(model, CrossEntropyLoss(), optimizer, loader, 4, History(), callbacks=callbacks)


def resume_seeds(folder: Path) -> list[bytes]:
    files = []
    for epochs in (1, 2):
        run = _resume_run()
        path = folder / f"ck{epochs}.npz"
        fit(
            run.model,
            loss=run.loss,
            optimizer=run.optimizer,
            epochs=epochs,
            loader=run.loader,
            verbose=0,
            callbacks=[*run.callbacks, ModelCheckpoint(path)],
        )
        files.append(_edit_header(path.read_bytes(), _without_timings))
    return files


def _without_timings(header: dict[str, Any]) -> None:
    """Fixed values for the measured ones, so the seeds (and the mutants) are the same
    on every run."""
    history = header["metadata"]["tinynet_checkpoint"]["history"]
    for name in ("seconds", "samples_per_second"):
        history[name] = [1.0] * len(history[name])


def _edit_header(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The archive ``data`` with its JSON header changed by ``edit``, re-zipped."""
    items = _zip_items(data)
    assert items is not None
    header = json.loads(np.load(io.BytesIO(items["__tinynet__.npy"])).tobytes())
    edit(header)
    encoded = json.dumps(header, allow_nan=True).encode()
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(encoded, np.uint8), allow_pickle=False)
    items["__tinynet__.npy"] = buffer.getvalue()
    return _write_zip(list(items.items()), {})


def _run_state(run: Run) -> str:
    weights = {k: v.tolist() for k, v in run.model.state_dict().items()}
    optimizer = run.optimizer.state_dict()
    return json.dumps(
        [
            weights,
            {
                k: {n: np.asarray(v).tolist() for n, v in e.items()}
                for k, e in optimizer["state"].items()
            },
            optimizer["param_groups"],
            run.optimizer.steps,
            [c.state_dict() for c in run.callbacks],
            {name: g.bit_generator.state for name, g in generators(run)},
            run.history.history,
        ],
        default=str,
    )


def read_resume(path: Path) -> object:
    """Restore a checkpoint into a fresh run; a refused one must have changed nothing."""
    run = _resume_run()
    before = _run_state(run)
    try:
        return restore_checkpoint(path, run)
    except ModelFormatError:
        if _run_state(run) != before:
            raise AssertionError("a refused checkpoint changed the run") from None
        raise


def training_state(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    """Rewrite the archive with the checkpoint's training state (or optimizer) mutated."""

    def edit(header: dict[str, Any]) -> None:
        key = rng.choice(["tinynet_checkpoint", "tinynet_checkpoint", "optimizer"])
        holder = header if key == "optimizer" else header["metadata"]
        for _ in range(rng.randint(1, 3)):
            holder[key] = mutate_json(rng, holder[key])

    try:
        return _edit_header(data, edit)
    except Exception:  # mutated past recognition already: leave it to the others
        return data


def safetensors_seeds(folder: Path) -> list[bytes]:
    return [_saved(folder, lambda p, m=m: save_safetensors(m, p)) for m in _models()[:1]] + [
        _saved(folder, lambda p: save_safetensors(_models()[0].astype(np.float64), p))
    ]


def read_safetensors(path: Path) -> object:
    return load_safetensors(_models()[0], path)


def idx_seeds(compress: bool) -> Callable[[Path], list[bytes]]:
    arrays = [
        np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28),
        np.arange(7, dtype=np.int32) - 3,
        np.linspace(-1, 1, 6).reshape(2, 3),
        np.array([3, 1, 4], np.int16),
    ]
    return lambda folder: [
        _saved(folder, lambda p, a=a: write_idx(p, a, compress=compress)) for a in arrays
    ]


def png_seeds(_: Path) -> list[bytes]:
    rng = np.random.default_rng(0)
    return [
        png_bytes(rng.integers(0, 256, (28, 28, channels), np.uint8), colour, filters)
        for channels, colour, filters in [(1, 0, (0, 1, 2, 3, 4)), (4, 6, (4,)), (3, 2, (1, 3))]
    ]


def pgm_seeds(kind: bytes) -> Callable[[Path], list[bytes]]:
    pixels = np.random.default_rng(1).integers(0, 256, 784).astype(np.uint8)
    if kind == b"P5":
        return lambda _: [
            b"P5\n28 28\n255\n" + pixels.tobytes(),
            b"P5 28 28 100 " + (pixels % 101).tobytes(),
        ]
    text = b" ".join(str(v).encode() for v in pixels)
    return lambda _: [
        b"P2\n# a comment\n28 28\n255\n" + text,
        b"P2 28 28 15 " + b" ".join(str(v % 16).encode() for v in pixels),
    ]


def npy_image_seeds(_: Path) -> list[bytes]:
    arrays = [
        np.random.default_rng(2).integers(0, 256, (3, 28, 28)).astype(np.uint8),
        np.linspace(0, 1, 2 * 784, dtype=np.float32).reshape(2, 784),
        np.asfortranarray(np.linspace(0, 1, 784).reshape(28, 28)),
    ]
    out = []
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array)
        out.append(buffer.getvalue())
    return out


NPZ = [zip_field, zip_field, zip_members, npy_header, npy_header]
ZIP = NPZ + [json_header] * 6
FORMATS: dict[str, Format] = {
    "npz-load": Format(".npz", model_seeds, tinynet.load, (ModelFormatError,), ZIP),
    "conv-model": Format(".npz", conv_model_seeds, tinynet.load, (ModelFormatError,), ZIP),
    "csv": Format(
        ".csv",
        csv_seeds,
        read_csv_data,
        (DataFormatError,),
        [csv_field, csv_lines] * 4,
        vague="cannot parse them",
    ),
    "npz-dataset": Format(".npz", npz_dataset_seeds, load_data, (DataFormatError,), NPZ),
    "npz-load_full": Format(".npz", model_seeds, load_full, (ModelFormatError,), ZIP),
    "checkpoint": Format(".npz", checkpoint_seeds, load_full, (ModelFormatError,), ZIP),
    "checkpoint-resume": Format(
        ".npz", resume_seeds, read_resume, (ModelFormatError,), ZIP + [training_state] * 10
    ),
    "safetensors": Format(
        ".safetensors",
        safetensors_seeds,
        read_safetensors,
        (ModelFormatError, StateDictError),
        [safetensors_header] * 4,
    ),
    "idx-raw": Format(".idx", idx_seeds(False), read_idx, (IdxFormatError,), [idx_header] * 4),
    "idx-gzip": Format(".gz", idx_seeds(True), read_idx, (IdxFormatError,), [idx_header] * 4),
    "png": Format(".png", png_seeds, load_images, (ImageFormatError,), [png_chunk] * 4),
    "pgm-plain": Format(
        ".pgm", pgm_seeds(b"P2"), load_images, (ImageFormatError,), [pgm_numbers] * 4
    ),
    "pgm-binary": Format(
        ".pgm", pgm_seeds(b"P5"), load_images, (ImageFormatError,), [pgm_numbers] * 4
    ),
    "npy-image": Format(
        ".npy", npy_image_seeds, load_images, (ImageFormatError,), [npy_header] * 4
    ),
}
"""Each format's own mutators, besides the generic ones, listed so that about half the
mutations know the format (for model files, a third edit the JSON header)."""


def mutant(rng: random.Random, seeds: list[bytes], mutators: list[Mutator]) -> tuple[bytes, str]:
    """A mutant of one of ``seeds`` (one to three stacked mutations) and what was done."""
    data = rng.choice(seeds)
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutate = rng.choice(GENERIC + mutators)
        data = mutate(rng, data, seeds)
        done.append(mutate.__name__)
    return data, "+".join(done)


def run(name: str, count: int, seed: int) -> dict[str, Any]:
    """Fuzz format ``name`` with ``count`` mutants from ``seed``; the JSON-ready report."""
    spec = FORMATS[name]
    rng = random.Random(f"{name}:{seed}")
    loaded = refused = 0
    slowest = 0.0
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tinynet-fuzz-") as folder:
        seeds = spec.seeds(Path(folder))
        path = Path(folder) / f"input{spec.suffix}"
        for i in range(count):
            data, how = mutant(rng, seeds, spec.mutators)
            path.write_bytes(data)
            began = time.perf_counter()
            try:
                spec.read(path)
                loaded += 1
            except spec.allowed as error:
                refused += 1
                if not str(error).strip():
                    failures.append(_failure(i, how, error, data, "empty message"))
                elif spec.vague and re.search(spec.vague, str(error)):
                    failures.append(_failure(i, how, error, data, "vague message"))
            except BaseException as error:
                failures.append(_failure(i, how, error, data, "escaped"))
            slowest = max(slowest, time.perf_counter() - began)
    return {
        "format": name,
        "inputs": count,
        "loaded": loaded,
        "refused": refused,
        "failures": failures,
        "seconds": round(time.perf_counter() - start, 2),
        "slowest_seconds": round(slowest, 3),
        "max_rss_mb": peak_rss_kb() // 1024,
    }


def peak_rss_kb() -> int:
    """This process's peak RSS. VmHWM, not ``ru_maxrss``: Linux carries that over from
    the parent across fork and exec, so under a large pytest it reports pytest's."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _failure(i: int, how: str, error: BaseException, data: bytes, kind: str) -> dict[str, str]:
    return {
        "input": str(i),
        "mutations": how,
        "kind": kind,
        "error": f"{type(error).__module__}.{type(error).__name__}: {str(error)[:300]}",
        "bytes": data[:4096].hex() if len(data) <= 4096 else f"{len(data)} bytes",
    }


def main(argv: list[str]) -> None:
    name, count, seed = argv[0], int(argv[1]), int(argv[2])
    os.environ["TZ"] = "UTC"  # zip timestamps: the same bytes on every run
    time.tzset()
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    print(json.dumps(run(name, count, seed)))


if __name__ == "__main__":
    main(sys.argv[1:])
