"""The oracle node's proposals (a part of :class:`oracle.node.OracleNode`): a closed round's
bounded aggregate of the accepted updates, checked by the guard
(:meth:`~oracle.verification.Verifier.approve`) and proposed; an aggregate the guard
refuses is replaced by the round's global model, proposed again."""

from __future__ import annotations

import time

from fedledger.chain import FedLedger
from fedledger.chain.errors import (
    AlreadyProposed,
    ChainError,
    NotOracle,
    RoundNotClosed,
    WrongRound,
)
from fedledger.chain.events import AggregateProposed, RoundFinalized, UpdateAccepted
from fedledger.crypto import (
    EnvelopeError,
    GlobalModelBinding,
    is_envelope,
    open_envelope,
    seal_global_model,
)
from fedledger.ml import InvalidWeights, ModelWeights, decode, encode
from fedledger.ml.aggregation import bounded_fedavg
from fedledger.storage import BlobStore, StorageError, cid_from_content_hash, store_blob
from oracle.errors import NotYetOnChain
from oracle.intake import RoundUpdates, SealedIntake
from oracle.logs import NodeLog
from oracle.rounds import RoundWork
from oracle.sealed import CannotOpen
from oracle.settings import NodeSettings, StepReport
from oracle.verification import Verifier

#: Reverts of a proposal that mean the round no longer awaits this oracle's.
_PROPOSAL_RACES = (AlreadyProposed, RoundNotClosed, WrongRound)


