"""A sealed update's way in: open the envelope, decode, look for an earlier copy, verify.

One :class:`SealedIntake` per node. It knows what the chain dictates about every update
(the binding: chain id, coordinator, round, submitter), this oracle's key file and its
key record on chain, and it keeps, per round, each update's fixed-point step from the
global model for the duplicate check (:mod:`oracle.duplicates`).

Order of the checks (the first failure names the vote): the envelope
(:mod:`oracle.sealed`: ``MALFORMED``, ``NOT_A_RECIPIENT``, ``NOT_AUTHENTIC``), the
weights (:func:`oracle.inspection.decode_update`), the duplicate check against every
earlier update of the round in on-chain order (``DUPLICATE``), then the verifier's checks on
the weights alone (:meth:`oracle.verification.Verifier.admit`). An update that passes them
all is admitted: its vote waits for the round's judgement at close (:mod:`oracle.voting`),
which needs only its assessment and coarse step, kept on arrival (:meth:`RoundWork.admit`);
the aggregate, and a round too small to judge in company, read it again with
:meth:`SealedIntake.load`.
An earlier update this oracle has not opened yet (after a restart, or fetched out of order)
is fetched and opened first; one that cannot be opened (not sealed for this oracle,
unreachable, not authentic) is left out of the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from fedledger.chain import EncryptionKeyInfo, FedLedger, ReasonCode
from fedledger.crypto import OracleKeyFile
from fedledger.ml import ModelWeights, decode
from fedledger.storage import BlobStore, StorageError, cid_from_content_hash
from oracle.duplicates import Step, first_duplicated
from oracle.inspection import Decision, assess_update, decode_update
from oracle.rounds import RoundWork
from oracle.sealed import CannotOpen, Submitted, open_update
from oracle.verification import Verifier

DUPLICATE = "duplicate"


class CandidateUnreadable(Exception):
    """An earlier update needed for an exact duplicate comparison cannot be read now."""


class RoundUpdates(Sequence[ModelWeights]):
    """A round's updates, in the order given, read from the store each time one is asked
    for (fetched, opened, decoded): the round's judgement and its aggregate go over them a
    few times with one decoded update in memory, whatever the round's size."""

    def __init__(
        self, intake: SealedIntake, work: RoundWork, updates: Sequence[tuple[str, bytes]]
    ) -> None:
        self._intake = intake
        self._work = work
        self._updates = list(updates)  # (participant, content hash)
        self.reads = 0

    def __len__(self) -> int:
        return len(self._updates)

    @overload
    def __getitem__(self, index: int) -> ModelWeights: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ModelWeights]: ...
    def __getitem__(self, index: int | slice) -> ModelWeights | Sequence[ModelWeights]:
        if isinstance(index, slice):
            return RoundUpdates(self._intake, self._work, self._updates[index])
        participant, content_hash = self._updates[index]
        self.reads += 1
        return self._intake.load(self._work, participant, content_hash)


