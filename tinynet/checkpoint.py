"""Checkpoints: a model file that also holds everything needed to resume training exactly.

A checkpoint is a native tinynet model file (`tinynet.io.save`) with the optimizer
state, plus, in its metadata: the number of epochs done, the history so far, the state
of every callback (learning-rate schedule, early stopping) and of every random
generator the run draws from (batch order, augmentation, dropout). ``tinynet.load``
reads it like any model file; ``fit(..., callbacks=[BackupAndRestore(path)])`` continues
the run and ends bit-identical to the same run never interrupted.

Two callbacks write them: `ModelCheckpoint` (every few epochs, or the best ones, under
names from a template) and `BackupAndRestore` (Keras's: one file that a run restores
from when it starts, then keeps writing). ``fit`` itself knows no file format.
"""

from __future__ import annotations

import itertools
import json
import os
import string
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tinynet.callbacks import Monitor
from tinynet.io import ModelFormatError, load_full, save
from tinynet.io.native import ModelMismatchError, load_states
from tinynet.optim.optimizer import Optimizer
from tinynet.train import Callback, History, Run
from tinynet.validation import abridged, is_integer, is_real, short

KEY = "tinynet_checkpoint"


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint every ``every`` epochs, or only the best ones.

    ``filepath`` may contain ``{epoch}`` (1-based) and any logged name, e.g.
    ``"ckpt-{epoch:03d}-{val_accuracy:.4f}.npz"``, as in Keras; a template that cannot
    name a file (``{0}``, ``{epoch.real}``, an unclosed ``{``) is a ``ValueError`` here,
    and `check_filepath` checks it against the names a run will log before it starts. With
    ``save_best_only``, a file is written only when ``monitor`` improves (``mode`` as
    in `EarlyStopping`). Every write is atomic: a crash mid-save leaves the previous
    checkpoint intact. Extra ``metadata`` (JSON) is stored beside the training state.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        *,
        every: int = 1,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"ModelCheckpoint: every must be >= 1, got {every}")
        self.fields = template_fields(str(filepath))
        self.filepath = str(filepath)
        self.every = every
        self.save_best_only = save_best_only
        self.monitor = monitor
        self.tracker = Monitor("ModelCheckpoint", monitor, mode)
        self.metadata = metadata or {}
        self.last_path: Path | None = None

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.save_best_only:
            if not self.tracker.improves(logs):
                return
        elif (run.epoch + 1) % self.every:
            return
        self.last_path = Path(self.format_filepath(run.epoch + 1, logs))
        save_checkpoint(self.last_path, run, metadata=self.metadata)

    def format_filepath(self, epoch: int, logs: dict[str, float]) -> str:
        """The file name for ``epoch`` (1-based) and its ``logs``; ``ValueError`` naming
        the template when it names something not logged or a format that does not fit."""
        missing = sorted(set(self.fields) - {"epoch", *logs})
        if missing:
            raise ValueError(
                f"ModelCheckpoint: the file name template {self.filepath!r} names "
                f"{', '.join(f'{{{name}}}' for name in missing)}, which the run does not "
                f"log; it logs: epoch, {', '.join(logs)} (val_* needs validation data)"
            )
        try:
            return self.filepath.format(epoch=epoch, **logs)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"ModelCheckpoint: the file name template {self.filepath!r} cannot be "
                f"formatted: {error}"
            ) from error

    def check_filepath(self, names: Iterable[str]) -> Path:
        """The file the first checkpoint would be written to, by a run that will log
        ``names`` (``loss``, ``val_accuracy``... besides ``epoch``): formatted with
        placeholder values, so a template that fails would fail here, before training."""
        return Path(self.format_filepath(1, dict.fromkeys(names, 0.5)))

    def state_dict(self) -> dict[str, Any]:
        return self.tracker.state_dict() if self.save_best_only else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state)


