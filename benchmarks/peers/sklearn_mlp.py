"""scikit-learn's ``MLPClassifier``, set up as tinynet's recipe is.

Hidden layers from the net (128, 64), ReLU, Adam with the others' learning rate,
``batch_size=128``, ``alpha=0`` (no L2), float32 input kept float32 end to end. Each
epoch is one ``partial_fit`` (one shuffled pass, as ``fit`` does per iteration); the
classifier is made with ``max_iter`` equal to the epochs, ``early_stopping=False``,
``tol=0`` and ``n_iter_no_change`` past the last epoch, so nothing can stop it early.
It draws its own initial weights (Glorot uniform) and its own shuffling: only the
settings, data and number of epochs match the other contenders.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from benchmarks.timing import timed
from tinynet.typing import FloatArray, IntArray


def classifier(hidden: tuple[int, ...], *, epochs: int, batch: int, lr: float, seed: int) -> Any:
    """An unfitted ``MLPClassifier`` with the recipe's settings."""
    return MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=batch,
        learning_rate_init=lr,
        max_iter=max(epochs, 1),
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=max(epochs, 1) + 1,
        early_stopping=False,
    )


class SklearnEpochs:
    """One ``partial_fit`` pass over (x, y) per `epoch` call."""

    def __init__(
        self,
        hidden: tuple[int, ...],
        x: FloatArray,
        y: IntArray,
        *,
        epochs: int,
        batch: int,
        seed: int,
        lr: float = 1e-3,
        classes: IntArray | None = None,
    ) -> None:
        self.model = classifier(hidden, epochs=epochs, batch=batch, lr=lr, seed=seed)
        self.x, self.y = x, y
        self.classes = np.unique(y) if classes is None else classes

    def epoch(self) -> float:
        """Train one epoch; return its seconds."""
        return timed(self._epoch)

    def _epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: it is meant to go on
            self.model.partial_fit(self.x, self.y, classes=self.classes)

    def predict(self, x: FloatArray) -> IntArray:
        """Predicted labels of ``x``."""
        labels: IntArray = self.model.predict(x)
        return labels

    def labels(self, x: FloatArray) -> IntArray:
        """Same as `predict` (the name every contender shares)."""
        return self.predict(x)

    def accuracy(self, x: FloatArray, y: IntArray) -> float:
        """Fraction of ``x`` classified as ``y``."""
        return float(np.mean(self.predict(x) == y))


class SklearnInference:
    """``predict`` on a whole test set, from a classifier initialized by one small fit.

    Speed does not depend on the weights' values, so one ``partial_fit`` on the
    first ``fit_samples`` training samples is enough to make it usable.
    """

    def __init__(
        self,
        hidden: tuple[int, ...],
        x_train: FloatArray,
        y_train: IntArray,
        x: FloatArray,
        *,
        seed: int,
        fit_samples: int = 512,
    ) -> None:
        self.epochs = SklearnEpochs(
            hidden,
            x_train[:fit_samples],
            y_train[:fit_samples],
            epochs=1,
            batch=128,
            seed=seed,
            classes=np.unique(y_train),
        )
        self.epochs.epoch()
        self.x = x

    def steps(self, n: int) -> float:
        """Predict the set ``n`` times; return the seconds."""

        def run() -> None:
            for _ in range(n):
                self.epochs.predict(self.x)

        return timed(run)
