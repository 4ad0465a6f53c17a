"""Hostile and broken files, one test per defect found (``shared/repro`` numbers in each
docstring): every one is refused with tinynet's documented error naming the file, or
read correctly. Bombs are in ``test_bombs.py``, random mutants in ``test_fuzz.py``."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import (
    GRU,
    LSTM,
    RNN,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dense,
    Embedding,
    Layer,
    LayerNorm,
    LeakyReLU,
    MultiheadAttention,
    Parameter,
    PositionalEmbedding,
    ReLU,
    Sequential,
    Softmax,
)
from tinynet.datasets import IdxFormatError, load_idx_folder, read_idx, write_idx
from tinynet.datasets.idx import decode_idx
from tinynet.images import ImageFormatError, load_image, load_images
from tinynet.io import ModelFormatError, load, load_full
from tinynet.layers import register_layer
from tinynet.typing import FloatArray

# --- model files -------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "m.npz"
    tinynet.save(Sequential(Dense(6, 4, seed=0), ReLU(), Dense(4, 3, seed=1)), path)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path: Path, items: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return path


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def with_header(saved: Path, edit: Any, target: Path) -> Path:
    items = members(saved)
    header = json.loads(np.load(io.BytesIO(items["__tinynet__.npy"])).tobytes())
    edit(header)
    items["__tinynet__.npy"] = npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    return write_zip(target, items)


@pytest.mark.parametrize(
    ("member", "old", "new", "message"),
    [
        ("0.weight.npy", None, None, "the header is not a Python literal"),
        ("0.bias.npy", b"'<f4'", b"',f4'", "got descr ',f4'"),
        ("0.bias.npy", b"'<f4'", b"'<04'", "got descr '<04'"),
        ("0.bias.npy", b"'fortran_order'", b"b'fortran_order'", "exactly the keys"),
        ("0.bias.npy", b"'<f4'", b"'|O' ", "Python objects"),
        ("0.bias.npy", b"(4,)", b"(2**3,)", "not a Python literal"),
    ],
)
def test_corrupt_npy_header_inside_the_archive(
    saved: Path, tmp_path: Path, member: str, old: bytes | None, new: bytes | None, message: str
) -> None:
    """repro 02: TokenError, SyntaxError and TypeError escaped from numpy's parser."""
    items = members(saved)
    data = items[member]
    if old is None:  # the header length field 0x76 -> 0x07
        data = data[:8] + (7).to_bytes(2, "little") + data[10:]
    else:
        assert new is not None
        assert old in data
        longer = len(new) - len(old)  # taken from the header's padding: same length
        data = data.replace(old, new).replace(b" " * longer + b"\n", b"\n", 1)
    items[member] = data
    path = write_zip(tmp_path / "bad.npz", items)
    with pytest.raises(ModelFormatError, match=message) as error:
        load(path)
    assert str(path) in str(error.value)


def test_encrypted_members(saved: Path, tmp_path: Path) -> None:
    """repro 03: the zip 'encrypted' flag raised RuntimeError."""
    raw = bytearray(saved.read_bytes())
    for signature, offset in [(b"PK\x03\x04", 6), (b"PK\x01\x02", 8)]:
        at = raw.find(signature)
        while at >= 0:
            raw[at + offset] |= 1
            at = raw.find(signature, at + 4)
    path = tmp_path / "encrypted.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match=r"is encrypted; an \.npz is never encrypted"):
        load(path)


def test_corrupt_directory_offset(saved: Path, tmp_path: Path) -> None:
    """repro 04: '[Errno 22] Invalid argument', naming no file."""
    raw = bytearray(saved.read_bytes())
    end = raw.rfind(b"PK\x05\x06")
    offset = struct.unpack("<I", raw[end + 16 : end + 20])[0]
    raw[end + 16 : end + 20] = struct.pack("<I", offset + 0x6700)
    path = tmp_path / "eocd.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match="the zip directory is corrupt") as error:
        load(path)
    assert str(path) in str(error.value)


