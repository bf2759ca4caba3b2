"""What an oracle node knows about the round in progress, all of it re-derived from the chain.

Nothing here is written to disk: after a restart the node finds the block where the current
round opened (:func:`round_opened_block`), reads the round's submissions from there, and asks
the contract what it has already voted on and proposed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fedledger.chain import FedLedger
from fedledger.chain.events import RoundOpened, RoundRulesChanged
from fedledger.ml import ModelWeights
from oracle.duplicates import Sketch, SketchBook
from oracle.errors import NotYetOnChain
from oracle.inspection import Decision
from oracle.spool import StepSpool
from oracle.verification import Assessment


def round_opened_block(ledger: FedLedger, round_: int) -> int:
    """The block in which ``round_`` opened (the deployment block for round 0, which never
    opens). Raises NotYetOnChain if the chain shows no such RoundOpened event."""
    start = ledger.deployment.block_number
    if round_ == 0:
        return start
    opened = ledger.events(RoundOpened, from_block=start, round=round_)
    if not opened:
        raise NotYetOnChain(f"the chain has no RoundOpened event for round {round_} yet")
    return opened[-1].block_number


def contribution_target(ledger: FedLedger, position: tuple[int, int]) -> int:
    """The round rules' contribution target in force at ``position`` (block, log index),
    e.g. where a round opened: every oracle reads the same value however late it asks,
    even if the admin changes the rules during the round."""
    changes = ledger.events(RoundRulesChanged, ledger.deployment.block_number, position[0])
    in_force = [change for change in changes if change.position < position]
    if not in_force:
        raise NotYetOnChain(f"no RoundRulesChanged event before block {position[0]} yet")
    return in_force[-1].contribution_target


@dataclass
class UpdateTask:
    """A submitted update this oracle still has to vote on."""

    participant: str
    content_hash: bytes
    attempts: int = 0  # fetches that came back (successful or not)
    failures: int = 0  # failed fetches in a row, for the back-off
    not_before: float = 0.0  # monotonic time before which no fetch is started
    missing_since: float | None = None  # first "not found" since the store last failed
    outage: bool = False  # the last failure was the store's or the chain's, not the blob's
    decision: Decision | None = None  # a verdict whose vote failed to send: retry the vote
    fetch_seconds: float = 0.0
    verify_seconds: float = 0.0


@dataclass
class RoundWork:
    """The round in progress: its submissions and this oracle's work on them."""

    number: int
    opened_at: tuple[int, int]  # position (block, log index) of its RoundOpened event
    global_hash: bytes
    global_model: ModelWeights | None = None  # decoded once, when first needed
    contributors: int | None = None  # updates the verifier assumes the round averages
    submissions: dict[str, bytes] = field(default_factory=dict)  # participant -> content hash
    # participant -> (block, log index) of its UpdateSubmitted; the dicts are in chain order
    submitted_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    # participants whose step from the global model was read (oracle.duplicates); the
    # sketch of each one that opened is in ``sketches``, the round's only copy of it
    steps_read: set[str] = field(default_factory=set)
    sketches: SketchBook = field(default_factory=SketchBook)
    tasks: dict[str, UpdateTask] = field(default_factory=dict)  # participant -> outstanding
    #: Verdicts reached in this step and not sent yet: participant -> decision (one
    #: voteBatch carries them, oracle.voting).
    ballot: dict[str, Decision] = field(default_factory=dict)
    #: Updates the chain settled, from its UpdateAccepted/Rejected/Disputed events
    #: (oracle.node): no vote of this oracle is needed on them.
    settled: set[str] = field(default_factory=set)
    accepted_by_chain: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)  # participants this oracle is done with
    #: The updates that passed this oracle's checks on arrival and wait for the round's
    #: judgement at close (oracle.voting; their votes are cast then): each one's
    #: assessment, its coarse step in ``spool`` (RoundWork.admit), so the judgement reads
    #: no update again.
    assessments: dict[str, Assessment] = field(default_factory=dict)
    spool: StepSpool | None = None  # opened with the first admission
    #: This oracle's votes in the round, from its VoteCast events (oracle.node): after a
    #: restart, what it must not vote on again.
    voted: set[str] = field(default_factory=set)
    #: The round's RoundClosed event, once the node has read it (every submission comes
    #: before it on the chain), and the hash of its block: the judgement's seed.
    closed_at: tuple[int, int] | None = None
    close_seed: bytes | None = None
    #: The verification grace on the chain's clock (closed at, voting ends), read once
    #: the round is closed (oracle.voting).
    grace: tuple[int, int] | None = None
    judged: bool = False  # this oracle judged the round (and put its verdicts on the ballot)
    proposed: bool = False
    #: This node's votes whose transactions are not yet ``confirmations`` deep:
    #: participant -> (tx hash, decision). A reorganisation may drop one; it is cast again.
    unconfirmed_votes: dict[str, tuple[str, Decision]] = field(default_factory=dict)
    unconfirmed_proposal: str | None = None  # tx hash of this node's proposal, likewise
    failures: int = 0  # round-level failures in a row (global model, aggregate)
    retry_at: float = 0.0  # monotonic time of the next round-level attempt

    @property
    def opened_block(self) -> int:
        return self.opened_at[0]

    def company(self) -> list[str]:
        """The updates the round's judgement weighs, in chain order: those this oracle
        admitted that the chain has not rejected (or voided) meanwhile."""
        return [
            participant
            for participant in self.submissions
            if participant in self.assessments
            and (participant not in self.settled or participant in self.accepted_by_chain)
        ]

    def admit(self, participant: str, assessment: Assessment, step: np.ndarray) -> None:
        """``participant``'s update passed the checks on arrival: keep what the round's
        judgement needs of it."""
        if self.spool is None:
            self.spool = StepSpool()
        self.spool.put(participant, step)
        self.assessments[participant] = assessment

    def close(self) -> None:
        """The round is over for this node: free its spool."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def remember_step(self, participant: str, sketch: Sketch | None) -> None:
        """The sketch of ``participant``'s step (None: its update does not open here)."""
        self.steps_read.add(participant)
        if sketch is not None:
            self.sketches.add(participant, sketch)

    def new_tasks(self) -> None:
        """Open a task for every submission not yet handled."""
        for participant, content_hash in self.submissions.items():
            if participant not in self.tasks and participant not in self.finished:
                self.tasks[participant] = UpdateTask(participant, content_hash)

    def forget_submission(self, participant: str) -> None:
        """A reorganisation removed the submission's event: it is not (yet) on the chain."""
        self.submissions.pop(participant, None)
        self.tasks.pop(participant, None)
        self.ballot.pop(participant, None)
        self.assessments.pop(participant, None)
        if self.spool is not None:
            self.spool.discard(participant)
        if participant not in self.unconfirmed_votes:
            self.finished.discard(participant)

    def reopen(self, participant: str, decision: Decision) -> None:
        """Vote again with ``decision``: the earlier vote's transaction left the chain."""
        self.finished.discard(participant)
        content_hash = self.submissions.get(participant)
        if content_hash is not None:
            self.tasks[participant] = UpdateTask(participant, content_hash, decision=decision)

    def finish(self, participant: str) -> None:
        self.tasks.pop(participant, None)
        self.ballot.pop(participant, None)
        self.finished.add(participant)
