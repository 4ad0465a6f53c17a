"""Pictures of a training run: learning curves, a confusion matrix, the worst mistakes.

matplotlib is the optional extra ``plot`` (``pip install "tinynet-nn[plot]"``), imported
only when a picture is drawn: ``import tinynet`` never needs it, and a missing
matplotlib is an `ImportError` that says how to install it. Figures are drawn with
matplotlib's object API (`matplotlib.figure.Figure`, not pyplot), so no display and
no global state are involved, and each PNG is written atomically.

    from tinynet.plots import plot_history
    plot_history(history.history, "curves.png", title="784-30-10")
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.metrics import confusion_matrix
from tinynet.typing import FloatArray, IntArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PathLike = str | os.PathLike[str]
SERIES = {"": "training", "val_": "validation", "test_": "test"}
"""History-name prefixes and how the curves label them."""
DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib `Figure` of ``width`` x ``height`` inches (raises `ImportError`
    naming the ``plot`` extra when matplotlib is missing)."""
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError as error:
        raise ImportError(
            'tinynet.plots needs matplotlib: pip install "tinynet-nn[plot]" '
            "(or pip install matplotlib)"
        ) from error
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def require_matplotlib() -> None:
    """Raise the `ImportError` of `new_figure` now, e.g. before a long training run."""
    new_figure(1, 1)


def save_figure(figure: Figure, path: PathLike) -> Path:
    """Write ``figure`` as a PNG at ``path``, atomically; return the path."""
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png")
    return Path(path)


def plot_history(
    history: Mapping[str, Sequence[float]],
    path: PathLike,
    *,
    title: str = "",
    xlabel: str = "epoch",
    metric: str = "accuracy",
) -> Path:
    """Loss and accuracy (or another ``metric``, such as ``r2``) per epoch, side by side,
    for every series the history holds.

    ``history`` maps names to one value per epoch, as `tinynet.callbacks.History`'s
    ``history``: ``loss`` and ``accuracy`` (training: the mean over the epoch, taken
    while the weights changed), ``val_loss``/``val_accuracy`` (labelled validation),
    ``test_loss``/``test_accuracy`` (labelled test). Other names are ignored; a panel
    with nothing to show says so. Accuracy is drawn in percent; the loss on a log
    axis when it falls by more than ten times. Writes a PNG.
    """
    figure = new_figure(11, 4.2)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes = figure.subplots(1, 2)
    for ax, shown in zip(axes, ("loss", metric), strict=True):
        drawn = False
        for prefix, label in SERIES.items():
            values = history.get(prefix + shown)
            if not values:
                continue
            y = np.asarray(values, dtype=np.float64) * (100 if shown == "accuracy" else 1)
            x = np.arange(1, y.size + 1)
            marker = "o" if y.size <= 40 else None
            name = f"{label} (epoch mean)" if not prefix else label
            ax.plot(x, y, marker=marker, markersize=3, label=f"{name}: {_last(y, shown)}")
            drawn = True
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy (%)" if shown == "accuracy" else shown)
        ax.set_title(shown)
        ax.grid(alpha=0.3)
        if shown == "loss" and drawn and _spans_a_decade(history, shown):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
        if drawn:
            ax.legend(title="last value")
        else:
            ax.text(0.5, 0.5, f"no {shown} logged", ha="center", va="center")
    figure.suptitle(title or "training curves")
    return save_figure(figure, path)


