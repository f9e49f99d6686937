"""Prediction ids: a signed token any replica can verify without shared state.

Every predicted row gets an id that carries what a label is scored against: the served
prediction (class name or value), the model version, the time it was served and a random
nonce, followed by a 128-bit tag: keyed BLAKE2b (a MAC by design, RFC 7693; three times
cheaper per row than HMAC-SHA256 here) under a key derived from FEEDBACK_KEY (shared by the
replicas).
Whoever holds the id can read it (it is not encrypted); nobody without the key can make one
or change what it says. Layout (then base64url, no padding):

    byte 0        format: 1 = class label, 2 = numeric value
    bytes 1-6     served at, milliseconds since the Unix epoch (48-bit big-endian)
    bytes 7-14    nonce (random)
    format 1:     width W (1 byte), length L (1 byte), label as UTF-8 padded with zeros to W
    format 2:     the value as a big-endian float64 (8 bytes)
    then          version length V (1 byte), model version as UTF-8 (V bytes), zero bytes
                  so that payload + tag is a multiple of 3 bytes
    last 16       BLAKE2b(payload, key=mac_key(key), digest_size=16)

Every row of one model has the same layout and length, so `Signer.issue` builds a batch's
payloads as one numpy array, signs them in one loop and base64-encodes them in one call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CLASS, VALUE = 1, 2
TAG = 16
HEAD = 15  # format + time + nonce
MAX_TOKEN_CHARS = 800  # the longest possible id is 728; longer strings are refused unread


class IdError(ValueError):
    """An id that can't be accepted; `reason` is a short label (metrics, per-item refusals)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Issued:
    """What a verified id says."""

    served_ms: int
    nonce: bytes
    version: str
    label: str | None  # the served class (classification)
    value: float | None  # the served value (regression)

    @property
    def served_at(self) -> float:
        return self.served_ms / 1000.0


def mac_key(secret: bytes) -> bytes:
    """The 64-byte BLAKE2b key of the ids, derived from a FEEDBACK_KEY of any length (and
    apart from the other keys derived from it, e.g. capture's column hash)."""
    return hashlib.blake2b(secret, person=b"prediction-id").digest()