def test_other_compression_methods_are_refused(saved: Path, tmp_path: Path) -> None:
    path = tmp_path / "bz2.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
        for name, data in members(saved).items():
            archive.writestr(name, data)
    with pytest.raises(ModelFormatError, match="compression method 12; expected stored"):
        load(path)


def test_a_deflated_model_file_still_loads(saved: Path, tmp_path: Path) -> None:
    """numpy.savez_compressed's layout: deflated members, within deflate's ratio."""
    path = tmp_path / "deflated.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members(saved).items():
            archive.writestr(name, data)
    np.testing.assert_array_equal(load(path).state_dict()["0.weight"], load(saved)[0].weight.data)


def test_nan_weights_are_refused_at_load(tmp_path: Path) -> None:
    """repro 05: NaN weights loaded silently and failed at the first prediction."""
    model = Sequential(Dense(4, 3), ReLU(), Dense(3, 2))
    model.parameters()[-1].data[:] = np.nan
    model.parameters()[0].data[0, 0] = np.inf
    tinynet.save(model, tmp_path / "nan.npz")
    with pytest.raises(ModelFormatError, match=r"parameter '0.weight' holds 1 NaN or infinite"):
        load(tmp_path / "nan.npz")


@register_layer(name="tests.hostile.Masked")
class Masked(Layer):
    """y = x + mask: a buffer that legitimately holds -inf."""

    buffer_names = ("mask",)

    def __init__(self, features: int = 2) -> None:
        super().__init__()
        self.scale = Parameter(np.ones(features, np.float32))
        self.mask = np.array([0.0, -np.inf], np.float32)

    def forward(self, x: FloatArray) -> FloatArray:
        return x * self.scale.data + self.mask

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y

    def config(self) -> dict[str, Any]:
        return {"features": 2}


def test_infinite_buffers_still_load(tmp_path: Path) -> None:
    tinynet.save(Sequential(Masked()), tmp_path / "mask.npz")
    assert np.isneginf(load(tmp_path / "mask.npz")[0].mask[1])


def test_nan_optimizer_state_is_refused(tmp_path: Path) -> None:
    model = Sequential(Dense(3, 2))
    optimizer = tinynet.optim.Adam(model.parameters())
    model(np.ones((2, 3), np.float32))
    model.backward(np.ones((2, 2), np.float32))
    optimizer.step()
    tinynet.save(model, tmp_path / "ck.npz", optimizer=optimizer)
    items = members(tmp_path / "ck.npz")
    name = next(n for n in items if n.endswith("exp_avg.npy"))
    items[name] = npy(np.full(np.load(io.BytesIO(items[name])).shape, np.nan, np.float32))
    path = write_zip(tmp_path / "nan-state.npz", items)
    load(path)  # the model alone is fine
    with pytest.raises(ModelFormatError, match=r"optimizer: array 'optimizer/state/0/exp_avg'"):
        load_full(path)


def test_byte_swapped_dtype_in_the_header(saved: Path, tmp_path: Path) -> None:
    """repro 18: '>f4' loaded, then every input was refused as not of dtype >f4."""
    path = with_header(saved, lambda h: h.__setitem__("dtype", ">f4"), tmp_path / "be.npz")
    with pytest.raises(ModelFormatError, match=r"native byte order .* got '>f4'"):
        load(path)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"type": "Softmax", "config": {"axis": 99}}, r"axis must be an integer in \[-64, 64\)"),
        ({"type": "LeakyReLU", "config": {"negative_slope": float("nan")}}, "finite number"),
        ({"type": "LeakyReLU", "config": {"negative_slope": "0.1"}}, "finite number"),
    ],
)
def test_configs_that_could_never_run(
    saved: Path, tmp_path: Path, node: dict[str, Any], message: str
) -> None:
    """repro 18: Softmax(axis=99) and LeakyReLU(nan) loaded, then failed in predict."""

    def add(header: dict[str, Any]) -> None:
        header["model"]["children"].append({"name": "3", **node})

    path = with_header(saved, add, tmp_path / "cfg.npz")
    with pytest.raises(ModelFormatError, match=f"model.3: cannot rebuild .*{message}"):
        load(path)


