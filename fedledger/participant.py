"""The participant client: get the global model, train, upload, submit, follow the verdict.

One :class:`ParticipantClient` is one wallet taking part in a deployment. It speaks to the
chain through :class:`fedledger.chain.FedLedger` and to the blob store through a
:class:`fedledger.storage.BlobStore`, as the paper's three processes:

1. **get the model** (:meth:`ParticipantClient.fetch_global_model`): read the round and
   the global model's content hash from the chain, fetch the blob from the store (the
   store checks the bytes against the CID the hash names, so a damaged or substituted
   model is refused) and decode it;
2. **submit** (:meth:`ParticipantClient.submit`): encode the trained weights, upload them,
   then sign and send ``submitUpdate(round, contentHash, numSamples)``;
3. **follow the verdict** (:meth:`ParticipantClient.wait_for_verdict`): the update's
   status from the chain and, from its events, every oracle's vote, the recorded score,
   the rejection reason code and the tokens minted.

:meth:`ParticipantClient.run` chains the three for several rounds, which is what
``fedledger participant run`` and the demo's participant processes do. A participant can
also misbehave on purpose (:data:`BEHAVIOURS`): the attacks are those of
:mod:`fedledger.ml.attacks`, so that "a sign-flip attacker" means the same thing in the
benchmark, the tests and the demo.

Training imports Keras (and TensorFlow) only when it runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from fedledger.chain import (
    FedLedger,
    GlobalModel,
    ParticipantInfo,
    RoundState,
    UpdateStatus,
)
from fedledger.chain.codes import reason_name
from fedledger.chain.errors import RoundNotOpen, SubmissionDeadlinePassed, WrongRound
from fedledger.chain.events import (
    ParticipantRegistered,
    UpdateAccepted,
    UpdateDisputed,
    UpdateRejected,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.ml import Dataset, ModelWeights, attacks, decode, encode
from fedledger.storage import BlobStore, cid_from_content_hash, content_hash_of

if TYPE_CHECKING:
    from fedledger.ml.training_config import ProgressCallback, TrainingConfig

#: How a participant produces its update. ``honest`` trains on its data; the others are
#: the attacks of :mod:`fedledger.ml.attacks` (the demo's malicious participants).
BEHAVIOURS = ("honest", "sign_flip", "noise", "free_rider", "label_flip")

#: Statuses after which nothing about an update changes any more.
SETTLED = frozenset(
    {UpdateStatus.ACCEPTED, UpdateStatus.REJECTED, UpdateStatus.DISPUTED, UpdateStatus.EXPIRED}
)


class ParticipantError(RuntimeError):
    """The participant cannot go on (banned, nothing to submit to, a verdict that never
    came); the message says what to do."""


@dataclass(frozen=True)
class FetchedModel:
    """A round's global model, fetched from the store and checked against the chain."""

    round: int
    state: RoundState
    deadline: int
    content_hash: bytes
    cid: str
    blob: bytes
    weights: ModelWeights


@dataclass(frozen=True)
class Submission:
    """A mined ``submitUpdate``."""

    round: int
    participant: str
    content_hash: bytes
    cid: str
    num_samples: int
    tx_hash: str
    block_number: int
    gas_used: int


@dataclass(frozen=True)
class Vote:
    """One oracle's vote on an update, as its ``VoteCast`` event recorded it."""

    oracle: str
    accept: bool
    score: int
    reason: int
    block_number: int

    @property
    def reason_name(self) -> str:
        return reason_name(self.reason)


@dataclass(frozen=True)
class UpdateVerdict:
    """Where an update stands: its status, the votes so far and, once settled, the outcome.

    ``score`` is the recorded score (the lowest of the agreeing votes), ``reason`` the
    rejection's reason code (``None`` unless rejected) and ``reward`` the tokens minted
    for it (base units).
    """

    round: int
    participant: str
    status: UpdateStatus
    content_hash: bytes | None
    score: int
    reason: int | None
    reward: int
    votes: tuple[Vote, ...]

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    @property
    def accept_votes(self) -> int:
        return sum(vote.accept for vote in self.votes)

    @property
    def reject_votes(self) -> int:
        return sum(not vote.accept for vote in self.votes)

    @property
    def reason_name(self) -> str | None:
        return None if self.reason is None else reason_name(self.reason)


