"""A digest sealed onto a cache entry's bytes, so an entry damaged on disk (a flipped bit, a
write cut short by another tool) is detected instead of read as data."""

from __future__ import annotations

import hashlib

DIGEST_SIZE = 16


def seal(payload: bytes) -> bytes:
    """``payload`` followed by its digest."""
    return payload + _digest(payload)


def unseal(data: bytes) -> bytes | None:
    """The payload of sealed ``data``, or None when its digest does not match."""
    if len(data) < DIGEST_SIZE:
        return None
    payload, digest = data[:-DIGEST_SIZE], data[-DIGEST_SIZE:]
    return payload if _digest(payload) == digest else None


def _digest(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest()[:DIGEST_SIZE]
