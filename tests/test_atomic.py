"""Atomic writes: killed saves, their stale temporaries, concurrent savers, long names
and errors that name the file (`tinynet.atomic`)."""

from __future__ import annotations

import errno
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import Dense, ReLU, Sequential
from tinynet.atomic import atomic_write, temporary_stem
from tinynet.io import load_full

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and SIGKILL are POSIX")

SAVER = """
import sys
import tinynet
from tinynet import Dense, ReLU, Sequential
model = Sequential(Dense(784, 256), ReLU(), Dense(256, 10))
print("ready", flush=True)
for i in range(int(sys.argv[2])):
    for p in model.parameters():
        p.data.fill(i)
    tinynet.save(model, sys.argv[1], metadata={"v": i})
"""
"""Saves a 0.8 MB model over and over, every array filled with the save's number."""


def temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def small(value: float = -1.0) -> Sequential:
    model = Sequential(Dense(3, 2), ReLU())
    for p in model.parameters():
        p.data.fill(value)
    return model


def test_killed_saves_leave_a_loadable_target_and_no_temporary(tmp_path: Path) -> None:
    """SIGKILL a saving process 30 times at random moments: the target always loads, with
    arrays that all match its metadata, and the next save leaves no temporary file."""
    target = tmp_path / "model.npz"
    rng = random.Random(0)
    left_behind = 0
    for _ in range(30):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(target), "1000000"], stdout=subprocess.PIPE
        )
        assert saver.stdout is not None
        assert saver.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
        saver.kill()
        saver.wait()
        left_behind += bool(temporaries(tmp_path))
        if target.exists():  # the first kill may come before any save finished
            loaded = load_full(target)
            version = loaded.metadata["v"]
            assert all(np.all(p.data == version) for p in loaded.model.parameters())
        tinynet.save(small(), target, metadata={"v": -1})
        assert temporaries(tmp_path) == []
    print(f"{left_behind} of 30 kills left a temporary file")
    assert left_behind >= 3, "the kills should often land in the middle of a save"


def test_concurrent_savers_never_remove_each_others_files(tmp_path: Path) -> None:
    """Two processes saving to one target at once: each save's cleanup tries to take the
    other's live temporary file and must not; both finish, the target loads."""
    target = tmp_path / "model.npz"
    savers = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(target), "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for saver in savers:
        _, stderr = saver.communicate(timeout=300)
        assert saver.returncode == 0, stderr.decode()
    loaded = load_full(target)
    assert all(np.all(p.data == loaded.metadata["v"]) for p in loaded.model.parameters())
    assert temporaries(tmp_path) == []


