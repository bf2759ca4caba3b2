"""An oracle's X25519 encryption keys and the file that keeps them.

The key file (JSON, mode 0600, never in a repository)::

    {"format": "fedledger-oracle-encryption-keys", "version": 1,
     "keys": [{"public_key": "0x..", "private_key": "0x..", "created_at": "2026-12-01T20:00:00Z",
               "retired_in_round": null}, ...]}

The first entry is the current key (the one registered on chain). Rotation puts a new key
first and marks the previous one ``retired_in_round = R``, the round in progress: updates
of round R sealed for the previous key stay readable until R ends; from round R + 1 on the
previous key is dropped from the file at the next rotation and never used again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

KEY_FILE_FORMAT = "fedledger-oracle-encryption-keys"
KEY_FILE_VERSION = 1


class KeyFileError(ValueError):
    """The key file is missing, unreadable or not a key file of this version."""


def public_bytes(key: X25519PublicKey) -> bytes:
    """The raw 32-byte form of an X25519 public key (what the contract stores)."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_bytes(raw: bytes) -> X25519PublicKey:
    if len(raw) != 32:
        raise ValueError(f"an X25519 public key is 32 bytes, got {len(raw)}")
    return X25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class EncryptionKeyPair:
    private_key: X25519PrivateKey
    created_at: str
    retired_in_round: int | None = None

    @property
    def public_key(self) -> bytes:
        return public_bytes(self.private_key.public_key())

    def usable_in(self, round_: int) -> bool:
        """Whether updates of ``round_`` may be opened with this key."""
        return self.retired_in_round is None or round_ <= self.retired_in_round

    def to_json(self) -> dict[str, object]:
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return {
            "public_key": "0x" + self.public_key.hex(),
            "private_key": "0x" + raw.hex(),
            "created_at": self.created_at,
            "retired_in_round": self.retired_in_round,
        }

    @classmethod
    def from_json(cls, entry: dict[str, object]) -> EncryptionKeyPair:
        raw = bytes.fromhex(str(entry["private_key"]).removeprefix("0x"))
        pair = cls(
            X25519PrivateKey.from_private_bytes(raw),
            str(entry.get("created_at", "")),
            _optional_int(entry.get("retired_in_round")),
        )
        if "0x" + pair.public_key.hex() != str(entry.get("public_key", "")).lower():
            raise KeyFileError("a public key in the key file does not match its private key")
        return pair


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def generate_key_pair() -> EncryptionKeyPair:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return EncryptionKeyPair(X25519PrivateKey.generate(), now)


def key_pair_from_secret(secret: bytes) -> EncryptionKeyPair:
    """The key pair whose private key is SHA-256(``secret``): for reproducible runs only
    (the demo, whose keys are as public as anvil's dev accounts), never for real keys."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return EncryptionKeyPair(
        X25519PrivateKey.from_private_bytes(hashlib.sha256(secret).digest()), now
    )


@dataclass(frozen=True)
class OracleKeyFile:
    """The keys of one oracle, current first."""

    path: Path
    keys: tuple[EncryptionKeyPair, ...] = field(default=())

    @property
    def current(self) -> EncryptionKeyPair:
        if not self.keys:
            raise KeyFileError(f"{self.path} holds no key; run `fedledger oracle key create`")
        return self.keys[0]

    def usable_in(self, round_: int) -> Iterator[EncryptionKeyPair]:
        """The keys that may open updates of ``round_``."""
        return (pair for pair in self.keys if pair.usable_in(round_))

    @classmethod
    def create(cls, path: Path, pair: EncryptionKeyPair | None = None) -> OracleKeyFile:
        """A new file with one fresh key (or ``pair``); refuses to overwrite an existing file."""
        if path.exists():
            raise KeyFileError(
                f"{path} exists; use `fedledger oracle key rotate` to replace "
                "its key, or choose another --key-file"
            )
        key_file = cls(path, (pair or generate_key_pair(),))
        key_file.save(exclusive=True)
        return key_file

    @classmethod
    def load(cls, path: Path) -> OracleKeyFile:
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyFileError(
                f"no encryption key file at {path}; create one with "
                "`fedledger oracle key create --key-file PATH`"
            ) from None
        except (OSError, ValueError) as error:
            raise KeyFileError(f"cannot read the key file {path}: {error}") from None
        if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
            raise KeyFileError(f"{path} is not a FedLedger oracle encryption key file")
        if document.get("version") != KEY_FILE_VERSION:
            raise KeyFileError(
                f"{path} has key file version {document.get('version')}; this "
                f"release reads version {KEY_FILE_VERSION}"
            )
        try:
            keys = tuple(EncryptionKeyPair.from_json(entry) for entry in document["keys"])
        except (KeyError, TypeError, ValueError) as error:
            raise KeyFileError(f"{path}: a key entry is damaged ({error})") from None
        return cls(path, keys)

    def rotated(self, current_round: int) -> OracleKeyFile:
        """A new current key; the old one stays usable for ``current_round``'s updates.

        Keys already retired in an earlier round are dropped: no update can need them.
        """
        kept = [
            pair
            for pair in self.keys[1:]
            if pair.retired_in_round is not None and pair.retired_in_round >= current_round
        ]
        previous = [replace(self.current, retired_in_round=current_round)] if self.keys else []
        return OracleKeyFile(self.path, (generate_key_pair(), *previous, *kept))

    def save(self, *, exclusive: bool = False) -> None:
        """Write atomically with mode 0600 (the file holds private keys)."""
        document = {
            "format": KEY_FILE_FORMAT,
            "version": KEY_FILE_VERSION,
            "keys": [pair.to_json() for pair in self.keys],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive and self.path.exists():
            temporary.unlink()
            raise KeyFileError(f"{self.path} appeared while it was being created")
        os.replace(temporary, self.path)