class BackupAndRestore(Callback):
    """Resume an interrupted run from ``path``, and keep ``path`` up to date (Keras's).

    At the start of training, if ``path`` exists, the run continues from it: weights,
    optimizer, the other callbacks' state, random generators, history and epoch all
    come back (`restore_checkpoint`), so it ends bit-identical to a run never stopped.
    Then a checkpoint is written to ``path`` every ``every`` epochs (atomically: a crash
    mid-save leaves the previous one). ``metadata`` (JSON) is stored beside the state.
    Unlike Keras, the file is kept when training ends (``delete_checkpoint=True`` removes
    it), so a finished run can be extended with more epochs.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every: int = 1,
        metadata: dict[str, Any] | None = None,
        delete_checkpoint: bool = False,
    ) -> None:
        if every < 1:
            raise ValueError(f"BackupAndRestore: every must be >= 1, got {every}")
        self.path = Path(path)
        self.every = every
        self.metadata = metadata or {}
        self.delete_checkpoint = delete_checkpoint
        self.restored_epoch: int | None = None

    def on_train_begin(self, run: Run) -> None:
        if self.path.exists():
            run.epoch = self.restored_epoch = restore_checkpoint(self.path, run)

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if (run.epoch + 1) % self.every == 0:
            save_checkpoint(self.path, run, metadata=self.metadata)

    def on_train_end(self, run: Run) -> None:
        if self.delete_checkpoint:
            self.path.unlink(missing_ok=True)


def settings_difference(saved: Any, here: Any, prefix: str = "") -> Iterator[str]:
    """``key: A there, B here`` for each setting that differs between two JSON values,
    nested keys dotted (``recipe.epochs: 5 there, 8 here``), each value cut to 80
    characters (a saved value can be megabytes)."""
    if isinstance(saved, dict) and isinstance(here, dict):
        for key in sorted(set(saved) | set(here)):
            yield from settings_difference(saved.get(key), here.get(key), f"{prefix}{key}.")
    elif json.dumps(saved) != json.dumps(here):
        there, ours = (abridged(json.dumps(value)) for value in (saved, here))
        yield f"{abridged(prefix.rstrip('.'))}: {there} there, {ours} here"


def require_same_run(path: str | os.PathLike[str], settings: dict[str, Any]) -> str | None:
    """Refuse to resume the checkpoint at ``path`` if another run wrote it: ``settings``
    (JSON: recipe, seed, dataset..., as this run stores them in its checkpoints'
    metadata) must equal the saved ones, else a ``ValueError`` names each that differs,
    since the continued run would silently be neither. A finished run may be extended
    when only ``settings["recipe"]["epochs"]`` is larger: then the sentence saying so
    is returned, for the user (else ``None``). A model file without training state (as
    ``tinynet train --save`` writes) is refused as not a checkpoint."""
    metadata = load_full(path).metadata
    if KEY not in metadata:
        raise ValueError(f"{path} is a model file, not a checkpoint (write one with --checkpoint)")
    saved = {key: metadata.get(key) for key in settings}
    differ = list(settings_difference(saved, settings))
    if not differ:
        return None
    epochs_only = all(line.startswith("recipe.epochs:") for line in differ)
    done = metadata.get(KEY, {}).get("epochs_done")
    planned = (saved.get("recipe") or {}).get("epochs")
    wanted = settings["recipe"]["epochs"]
    if epochs_only and isinstance(done, int) and done == planned and wanted > done:
        return (
            f"extending the finished {done}-epoch run in {path} to {wanted} epochs "
            f"(a schedule continues as that of a {wanted}-epoch run would)"
        )
    if epochs_only and isinstance(done, int):
        why = (
            f"the run there already did {done} epochs; --epochs {wanted} adds none"
            if wanted <= done
            else f"the run there stopped after {done} of its {planned} epochs: resume it with "
            f"--epochs {planned} to finish it, then extend it"
        )
        raise ValueError(f"{path}: {why}")
    raise ValueError(f"{path} was written by a different run: {'; '.join(differ)}")


def template_fields(template: str) -> list[str]:
    """The names a file name template formats, as ``str.format`` reads it; ``ValueError``
    for a template that cannot name a file: unbalanced braces, a positional field
    (``{}``, ``{0}``), an attribute or index (``{epoch.real}``, ``{loss[0]}``)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"ModelCheckpoint: the file name template {template!r}: {error}") from None
    names = []
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(
                f"ModelCheckpoint: the file name template {template!r} has the field "
                f"{{{field}}}; fields are logged names, e.g. {{epoch:03d}} or {{val_loss:.4f}}"
            )
        if spec and "{" in spec:
            raise ValueError(
                f"ModelCheckpoint: the file name template {template!r} nests a field in "
                f"the format of {{{field}}}"
            )
        names.append(field)
    return names


