"""Typed binding of FedLedgerCoordinator: one method per contract function.

Content hashes are 32-byte ``bytes`` (hex strings are accepted as arguments): the sha2-256
digest inside a blob's CIDv0, see docs/architecture.md. Deriving the CID is the storage
layer's job; this module never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fedledger.chain.client import TxResult
from fedledger.chain.codes import ReasonCode, RoundState, StoragePolicy, UpdateStatus
from fedledger.chain.contract import OwnableMixin

#: Gas floors for calls whose cost depends on what lands before them. An oracle's vote
#: estimated as an ordinary vote may be mined as the settling one (mint, possibly a ban),
#: a proposal as the finalizing one, a close as a skip that opens the next round. Unused
#: gas is not charged, so a generous floor costs nothing but avoids out-of-gas failures.
VOTE_GAS_FLOOR = 250_000
PROPOSE_GAS_FLOOR = 250_000
CLOSE_GAS_FLOOR = 200_000
#: A voteBatch is sent with this much gas per verdict (a settling accept tallies, credits
#: and may skip the round: about 25,000; a credit paid out at once mints) plus the base,
#: without an estimate: the estimate would run the whole batch once more on the node, and
#: the votes of other oracles can turn its verdicts into settling ones before it is mined.
BATCH_GAS_PER_VERDICT = 60_000
BATCH_GAS_BASE = 150_000


def valid_quorum(quorum: int, oracles: int) -> bool:
    """The contract's quorum rule (``OracleQuorum._requireValidQuorum``), the one copy on
    the Python side: k of n is a strict majority, 2k > n and k <= n; 0 for an empty set."""
    if oracles == 0:
        return quorum == 0
    return 2 * quorum > oracles and quorum <= oracles


def smallest_quorum(oracles: int) -> int:
    """The smallest k the contract accepts for a set of ``oracles`` (n // 2 + 1, 0 for none)."""
    return next(k for k in range(oracles + 1) if valid_quorum(k, oracles))


#: Seconds after close during which pending updates still take votes, by default.
DEFAULT_VERIFICATION_GRACE = 300


def required_stake(coordinator: Coordinator) -> int:
    """The wei a submission must carry now: the enrolment stake under open enrolment."""
    return coordinator.enrolment_stake() if coordinator.open_enrolment() else 0


@dataclass(frozen=True)
class RoundRules:
    duration: int  # seconds from a round's opening to its submission deadline
    aggregation_timeout: int  # seconds after voting ends before anyone may skip the round
    contribution_target: int  # updates in play (accepted + pending) closing early (0: none)
    verification_grace: int = DEFAULT_VERIFICATION_GRACE  # seconds of votes after close


@dataclass(frozen=True)
class RewardRule:
    base: int  # token base units per accepted update
    per_score_point: int  # plus this much per point of the recorded score

    def reward_for(self, score: int, cap: int | None = None) -> int:
        """The reward of an update accepted with ``score``, within the deployment's cap."""
        reward = self.base + self.per_score_point * score
        return reward if cap is None else min(reward, cap)


@dataclass(frozen=True)
class GlobalModel:
    """The answer to the paper's GetLatestModelParameters."""

    round: int
    state: RoundState
    deadline: int
    content_hash: bytes


@dataclass(frozen=True)
class RoundInfo:
    round: int
    global_model: bytes  # the model this round trains from
    deadline: int
    closed_at: int
    voting_ends: int  # closed_at + the verification grace: the last timestamp of a vote
    accepted: int
    pending: int  # submitted and not yet settled
    state: RoundState
    proposals: int
    leading_votes: int
    proposers: int  # bitmap of oracle indices

    def proposed(self, oracle_index: int) -> bool:
        return bool(self.proposers >> oracle_index & 1)


@dataclass(frozen=True)
class EncryptionKeyInfo:
    """An oracle's registered X25519 keys (zeros: none)."""

    oracle: str
    current: bytes
    previous: bytes  # still valid for updates of round ``rotated_in_round``
    rotated_in_round: int
    registered_at_block: int

    @property
    def registered(self) -> bool:
        return self.current != bytes(32)

    def valid_keys(self, round_: int) -> tuple[bytes, ...]:
        """The keys an update of ``round_`` may be sealed for (current, and the previous one
        in the round of its rotation)."""
        keys: tuple[bytes, ...] = (self.current,) if self.registered else ()
        if self.previous != bytes(32) and self.rotated_in_round == round_:
            keys += (self.previous,)
        return keys


@dataclass(frozen=True)
class UpdateInfo:
    round: int
    participant: str
    content_hash: bytes
    num_samples: int
    voters: int  # bitmap of oracle indices
    acceptors: int  # the voters that voted to accept
    accept_score: int  # minimum score among accept votes
    reject_score: int  # minimum score among reject votes
    accept_votes: int  # live accept votes (removed oracles' votes do not count)
    reject_votes: int  # live reject votes
    status: UpdateStatus
    reason: int  # the first reject vote's ReasonCode value (0 while none)
    staked: bool  # carries the enrolment stake, not yet returned or forfeited

    @property
    def score(self) -> int:
        """The recorded score: of the agreeing side once settled."""
        return self.reject_score if self.status == UpdateStatus.REJECTED else self.accept_score

    def voted(self, oracle_index: int) -> bool:
        return bool(self.voters >> oracle_index & 1)


@dataclass(frozen=True)
class Verdict:
    """One vote of a :meth:`Coordinator.vote_batch`."""

    participant: str
    accept: bool
    score: int
    reason: ReasonCode | int = ReasonCode.ACCEPTED

    def word(self) -> int:
        """The verdict as voteBatch takes it, one calldata word (a quarter of an ABI
        struct's gas): participant << 48 | score << 16 | reason << 8 | accept."""
        if not 0 <= self.score < 2**32 or not 0 <= int(self.reason) < 2**8:
            raise ValueError(
                f"a verdict's score must fit in uint32 and its reason in uint8, "
                f"not {self.score} and {int(self.reason)}"
            )
        address = int(self.participant, 16)
        return address << 48 | self.score << 16 | int(self.reason) << 8 | int(self.accept)


@dataclass(frozen=True)
class ParticipantInfo:
    address: str
    registered: bool
    banned: bool
    accepted: int
    rejected: int
    strikes: int  # rejections since registration or the last pardon
    last_submitted_round: int
    reward_owed: int  # reward tokens credited at acceptance, not yet claimed


class Coordinator(OwnableMixin):
    """FedLedgerCoordinator: rounds, submissions, oracle votes and aggregation."""

    CONTRACT = "FedLedgerCoordinator"

    # ---- admin: oracles ------------------------------------------------------------

    def add_oracle(self, oracle: str, quorum: int) -> TxResult:
        """Register ``oracle`` and set the quorum for the enlarged set in one step."""
        return self._transact("addOracle", oracle, quorum)

    def remove_oracle(self, oracle: str, quorum: int) -> TxResult:
        """Remove ``oracle`` and set the quorum for the reduced set in one step."""
        return self._transact("removeOracle", oracle, quorum)

    def set_quorum(self, quorum: int) -> TxResult:
        return self._transact("setQuorum", quorum)

    # ---- oracles: encryption keys --------------------------------------------------

    def register_encryption_key(self, public_key: bytes) -> TxResult:
        """Register or rotate the caller's X25519 public key (oracles only)."""
        return self._transact("registerEncryptionKey", public_key)

    def encryption_key_of(self, oracle: str) -> EncryptionKeyInfo:
        return EncryptionKeyInfo(oracle=oracle, **self._call("encryptionKeyOf", oracle))

    def encryption_keys(self) -> dict[str, bytes]:
        """Live oracle -> its current key (zero bytes when it has none), in index order."""
        oracles, keys = self._call("encryptionKeys")
        return {oracle: bytes(key) for oracle, key in zip(oracles, keys, strict=True)}

    # ---- admin: participants -------------------------------------------------------

    def register_participant(self, participant: str) -> TxResult:
        return self._transact("registerParticipant", participant)

    def register_participants(self, participants: Sequence[str]) -> TxResult:
        return self._transact("registerParticipants", list(participants))

    def remove_participant(self, participant: str) -> TxResult:
        return self._transact("removeParticipant", participant)

    def ban_participant(self, participant: str) -> TxResult:
        return self._transact("banParticipant", participant)

    def pardon_participant(self, participant: str) -> TxResult:
        return self._transact("pardonParticipant", participant)

    def set_open_enrolment(self, open_: bool) -> TxResult:
        return self._transact("setOpenEnrolment", open_)

    def set_rejection_limit(self, limit: int) -> TxResult:
        return self._transact("setRejectionLimit", limit)

    # ---- admin: rules and start ----------------------------------------------------

    def start_training(self, genesis_model: bytes | str) -> TxResult:
        """Open round 1 on the initial global model's content hash."""
        return self._transact("startTraining", genesis_model)

    def set_round_rules(self, rules: RoundRules) -> TxResult:
        return self._transact("setRoundRules", rules)

    def set_reward_rule(self, rule: RewardRule) -> TxResult:
        return self._transact("setRewardRule", rule)

    # ---- round flow ----------------------------------------------------------------

    def submit_update(
        self, round_: int, content_hash: bytes | str, num_samples: int, *, stake: int = 0
    ) -> TxResult:
        """Submit the content hash of a model update for ``round_`` (the current round);
        under open enrolment pass ``stake=required_stake(coordinator)``."""
        return self._transact("submitUpdate", round_, content_hash, num_samples, value=stake)

    def vote(
        self,
        round_: int,
        participant: str,
        accept: bool,
        score: int,
        reason: ReasonCode | int = ReasonCode.ACCEPTED,
    ) -> TxResult:
        """Vote on ``participant``'s update in ``round_`` (oracles only, once each)."""
        return self._transact(
            "vote", round_, participant, accept, score, int(reason), min_gas=VOTE_GAS_FLOOR
        )

    def vote_batch(self, round_: int, verdicts: Sequence[Verdict]) -> TxResult:
        """Cast many votes on ``round_``'s pending updates in one transaction (oracles only);
        updates no longer pending, or already voted on by this oracle, are skipped (the
        transaction's VoteCast events say which were counted)."""
        if not verdicts:
            raise ValueError("vote_batch needs at least one verdict")
        args = [verdict.word() for verdict in verdicts]
        gas = BATCH_GAS_BASE + BATCH_GAS_PER_VERDICT * len(args)
        return self._transact("voteBatch", round_, args, gas=gas)

    def claim_rewards(self) -> TxResult:
        """Mint the account the reward tokens its accepted updates earned."""
        return self._transact("claimRewards")

    def reward_owed(self, participant: str) -> int:
        """Reward tokens credited to ``participant`` and not yet claimed."""
        return int(self._call("rewardOwed", participant))

    def settle(self, round_: int, participant: str) -> TxResult:
        """Re-evaluate a pending update against the live oracle set (anyone may call)."""
        return self._transact("settle", round_, participant, min_gas=VOTE_GAS_FLOOR)

    def withdraw_stake(self) -> TxResult:
        """Send the account the stakes returned to it."""
        return self._transact("withdrawStake")

    def close_round(self) -> TxResult:
        """Close the current round (deadline passed or contribution target met)."""
        return self._transact("closeRound", min_gas=CLOSE_GAS_FLOOR)

    def propose_aggregate(self, round_: int, content_hash: bytes | str) -> TxResult:
        """Propose the content hash of the round's aggregate (oracles only, once each)."""
        return self._transact("proposeAggregate", round_, content_hash, min_gas=PROPOSE_GAS_FLOOR)

    def skip_stalled_round(self) -> TxResult:
        """Skip a closed round with nothing to aggregate, or whose oracles did not agree
        within the aggregation timeout."""
        return self._transact("skipStalledRound", min_gas=CLOSE_GAS_FLOOR)

    # ---- views ---------------------------------------------------------------------

    def latest_model(self) -> GlobalModel:
        return GlobalModel(**self._call("latestModel"))

    def current_round(self) -> int:
        return int(self._call("currentRound"))

    def get_round(self, round_: int) -> RoundInfo:
        return RoundInfo(round=round_, **self._call("getRound", round_))

    def get_update(self, round_: int, participant: str) -> UpdateInfo:
        fields = self._call("getUpdate", round_, participant)
        return UpdateInfo(round=round_, participant=participant, **fields)

    def has_voted(self, round_: int, participant: str, oracle: str) -> bool:
        return bool(self._call("hasVoted", round_, participant, oracle))

    def has_proposed(self, round_: int, oracle: str) -> bool:
        return bool(self._call("hasProposed", round_, oracle))

    def proposal_votes(self, round_: int, content_hash: bytes | str) -> int:
        return int(self._call("proposalVotes", round_, content_hash))

    def can_close_round(self) -> bool:
        """Whether a closeRound sent now would succeed: judged on the pending block, whose
        clock is the chain's now (the latest block's timestamp lags on a quiet chain)."""
        return bool(self._call("canCloseRound", block="pending"))

    def voting_open(self, round_: int) -> bool:
        return bool(self._call("votingOpen", round_))

    def aggregation_open(self, round_: int) -> bool:
        return bool(self._call("aggregationOpen", round_))

    def round_rules(self) -> RoundRules:
        return RoundRules(**self._call("roundRules"))

    def reward_rule(self) -> RewardRule:
        return RewardRule(**self._call("rewardRule"))

    def reward_for(self, score: int) -> int:
        return int(self._call("rewardFor", score))

    def max_reward_per_update(self) -> int:
        return int(self._call("maxRewardPerUpdate"))

    def enrolment_stake(self) -> int:
        return int(self._call("enrolmentStake"))

    def returned_stake(self, participant: str) -> int:
        return int(self._call("returnedStake", participant))

    def banned_reason(self) -> int:
        return int(self._call("BANNED_REASON"))

    def reward_token(self) -> str:
        return str(self._call("rewardToken"))

    def redemption_vault(self) -> str:
        return str(self._call("redemptionVault"))

    def storage_policy(self) -> StoragePolicy:
        return StoragePolicy(self._call("storagePolicy"))

    def get_participant(self, participant: str) -> ParticipantInfo:
        return ParticipantInfo(address=participant, **self._call("getParticipant", participant))

    def open_enrolment(self) -> bool:
        return bool(self._call("openEnrolment"))

    def rejection_limit(self) -> int:
        return int(self._call("rejectionLimit"))

    def oracle_count(self) -> int:
        return int(self._call("oracleCount"))

    def quorum(self) -> int:
        return int(self._call("quorum"))

    def is_oracle(self, account: str) -> bool:
        return bool(self._call("isOracle", account))

    def live_oracles(self) -> int:
        """The bitmap of the live oracles' indices."""
        return int(self._call("liveOracles"))

    def oracle_index(self, oracle: str) -> int:
        return int(self._call("oracleIndex", oracle))

    def oracles(self) -> list[str]:
        return list(self._call("oracles"))

    def max_oracles(self) -> int:
        return int(self._call("MAX_ORACLES"))
