"""The participants of a deployment and their standing: tokens, counters, redemption value."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain import FedLedger
from fedledger.chain.events import ParticipantRegistered, UpdateSubmitted


@dataclass(frozen=True)
class Rewards:
    """A participant's standing: tokens, counters and what its tokens would redeem for."""

    address: str
    balance: int  # token base units held
    credited: int  # rewards of accepted updates not claimed yet (claimRewards mints them)
    registered: bool
    banned: bool
    accepted: int
    rejected: int
    strikes: int
    last_submitted_round: int
    redeemable_wei: int  # what redeeming the whole balance would pay now
    owed_wei: int  # already credited by redemptions, waiting for withdraw()


def read_rewards(ledger: FedLedger, address: str) -> Rewards:
    """The :class:`Rewards` of any address (no signing account needed)."""
    info = ledger.coordinator.get_participant(address)
    balance = ledger.token.balance_of(address)
    return Rewards(
        address=address,
        balance=balance,
        credited=info.reward_owed,
        registered=info.registered,
        banned=info.banned,
        accepted=info.accepted,
        rejected=info.rejected,
        strikes=info.strikes,
        last_submitted_round=info.last_submitted_round,
        redeemable_wei=ledger.vault.quote_redemption(balance) if balance else 0,
        owed_wei=ledger.vault.owed(address),
    )


def known_participants(ledger: FedLedger) -> list[str]:
    """Every address registered as a participant or that ever submitted, in the order the
    chain first saw it (the contract keeps no list: events are the index)."""
    start = ledger.deployment.block_number
    seen: list[ParticipantRegistered | UpdateSubmitted] = [
        *ledger.events(ParticipantRegistered, start),
        *ledger.events(UpdateSubmitted, start),
    ]
    seen.sort(key=lambda event: event.position)
    return list(dict.fromkeys(event.participant for event in seen))
