"""Envelopes: an update blob readable only by the round's oracles, bound to author and round.

Core package: knows nothing of the chain, the storage or the ML code. Callers pass the
binding (chain id, coordinator, round, participant) as plain values; the byte format is
documented in :mod:`fedledger.crypto.envelope` and docs/security.md.
"""

from fedledger.crypto.envelope import (
    ENVELOPE_MAGIC,
    ENVELOPE_VERSION,
    Binding,
    Envelope,
    EnvelopeBinding,
    GlobalModelBinding,
    Recipient,
    ResourceBinding,
    is_envelope,
    matches_convergent,
    open_envelope,
    parse_envelope,
    seal,
    seal_convergent,
    seal_global_model,
)
from fedledger.crypto.errors import (
    EnvelopeError,
    MalformedEnvelope,
    NotARecipient,
    NotAuthentic,
)
from fedledger.crypto.keys import (
    EncryptionKeyPair,
    KeyFileError,
    OracleKeyFile,
    generate_key_pair,
    key_pair_from_secret,
    public_key_from_bytes,
)

__all__ = [
    "ENVELOPE_MAGIC",
    "ENVELOPE_VERSION",
    "Binding",
    "EncryptionKeyPair",
    "Envelope",
    "EnvelopeBinding",
    "EnvelopeError",
    "GlobalModelBinding",
    "KeyFileError",
    "MalformedEnvelope",
    "NotARecipient",
    "NotAuthentic",
    "OracleKeyFile",
    "Recipient",
    "ResourceBinding",
    "generate_key_pair",
    "is_envelope",
    "key_pair_from_secret",
    "matches_convergent",
    "open_envelope",
    "parse_envelope",
    "public_key_from_bytes",
    "seal",
    "seal_convergent",
    "seal_global_model",
]