@dataclass(frozen=True)
class Rewards:
    """A participant's standing: tokens, counters and what its tokens would redeem for."""

    address: str
    balance: int  # token base units
    registered: bool
    banned: bool
    accepted: int
    rejected: int
    strikes: int
    last_submitted_round: int
    redeemable_wei: int  # what redeeming the whole balance would pay now
    owed_wei: int  # already credited by redemptions, waiting for withdraw()


@dataclass(frozen=True)
class RoundOutcome:
    """One round of :meth:`ParticipantClient.run`: what was sent and what came of it."""

    round: int
    behaviour: str
    submission: Submission
    verdict: UpdateVerdict
    training_seconds: float
    seconds: float


def derive_seed(seed: int, *path: int) -> int:
    """A seed derived from ``seed`` and a path of integers (a round, a participant's
    index): independent streams, the same on every run."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0])


def _require_behaviour(behaviour: str) -> None:
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")


def make_update(
    behaviour: str,
    global_weights: ModelWeights,
    dataset: Dataset,
    config: TrainingConfig,
    progress: ProgressCallback | None = None,
) -> ModelWeights:
    """The weights a participant of ``behaviour`` submits, starting from ``global_weights``.

    ``honest`` trains on ``dataset``; ``sign_flip`` reverses and scales the honest update;
    ``noise`` adds Gaussian noise to the global model; ``free_rider`` returns the global
    model disguised by tiny noise, without training; ``label_flip`` trains on the data
    with every label shifted by one class. Seeds come from ``config.seed``.
    """
    _require_behaviour(behaviour)
    if behaviour == "noise":
        return attacks.gaussian_noise(global_weights, attacks.NOISE_STD, config.seed)
    if behaviour == "free_rider":
        return attacks.free_ride(global_weights, attacks.FREE_RIDER_NOISE_STD, config.seed)

    from fedledger.ml.training import train_local  # imports Keras

    data = attacks.flip_labels(dataset) if behaviour == "label_flip" else dataset
    trained = train_local(global_weights, data, config, progress)
    if behaviour == "sign_flip":
        return attacks.sign_flip(global_weights, trained)
    return trained


class ParticipantClient:
    """One participant (the ledger's account) with a blob store. Close it, or use it as a
    context manager, to close the store."""

    def __init__(
        self,
        ledger: FedLedger,
        store: BlobStore,
        *,
        max_blob_bytes: int | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.max_blob_bytes = max_blob_bytes
        self.poll_interval = poll_interval

    def __enter__(self) -> ParticipantClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def address(self) -> str:
        return self.ledger.address

    # ---- 1. get the model --------------------------------------------------------------

    def latest_model(self) -> GlobalModel:
        """The current round, its state and deadline, and the global model's hash."""
        return self.ledger.coordinator.latest_model()

    def fetch_global_model(self, model: GlobalModel | None = None) -> FetchedModel:
        """Fetch and decode the global model of ``model`` (default: the current round).

        The store returns only bytes that hash to the CID the chain's content hash names
        (``BlobCorrupted`` otherwise); decoding refuses anything but valid weights.
        """
        model = model or self.latest_model()
        if model.round == 0:
            raise ParticipantError(
                "training has not started on this deployment: the admin opens round 1 "
                "with `fedledger admin start`"
            )
        cid = cid_from_content_hash(model.content_hash)
        blob = self.store.get(cid, max_bytes=self.max_blob_bytes)
        return FetchedModel(
            round=model.round,
            state=model.state,
            deadline=model.deadline,
            content_hash=model.content_hash,
            cid=cid,
            blob=blob,
            weights=decode(blob, max_bytes=self.max_blob_bytes),
        )

    # ---- 2. submit ---------------------------------------------------------------------

    def submit(
        self, weights: ModelWeights, num_samples: int, round_: int | None = None
    ) -> Submission:
        """Encode, upload and submit ``weights`` for ``round_`` (default: the current one)."""
        return self.submit_blob(encode(weights), num_samples, round_)

    def submit_blob(self, blob: bytes, num_samples: int, round_: int | None = None) -> Submission:
        """Upload ``blob`` as it is and submit its content hash.

        No local check of the bytes: :meth:`submit` is the normal path. This one exists for
        tools and tests that need to send what an honest client never would.
        """
        round_ = self.latest_model().round if round_ is None else round_
        self._require_can_submit(round_)
        cid = self.store.put(blob)
        content_hash = content_hash_of(blob)
        result = self.ledger.coordinator.submit_update(round_, content_hash, num_samples)
        return Submission(
            round=round_,
            participant=self.address,
            content_hash=content_hash,
            cid=cid,
            num_samples=num_samples,
            tx_hash=result.tx_hash,
            block_number=result.block_number,
            gas_used=result.gas_used,
        )

    def _require_can_submit(self, round_: int) -> None:
        """Say why a submission cannot succeed before anything is uploaded (the chain's
        dry run would refuse it too, with less context)."""
        info = self._require_not_banned()
        if info.last_submitted_round >= round_ > 0:
            raise ParticipantError(
                f"{self.address} already submitted in round {round_}; wait for the next "
                "round (`fedledger participant status` shows the verdict)"
            )

    def _require_not_banned(self) -> ParticipantInfo:
        info = self.ledger.coordinator.get_participant(self.address)
        if info.banned:
            raise ParticipantError(
                f"{self.address} is banned after {info.strikes} rejected updates; "
                "the admin can lift the ban with `fedledger admin pardon`"
            )
        return info

    # ---- 3. follow the verdict ---------------------------------------------------------

    def verdict(self, round_: int, participant: str | None = None) -> UpdateVerdict:
        """The update of ``participant`` (default: this account) in ``round_``."""
        return read_verdicts(self.ledger, round_, participant or self.address)[0]

    def wait_for_verdict(
        self, round_: int, *, timeout: float | None = None, participant: str | None = None
    ) -> UpdateVerdict:
        """Poll until the update of ``participant`` (default: this account) is settled
        (see :func:`wait_for_verdict`)."""
        return wait_for_verdict(
            self.ledger,
            round_,
            participant or self.address,
            timeout=timeout,
            poll_interval=self.poll_interval,
        )

    def wait_for_open_round(self, after: int = 0, *, timeout: float | None = None) -> GlobalModel:
        """Poll until a round later than ``after`` is open for submissions."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            model = self.latest_model()
            if model.round > after and model.state == RoundState.OPEN:
                return model
            if deadline is not None and time.monotonic() > deadline:
                raise ParticipantError(
                    f"no round after {after} opened within {timeout:g} s (now round "
                    f"{model.round}, {model.state.name.lower()})"
                )
            time.sleep(self.poll_interval)

    # ---- rewards -----------------------------------------------------------------------

    def rewards(self, address: str | None = None) -> Rewards:
        """Token balance, counters and redemption value of ``address`` (default: own)."""
        address = address or self.address
        return read_rewards(self.ledger, address)

    # ---- the loop ----------------------------------------------------------------------

    def run(
        self,
        dataset: Dataset,
        config: TrainingConfig,
        *,
        rounds: int,
        behaviour: str = "honest",
        num_samples: int | None = None,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[RoundOutcome]:
        """Take part in ``rounds`` rounds: for each open round not yet submitted to, fetch
        the global model, make the update (:func:`make_update`, seeded per round from
        ``config.seed``), submit it and wait for the verdict; yield each outcome.

        Resumes where the chain says it left off (a restarted participant does not submit
        twice). A round whose deadline passes before the submission lands is skipped.
        Stops with :class:`ParticipantError` once the participant is banned.
        """
        _require_behaviour(behaviour)  # before waiting for a round, not after
        samples = len(dataset) if num_samples is None else num_samples
        last = self.ledger.coordinator.get_participant(self.address).last_submitted_round
        done = 0
        while done < rounds:
            self._require_not_banned()
            model = self.wait_for_open_round(last, timeout=timeout)
            started = time.monotonic()
            fetched = self.fetch_global_model(model)
            round_config = replace(config, seed=derive_seed(config.seed, model.round))
            update = make_update(behaviour, fetched.weights, dataset, round_config, progress)
            trained = time.monotonic()
            try:
                submission = self.submit(update, samples, model.round)
            except (SubmissionDeadlinePassed, RoundNotOpen, WrongRound):
                last = model.round  # the round ended while we trained: take the next one
                continue
            verdict = self.wait_for_verdict(model.round, timeout=timeout)
            last = model.round
            done += 1
            yield RoundOutcome(
                round=model.round,
                behaviour=behaviour,
                submission=submission,
                verdict=verdict,
                training_seconds=trained - started,
                seconds=time.monotonic() - started,
            )


def read_rewards(ledger: FedLedger, address: str) -> Rewards:
    """The :class:`Rewards` of any address (no signing account needed)."""
    info = ledger.coordinator.get_participant(address)
    balance = ledger.token.balance_of(address)
    return Rewards(
        address=address,
        balance=balance,
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


def wait_for_verdict(
    ledger: FedLedger,
    round_: int,
    participant: str,
    *,
    timeout: float | None = None,
    poll_interval: float = 0.5,
) -> UpdateVerdict:
    """Poll until ``participant``'s update of ``round_`` is settled (accepted, rejected,
    disputed or expired). Read-only: works for any address, no blob store needed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = ledger.coordinator.get_update(round_, participant).status
        if status != UpdateStatus.PENDING:
            (verdict,) = read_verdicts(ledger, round_, participant)
            if verdict.settled:
                return verdict
            if verdict.status == UpdateStatus.NONE:
                raise ParticipantError(
                    f"{participant} has no update in round {round_}: nothing to wait for"
                )
        if deadline is not None and time.monotonic() > deadline:
            raise ParticipantError(
                f"no verdict on {participant}'s update of round {round_} after "
                f"{timeout:g} s; are the oracles running? (`fedledger status`)"
            )
        time.sleep(poll_interval)


