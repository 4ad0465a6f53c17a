"""Shared pytest configuration: BLAS threads, hypothesis profiles, MNIST subsets.

The default hypothesis profile is derandomized, so a run is reproducible and CI
cannot flake; ``pytest --hypothesis-profile=thorough`` explores many more examples.
"""

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The tests multiply small matrices; a multi-threaded BLAS on a shared 2-core machine
# spends more time synchronising threads than computing (25x slower measured). Set
# before any test module imports NumPy; an explicit setting in the environment wins.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def mnist_subset(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, int], Path]:
    """A function ``(train, test) -> folder``: the first ``train`` training and ``test``
    test images of real MNIST written as the four IDX files, for ``--data DIR``."""
    from tinynet.datasets import load_mnist, write_idx

    def write(train: int, test: int) -> Path:
        (x, y), (x_test, y_test) = load_mnist(flatten=False)  # (N, 1, 28, 28)
        x, x_test = x[:, 0], x_test[:, 0]  # IDX image files hold (N, 28, 28)
        folder = tmp_path_factory.mktemp(f"mnist-{train}-{test}")
        for name, array in [
            ("train-images-idx3-ubyte.gz", x[:train]),
            ("train-labels-idx1-ubyte.gz", y[:train]),
            ("t10k-images-idx3-ubyte.gz", x_test[:test]),
            ("t10k-labels-idx1-ubyte.gz", y_test[:test]),
        ]:
            as_uint8 = np.rint(array * 255) if array.dtype.kind == "f" else array
            write_idx(folder / name, as_uint8.astype(np.uint8))
        return folder

    return write
