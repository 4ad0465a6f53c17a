"""The IDX reader and writer: round trips, the exact byte layout, and every malformed file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from tinynet.datasets.idx import read_idx, write_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]


def sample(dtype: str, shape: tuple[int, ...] = (3, 4, 5)) -> np.ndarray:
    """Values that differ in every byte position, so a byte-order mix-up shows."""
    values = np.arange(int(np.prod(shape)), dtype=np.float64) * 37.25 - 101
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        values = np.linspace(info.min, info.max, values.size).round()
    return values.astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_every_dtype(tmp_path: Path, dtype: str, compress: bool) -> None:
    array = sample(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress


@pytest.mark.parametrize("shape", [(7,), (2, 3), (1, 2, 3, 4), ()])
def test_round_trip_any_rank(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = sample("int32", shape)
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_big_endian_input_is_written_the_same(tmp_path: Path) -> None:
    array = sample("float64")
    write_idx(tmp_path / "native.idx", array)
    write_idx(tmp_path / "swapped.idx", array.astype(">f8"))
    assert (tmp_path / "native.idx").read_bytes() == (tmp_path / "swapped.idx").read_bytes()


def test_exact_bytes_are_big_endian(tmp_path: Path) -> None:
    # magic 00 00, code 0x0B (int16), 2 dims; dims 2 and 1 as big-endian uint32;
    # then 258 = 0x0102 and -2 = 0xFFFE, each big-endian.
    expected = bytes.fromhex("00000B02 00000002 00000001 0102 FFFE")
    write_idx(tmp_path / "a.idx", np.array([[258], [-2]], dtype=np.int16))
    assert (tmp_path / "a.idx").read_bytes() == expected
    (tmp_path / "b.idx").write_bytes(expected)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.idx"), [[258], [-2]])


def test_compression_follows_the_name_unless_told(tmp_path: Path) -> None:
    array = sample("uint8")
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "a.idx", array)
    write_idx(tmp_path / "b.idx", array, compress=True)
    write_idx(tmp_path / "b.gz", array, compress=False)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b.idx").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "a.idx").read_bytes()[:2] == b"\x00\x00"
    assert (tmp_path / "b.gz").read_bytes()[:2] == b"\x00\x00"
    for name in ("a.gz", "a.idx", "b.idx", "b.gz"):  # detected by content, not by name
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    array = sample("float32")
    write_idx(tmp_path / "a.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    os.utime(tmp_path / "a.gz", (0, 0))
    write_idx(tmp_path / "a.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == first


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    write_idx(path, sample("uint8"))
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"expected an array of dtype .*uint8.*; got int64"):
        write_idx(path, np.arange(3, dtype=np.int64))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.idx"]


@pytest.mark.parametrize("bad", [np.zeros(2, dtype=bool), np.zeros(2, dtype=np.float16)])
def test_unsupported_dtype_is_refused(tmp_path: Path, bad: np.ndarray) -> None:
    with pytest.raises(TypeError, match=f"got {bad.dtype}"):
        write_idx(tmp_path / "a.idx", bad)


def test_non_array_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="expected a numpy array, got a list"):
        write_idx(tmp_path / "a.idx", [1, 2, 3])  # type: ignore[arg-type]


# --- malformed files --------------------------------------------------------------------

VALID = bytes.fromhex("00000802 00000002 00000003") + bytes(range(6))  # uint8 (2, 3)


def write(tmp_path: Path, data: bytes, name: str = "bad.idx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_valid_fixture_reads(tmp_path: Path) -> None:
    np.testing.assert_array_equal(read_idx(write(tmp_path, VALID)), [[0, 1, 2], [3, 4, 5]])


def test_truncated_payload(tmp_path: Path) -> None:
    path = write(tmp_path, VALID[:-2])
    with pytest.raises(ValueError, match=r"expected 6 payload bytes .* found 4 \(truncated\)") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + b"\x00\x07")
    with pytest.raises(ValueError, match=r"expected 6 payload bytes .* found 8 \(2 trailing") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = write(tmp_path, VALID[:9])
    with pytest.raises(ValueError, match=r"expected a 12-byte header for 2 dimensions, found 9"):
        read_idx(path)


def test_too_short_for_a_magic_number(tmp_path: Path) -> None:
    path = write(tmp_path, b"\x00\x00")
    with pytest.raises(ValueError, match=r"expected a 4-byte IDX magic number, found 2 bytes"):
        read_idx(path)


@pytest.mark.parametrize(
    "magic", ["01000802", "00010802", "00000702", "00000A02", "00000F02", "89504E47"]
)
def test_wrong_magic(tmp_path: Path, magic: str) -> None:
    path = write(tmp_path, bytes.fromhex(magic) + VALID[4:])
    found = " ".join(magic[i : i + 2] for i in range(0, 8, 2)).lower()
    with pytest.raises(ValueError, match=f"expected an IDX magic number.*found bytes {found}") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_wrong_size_in_header(tmp_path: Path) -> None:
    # The header says (2, 4) but six bytes follow.
    path = write(tmp_path, bytes.fromhex("00000802 00000002 00000004") + bytes(6))
    with pytest.raises(ValueError, match=r"expected 8 payload bytes for shape \(2, 4\) of uint8"):
        read_idx(path)


def test_wrong_size_for_a_wider_dtype(tmp_path: Path) -> None:
    # int32 (2, 3) needs 24 bytes; six are there.
    path = write(tmp_path, bytes.fromhex("00000C02 00000002 00000003") + bytes(6))
    with pytest.raises(ValueError, match=r"expected 24 payload bytes .* int32, found 6"):
        read_idx(path)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(VALID)
    path = write(tmp_path, packed[:10] + b"\xff" * 8 + packed[18:], "bad.gz")
    with pytest.raises(ValueError, match="expected a valid gzip stream, found a corrupt one") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = write(tmp_path, gzip.compress(VALID)[:-6], "bad.gz")
    with pytest.raises(ValueError, match="expected a valid gzip stream"):
        read_idx(path)


def test_gzip_of_a_truncated_idx(tmp_path: Path) -> None:
    path = write(tmp_path, gzip.compress(VALID[:-1]), "bad.gz")
    with pytest.raises(ValueError, match=r"found 5 \(truncated\)"):
        read_idx(path)
