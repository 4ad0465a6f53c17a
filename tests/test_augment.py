"""RandomShift, checked against a plain loop that shifts one image by a known offset."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinynet.augment import RandomShift
from tinynet.data import DataLoader


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (H, W) moved dy rows down and dx columns right, zeros moved in."""
    h, w = image.shape
    out = np.zeros_like(image)
    for r, c in itertools.product(range(h), range(w)):
        if 0 <= r - dy < h and 0 <= c - dx < w:
            out[r, c] = image[r - dy, c - dx]
    return out


def recover_offset(original: np.ndarray, shifted: np.ndarray, max_shift: int) -> tuple[int, int]:
    """The offset that moved ``original`` (distinct nonzero pixels) to ``shifted``, checked
    to lie within ``max_shift`` and to explain every pixel of ``shifted``."""
    rows, cols = np.nonzero(shifted)
    assert rows.size, "everything moved out: max_shift is too large for this test"
    (r, c), *_ = np.argwhere(original == shifted[rows[0], cols[0]])
    dy, dx = int(rows[0] - r), int(cols[0] - c)
    assert abs(dy) <= max_shift
    assert abs(dx) <= max_shift
    np.testing.assert_array_equal(shifted, shift(original, dy, dx))
    return dy, dx


def distinct_image(h: int, w: int, dtype: type = np.float32) -> np.ndarray:
    """Pixels 1, 2, ..., h*w: every shift of it is different from every other."""
    return np.arange(1, h * w + 1, dtype=dtype).reshape(h, w)


def test_shift_reference_on_a_hand_made_image() -> None:
    image = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(shift(image, 1, 0), [[0, 0, 0], [1, 2, 3]])
    np.testing.assert_array_equal(shift(image, 0, -1), [[2, 3, 0], [5, 6, 0]])
    np.testing.assert_array_equal(shift(image, -1, 2), [[0, 0, 4], [0, 0, 0]])


@pytest.mark.parametrize(
    ("h", "w", "max_shift"), [(5, 5, 1), (5, 5, 3), (4, 7, 2), (4, 7, 3), (28, 28, 2)]
)
def test_each_image_is_its_original_moved_within_max_shift(h: int, w: int, max_shift: int) -> None:
    image = distinct_image(h, w)
    batch = np.broadcast_to(image, (400, h, w)).copy()
    batch[1::2] *= 2  # not all images alike: an image must not pick up its neighbour
    out = RandomShift(max_shift, (h, w), seed=0)(batch)
    assert out.shape == batch.shape
    assert out.dtype == batch.dtype
    offsets = {recover_offset(batch[i], out[i], max_shift) for i in range(len(batch))}
    span = range(-max_shift, max_shift + 1)
    assert offsets == {(dy, dx) for dy in span for dx in span}  # every offset, and only those


def test_flat_batches_are_shifted_as_images() -> None:
    image = distinct_image(4, 6)
    batch = np.stack([image.ravel(), 10 * image.ravel()])  # (2, 24)
    out = RandomShift(2, (4, 6), seed=1)(batch)
    assert out.shape == (2, 24)
    for i in range(2):
        recover_offset(batch[i].reshape(4, 6), out[i].reshape(4, 6), 2)


def test_same_offsets_for_flat_and_image_batches() -> None:
    batch = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    flat = RandomShift(2, seed=7)(batch.reshape(16, 784))
    images = RandomShift(2, seed=7)(batch)
    np.testing.assert_array_equal(flat.reshape(16, 28, 28), images)


def test_same_offsets_for_nchw_images() -> None:
    batch = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    images = RandomShift(2, seed=7)(batch)
    nchw = RandomShift(2, seed=7)(batch[:, np.newaxis])  # (N, 1, H, W), as load_mnist gives
    assert nchw.shape == (16, 1, 28, 28)
    np.testing.assert_array_equal(nchw[:, 0], images)


def test_every_channel_of_an_image_moves_with_it() -> None:
    image = distinct_image(5, 6)
    batch = np.stack([np.stack([image, 10 * image, 100 * image])] * 50)  # (50, 3, 5, 6)
    out = RandomShift(2, (5, 6), seed=3)(batch)
    assert out.shape == batch.shape
    offsets = set()
    for i in range(len(batch)):
        moves = {recover_offset(batch[i, c], out[i, c], 2) for c in range(3)}
        assert len(moves) == 1  # one offset for the three channels
        offsets |= moves
    assert len(offsets) > 10  # but not one offset for the whole batch


