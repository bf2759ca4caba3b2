"""The update envelope: one fresh content key, an AEAD bound to author and round, the key
wrapped for each oracle's X25519 public key.

Byte format, version 1 (all integers big-endian)::

    offset      size      field
    0           4         magic  b"FLEV"
    4           1         version = 1
    5           1         suite = 1: X25519, HKDF-SHA256, AES-256-GCM
    6           1         n, the number of recipients (1..MAX_RECIPIENTS)
    7           32        ephemeral X25519 public key E (one per envelope)
    39          80 * n    recipients, each: X25519 public key R (32) || wrapped key (48)
    39 + 80n    12        content nonce
    51 + 80n    rest      AES-256-GCM ciphertext of the plaintext, with its 16-byte tag

The binding names what the envelope is for::

    binding = b"fedledger/update/v1" || chainId (32) || coordinator (20) || round (8)
              || participant (20)

Resources the vault sells (sealed for the gateways' keys) use another binding, so an
update envelope can never pass for a resource or the other way round::

    binding = b"fedledger/resource/v1" || chainId (32) || vault (20) || resource (32)

Global models under a non-public policy (sealed for the oracles' and the gateways' keys)
are sealed **convergently** (:func:`seal_convergent`) under::

    binding = b"fedledger/global-model/v1" || chainId (32) || coordinator (20)

Every oracle must store the same bytes for the same aggregate (they agree on its content
hash), so nothing is drawn at random: with S = SHA-256(b"fedledger/envelope/v1/convergent"
|| binding || plaintext), the content key, the ephemeral X25519 key and the nonce are
HKDF-SHA256 expansions of S (infos ``.../content``, ``.../ephemeral``, ``.../nonce``), and
the recipients are sorted. Whoever holds the plaintext can re-seal it and compare
(:func:`matches_convergent`): that is how a participant checks the model a gateway sent
against the sealed blob the chain names. Whoever does not cannot derive S.

- For each recipient, wrapKey = HKDF-SHA256(X25519(e, R), salt = none,
  info = b"fedledger/envelope/v1/wrap" || E || R, 32 bytes), and the wrapped key is
  AES-256-GCM(wrapKey).encrypt(nonce = 12 zero bytes, contentKey, ad = binding).
  The zero nonce is safe: a wrap key is used once (E is fresh for every envelope).
- The content is AES-256-GCM(contentKey).encrypt(nonce, plaintext,
  ad = binding || header), the header being every byte before the ciphertext. So a copy
  of the envelope submitted by another address, in another round, to another coordinator
  or on another chain fails to authenticate, and so does any change of the header (a
  recipient added, removed or swapped).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedledger.crypto.errors import MalformedEnvelope, NotARecipient, NotAuthentic
from fedledger.crypto.keys import public_bytes

ENVELOPE_MAGIC = b"FLEV"
ENVELOPE_VERSION = 1
SUITE_X25519_HKDF_SHA256_AES256GCM = 1
#: Matches the contract's oracle set bound (MAX_ORACLES): one stanza per live oracle.
MAX_RECIPIENTS = 64

KEY_BYTES = 32
TAG_BYTES = 16
NONCE_BYTES = 12
WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
STANZA_BYTES = KEY_BYTES + WRAPPED_BYTES
_FIXED = struct.Struct(">4sBBB32s")
_BINDING_LABEL = b"fedledger/update/v1"
_RESOURCE_LABEL = b"fedledger/resource/v1"
_GLOBAL_MODEL_LABEL = b"fedledger/global-model/v1"
_CONVERGENT_LABEL = b"fedledger/envelope/v1/convergent"
_WRAP_INFO = b"fedledger/envelope/v1/wrap"
_ZERO_NONCE = bytes(NONCE_BYTES)


def _address_bytes(address: str | bytes, what: str) -> bytes:
    raw = address if isinstance(address, bytes) else bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{what} must be a 20-byte address, got {len(raw)} bytes")
    return raw


@dataclass(frozen=True)
class Binding:
    """What an envelope is for: its chain, coordinator contract, round and author."""

    chain_id: int
    coordinator: str | bytes
    round: int
    participant: str | bytes

    def encode(self) -> bytes:
        """The associated data every AEAD of the envelope authenticates."""
        if not 0 <= self.chain_id < 2**256 or not 0 <= self.round < 2**64:
            raise ValueError(f"chain id {self.chain_id} or round {self.round} out of range")
        return (
            _BINDING_LABEL
            + self.chain_id.to_bytes(32, "big")
            + _address_bytes(self.coordinator, "coordinator")
            + self.round.to_bytes(8, "big")
            + _address_bytes(self.participant, "participant")
        )


@dataclass(frozen=True)
class ResourceBinding:
    """What a resource envelope is for: its chain, vault contract and resource id."""

    chain_id: int
    vault: str | bytes
    resource: bytes

    def encode(self) -> bytes:
        """The associated data every AEAD of the envelope authenticates."""
        if not 0 <= self.chain_id < 2**256 or len(self.resource) != 32:
            raise ValueError("a resource binding needs a chain id and a 32-byte resource id")
        return (
            _RESOURCE_LABEL
            + self.chain_id.to_bytes(32, "big")
            + _address_bytes(self.vault, "vault")
            + bytes(self.resource)
        )


@dataclass(frozen=True)
class GlobalModelBinding:
    """What a sealed global model is for: its chain and coordinator contract."""

    chain_id: int
    coordinator: str | bytes

    def encode(self) -> bytes:
        if not 0 <= self.chain_id < 2**256:
            raise ValueError(f"chain id {self.chain_id} out of range")
        return (
            _GLOBAL_MODEL_LABEL
            + self.chain_id.to_bytes(32, "big")
            + _address_bytes(self.coordinator, "coordinator")
        )


class EnvelopeBinding(Protocol):
    """Anything an envelope can be bound to: :class:`Binding` or :class:`ResourceBinding`."""

    def encode(self) -> bytes: ...


@dataclass(frozen=True)
class Recipient:
    """One stanza: the recipient's public key and the content key wrapped for it."""

    public_key: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope (nothing decrypted yet)."""

    ephemeral_key: bytes
    recipients: tuple[Recipient, ...]
    nonce: bytes
    header: bytes
    ciphertext: bytes | memoryview

    @property
    def recipient_keys(self) -> tuple[bytes, ...]:
        return tuple(stanza.public_key for stanza in self.recipients)


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=_WRAP_INFO + ephemeral + recipient,
    )
    return hkdf.derive(shared)


def seal(plaintext: bytes, binding: EnvelopeBinding, recipient_keys: Sequence[bytes]) -> bytearray:
    """Encrypt ``plaintext`` for ``recipient_keys`` (raw 32-byte X25519 public keys).

    Each call draws a fresh content key, ephemeral key and nonce, so sealing the same
    plaintext twice gives unrelated bytes.
    """
    keys = _recipient_list(recipient_keys)
    return _seal(
        plaintext,
        binding.encode(),
        keys,
        AESGCM.generate_key(bit_length=256),
        X25519PrivateKey.generate(),
        os.urandom(NONCE_BYTES),
    )


def seal_convergent(
    plaintext: bytes, binding: EnvelopeBinding, recipient_keys: Sequence[bytes]
) -> bytearray:
    """Seal ``plaintext`` so that the same plaintext, binding and recipients always give the
    same bytes (the module's docstring says how); recipients are sorted."""
    keys = sorted(_recipient_list(recipient_keys))
    ad = binding.encode()
    secret = hashlib.sha256(_CONVERGENT_LABEL + ad + plaintext).digest()

    def expand(what: bytes, length: int) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=length, salt=None, info=_CONVERGENT_LABEL + what
        )
        return hkdf.derive(secret)

    return _seal(
        plaintext,
        ad,
        keys,
        expand(b"/content", KEY_BYTES),
        X25519PrivateKey.from_private_bytes(expand(b"/ephemeral", KEY_BYTES)),
        expand(b"/nonce", NONCE_BYTES),
    )