def test_softmax_names_the_axis_an_input_lacks() -> None:
    with pytest.raises(ValueError, match=r"Softmax\(axis=3\): expected an input with an axis 3"):
        Softmax(axis=3)(np.zeros((2, 4), np.float32))
    for bad in (2.5, "1", True):
        with pytest.raises(ValueError, match="axis must be an integer"):
            Softmax(axis=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative_slope must be a finite number"):
        LeakyReLU(float("inf"))


def test_an_architecture_larger_than_its_arrays(saved: Path, tmp_path: Path) -> None:
    """repro 01 in miniature: sized from the config, refused before it is built."""

    def grow(header: dict[str, Any]) -> None:
        header["model"]["children"][0]["config"]["in_features"] = 10**6

    path = with_header(saved, grow, tmp_path / "big.npz")
    with pytest.raises(
        ModelFormatError, match=r"model.0: Dense\(.*\) would allocate 4000000 more parameter"
    ):
        load(path)


def test_a_missing_bias_still_gets_the_detailed_message(saved: Path, tmp_path: Path) -> None:
    items = members(saved)
    del items["2.bias.npy"]
    with pytest.raises(ModelFormatError, match=r"missing keys: 2\.bias"):
        load(write_zip(tmp_path / "nobias.npz", items))


@pytest.mark.parametrize(
    "layer",
    [
        Dense(3, 5),
        Dense(7, 2, bias=False),
        BatchNorm1d(6),
        BatchNorm1d(4, affine=False),
        BatchNorm2d(3),
        Conv2d(3, 8, 5),
        Conv2d(2, 4, (3, 1), bias=False),
        Conv2d(6, 4, 3, groups=2),
        Conv2d(3, 6, (2, 3), groups=3, bias=False),
        Conv1d(3, 5, 4),
        Conv1d(4, 4, 3, groups=4, bias=False),
        Embedding(7, 3),
        PositionalEmbedding(9, 4),
        LayerNorm(5),
        LayerNorm((6,), elementwise_affine=False),
        RNN(3, 5),
        RNN(5, 3, num_layers=3, bias=False),
        LSTM(4, 6, num_layers=2),
        LSTM(7, 2, bias=False),
        GRU(2, 5, num_layers=3),
        GRU(6, 4, bias=False),
        MultiheadAttention(8, 2),
        MultiheadAttention(6, 3, bias=False),
    ],
)
def test_built_in_layers_reserve_every_array_before_allocating_it(layer: Layer) -> None:
    """Loading bounds a file's layers by what `tinynet.init` reserves while they are
    built: each built-in layer must reserve exactly what it allocates."""
    reserved: list[int] = []
    with tinynet.init.budget(reserved.append):
        rebuilt = type(layer).from_config(layer.config(), [])
    built = sum(p.size for p in rebuilt.parameters())
    built += sum(b.size for _, b in rebuilt.named_buffers())
    assert sum(reserved) == built


# A sequence layer's (or a convolution's) config asking for terabytes, each refused from
# its config before its constructor allocates (the memory and time of such files:
# test_bombs.py).
HUGE_SEQUENCE_LAYERS: dict[str, tuple[Layer, dict[str, Any]]] = {
    "Embedding": (Embedding(10, 4), {"num_embeddings": 10**9, "embedding_dim": 1000}),
    "PositionalEmbedding": (PositionalEmbedding(8, 4), {"max_len": 10**9}),
    "LayerNorm": (LayerNorm(4), {"normalized_shape": [10**10]}),
    "RNN": (RNN(4, 3), {"hidden_size": 10**5}),
    "RNN layers": (RNN(4, 3), {"num_layers": 10**9}),
    "LSTM": (LSTM(4, 3), {"input_size": 10**9}),
    "GRU layers": (GRU(4, 3, bias=False), {"num_layers": 10**8}),
    "Conv1d": (Conv1d(4, 2, 3), {"out_channels": 10**5, "kernel_size": 10**4}),
    "Conv2d groups": (Conv2d(4, 4, 3, groups=2), {"in_channels": 10**5, "out_channels": 10**5}),
}


@pytest.mark.parametrize("label", sorted(HUGE_SEQUENCE_LAYERS))
def test_a_huge_sequence_layer_is_refused_from_its_config(label: str, tmp_path: Path) -> None:
    layer, edit = HUGE_SEQUENCE_LAYERS[label]
    tinynet.save(Sequential(Dense(4, 4), layer), tmp_path / "real.npz")
    kind = type(layer).__name__
    path = with_header(
        tmp_path / "real.npz",
        lambda header: header["model"]["children"][1]["config"].update(edit),
        tmp_path / "huge.npz",
    )
    with pytest.raises(ModelFormatError, match=rf"model\.1: {kind}\(.*\) would allocate \d+ more"):
        load(path)


@pytest.mark.parametrize(
    ("children", "message"),
    [
        ([], r"model\.1: MultiheadAttention\(.*\) would allocate \d+ more"),
        (None, r"model\.1: cannot rebuild .*expected out_proj Dense\(100000, 100000, bias=True\)"),
    ],
)
def test_a_huge_attention_is_refused_before_it_allocates(
    tmp_path: Path, children: list[Any] | None, message: str
) -> None:
    """Without its out_proj, the in_proj it would draw exceeds the budget; with the
    file's small out_proj (Dense(4, 4)), the mismatch is refused before anything is drawn."""
    tinynet.save(Sequential(Dense(4, 4), MultiheadAttention(4, 2)), tmp_path / "real.npz")

    def edit(header: dict[str, Any]) -> None:
        node = header["model"]["children"][1]
        node["config"]["embed_dim"] = 10**5
        if children is not None:
            node["children"] = children

    path = with_header(tmp_path / "real.npz", edit, tmp_path / "huge.npz")
    with pytest.raises(ModelFormatError, match=message):
        load(path)


def test_attention_counts_its_out_proj_once(tmp_path: Path) -> None:
    """The out_proj Dense is charged as the sub-layer it is, and not drawn twice: an
    attention wider than `SLACK` allows twice (E * E > 2**20) still loads."""
    model = Sequential(MultiheadAttention(1032, 4, seed=0))
    tinynet.save(model, tmp_path / "wide.npz")
    loaded = load(tmp_path / "wide.npz")
    np.testing.assert_array_equal(loaded[0].out_proj.weight.data, model[0].out_proj.weight.data)
    with pytest.raises(ValueError, match=r"expected out_proj Dense\(8, 8, bias=True\)"):
        MultiheadAttention.from_config(MultiheadAttention(8, 2).config(), [Dense(8, 4)])


# --- IDX ---------------------------------------------------------------------------------


def test_idx_headers_numpy_cannot_hold() -> None:
    """repro 11: numpy's own messages, without the file's name."""
    ndim_255 = bytes([0, 0, 8, 255]) + b"\0\0\0\1" * 255 + b"\0"
    with pytest.raises(IdxFormatError, match=r"x\.idx: the header declares shape .* cannot hold"):
        decode_idx(ndim_255, source="x.idx")
    huge = bytes([0, 0, 8, 3]) + struct.pack(">III", 0, 2**32 - 1, 2**32 - 1)
    with pytest.raises(IdxFormatError, match=r"x.idx: the header declares shape \(0, 4294967295"):
        decode_idx(huge, source="x.idx")


def test_a_dataset_without_samples(tmp_path: Path) -> None:
    """repro 11: 'zero-size array to reduction operation maximum'."""
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(0, np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(IdxFormatError, match=r"train-labels-idx1-ubyte: expected 1-D labels, at"):
        load_idx_folder(tmp_path)


def test_read_idx_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """repro 10: read_idx('/dev/zero') read until memory ran out."""
    with pytest.raises(IdxFormatError, match="it is a device, FIFO or socket"):
        read_idx("/dev/zero")
    with pytest.raises(IdxFormatError, match="it is a directory"):
        read_idx(tmp_path)


def test_read_idx_checks_the_expected_shape_from_the_header(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.gz", np.zeros((3, 2), np.int32))
    with pytest.raises(IdxFormatError, match=r"expected uint8 data of shape \(3, 2\), found int32"):
        read_idx(tmp_path / "a.gz", shape=(3, 2), dtype=np.uint8)
    assert read_idx(tmp_path / "a.gz", shape=(3, 2), dtype=np.int32).dtype == np.int32


def test_gzip_stream_with_data_past_the_declared_payload(tmp_path: Path) -> None:
    import gzip

    payload = bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])
    (tmp_path / "a.gz").write_bytes(gzip.compress(payload + bytes(1000)))
    with pytest.raises(IdxFormatError, match=r"found more than 3 \(trailing bytes\)"):
        read_idx(tmp_path / "a.gz")
    (tmp_path / "b.gz").write_bytes(gzip.compress(payload[:6]) + gzip.compress(payload[6:]))
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), [1, 2, 3])  # two members


