"""Crash-safe file writes: write a temporary file beside the target, then rename over it.

A reader sees either the old complete file or the new complete file, never a half-written
one; a crash mid-write leaves the old file and at worst a stray ``.tmp-*`` file.

A write that fails because the disk is full (or the file is over the allowed size or quota)
raises `DiskFull`, one sentence naming the target, whatever library did the writing: libraries
report it in their own ways (``torch.save`` as a RuntimeError without an errno, ``np.save`` as
an OSError without one), so after a failure the folder is probed for room.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from asdcore.errors import DISK_FULL_ERRNOS, ASDError, disk_full_error, is_disk_full


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_DEFAULT_FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    For writers that insist on a file name (``soundfile.write``, ``np.save``). The temporary
    name keeps the target's suffix so format detection by extension still works.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{target.stem}-", suffix=target.suffix,
                                   dir=target.parent)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full_error(err, target) from err
        raise
    os.close(fd)
    os.chmod(tmp, _DEFAULT_FILE_MODE)  # mkstemp makes it private; targets are ordinary files
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except ASDError:
        raise
    except Exception as err:
        if is_disk_full(err) or _out_of_space(tmp):
            raise disk_full_error(err, target) from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


_PROBE_BYTES = 1 << 20


def _out_of_space(tmp: str) -> bool:
    """True when the file system refuses more data in ``tmp`` (a temporary file about to be
    deleted): up to 1 MiB is appended to it to find out."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_APPEND)
    except OSError as err:
        return err.errno in DISK_FULL_ERRNOS
    chunk, written = bytes(64 << 10), 0
    try:
        while written < _PROBE_BYTES:
            written += os.write(fd, chunk)
    except OSError as err:
        return err.errno in DISK_FULL_ERRNOS
    finally:
        os.close(fd)
    return False


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    """Atomically replace ``path`` with ``obj`` as indented JSON."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