def matches_convergent(sealed: bytes, plaintext: bytes, binding: EnvelopeBinding) -> bool:
    """Whether ``sealed`` is ``plaintext`` sealed convergently under ``binding`` for the
    recipients its header names: a check that needs the plaintext, not a key."""
    envelope = parse_envelope(sealed)
    return bytes(seal_convergent(plaintext, binding, envelope.recipient_keys)) == bytes(sealed)


def _recipient_list(recipient_keys: Sequence[bytes]) -> list[bytes]:
    keys = list(dict.fromkeys(bytes(key) for key in recipient_keys))
    if not 1 <= len(keys) <= MAX_RECIPIENTS:
        raise ValueError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients, got {len(keys)}")
    bad = [key for key in keys if len(key) != KEY_BYTES]
    if bad:
        raise ValueError(f"an X25519 public key is 32 bytes, got {len(bad[0])}")
    return keys


def _seal(
    plaintext: bytes,
    ad: bytes,
    keys: list[bytes],
    content_key: bytes,
    ephemeral: X25519PrivateKey,
    nonce: bytes,
) -> bytearray:
    ephemeral_public = public_bytes(ephemeral.public_key())
    stanzas = []
    for key in keys:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(key))
        wrap = AESGCM(_wrap_key(shared, ephemeral_public, key))
        stanzas.append(key + wrap.encrypt(_ZERO_NONCE, content_key, ad))
    header = (
        _FIXED.pack(
            ENVELOPE_MAGIC,
            ENVELOPE_VERSION,
            SUITE_X25519_HKDF_SHA256_AES256GCM,
            len(keys),
            ephemeral_public,
        )
        + b"".join(stanzas)
        + nonce
    )
    # Encrypt straight into the output buffer: concatenating header and ciphertext would
    # copy the whole update once more.
    sealed = bytearray(len(header) + len(plaintext) + TAG_BYTES)
    sealed[: len(header)] = header
    AESGCM(content_key).encrypt_into(
        nonce, plaintext, ad + header, memoryview(sealed)[len(header) :]
    )
    return sealed


