"""A stateful property test: random sequences of submissions, votes (single and in batches),
reward claims, settle calls, closes,
proposals, stall skips, bans, pardons, oracle additions and removals, quorum changes and
clock moves, from many accounts, against a real anvil.

A small Python model of the contract predicts the outcome of every call (success, or the
exact custom error); after every step the chain must agree with the model and the
protocol invariants must hold:

- at most one verdict per update, and only by >= k live votes: every UpdateAccepted and
  UpdateRejected (but a ban's) is backed by k VoteCast events of that side from oracles
  live when it was emitted, every UpdateDisputed has fewer than k on both sides;
- the token supply plus the rewards credited and not yet claimed equals the rewards granted
  (by the model and by UpdateAccepted events), and each participant's credit is the model's;
- no round is finalized without k identical proposals of live oracles;
- the oracle set, its bitmap and k on chain are the model's.

Each example deploys its own configuration (n, k and storage policy are drawn) inside a
chain snapshot that is reverted afterwards. The run is derandomized, so it is the same
on every machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fedledger.chain import (
    ArtifactSet,
    ChainClient,
    DevControls,
    FedLedger,
    ReasonCode,
    RewardRule,
    RoundRules,
    StoragePolicy,
    UpdateStatus,
    Verdict,
)
from fedledger.chain.errors import (
    AggregationNotStalled,
    AggregationNotStarted,
    AlreadyProposed,
    AlreadySubmitted,
    AlreadyVoted,
    Banned,
    ContractRevert,
    InvalidQuorum,
    NoRewardOwed,
    NotBanned,
    NothingToAggregate,
    NothingToSettle,
    NotOracle,
    NotParticipant,
    OracleAlreadyRegistered,
    OracleRejoinTooSoon,
    RoundCloseTooEarly,
    RoundNotClosed,
    RoundNotOpen,
    SubmissionDeadlinePassed,
    UnknownUpdate,
    UpdateAlreadySettled,
    VotingEnded,
)
from fedledger.chain.events import (
    AggregateProposed,
    RoundFinalized,
    RoundOpened,
    UpdateAccepted,
    UpdateDisputed,
    UpdateExpired,
    UpdateRejected,
    VoteCast,
)
from tests.fixtures.chain import MAX_TEST_ORACLES, Cast, Testbed, content_hash, deploy_testbed

# Clock steps and rules chosen so that no reachable time falls within 100 s of a boundary:
# sums of 400 and 1100 never land in (900, 1100) (the deadline), (100, 300) (the end of
# the verification grace) or (850, 1050) (the stall timeout, counted from the end of the
# grace). Predictions therefore never depend on the seconds that pass while the test runs.
DURATION, AGGREGATION_TIMEOUT, GRACE = 1_000, 750, 200
CLOCK_STEPS = (400, 1_100)
REJECTION_LIMIT = 1
CONTRIBUTION_TARGET = 2
REWARD = RewardRule(base=100, per_score_point=3)
CONFIGURATIONS = [(1, 1), (3, 2), (4, 3), (5, 3)]  # (n, k)
PARTICIPANTS = 4
AGGREGATES = ("A", "A", "A", "B", "C")  # mostly agreeing, sometimes split
BANNED_REASON = int(ReasonCode.BANNED)
ACTIONS = (
    "submit", "submit", "vote", "vote", "vote", "vote_batch", "vote_batch", "settle",
    "close", "propose", "propose", "propose", "skip_stalled", "wait", "wait", "pardon", "ban",
    "add_oracle", "remove_oracle", "set_quorum", "claim",
)  # fmt: skip
#: (accept, score, reason): few ballots, so that votes often agree; distinct scores, so
#: that the recorded minimum is checked.
BALLOTS = [
    (True, 9_000, ReasonCode.ACCEPTED),
    (True, 7_500, ReasonCode.ACCEPTED),
    (True, 6_000, ReasonCode.ACCEPTED),
    (True, 8_000, ReasonCode.ACCEPTED),
    (False, 3_000, ReasonCode.FAILED_VERIFICATION),
    (False, 0, ReasonCode.NON_FINITE),
]

Expected = type[ContractRevert] | None


@dataclass
class UpdateModel:
    status: UpdateStatus = UpdateStatus.PENDING
    voters: dict[int, bool] = field(default_factory=dict)  # oracle index -> accept
    accept_score: int | None = None
    reject_score: int | None = None
    reason: int = 0


@dataclass
class ParticipantModel:
    registered: bool
    banned: bool = False
    strikes: int = 0
    last_round: int = 0
    owed: int = 0  # rewards credited, not yet claimed


def valid_quorum(k: int, n: int) -> bool:
    return k == 0 if n == 0 else k <= n and 2 * k > n


class ContractModel:
    """What FedLedgerCoordinator should do, in plain Python."""

    def __init__(
        self, n: int, k: int, participants: list[str], outsider: str, deadline: int
    ) -> None:
        self.members = {index: index for index in range(n)}  # index -> oracle account id
        self.k = k
        self.quarantined: set[int] = set()
        self.quarantine_round = 0
        self.left_in_round: dict[int, int] = {}
        self.round, self.state = 1, "open"
        self.deadline, self.closed_at, self.voting_ends = deadline, 0, 0
        self.accepted_in_round = 0
        self.pending = 0
        self.participants = {address: ParticipantModel(True) for address in participants}
        self.participants[outsider] = ParticipantModel(False)
        self.updates: dict[tuple[int, str], UpdateModel] = {}
        self.backers: dict[str, set[int]] = {}
        self.proposers: set[int] = set()
        self.leading = 0
        self.rewards = 0
        self.claimed = 0  # rewards minted by claims

    # ---- the oracle set ---------------------------------------------------------------

    def index_of(self, account: int) -> int | None:
        return next((i for i, a in self.members.items() if a == account), None)

    @property
    def live(self) -> set[int]:
        return set(self.members)

    def add_oracle(self, account: int, k: int) -> Expected:
        if self.index_of(account) is not None:
            return OracleAlreadyRegistered
        left = self.left_in_round.get(account, 0)
        if left != 0 and left == self.round:
            return OracleRejoinTooSoon
        blocked = set(self.members)
        if self.quarantine_round == self.round:
            blocked |= self.quarantined
        index = min(i for i in range(64) if i not in blocked)
        if not valid_quorum(k, len(self.members) + 1):
            return InvalidQuorum
        self.members[index] = account
        self.k = k
        return None

    def remove_oracle(self, account: int, k: int) -> Expected:
        index = self.index_of(account)
        if index is None:
            return NotOracle
        if not valid_quorum(k, len(self.members) - 1):
            return InvalidQuorum
        if self.quarantine_round != self.round:
            self.quarantined = set()
        self.quarantined.add(index)
        self.quarantine_round = self.round
        del self.members[index]
        self.left_in_round[account] = self.round
        self.k = k
        return None

    def set_quorum(self, k: int) -> Expected:
        if not valid_quorum(k, len(self.members)):
            return InvalidQuorum
        self.k = k
        return None

    # ---- participants -----------------------------------------------------------------

    def submit(self, address: str, now: int) -> Expected:
        participant = self.participants[address]
        if self.state != "open":
            return RoundNotOpen
        if now > self.deadline:
            return SubmissionDeadlinePassed
        if participant.banned:
            return Banned
        if not participant.registered:
            return NotParticipant
        if participant.last_round == self.round:
            return AlreadySubmitted
        participant.last_round = self.round
        self.pending += 1
        self.updates[(self.round, address)] = UpdateModel()
        return None

    def pardon(self, address: str) -> Expected:
        participant = self.participants[address]
        if not participant.banned:
            return NotBanned
        participant.banned, participant.strikes = False, 0
        return None

    def ban(self, address: str) -> Expected:
        participant = self.participants[address]
        if participant.banned:
            return Banned
        participant.banned = True
        return None

    # ---- votes and settling -----------------------------------------------------------

    def voting_open(self, round_: int, now: int) -> bool:
        if round_ != self.round:
            return False
        return self.state == "open" or (self.state == "closed" and now <= self.voting_ends)

    def _pending_update(self, round_: int, address: str) -> tuple[Expected, UpdateModel | None]:
        update = self.updates.get((round_, address))
        if update is None:
            return UnknownUpdate, None
        if update.status is not UpdateStatus.PENDING:
            return UpdateAlreadySettled, None
        return None, update

    def vote(
        self, account: int, address: str, accept: bool, score: int, reason: int, now: int
    ) -> Expected:
        index = self.index_of(account)
        if index is None:
            return NotOracle
        if self.state == "closed" and now > self.voting_ends:
            return VotingEnded
        error, update = self._pending_update(self.round, address)
        if update is None:
            return error
        if index in update.voters:
            return AlreadyVoted
        if accept:
            scores = [update.accept_score] if update.accept_score is not None else []
            update.accept_score = min([*scores, score])
        else:
            if update.reject_score is None:
                update.reason = reason
            scores = [update.reject_score] if update.reject_score is not None else []
            update.reject_score = min([*scores, score])
        update.voters[index] = accept
        self._evaluate(self.round, address, update)
        return None

    def vote_batch(
        self, account: int, ballots: list[tuple[str, bool, int, int]], now: int
    ) -> Expected:
        """voteBatch: the whole batch reverts, or each verdict is tallied as by vote, the
        ones on updates no longer pending (or already voted on) skipped."""
        index = self.index_of(account)
        if index is None:
            return NotOracle
        if self.state == "closed" and now > self.voting_ends:
            return VotingEnded
        round_ = self.round
        for address, accept, score, reason in ballots:
            update = self.updates.get((round_, address))
            if round_ != self.round or update is None:
                continue  # a settlement in the batch skipped the round: nothing pending
            if update.status is not UpdateStatus.PENDING or index in update.voters:
                continue
            assert self.vote(account, address, accept, score, reason, now) is None
        return None

    def claim(self, address: str) -> Expected:
        participant = self.participants[address]
        if participant.owed == 0:
            return NoRewardOwed
        self.claimed += participant.owed
        participant.owed = 0
        return None

    def settle(self, round_: int, address: str, now: int) -> Expected:
        error, update = self._pending_update(round_, address)
        if update is None:
            return error
        if not self.voting_open(round_, now):
            update.status = UpdateStatus.EXPIRED
            if round_ == self.round:
                self._settled()
            return None
        if not self._evaluate(round_, address, update):
            return NothingToSettle
        return None

    def tally(self, update: UpdateModel) -> tuple[int, int, int]:
        live = [accept for index, accept in update.voters.items() if index in self.members]
        outstanding = len([i for i in self.members if i not in update.voters])
        return sum(live), len(live) - sum(live), outstanding

    def _evaluate(self, round_: int, address: str, update: UpdateModel) -> bool:
        participant = self.participants[address]
        if participant.banned:
            update.status, update.reason = UpdateStatus.REJECTED, BANNED_REASON
            self._settled()
            return True
        if self.k == 0:
            return False
        accepts, rejects, outstanding = self.tally(update)
        if accepts >= self.k:
            update.status = UpdateStatus.ACCEPTED
            self.accepted_in_round += 1
            assert update.accept_score is not None
            reward = REWARD.reward_for(update.accept_score)
            self.rewards += reward
            participant.owed += reward
        elif rejects >= self.k:
            update.status = UpdateStatus.REJECTED
            participant.strikes += 1
            participant.banned = participant.banned or participant.strikes >= REJECTION_LIMIT
        elif accepts + outstanding < self.k and rejects + outstanding < self.k:
            update.status = UpdateStatus.DISPUTED
        else:
            return False
        self._settled()
        return True

    def _settled(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.accepted_in_round == 0 and self.state == "closed":
            self._next_round()

    # ---- the round ----------------------------------------------------------------------

    def close(self, now: int) -> Expected:
        if self.state != "open":
            return RoundNotOpen
        # The target counts the updates in play: accepted, or submitted and not yet settled.
        if self.accepted_in_round + self.pending < CONTRIBUTION_TARGET and now <= self.deadline:
            return RoundCloseTooEarly
        self.state, self.closed_at, self.voting_ends = "closed", now, now + GRACE
        if self.accepted_in_round == 0 and self.pending == 0:
            self._next_round()
        return None

    def aggregation_open(self, now: int) -> bool:
        return self.pending == 0 or now > self.voting_ends

    def propose(self, account: int, aggregate: str, now: int) -> Expected:
        index = self.index_of(account)
        if index is None:
            return NotOracle
        if self.state != "closed":
            return RoundNotClosed
        if not self.aggregation_open(now):
            return AggregationNotStarted
        if self.accepted_in_round == 0:
            return NothingToAggregate
        if index in self.proposers:
            return AlreadyProposed
        self.proposers.add(index)
        backers = self.backers.setdefault(aggregate, set())
        backers.add(index)
        self.leading = max(self.leading, len(backers))
        votes = len(backers & self.live)
        outstanding = len(self.live - self.proposers)
        if votes >= self.k or self.leading + outstanding < self.k:
            self._next_round()
        return None

    def skip_stalled(self, now: int) -> Expected:
        if self.state != "closed":
            return RoundNotClosed
        if self.accepted_in_round == 0 and self.aggregation_open(now):
            self._next_round()
            return None
        if now <= self.voting_ends + AGGREGATION_TIMEOUT:
            return AggregationNotStalled
        self._next_round()
        return None

    def _next_round(self) -> None:
        self.round += 1
        self.state = "open"
        self.accepted_in_round = 0
        self.pending = 0
        self.backers.clear()
        self.proposers.clear()
        self.leading = 0
        self.deadline = -1  # read from the RoundOpened event by the machine


class CoordinatorMachine(RuleBasedStateMachine):
    """Drives one deployment; the chain-side fixtures are injected as class attributes."""

    client: ChainClient
    artifacts: ArtifactSet
    cast: Cast

    def __init__(self) -> None:
        super().__init__()
        self.dev = DevControls(self.client.rpc)
        self.snapshot = self.dev.snapshot()
        self.bed: Testbed | None = None

    @initialize(
        configuration=st.sampled_from(CONFIGURATIONS), policy=st.sampled_from(list(StoragePolicy))
    )
    def deploy(self, configuration: tuple[int, int], policy: StoragePolicy) -> None:
        n, k = configuration
        self.bed = deploy_testbed(
            self.client, self.artifacts, self.cast,
            oracles=n, quorum=k, participants=PARTICIPANTS, storage_policy=policy,
            round_rules=RoundRules(DURATION, AGGREGATION_TIMEOUT, CONTRIBUTION_TARGET, GRACE),
            reward_rule=REWARD, rejection_limit=REJECTION_LIMIT,
        )  # fmt: skip
        deadline = self.bed.admin.coordinator.latest_model().deadline
        addresses = [p.address for p in self.bed.participants]
        self.model = ContractModel(n, k, addresses, self.bed.outsider.address, deadline)
        self.oracle_accounts = [self.bed.as_account(a) for a in self.cast.oracles]
        self.account_of = {o.address: i for i, o in enumerate(self.oracle_accounts)}
        self.stream = self.bed.admin.event_stream(
            [
                VoteCast,
                UpdateAccepted,
                UpdateRejected,
                UpdateDisputed,
                UpdateExpired,
                AggregateProposed,
                RoundFinalized,
                RoundOpened,
            ]
        )
        self.votes: dict[tuple[int, str], dict[int, bool]] = {}  # -> oracle account: accept
        self.backers: dict[tuple[int, bytes], set[int]] = {}
        self.verdicts: Counter[tuple[int, str]] = Counter()
        self.event_rewards = 0

    def teardown(self) -> None:
        self.dev.revert(self.snapshot)
        self.client.reset()

    # ---- helpers ----------------------------------------------------------------------

    @property
    def ready(self) -> Testbed:
        assert self.bed is not None
        return self.bed

    def _account(self, index: int) -> FedLedger:
        everyone = [*self.ready.participants, self.ready.outsider]
        return everyone[index % len(everyone)]

    def _oracle(self, account: int) -> FedLedger:
        return self.oracle_accounts[account]

    def _expect(self, expected: Expected, call: Callable[[], object]) -> None:
        if expected is None:
            call()
        else:
            with pytest.raises(expected):
                call()

    def _now(self) -> int:
        now = self.dev.timestamp()
        model = self.model
        boundaries = [model.deadline]
        if model.state == "closed":
            boundaries += [model.voting_ends, model.voting_ends + AGGREGATION_TIMEOUT]
        for boundary in boundaries:
            assert boundary < 0 or abs(now - boundary) > 20, "clock too close to a boundary"
        return now

    # ---- the one rule -----------------------------------------------------------------

    # One rule that draws its action, not one rule per action: Hypothesis's swarm testing
    # switches whole rules off for an example, and a run without votes, or without closes,
    # never gets past the first round. Votes and proposals are drawn more often because
    # the protocol needs several of them per step forward.
    @rule(
        action=st.sampled_from(ACTIONS),
        who=st.integers(0, PARTICIPANTS),
        oracle=st.integers(0, MAX_TEST_ORACLES - 1),
        quorum=st.integers(0, 4),
        ballot=st.sampled_from(BALLOTS),
        aggregate=st.sampled_from(AGGREGATES),
        seconds=st.sampled_from(CLOCK_STEPS),
    )
    def step(
        self,
        action: str,
        who: int,
        oracle: int,
        quorum: int,
        ballot: tuple[bool, int, ReasonCode],
        aggregate: str,
        seconds: int,
    ) -> None:
        if action == "submit":
            self._submit(who)
        elif action == "vote":
            self._vote(oracle, who, ballot)
        elif action == "vote_batch":
            self._vote_batch(oracle, who, ballot)
        elif action == "claim":
            claimant = self._account(who)
            expected = self.model.claim(claimant.address)
            self._expect(expected, claimant.coordinator.claim_rewards)
        elif action == "settle":
            self._settle(who)
        elif action == "pardon":
            self._pardon(who)
        elif action == "ban":
            self._ban(who)
        elif action == "close":
            self._expect(self.model.close(self._now()), self._account(who).coordinator.close_round)
        elif action == "propose":
            self._propose(oracle, aggregate)
        elif action == "skip_stalled":
            expected = self.model.skip_stalled(self._now())
            self._expect(expected, self._account(who).coordinator.skip_stalled_round)
        elif action in ("add_oracle", "remove_oracle", "set_quorum"):
            self._change_oracles(action, oracle, quorum)
        else:
            assert action == "wait"
            self.dev.increase_time(seconds)

    def _submit(self, who: int) -> None:
        participant = self._account(who)
        address = participant.address
        round_ = self.model.round
        expected = self.model.submit(address, self._now())
        self._expect(expected, lambda: participant.coordinator.submit_update(
            round_, content_hash(f"{round_}-{address}"), 10
        ))  # fmt: skip

    def _candidates(self, round_: int) -> list[str]:
        """This round's submissions, pending ones first."""
        submitted = [address for (r, address) in self.model.updates if r == round_]
        pending = [
            a for a in submitted if self.model.updates[(round_, a)].status is UpdateStatus.PENDING
        ]
        return pending or submitted

    def _vote(self, pick: int, who: int, ballot: tuple[bool, int, ReasonCode]) -> None:
        round_ = self.model.round
        candidates = self._candidates(round_)
        address = candidates[who % len(candidates)] if candidates else self._account(who).address
        # Mostly a live oracle that has not voted on it yet; sometimes anyone (a repeat, a
        # removed oracle, one never registered).
        update = self.model.updates.get((round_, address))
        fresh = [
            account
            for index, account in sorted(self.model.members.items())
            if update is None or index not in update.voters
        ]
        account = fresh[pick % len(fresh)] if fresh and pick < 5 else pick
        accept, score, reason = ballot
        expected = self.model.vote(account, address, accept, score, int(reason), self._now())
        self._expect(expected, lambda: self._oracle(account).coordinator.vote(
            round_, address, accept, score, reason
        ))  # fmt: skip
        self._check_update(round_, address)

    def _vote_batch(self, pick: int, who: int, ballot: tuple[bool, int, ReasonCode]) -> None:
        """A batch of up to three of the round's submissions (pending ones first, so some
        settle, and a settled one or a repeat now and then, which are skipped), with
        ballots drawn around ``ballot``."""
        round_ = self.model.round
        submitted = [address for (r, address) in self.model.updates if r == round_]
        if not submitted:
            submitted = [self._account(who).address]  # not submitted: skipped
        chosen = [submitted[(who + step) % len(submitted)] for step in range(1 + who % 3)]
        members = sorted(self.model.members.items())
        account = members[pick % len(members)][1] if members and pick < 5 else pick
        first = BALLOTS.index(ballot)
        ballots = [
            (address, *BALLOTS[(first + offset) % len(BALLOTS)])
            for offset, address in enumerate(chosen)
        ]
        verdicts = [Verdict(address, a, s, r) for address, a, s, r in ballots]
        expected = self.model.vote_batch(
            account, [(address, a, s, int(r)) for address, a, s, r in ballots], self._now()
        )
        self._expect(
            expected, lambda: self._oracle(account).coordinator.vote_batch(round_, verdicts)
        )
        for address in chosen:
            self._check_update(round_, address)

    def _settle(self, who: int) -> None:
        pending = sorted(
            key for key, update in self.model.updates.items()
            if update.status is UpdateStatus.PENDING
        )  # fmt: skip
        round_, address = (
            pending[who % len(pending)]
            if pending
            else (self.model.round, self._account(who).address)
        )
        expected = self.model.settle(round_, address, self._now())
        self._expect(expected, lambda: self._account(who).coordinator.settle(round_, address))
        self._check_update(round_, address)

    def _pardon(self, who: int) -> None:
        address = self._account(who % PARTICIPANTS).address
        expected = self.model.pardon(address)
        self._expect(expected, lambda: self.ready.admin.coordinator.pardon_participant(address))

    def _ban(self, who: int) -> None:
        address = self._account(who).address
        expected = self.model.ban(address)
        self._expect(expected, lambda: self.ready.admin.coordinator.ban_participant(address))

    def _change_oracles(self, action: str, account: int, quorum: int) -> None:
        coordinator = self.ready.admin.coordinator
        address = self._oracle(account).address
        n = len(self.model.members)
        if action == "add_oracle":
            k = n + 1 - quorum // 2 if quorum else (n + 1) // 2 + 1  # mostly valid, not always
            expected = self.model.add_oracle(account, k)
            self._expect(expected, lambda: coordinator.add_oracle(address, k))
        elif action == "remove_oracle":
            if n <= 1:  # keep someone to decide
                return
            k = max(n - 1 - quorum // 2, 0) if quorum else (n - 1) // 2 + 1
            expected = self.model.remove_oracle(account, k)
            self._expect(expected, lambda: coordinator.remove_oracle(address, k))
        else:
            expected = self.model.set_quorum(quorum)
            self._expect(expected, lambda: coordinator.set_quorum(quorum))

    def _propose(self, pick: int, aggregate: str) -> None:
        round_ = self.model.round
        fresh = [
            account
            for index, account in sorted(self.model.members.items())
            if index not in self.model.proposers
        ]
        account = fresh[pick % len(fresh)] if fresh and pick < 5 else pick
        expected = self.model.propose(account, aggregate, self._now())
        self._expect(expected, lambda: self._oracle(account).coordinator.propose_aggregate(
            round_, content_hash(f"{round_}-{aggregate}")
        ))  # fmt: skip

    # ---- invariants -------------------------------------------------------------------

    @invariant()
    def chain_agrees_with_the_model_and_the_invariants_hold(self) -> None:
        if self.bed is None:
            return
        self._consume_events()
        model = self.model
        coordinator = self.bed.admin.coordinator
        latest = coordinator.latest_model()
        assert latest.round == model.round
        assert latest.state.name.lower() == model.state
        if model.deadline < 0:
            model.deadline = latest.deadline
        assert latest.deadline == model.deadline
        assert coordinator.quorum() == model.k
        assert coordinator.live_oracles() == sum(1 << index for index in model.members)
        supply = self.bed.admin.token.total_supply()
        assert supply == model.claimed
        owed = {address: coordinator.reward_owed(address) for address in model.participants}
        assert owed == {address: p.owed for address, p in model.participants.items()}
        assert supply + sum(owed.values()) == model.rewards == self.event_rewards
        assert all(count == 1 for count in self.verdicts.values()), "two verdicts on an update"

    def _live_accounts(self) -> set[int]:
        return set(self.model.members.values())

    def _consume_events(self) -> None:
        k, live = self.model.k, self._live_accounts()
        for event in self.stream.poll():
            if isinstance(event, VoteCast):
                voter = self.account_of[event.oracle]
                self.votes.setdefault((event.round, event.participant), {})[voter] = event.accept
            elif isinstance(event, (UpdateAccepted, UpdateRejected, UpdateDisputed, UpdateExpired)):
                key = (event.round, event.participant)
                self.verdicts[key] += 1
                ballots = self.votes.get(key, {})
                accepts = sum(1 for a, accept in ballots.items() if a in live and accept)
                rejects = sum(1 for a, accept in ballots.items() if a in live and not accept)
                if isinstance(event, UpdateAccepted):
                    assert accepts >= k, "accepted without k live votes"
                    self.event_rewards += event.reward
                elif isinstance(event, UpdateRejected) and event.reason != BANNED_REASON:
                    assert rejects >= k, "rejected without k live votes"
                elif isinstance(event, UpdateDisputed):
                    assert max(event.accept_votes, event.reject_votes) < k
                    assert (event.accept_votes, event.reject_votes) == (accepts, rejects)
            elif isinstance(event, AggregateProposed):
                proposer = self.account_of[event.oracle]
                self.backers.setdefault((event.round, event.content_hash), set()).add(proposer)
            elif isinstance(event, RoundFinalized):
                backers = self.backers.get((event.round, event.global_model), set())
                assert len(backers & live) >= k, "finalized without k live proposals"

    def _check_update(self, round_: int, address: str) -> None:
        expected = self.model.updates.get((round_, address))
        actual = self.ready.admin.coordinator.get_update(round_, address)
        if expected is None:
            assert actual.status is UpdateStatus.NONE
            return
        deleted = self.ready.params.storage_policy is StoragePolicy.ACCEPTED_ONLY and (
            expected.status in (UpdateStatus.REJECTED, UpdateStatus.DISPUTED)
        )
        if deleted:
            assert actual.status is UpdateStatus.NONE and actual.content_hash == bytes(32)
            return
        status = expected.status
        if status is UpdateStatus.PENDING and not self.model.voting_open(round_, self._now()):
            status = UpdateStatus.EXPIRED
        assert actual.status is status
        accepts, rejects, _ = self.model.tally(expected)
        assert (actual.accept_votes, actual.reject_votes) == (accepts, rejects)
        if expected.status is UpdateStatus.ACCEPTED:
            assert actual.score == expected.accept_score
        if expected.status is UpdateStatus.REJECTED and expected.reason != BANNED_REASON:
            assert actual.score == expected.reject_score
            assert actual.reason == expected.reason


# 100 examples of 50 steps: about 4 minutes on an idle 2-core machine, many more on a
# loaded one, hence a timeout above the suite's default.
@pytest.mark.timeout(1_800)
def test_random_protocol_runs_keep_the_invariants(
    chain_client: ChainClient, chain_artifacts: ArtifactSet, chain_cast: Cast
) -> None:
    machine = type(
        "BoundCoordinatorMachine",
        (CoordinatorMachine,),
        {"client": chain_client, "artifacts": chain_artifacts, "cast": chain_cast},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=100,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_model_rules_out_two_verdicts_after_an_oracle_change() -> None:
    """The model itself replays issue 10's exploit 4 (a check of the checker)."""
    model = ContractModel(5, 3, ["p"], "outsider", deadline=10**9)
    assert model.submit("p", 0) is None
    for account, accept in ((0, True), (1, True), (2, False), (3, False)):
        assert model.vote(account, "p", accept, 1, 0 if accept else 7, 0) is None
    assert model.remove_oracle(0, 3) is None and model.remove_oracle(1, 2) is None
    assert model.tally(model.updates[(1, "p")]) == (0, 2, 1)
    assert model.settle(1, "p", 0) is None
    assert model.updates[(1, "p")].status is UpdateStatus.REJECTED and model.rewards == 0
