"""Files that are never half-written: write to a temporary file beside the target, then rename.

A temporary file is named ``.<name>.<random>.partial`` and holds an advisory lock while it is written;
``remove_stale_partials`` removes those whose writer is gone (a process killed with SIGKILL cannot remove
its own). A write that fails for a reason the user can fix (a full disk, a read-only file system, no
permission, a folder where a file should be) is a ``BenchError`` that names the path.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from bench.errors import BenchError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
PARTIAL_SUFFIX = ".partial"
"""Suffix of ``atomic_write``'s temporary files (``.<name>.<random>.partial``)."""
STALE_AGE_S = 3600.0
"""A temporary file or folder older than this is a leftover even where no lock can tell."""


class WriteError(BenchError, OSError):
    """A file that could not be written for a reason the user can fix; still an ``OSError`` (with its errno),
    so that callers that go on without the file (a cache) keep doing so."""

    def __init__(self, code: int, message: str, path: str | Path):
        super().__init__(code, message)
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


def write_error(e: OSError, path: str | Path) -> WriteError | None:
    """The sentence for an ``OSError`` met while writing ``path`` (None: not one a user can fix)."""
    if isinstance(e, WriteError):
        return e
    code = e.errno
    where = "; free some space or choose another out=/data_dir="
    if code == errno.ENOSPC:
        return WriteError(code, f"no space left on the device to write {path}{where}", path)
    if code == errno.EDQUOT:
        return WriteError(code, f"disk quota exceeded: no space left to write {path}{where}", path)
    if code == errno.EROFS:
        return WriteError(code, f"the file system is read-only: cannot write {path}; choose another out=/data_dir=",
                          path)  # fmt: skip
    if code in (errno.EACCES, errno.EPERM):
        return WriteError(code, f"no permission to write {path}; choose another out=/data_dir=", path)
    if code == errno.EISDIR:
        return WriteError(code, f"cannot write {path}: it is a folder, not a file", path)
    if code in (errno.ENOTDIR, errno.EEXIST):
        return WriteError(code, f"cannot write {path}: {_blocking_file(path)} is a file, not a folder", path)
    return None


def _blocking_file(path: str | Path) -> Path:
    """The first ancestor of ``path`` that exists and is not a folder (else the path's parent)."""
    path = Path(os.path.abspath(path))
    for parent in reversed(path.parents):
        if os.path.lexists(parent) and not parent.is_dir():
            return parent
    return path.parent


def _folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a writable folder (None: it can, or can be created as one)."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if probe.is_symlink() and not probe.exists():
        return f"{probe} is a broken link"
    if not probe.is_dir():
        return "it is a file, not a folder" if probe == path else f"{probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "it" if probe == path else str(probe)
        return f"{where} is not writable (a read-only folder or file system)"
    return None


def check_writable_dir(path: str | Path, key: str) -> None:
    """Raise a ``BenchError`` naming ``key=path`` unless ``path`` is (or can be created as) a writable folder.
    ``key``: ``out``, ``data_dir`` (a configuration key) or ``--out`` (an option)."""
    problem = _folder_problem(Path(os.path.abspath(path)))
    if problem:
        given = f"{key} {path}" if key.startswith("-") else f"{key}={path}"
        hint = f"another {key}" if key.startswith("-") else f"another {key}="
        raise BenchError(f"cannot write to {given}: {problem}; choose {hint}")


def check_writable_file(path: str | Path, option: str) -> None:
    """Raise a ``BenchError`` naming ``option path`` unless a file can be written at ``path``."""
    full = Path(os.path.abspath(path))
    if full.is_dir():
        raise BenchError(f"cannot write {option} {path}: it is a folder; name a file (e.g. {full / 'table.csv'})")
    problem = _folder_problem(full.parent)
    if problem:
        raise BenchError(f"cannot write {option} {path}: {problem.replace('it ', f'{full.parent} ', 1)}")


def _lock(fd: int) -> bool:
    """Take the advisory lock of a file being written (released when the writer's process ends)."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


class Busy(BenchError):
    """Another process holds a lock that ``file_lock(..., wait=False)`` asked for."""


@contextmanager
def file_lock(path: str | Path, wait: bool = True, what: str = "") -> Iterator[bool]:
    """Hold an exclusive advisory lock (``flock``) on the file ``path`` for the block; the file is created for it
    and removed at the end of the block (a waiter that then holds a removed file takes the new one).

    The kernel releases the lock when the holder's process ends, however it ends (a job killed by a scheduler
    holds nothing; its file stays and is reused), and on a shared file system (NFS v4, Lustre and GPFS mounted
    with locks) every node sees it. Re-entrant within a thread: a nested block on the same path runs at once.
    ``wait``: wait for the holder, saying once on stderr that ``what`` is waited for; otherwise raise ``Busy``.
    Yields whether the lock is held (False only where the platform or the file system has no ``flock``: the
    block runs unlocked, as before locks).
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    path = Path(path)
    held = _held_here()
    key = os.path.abspath(path)
    if key in held:  # this thread holds it already (a nested call): flock would wait for ourselves
        yield True
        return
    said = False
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            friendly = write_error(e, path)
            if friendly is None:
                raise
            raise friendly from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in _NO_LOCKS:  # a file system without locks: as without flock
                os.close(fd)
                yield False
                return
            busy = e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
            if not busy or not wait:
                os.close(fd)
                if busy:
                    raise Busy(f"{what or path} is in use by another process (it holds the lock {path})") from None
                raise
            if not said:
                print(f"waiting for another process: {what or path} (lock {path})", file=sys.stderr, flush=True)
                said = True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder removed it while we waited: lock the file now at ``path``
    held.add(key)
    try:
        yield True
    finally:
        held.discard(key)
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


_HELD = threading.local()


def _held_here() -> set[str]:
    """The lock files this thread holds (``file_lock`` is re-entrant within a thread)."""
    if not hasattr(_HELD, "paths"):
        _HELD.paths = set()
    return _HELD.paths


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path``."""
    try:
        st, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file and rename it to ``path`` (mode 0644).

    An interrupt or error leaves ``path`` as it was and no temporary file behind; a full disk, a
    read-only file system and the like are a ``WriteError`` (a ``BenchError``) naming ``path``.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
        _lock(fd)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; records and data are meant to be shared
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            friendly = write_error(e, path)
            if friendly is not None and friendly is not e:
                raise friendly from None
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def _is_stale(path: Path, min_age_s: float) -> bool:
    """Whether a temporary file's writer is gone: not locked and older than ``min_age_s`` (where locks
    cannot tell: older than ``STALE_AGE_S``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        age = time.time() - st.st_mtime
        if fcntl is None:
            return age > STALE_AGE_S
        if age < min_age_s:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        return True
    finally:
        os.close(fd)


def remove_stale_partials(folder: str | Path, min_age_s: float = 10.0) -> list[Path]:
    """Remove ``atomic_write``'s leftover temporary files in ``folder`` (not recursive) whose writer is gone;
    returns them. Never raises: a folder that cannot be listed or cleaned is left as it is."""
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX)]
    except OSError:
        return removed
    for p in candidates:
        if _is_stale(p, min_age_s):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def save_npz(f: BinaryIO, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """Like ``np.savez`` (loadable with ``np.load``), but byte-identical for identical arrays:
    entries in sorted order with a fixed timestamp (``np.savez`` stamps the current time). ``compress``:
    deflate the entries (``np.savez_compressed``): for saved predictions, whose repeats (a copied frame,
    a uniform posterior) would otherwise fill the official records."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, mode="w", compression=method, allowZip64=True) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = method
            with zf.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(arrays[name]), allow_pickle=False)
