"""Payload encryption: an AES-256-GCM `PayloadCodec` with a key ring that rotates.

Every payload a client or worker of the project writes to Temporal (workflow inputs and results,
activity arguments, updates, signals, query answers, summaries and details) is encrypted here
before it leaves the process, so Temporal's history and database hold ciphertext only. What the
codec does not cover: search attributes and workflow ids (plain, by design: operators filter on
them; they carry no personal data) and failure messages (the workflow's refusals name rules and
orgs, never a reporter).

An encrypted payload is a `temporalio.api.common.v1.Payload` with

- metadata ``encoding: binary/encrypted`` and ``encryption-key-id: <id>`` (both plain: a reader
  must know which key to use);
- data ``nonce (12 random bytes) || AES-256-GCM(key, nonce, original payload, aad=<id>)``, where
  the original payload is the serialized protobuf, its own metadata included. The key id is the
  associated data, so a payload cannot be passed off as one of another key.

Keys live in a `KeyRing`, oldest first. New payloads use the newest key; decoding looks the key id
up, so payloads written under an older key (running orders, years-old histories) keep decrypting
after a rotation. Payloads that are not marked encrypted pass through decoding unchanged: orders
started before encryption, and plain JSON that the `temporal` CLI sends without a codec endpoint.

Where the keys come from (`load_keyring`):

1. ``HOTLINE_CODEC_KEYS``: ``id:base64(32 bytes)`` entries separated by commas, newest last, e.g.
   ``2026-01:q3J...=,2026-07:Zm9...=`` (production: from a secret store, never from a file in the
   repository);
2. otherwise the key file ``HOTLINE_CODEC_KEY_FILE`` (default ``codec-keys.json`` in
   ``HOTLINE_DATA_DIR``), mode 0600, which ``hotline dev`` creates on its first start::

       {"keys": [{"id": "k20261127-3fa9c2", "key": "<base64 of 32 bytes>",
                  "created_at": "2026-11-27T09:00:00+00:00"}]}

   newest last; ``hotline codec rotate-key`` appends a key. A codec whose ring came from the file
   reads the file again (at most every few seconds) when it meets a key id it does not know, so a
   rotation reaches a running `hotline dev` without a restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from starter.settings import SETTINGS_DOC, Settings

#: Metadata ``encoding`` of an encrypted payload (the value Temporal's samples use).
ENCRYPTED_ENCODING: Final = b"binary/encrypted"
#: Metadata key naming the key that encrypted a payload.
KEY_ID_METADATA: Final = "encryption-key-id"
#: AES-256: the only key size we accept.
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
#: Key ids go into the metadata and into ``HOTLINE_CODEC_KEYS``: no `:`, `,` or spaces.
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: How often a file-backed codec may re-read its file on meeting an unknown key id.
_RELOAD_INTERVAL_S: Final = 5.0
KEY_FILE_NAME: Final = "codec-keys.json"


class CodecError(ValueError):
    """A payload cannot be encrypted or decrypted; the message says why, never what it holds."""


class KeyRingError(CodecError):
    """The key material is unusable: the message names the source, the entry and the fault."""


class UnknownKeyError(CodecError):
    """A payload was encrypted under a key id that the ring does not hold."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        super().__init__(
            f"payload encrypted with key {key_id!r}, which this key ring does not hold "
            f"(it holds {', '.join(repr(k) for k in known)}); add that key to HOTLINE_CODEC_KEYS or the key file"
        )
        self.key_id = key_id


