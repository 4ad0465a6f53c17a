"""Atomic file writes: a file is either its old self or complete, never half-written.

``atomic_write(path)`` writes a temporary file beside ``path`` and renames it over
``path`` once it is complete and on disk.

**Temporary names.** ``.NAME.XXXXXXXX.tmp`` (``X``: 8 random hex digits), in the
target's folder, so the rename is atomic. When that would exceed the folder's file-name
limit (NAME_MAX, 255 bytes on most file systems; a target name of 242 or more bytes),
the first bytes of NAME and 8 hex digits of its SHA-256 stand in for it:
``.NAME-PREFIX~HASH.XXXXXXXX.tmp``, so any name that can be saved to at all can be
saved to atomically.

**Stale temporaries.** A save killed mid-write (SIGKILL, power loss) cannot remove its
temporary file. So each save first removes the temporaries that earlier saves *to the
same target* left behind: only names of exactly the pattern above for this target
(``.NAME.`` + 8 characters of ``[0-9a-z_]`` + ``.tmp``, which also covers the names
``tempfile.mkstemp`` gave before this scheme), only regular files (never a symlink),
and only files no live process is writing. That last check is a lock, not an age or a
pid: a writer holds an exclusive ``flock`` on its temporary file from creation until
after the rename, and the kernel drops it when the process dies, however it dies. A
cleaner removes a file only if it can take that lock without waiting. So two
processes saving to the same target at once never remove each other's live file; the
one gap, a cleaner locking a file in the instant between its creation and its
writer's lock, is closed by the writer, which then finds its file unlinked
(``st_nlink == 0``) and starts again with a new one. Where ``flock`` does not exist
(Windows) nothing is locked and nothing is cleaned up.

**Targets.** An existing target that is not a regular file (a symlink, a device such as
``/dev/null``, a FIFO) is refused before anything is written: the rename would replace
it with a regular file.

**Errors.** An ``OSError`` while creating, writing, syncing or renaming the temporary
file (disk full, permission denied) is raised again with its errno and ``path`` as its
file name (``[Errno 28] No space left on device: 'model.npz'``), not the temporary's;
the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

if sys.platform != "win32":
    import fcntl

SUFFIX = ".tmp"
_RANDOM_DIGITS = 8
_BINARY = getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on success replace ``path``.

    The temporary file is in the same folder (so the rename is atomic), is flushed and
    fsynced before it is renamed over ``path``, and is removed if the block raises:
    a crash or an error mid-write leaves the previous file intact. Temporaries left by
    earlier, killed saves to ``path`` are removed first (see the module's docstring).

        with atomic_write("model.npz") as f:
            f.write(data)
    """
    target = Path(path)
    refuse_non_regular(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    stem = temporary_stem(target)
    remove_stale_temporaries(folder, stem)
    with _naming(target, folder / stem):
        fd, temp = _create_locked(folder, stem)
    handle = os.fdopen(fd, "wb")
    try:
        with _naming(target, folder / stem):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if sys.platform == "win32":
                handle.close()  # Windows cannot rename an open file (and has no lock to keep)
            os.replace(temp, target)  # the lock is still held: no cleaner can take the file
    except BaseException:
        with contextlib.suppress(OSError):  # flushing the rest may fail again (disk full)
            handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    finally:
        handle.close()
    _fsync_directory(folder)


def check_writable(path: str | os.PathLike[str], size: int = 0) -> None:
    """Raise the ``OSError`` that `atomic_write` to ``path`` would meet, before anything is
    written: so a long run can refuse a typo in an output path at its start.

    Refused: ``path`` an existing directory (``IsADirectoryError``) or other non-regular
    file; its folder, or the nearest existing folder above (`atomic_write` creates the
    missing ones), not a directory (``NotADirectoryError``) or not writable
    (``PermissionError``, read-only file systems too); fewer than ``size`` bytes free
    there (``errno.ENOSPC``: ``size`` is a lower bound of what will be written). In an
    existing folder, writability is tried for real: a temporary file is created and
    removed at once, as `atomic_write` creates its own. Creates no folder.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory (expected a file name)", str(path))
    refuse_non_regular(target)
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(existing))
    if existing == target.parent:
        stem = temporary_stem(target)
        with _naming(target, existing / stem):
            fd, temp = _create_locked(existing, stem)
        os.close(fd)
        os.unlink(temp)
    elif not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(existing))
    free = shutil.disk_usage(existing).free
    if free < size:
        raise OSError(
            errno.ENOSPC,
            f"No space left on device (at least {size:,} bytes to write, {free:,} free)",
            str(path),
        )


def refuse_non_regular(target: Path) -> None:
    """Raise ``OSError(EINVAL)`` if ``target`` exists and is not a regular file: a
    symlink (even to a regular file), a device such as ``/dev/null``, a FIFO or a socket,
    which renaming a temporary over it would replace by a regular file."""
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a new file, or a bad folder said later
        return
    if stat.S_ISREG(mode):
        return
    kind = (
        "a directory (expected a file name)"
        if stat.S_ISDIR(mode)
        else "a symlink"
        if stat.S_ISLNK(mode)
        else "a device, FIFO or socket"
    )
    raise OSError(
        errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
        f"Exists and is not a regular file: {kind}; writing would replace it, "
        "so name a new or regular file",
        str(target),
    )


def temporary_stem(target: Path) -> str:
    """``.NAME`` for `atomic_write`'s temporary names, shortened (with a hash) if needed."""
    name = target.name
    room = _name_max(target.parent) - len(f"..{'x' * _RANDOM_DIGITS}{SUFFIX}")
    if len(os.fsencode(name)) <= room:
        return f".{name}"
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    prefix = os.fsencode(name)[: room - len(f"~{digest}")].decode("utf-8", "ignore")
    return f".{prefix}~{digest}"


def remove_stale_temporaries(folder: Path, stem: str) -> None:
    """Remove the temporary files named ``STEM.XXXXXXXX.tmp`` in ``folder`` that no live
    writer holds (see the module's docstring); never raises."""
    if sys.platform == "win32":
        return
    random = rf"\.[0-9a-z_]{{{_RANDOM_DIGITS}}}"
    pattern = re.compile(re.escape(stem) + random + re.escape(SUFFIX))
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name):
                _remove_if_abandoned(entry.path)


