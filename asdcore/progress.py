"""Progress reporting and cancellation for long work.

Long-running engine functions take two optional callables:

- ``progress(done, total, message, **fields)``: called as work advances (``done`` of
  ``total`` units). ``fields`` are the event's structured fields (`ProgressEvent`: stage,
  epoch, epochs, loss); a callback that takes no keyword arguments gets the three positional
  ones only, so ``progress(done, total, message="")`` callbacks keep working;
- ``cancel()``: polled between units; when it returns True the function raises `Cancelled`.

The command line passes a terminal bar (`terminal_progress`) that also records each event in
the run's progress.jsonl, the app an ``st.progress`` adapter, the tests nothing. Readers (the
loss curve, the report, the tests) read fields, never the message, which is for people.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from typing import Protocol

from asdcore.errors import Cancelled


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "", **fields) -> None: ...


CancelFn = Callable[[], bool]


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """One progress event as progress.jsonl stores it (plus the ``time`` it was written).

    ``stage`` names the part of a larger job (``"training: fan training"``), ``epoch`` (1-based)
    of ``epochs`` and ``loss`` are set by training loops; unset fields are None.
    """

    step: int
    total: int
    message: str = ""
    stage: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None

    def as_record(self) -> dict:
        """Every field, None included: a record without an ``epoch`` key predates fields."""
        return dataclasses.asdict(self)


def report(progress: ProgressFn | None, done: int, total: int, message: str = "",
           **fields) -> None:
    """Call ``progress`` if there is one, with ``fields`` (`ProgressEvent` names) where it
    takes keyword arguments."""
    if progress is None:
        return
    ProgressEvent(done, total, message, **fields)  # a misspelt field fails here, at the source
    if fields and _takes_fields(progress):
        progress(done, total, message, **fields)
    else:
        progress(done, total, message)


def _takes_fields(progress: Callable) -> bool:
    try:
        parameters = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: positional only
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_cancel(cancel: CancelFn | None) -> None:
    """Raise `Cancelled` when the cancel check says so."""
    if cancel is not None and cancel():
        raise Cancelled("The work was cancelled.")


class terminal_progress:
    """A tqdm bar on stderr when it is a terminal, silent otherwise; usable as ``progress``
    (it shows the message and ignores the other fields).

    Use as a context manager so the bar is closed even when the work fails.
    """

    def __init__(self, description: str, stream=None):
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self._bar = None

    def __call__(self, done: int, total: int, message: str = "", **fields) -> None:
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

    The stage's own ``(done, total)`` is mapped onto the whole job in thousandths, its message
    and ``stage`` field are prefixed with ``label``, and its other fields passed on, so nested
    work drives one bar.
    """
    if progress is None:
        return None

    def staged(done: int, total: int, message: str = "", **fields) -> None:
        fraction = done / total if total else 1.0
        inner = fields.pop("stage", None)
        report(progress, round(1000 * (index + fraction)), 1000 * count,
               f"{label}: {message}" if message else label,
               stage=f"{label}: {inner}" if inner else label, **fields)

    return staged