class KeyRing(Mapping[str, bytes]):
    """Encryption keys by id, oldest first; the newest encrypts, every one decrypts.

    Args:
        keys: ``(id, 32-byte key)`` pairs, oldest first.
        source: The key file the ring was read from, if any (a codec re-reads it on an unknown id).
        origin: Where the keys came from, for error messages (``HOTLINE_CODEC_KEYS``, a path).

    Raises:
        KeyRingError: no keys, a malformed or duplicate id, a key that is not 32 bytes.
    """

    def __init__(
        self, keys: Iterable[tuple[str, bytes]], *, source: Path | None = None, origin: str = "key ring"
    ) -> None:
        self._keys: dict[str, bytes] = {}
        for n, (key_id, key) in enumerate(keys, start=1):
            _check_id(key_id, n, origin)
            if key_id in self._keys:
                raise KeyRingError(f"{origin}: key id {key_id!r} appears twice; every key needs an id of its own")
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"{origin}: key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
                    "(`hotline codec new-key` makes one)"
                )
            self._keys[key_id] = bytes(key)
        if not self._keys:
            raise KeyRingError(f"{origin}: the key ring is empty; at least one key is needed")
        self.source = source
        self.origin = origin
        self._ciphers = {k: AESGCM(v) for k, v in self._keys.items()}

    def __getitem__(self, key_id: str) -> bytes:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never the key material
        return f"KeyRing(ids={list(self._keys)!r}, origin={self.origin!r})"

    @property
    def newest(self) -> str:
        """The id of the key that encrypts new payloads (the last one)."""
        return next(reversed(self._keys))

    def cipher(self, key_id: str) -> AESGCM:
        """The AES-GCM cipher of ``key_id``.

        Raises:
            UnknownKeyError: the ring has no such key.
        """
        try:
            return self._ciphers[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, list(self._keys)) from None


