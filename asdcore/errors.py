"""The one exception type that carries a message meant for the user.

Raise `ASDError("one clear sentence.")` for anything the user can fix (a missing folder, a
corrupt file, a bad name); the command line prints the sentence without a traceback and the
app shows it as an error box. Anything else is a bug and keeps its traceback.

A full disk is something the user can fix too: `disk_full_error` turns the operating system's
"no space left" / "file too large" / "quota exceeded" errors into one sentence naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import os

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class ASDError(Exception):
    """A user-facing error whose message is one sentence."""


class Cancelled(ASDError):
    """Long work stopped because its cancel check returned True."""


class DiskFull(ASDError):
    """A write failed because the disk (or the allowed file size or quota) is full."""


def is_disk_full(err: BaseException) -> bool:
    """True when ``err`` or an exception it was raised from is a disk-full `OSError`."""
    return any(isinstance(e, DiskFull) or (isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS)
               for e in _chain(err))


def disk_full_error(err: BaseException, path: str | os.PathLike | None = None) -> DiskFull:
    """The `DiskFull` sentence for a write of ``path`` (or the file ``err`` names) that failed."""
    if isinstance(err, DiskFull):
        return err
    path = path if path is not None else getattr(err, "filename", None)
    where = f"write {os.fspath(path)}" if path is not None else "write a file"
    reason = next((e.strerror for e in _chain(err)
                   if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS and e.strerror),
                  "no space left on device")
    return DiskFull(f"Could not {where}: the disk is full or the file is over the allowed size "
                    f"({reason[:1].lower() + reason[1:]}); free some disk space and try again.")


def _chain(err: BaseException | None):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


@contextlib.contextmanager
def writing(path: str | os.PathLike):
    """Around a plain write of ``path``: a disk-full `OSError` becomes `DiskFull` naming it.
    (`asdcore.atomic` does this for its writes itself.)"""
    try:
        yield
    except OSError as err:
        if is_disk_full(err):
            raise disk_full_error(err, path) from err
        raise
