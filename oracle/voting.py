"""The oracle node's votes (a part of :class:`oracle.node.OracleNode`).

Each submitted update is fetched and checked as it arrives (:mod:`oracle.intake`: the
envelope, the weights, duplicates, and the verifier's checks on the weights alone); what
fails is rejected at once. What passes waits: once the round is closed (the verification
grace), the admitted updates are judged in each other's company
(:meth:`~oracle.verification.Verifier.judge_assessed`, from what their assessment on
arrival kept: a few integers each in memory, the coarse step in the round's
:class:`~oracle.spool.StepSpool` on disk; no update is read again) and every verdict goes
out in voteBatch transactions. What an
outage held up is retried; an outage never becomes a vote.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fedledger.chain import FedLedger, Verdict
from fedledger.chain.errors import (
    AlreadyVoted,
    ChainError,
    NotOracle,
    RoundNotOpen,
    UnknownUpdate,
    UpdateAlreadySettled,
    VotingEnded,
    WrongRound,
)
from fedledger.chain.events import UpdateAccepted, UpdateDisputed, UpdateRejected, VoteCast
from fedledger.ml import InvalidWeights, ModelWeights
from fedledger.storage import BlobNotFound, BlobStore, StorageError, cid_from_content_hash
from oracle.fetcher import BlobFetcher, Fetched
from oracle.inspection import Decision, decision_of, storage_rejection, unreachable
from oracle.intake import RoundUpdates, SealedIntake
from oracle.logs import NodeLog
from oracle.rounds import RoundWork, UpdateTask
from oracle.sealed import CannotOpen
from oracle.settings import NodeSettings, StepReport
from oracle.verification import Verifier

#: Most verdicts one voteBatch transaction carries.
MAX_BATCH = 200
#: Fetches started and not yet verified, per fetch worker: bounds the blobs held in memory
#: and the work of one step, so votes go out (and the chain's news comes in) often.
FETCHES_PER_WORKER = 8

#: Reverts of a vote that mean another oracle, or the round, got there first.
_VOTE_RACES = (
    AlreadyVoted,
    UpdateAlreadySettled,
    RoundNotOpen,
    VotingEnded,
    WrongRound,
    UnknownUpdate,
)


class Voting:
    """The voting half of :class:`oracle.node.OracleNode`, which provides the state below
    and ``_global_model`` / ``_verifier_for``."""

    ledger: FedLedger
    address: str
    store: BlobStore
    settings: NodeSettings
    log: NodeLog
    _registered: bool | None
    _stop_requested: bool
    _fetcher: BlobFetcher[tuple[int, str]]
    intake: SealedIntake
    _round_failed: Callable[[RoundWork, StepReport, str, str], None]  # oracle.proposing's

    def _global_model(self, work: RoundWork, report: StepReport) -> ModelWeights | None:
        raise NotImplementedError

    def _verifier_for(self, global_model: ModelWeights, work: RoundWork) -> Verifier:
        raise NotImplementedError

    def _pin(self, content_hash: bytes, round_: int) -> None:
        """Keep an accepted update (or an aggregate) in this organisation's store for good,
        so the model history survives the loss of any other organisation."""
        try:
            self.store.pin(cid_from_content_hash(content_hash))
        except StorageError as exc:  # the vote stands; the pin is retried by an operator
            self.log.error("error", f"cannot pin: {exc}", stage="pin", round=round_)

    def _check_unconfirmed_votes(self, work: RoundWork, report: StepReport) -> None:
        """Votes buried ``confirmations`` deep are done; a vote whose transaction a
        reorganisation dropped is cast again (the contract refuses a second vote, and the
        node asks it first), so no vote is lost and none counted twice."""
        if not work.unconfirmed_votes:
            return
        client = self.ledger.client
        confirmed_head = client.block_number() - self.settings.confirmations
        for participant, (tx_hash, decision) in list(work.unconfirmed_votes.items()):
            receipt = client.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None and int(receipt["blockNumber"], 16) <= confirmed_head:
                del work.unconfirmed_votes[participant]
                continue
            if receipt is not None:
                report.waiting = True
                continue
            # Not on the chain this node follows (any more): pending again, or dropped.
            if client.rpc("eth_getTransactionByHash", [tx_hash]) is not None:
                report.waiting = True  # back in the pool after a reorganisation
                continue
            del work.unconfirmed_votes[participant]
            client.reset()  # the dropped transaction's nonce is free again
            self.log.warning(
                "reorg",
                "a reorganisation dropped this node's vote; voting again",
                round=work.number,
                participant=participant,
                tx=tx_hash,
            )
            work.reopen(participant, decision)

    def _vote_round(self, work: RoundWork, report: StepReport, *, closed: bool = False) -> None:
        """Check what arrived and vote the rejections at once; once the round is ``closed``
        (the verification grace), judge the admitted updates together and vote on them."""
        global_model = self._global_model(work, report)
        if global_model is None:
            return
        self._check_unconfirmed_votes(work, report)
        verifier = self._verifier_for(global_model, work)
        work.new_tasks()
        try:
            self._verify_and_vote(work, global_model, verifier, report)
            if closed and not work.judged and not self._stop_requested:
                self._judge_when_due(work, global_model, verifier, report)
        finally:
            self._send_ballot(work, report)  # the verdicts reached, in one transaction

    def _verify_and_vote(
        self, work: RoundWork, global_model: ModelWeights, verifier: Verifier, report: StepReport
    ) -> None:
        """Check what was fetched and put the rejections on the ballot; start the next
        fetches (a bounded number: the rest wait for the next step)."""
        for fetched in self._fetcher.collect():
            number, participant = fetched.key
            task = work.tasks.get(participant)
            if number == work.number and task is not None:
                if _rejected_by_chain(work, participant):  # the others' votes decided it
                    self._skip_settled(work, participant)
                else:
                    self._handle_fetched(work, task, fetched, global_model, verifier, report)
            if self._stop_requested:
                return
        now = time.monotonic()
        most_fetches = FETCHES_PER_WORKER * self.settings.fetch_workers
        for task in list(work.tasks.values()):
            if self._stop_requested:
                return
            key = (work.number, task.participant)
            if key in self._fetcher or task.participant in work.ballot:
                report.waiting = True
            elif task.not_before > now:
                # An outage blocks; a blob not found yet is waited for (bounded).
                report.blocked |= task.outage
                report.waiting |= not task.outage
            elif task.decision is not None:  # decided before, the vote did not go through
                self._cast_vote(work, task, task.decision, report)
            elif _rejected_by_chain(work, task.participant):
                self._skip_settled(work, task.participant)
            elif len(self._fetcher) >= most_fetches:
                report.waiting = True  # fetched in a later step
            else:
                # Even an update settled or voted on is checked: it is part of the round's
                # company at close (RoundWork.company), the same after a restart.
                self._fetcher.start(key, cid_from_content_hash(task.content_hash))
                report.waiting = True

    def _judge_when_due(
        self, work: RoundWork, global_model: ModelWeights, verifier: Verifier, report: StepReport
    ) -> None:
        """Judge the round's admitted updates in each other's company
        (:meth:`~oracle.verification.Verifier.judge_assessed`) once every submission has been
        read (the RoundClosed event, which follows them all on the chain, has been) and
        checked, or half of the verification grace is gone; put the verdicts of the updates
        still pending that this oracle has not voted on on the ballot."""
        if work.closed_at is None or work.close_seed is None:
            report.waiting = True  # the close is not confirmed yet: submissions may follow
            return
        late = sorted(work.tasks)
        if late and not self._grace_half_over(work):
            report.waiting = True
            return
        if time.monotonic() < work.retry_at:
            report.blocked = True
            return
        company = work.company()
        to_vote = {p for p in company if p not in work.settled and p not in work.voted}
        if not to_vote:
            work.judged = True
            return
        updates = RoundUpdates(self.intake, work, [(p, work.submissions[p]) for p in company])
        spool = work.spool
        assert spool is not None  # every admitted update was put there (RoundWork.admit)
        started = time.perf_counter()
        try:
            judgement = verifier.judge_assessed(
                global_model,
                [work.assessments[p] for p in company],
                lambda position: spool.get(company[position]),
                updates,  # read only by a round too small to judge in company
                seed=work.close_seed,
            )
        except (StorageError, CannotOpen, InvalidWeights, OSError) as exc:
            self._round_failed(work, report, "judge", f"cannot read an update again: {exc}")
            return
        seconds = time.perf_counter() - started
        work.judged = True
        for participant, verdict in zip(company, judgement.verdicts, strict=True):
            if participant not in to_vote:
                continue
            task = UpdateTask(participant, work.submissions[participant])
            task.verify_seconds = seconds / len(company)
            work.tasks[participant] = task
            self._cast_vote(work, task, decision_of(verdict), report)
        self.log.info(
            "judged",
            "the round's admitted updates judged together",
            round=work.number,
            company=len(company),
            accepted=sum(v.accept for v in judgement.verdicts),
            to_vote=len(to_vote),
            reads=updates.reads,
            still_checking=late,
            judge_ms=round(seconds * 1000, 2),
        )

    def _grace(self, work: RoundWork) -> tuple[int, int]:
        """The round's verification grace on the chain's clock (closed at, voting ends),
        read once per close: kept once the node has read the RoundClosed event (a
        reorganisation that removes it forgets them), read afresh before."""
        if work.grace is not None:
            return work.grace
        info = self.ledger.coordinator.get_round(work.number)
        grace = (info.closed_at, info.voting_ends)
        if work.closed_at is not None:
            work.grace = grace
        return grace

    def _grace_half_over(self, work: RoundWork) -> bool:
        """Whether half of the round's verification grace has passed on the chain's clock:
        the judgement stops waiting for updates still being fetched (they get no vote)."""
        closed_at, voting_ends = self._grace(work)
        return self.ledger.client.chain_time() >= closed_at + (voting_ends - closed_at) // 2

    def _skip_settled(self, work: RoundWork, participant: str) -> None:
        """The chain rejected the update without this oracle's vote (oracle.node follows
        its UpdateRejected/Disputed events): no fetch, no check, no vote."""
        self.log.info(
            "skip", "the update is settled: nothing to vote on", round=work.number,
            participant=participant,
        )  # fmt: skip
        work.finish(participant)

    def _reject_on_arrival(
        self, work: RoundWork, task: UpdateTask, decision: Decision, report: StepReport
    ) -> None:
        """Vote a rejection that needs no company now, unless the chain settled the update
        or this oracle voted on it already (before a restart)."""
        if task.participant in work.settled or task.participant in work.voted:
            state = "settled" if task.participant in work.settled else "voted on"
            self.log.info(
                "skip", f"the update is {state}: nothing to vote on", round=work.number,
                participant=task.participant, check=decision.check,
            )  # fmt: skip
            work.finish(task.participant)
            return
        self._cast_vote(work, task, decision, report)

    def _handle_fetched(
        self,
        work: RoundWork,
        task: UpdateTask,
        fetched: Fetched[tuple[int, str]],
        global_model: ModelWeights,
        verifier: Verifier,
        report: StepReport,
    ) -> None:
        task.attempts += 1
        task.fetch_seconds = fetched.seconds
        if fetched.blob is not None:
            started = time.perf_counter()
            try:
                verdict = self.intake.judge(
                    work, task.participant, fetched.blob, global_model, verifier
                )
            except CannotOpen as exc:
                # This oracle's key is missing, not the participant's fault: no vote.
                log = self.log.error if exc.level == "error" else self.log.warning
                log("cannot-open", str(exc), round=work.number, participant=task.participant)
                report.blocked |= exc.level == "error"
                work.finish(task.participant)
                return
            except Exception as exc:
                # A blob that trips a bug here must not take the node down (it would again
                # after every restart); no vote either: the fault is not proven to be theirs.
                self._task_failed(work, task, report, "verify", f"{type(exc).__name__}: {exc}")
                return
            task.verify_seconds = time.perf_counter() - started
            if verdict is None:  # admitted: intake.judge kept it (RoundWork.admit)
                work.finish(task.participant)
                self.log.info(
                    "admitted",
                    "passed the checks on arrival: the vote waits for the round's judgement",
                    round=work.number,
                    participant=task.participant,
                    fetch_ms=round(task.fetch_seconds * 1000, 2),
                    verify_ms=round(task.verify_seconds * 1000, 2),
                )
                return
            self._reject_on_arrival(work, task, verdict, report)
            return
        error = fetched.error
        decision = storage_rejection(error) if isinstance(error, StorageError) else None
        if decision is None and isinstance(error, BlobNotFound):
            decision = self._still_missing(work, task, error, fetched.seconds, report)
        elif decision is None:
            # The store failed (down, refusing, or a bug): the oracle's problem, not the
            # participant's. Forget any "not found" clock: it must run while the store works.
            task.missing_since = None
            self._task_failed(work, task, report, "fetch", f"cannot fetch the update: {error}")
        if decision is not None:
            self._reject_on_arrival(work, task, decision, report)

    def _task_failed(
        self, work: RoundWork, task: UpdateTask, report: StepReport, stage: str, message: str
    ) -> None:
        """An outage or a failure of this node held up ``task``: log it, retry later."""
        task.outage = True
        task.failures += 1
        delay = self.settings.retry.delay(task.failures)
        task.not_before = time.monotonic() + delay
        report.blocked = True
        self.log.error(
            "error",
            message,
            stage=stage,
            round=work.number,
            participant=task.participant,
            retry_in=round(delay, 2),
        )

    def _still_missing(
        self,
        work: RoundWork,
        task: UpdateTask,
        error: BlobNotFound,
        attempt_seconds: float,
        report: StepReport,
    ) -> Decision | None:
        """The UNREACHABLE_BLOB verdict once the blob has been missing long enough, else None
        and a retry scheduled."""
        now = time.monotonic()
        if task.missing_since is None:
            task.missing_since = now - attempt_seconds  # when this attempt asked
            task.failures = 0
        task.outage = False
        task.failures += 1  # "not found" answers in a row
        waited = now - task.missing_since
        limit = self.settings.unreachable_after
        # Never on a single answer: one "not found" may be a hiccup of the store.
        if waited >= limit and task.failures >= 2:
            return unreachable(
                f"not found {task.failures} times over {waited:.1f} s (limit {limit:g} s): {error}"
            )
        # The last attempt lands on the limit, so the verdict comes no later than needed.
        task.not_before = min(
            now + self.settings.retry.delay(task.failures), task.missing_since + limit
        )
        report.waiting = True
        self.log.info(
            "retry",
            "blob not found yet; the participant may still be uploading",
            round=work.number,
            participant=task.participant,
            waited=round(waited, 2),
            limit=limit,
            retry_in=round(max(task.not_before - now, 0.0), 2),
        )
        return None

    def _cast_vote(
        self, work: RoundWork, task: UpdateTask, decision: Decision, report: StepReport
    ) -> None:
        """Put the verdict on this step's ballot (sent by :meth:`_send_ballot`)."""
        task.decision = decision
        work.ballot[task.participant] = decision
        report.waiting = True

    def _send_ballot(self, work: RoundWork, report: StepReport) -> None:
        """Send the ballot's verdicts in voteBatch transactions of at most MAX_BATCH; the
        contract skips the updates settled (or voted on by this oracle) meanwhile."""
        while work.ballot:
            chosen = list(work.ballot.items())[:MAX_BATCH]
            for participant, _ in chosen:
                del work.ballot[participant]
            tasks = [(work.tasks.get(p), decision) for p, decision in chosen]
            self._send_batch(work, [(t, d) for t, d in tasks if t is not None], report)

    def _send_batch(
        self, work: RoundWork, ballot: list[tuple[UpdateTask, Decision]], report: StepReport
    ) -> None:
        if not ballot:
            return
        verdicts = [
            Verdict(task.participant, decision.accept, decision.score, decision.reason)
            for task, decision in ballot
        ]
        started = time.perf_counter()
        try:
            tx = self.ledger.coordinator.vote_batch(work.number, verdicts)
        except _VOTE_RACES as exc:  # the round takes no votes any more
            for task, _ in ballot:
                self.log.info(
                    "skip", f"vote not needed any more: {exc}", round=work.number,
                    participant=task.participant,
                )  # fmt: skip
                work.finish(task.participant)
            return
        except NotOracle as exc:
            self._registered = False
            report.blocked = True
            self.log.warning("not-oracle", str(exc), round=work.number, votes=len(ballot))
            return  # the decisions stay on their tasks: voted once registered again
        except ChainError as exc:
            for task, _ in ballot:
                self._task_failed(work, task, report, "vote", f"vote not sent: {exc}")
            return
        vote_ms = round((time.perf_counter() - started) * 1000, 2)
        counted = {e.participant for e in tx.events_of(VoteCast) if e.oracle == self.address}
        for task, decision in ballot:
            fields = {"round": work.number, "participant": task.participant}
            if task.participant not in counted:
                self.log.info("skip", "vote not needed any more: settled or voted", **fields)
                work.finish(task.participant)
                continue
            if decision.accept:
                self._pin(task.content_hash, work.number)
            work.finish(task.participant)
            work.voted.add(task.participant)
            if self.settings.confirmations:
                work.unconfirmed_votes[task.participant] = (tx.tx_hash, decision)
            report.votes += 1
            self.log.info(
                "vote",
                decision.detail,
                **fields,
                accept=decision.accept,
                score=decision.score,
                reason=decision.reason,
                check=decision.check,
                content_hash=task.content_hash,
                outcome=_vote_outcome(tx.events, task.participant),
                tx=tx.tx_hash,
                gas=tx.gas_used,
                batch=len(ballot),
                fetch_ms=round(task.fetch_seconds * 1000, 2),
                verify_ms=round(task.verify_seconds * 1000, 2),
                vote_ms=vote_ms,
                attempts=task.attempts,
                **dict(decision.diagnostics),
            )


def _rejected_by_chain(work: RoundWork, participant: str) -> bool:
    """Whether the chain settled the update other than by accepting it: it is neither voted
    on by this oracle nor part of the round's company."""
    return participant in work.settled and participant not in work.accepted_by_chain


def _vote_outcome(events: tuple[object, ...], participant: str) -> str:
    """What the vote did to the update: settled it one way, disputed it, or neither yet."""
    for event_type, outcome in (
        (UpdateAccepted, "accepted"),
        (UpdateRejected, "rejected"),
        (UpdateDisputed, "disputed"),
    ):
        if any(
            isinstance(event, event_type) and event.participant == participant for event in events
        ):
            return outcome
    return "pending"