def _check_id(key_id: str, n: int, origin: str) -> None:
    if not _KEY_ID.fullmatch(key_id):
        raise KeyRingError(
            f"{origin}: key {n} has id {key_id!r}; an id is 1-64 letters, digits, `.`, `_` or `-`, "
            "starting with a letter or digit"
        )


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, keyed by the newest key of a `KeyRing`.

    Args:
        keyring: The keys; the newest encrypts.
    """

    def __init__(self, keyring: KeyRing) -> None:
        super().__init__()
        self._ring = keyring
        self._reloaded_at = 0.0

    @property
    def keyring(self) -> KeyRing:
        """The ring in use (replaced when a file-backed ring is re-read)."""
        return self._ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with the newest key."""
        key_id = self._ring.newest
        cipher = self._ring.cipher(key_id)
        aad = key_id.encode()
        out = []
        for p in payloads:
            nonce = os.urandom(NONCE_BYTES)
            out.append(
                Payload(
                    metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: aad},
                    data=nonce + cipher.encrypt(nonce, p.SerializeToString(), aad),
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt the payloads marked encrypted; pass the others through unchanged.

        Raises:
            UnknownKeyError: a payload's key id is not in the ring (nor in the re-read key file).
            CodecError: a payload without a key id, too short, or failing authentication.
        """
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCRYPTED_ENCODING:
                out.append(p)
                continue
            raw_id = p.metadata.get(KEY_ID_METADATA)
            if not raw_id:
                raise CodecError(f"an encrypted payload carries no {KEY_ID_METADATA!r}; it cannot be decrypted")
            key_id = raw_id.decode(errors="replace")
            cipher = self._cipher_for(key_id)
            if len(p.data) < NONCE_BYTES + _TAG_BYTES:
                raise CodecError(f"an encrypted payload under key {key_id!r} is truncated ({len(p.data)} bytes)")
            try:
                plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], raw_id)
            except InvalidTag:
                raise CodecError(
                    f"a payload under key {key_id!r} fails authentication: the ring's key {key_id!r} is not "
                    "the one that encrypted it, or the payload was altered"
                ) from None
            out.append(Payload.FromString(plain))
        return out

    def _cipher_for(self, key_id: str) -> AESGCM:
        try:
            return self._ring.cipher(key_id)
        except UnknownKeyError:
            source = self._ring.source
            if source is None or time.monotonic() - self._reloaded_at < _RELOAD_INTERVAL_S:
                raise
            self._reloaded_at = time.monotonic()
            # a rotation made while we run: the key file knows the new key
            self._ring = read_keyfile(source)
            return self._ring.cipher(key_id)


# -- where keys come from --------------------------------------------------------------------------


def parse_keys(value: str, *, origin: str = "HOTLINE_CODEC_KEYS") -> KeyRing:
    """A ring from ``id:base64key,…`` (newest last).

    Raises:
        KeyRingError: an entry without `:`, bad base64, wrong length, a duplicate id, no entries.
    """
    pairs = []
    for n, entry in enumerate((e.strip() for e in value.split(",") if e.strip()), start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise KeyRingError(f"{origin}: entry {n} is not `id:base64key` (no `:` found)")
        pairs.append((key_id.strip(), _b64(encoded.strip(), key_id.strip(), origin)))
    return KeyRing(pairs, origin=origin)


def _b64(encoded: str, key_id: str, origin: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{origin}: key {key_id!r} is not valid base64") from None


def read_keyfile(path: Path) -> KeyRing:
    """The ring of a key file (format in the module's docstring).

    Raises:
        KeyRingError: the file is missing, unreadable, not the documented JSON, or its keys are bad.
    """
    origin = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyRingError(f"key file {path} does not exist") from None
    except OSError as err:
        raise KeyRingError(f"key file {path} cannot be read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise KeyRingError(f"{origin}: not JSON ({err.msg} at line {err.lineno})") from None
    entries = raw.get("keys") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise KeyRingError(f'{origin}: expected {{"keys": [{{"id": …, "key": …}}, …]}}')
    pairs = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("key"), str):
            raise KeyRingError(f"{origin}: key {n} needs a string `id` and a string `key` (base64)")
        pairs.append((entry["id"], _b64(entry["key"], entry["id"], origin)))
    return KeyRing(pairs, source=path, origin=origin)


def key_file_path(settings: Settings) -> Path:
    """The key file: ``HOTLINE_CODEC_KEY_FILE`` when set, else ``codec-keys.json`` in the data dir."""
    if settings.codec_key_file == Path(SETTINGS_DOC["HOTLINE_CODEC_KEY_FILE"][0]):
        return settings.data_dir / KEY_FILE_NAME
    return settings.codec_key_file


def load_keyring(settings: Settings) -> KeyRing:
    """The ring from ``HOTLINE_CODEC_KEYS`` if set, otherwise from the key file.

    Raises:
        KeyRingError: neither gives keys, or the keys given are bad (the message names which).
    """
    if settings.codec_keys.strip():
        return parse_keys(settings.codec_keys)
    path = key_file_path(settings)
    if not path.exists():
        raise KeyRingError(
            f"no payload encryption keys: HOTLINE_CODEC_KEYS is not set and the key file {path} "
            "(HOTLINE_CODEC_KEY_FILE) does not exist; `hotline dev` creates it on its first start"
        )
    return read_keyfile(path)


def new_key_id(now: datetime | None = None) -> str:
    """A fresh key id: the day and 6 random hex digits, e.g. ``k20261127-3fa9c2``."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"k{day}-{secrets.token_hex(3)}"


def new_key() -> tuple[str, bytes]:
    """A fresh ``(id, 32 random bytes)``."""
    return new_key_id(), secrets.token_bytes(KEY_BYTES)


def ensure_dev_keyfile(path: Path) -> KeyRing:
    """The key file's ring; when the file is missing, create it (mode 0600) with one fresh key.

    Raises:
        KeyRingError: the file exists but is unusable (it is never overwritten).
    """
    if not path.exists():
        _write_keyfile(path, [])
    return read_keyfile(path)


def add_key(path: Path) -> str:
    """Append a fresh key to the key file (created if missing) and return its id: a rotation.

    New payloads use the new key from then on; the older keys stay to decrypt what they wrote.

    Raises:
        KeyRingError: the existing file is unusable (it is left as it was).
    """
    entries: list[dict[str, Any]] = []
    if path.exists():
        read_keyfile(path)  # refuse to extend a broken file
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
    return _write_keyfile(path, entries)


def _write_keyfile(path: Path, entries: list[dict[str, Any]]) -> str:
    """Write ``entries`` plus one fresh key atomically, mode 0600; returns the new id."""
    key_id, key = new_key()
    while any(e.get("id") == key_id for e in entries):
        key_id, key = new_key()
    entry = {
        "id": key_id,
        "key": base64.b64encode(key).decode(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps({"keys": [*entries, entry]}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return key_id
