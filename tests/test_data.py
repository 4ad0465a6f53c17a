"""DataLoader, validation_split and one_hot."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinynet.data import DataLoader, one_hot, validation_split


def dataset(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """x[i] = [3i, 3i+1, 3i+2] (float32) and y[i] = i (int64): a batch shows its indices."""
    return np.arange(3 * n, dtype=np.float32).reshape(n, 3), np.arange(n)


def epoch(loader: DataLoader[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.copy(), y.copy()) for x, y in loader]


def test_every_sample_exactly_once_and_pairs_kept() -> None:
    x, y = dataset(10)
    loader = DataLoader(x, y, batch_size=3, seed=0)
    batches = epoch(loader)
    assert [len(b) for b, _ in batches] == [3, 3, 3, 1]
    assert len(loader) == 4
    order = np.concatenate([yb for _, yb in batches])
    assert sorted(order.tolist()) == list(range(10))
    assert order.tolist() != list(range(10))  # shuffled (1 chance in 10! to fail)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb, x[yb])
        assert xb.dtype == np.float32
        assert yb.dtype == y.dtype


def test_no_shuffle_is_in_order() -> None:
    x, y = dataset(7)
    batches = epoch(DataLoader(x, y, batch_size=2, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1], [2, 3], [4, 5], [6]]


def test_drop_last() -> None:
    x, y = dataset(10)
    loader = DataLoader(x, y, batch_size=3, shuffle=False, drop_last=True)
    assert len(loader) == 3
    assert [yb.tolist() for _, yb in epoch(loader)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(DataLoader(x, y, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(x, y, batch_size=11, drop_last=True)) == 0
    assert len(DataLoader(x, y, batch_size=11)) == 1


def orders(loader: DataLoader[np.ndarray], epochs: int) -> list[list[int]]:
    return [np.concatenate([yb for _, yb in loader]).tolist() for _ in range(epochs)]


def test_same_seed_same_orders_new_order_each_epoch() -> None:
    x, y = dataset(50)
    first = orders(DataLoader(x, y, batch_size=8, seed=3), 3)
    assert first == orders(DataLoader(x, y, batch_size=8, seed=3), 3)
    assert first[0] != first[1] != first[2] != first[0]
    assert first != orders(DataLoader(x, y, batch_size=8, seed=4), 3)
    rng = np.random.default_rng(3)
    assert orders(DataLoader(x, y, batch_size=8, rng=rng), 3) == first


def test_rng_state_restores_an_epoch_bit_for_bit() -> None:
    x, y = dataset(50)
    loader = DataLoader(x, y, batch_size=8, seed=1)
    orders(loader, 2)
    state = loader.rng.bit_generator.state
    third = orders(loader, 1)
    resumed = DataLoader(x, y, batch_size=8, seed=99)
    resumed.rng.bit_generator.state = state
    assert orders(resumed, 1) == third


def test_the_permutation_is_drawn_when_the_epoch_starts() -> None:
    x, y = dataset(20)
    loader = DataLoader(x, y, batch_size=4, seed=0)
    before = loader.rng.bit_generator.state
    iterator = iter(loader)
    assert loader.rng.bit_generator.state != before
    after = loader.rng.bit_generator.state
    list(iterator)
    assert loader.rng.bit_generator.state == after


def test_fresh_arrays_by_default() -> None:
    x, y = dataset(10)
    batches = list(DataLoader(x, y, batch_size=4, seed=1))
    for (xa, ya), (xb, yb) in itertools.pairwise(batches):
        assert not np.shares_memory(xa, xb)
        assert not np.shares_memory(ya, yb)
    assert not any(np.shares_memory(xb, x) or np.shares_memory(yb, y) for xb, yb in batches)
    first = batches[0][1].copy()
    list(DataLoader(x, y, batch_size=4, seed=1))
    np.testing.assert_array_equal(batches[0][1], first)  # not overwritten later


def test_unshuffled_batches_are_views_of_the_data() -> None:
    """In order, a batch is a slice: nothing is copied (full-batch descent reads the
    whole training set every step)."""
    x, y = dataset(10)
    batches = list(DataLoader(x, y, batch_size=4, shuffle=False, reuse_buffers=True))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    for i, (xb, yb) in enumerate(batches):
        assert np.shares_memory(xb, x)
        assert np.shares_memory(yb, y)
        np.testing.assert_array_equal(xb, x[4 * i : 4 * i + 4])
        np.testing.assert_array_equal(yb, y[4 * i : 4 * i + 4])


def test_reuse_buffers_refills_the_same_arrays() -> None:
    x, y = dataset(10)
    loader = DataLoader(x, y, batch_size=4, seed=5, reuse_buffers=True)
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb, x[yb])  # right while it is the current batch
        seen.append((xb, yb, yb.tolist()))
    assert all(np.shares_memory(xb, seen[0][0]) for xb, _, _ in seen)
    assert all(np.shares_memory(yb, seen[0][1]) for _, yb, _ in seen)
    assert sorted(itertools.chain.from_iterable(labels for _, _, labels in seen)) == list(range(10))
    assert [len(labels) for _, _, labels in seen] == [4, 4, 2]
    second = [yb.tolist() for _, yb in loader]  # the next epoch reuses them too
    assert sorted(itertools.chain.from_iterable(second)) == list(range(10))
    assert np.shares_memory(next(iter(loader))[0], seen[0][0])


def test_same_batches_with_or_without_reused_buffers() -> None:
    x, y = dataset(23)
    plain = epoch(DataLoader(x, y, batch_size=5, seed=8))
    reused = epoch(DataLoader(x, y, batch_size=5, seed=8, reuse_buffers=True))
    for (xa, ya), (xb, yb) in zip(plain, reused, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_without_labels() -> None:
    x, _ = dataset(5)
    loader = DataLoader(x, batch_size=2, shuffle=False)
    batches = list(loader)
    assert all(yb is None for _, yb in batches)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), x)


def test_multidimensional_samples_and_labels() -> None:
    x = np.arange(6 * 2 * 2, dtype=np.float64).reshape(6, 2, 2)
    y = np.arange(6 * 3).reshape(6, 3)
    for xb, yb in DataLoader(x, y, batch_size=4, seed=0, reuse_buffers=True):
        rows = yb[:, 0] // 3
        np.testing.assert_array_equal(xb, x[rows])
        assert xb.shape[1:] == (2, 2)
        assert yb.shape[1:] == (3,)


def test_transform_is_applied_to_x_only() -> None:
    x, y = dataset(6)
    loader = DataLoader(x, y, batch_size=4, seed=0, transform=lambda b: -b)
    for xb, yb in loader:
        np.testing.assert_array_equal(xb, -x[yb])


def test_transform_must_keep_the_batch_size() -> None:
    x, y = dataset(6)
    loader = DataLoader(x, y, batch_size=4, transform=lambda b: b[:1])
    with pytest.raises(ValueError, match="to return a batch of 4 samples, got an array of shape"):
        next(iter(loader))


def test_empty_dataset_has_no_batches() -> None:
    x, y = dataset(0)
    loader = DataLoader(x, y, batch_size=4, reuse_buffers=True)
    assert len(loader) == 0
    assert list(loader) == []


def test_mismatched_lengths() -> None:
    x, y = dataset(5)
    with pytest.raises(
        ValueError, match=r"same number of samples, got x of shape \(5, 3\) and y of shape \(4,\)"
    ):
        DataLoader(x, y[:4])


@pytest.mark.parametrize("size", [0, -1, 1.5, True, None])
def test_batch_size_must_be_a_positive_int(size: object) -> None:
    x, y = dataset(5)
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {size!r}"):
        DataLoader(x, y, batch_size=size)  # type: ignore[call-overload]


def test_bad_inputs() -> None:
    x, y = dataset(5)
    with pytest.raises(TypeError, match="expected x as an array of shape"):
        DataLoader([1, 2, 3], y)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"got an array of shape \(\) and dtype float64"):
        DataLoader(np.array(1.0), y)
    with pytest.raises(TypeError, match="expected y as an array"):
        DataLoader(x, [0, 1, 2, 3, 4])  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="either rng or seed"):
        DataLoader(x, y, rng=np.random.default_rng(), seed=1)
    with pytest.raises(TypeError, match="expected a callable transform"):
        DataLoader(x, y, transform=3)  # type: ignore[call-overload]


# --- validation_split -------------------------------------------------------------------


def test_validation_split_takes_the_last_fraction_as_views() -> None:
    x, y = dataset(10)
    (x_train, y_train), (x_val, y_val) = validation_split(x, y, 0.2)
    assert y_train.tolist() == list(range(8))
    assert y_val.tolist() == [8, 9]
    np.testing.assert_array_equal(x_val, x[8:])
    for part, whole in ((x_train, x), (y_train, y), (x_val, x), (y_val, y)):
        assert part.base is whole or part.base is whole.base
        assert np.shares_memory(part, whole)


def test_validation_split_rounds_like_keras() -> None:
    # Keras: split_at = floor(N * (1 - fraction)); 10 * 0.75 = 7.5 -> 7 train, 3 validation.
    x, y = dataset(10)
    (_, y_train), (_, y_val) = validation_split(x, y, 0.25)
    assert len(y_train) == 7
    assert len(y_val) == 3
    # 1 - 0.1 = 0.9 exactly in binary? No: 60000 * 0.9 = 54000.00000000001 -> 54000.
    big = np.zeros(60000)
    (train, _), (val, _) = validation_split(big, big, 0.1)
    assert len(train) == 54000
    assert len(val) == 6000


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, True])
def test_validation_split_fraction_must_be_inside_0_1(fraction: float) -> None:
    x, y = dataset(10)
    with pytest.raises(ValueError, match=f"expected a fraction in \\(0, 1\\), got {fraction!r}"):
        validation_split(x, y, fraction)


def test_validation_split_needs_a_sample_on_each_side() -> None:
    x, y = dataset(3)
    with pytest.raises(ValueError, match="expected at least one sample on each side, got 0 and 3"):
        validation_split(x, y, 0.9)
    with pytest.raises(ValueError, match="same number of samples"):
        validation_split(x, y[:2], 0.5)


# --- one_hot ------------------------------------------------------------------------------


def test_one_hot() -> None:
    out = one_hot(np.array([2, 0, 1, 2]), 4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert one_hot(np.array([1], dtype=np.uint8), 2, dtype=np.float64).dtype == np.float64
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)


def test_one_hot_errors() -> None:
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got 3"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got -1"):
        one_hot(np.array([0, -1]), 3)
    with pytest.raises(TypeError, match="expected integer class labels, got dtype float64"):
        one_hot(np.array([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"expected labels of shape \(2,\), got shape \(2, 1\)"):
        one_hot(np.array([[0], [1]]), 3)
    with pytest.raises(ValueError, match="classes must be a positive integer, got 0"):
        one_hot(np.array([0]), 0)