class SealedIntake:
    """Opens and judges the sealed updates of the rounds a node works on."""

    def __init__(
        self, ledger: FedLedger, store: BlobStore, key_file: OracleKeyFile, *, max_bytes: int
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.key_file = key_file
        self.max_bytes = max_bytes
        self._chain_id = ledger.deployment.chain_id
        self._coordinator = ledger.coordinator.address
        self._record: tuple[int, EncryptionKeyInfo] | None = None

    def key_record(self, block: int) -> EncryptionKeyInfo:
        """This oracle's on-chain key record as of ``block`` or later, read again once a
        later submission needs it (a rotation or a first registration may have happened
        since). A record read now holds for every block up to the head read just before
        it, so a burst of submissions, each in its own block, costs one read per step and
        not one per submission."""
        if self._record is None or self._record[0] < block:
            head = self.ledger.client.block_number()
            info = self.ledger.coordinator.encryption_key_of(self.ledger.address)
            self._record = (max(block, head, info.registered_at_block), info)
        return self._record[1]

    def submitted(self, work: RoundWork, participant: str) -> Submitted:
        block = work.submitted_at.get(participant, (0, 0))[0]
        return Submitted(self._chain_id, self._coordinator, work.number, participant, block)

    def open(self, work: RoundWork, participant: str, blob: bytes) -> bytes | Decision:
        """The plaintext, or the reject vote; CannotOpen when this oracle must not vote."""
        submitted = self.submitted(work, participant)
        return open_update(blob, submitted, self.key_file, self.key_record(submitted.block_number))

    def judge(
        self,
        work: RoundWork,
        participant: str,
        blob: bytes,
        global_model: ModelWeights,
        verifier: Verifier,
    ) -> Decision | None:
        """The reject vote on ``participant``'s sealed ``blob`` (see the module's order of
        checks), or None: admitted (:meth:`RoundWork.admit` keeps its assessment and coarse
        step), the vote waits for the round's judgement."""
        opened = self.open(work, participant, blob)
        if isinstance(opened, Decision):
            work.remember_step(participant, None)
            return opened
        update = decode_update(opened, global_model, max_bytes=self.max_bytes)
        if isinstance(update, Decision):
            work.remember_step(participant, None)
            return update
        step = Step.of(update, global_model)
        earlier = self._earlier_sketched(work, participant, global_model)
        work.remember_step(participant, step.sketch)  # the full step is read again if needed
        open_pairs = work.sketches.open_pairs(step.sketch)  # one pass over every sketch
        found = first_duplicated(
            step,
            [(other, work.sketches.get(other)) for other in earlier if other in open_pairs],
            lambda earlier: self._candidate_step(work, earlier, global_model),
        )
        if found is not None:
            original, per_mille = found
            return Decision.reject(
                ReasonCode.DUPLICATE,
                DUPLICATE,
                f"the same training as {original}'s earlier update of round {work.number} "
                f"(step distance {per_mille} per mille)",
            )
        outcome = assess_update(update, global_model, verifier)
        if isinstance(outcome, Decision):
            return outcome
        work.admit(participant, *outcome)
        return None

    def load(self, work: RoundWork, participant: str, content_hash: bytes) -> ModelWeights:
        """An update of ``work``'s round read again, for the round's judgement or its
        aggregate: fetched, opened and decoded.

        Raises StorageError, InvalidWeights or CannotOpen: it opened here before (or k
        oracles accepted it), so a failure now is this node's problem, and the caller
        retries.
        """
        blob = self.store.get(cid_from_content_hash(content_hash), max_bytes=self.max_bytes)
        opened = self.open(work, participant, blob)
        if isinstance(opened, Decision):
            raise CannotOpen(
                f"the update of {participant} does not open here: {opened.detail}",
                level="error",
            )
        return decode(opened, max_bytes=self.max_bytes)

    def _earlier_sketched(
        self, work: RoundWork, participant: str, global_model: ModelWeights
    ) -> list[str]:
        """The updates before ``participant``'s in chain order that have a sketch, each
        earlier one not read yet read now (after a restart, or fetched out of order)."""
        earlier = []
        for other in work.submissions:
            if other == participant:
                break
            if other not in work.steps_read:
                self._full_step(work, other, global_model)
            if other in work.sketches:
                earlier.append(other)
        return earlier

    def _candidate_step(
        self, work: RoundWork, participant: str, global_model: ModelWeights
    ) -> Step | None:
        """The full step of an earlier update whose sketch leaves a duplicate open. Its
        sketch was made from it, so it opened before; if it cannot be read now, the
        verdict waits (CandidateUnreadable: the task is retried) rather than differ from
        the oracles that could compare."""
        try:
            return self._full_step(work, participant, global_model, strict=True)
        except (StorageError, CannotOpen) as exc:
            raise CandidateUnreadable(
                f"cannot read {participant}'s earlier update again for the duplicate check: {exc}"
            ) from exc

    def _full_step(
        self, work: RoundWork, participant: str, global_model: ModelWeights, *, strict: bool = False
    ) -> Step | None:
        """Fetch and open an earlier update for its step, and remember its sketch. What
        cannot be read now (store failing, this oracle's key missing) is left out (None)
        and tried again for the next update; what can never be read (not sealed for this
        oracle, not authentic, not weights) is remembered as None."""
        try:
            blob = self.store.get(
                cid_from_content_hash(work.submissions[participant]), max_bytes=self.max_bytes
            )
            opened = self.open(work, participant, blob)
        except (StorageError, CannotOpen):
            if strict:
                raise
            return None
        update = (
            opened
            if isinstance(opened, Decision)
            else decode_update(opened, global_model, max_bytes=self.max_bytes)
        )
        step = Step.of(update, global_model) if isinstance(update, ModelWeights) else None
        work.remember_step(participant, None if step is None else step.sketch)
        return step