def _utf8(text: str, what: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError(f"{what} {text[:40]!r}… is longer than 255 bytes")
    return raw


class Signer:
    """Issues ids for one model (its classes and version) and verifies anyone's ids.

    `keys[0]` signs; every key verifies (so a key can be rotated: add the new one first, keep
    the old one second until the ids it signed are too old to be labelled).
    """

    def __init__(self, keys: Sequence[bytes], version: str, classes: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no feedback key")
        self.keys = list(keys)
        self._macs = [hashlib.blake2b(key=mac_key(k), digest_size=TAG) for k in self.keys]
        version_bytes = _utf8(version, "model version")
        self.classification = bool(classes)
        if self.classification:
            names = [_utf8(c, "class") for c in classes]
            width = max(len(n) for n in names)
            table = np.zeros((len(names), 2 + width), np.uint8)
            for i, name in enumerate(names):
                table[i, 0], table[i, 1] = width, len(name)
                table[i, 2 : 2 + len(name)] = np.frombuffer(name, np.uint8)
            self._labels = table
            body = HEAD + table.shape[1]
        else:
            self._labels = np.zeros((0, 0), np.uint8)
            body = HEAD + 8
        tail = bytes([len(version_bytes)]) + version_bytes
        size = body + len(tail)
        size += -(size + TAG) % 3  # payload + tag: a multiple of 3 → fixed-width base64
        self.size, self._body, self._tail = size, body, tail
        self.width = (size + TAG) * 4 // 3  # characters of one id
        # One row without numpy (its per-call cost is most of a single-record request's id).
        self._label_bytes = [row.tobytes() for row in self._labels]
        self._end = tail + bytes(size - body - len(tail))

    def issue(
        self, best: np.ndarray | None, values: np.ndarray | None, now_ms: int | None = None
    ) -> list[str]:
        """Ids for a batch: `best` class indices (classification) or `values` (regression)."""
        n = len(best) if best is not None else len(values) if values is not None else 0
        if n == 0:
            return []
        ms = int(now_ms if now_ms is not None else _now_ms())
        if n == 1:
            return [self._one(best, values, ms)]
        payload = np.zeros((n, self.size), np.uint8)
        payload[:, 0] = CLASS if self.classification else VALUE
        payload[:, 1:7] = np.frombuffer(ms.to_bytes(6, "big"), np.uint8)
        payload[:, 7:HEAD] = np.frombuffer(os.urandom(8 * n), np.uint8).reshape(n, 8)
        if self.classification:
            assert best is not None
            payload[:, HEAD : self._body] = self._labels[np.asarray(best, dtype=np.intp)]
        else:
            assert values is not None
            as_bytes = np.asarray(values, dtype=">f8").reshape(n, 1).view(np.uint8)
            payload[:, HEAD : self._body] = as_bytes
        end = self._body + len(self._tail)
        payload[:, self._body : end] = np.frombuffer(self._tail, np.uint8)
        raw = payload.tobytes()
        size, mac = self.size, self._macs[0]
        tags = []
        for start in range(0, n * size, size):
            h = mac.copy()
            h.update(raw[start : start + size])
            tags.append(h.digest())
        both = np.hstack([payload, np.frombuffer(b"".join(tags), np.uint8).reshape(n, TAG)])
        text = base64.urlsafe_b64encode(both.tobytes()).decode()
        w = self.width
        return [text[i : i + w] for i in range(0, n * w, w)]

    def _one(self, best: np.ndarray | None, values: np.ndarray | None, ms: int) -> str:
        if self.classification:
            assert best is not None
            kind, prediction = CLASS, self._label_bytes[int(best[0])]
        else:
            assert values is not None
            kind, prediction = VALUE, struct.pack(">d", float(values[0]))
        payload = bytes([kind]) + ms.to_bytes(6, "big") + os.urandom(8) + prediction + self._end
        h = self._macs[0].copy()
        h.update(payload)
        return base64.urlsafe_b64encode(payload + h.digest()).decode()

    def read(self, token: object) -> Issued:
        """What `token` says, if one of the keys signed it; else IdError."""
        if not isinstance(token, str) or not token:
            raise IdError("malformed_id", "id must be a non-empty string")
        if len(token) > MAX_TOKEN_CHARS or len(token) % 4:
            raise IdError("malformed_id", "id has the wrong length")
        try:
            raw = base64.urlsafe_b64decode(token)
        except (binascii.Error, ValueError):
            raise IdError("malformed_id", "id is not base64url") from None
        if len(raw) < HEAD + TAG + 2 or raw[0] not in (CLASS, VALUE):
            raise IdError("malformed_id", "id is not a prediction id of this service")
        payload, tag = raw[:-TAG], raw[-TAG:]
        for mac in self._macs:
            h = mac.copy()
            h.update(payload)
            if hmac.compare_digest(h.digest(), tag):
                break
        else:
            raise IdError(
                "bad_signature",
                "id was not issued by this service (signature does not match: altered, "
                "made up, or signed with a key the server no longer has)",
            )
        try:
            return _parse(payload)
        except (IndexError, struct.error, UnicodeDecodeError):  # signed, so a bug of ours
            raise IdError("malformed_id", "id layout is not readable") from None


def _parse(payload: bytes) -> Issued:
    kind = payload[0]
    served_ms = int.from_bytes(payload[1:7], "big")
    nonce = payload[7:HEAD]
    at = HEAD
    label: str | None = None
    value: float | None = None
    if kind == CLASS:
        width, length = payload[at], payload[at + 1]
        label = payload[at + 2 : at + 2 + length].decode()
        at += 2 + width
    else:
        (value,) = struct.unpack(">d", payload[at : at + 8])
        at += 8
    length = payload[at]
    version = payload[at + 1 : at + 1 + length].decode()
    if len(payload) < at + 1 + length:
        raise IndexError("truncated")
    return Issued(served_ms, nonce, version, label, value)


def _now_ms() -> int:
    return int(time.time() * 1000)


def new_key() -> str:
    """A random key for FEEDBACK_KEY (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)