def generators(run: Run) -> Iterator[tuple[str, np.random.Generator]]:
    """Every random generator a run draws from, by a stable name: ``loader``,
    ``transform`` (augmentation) and ``model.<layer path>.<attribute>`` (dropout)."""
    yield "loader", run.loader.rng
    transform_rng = getattr(run.loader.transform, "rng", None)
    if isinstance(transform_rng, np.random.Generator):
        yield "transform", transform_rng
    for prefix, layer in run.model.named_modules("model."):
        for attribute, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                yield prefix + attribute, value


def save_checkpoint(
    path: str | os.PathLike[str], run: Run, *, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``run``'s model, optimizer and training state to ``path``, atomically.

    Call at the end of an epoch (``run.epoch`` is the epoch just finished).
    """
    state = {
        "epochs_done": run.epoch + 1,
        "history": run.history.history,
        "history_epochs": run.history.epoch,
        "callbacks": [{"type": type(c).__name__, "state": c.state_dict()} for c in run.callbacks],
        "generators": {name: g.bit_generator.state for name, g in generators(run)},
    }
    save(run.model, path, optimizer=run.optimizer, metadata={**(metadata or {}), KEY: state})


class CheckpointError(ModelFormatError):
    """A checkpoint whose training state is malformed or does not fit the run; the message
    names the file, and nothing of the run was changed."""


class _Restored(NamedTuple):
    """A checkpoint's training state, checked: what `restore_checkpoint` applies."""

    epochs_done: int
    history: History
    callbacks: list[tuple[Callback, dict[str, Any]]]
    generators: dict[str, dict[str, Any]]


MAX_EPOCHS = 2**31
"""The largest epoch count a checkpoint may record."""


def restore_checkpoint(path: str | os.PathLike[str], run: Run) -> int:
    """Load a checkpoint into ``run``'s model, optimizer, callbacks, generators and history,
    in place: the live objects take the saved state, no second model or optimizer is built
    (`tinynet.io.native.load_states` reads the arrays for them).

    Everything is checked before anything is changed: the training state's form (epochs
    done, history, callbacks, generators: `CheckpointError` naming the file and the
    entry), the model's architecture and weights, the optimizer's class and state, the
    same callbacks in the same order, the same generators (each saved state is tried on
    a fresh generator first). A callback's ``load_state_dict`` that fails anyway is
    undone, with the optimizer. Returns the number of epochs the checkpoint had done
    (the epoch to continue from).
    """
    try:
        saved = load_states(path, run.model, run.optimizer)
    except ModelMismatchError as error:
        raise CheckpointError(
            f"{path}: the checkpoint's model does not fit this run's: {error.detail}"
        ) from error
    state = saved.metadata.get(KEY)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: a model file, but not a checkpoint (no training state)")
    if saved.optimizer is None or saved.optimizer_class is not type(run.optimizer):
        got = "none" if saved.optimizer_class is None else saved.optimizer_class.__name__
        raise CheckpointError(
            f"{path}: the checkpoint's optimizer is {got}, this run uses "
            f"{type(run.optimizer).__name__}"
        )
    restored = _checked_state(path, state, run)
    optimizer_before = run.optimizer.state_dict()  # the live one: put back on any failure
    try:
        run.optimizer.load_state_dict(saved.optimizer)  # checks, then changes
    except (TypeError, ValueError) as error:  # settings from the file, of any JSON type
        run.optimizer.load_state_dict(optimizer_before)
        raise CheckpointError(f"{path}: optimizer: {error}") from error
    _load_callbacks(path, restored.callbacks, run.optimizer, optimizer_before)
    run.model.load_state_dict(saved.model, strict=False)  # cannot fail: checked by load_states
    for name, generator in generators(run):
        generator.bit_generator.state = restored.generators[name]
    run.history = restored.history
    return restored.epochs_done


def _load_callbacks(
    path: str | os.PathLike[str],
    entries: list[tuple[Callback, dict[str, Any]]],
    optimizer: Optimizer,
    optimizer_before: dict[str, Any] | None,
) -> None:
    """Load each callback's saved state; if one refuses it, put every callback and the
    optimizer back as they were and raise `CheckpointError` naming it."""
    before = [callback.state_dict() for callback, _ in entries]
    for i, (callback, saved) in enumerate(entries):
        try:
            callback.load_state_dict(saved)
        except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError) as error:
            for (earlier, _), previous in zip(entries[: i + 1], before, strict=False):
                earlier.load_state_dict(previous)
            if optimizer_before is not None:
                optimizer.load_state_dict(optimizer_before)
            raise CheckpointError(
                f"{path}: the saved state of callback {i} ({type(callback).__name__}) does "
                f"not load: {type(error).__name__}: {error}"
            ) from error