def test_only_abandoned_temporaries_of_the_same_target_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "model.npz"
    stale = [".model.npz.0123abcd.tmp", ".model.npz.k2_x9zq1.tmp"]  # ours; mkstemp's before
    kept = [
        ".other.npz.0123abcd.tmp",  # another target's
        ".model.npz.0123abc.tmp",  # not the pattern
        ".model.npz.0123abcd.tmp.bak",
        "model.npz.0123abcd.tmp",
        ".model.npz.0123ABCD.tmp",
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / "elsewhere").write_bytes(b"not a temporary")
    (tmp_path / ".model.npz.11111111.tmp").symlink_to(tmp_path / "elsewhere")
    (tmp_path / ".model.npz.22222222.tmp").mkdir()
    tinynet.save(small(), target)
    left = set(os.listdir(tmp_path))
    assert not left & set(stale)
    assert set(kept) | {".model.npz.11111111.tmp", ".model.npz.22222222.tmp"} <= left
    assert (tmp_path / "elsewhere").read_bytes() == b"not a temporary"


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(60)
"""


def test_a_temporary_held_by_a_live_writer_is_kept(tmp_path: Path) -> None:
    live = tmp_path / ".model.npz.feedf00d.tmp"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(live)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"holding\n"
        tinynet.save(small(), tmp_path / "model.npz")
        assert live.exists()
    finally:
        holder.kill()
        holder.wait()
    tinynet.save(small(), tmp_path / "model.npz")  # its writer is dead now
    assert not live.exists()


def test_a_temporary_removed_before_its_writer_locks_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gap between creating a temporary and locking it: a cleaner in another process
    locks and unlinks it there. The writer must notice and use a new file."""
    import tinynet.atomic as atomic

    real_flock = atomic.fcntl.flock
    calls = []

    def cleaner_first(fd: int, operation: int) -> None:
        if not calls:
            (name,) = temporaries(tmp_path)
            os.unlink(tmp_path / name)
        calls.append(operation)
        real_flock(fd, operation)

    monkeypatch.setattr(atomic.fcntl, "flock", cleaner_first)
    with atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"complete")
    assert (tmp_path / "out.bin").read_bytes() == b"complete"
    assert len(calls) == 2
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("name", ["m" * 251 + ".npz", "é" * 125 + ".npz", "x" * 255])
def test_the_longest_names_can_be_saved_to(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    assert len(os.fsencode(name)) <= 255
    stem = temporary_stem(target)
    assert len(os.fsencode(f"{stem}.01234567.tmp")) <= 255
    (tmp_path / f"{stem}.0badf00d.tmp").write_bytes(b"left by a killed save")
    tinynet.save(small(), target)
    assert tinynet.load(target).num_parameters() == 8
    assert temporaries(tmp_path) == []


def test_distinct_long_names_get_distinct_temporaries(tmp_path: Path) -> None:
    a, b = "a" * 250 + "1", "a" * 250 + "2"
    assert temporary_stem(tmp_path / a) != temporary_stem(tmp_path / b)
    assert temporary_stem(tmp_path / "model.npz") == ".model.npz"


def test_disk_full_names_the_file_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.npz"
    tinynet.save(small(1.0), target)
    before = target.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*model\.npz'") as error:
        tinynet.save(small(2.0), target)
    assert error.value.errno == errno.ENOSPC
    assert error.value.filename == str(target)
    assert target.read_bytes() == before
    assert temporaries(tmp_path) == []


def test_an_error_about_another_file_is_left_alone(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="elsewhere"), atomic_write(tmp_path / "x") as _:
        open(tmp_path / "elsewhere")  # noqa: SIM115 - the error is the point
    assert os.listdir(tmp_path) == []


def test_the_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.bin") as handle:
            handle.write(b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644


def test_a_disk_full_in_the_middle_of_writing(tmp_path: Path) -> None:
    """A write error raised inside the block (as ``handle.write`` raises on a full
    disk) also names the target, and removes the temporary file."""
    target = tmp_path / "big.npz"

    def fill_the_disk() -> None:
        with atomic_write(target) as handle:
            handle.write(b"x" * 2**20)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match=r"big\.npz") as error:
        fill_the_disk()
    assert error.value.errno == errno.ENOSPC
    assert not target.exists()
    assert temporaries(tmp_path) == []


# --- non-regular targets (r3 d04) and durability order ------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks and FIFOs")
def test_a_symlink_or_fifo_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    """Renaming over them would turn /dev/stdout's symlink or a device into a file."""
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    link, fifo = tmp_path / "link.npz", tmp_path / "fifo"
    link.symlink_to(real)
    os.mkfifo(fifo)
    for target, kind in ((link, "a symlink"), (fifo, "a device, FIFO or socket")):
        with pytest.raises(OSError, match=f"not a regular file: {kind}") as error:
            tinynet.save(Sequential(Dense(2, 2)), target)
        assert error.value.errno == errno.EINVAL
        assert error.value.filename == str(target)
    assert link.is_symlink()
    assert real.read_bytes() == b"old"
    assert fifo.is_fifo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.npz", "real.npz"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_device_target_is_refused_by_every_writer(tmp_path: Path) -> None:
    from tinynet.io import save_safetensors
    from tinynet.io.jsonfile import write_json

    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    model = Sequential(Dense(2, 2))
    for write in (
        lambda: tinynet.save(model, device),
        lambda: save_safetensors(model, device),
        lambda: write_json(device, {}),
    ):
        with pytest.raises(OSError, match="not a regular file: a device"):
            write()
        assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_file_fsync_then_replace_then_directory_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The durability order, proven with a spy: the data reaches the disk before the
    rename makes it the target, and the folder's entry after the rename."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        what = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        calls.append(("fsync", what))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"data")
        assert calls == []  # nothing synced while the block writes
    assert calls == [("fsync", "file"), ("replace", "out.bin"), ("fsync", "folder")]
    assert (tmp_path / "out.bin").read_bytes() == b"data"
