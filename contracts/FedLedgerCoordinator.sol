// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IFedLedgerCoordinator} from "./interfaces/IFedLedgerCoordinator.sol";
import {IRedemptionVault} from "./interfaces/IRedemptionVault.sol";
import {IRewardToken} from "./interfaces/IRewardToken.sol";
import {OracleKeyRegistry} from "./OracleKeyRegistry.sol";
import {OracleQuorum} from "./OracleQuorum.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {RedemptionVault} from "./RedemptionVault.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title FedLedgerCoordinator
/// @notice Coordinates federated learning rounds: participants submit the content hash of a
/// model update, a k-of-n quorum of live oracles verifies each update, accepted updates earn
/// RewardToken (credited at settlement, minted by claimRewards), and k identical aggregate
/// proposals finalize a round and open the next.
/// @dev Round life cycle: Open -> (closeRound) -> Closed: pending updates keep taking votes
/// until `votingEnds` (the verification grace), then aggregation starts (earlier once nothing
/// is pending) -> (k identical proposals) -> Finalized, or -> Skipped when there is nothing
/// to aggregate or the oracles cannot agree; either way the next round opens in the same
/// transaction. Every entry point does a constant amount of work per item it is given: votes
/// and proposals are tallied in bitmaps, counted over the live oracle set, never by
/// iterating; voteBatch tallies its verdicts one by one as vote does.
contract FedLedgerCoordinator is IFedLedgerCoordinator, OracleQuorum, OracleKeyRegistry, ParticipantRegistry {
    /// @dev Two slots: the content hash, and the tally. Vote counts are not stored: they are
    /// the popcounts of `voters` and `acceptors` over the live oracles, so that a removed
    /// oracle's vote stops counting without a write.
    struct StoredUpdate {
        bytes32 contentHash;
        uint32 numSamples;
        uint64 voters;
        uint64 acceptors;
        uint32 acceptScore;
        uint32 rejectScore;
        UpdateStatus status;
        uint8 reason;
        bool staked;
    }

    /// @inheritdoc IFedLedgerCoordinator
    uint8 public constant BANNED_REASON = 254;

    /// @inheritdoc IFedLedgerCoordinator
    IRewardToken public immutable rewardToken;
    /// @inheritdoc IFedLedgerCoordinator
    IRedemptionVault public immutable redemptionVault;
    /// @inheritdoc IFedLedgerCoordinator
    StoragePolicy public immutable storagePolicy;
    /// @inheritdoc IFedLedgerCoordinator
    uint256 public immutable enrolmentStake;
    /// @inheritdoc IFedLedgerCoordinator
    uint256 public immutable maxRewardPerUpdate;
    /// @inheritdoc IFedLedgerCoordinator
    uint64 public currentRound;

    RoundRules private _rules;
    RewardRule private _reward;
    mapping(uint256 round => Round) private _rounds;
    mapping(uint256 round => mapping(address participant => StoredUpdate)) private _updates;
    /// @dev Per round and aggregate hash: the bitmap of the oracles that proposed it.
    mapping(uint256 round => mapping(bytes32 aggregate => uint64 proposers)) private _backers;
    mapping(address participant => uint256 wei_) private _returnedStake;

    /// @param admin The consortium admin (Ownable2Step owner of this contract and the vault).
    /// @param policy The storage policy for updates that are not accepted.
    /// @param rules Round duration, aggregation timeout, contribution target, verification grace.
    /// @param reward Base and per-score-point reward for an accepted update.
    /// @param rejectionLimit_ Strikes after which a participant is banned (0: never).
    /// @param openEnrolment_ Whether any address may submit without registration.
    /// @param stake Wei a submission deposits under open enrolment (0: none).
    /// @param rewardCap The most any one accepted update can earn, in token base units.
    /// @param tokenName Name of the RewardToken this contract creates.
    /// @param tokenSymbol Symbol of the RewardToken this contract creates.
    constructor(
        address admin,
        StoragePolicy policy,
        RoundRules memory rules,
        RewardRule memory reward,
        uint32 rejectionLimit_,
        bool openEnrolment_,
        uint256 stake,
        uint256 rewardCap,
        string memory tokenName,
        string memory tokenSymbol
    ) Ownable(admin) ParticipantRegistry(openEnrolment_, rejectionLimit_) {
        storagePolicy = policy;
        enrolmentStake = stake;
        maxRewardPerUpdate = rewardCap;
        RewardToken token = new RewardToken(tokenName, tokenSymbol);
        rewardToken = token;
        redemptionVault = new RedemptionVault(admin, token);
        _setRoundRules(rules);
        _setRewardRule(reward);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IFedLedgerCoordinator
    function startTraining(bytes32 genesisModel) external onlyOwner {
        if (currentRound != 0) revert TrainingAlreadyStarted();
        if (genesisModel == bytes32(0)) revert EmptyContentHash();
        _openRound(1, genesisModel);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function setRoundRules(RoundRules calldata rules) external onlyOwner {
        _setRoundRules(rules);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function setRewardRule(RewardRule calldata reward) external onlyOwner {
        _setRewardRule(reward);
    }

    // ------------------------------------------------------------ round flow

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev The blob's CID is derived off-chain from `contentHash`, so no CID string is stored.
    /// One submission per participant per round. Copies of another author's blob are not
    /// refused here (a front-runner could use that to lock the author out): the oracles'
    /// author binding judges them.
    function submitUpdate(uint64 round, bytes32 contentHash, uint32 numSamples) external payable {
        Round storage current = _requireOpen(round);
        if (block.timestamp > current.deadline) revert SubmissionDeadlinePassed(round, current.deadline);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        if (numSamples == 0) revert ZeroSamples();
        Participant storage participant = _admit(msg.sender);
        if (participant.lastSubmittedRound == round) revert AlreadySubmitted(round, msg.sender);
        uint256 required = openEnrolment ? enrolmentStake : 0;
        if (msg.value != required) revert WrongStake(required, msg.value);

        participant.lastSubmittedRound = round;
        current.pending += 1;
        StoredUpdate storage update = _updates[round][msg.sender];
        update.contentHash = contentHash;
        update.numSamples = numSamples;
        update.status = UpdateStatus.Pending;
        if (required != 0) {
            update.staked = true;
            emit StakeDeposited(round, msg.sender, required);
        }
        emit UpdateSubmitted(round, msg.sender, contentHash, numSamples);
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev The vote that brings one side's live votes to k settles the update. The recorded
    /// score is the minimum of the agreeing votes' scores, so no single oracle can inflate a
    /// reward. When the live votes split so that neither side can still reach k with the live
    /// oracles that have not voted, the update is Disputed: void, no reward, no strike. A
    /// banned participant's update is rejected with BANNED_REASON instead of being tallied.
    function vote(uint64 round, address participant, bool accept, uint32 score, uint8 reason) external {
        (uint64 bit,,) = _oracleBitAndQuorum(msg.sender);
        if (accept != (reason == 0)) revert InvalidReasonCode(accept, reason);
        Round storage current = _requireVoting(round);
        StoredUpdate storage update = _requirePending(round, participant);
        if (update.voters & bit != 0) revert AlreadyVoted(round, participant, msg.sender);
        _tally(round, participant, current, update, bit, accept, score, reason);
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev Each verdict is tallied exactly as by `vote` (same checks, same settlement), in
    /// calldata order. The round, the caller's bit and the live set are read once; the loop
    /// runs over the caller's argument only, like registerParticipants. An update that is no
    /// longer pending (settled by other oracles' votes meanwhile, or never submitted) or that
    /// the caller already voted on is skipped, not reverted: concurrent oracles race on the
    /// same updates, and one lost race must not void the rest of the batch. A verdict is one
    /// word (see the interface): 32 bytes of calldata instead of an ABI struct's 128.
    function voteBatch(uint64 round, uint256[] calldata verdicts) external returns (uint256 counted) {
        (uint64 bit,,) = _oracleBitAndQuorum(msg.sender);
        if (verdicts.length == 0) revert EmptyBatch();
        Round storage current = _requireVoting(round);
        for (uint256 i; i < verdicts.length; ++i) {
            uint256 verdict = verdicts[i];
            // One encoding per verdict: the unused high bits zero, the accept byte 0 or 1.
            if (verdict >> 208 != 0 || uint8(verdict) > 1) revert MalformedVerdict(verdict);
            bool accept = uint8(verdict) == 1;
            uint8 reason = uint8(verdict >> 8);
            if (accept != (reason == 0)) revert InvalidReasonCode(accept, reason);
            address participant = address(uint160(verdict >> 48));
            StoredUpdate storage update = _updates[round][participant];
            if (update.status != UpdateStatus.Pending || update.voters & bit != 0) continue;
            _tally(round, participant, current, update, bit, accept, uint32(verdict >> 16), reason);
            ++counted;
        }
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev Pull payment, checks-effects-interactions: the credit is cleared before the mint.
    function claimRewards() external {
        Participant storage record = _participants[msg.sender];
        uint256 owed = record.rewardOwed;
        if (owed == 0) revert NoRewardOwed(msg.sender);
        record.rewardOwed = 0;
        emit RewardPaid(msg.sender, owed);
        rewardToken.mint(msg.sender, owed);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function settle(uint64 round, address participant) external {
        uint64 active = currentRound;
        if (active == 0) revert TrainingNotStarted();
        if (round > active) revert WrongRound(active, round);
        StoredUpdate storage update = _requirePending(round, participant);
        Round storage current = _rounds[round];
        if (!_votingOpen(round, current)) {
            _expire(round, participant, current, update);
            return;
        }
        (uint64 live, uint8 k) = _liveSet();
        if (!_evaluate(round, participant, current, update, update.voters, update.acceptors, live, k)) {
            revert NothingToSettle(round, participant);
        }
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev The contribution target counts the updates in play (accepted + pending): the
    /// oracles vote at close, so before it nothing is accepted yet, and an update rejected on
    /// arrival has left `pending` already. A round with nothing accepted and nothing pending
    /// is skipped at once and the next round opens. Otherwise pending updates keep taking
    /// votes until `votingEnds`.
    function closeRound() external {
        uint64 round = currentRound;
        if (round == 0) revert TrainingNotStarted();
        Round storage current = _rounds[round];
        if (current.state != RoundState.Open) revert RoundNotOpen(round, current.state);
        uint32 accepted = current.accepted;
        uint32 pending = current.pending;
        uint32 target = _rules.contributionTarget;
        // Both are uint24: the sum cannot overflow uint32.
        uint32 inPlay = accepted + pending;
        if (!_targetMet(inPlay, target) && block.timestamp <= current.deadline) {
            revert RoundCloseTooEarly(round, inPlay, target, current.deadline);
        }

        uint40 votingEnds = uint40(block.timestamp + _rules.verificationGrace);
        current.closedAt = uint40(block.timestamp);
        current.votingEnds = votingEnds;
        current.state = RoundState.Closed;
        emit RoundClosed(round, accepted, pending, votingEnds);
        if (inPlay == 0) _skip(round, current, SkipReason.NoAcceptedUpdates);
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev The aggregate is the FedAvg of the updates Accepted when aggregation starts, which
    /// are all the round's accepted updates: after that no vote is taken. A proposal counts as
    /// long as its oracle is live. When the proposals split so that no aggregate can reach k
    /// any more, the round is skipped at once (liveness).
    function proposeAggregate(uint64 round, bytes32 contentHash) external {
        (uint64 bit, uint64 live, uint8 k) = _oracleBitAndQuorum(msg.sender);
        if (round != currentRound) revert WrongRound(currentRound, round);
        Round storage current = _rounds[round];
        if (current.state != RoundState.Closed) revert RoundNotClosed(round, current.state);
        if (!_aggregationOpen(current)) revert AggregationNotStarted(round, current.pending, current.votingEnds);
        if (current.accepted == 0) revert NothingToAggregate(round);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        uint64 proposers = current.proposers;
        if (proposers & bit != 0) revert AlreadyProposed(round, msg.sender);

        uint64 backers = _backers[round][contentHash] | bit;
        _backers[round][contentHash] = backers;
        proposers |= bit;
        uint8 votes = _popcount(backers & live);
        // An upper bound of every aggregate's live backing: counts removed proposers too.
        uint8 leading = _popcount(backers);
        if (leading < current.leadingVotes) leading = current.leadingVotes;
        current.proposers = proposers;
        current.proposals += 1;
        current.leadingVotes = leading;
        emit AggregateProposed(round, msg.sender, contentHash, votes);

        if (votes >= k) {
            current.state = RoundState.Finalized;
            emit RoundFinalized(round, contentHash);
            _openRound(round + 1, contentHash);
        } else if (leading + _popcount(live & ~proposers) < k) {
            _skip(round, current, SkipReason.NoAgreement);
        }
    }

    /// @inheritdoc IFedLedgerCoordinator
    function skipStalledRound() external {
        uint64 round = currentRound;
        if (round == 0) revert TrainingNotStarted();
        Round storage current = _rounds[round];
        if (current.state != RoundState.Closed) revert RoundNotClosed(round, current.state);
        if (current.accepted == 0 && _aggregationOpen(current)) {
            _skip(round, current, SkipReason.NoAcceptedUpdates);
            return;
        }
        uint64 stalledAfter = uint64(current.votingEnds) + _rules.aggregationTimeout;
        if (block.timestamp <= stalledAfter) revert AggregationNotStalled(round, stalledAfter);
        _skip(round, current, SkipReason.AggregationTimeout);
    }

    /// @inheritdoc IFedLedgerCoordinator
    /// @dev Pull payment, checks-effects-interactions: the credit is cleared before the send.
    function withdrawStake() external {
        uint256 amount = _returnedStake[msg.sender];
        if (amount == 0) revert NoStakeToWithdraw(msg.sender);
        _returnedStake[msg.sender] = 0;
        emit StakeWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc IFedLedgerCoordinator
    function latestModel() external view returns (GlobalModel memory) {
        uint64 round = currentRound;
        Round storage current = _rounds[round];
        return GlobalModel(round, current.state, current.deadline, current.globalModel);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function getRound(uint64 round) external view returns (Round memory) {
        return _rounds[round];
    }

    /// @inheritdoc IFedLedgerCoordinator
    function getUpdate(uint64 round, address participant) external view returns (Update memory view_) {
        StoredUpdate storage update = _updates[round][participant];
        (uint64 live,) = _liveSet();
        uint64 voters = update.voters;
        uint64 acceptors = update.acceptors;
        UpdateStatus status = update.status;
        if (status == UpdateStatus.Pending && !_votingOpen(round, _rounds[round])) status = UpdateStatus.Expired;
        view_ = Update({
            contentHash: update.contentHash,
            numSamples: update.numSamples,
            voters: voters,
            acceptors: acceptors,
            acceptScore: update.acceptScore,
            rejectScore: update.rejectScore,
            acceptVotes: _popcount(acceptors & live),
            rejectVotes: _popcount(voters & ~acceptors & live),
            status: status,
            reason: update.reason,
            staked: update.staked
        });
    }

    /// @inheritdoc IFedLedgerCoordinator
    function hasVoted(uint64 round, address participant, address oracle) external view returns (bool) {
        uint64 bit = _bitOrZero(oracle);
        return bit != 0 && _updates[round][participant].voters & bit != 0;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function hasProposed(uint64 round, address oracle) external view returns (bool) {
        uint64 bit = _bitOrZero(oracle);
        return bit != 0 && _rounds[round].proposers & bit != 0;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function proposalVotes(uint64 round, bytes32 contentHash) external view returns (uint8) {
        (uint64 live,) = _liveSet();
        return _popcount(_backers[round][contentHash] & live);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function canCloseRound() external view returns (bool) {
        Round storage current = _rounds[currentRound];
        if (current.state != RoundState.Open) return false;
        return block.timestamp > current.deadline
            || _targetMet(uint32(current.accepted) + current.pending, _rules.contributionTarget);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function votingOpen(uint64 round) external view returns (bool) {
        return _votingOpen(round, _rounds[round]);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function aggregationOpen(uint64 round) external view returns (bool) {
        Round storage current = _rounds[round];
        return round == currentRound && current.state == RoundState.Closed && _aggregationOpen(current);
    }

    /// @inheritdoc IFedLedgerCoordinator
    function roundRules() external view returns (RoundRules memory) {
        return _rules;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function rewardRule() external view returns (RewardRule memory) {
        return _reward;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function rewardFor(uint32 score) public view returns (uint256) {
        RewardRule memory rule = _reward;
        uint256 reward = uint256(rule.base) + uint256(rule.perScorePoint) * score;
        return reward < maxRewardPerUpdate ? reward : maxRewardPerUpdate;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function rewardOwed(address participant) external view returns (uint256) {
        return _participants[participant].rewardOwed;
    }

    /// @inheritdoc IFedLedgerCoordinator
    function returnedStake(address participant) external view returns (uint256) {
        return _returnedStake[participant];
    }

    // -------------------------------------------------------------- internal

    function _quorumRound() internal view override returns (uint64) {
        return currentRound;
    }

    function _keyRound() internal view override returns (uint64) {
        return currentRound;
    }

    function _requireOracle(address account) internal view override {
        if (_bitOrZero(account) == 0) revert NotOracle(account);
    }

    function _liveOracles() internal view override returns (address[] memory) {
        return oracles();
    }

    /// @dev Records one oracle's verdict on a pending update it has not voted on, then settles
    /// the update if the live tally (or a ban) decides it.
    function _tally(
        uint64 round,
        address participant,
        Round storage current,
        StoredUpdate storage update,
        uint64 bit,
        bool accept,
        uint32 score,
        uint8 reason
    ) private {
        // The tally's slot is read once and the bitmaps passed on: no re-read in _evaluate.
        uint64 voters = update.voters;
        uint64 acceptors = update.acceptors;
        if (accept) {
            if (acceptors == 0 || score < update.acceptScore) update.acceptScore = score;
            acceptors |= bit;
            update.acceptors = acceptors;
        } else {
            bool firstReject = voters & ~acceptors == 0;
            if (firstReject) update.reason = reason;
            if (firstReject || score < update.rejectScore) update.rejectScore = score;
        }
        voters |= bit;
        update.voters = voters;
        emit VoteCast(round, participant, msg.sender, accept, score, reason);
        (uint64 live, uint8 k) = _liveSet(); // warm: the caller's check read the slot
        _evaluate(round, participant, current, update, voters, acceptors, live, k);
    }

    /// @dev Settles the update if the live tally (or a ban) decides it; returns whether it did.
    /// `voters` and `acceptors` are the update's bitmaps as stored.
    function _evaluate(
        uint64 round,
        address participant,
        Round storage current,
        StoredUpdate storage update,
        uint64 voters,
        uint64 acceptors,
        uint64 live,
        uint8 k
    ) private returns (bool) {
        if (_participants[participant].banned) {
            _reject(round, participant, current, update, BANNED_REASON, false);
            return true;
        }
        // With no oracle left (n = 0, k = 0) nothing can be decided, only expire.
        if (k == 0) return false;
        uint8 acceptVotes = _popcount(acceptors & live);
        uint8 rejectVotes = _popcount(voters & ~acceptors & live);
        if (acceptVotes >= k) {
            _accept(round, participant, current, update);
            return true;
        }
        if (rejectVotes >= k) {
            _reject(round, participant, current, update, update.reason, true);
            return true;
        }
        uint8 outstanding = _popcount(live & ~voters);
        if (acceptVotes + outstanding < k && rejectVotes + outstanding < k) {
            _dispute(round, participant, current, update, acceptVotes, rejectVotes);
            return true;
        }
        return false;
    }

    /// @dev Whether `inPlay` updates (accepted + pending) meet the contribution target (0: none).
    function _targetMet(uint32 inPlay, uint32 target) private pure returns (bool) {
        return target != 0 && inPlay >= target;
    }

    function _votingOpen(uint64 round, Round storage current) private view returns (bool) {
        if (round != currentRound) return false;
        RoundState state = current.state;
        return state == RoundState.Open || (state == RoundState.Closed && block.timestamp <= current.votingEnds);
    }

    /// @dev For a Closed round: votes are over (grace ended) or there is nothing to vote on.
    function _aggregationOpen(Round storage current) private view returns (bool) {
        return current.pending == 0 || block.timestamp > current.votingEnds;
    }

    function _requireOpen(uint64 round) private view returns (Round storage current) {
        uint64 active = currentRound;
        if (active == 0) revert TrainingNotStarted();
        if (round != active) revert WrongRound(active, round);
        current = _rounds[round];
        if (current.state != RoundState.Open) revert RoundNotOpen(round, current.state);
    }

    function _requireVoting(uint64 round) private view returns (Round storage current) {
        uint64 active = currentRound;
        if (active == 0) revert TrainingNotStarted();
        if (round != active) revert WrongRound(active, round);
        current = _rounds[round];
        RoundState state = current.state;
        if (state == RoundState.Closed) {
            if (block.timestamp > current.votingEnds) revert VotingEnded(round, current.votingEnds);
        } else if (state != RoundState.Open) {
            revert RoundNotOpen(round, state);
        }
    }

    function _requirePending(uint64 round, address participant) private view returns (StoredUpdate storage update) {
        update = _updates[round][participant];
        UpdateStatus status = update.status;
        if (status != UpdateStatus.Pending) {
            // Under AcceptedOnly a settled record may be gone; the participant's last
            // submission still tells a settled update from one that never existed.
            if (status == UpdateStatus.None && _participants[participant].lastSubmittedRound != round) {
                revert UnknownUpdate(round, participant);
            }
            revert UpdateAlreadySettled(round, participant);
        }
    }

    function _accept(uint64 round, address participant, Round storage current, StoredUpdate storage update)
        private
    {
        uint32 score = update.acceptScore;
        update.status = UpdateStatus.Accepted;
        current.accepted += 1;
        _returnStake(round, participant, update);
        _settled(current);
        uint256 reward = rewardFor(score);
        emit UpdateAccepted(round, participant, score, reward);
        _credit(participant, reward);
    }

    /// @dev Counts the acceptance and credits `reward` in the participant's record, the slot
    /// the count is written to anyway (no fresh storage per reward): claimRewards mints it.
    /// A credit that would overflow the record's uint80 is paid out at once instead.
    function _credit(address participant, uint256 reward) private {
        Participant storage record = _participants[participant];
        record.accepted += 1;
        if (reward == 0) return;
        uint256 owed = record.rewardOwed + reward;
        if (owed <= type(uint80).max) {
            record.rewardOwed = uint80(owed);
            return;
        }
        record.rewardOwed = 0;
        emit RewardPaid(participant, owed);
        // Interaction last: the token is our own contract, created in the constructor.
        rewardToken.mint(participant, owed);
    }

    function _reject(
        uint64 round,
        address participant,
        Round storage current,
        StoredUpdate storage update,
        uint8 reason,
        bool strike
    ) private {
        uint32 score = strike ? update.rejectScore : 0;
        bool staked = update.staked;
        if (storagePolicy == StoragePolicy.AuditAll) {
            update.status = UpdateStatus.Rejected;
            update.reason = reason;
            update.staked = false;
        } else {
            delete _updates[round][participant];
        }
        if (strike) _recordRejection(participant);
        emit UpdateRejected(round, participant, score, reason);
        _settled(current);
        if (staked) {
            uint256 stake = enrolmentStake;
            emit StakeForfeited(round, participant, stake);
            // Interaction last: the vault is our own contract, created in the constructor.
            redemptionVault.deposit{value: stake}();
        }
    }

    function _dispute(
        uint64 round,
        address participant,
        Round storage current,
        StoredUpdate storage update,
        uint8 acceptVotes,
        uint8 rejectVotes
    ) private {
        _returnStake(round, participant, update);
        if (storagePolicy == StoragePolicy.AuditAll) {
            update.status = UpdateStatus.Disputed;
        } else {
            delete _updates[round][participant];
        }
        emit UpdateDisputed(round, participant, acceptVotes, rejectVotes);
        _settled(current);
    }

    function _expire(uint64 round, address participant, Round storage current, StoredUpdate storage update)
        private
    {
        update.status = UpdateStatus.Expired;
        _returnStake(round, participant, update);
        emit UpdateExpired(round, participant);
        if (round == currentRound) _settled(current);
    }

    function _returnStake(uint64 round, address participant, StoredUpdate storage update) private {
        if (!update.staked) return;
        update.staked = false;
        uint256 stake = enrolmentStake;
        _returnedStake[participant] += stake;
        emit StakeReturned(round, participant, stake);
    }

    /// @dev One update of `current` left the pending set; a Closed round with nothing left to
    /// judge and nothing accepted is skipped at once.
    function _settled(Round storage current) private {
        uint24 pending = current.pending - 1;
        current.pending = pending;
        if (pending == 0 && current.accepted == 0 && current.state == RoundState.Closed) {
            _skip(currentRound, current, SkipReason.NoAcceptedUpdates);
        }
    }

    function _skip(uint64 round, Round storage current, SkipReason reason) private {
        current.state = RoundState.Skipped;
        emit RoundSkipped(round, reason);
        _openRound(round + 1, current.globalModel);
    }

    function _openRound(uint64 round, bytes32 globalModel) private {
        uint40 deadline = uint40(block.timestamp + _rules.duration);
        currentRound = round;
        Round storage next = _rounds[round];
        next.globalModel = globalModel;
        next.deadline = deadline;
        next.state = RoundState.Open;
        emit RoundOpened(round, globalModel, deadline);
    }

    function _setRoundRules(RoundRules memory rules) private {
        if (rules.duration == 0 || rules.aggregationTimeout == 0 || rules.verificationGrace == 0) {
            revert InvalidRoundRules(rules.duration, rules.aggregationTimeout, rules.verificationGrace);
        }
        _rules = rules;
        emit RoundRulesChanged(
            rules.duration, rules.aggregationTimeout, rules.contributionTarget, rules.verificationGrace
        );
    }

    function _setRewardRule(RewardRule memory reward) private {
        if (reward.base > maxRewardPerUpdate) revert RewardAboveCap(reward.base, maxRewardPerUpdate);
        _reward = reward;
        emit RewardRuleChanged(reward.base, reward.perScorePoint);
    }
}