# --- images --------------------------------------------------------------------------------


def test_pgm_numbers_too_long_to_be_pixels(tmp_path: Path) -> None:
    """repro 08: OverflowError and Python's 4300-digit limit."""
    big = tmp_path / "big.pgm"
    big.write_bytes(b"P2\n28 28\n255\n" + b" ".join([b"1" + b"0" * 30] * 784))
    with pytest.raises(ImageFormatError, match="a pixel value has 31 digits; expected at most 9"):
        load_image(big)
    digits = tmp_path / "digits.pgm"
    digits.write_bytes(b"P5\n28 28\n" + b"9" * 5000 + b"\n" + bytes(784))
    with pytest.raises(ImageFormatError, match="the PGM header's maxval has 5000 digits"):
        load_image(digits)


def npy_bytes(header: dict[str, Any], body: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (2**40, 784)}),
            r"declares 862017116176384 data bytes .* holds 0 \(truncated\)",
        ),
        (
            npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (2, 28, 28)}, bytes(9)),
            "truncated",
        ),
        (
            npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (1, 784)}, bytes(800)),
            "16 too many",
        ),
        (npy_bytes({"descr": "<i4", "fortran_order": False, "shape": (1, 784)}), "dtype int32"),
        (
            npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (2, 2999999999999999999)}),
            "expected an array of shape",
        ),
        (b"\x93NUMPY\x01\x00\x07\x00{'descr'", "not a readable .npy array"),
    ],
)
def test_npy_images_checked_before_they_are_allocated(
    tmp_path: Path, data: bytes, message: str
) -> None:
    """repro 09: MemoryError, TokenError, SyntaxError, OverflowError and TypeError."""
    path = tmp_path / "images.npy"
    path.write_bytes(data)
    with pytest.raises(ImageFormatError, match=message) as error:
        load_images(path)
    assert str(path) in str(error.value)


def test_big_endian_and_fortran_npy_images_read_right(tmp_path: Path) -> None:
    pixels = np.linspace(0, 1, 2 * 784).reshape(2, 28, 28)
    np.save(tmp_path / "be.npy", pixels.astype(">f8"))
    np.save(tmp_path / "f.npy", np.asfortranarray(pixels[0]))
    np.testing.assert_allclose(load_images(tmp_path / "be.npy"), pixels, atol=1e-7)
    np.testing.assert_allclose(load_image(tmp_path / "f.npy"), pixels[0], atol=1e-7)


def test_an_image_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "digit.png").mkdir()
    with pytest.raises(ImageFormatError, match=r"digit\.png is not a file \(it is a directory"):
        load_image(tmp_path / "digit.png")


def test_load_safetensors_from_a_directory(tmp_path: Path) -> None:
    """repro 23: a directory was reported as 'no such file'."""
    pytest.importorskip("safetensors")
    with pytest.raises(ModelFormatError, match=r"is not a file \(it is a directory\)"):
        tinynet.io.load_safetensors(Sequential(Dense(2, 2)), tmp_path)
