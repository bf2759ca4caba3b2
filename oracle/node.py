"""The oracle node: watch the chain, check every update, judge each round at close, vote, and
propose the round's aggregate.

    ledger = FedLedger.connect(config, account=my_key)
    with open_store(config) as store:
        node = OracleNode(ledger, store, load_dataset(Path("validation.npz")))
        node.run()                      # until request_stop(); run(once=True) to catch up and exit

Each :meth:`OracleNode.step` reads the current round from the chain, follows the
deployment's events with plain log filters (:class:`~fedledger.chain.EventStream`), and does
what the round needs from this oracle:

- **Open round**: every submitted update is fetched (on worker threads,
  :mod:`oracle.fetcher`) and checked on arrival (:mod:`oracle.intake`: the envelope, the
  weights, duplicates, the verifier's checks on the weights alone). A failure is voted
  REJECT at once; an update that passes is admitted and waits: nothing is accepted while
  the round is open. The reverts and skipped verdicts that mean "someone got there first"
  are logged as ``skip``: with several oracles such races are normal.
- **Closed round, verification grace**: once the node has read the round's RoundClosed
  event (every submission comes before it) and checked every update, it judges the
  admitted ones together (:meth:`~oracle.verification.Verifier.judge_assessed`, from what
  their assessment on arrival kept, seeded by the closing block's hash) and sends the
  verdicts on those still pending with voteBatch, until the round's ``votingEnds``; the
  node proposes nothing yet.
- **Closed round, aggregation** (the grace is over, or nothing is pending any more): if this
  oracle has not proposed yet, it computes the bounded aggregate of the round's accepted
  updates (``bounded_fedavg``, bit-exact; the set is final, no vote is taken any more),
  checks it with the guard (:meth:`~oracle.verification.Verifier.approve`; refused, the
  round's global model is proposed again), stores it (CIDv0, whose digest is the content
  hash) and proposes it. A round that accepted nothing is skipped
  (``skipStalledRound``) instead.

The chain is the node's only memory of what has been decided: it keeps no files, so a node
killed at any moment and started again reads the round back from the chain (its own
VoteCast events, the earlier global models for the stale check) and carries on (no vote is
cast twice: the contract skips it and the node checks first). Outages of the
chain or the store are logged as ``error`` and retried with back-off; they never turn into a
vote against a participant. Only a blob the store keeps answering "not found" for
``unreachable_after`` seconds is rejected as ``UNREACHABLE_BLOB``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

from fedledger.chain import EventStream, FedLedger, RoundState
from fedledger.chain.errors import (
    ChainError,
    DeploymentError,
    RoundCloseTooEarly,
    RoundNotOpen,
    WrongRound,
)
from fedledger.chain.events import (
    RoundClosed,
    RoundOpened,
    UpdateAccepted,
    UpdateDisputed,
    UpdateRejected,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.crypto import OracleKeyFile
from fedledger.ml import Dataset, InvalidWeights, ModelWeights
from fedledger.storage import BlobStore, StorageError, cid_from_content_hash
from oracle.errors import NotYetOnChain
from oracle.fetcher import BlobFetcher
from oracle.intake import SealedIntake
from oracle.logs import NodeLog
from oracle.proposing import Proposing
from oracle.rounds import RoundWork, contribution_target, round_opened_block
from oracle.settings import NodeSettings, StepReport
from oracle.verification import Verifier, VerifierParams
from oracle.voting import Voting

__all__ = ["NodeSettings", "OracleNode", "StepReport"]

#: The events that settle an update.
_VERDICTS = (UpdateAccepted, UpdateRejected, UpdateDisputed)

#: Longest uninterrupted sleep, so a stop request is noticed quickly.
_WAKE_SLICE = 0.1


class OracleNode(Voting, Proposing):
    """One oracle: its account (``ledger.account``), a blob store and its validation data.

    Its votes are :class:`oracle.voting.Voting`'s work, its proposals
    :class:`oracle.proposing.Proposing`'s; this class runs the loop, follows the chain's
    events and loads each round's global model and verifier.
    """

    def __init__(
        self,
        ledger: FedLedger,
        store: BlobStore,
        validation: Dataset,
        key_file: OracleKeyFile,
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
        self.intake = SealedIntake(ledger, store, key_file, max_bytes=self.settings.max_blob_bytes)
        self._stream: EventStream | None = None
        self._mark: int | None = None  # the stream's watcher, taken before the last poll
        self._wake_at: int | None = None  # chain time when the clock alone changes the round
        self._rounds: dict[int, RoundWork] = {}
        self._proposed: dict[bytes, ModelWeights] = {}  # this node's aggregate, by content hash
        self._verifier: tuple[tuple[str, VerifierParams], Verifier] | None = None
        self._registered: bool | None = None
        self._chain_failures = 0  # steps in a row that the chain failed
        self._last_failure: str | None = None  # the problem last logged, until it clears
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
            encryption_key=self.intake.key_file.current.public_key,
        )
        self._check_encryption_key()
        complete = True
        try:
            while not self._stop_requested:
                report = self.step()
                if once and not report.waiting:
                    complete = not report.blocked
                    break
                self._pause(report)
        except Exception as exc:
            # Outages are retried inside step(); anything else is a bug: say so and stop.
            self.log.error("crash", f"{type(exc).__name__}: {exc}", stage="bug")
            raise
        finally:
            self.close()
            self.log.info("stopped", "stop requested" if self._stop_requested else "work done")
        return complete

    def _check_encryption_key(self) -> None:
        """Warn when participants cannot seal for this node's key file."""
        try:
            registered = self.intake.key_record(0)
        except ChainError as exc:
            self.log.error("error", f"cannot read the encryption key: {exc}", stage="chain")
            return
        if registered.current != self.intake.key_file.current.public_key:
            self.log.warning(
                "key-not-registered",
                f"the current key of {self.intake.key_file.path} is not this oracle's "
                "encryption key on chain, so participants do not seal updates for it; run "
                "`fedledger oracle key register`",
                on_chain=registered.current,
            )

    def close(self) -> None:
        """Abandon fetches in flight and free the rounds' step spools (the node keeps no
        state that needs saving)."""
        self._fetcher.close()
        for work in self._rounds.values():
            work.close()

    def _pause(self, report: StepReport) -> None:
        """Sleep until the next poll (later while the chain fails), waking early when a
        fetch finishes, the chain announces something the node follows, or a stop is asked.

        With nothing under way and a live subscription the next poll waits for that
        announcement, or the round's next deadline on the chain's clock, or at most
        ``settings.idle_interval``: an idle node reads the chain every few seconds instead
        of every ``poll_interval``."""
        delay = self.settings.poll_interval
        if self._chain_failures:
            delay = max(delay, self.settings.retry.delay(self._chain_failures))
        elif not (report.waiting or report.blocked) and self._subscribed():
            delay = max(delay, self._idle_delay())
        deadline = time.monotonic() + delay
        mark = self._mark
        watcher = self._stream.watcher if self._stream is not None else None
        while not self._stop_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if (
                mark is not None
                and watcher is not None
                and not self._chain_failures
                and watcher.changed_since(mark)
            ):
                return  # a block with the node's events (or a new subscription)
            timeout = min(_WAKE_SLICE, remaining)
            # While the chain fails, a finished fetch waits: the step cannot use it, and
            # waking for it would retry the chain at once, over and over.
            if self._fetcher.busy and not self._chain_failures:
                if self._fetcher.wait(timeout):
                    return
            else:
                time.sleep(timeout)

    def _subscribed(self) -> bool:
        return self._stream is not None and self._stream.watcher.subscribed

    def _idle_delay(self) -> float:
        """How long an idle node may sleep: ``idle_interval``, or less when the chain's
        clock reaches the round's next deadline sooner (the close, the end of the
        verification grace)."""
        delay = self.settings.idle_interval
        if self._wake_at is not None:
            try:
                left = self._wake_at - self.ledger.client.chain_time()
            except ChainError:
                return self.settings.poll_interval
            # The chain's clock counts whole seconds: be there within one poll of it.
            delay = min(delay, max(float(left), self.settings.poll_interval))
        return delay

    # ---- one step --------------------------------------------------------------------

    def step(self) -> StepReport:
        """Read the chain once and do the work it shows, without waiting for slow fetches."""
        report = StepReport()
        try:
            self._work_on_current_round(report)
        except (ChainError, NotYetOnChain) as exc:
            self._chain_failures += 1
            message = self._diagnose(exc)
            if message != self._last_failure:
                # One line per new problem, not one per retry.
                self.log.error(
                    "error", message, stage="chain", failures=self._chain_failures, retrying=True
                )
                self._last_failure = message
            report.blocked = True
        else:
            if self._last_failure is not None:
                self.log.info("recovered", "the chain answers again", failures=self._chain_failures)
            self._chain_failures = 0
            self._last_failure = None
        return report

    def _diagnose(self, exc: Exception) -> str:
        """What a chain failure means for this node: a chain that is no longer the
        deployment's (restarted, redeployed) is said as such."""
        if isinstance(exc, DeploymentError):
            try:
                self.ledger.verify()
            except ChainError as mismatch:
                return f"{mismatch}; then restart this node"
        return str(exc)

    def _work_on_current_round(self, report: StepReport) -> None:
        if not self._check_registered(report):
            return
        model = self.ledger.coordinator.latest_model()
        self._follow_events(model.round)
        self._wake_at = None
        work = self._rounds.get(model.round)
        if work is None:  # training has not started
            return
        coordinator = self.ledger.coordinator
        if model.state == RoundState.OPEN:
            self._vote_round(work, report)
            self._close_when_due(work, model.deadline)
            if self.settings.close_after is not None:
                self._wake_at = model.deadline + math.ceil(self.settings.close_after)
        elif model.state == RoundState.CLOSED:
            if coordinator.aggregation_open(model.round):
                self._drop_tasks(work)  # no more votes: the accepted set is final
                self._propose_round(work, report)
            elif coordinator.voting_open(model.round):
                # The verification grace: the round's judgement and its votes; aggregation
                # starts when it ends or nothing is pending any more.
                self._vote_round(work, report, closed=True)
                self._wake_at = self._grace(work)[1]
        else:
            self._drop_tasks(work)

    def _close_when_due(self, work: RoundWork, deadline: int) -> None:
        """Close the round once its deadline is ``settings.close_after`` seconds past on the
        chain's clock and this node has nothing left to verify in it: anyone may, and
        without it no round would open until a person ran `fedledger round close`."""
        close_after = self.settings.close_after
        if close_after is None or work.tasks:
            return
        if self.ledger.client.chain_time() < deadline + close_after:
            return
        try:
            self.ledger.coordinator.close_round()
        except (RoundNotOpen, RoundCloseTooEarly, WrongRound):
            return  # another node or a person closed it first
        self.log.info("closed", "the deadline passed: closed the round", round=work.number)

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
            self._stream = self.ledger.event_stream(
                [
                    RoundOpened,
                    UpdateSubmitted,
                    RoundClosed,
                    VoteCast,
                    UpdateAccepted,
                    UpdateRejected,
                    UpdateDisputed,
                ],
                start,
                confirmations=self.settings.confirmations,
            )
            self.log.info(
                "catch-up",
                round=current_round,
                from_block=start,
                confirmations=self.settings.confirmations,
            )
        self._mark = self._stream.mark()  # before the poll: nothing announced is missed
        changes = self._stream.poll_changes()
        if changes.removed:
            self.log.warning(
                "reorg",
                "a reorganisation replaced blocks this node had read; undoing their events",
                from_block=changes.reorg_from,
                removed=len(changes.removed),
            )
        for event in reversed(changes.removed):
            if isinstance(event, RoundOpened):
                work = self._rounds.get(event.round)
                if work is not None and work.opened_at == event.position:
                    self._retire(event.round)
            elif isinstance(event, UpdateSubmitted) and event.round in self._rounds:
                self._fetcher.discard((event.round, event.participant))
                self._rounds[event.round].forget_submission(event.participant)
            elif isinstance(event, _VERDICTS) and event.round in self._rounds:
                work = self._rounds[event.round]
                work.settled.discard(event.participant)
                work.accepted_by_chain.discard(event.participant)
            elif isinstance(event, RoundClosed) and event.round in self._rounds:
                work = self._rounds[event.round]
                if work.closed_at == event.position:
                    work.closed_at = work.close_seed = work.grace = None
            elif (
                isinstance(event, VoteCast)
                and event.round in self._rounds
                and event.oracle == self.address
            ):
                self._rounds[event.round].voted.discard(event.participant)
        for event in changes.added:
            if isinstance(event, RoundOpened):
                if event.round in self._rounds:  # read again after a reorganisation
                    continue
                self._rounds[event.round] = RoundWork(
                    event.round, event.position, event.global_model
                )
                self.log.info("round", "round opened", round=event.round, model=event.global_model)
            elif isinstance(event, UpdateSubmitted) and event.round in self._rounds:
                work = self._rounds[event.round]
                work.submissions[event.participant] = event.content_hash
                work.submitted_at[event.participant] = event.position
            elif isinstance(event, _VERDICTS) and event.round in self._rounds:
                work = self._rounds[event.round]
                work.settled.add(event.participant)
                if isinstance(event, UpdateAccepted):
                    work.accepted_by_chain.add(event.participant)
            elif isinstance(event, RoundClosed) and event.round in self._rounds:
                work = self._rounds[event.round]
                work.closed_at = event.position
                work.close_seed = self._block_hash(event.block_number)
            elif (
                isinstance(event, VoteCast)
                and event.round in self._rounds
                and event.oracle == self.address
            ):
                self._rounds[event.round].voted.add(event.participant)
        for number in [n for n in self._rounds if n < current_round]:
            self._retire(number)

    def _retire(self, number: int) -> None:
        """Forget round ``number``: its outstanding fetches and its step spool."""
        work = self._rounds.pop(number)
        self._drop_tasks(work)
        work.close()

    def _block_hash(self, number: int) -> bytes:
        """The hash of block ``number``: the seed of the round judgement's centre sample
        (docs/verification.md), which nobody knew when the updates were submitted."""
        block = self.ledger.client.rpc("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise NotYetOnChain(f"block {number} is not on the chain (any more)")
        return bytes.fromhex(str(block["hash"])[2:])

    def _drop_tasks(self, work: RoundWork) -> None:
        for participant in list(work.tasks):
            self._fetcher.discard((work.number, participant))
            work.finish(participant)

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
            verifier = self._verifier_for(model, work)
            if not verifier.remembered:
                self._recall_earlier_models(verifier, work)
            # Evaluating the global model once now keeps it out of the first update's time,
            # and refuses a model the exact evaluator cannot handle before any vote.
            verifier.prepare(model)
        except (StorageError, InvalidWeights) as exc:
            cid = cid_from_content_hash(work.global_hash)
            self._round_failed(work, report, "global-model", f"cannot load {cid}: {exc}")
            return None
        if source == "store":  # another oracle's aggregate: this organisation keeps it too
            self._pin(work.global_hash, work.number)
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

    def _recall_earlier_models(self, verifier: Verifier, work: RoundWork) -> None:
        """Show a new verifier (after a restart) the earlier rounds' global models, oldest
        first, so that its stale check compares with the same models as a node that ran
        all along. One that cannot be read now is left out (logged)."""
        wanted = verifier.params.history
        earlier: list[bytes] = []
        for number in range(work.number - 1, max(work.number - 4 * wanted, 0), -1):
            digest = self.ledger.coordinator.get_round(number).global_model
            if digest != work.global_hash and digest not in earlier:
                earlier.append(digest)
            if len(earlier) == wanted:
                break
        for digest in reversed(earlier):
            try:
                verifier.prepare(self._load(digest))
            except (StorageError, InvalidWeights) as exc:
                self.log.warning(
                    "history",
                    f"cannot read an earlier global model for the stale check: {exc}",
                    round=work.number,
                    model=digest,
                )

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