def test_zeros_fill_what_moved_in() -> None:
    ones = np.ones((300, 6, 5), dtype=np.float64)
    out = RandomShift(2, (6, 5), seed=2)(ones)
    for image in out:
        rows, cols = np.nonzero(image)
        dy = rows.min() if rows.min() else -(5 - rows.max())  # zero rows on top: moved down
        dx = cols.min() if cols.min() else -(4 - cols.max())
        np.testing.assert_array_equal(image, shift(ones[0], dy, dx))
        assert image.sum() == (6 - abs(dy)) * (5 - abs(dx))
    assert set(np.unique(out)) == {0.0, 1.0}


def test_max_shift_zero_is_the_identity_on_a_copy() -> None:
    batch = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    out = RandomShift(0, seed=0)(batch)
    np.testing.assert_array_equal(out, batch)
    assert not np.shares_memory(out, batch)


def test_shift_larger_than_the_image_leaves_zeros() -> None:
    image = distinct_image(2, 3)
    batch = np.broadcast_to(image, (100, 2, 3)).copy()
    out = RandomShift(4, (2, 3), seed=0)(batch)
    assert np.count_nonzero(out.reshape(100, -1).any(axis=1) == 0) > 0  # some moved out
    for i in range(100):
        matches = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if np.array_equal(shift(image, dy, dx), out[i])
        ]
        assert matches


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_dtype_kept_and_input_untouched(dtype: type) -> None:
    batch = np.broadcast_to(distinct_image(5, 5, dtype), (50, 5, 5)).copy()
    before = batch.copy()
    out = RandomShift(2, (5, 5), seed=4)(batch)
    assert out.dtype == dtype
    np.testing.assert_array_equal(batch, before)
    for i in range(50):
        recover_offset(batch[i], out[i], 2)


def test_seeded_draws_repeat_and_calls_differ() -> None:
    batch = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    a, b = RandomShift(2, seed=3), RandomShift(2, seed=3)
    first = a(batch)
    np.testing.assert_array_equal(first, b(batch))
    assert not np.array_equal(first, a(batch))
    c = RandomShift(2, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(first, c(batch))


def test_batch_sizes_may_vary_between_calls() -> None:
    image = distinct_image(5, 5)
    transform = RandomShift(1, (5, 5), seed=0)
    for n in (7, 3, 9, 1):
        out = transform(np.broadcast_to(image, (n, 5, 5)).copy())
        assert out.shape == (n, 5, 5)
        for i in range(n):
            recover_offset(image, out[i], 1)


def test_with_a_data_loader() -> None:
    x = np.stack([distinct_image(5, 5).ravel() * (i + 1) for i in range(10)])
    y = np.arange(10)
    loader = DataLoader(x, y, batch_size=4, seed=0, transform=RandomShift(1, (5, 5), seed=0))
    for xb, yb in loader:
        assert xb.shape == (len(yb), 25)
        for row, label in zip(xb, yb, strict=True):
            recover_offset(x[label].reshape(5, 5), row.reshape(5, 5), 1)


def test_wrong_shapes_are_refused() -> None:
    transform = RandomShift(2)
    with pytest.raises(
        ValueError,
        match=r"expected a batch of shape \(N, 784\), \(N, 28, 28\) or \(N, C, 28, 28\), got an "
        r"array of shape \(4,",
    ):
        transform(np.zeros((4, 783), np.float32))
    with pytest.raises(ValueError, match=r"got an array of shape \(4, 28, 27\)"):
        transform(np.zeros((4, 28, 27), np.float32))
    with pytest.raises(ValueError, match=r"got an array of shape \(784,\)"):
        transform(np.zeros(784, np.float32))


@pytest.mark.parametrize("max_shift", [-1, 1.5, True])
def test_bad_max_shift(max_shift: object) -> None:
    with pytest.raises(ValueError, match="expected an int max_shift >= 0"):
        RandomShift(max_shift)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(28,), (0, 28), (28, 28, 1), (28.0, 28)])
def test_bad_image_shape(shape: object) -> None:
    with pytest.raises(ValueError, match=r"expected image_shape \(H, W\) of positive ints"):
        RandomShift(2, shape)  # type: ignore[arg-type]