def read_verdicts(
    ledger: FedLedger, round_: int, participant: str | None = None
) -> list[UpdateVerdict]:
    """The verdicts on the updates of ``round_``: every submission of the round in chain
    order, or only ``participant``'s (a one-element list, status ``NONE`` if it did not
    submit). Read-only: works for any address.

    Outcomes, scores, reasons and rewards come from the settlement events, which survive
    the deletion of rejected records under the AcceptedOnly policy; pending and expired
    updates from the contract's view.
    """
    start = ledger.deployment.block_number
    filters: dict[str, Any] = {"round": round_}
    if participant is not None:
        filters["participant"] = participant
    submitted = {e.participant: e for e in ledger.events(UpdateSubmitted, start, **filters)}
    votes: dict[str, list[Vote]] = {}
    for cast in ledger.events(VoteCast, start, **filters):
        votes.setdefault(cast.participant, []).append(
            Vote(cast.oracle, cast.accept, cast.score, cast.reason, cast.block_number)
        )
    accepted = {e.participant: e for e in ledger.events(UpdateAccepted, start, **filters)}
    rejected = {e.participant: e for e in ledger.events(UpdateRejected, start, **filters)}
    disputed = {e.participant for e in ledger.events(UpdateDisputed, start, **filters)}

    verdicts = []
    for address in [participant] if participant is not None else list(submitted):
        submission = submitted.get(address)
        status, score, reason, reward = UpdateStatus.NONE, 0, None, 0
        if address in accepted:
            event = accepted[address]
            status, score, reward = UpdateStatus.ACCEPTED, event.score, event.reward
        elif address in rejected:
            refusal = rejected[address]
            status, score, reason = UpdateStatus.REJECTED, refusal.score, refusal.reason
        elif address in disputed:
            status = UpdateStatus.DISPUTED
        elif submission is not None:  # pending, or expired at close: the view says which
            status = ledger.coordinator.get_update(round_, address).status
        verdicts.append(
            UpdateVerdict(
                round=round_,
                participant=address,
                status=status,
                content_hash=submission.content_hash if submission else None,
                score=score,
                reason=reason,
                reward=reward,
                votes=tuple(votes.get(address, ())),
            )
        )
    return verdicts
