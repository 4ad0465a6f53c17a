"""Your own data through the command line: scikit-learn's 8x8 digits as an .npz.

    python examples/digits_npz.py

Writes ``load_digits`` (1,797 images, no download) as ``digits.npz`` with the arrays
``x_train``, ``y_train``, ``x_test``, ``y_test`` (Keras's ``mnist.npz`` layout; a
stratified quarter held out for testing), then runs, as you would in a shell::

    tinynet train examples/digits_model.py --data digits.npz --save digits.tinynet.npz
    tinynet evaluate examples/digits_model.py --weights digits.tinynet.npz --data digits.npz

and, for reference, scikit-learn's ``MLPClassifier`` with the same 64 hidden units on
the same split. The files go to a temporary folder (or the folder given as argument).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent


def write_npz(path: Path) -> tuple[np.ndarray, ...]:
    """The digits as float32 images (N, 8, 8) in [0, 1] (pixels are 0..16), split 3:1."""
    digits = load_digits()
    images = (digits.images / 16).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return x_train, x_test, y_train, y_test


def tinynet(*args: str) -> None:
    """Run the tinynet command line, as a user would, echoing it."""
    print("$ tinynet " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "tinynet", *args], check=True)


def main(folder: Path) -> None:
    data, weights = folder / "digits.npz", folder / "digits.tinynet.npz"
    x_train, x_test, y_train, y_test = write_npz(data)
    print(f"wrote {data}: {len(x_train)} training and {len(x_test)} test images of 8x8")
    model_file = str(HERE / "digits_model.py")
    tinynet("train", model_file, "--data", str(data), "--save", str(weights), "--verbose", "0")
    tinynet("evaluate", model_file, "--weights", str(weights), "--data", str(data))
    reference = MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000, random_state=0)
    reference.fit(x_train.reshape(len(x_train), -1), y_train)
    accuracy = accuracy_score(y_test, reference.predict(x_test.reshape(len(x_test), -1)))
    print(f"scikit-learn MLPClassifier test accuracy {100 * accuracy:.2f}%")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as temporary:
            main(Path(temporary))