def _minor_log_label(value: float, _: object) -> str:
    """Label the minor ticks 2, 3 and 5 of each decade of a log axis (the rest crowd)."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** math.floor(math.log10(value)))
    return f"{value:g}" if leading in (2, 3, 5) else ""


def _last(y: FloatArray, metric: str) -> str:
    return f"{y[-1]:.2f}%" if metric == "accuracy" else f"{y[-1]:.4f}"


def _spans_a_decade(history: Mapping[str, Sequence[float]], metric: str) -> bool:
    """Every logged value of ``metric`` is finite and > 0, and the largest is more than
    ten times the smallest: a log axis can show them, and shows them better."""
    values = [v for prefix in SERIES for v in history.get(prefix + metric, [])]
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        return False
    return max(values) > 10 * min(values)


def class_labels(num_classes: int, class_names: Sequence[str] | None) -> list[str]:
    """``class_names`` checked to have ``num_classes`` entries, or ``"0", "1", ...``."""
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(
            f"plots: expected {num_classes} class names, got {len(class_names)}: {class_names}"
        )
    return list(class_names)


def plot_confusion_matrix(
    y_true: IntArray,
    y_pred: IntArray,
    path: PathLike,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """The confusion matrix as a grid of counts: rows the true class, columns the
    predicted one, every cell numbered. ``y_true`` and ``y_pred``: integer labels (N,).
    The colour is the fraction of the true class (so the rare mistakes show), the
    number the count. Writes a PNG."""
    seen = int(max(y_true.max(), y_pred.max())) + 1
    if class_names is not None and len(class_names) < seen:
        raise ValueError(
            f"plots: labels go up to {seen - 1} but {len(class_names)} class names were given"
        )
    names = class_labels(seen, None) if class_names is None else list(class_names)
    counts = confusion_matrix(y_true, y_pred, len(names))
    rows = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    share = counts / rows
    size = max(5.0, 0.55 * len(names) + 2)
    figure = new_figure(size + 1, size)
    ax = figure.subplots()
    image = ax.imshow(np.sqrt(share), cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(counts):
        dark = share[i, j] > 0.35
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=8 if count < 1000 else 7,
            color="white" if dark else "black",
            fontweight="bold" if i == j else "normal",
        )
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    colorbar = figure.colorbar(image, ax=ax, shrink=0.8)
    shares = np.array([0, 0.01, 0.05, 0.2, 0.5, 1.0])
    colorbar.set_ticks(np.sqrt(shares), labels=[f"{100 * s:g}%" for s in shares])
    colorbar.set_label("share of the true class (square-root scale)")
    correct = int(np.trace(counts))
    total = int(counts.sum())
    heading = title or "confusion matrix"
    ax.set_title(f"{heading}\n{correct:,} of {total:,} correct ({100 * correct / total:.2f}%)")
    return save_figure(figure, path)


def most_wrong(y_true: IntArray, scores: FloatArray, count: int) -> IntArray:
    """Indices of up to ``count`` misclassified samples, the most confident first.

    ``scores`` (N, C): one score per class (probabilities, say); the prediction is the
    argmax, its confidence the max. Ties keep the original order. Returns int64 (<= count,).
    """
    predicted = scores.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = np.argsort(-scores[wrong].max(axis=1), kind="stable")
    indices: IntArray = wrong[order[:count]].astype(np.int64)
    return indices


def plot_most_wrong(
    images: FloatArray,
    y_true: IntArray,
    scores: FloatArray,
    path: PathLike,
    *,
    count: int = 24,
    columns: int = 8,
    class_names: Sequence[str] | None = None,
    score_name: str = "p",
    title: str = "",
) -> Path:
    """A grid of the ``count`` misclassified images with the highest score on a wrong
    class, each titled with its true and predicted label and the score of each (a
    confident mistake reads ``p=1`` for its prediction, so the true class's score is
    what tells such mistakes apart).

    ``images``: (N, H*W) with H = W, or (N, H, W), values in [0, 1] (drawn dark on
    light). ``y_true``: labels (N,). ``scores`` (N, C): per-class scores, e.g.
    probabilities (``score_name`` labels them: ``p`` for a probability). Writes a PNG.
    """
    names = class_labels(scores.shape[1], class_names)
    chosen = most_wrong(y_true, scores, count)
    rows = max(1, math.ceil(len(chosen) / columns))
    figure = new_figure(1.6 * columns, 1.8 * rows + 0.6)
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, index in zip(axes, chosen, strict=False):
        image = _square(images[index])
        predicted = int(scores[index].argmax())
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        truth = int(y_true[index])
        ax.set_title(
            f"true {names[truth]} ({score_name}{_score_text(scores[index, truth])})\n"
            f"pred {names[predicted]} ({score_name}{_score_text(scores[index, predicted])})",
            fontsize=9,
        )
    wrong = int(np.count_nonzero(scores.argmax(axis=1) != y_true))
    heading = title or "most confident mistakes"
    if not len(chosen):
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14)
    figure.suptitle(f"{heading}: {len(chosen)} of {wrong:,} misclassified, highest {score_name}")
    return save_figure(figure, path)


def _score_text(value: float) -> str:
    """``=0.42`` with two decimals; ``>0.99`` or ``<0.01`` where those would read 1 or 0."""
    if 0.01 <= value <= 0.99 or not 0 <= value <= 1:  # not a probability: show it as is
        return f"={value:.2f}"
    return ">0.99" if value > 0.99 else "<0.01"


def _square(image: FloatArray) -> FloatArray:
    """One image as a 2-D array: (H, W) as is, (H*W,) reshaped to a square."""
    if image.ndim == 2:
        return image
    side = math.isqrt(image.size)
    if side * side != image.size:
        raise ValueError(f"plots: cannot show a flat image of {image.size} pixels as a square")
    return image.reshape(side, side)


def save_run_plots(
    directory: PathLike,
    *,
    history: Mapping[str, Sequence[float]],
    title: str = "",
    xlabel: str = "epoch",
    metric: str = "accuracy",
    y_true: IntArray | None = None,
    scores: FloatArray | None = None,
    images: FloatArray | None = None,
    class_names: Sequence[str] | None = None,
    score_name: str = "p",
) -> list[Path]:
    """Write a run's pictures into ``directory`` (created if needed) and return their
    paths: ``curves.png`` always (`plot_history` of ``history``, drawing ``metric``);
    with a classifier's test labels ``y_true`` (N,) and ``scores`` (N, C) (probabilities,
    or the raw outputs: ``score_name``), ``confusion_matrix.png``; with the test
    ``images`` (N, ...) too, ``most_wrong.png``. ``class_names`` label the classes when
    there is one per column of ``scores``."""
    folder = Path(directory)
    titled = f"{title}: " if title else ""
    paths = [
        plot_history(
            history,
            folder / "curves.png",
            title=f"{titled}training curves",
            xlabel=xlabel,
            metric=metric,
        )
    ]
    if y_true is None or scores is None:
        return paths
    names = class_names if class_names and len(class_names) == scores.shape[1] else None
    predicted: IntArray = scores.argmax(axis=1)
    path = folder / "confusion_matrix.png"
    paths.append(
        plot_confusion_matrix(y_true, predicted, path, title=f"{titled}test set", class_names=names)
    )
    if images is not None:
        paths.append(
            plot_most_wrong(
                images,
                y_true,
                scores,
                folder / "most_wrong.png",
                score_name=score_name,
                title=f"{titled}most confident test mistakes",
                class_names=names,
            )
        )
    return paths