def seal_global_model(
    blob: bytes, chain_id: int, coordinator: str, recipient_keys: Sequence[bytes] | None
) -> bytes:
    """A global model as it is stored: ``blob`` itself under the public policy (no
    recipients: None), else sealed convergently for ``recipient_keys`` (the live oracles'
    and the gateways' keys: ``FedLedger.global_model_recipients``)."""
    if recipient_keys is None:
        return blob
    return bytes(seal_convergent(blob, GlobalModelBinding(chain_id, coordinator), recipient_keys))


def is_envelope(data: bytes) -> bool:
    """Whether ``data`` starts like an envelope (cheap; :func:`parse_envelope` checks it)."""
    return data[: len(ENVELOPE_MAGIC)] == ENVELOPE_MAGIC


def parse_envelope(data: bytes) -> Envelope:
    """Split ``data`` into its fields; MalformedEnvelope if it is not a version-1 envelope."""
    if len(data) < _FIXED.size:
        raise MalformedEnvelope(f"{len(data)} bytes is too short for an envelope")
    magic, version, suite, count, ephemeral = _FIXED.unpack_from(data)
    if magic != ENVELOPE_MAGIC:
        raise MalformedEnvelope(
            "not an encrypted update (bad magic); updates must be sealed for the round's oracles"
        )
    if version != ENVELOPE_VERSION:
        raise MalformedEnvelope(
            f"envelope version {version}; this release reads version {ENVELOPE_VERSION}"
        )
    if suite != SUITE_X25519_HKDF_SHA256_AES256GCM:
        raise MalformedEnvelope(f"unknown cipher suite {suite}")
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedEnvelope(f"{count} recipients (1 to {MAX_RECIPIENTS} allowed)")
    body = _FIXED.size + count * STANZA_BYTES
    header_end = body + NONCE_BYTES
    if len(data) < header_end + TAG_BYTES:
        raise MalformedEnvelope(f"truncated envelope ({len(data)} bytes)")
    recipients = tuple(
        Recipient(
            bytes(data[offset : offset + KEY_BYTES]),
            bytes(data[offset + KEY_BYTES : offset + STANZA_BYTES]),
        )
        for offset in range(_FIXED.size, body, STANZA_BYTES)
    )
    return Envelope(
        ephemeral_key=ephemeral,
        recipients=recipients,
        nonce=bytes(data[body:header_end]),
        header=bytes(data[:header_end]),
        ciphertext=memoryview(data)[header_end:],
    )


def open_envelope(
    data: bytes | Envelope, binding: EnvelopeBinding, private_keys: Iterable[X25519PrivateKey]
) -> bytes:
    """Decrypt with whichever of ``private_keys`` the envelope was sealed for.

    Raises MalformedEnvelope (not an envelope), NotARecipient (no stanza for any of the
    keys) or NotAuthentic (a tag fails under ``binding``: altered, or made for another
    author, round, coordinator or chain).
    """
    envelope = data if isinstance(data, Envelope) else parse_envelope(data)
    mine = {public_bytes(key.public_key()): key for key in private_keys}
    stanza = next((s for s in envelope.recipients if s.public_key in mine), None)
    if stanza is None:
        raise NotARecipient(
            f"sealed for {len(envelope.recipients)} key(s) "
            f"({', '.join(key_id(k) for k in envelope.recipient_keys)}), none of them this "
            f"oracle's ({', '.join(key_id(k) for k in mine) or 'no keys'})"
        )
    ad = binding.encode()
    try:
        shared = mine[stanza.public_key].exchange(
            X25519PublicKey.from_public_bytes(envelope.ephemeral_key)
        )
        wrap = AESGCM(_wrap_key(shared, envelope.ephemeral_key, stanza.public_key))
        content_key = wrap.decrypt(_ZERO_NONCE, stanza.wrapped_key, ad)
        return AESGCM(content_key).decrypt(
            envelope.nonce, envelope.ciphertext, ad + envelope.header
        )
    except (InvalidTag, ValueError) as error:
        raise NotAuthentic(
            "the envelope does not authenticate for this participant, round and contract "
            "(a copy of another participant's or round's update, or altered bytes)"
        ) from error


def key_id(public_key: bytes) -> str:
    """A short printable name for a public key: its first 8 hex digits."""
    return "0x" + public_key[:4].hex()
