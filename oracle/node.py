"""The oracle node: watch the chain, verify every update, vote, and propose each round's aggregate.

    ledger = FedLedger.connect(config, account=my_key)
    with open_store(config) as store:
        node = OracleNode(ledger, store, load_dataset(Path("validation.npz")))
        node.run()                      # until request_stop(); run(once=True) to catch up and exit

Each :meth:`OracleNode.step` reads the current round from the chain, follows the
deployment's events with plain log filters (:class:`~fedledger.chain.EventStream`), and does
what the round needs from this oracle:

- **Open round**: every submitted update that is still Pending and that this oracle has
  not voted on is fetched (on worker threads, :mod:`oracle.fetcher`), decoded, checked and
  verified (:mod:`oracle.inspection`), and voted on. The chain is asked again right before
  each vote, and the reverts that mean "someone got there first" (``AlreadyVoted``,
  ``UpdateAlreadySettled``, ``RoundNotOpen``...) are logged as ``skip``: with several
  oracles such races are normal.
- **Closed round**: if this oracle has not proposed yet, it averages the decoded accepted
  updates (``fedavg``, bit-exact), stores the aggregate (CIDv0, whose digest is the content
  hash) and proposes it.

The chain is the node's only memory of what has been decided: it keeps no files, so a node
killed at any moment and started again reads the round back from the chain and carries on
(no vote is cast twice: the contract refuses it and the node checks first). Outages of the
chain or the store are logged as ``error`` and retried with back-off; they never turn into a
vote against a participant. Only a blob the store keeps answering "not found" for
``unreachable_after`` seconds is rejected as ``UNREACHABLE_BLOB``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from fedledger.chain import EventStream, FedLedger, RoundState, UpdateStatus
from fedledger.chain.errors import (
    AlreadyProposed,
    AlreadyVoted,
    ChainError,
    NotOracle,
    RoundNotClosed,
    RoundNotOpen,
    UnknownUpdate,
    UpdateAlreadySettled,
    WrongRound,
)
from fedledger.chain.events import (
    AggregateProposed,
    RoundFinalized,
    RoundOpened,
    UpdateAccepted,
    UpdateDisputed,
    UpdateRejected,
    UpdateSubmitted,
)
from fedledger.config import ProjectConfig
from fedledger.ml import Dataset, InvalidWeights, ModelWeights, decode, encode, fedavg
from fedledger.storage import (
    BlobNotFound,
    BlobStore,
    StorageError,
    cid_from_content_hash,
    content_hash,
)
from oracle.fetcher import BlobFetcher, Fetched
from oracle.inspection import Decision, judge, storage_rejection, unreachable
from oracle.logs import NodeLog
from oracle.rounds import (
    Backoff,
    RoundWork,
    UpdateTask,
    contribution_target,
    round_opened_block,
)
from oracle.verification import Verifier, VerifierParams

#: Reverts of a vote that mean another oracle, or the round, got there first.
_VOTE_RACES = (AlreadyVoted, UpdateAlreadySettled, RoundNotOpen, WrongRound, UnknownUpdate)
#: Reverts of a proposal that mean the round no longer awaits this oracle's.
_PROPOSAL_RACES = (AlreadyProposed, RoundNotClosed, WrongRound)
#: Longest uninterrupted sleep, so a stop request is noticed quickly.
_WAKE_SLICE = 0.1


@dataclass(frozen=True)
class NodeSettings:
    """How a node polls, fetches and retries. Every oracle may choose its own: none of these
    changes a verdict on a blob that arrived."""

    #: Seconds between polls of the chain.
    poll_interval: float = 0.5
    #: Seconds a blob may stay unreachable (the store answering "not found") before the
    #: update is rejected with UNREACHABLE_BLOB. A store that does not answer never counts.
    unreachable_after: float = 30.0
    #: The size cap on every blob read (the project's storage.max_blob_bytes).
    max_blob_bytes: int = 16 * 1024 * 1024
    #: Pause between attempts after a failure: doubling from ``retry.initial`` seconds.
    retry: Backoff = field(default_factory=Backoff)
    #: Threads fetching blobs at once.
    fetch_workers: int = 4
    #: The verification rule's constants; ``contributors`` is the default for rounds whose
    #: rules set no contribution target (see :func:`oracle.rounds.contribution_target`).
    verifier_params: VerifierParams = field(default_factory=VerifierParams)

    @classmethod
    def from_config(cls, config: ProjectConfig, **overrides: Any) -> NodeSettings:
        """The settings for a project: its blob size cap, and ``overrides``."""
        return cls(**{"max_blob_bytes": config.storage.max_blob_bytes, **overrides})


@dataclass
class StepReport:
    """What one step did and what is left.

    ``waiting``: work is under way that will finish by itself (a fetch, a retry of a blob not
    found yet). ``blocked``: work cannot go on until an outage ends (store, chain, this
    account not being a registered oracle).
    """

    votes: int = 0
    proposals: int = 0
    waiting: bool = False
    blocked: bool = False


class OracleNode:
    """One oracle: its account (``ledger.account``), a blob store and its validation data."""

    def __init__(
        self,
        ledger: FedLedger,
        store: BlobStore,
        validation: Dataset,
        settings: NodeSettings | None = None,
        *,
        log: NodeLog | None = None,
    ) -> None:
        self.ledger = ledger
        self.address = ledger.address
        self.store = store
        self.validation = validation
        self.settings = settings or NodeSettings()
        self.log = log or NodeLog(self.address)
        self._fetcher: BlobFetcher[tuple[int, str]] = BlobFetcher(
            store, max_bytes=self.settings.max_blob_bytes, workers=self.settings.fetch_workers
        )
        self._stream: EventStream | None = None
        self._rounds: dict[int, RoundWork] = {}
        self._proposed: dict[bytes, ModelWeights] = {}  # this node's aggregate, by content hash
        self._verifier: tuple[tuple[str, VerifierParams], Verifier] | None = None
        self._registered: bool | None = None
        self._chain_failures = 0  # steps in a row that the chain failed
        self._stop_requested = False

    # ---- running ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the current operation (safe from a signal handler:
        it only sets a flag)."""
        self._stop_requested = True

    def run(self, *, once: bool = False) -> bool:
        """Step until :meth:`request_stop` is called, or with ``once`` until no work is under
        way. Returns False if ``once`` ended with work blocked by an outage."""
        self.log.info(
            "started",
            "watching the chain",
            coordinator=self.ledger.deployment.coordinator,
            network=self.ledger.deployment.network,
            store=repr(self.store),
            validation_samples=len(self.validation),
            poll_interval=self.settings.poll_interval,
            once=once,
        )
        complete = True
        try:
            while not self._stop_requested:
                report = self.step()
                if once and not report.waiting:
                    complete = not report.blocked
                    break
                self._pause()
        finally:
            self.close()
            self.log.info("stopped", "stop requested" if self._stop_requested else "work done")
        return complete

    def close(self) -> None:
        """Abandon fetches in flight (the node keeps no state that needs saving)."""
        self._fetcher.close()

    def _pause(self) -> None:
        """Sleep until the next poll (later while the chain fails), waking early when a
        fetch finishes or a stop is asked."""
        delay = self.settings.poll_interval
        if self._chain_failures:
            delay = max(delay, self.settings.retry.delay(self._chain_failures))
        deadline = time.monotonic() + delay
        while not self._stop_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            timeout = min(_WAKE_SLICE, remaining)
            if self._fetcher.busy:
                if self._fetcher.wait(timeout):
                    return
            else:
                time.sleep(timeout)

    # ---- one step --------------------------------------------------------------------

    def step(self) -> StepReport:
        """Read the chain once and do the work it shows, without waiting for slow fetches."""
        report = StepReport()
        try:
            self._work_on_current_round(report)
        except (ChainError, LookupError) as exc:
            self._chain_failures += 1
            self.log.error("error", str(exc), stage="chain", failures=self._chain_failures)
            report.blocked = True
        else:
            self._chain_failures = 0
        return report

    def _work_on_current_round(self, report: StepReport) -> None:
        if not self._check_registered(report):
            return
        model = self.ledger.coordinator.latest_model()
        self._follow_events(model.round)
        work = self._rounds.get(model.round)
        if work is None:  # training has not started
            return
        if model.state == RoundState.OPEN:
            self._vote_round(work, report)
        else:  # closed: pending updates expired, no more votes
            self._drop_tasks(work)
            if model.state == RoundState.CLOSED:
                self._propose_round(work, report)

    def _check_registered(self, report: StepReport) -> bool:
        if self._registered:
            return True
        registered = self.ledger.coordinator.is_oracle(self.address)
        if registered and self._registered is not None:
            self.log.info("registered", "this account is now a registered oracle")
        elif not registered and self._registered is not False:
            self.log.warning(
                "not-oracle",
                "this account is not a registered oracle; waiting for the admin to add it",
            )
        self._registered = registered
        report.blocked |= not registered
        return registered

    def _follow_events(self, current_round: int) -> None:
        """Poll the deployment's events and keep the rounds from ``current_round`` on."""
        if self._stream is None:
            start = round_opened_block(self.ledger, current_round)
            self._stream = self.ledger.event_stream([RoundOpened, UpdateSubmitted], start)
            self.log.info("catch-up", round=current_round, from_block=start)
        for event in self._stream.poll():
            if isinstance(event, RoundOpened):
                self._rounds[event.round] = RoundWork(
                    event.round, event.position, event.global_model
                )
                self.log.info("round", "round opened", round=event.round, model=event.global_model)
            elif isinstance(event, UpdateSubmitted) and event.round in self._rounds:
                self._rounds[event.round].submissions[event.participant] = event.content_hash
        for number in [n for n in self._rounds if n < current_round]:
            self._drop_tasks(self._rounds.pop(number))

    def _drop_tasks(self, work: RoundWork) -> None:
        for participant in list(work.tasks):
            self._fetcher.discard((work.number, participant))
            work.finish(participant)

    # ---- voting ----------------------------------------------------------------------

    def _vote_round(self, work: RoundWork, report: StepReport) -> None:
        global_model = self._global_model(work, report)
        if global_model is None:
            return
        verifier = self._verifier_for(global_model, work)
        work.new_tasks()
        for fetched in self._fetcher.collect():
            number, participant = fetched.key
            task = work.tasks.get(participant)
            if number == work.number and task is not None:
                self._handle_fetched(work, task, fetched, global_model, verifier, report)
            if self._stop_requested:
                return
        now = time.monotonic()
        for task in list(work.tasks.values()):
            if self._stop_requested:
                return
            key = (work.number, task.participant)
            if key in self._fetcher:
                report.waiting = True
            elif task.not_before > now:
                # An outage blocks; a blob not found yet is waited for (bounded).
                report.blocked |= task.outage
                report.waiting |= not task.outage
            elif task.decision is not None:  # verified before, the vote did not go through
                self._cast_vote(work, task, task.decision, report)
            elif self._needs_my_vote(work.number, task.participant):
                self._fetcher.start(key, cid_from_content_hash(task.content_hash))
                report.waiting = True
            else:
                work.finish(task.participant)

    def _needs_my_vote(self, round_: int, participant: str) -> bool:
        """Whether the update is still Pending and this oracle has not voted on it."""
        coordinator = self.ledger.coordinator
        status = coordinator.get_update(round_, participant).status
        if status != UpdateStatus.PENDING:
            self.log.info(
                "skip",
                f"the update is {status.name.lower()}: nothing to vote on",
                round=round_,
                participant=participant,
            )
            return False
        if coordinator.has_voted(round_, participant, self.address):
            self.log.info(
                "skip", "already voted on this update", round=round_, participant=participant
            )
            return False
        return True

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
                verdict = judge(
                    fetched.blob, global_model, verifier, max_bytes=self.settings.max_blob_bytes
                )
            except Exception as exc:
                # A blob that trips a bug here must not take the node down (it would again
                # after every restart); no vote either: the fault is not proven to be theirs.
                self._task_failed(work, task, report, "verify", f"{type(exc).__name__}: {exc}")
                return
            task.verify_seconds = time.perf_counter() - started
            self._cast_vote(work, task, verdict, report)
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
            self._cast_vote(work, task, decision, report)

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
        fields = {"round": work.number, "participant": task.participant}
        if not self._needs_my_vote(work.number, task.participant):
            work.finish(task.participant)
            return
        started = time.perf_counter()
        try:
            tx = self.ledger.coordinator.vote(
                work.number, task.participant, decision.accept, decision.score, decision.reason
            )
        except _VOTE_RACES as exc:
            self.log.info("skip", f"vote not needed any more: {exc}", **fields)
            work.finish(task.participant)
            return
        except NotOracle as exc:
            self._registered = False
            report.blocked = True
            self.log.warning("not-oracle", str(exc), **fields)
            task.decision = decision
            return
        except ChainError as exc:
            task.decision = decision
            self._task_failed(work, task, report, "vote", f"vote not sent: {exc}")
            return
        if decision.accept and decision.update is not None:
            work.accepted[task.content_hash] = decision.update
        work.finish(task.participant)
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
            outcome=_vote_outcome(tx.events),
            tx=tx.tx_hash,
            gas=tx.gas_used,
            fetch_ms=round(task.fetch_seconds * 1000, 2),
            verify_ms=round(task.verify_seconds * 1000, 2),
            vote_ms=round((time.perf_counter() - started) * 1000, 2),
            attempts=task.attempts,
            **dict(decision.diagnostics),
        )

    # ---- the round's global model and verifier ----------------------------------------

    def _global_model(self, work: RoundWork, report: StepReport) -> ModelWeights | None:
        """The round's global model, fetched and decoded once per round (not at all when it
        is the aggregate this node proposed)."""
        if work.global_model is not None:
            return work.global_model
        if time.monotonic() < work.retry_at:
            report.blocked = True
            return None
        started = time.perf_counter()
        source = "own proposal" if work.global_hash in self._proposed else "store"
        try:
            model = self._proposed.pop(work.global_hash, None) or self._load(work.global_hash)
            # Evaluating the global model once now keeps it out of the first update's time,
            # and refuses a model the exact evaluator cannot handle before any vote.
            self._verifier_for(model, work).prepare(model)
        except (StorageError, InvalidWeights) as exc:
            cid = cid_from_content_hash(work.global_hash)
            self._round_failed(work, report, "global-model", f"cannot load {cid}: {exc}")
            return None
        work.failures = 0
        work.global_model = model
        self._proposed.clear()
        self.log.info(
            "model",
            "global model loaded",
            round=work.number,
            model=work.global_hash,
            architecture=model.architecture,
            contributors=work.contributors,
            source=source,
            load_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return model

    def _verifier_for(self, global_model: ModelWeights, work: RoundWork) -> Verifier:
        """One verifier per architecture and rule constants; its validation data is
        prepared once, and it keeps the global model's evaluation between updates."""
        params = self.settings.verifier_params
        if work.contributors is None:
            target = contribution_target(self.ledger, work.opened_at)
            work.contributors = target or params.contributors
        params = replace(params, contributors=work.contributors)
        key = (global_model.architecture, params)
        if self._verifier is None or self._verifier[0] != key:
            self._verifier = (key, Verifier(global_model.architecture, self.validation, params))
        return self._verifier[1]

    # ---- aggregation -----------------------------------------------------------------

    def _propose_round(self, work: RoundWork, report: StepReport) -> None:
        if work.proposed:
            return
        if time.monotonic() < work.retry_at:
            report.blocked = True
            return
        fields = {"round": work.number}
        if self.ledger.coordinator.has_proposed(work.number, self.address):
            work.proposed = True
            self.log.info("skip", "already proposed an aggregate for this round", **fields)
            return
        try:
            aggregate, updates = self._aggregate(work)
        except (StorageError, InvalidWeights, LookupError) as exc:
            self._round_failed(work, report, "aggregate", str(exc))
            return
        blob = encode(aggregate)
        try:
            digest = content_hash(self.store.put(blob))
        except StorageError as exc:
            self._round_failed(work, report, "aggregate", f"cannot store the aggregate: {exc}")
            return
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
        report.proposals += 1
        # The aggregate becomes the next round's global model if k oracles agree: keep it.
        self._proposed = {digest: aggregate}
        proposed = tx.events_of(AggregateProposed)
        self.log.info(
            "propose",
            "aggregate proposed",
            **fields,
            content_hash=digest,
            updates=updates,
            votes=proposed[0].votes if proposed else None,
            finalized=bool(tx.events_of(RoundFinalized)),
            tx=tx.tx_hash,
            gas=tx.gas_used,
        )

    def _aggregate(self, work: RoundWork) -> tuple[ModelWeights, int]:
        """The equal-weight FedAvg of the round's accepted updates, and how many there are.

        The accepted set is final once the round is closed (pending updates expired), and
        fedavg's integer sums do not depend on the order: every oracle gets the same bytes.
        """
        coordinator = self.ledger.coordinator
        accepted = self.ledger.events(UpdateAccepted, work.opened_block, round=work.number)
        expected = coordinator.get_round(work.number).accepted
        if len(accepted) != expected:
            raise LookupError(
                f"round {work.number} counts {expected} accepted updates, this node found "
                f"{len(accepted)} UpdateAccepted events; will look again"
            )
        models = []
        for event in accepted:
            digest = work.submissions.get(event.participant) or (
                coordinator.get_update(work.number, event.participant).content_hash
            )
            models.append(work.accepted.get(digest) or self._load(digest))
        if not models:
            raise LookupError(f"round {work.number} is closed with no accepted update")
        return fedavg(models), len(models)

    def _load(self, content_hash: bytes) -> ModelWeights:
        """The model stored under ``content_hash``, read and decoded within the size cap."""
        max_bytes = self.settings.max_blob_bytes
        blob = self.store.get(cid_from_content_hash(content_hash), max_bytes=max_bytes)
        return decode(blob, max_bytes=max_bytes)

    def _round_failed(self, work: RoundWork, report: StepReport, stage: str, message: str) -> None:
        work.failures += 1
        delay = self.settings.retry.delay(work.failures)
        work.retry_at = time.monotonic() + delay
        report.blocked = True
        self.log.error("error", message, stage=stage, round=work.number, retry_in=round(delay, 2))


def _vote_outcome(events: tuple[object, ...]) -> str:
    """What the vote did to the update: settled it one way, disputed it, or neither yet."""
    for event_type, outcome in (
        (UpdateAccepted, "accepted"),
        (UpdateRejected, "rejected"),
        (UpdateDisputed, "disputed"),
    ):
        if any(isinstance(event, event_type) for event in events):
            return outcome
    return "pending"
