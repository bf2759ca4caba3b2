"""The participant client: get the global model, train, upload and submit, round after round.

One :class:`ParticipantClient` is one wallet taking part in a deployment. It speaks to the
chain through :class:`fedledger.chain.FedLedger` and to the blob store through a
:class:`fedledger.storage.BlobStore`:

1. **get the model** (:meth:`ParticipantClient.fetch_global_model`): read the round and
   the global model's content hash from the chain, fetch the blob from the store (the
   store checks the bytes against the CID the hash names, so a damaged or substituted
   model is refused) and decode it;
2. **submit** (:meth:`ParticipantClient.submit`): encode the trained weights, upload them,
   then sign and send ``submitUpdate(round, contentHash, numSamples)``.

Following the verdict is a read of the ledger anyone can do:
:func:`fedledger.queries.wait_for_verdict`. :meth:`ParticipantClient.run` fetches, makes
the update (:class:`fedledger.participant.behaviours.UpdateMaker`, one Keras model for
all its rounds) and submits, for several rounds, which is what ``fedledger participant
run`` and the demo's participant processes do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx

from fedledger import units
from fedledger.chain import FedLedger, GlobalModel, ParticipantInfo, RoundState
from fedledger.chain.access import GatewayDomain, sign_download
from fedledger.chain.coordinator import required_stake
from fedledger.chain.errors import RoundNotOpen, SubmissionDeadlinePassed, WrongRound
from fedledger.chain.events import RoundOpened, UpdateSubmitted
from fedledger.crypto import Binding, GlobalModelBinding, is_envelope, matches_convergent, seal
from fedledger.ml import Dataset, ModelWeights, decode, encode
from fedledger.participant.behaviours import (
    COPIERS,
    UpdateMaker,
    derive_seed,
    require_behaviour,
)
from fedledger.storage import (
    BlobStore,
    GatewayRefused,
    StorageError,
    cid_from_content_hash,
    fetch_through_gateway,
    store_blob,
)

if TYPE_CHECKING:
    from fedledger.ml.training_config import ProgressCallback, TrainingConfig


class ParticipantError(RuntimeError):
    """The participant cannot go on (banned, nothing to submit to, a verdict that never
    came); the message says what to do."""


class SubmissionClosed(ParticipantError):
    """The round no longer takes a submission (not the current round, closed, or past its
    deadline); nothing was sent."""


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
    sealed_for: tuple[str, ...] = ()  # the oracles that can read the update
    not_sealed_for: tuple[str, ...] = ()  # live oracles without an encryption key


@dataclass(frozen=True)
class Recipients:
    """The live oracles a sealed update is for, and those it cannot be for (no key)."""

    keys: dict[str, bytes]  # oracle -> its registered X25519 public key
    without_key: tuple[str, ...]


@dataclass(frozen=True)
class SentUpdate:
    """One round of :meth:`ParticipantClient.run`: the update sent, and when its work began
    (``time.monotonic()``, before the fetch), so that a caller who then waits for the
    verdict can time the whole round."""

    round: int
    behaviour: str
    submission: Submission
    training_seconds: float
    started: float


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
        # One HTTP client for every gateway fetch: making one costs tens of milliseconds
        # (its TLS context), more than the fetch of a global model from a local gateway.
        self._http: httpx.Client | None = None

    def __enter__(self) -> ParticipantClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()
        if self._http is not None:
            self._http.close()
            self._http = None

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
        if is_envelope(blob):
            blob = self._through_gateway(model.content_hash, blob)
        return FetchedModel(
            round=model.round,
            state=model.state,
            deadline=model.deadline,
            content_hash=model.content_hash,
            cid=cid,
            blob=blob,
            weights=decode(blob, max_bytes=self.max_blob_bytes),
        )

    def _through_gateway(self, content_hash: bytes, sealed: bytes) -> bytes:
        """A sealed global model (non-public policy): its plaintext from a gateway, asked
        with this participant's signed request and checked by sealing it again: only the
        bytes the chain's hash names pass."""
        if self.ledger.account is None:
            raise ParticipantError(
                "the global models of this deployment are sealed (policy "
                f"{self.ledger.global_model_policy().name.lower()}): give --key, the gateways "
                "serve them to members"
            )
        registry = self.ledger.gateways
        gateways = registry.gateways()
        if not gateways:
            raise ParticipantError("the global model is sealed and no gateway is registered")
        domain = GatewayDomain(self.ledger.client.chain_id, registry.address)
        binding = GlobalModelBinding(self.ledger.client.chain_id, self.ledger.coordinator.address)
        limit = self.max_blob_bytes or len(sealed)
        failures = []
        for gateway in gateways:
            expiry = self.ledger.client.chain_time() + 120
            signed = sign_download(self.ledger.signer, domain, content_hash, expiry)
            if self._http is None:
                self._http = httpx.Client()
            try:
                plain = fetch_through_gateway(
                    gateway.url,
                    content_hash,
                    signed.to_json(),
                    None,
                    max_bytes=limit,
                    client=self._http,
                )
            except GatewayRefused as refused:
                if refused.status in (401, 403):
                    raise ParticipantError(str(refused)) from refused
                failures.append(str(refused))
                continue
            except StorageError as error:
                failures.append(str(error))
                continue
            if matches_convergent(sealed, plain, binding):
                return plain
            failures.append(f"{gateway.url} sent bytes that are not the sealed global model")
        raise ParticipantError("no gateway served the global model: " + "; ".join(failures))

    # ---- 2. submit ---------------------------------------------------------------------

    def submit(
        self, weights: ModelWeights, num_samples: int, round_: int | None = None
    ) -> Submission:
        """Encode and seal ``weights`` for the live oracles, upload and submit them for
        ``round_`` (default: the current one)."""
        round_ = self.latest_model().round if round_ is None else round_
        self._require_can_submit(round_)
        recipients = self.recipients()
        sealed = self.seal(encode(weights), round_, recipients)
        submission = self.submit_blob(sealed, num_samples, round_)
        return replace(
            submission,
            sealed_for=tuple(recipients.keys),
            not_sealed_for=recipients.without_key,
        )

    def recipients(self) -> Recipients:
        """The live oracles' encryption keys, read from the chain.

        Raises ParticipantError when fewer than k oracles have a key: no update could
        reach k accept votes. With k or more, the others are listed (they cannot judge
        the update; :meth:`submit` reports them in ``not_sealed_for``).
        """
        coordinator = self.ledger.coordinator
        keys = coordinator.encryption_keys()
        quorum = coordinator.quorum()
        with_key = {oracle: key for oracle, key in keys.items() if key != bytes(32)}
        without = tuple(oracle for oracle in keys if oracle not in with_key)
        if len(with_key) < max(quorum, 1):
            raise ParticipantError(
                f"only {len(with_key)} of {len(keys)} oracles have an encryption key and "
                f"{quorum} must accept an update, so no update can be accepted; the "
                f"operators of {', '.join(without) or 'the oracles'} must run `fedledger "
                "oracle key create` and `fedledger oracle key register`"
            )
        return Recipients(with_key, without)

    def seal(self, blob: bytes, round_: int, recipients: Recipients | None = None) -> bytes:
        """``blob`` sealed for the live oracles' keys, bound to this chain, coordinator,
        round and account (only those oracles can read it; a copy under any other
        address or round fails to authenticate)."""
        recipients = recipients or self.recipients()
        binding = Binding(
            self.ledger.deployment.chain_id, self.ledger.coordinator.address, round_, self.address
        )
        return bytes(seal(blob, binding, list(recipients.keys.values())))

    def submit_blob(self, blob: bytes, num_samples: int, round_: int | None = None) -> Submission:
        """Upload ``blob`` as it is (not sealed) and submit its content hash.

        No local check of the bytes: :meth:`submit` is the normal path. This one exists for
        tools and tests that need to send what an honest client never would (a copy of
        another participant's sealed blob, a blob sealed by :meth:`seal`).
        """
        round_ = self.latest_model().round if round_ is None else round_
        self._require_can_submit(round_)
        stored = store_blob(self.store, blob)
        coordinator = self.ledger.coordinator
        # Under open enrolment the submission carries the refundable stake (returned once
        # the update is accepted, disputed or expired; forfeited if rejected).
        result = coordinator.submit_update(
            round_, stored.content_hash, num_samples, stake=required_stake(coordinator)
        )
        return Submission(
            round=round_,
            participant=self.address,
            content_hash=stored.content_hash,
            cid=stored.cid,
            num_samples=num_samples,
            tx_hash=result.tx_hash,
            block_number=result.block_number,
            gas_used=result.gas_used,
        )

    def _require_can_submit(self, round_: int) -> None:
        """Say why a submission cannot succeed before anything is uploaded (the chain's
        dry run would refuse it too, with less context)."""
        info = self._require_not_banned()
        model = self.latest_model()
        if round_ != model.round:
            raise SubmissionClosed(
                f"round {round_} is not the current round (round {model.round} is "
                f"{units.words(model.state)}): submissions go to the current round; "
                "leave out --round"
            )
        if model.state != RoundState.OPEN:
            raise SubmissionClosed(
                f"round {round_} is {units.words(model.state)} and takes no more "
                "submissions: wait until the next round opens (`fedledger status`)"
            )
        if info.last_submitted_round == round_:
            raise ParticipantError(
                f"{self.address} already submitted in round {round_} (one update per "
                "round): `fedledger participant status` with the same --key shows its verdict"
            )
        now = self.ledger.client.chain_time()
        if now > model.deadline:
            raise SubmissionClosed(
                f"round {round_}'s submission deadline passed "
                f"{units.format_duration(now - model.deadline)} ago "
                f"({units.format_local_time(model.deadline)}); nothing was sent. The next "
                "round opens once this one is closed: running oracle nodes close it by "
                "themselves, or anyone runs `fedledger round close --wait`"
            )

    def _require_not_banned(self) -> ParticipantInfo:
        info = self.ledger.coordinator.get_participant(self.address)
        if info.banned:
            raise ParticipantError(
                f"{self.address} is banned after {info.strikes} rejected updates; "
                "the admin can lift the ban with `fedledger admin pardon`"
            )
        return info

    # ---- waiting for a round ----------------------------------------------------------

    def wait_for_open_round(
        self,
        after: int = 0,
        *,
        timeout: float | None = None,
        on_wait: Callable[[GlobalModel], None] | None = None,
    ) -> GlobalModel:
        """Wait until a round later than ``after`` is open for submissions, its deadline
        not passed: the chain is read again when a block with a RoundOpened event is
        announced (or every poll interval where the node pushes none,
        :mod:`fedledger.chain.heads`); ``on_wait(latest)``
        hears each look that finds none (for a progress line)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Woken by the blocks that open a round, not by every vote of the others.
        opened = self.ledger.client.event_watcher(self.ledger.coordinator.address, [RoundOpened])
        while True:
            mark = opened.mark()  # before the reads: a round opened after them wakes us
            model = self.latest_model()
            if (
                model.round > after
                and model.state == RoundState.OPEN
                and self.ledger.client.chain_time() <= model.deadline
            ):
                return model
            if on_wait is not None:
                on_wait(model)
            if deadline is not None and time.monotonic() > deadline:
                raise ParticipantError(
                    f"no round after {after} opened within {timeout:g} s (now round "
                    f"{model.round}, {model.state.name.lower()})"
                )
            opened.wait(mark, self.poll_interval)

    def _wait_for_submission(self, round_: int, partner: str | None) -> bytes | None:
        """The content hash ``partner`` (or any other participant) submitted in ``round_``,
        once there is one; None if the round stops taking submissions first."""
        start = self.ledger.deployment.block_number
        chain = self.ledger.client
        while True:
            mark = chain.change_mark()
            for event in self.ledger.events(UpdateSubmitted, start, round=round_):
                if event.participant != self.address and partner in (None, event.participant):
                    return event.content_hash
            model = self.latest_model()
            if model.round != round_ or model.state != RoundState.OPEN:
                return None
            chain.wait_for_change(mark, self.poll_interval)

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
        on_wait: Callable[[GlobalModel], None] | None = None,
        partner: str | None = None,
        maker: UpdateMaker | None = None,
    ) -> Iterator[SentUpdate]:
        """Take part in ``rounds`` rounds: for each open round not yet submitted to, fetch
        the global model, make the update (one :class:`UpdateMaker` for every round, so
        the Keras model is built once; seeded per round from ``config.seed``), submit it
        and yield what was sent.

        The caller follows the verdict (:func:`fedledger.queries.wait_for_verdict`) before
        asking for the next round: the ban check that opens the next round reads its
        outcome. Resumes where the chain says it left off (a restarted participant does not
        submit twice). A round whose deadline passes before the submission lands is
        skipped. Stops with :class:`ParticipantError` once the participant is banned.

        The copiers (``copycat``, ``colluder``) first wait for ``partner``'s submission of
        the round (any other participant's when ``partner`` is None); a copycat then submits
        that blob as it is.

        ``maker`` makes the updates (default: one of this call's own); participants hosted
        in one process share one, which makes them take turns.
        """
        require_behaviour(behaviour)  # before waiting for a round, not after
        samples = len(dataset) if num_samples is None else num_samples
        last = self.ledger.coordinator.get_participant(self.address).last_submitted_round
        done = 0
        maker = maker or UpdateMaker()
        while done < rounds:
            self._require_not_banned()
            model = self.wait_for_open_round(last, timeout=timeout, on_wait=on_wait)
            started = time.monotonic()
            fetched = self.fetch_global_model(model)
            round_config = replace(config, seed=derive_seed(config.seed, model.round))
            copied = None
            if behaviour in COPIERS:
                copied = self._wait_for_submission(model.round, partner)
                if copied is None:  # the round ended with nothing to copy
                    last = model.round
                    continue
            if behaviour != "copycat":
                update = maker.make(behaviour, fetched.weights, dataset, round_config, progress)
            trained = time.monotonic()
            try:
                if behaviour == "copycat":
                    assert copied is not None
                    blob = self.store.get(
                        cid_from_content_hash(copied), max_bytes=self.max_blob_bytes
                    )
                    submission = self.submit_blob(blob, samples, model.round)
                else:
                    submission = self.submit(update, samples, model.round)
            except (SubmissionClosed, SubmissionDeadlinePassed, RoundNotOpen, WrongRound):
                last = model.round  # the round ended while we trained: take the next one
                continue
            last = model.round
            done += 1
            yield SentUpdate(
                round=model.round,
                behaviour=behaviour,
                submission=submission,
                training_seconds=trained - started,
                started=started,
            )
