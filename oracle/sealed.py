"""From a sealed update blob to its plaintext, or to the vote the sealing earns.

The oracle opens the envelope (fedledger.crypto) with the binding the chain dictates: this
chain, this coordinator, the round of the submission and the address that submitted it.
What can go wrong, and whose fault it is:

=====================================================  ===================  ===============
what                                                   vote                 whose fault
=====================================================  ===================  ===============
not an envelope (a plain weights blob, bad magic,      ``MALFORMED``        participant
version or suite, truncated)
no key wrapped for any key this oracle registered      ``NOT_A_RECIPIENT``  participant
for the round (left out, or a key retired in an
earlier round, or an unknown key)
a tag fails under the on-chain author and round: a     ``NOT_AUTHENTIC``    participant
copy of another's (or another round's) blob, or
altered bytes
this oracle has no key on chain, or registered its     no vote (abstains,   the oracle's
first key after the update was submitted               ``warning``)         operator
sealed for this oracle's registered key, but its key   no vote (``error``)  the oracle's
file lacks the private half                                                 operator
=====================================================  ===================  ===============
"""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain import EncryptionKeyInfo, ReasonCode
from fedledger.crypto import (
    Binding,
    MalformedEnvelope,
    NotAuthentic,
    OracleKeyFile,
    open_envelope,
    parse_envelope,
)
from fedledger.crypto.envelope import key_id
from oracle.inspection import Decision

NOT_SEALED = "not-sealed"
NOT_A_RECIPIENT = "not-a-recipient"
NOT_AUTHENTIC = "not-authentic"


class CannotOpen(Exception):
    """This oracle cannot judge the update through no fault of the participant: no vote.

    ``level`` is the log level the node reports it with (``warning`` or ``error``).
    """

    def __init__(self, message: str, *, level: str) -> None:
        super().__init__(message)
        self.level = level


@dataclass(frozen=True)
class Submitted:
    """What the chain says about a submission: the binding its envelope must carry."""

    chain_id: int
    coordinator: str
    round: int
    participant: str
    block_number: int

    @property
    def binding(self) -> Binding:
        return Binding(self.chain_id, self.coordinator, self.round, self.participant)


def open_update(
    blob: bytes, submitted: Submitted, key_file: OracleKeyFile, registered: EncryptionKeyInfo
) -> bytes | Decision:
    """The plaintext of ``blob``, or the reject vote its envelope earns.

    ``registered`` is this oracle's on-chain key record. Raises CannotOpen when the oracle
    must not vote (its own key is missing); see the module's table.
    """
    try:
        envelope = parse_envelope(blob)
    except MalformedEnvelope as error:
        return Decision.reject(ReasonCode.MALFORMED, NOT_SEALED, str(error))
    valid = registered.valid_keys(submitted.round)
    sealed_for = [key for key in envelope.recipient_keys if key in valid]
    if not sealed_for:
        if not registered.registered:
            raise CannotOpen(
                "this oracle has no encryption key on chain, so no update is sealed for it; "
                "register one with `fedledger oracle key register`",
                level="warning",
            )
        if registered.previous == bytes(32) and registered.registered_at_block > (
            submitted.block_number
        ):
            raise CannotOpen(
                "the update was sealed before this oracle registered its first key",
                level="warning",
            )
        return Decision.reject(
            ReasonCode.NOT_A_RECIPIENT,
            NOT_A_RECIPIENT,
            f"sealed for {', '.join(key_id(k) for k in envelope.recipient_keys)}; none is "
            f"this oracle's key for round {submitted.round} "
            f"({', '.join(key_id(k) for k in valid)})",
        )
    held = {pair.public_key: pair for pair in key_file.usable_in(submitted.round)}
    private_keys = [held[key].private_key for key in sealed_for if key in held]
    if not private_keys:
        raise CannotOpen(
            f"the update is sealed for {key_id(sealed_for[0])}, this oracle's key on chain, "
            f"but {key_file.path} does not hold its private half: restore the key file that "
            "registered it",
            level="error",
        )
    try:
        return open_envelope(envelope, submitted.binding, private_keys)
    except NotAuthentic as error:
        return Decision.reject(ReasonCode.NOT_AUTHENTIC, NOT_AUTHENTIC, str(error))
