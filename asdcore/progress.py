"""Progress reporting and cancellation for long work.

Long-running engine functions take two optional callables:

- ``progress(done, total, message)``: called as work advances (``done`` of ``total`` units);
- ``cancel()``: polled between units; when it returns True the function raises `Cancelled`.

The command line passes a terminal bar (`terminal_progress`), the app an ``st.progress``
adapter, the tests nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from asdcore.errors import Cancelled


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


CancelFn = Callable[[], bool]


def report(progress: ProgressFn | None, done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(done, total, message)


def check_cancel(cancel: CancelFn | None) -> None:
    """Raise `Cancelled` when the cancel check says so."""
    if cancel is not None and cancel():
        raise Cancelled("The work was cancelled.")


class terminal_progress:
    """A tqdm bar on stderr when it is a terminal, silent otherwise; usable as ``progress``.

    Use as a context manager so the bar is closed even when the work fails.
    """

    def __init__(self, description: str, stream=None):
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self._bar = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not getattr(self.stream, "isatty", lambda: False)():
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.description, file=self.stream, unit="it")
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        if message:
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def stage(progress: ProgressFn | None, index: int, count: int, label: str) -> ProgressFn | None:
    """A callback for stage ``index`` of ``count`` equal stages of a larger job.

    The stage's own ``(done, total)`` is mapped onto the whole job in thousandths, and its
    message is prefixed with ``label``, so nested work drives one bar.
    """
    if progress is None:
        return None

    def staged(done: int, total: int, message: str = "") -> None:
        fraction = done / total if total else 1.0
        progress(round(1000 * (index + fraction)), 1000 * count,
                 f"{label}: {message}" if message else label)

    return staged