class Proposing:
    """The aggregation half of :class:`oracle.node.OracleNode`, which provides the state
    below."""

    ledger: FedLedger
    address: str
    store: BlobStore
    settings: NodeSettings
    log: NodeLog
    _registered: bool | None
    _stop_requested: bool
    _proposed: dict[bytes, ModelWeights]
    intake: SealedIntake

    def _pin(self, content_hash: bytes, round_: int) -> None:
        raise NotImplementedError

    def _global_model(self, work: RoundWork, report: StepReport) -> ModelWeights | None:
        raise NotImplementedError

    def _verifier_for(self, global_model: ModelWeights, work: RoundWork) -> Verifier:
        raise NotImplementedError

    def _check_unconfirmed_proposal(self, work: RoundWork, report: StepReport) -> None:
        """Like the votes (oracle.voting): a proposal a reorganisation dropped is made again."""
        tx_hash = work.unconfirmed_proposal
        if tx_hash is None:
            return
        client = self.ledger.client
        receipt = client.rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            confirmed_head = client.block_number() - self.settings.confirmations
            if int(receipt["blockNumber"], 16) <= confirmed_head:
                work.unconfirmed_proposal = None
            else:
                report.waiting = True
            return
        if client.rpc("eth_getTransactionByHash", [tx_hash]) is not None:
            report.waiting = True
            return
        work.unconfirmed_proposal = None
        work.proposed = False
        client.reset()
        self.log.warning(
            "reorg",
            "a reorganisation dropped this node's proposal; proposing again",
            round=work.number,
            tx=tx_hash,
        )

    def _propose_round(self, work: RoundWork, report: StepReport) -> None:
        self._check_unconfirmed_proposal(work, report)
        if work.proposed:
            return
        if time.monotonic() < work.retry_at:
            report.blocked = True
            return
        fields = {"round": work.number}
        if self.ledger.coordinator.get_round(work.number).accepted == 0:
            self._skip_empty_round(work, report)
            return
        if self.ledger.coordinator.has_proposed(work.number, self.address):
            work.proposed = True
            self.log.info("skip", "already proposed an aggregate for this round", **fields)
            return
        global_model = self._global_model(work, report)
        if global_model is None:
            return
        try:
            aggregate, updates = self._aggregate(work, global_model)
        except (StorageError, InvalidWeights, NotYetOnChain, CannotOpen) as exc:
            self._round_failed(work, report, "aggregate", str(exc))
            return
        approved = self._verifier_for(global_model, work).approve(global_model, aggregate)
        if approved:
            try:
                blob = self._stored_global_model(encode(aggregate))
                digest = store_blob(self.store, blob).content_hash
            except (StorageError, ChainError) as exc:
                self._round_failed(work, report, "aggregate", f"cannot store the aggregate: {exc}")
                return
        else:
            # The guard: this oracle's validation data says the aggregate makes the model
            # worse than allowed. It proposes the round's global model again (already
            # stored), so the round cannot finalize a collapse unless k oracles approve it.
            aggregate, digest = global_model, work.global_hash
            self.log.warning(
                "guard",
                "the aggregate of the accepted updates fails the guard on this oracle's "
                "validation data: proposing the round's global model again",
                **fields,
                updates=updates,
            )
        try:
            tx = self.ledger.coordinator.propose_aggregate(work.number, digest)
        except _PROPOSAL_RACES as exc:
            work.proposed = True
            self.log.info("skip", f"proposal not needed any more: {exc}", **fields)
            return
        except NotOracle as exc:
            self._registered = False
            report.blocked = True
            self.log.warning("not-oracle", str(exc), **fields)
            return
        except ChainError as exc:
            self._round_failed(work, report, "propose", f"proposal not sent: {exc}")
            return
        work.proposed = True
        if self.settings.confirmations:
            work.unconfirmed_proposal = tx.tx_hash
        report.proposals += 1
        # The aggregate becomes the next round's global model if k oracles agree: keep it.
        self._proposed = {digest: aggregate}
        proposed = tx.events_of(AggregateProposed)
        self.log.info(
            "propose",
            "aggregate proposed" if approved else "the round's global model proposed again",
            **fields,
            content_hash=digest,
            updates=updates,
            approved=approved,
            votes=proposed[0].votes if proposed else None,
            finalized=bool(tx.events_of(RoundFinalized)),
            tx=tx.tx_hash,
            gas=tx.gas_used,
        )

    def _skip_empty_round(self, work: RoundWork, report: StepReport) -> None:
        """Nothing was accepted and voting is over: end the round so the next one opens."""
        work.proposed = True
        try:
            self.ledger.coordinator.skip_stalled_round()
        except _PROPOSAL_RACES as exc:
            self.log.info("skip", f"round already ended: {exc}", round=work.number)
        except ChainError as exc:
            work.proposed = False
            self._round_failed(work, report, "skip", f"skip not sent: {exc}")
        else:
            self.log.info("skip", "nothing accepted: round skipped", round=work.number)

    def _aggregate(self, work: RoundWork, global_model: ModelWeights) -> tuple[ModelWeights, int]:
        """The bounded aggregate of the round's accepted updates, and how many there are:
        :func:`~fedledger.ml.aggregation.bounded_fedavg` with equal weights (every step
        clipped to the median accepted step's norm), the rule the round was judged by.

        It depends on the chain's accepted set and the updates' bytes only, never on this
        oracle's validation data, and it is exact integer arithmetic: every oracle gets the
        same bytes. The set is the updates Accepted when aggregation starts (the grace is
        over or nothing is pending), all of the round's: no vote is taken after that. The
        updates are read from the store one at a time (twice: the norms, then the sum), so
        memory does not grow with the round.
        """
        coordinator = self.ledger.coordinator
        accepted = self.ledger.events(UpdateAccepted, work.opened_block, round=work.number)
        expected = coordinator.get_round(work.number).accepted
        if len(accepted) != expected:
            raise NotYetOnChain(
                f"round {work.number} counts {expected} accepted updates, this node found "
                f"{len(accepted)} UpdateAccepted events; will look again"
            )
        if not accepted:
            raise NotYetOnChain(f"round {work.number} is closed with no accepted update")
        members = []
        for event in accepted:
            digest = work.submissions.get(event.participant) or (
                coordinator.get_update(work.number, event.participant).content_hash
            )
            members.append((event.participant, digest))
        updates = RoundUpdates(self.intake, work, members)
        aggregate = bounded_fedavg(global_model, updates, [1] * len(members)).model
        for _, digest in members:
            self._pin(digest, work.number)  # every organisation keeps every accepted update
        return aggregate, len(members)

    def _stored_global_model(self, blob: bytes) -> bytes:
        """The aggregate as it is stored: in plain under the public policy, else sealed
        convergently for the oracles' and gateways' keys, so that every oracle stores (and
        proposes) the same bytes (docs/security.md, "Global models")."""
        ledger = self.ledger
        recipients = ledger.global_model_recipients()
        return seal_global_model(
            blob, ledger.client.chain_id, ledger.coordinator.address, recipients
        )

    def _load(self, content_hash: bytes) -> ModelWeights:
        """The model stored under ``content_hash``, read (opened with this oracle's keys when
        it is sealed) and decoded within the size cap."""
        max_bytes = self.settings.max_blob_bytes
        blob = self.store.get(cid_from_content_hash(content_hash), max_bytes=max_bytes)
        if is_envelope(blob):
            binding = GlobalModelBinding(
                self.ledger.client.chain_id, self.ledger.coordinator.address
            )
            keys = [pair.private_key for pair in self.intake.key_file.keys]
            try:
                blob = open_envelope(blob, binding, keys)
            except EnvelopeError as exc:
                raise InvalidWeights(f"the sealed global model does not open: {exc}") from exc
        return decode(blob, max_bytes=max_bytes)

    def _round_failed(self, work: RoundWork, report: StepReport, stage: str, message: str) -> None:
        work.failures += 1
        delay = self.settings.retry.delay(work.failures)
        work.retry_at = time.monotonic() + delay
        report.blocked = True
        self.log.error("error", message, stage=stage, round=work.number, retry_in=round(delay, 2))