def _remove_if_abandoned(path: str) -> None:
    """Unlink ``path`` if it is a regular file whose lock can be taken at once."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:  # gone already, another user's, or a symlink
        return
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode):
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live writer holds it
            return
        current = os.stat(path, follow_symlinks=False)
        if (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            os.unlink(path)
    except OSError:  # renamed over its target or removed meanwhile: nothing to do
        pass
    finally:
        os.close(fd)


def _create_locked(folder: Path, stem: str) -> tuple[int, str]:
    """A new temporary file ``STEM.XXXXXXXX.tmp`` in ``folder``, opened for writing and
    exclusively locked (permissions: 0o666 less the umask, as any new file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
    while True:
        temp = str(folder / f"{stem}.{secrets.token_hex(_RANDOM_DIGITS // 2)}{SUFFIX}")
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        if sys.platform == "win32":
            return fd, temp
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a cleaner holds it, an instant
        if os.fstat(fd).st_nlink > 0:
            return fd, temp
        os.close(fd)  # a cleaner removed it before the lock was taken: start again


@contextlib.contextmanager
def _naming(target: Path, temp_stem: Path) -> Iterator[None]:
    """Raise an ``OSError`` about a temporary file (or about no file) as one about
    ``target``, with the same errno (and so the same subclass)."""
    try:
        yield
    except OSError as error:
        about_temp = error.filename is None or str(error.filename).startswith(str(temp_stem))
        if error.errno is None or not about_temp:
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error


def _name_max(folder: Path) -> int:
    """The longest file name ``folder``'s file system allows, in bytes (255 if unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