def _checked_state(path: str | os.PathLike[str], state: dict[str, Any], run: Run) -> _Restored:
    """The training state of a checkpoint, checked against ``run``; `CheckpointError`
    naming ``path`` and the entry otherwise. Changes nothing."""
    where = f"{path}: training state"
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{where}: missing {', '.join(map(repr, missing))}")
    epochs_done = state["epochs_done"]
    if not (is_integer(epochs_done) and 0 <= epochs_done <= MAX_EPOCHS):
        raise CheckpointError(
            f"{where}: 'epochs_done' must be an integer in [0, 2**31], got {short(epochs_done)}"
        )
    epochs_done = int(epochs_done)
    history = _checked_history(where, state["history"], state["history_epochs"], epochs_done)
    return _Restored(
        epochs_done,
        history,
        _checked_callbacks(where, state["callbacks"], run.callbacks),
        _checked_generators(where, state["generators"], dict(generators(run))),
    )


_STATE_KEYS = ("epochs_done", "history", "history_epochs", "callbacks", "generators")


def _checked_history(where: str, values: object, epochs: object, epochs_done: int) -> History:
    """The saved history: epochs increasing integers below ``epochs_done``, and for each
    logged name one number (or null) per epoch."""
    if not (
        isinstance(epochs, list)
        and all(is_integer(e) and 0 <= e < epochs_done for e in epochs)
        and all(a < b for a, b in itertools.pairwise(epochs))
    ):
        raise CheckpointError(
            f"{where}: 'history_epochs' must list increasing epoch numbers below "
            f"epochs_done {epochs_done}, got {short(epochs)}"
        )
    if not isinstance(values, dict):
        raise CheckpointError(f"{where}: 'history' must be an object, got {short(values)}")
    for name, series in values.items():
        if not (
            isinstance(series, list)
            and len(series) == len(epochs)
            and all(value is None or is_real(value) for value in series)
        ):
            raise CheckpointError(
                f"{where}: history {repr(name)[:40]} must be a list of {len(epochs)} numbers "
                f"(one per epoch in history_epochs), got {short(series)}"
            )
    history = History()
    for i, epoch in enumerate(epochs):
        history.record(int(epoch), {name: series[i] for name, series in values.items()})
    return history


def _checked_callbacks(
    where: str, saved: object, callbacks: list[Callback]
) -> list[tuple[Callback, dict[str, Any]]]:
    """Each of the run's callbacks with state, paired with its saved state: the same
    types in the same order."""
    if not (
        isinstance(saved, list)
        and all(
            isinstance(entry, dict)
            and isinstance(entry.get("type"), str)
            and isinstance(entry.get("state"), dict)
            for entry in saved
        )
    ):
        raise CheckpointError(
            f"{where}: 'callbacks' must be a list of {{'type': name, 'state': object}}, "
            f"got {short(saved)}"
        )
    with_state = [entry for entry in saved if entry["state"]]
    stateful = [c for c in callbacks if c.state_dict()]
    if [entry["type"] for entry in with_state] != [type(c).__name__ for c in stateful]:
        raise CheckpointError(
            f"{where}: the checkpoint's callbacks with state "
            f"{[entry['type'] for entry in with_state]} differ from this run's "
            f"{[type(c).__name__ for c in stateful]}"
        )
    return [(c, entry["state"]) for c, entry in zip(stateful, with_state, strict=True)]


def _checked_generators(
    where: str, saved: object, ours: dict[str, np.random.Generator]
) -> dict[str, dict[str, Any]]:
    """The saved state of each of the run's generators, each tried on a fresh generator
    of the same kind first."""
    if not isinstance(saved, dict) or set(saved) != set(ours):
        names = sorted(saved) if isinstance(saved, dict) else short(saved)
        raise CheckpointError(
            f"{where}: the checkpoint's random generators {names} "
            f"differ from this run's {sorted(ours)}"
        )
    for name, generator in ours.items():
        fresh = type(generator.bit_generator)()
        try:
            fresh.state = saved[name]
        except (LookupError, TypeError, ValueError, OverflowError) as error:
            raise CheckpointError(
                f"{where}: generator {name!r}: not a {type(fresh).__name__} state "
                f"({type(error).__name__}: {error})"
            ) from error
    return dict(saved)
