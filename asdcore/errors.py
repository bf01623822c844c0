"""The one exception type that carries a message meant for the user.

Raise `ASDError("one clear sentence.")` for anything the user can fix (a missing folder, a
corrupt file, a bad name); the command line prints the sentence without a traceback and the
app shows it as an error box. Anything else is a bug and keeps its traceback.
"""


class ASDError(Exception):
    """A user-facing error whose message is one sentence."""


class Cancelled(ASDError):
    """Long work stopped because its cancel check returned True."""
