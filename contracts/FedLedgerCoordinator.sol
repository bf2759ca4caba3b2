// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {OracleKeyRegistry} from "./OracleKeyRegistry.sol";
import {OracleQuorum} from "./OracleQuorum.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title FedLedgerCoordinator
/// @notice Coordinates federated learning rounds: participants submit the content hash of a
/// model update, a k-of-n quorum of oracles verifies each update, accepted updates earn
/// RewardToken, and k identical aggregate proposals finalize a round and open the next.
/// @dev Round life cycle: Open -> (closeRound) -> Closed -> (k identical proposals) ->
/// Finalized, or -> Skipped when there is nothing to aggregate or the oracles cannot agree;
/// either way the next round opens in the same transaction. Every entry point does a
/// constant amount of work: votes and proposals are tallied in bitmaps and counters, never
/// by iterating over participants or oracles.
contract FedLedgerCoordinator is OracleQuorum, OracleKeyRegistry, ParticipantRegistry {
    /// @notice What happens to the record of an update that is not accepted.
    enum StoragePolicy {
        AcceptedOnly, // rejected and disputed records are deleted (less ledger growth)
        AuditAll // every submission is kept with its votes and score
    }

    enum RoundState {
        None,
        Open, // accepting submissions and votes
        Closed, // waiting for k identical aggregate proposals
        Finalized, // the aggregate became the next round's global model
        Skipped // closed without a new model; the next round reuses this round's model
    }

    enum UpdateStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Disputed, // the votes split so that neither verdict can reach k
        Expired // still pending when its round closed (reported by views only)
    }

    enum SkipReason {
        NoAcceptedUpdates,
        NoAgreement, // the proposals split so that no aggregate can reach k
        AggregationTimeout // the oracles did not agree within aggregationTimeout
    }

    /// @dev One slot. Changes apply from the next round that opens (duration) or the next
    /// close (target) or the next stall check (timeout).
    struct RoundRules {
        uint64 duration; // seconds from opening to the submission deadline
        uint64 aggregationTimeout; // seconds after closing before anyone may skip the round
        uint32 contributionTarget; // accepted updates that allow an early close (0: none)
    }

    /// @dev Reward for an accepted update: base + perScorePoint * score (token base units).
    struct RewardRule {
        uint128 base;
        uint128 perScorePoint;
    }

    /// @dev Two slots: the model hash, and everything else.
    struct Round {
        bytes32 globalModel; // the model this round's participants train from
        uint64 deadline; // last timestamp at which submissions are accepted
        uint64 closedAt;
        uint32 accepted; // accepted updates so far
        RoundState state;
        uint8 proposals; // oracles that proposed an aggregate
        uint8 leadingVotes; // proposals for the most-proposed aggregate
        uint64 proposers; // bitmap of oracle indices that proposed
    }

    /// @dev Two slots: the content hash, and the tally.
    struct Update {
        bytes32 contentHash;
        uint64 numSamples; // claimed by the participant, never verified
        uint64 voters; // bitmap of oracle indices that voted
        uint32 acceptScore; // minimum score among the accept votes
        uint32 rejectScore; // minimum score among the reject votes
        uint8 acceptVotes;
        uint8 rejectVotes;
        UpdateStatus status;
        uint8 reason; // reason code of the first reject vote (0 while none)
    }

    /// @dev The answer to the paper's GetLatestModelParameters.
    struct GlobalModel {
        uint64 round;
        RoundState state;
        uint64 deadline;
        bytes32 contentHash;
    }

    /// @notice The reward token; this contract is its only minter.
    RewardToken public immutable rewardToken;
    /// @notice The storage policy fixed at deployment.
    StoragePolicy public immutable storagePolicy;
    /// @notice The round in progress (0 before startTraining).
    uint64 public currentRound;

    RoundRules private _rules;
    RewardRule private _reward;
    mapping(uint256 round => Round) private _rounds;
    mapping(uint256 round => mapping(address participant => Update)) private _updates;
    mapping(uint256 round => mapping(bytes32 aggregate => uint8 votes)) private _proposalVotes;

    /// @notice Round `round` opened on `globalModel`; submissions are accepted until `deadline`.
    event RoundOpened(uint64 indexed round, bytes32 globalModel, uint64 deadline);
    /// @notice A participant submitted an update: what an oracle needs to fetch and verify it.
    event UpdateSubmitted(
        uint64 indexed round, address indexed participant, bytes32 contentHash, uint64 numSamples
    );
    /// @notice An oracle voted on an update.
    event VoteCast(
        uint64 indexed round,
        address indexed participant,
        address indexed oracle,
        bool accept,
        uint32 score,
        uint8 reason
    );
    /// @notice k oracles accepted the update; `reward` tokens were minted to the participant.
    event UpdateAccepted(uint64 indexed round, address indexed participant, uint32 score, uint256 reward);
    /// @notice k oracles rejected the update; `reason` is the first rejecting vote's code.
    event UpdateRejected(uint64 indexed round, address indexed participant, uint32 score, uint8 reason);
    /// @notice The votes split so that neither verdict can reach k; the update is void.
    event UpdateDisputed(
        uint64 indexed round, address indexed participant, uint8 acceptVotes, uint8 rejectVotes
    );
    /// @notice The round stopped taking submissions and votes with `acceptedUpdates` accepted.
    event RoundClosed(uint64 indexed round, uint32 acceptedUpdates);
    /// @notice An oracle proposed `contentHash` as the round's aggregate; `votes` now back it.
    event AggregateProposed(
        uint64 indexed round, address indexed oracle, bytes32 indexed contentHash, uint8 votes
    );
    /// @notice k oracles agreed: `globalModel` is the next round's global model.
    event RoundFinalized(uint64 indexed round, bytes32 globalModel);
    /// @notice The round ended without a new global model.
    event RoundSkipped(uint64 indexed round, SkipReason reason);
    /// @notice The round rules changed.
    event RoundRulesChanged(uint64 duration, uint64 aggregationTimeout, uint32 contributionTarget);
    /// @notice The reward rule changed.
    event RewardRuleChanged(uint128 base, uint128 perScorePoint);

    /// @notice startTraining has not been called yet.
    error TrainingNotStarted();
    /// @notice startTraining was already called.
    error TrainingAlreadyStarted();
    /// @notice The call names `given` but the round in progress is `current`.
    error WrongRound(uint64 current, uint64 given);
    /// @notice The round does not accept submissions or votes in its state.
    error RoundNotOpen(uint64 round, RoundState state);
    /// @notice The round does not accept aggregate proposals (it is not Closed).
    error RoundNotClosed(uint64 round, RoundState state);
    /// @notice Submissions for the round ended at `deadline`.
    error SubmissionDeadlinePassed(uint64 round, uint64 deadline);
    /// @notice The participant already submitted an update in this round.
    error AlreadySubmitted(uint64 round, address participant);
    /// @notice A content hash of zero names no blob.
    error EmptyContentHash();
    /// @notice An update must claim at least one training sample.
    error ZeroSamples();
    /// @notice No update from `participant` in `round`.
    error UnknownUpdate(uint64 round, address participant);
    /// @notice The update is no longer pending: k votes agreed, or the votes split.
    error UpdateAlreadySettled(uint64 round, address participant);
    /// @notice The oracle already voted on this update.
    error AlreadyVoted(uint64 round, address participant, address oracle);
    /// @notice An accept vote carries reason 0; a reject vote carries a non-zero reason.
    error InvalidReasonCode(bool accept, uint8 reason);
    /// @notice Neither the deadline has passed nor the contribution target has been met.
    error RoundCloseTooEarly(uint64 round, uint32 accepted, uint32 target, uint64 deadline);
    /// @notice The oracle already proposed an aggregate for this round.
    error AlreadyProposed(uint64 round, address oracle);
    /// @notice The aggregation may only be abandoned after `stalledAfter`.
    error AggregationNotStalled(uint64 round, uint64 stalledAfter);
    /// @notice Round duration and aggregation timeout must be positive.
    error InvalidRoundRules(uint64 duration, uint64 aggregationTimeout);

    /// @param admin The consortium admin (Ownable2Step owner).
    /// @param policy The storage policy for updates that are not accepted.
    /// @param rules Round duration, aggregation timeout and contribution target.
    /// @param reward Base and per-score-point reward for an accepted update.
    /// @param rejectionLimit_ Strikes after which a participant is banned (0: never).
    /// @param openEnrolment_ Whether any address may submit without registration.
    /// @param tokenName Name of the RewardToken this contract creates.
    /// @param tokenSymbol Symbol of the RewardToken this contract creates.
    constructor(
        address admin,
        StoragePolicy policy,
        RoundRules memory rules,
        RewardRule memory reward,
        uint32 rejectionLimit_,
        bool openEnrolment_,
        string memory tokenName,
        string memory tokenSymbol
    ) Ownable(admin) ParticipantRegistry(openEnrolment_, rejectionLimit_) {
        storagePolicy = policy;
        rewardToken = new RewardToken(tokenName, tokenSymbol);
        _setRoundRules(rules);
        _setRewardRule(reward);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Open round 1 on the initial global model.
    /// @param genesisModel Content hash of the initial model blob.
    function startTraining(bytes32 genesisModel) external onlyOwner {
        if (currentRound != 0) revert TrainingAlreadyStarted();
        if (genesisModel == bytes32(0)) revert EmptyContentHash();
        _openRound(1, genesisModel);
    }

    /// @notice Change the round rules (see RoundRules for when each one takes effect).
    /// @param rules The new duration, aggregation timeout and contribution target.
    function setRoundRules(RoundRules calldata rules) external onlyOwner {
        _setRoundRules(rules);
    }

    /// @notice Change the reward for accepted updates settled from now on.
    /// @param reward The new base and per-score-point amounts.
    function setRewardRule(RewardRule calldata reward) external onlyOwner {
        _setRewardRule(reward);
    }

    // ------------------------------------------------------------ round flow

    /// @notice Submit a model update for the current round (the paper's SubmitModelWeights).
    /// @dev The blob's CID is derived off-chain from `contentHash` (the sha2-256 digest of its
    /// CIDv0), so no CID string is stored. One submission per participant per round.
    /// @param round The round the update was trained for; must be the current round.
    /// @param contentHash sha2-256 digest inside the update blob's CIDv0.
    /// @param numSamples Training samples the participant claims (informational, unverified).
    function submitUpdate(uint64 round, bytes32 contentHash, uint64 numSamples) external {
        Round storage current = _requireOpen(round);
        if (block.timestamp > current.deadline) revert SubmissionDeadlinePassed(round, current.deadline);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        if (numSamples == 0) revert ZeroSamples();
        Participant storage participant = _admit(msg.sender);
        if (participant.lastSubmittedRound == round) revert AlreadySubmitted(round, msg.sender);

        participant.lastSubmittedRound = round;
        Update storage update = _updates[round][msg.sender];
        update.contentHash = contentHash;
        update.numSamples = numSamples;
        update.status = UpdateStatus.Pending;
        emit UpdateSubmitted(round, msg.sender, contentHash, numSamples);
    }

    /// @notice Vote on a pending update of the current round (oracles only, once each).
    /// @dev The k-th agreeing vote settles the update. The recorded score is the minimum of
    /// the agreeing votes' scores, so no single oracle can inflate a reward. When the votes
    /// split so that neither side can still reach k, the update is Disputed: void, with no
    /// reward and no strike.
    /// @param round The update's round; must be the current, open round.
    /// @param participant The participant whose update this vote is about.
    /// @param accept The verdict.
    /// @param score The oracle's integer score of the update on its validation data.
    /// @param reason 0 with an accept verdict; a non-zero ReasonCode with a reject verdict.
    function vote(uint64 round, address participant, bool accept, uint32 score, uint8 reason) external {
        (uint64 bit, uint8 size, uint8 k) = _oracleBitAndQuorum(msg.sender);
        if (accept != (reason == 0)) revert InvalidReasonCode(accept, reason);
        _requireOpen(round);
        Update storage update = _updates[round][participant];
        UpdateStatus status = update.status;
        if (status != UpdateStatus.Pending) {
            // Under AcceptedOnly a settled record may be gone; the participant's last
            // submission still tells a settled update from one that never existed.
            if (status == UpdateStatus.None && _participants[participant].lastSubmittedRound != round) {
                revert UnknownUpdate(round, participant);
            }
            revert UpdateAlreadySettled(round, participant);
        }
        if (update.voters & bit != 0) revert AlreadyVoted(round, participant, msg.sender);

        update.voters |= bit;
        uint8 acceptVotes = update.acceptVotes;
        uint8 rejectVotes = update.rejectVotes;
        if (accept) {
            if (acceptVotes == 0 || score < update.acceptScore) update.acceptScore = score;
            update.acceptVotes = ++acceptVotes;
        } else {
            if (rejectVotes == 0) update.reason = reason;
            if (rejectVotes == 0 || score < update.rejectScore) update.rejectScore = score;
            update.rejectVotes = ++rejectVotes;
        }
        emit VoteCast(round, participant, msg.sender, accept, score, reason);

        if (acceptVotes >= k) {
            _accept(round, participant, update);
        } else if (rejectVotes >= k) {
            _reject(round, participant, update);
        } else {
            uint256 cast = uint256(acceptVotes) + rejectVotes;
            uint256 outstanding = size > cast ? size - cast : 0;
            if (acceptVotes + outstanding < k && rejectVotes + outstanding < k) {
                _dispute(round, participant, update, acceptVotes, rejectVotes);
            }
        }
    }

    /// @notice Close the current round (the paper's external trigger); anyone may call it once
    /// the deadline has passed or the contribution target is met.
    /// @dev Updates still pending become Expired: no reward, no strike, no votes accepted.
    /// A round with no accepted update is skipped at once and the next round opens.
    function closeRound() external {
        uint64 round = currentRound;
        if (round == 0) revert TrainingNotStarted();
        Round storage current = _rounds[round];
        if (current.state != RoundState.Open) revert RoundNotOpen(round, current.state);
        uint32 accepted = current.accepted;
        uint32 target = _rules.contributionTarget;
        bool targetMet = target != 0 && accepted >= target;
        if (!targetMet && block.timestamp <= current.deadline) {
            revert RoundCloseTooEarly(round, accepted, target, current.deadline);
        }

        current.closedAt = uint64(block.timestamp);
        current.state = RoundState.Closed;
        emit RoundClosed(round, accepted);
        if (accepted == 0) _skip(round, current, SkipReason.NoAcceptedUpdates);
    }

    /// @notice Propose the content hash of the round's aggregate (the paper's
    /// CalculateNextModelVersion); oracles only, once per round. k identical proposals
    /// finalize the round and open the next one on the aggregate.
    /// @dev When the proposals split so that no aggregate can reach k any more, the round is
    /// skipped at once (liveness); so is one where the oracles stay silent (see skipStalledRound).
    /// @param round The current round; must be Closed.
    /// @param contentHash sha2-256 digest inside the aggregate blob's CIDv0.
    function proposeAggregate(uint64 round, bytes32 contentHash) external {
        (uint64 bit, uint8 size, uint8 k) = _oracleBitAndQuorum(msg.sender);
        if (round != currentRound) revert WrongRound(currentRound, round);
        Round storage current = _rounds[round];
        if (current.state != RoundState.Closed) revert RoundNotClosed(round, current.state);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        if (current.proposers & bit != 0) revert AlreadyProposed(round, msg.sender);

        uint8 votes = _proposalVotes[round][contentHash] + 1;
        _proposalVotes[round][contentHash] = votes;
        uint8 proposals = current.proposals + 1;
        uint8 leading = votes > current.leadingVotes ? votes : current.leadingVotes;
        current.proposers |= bit;
        current.proposals = proposals;
        current.leadingVotes = leading;
        emit AggregateProposed(round, msg.sender, contentHash, votes);

        if (votes >= k) {
            current.state = RoundState.Finalized;
            emit RoundFinalized(round, contentHash);
            _openRound(round + 1, contentHash);
        } else {
            uint256 outstanding = size > proposals ? size - proposals : 0;
            if (leading + outstanding < k) _skip(round, current, SkipReason.NoAgreement);
        }
    }

    /// @notice Skip a Closed round whose oracles did not agree within the aggregation
    /// timeout; anyone may call it. The next round opens on the same global model.
    function skipStalledRound() external {
        uint64 round = currentRound;
        if (round == 0) revert TrainingNotStarted();
        Round storage current = _rounds[round];
        if (current.state != RoundState.Closed) revert RoundNotClosed(round, current.state);
        uint64 stalledAfter = current.closedAt + _rules.aggregationTimeout;
        if (block.timestamp <= stalledAfter) revert AggregationNotStalled(round, stalledAfter);
        _skip(round, current, SkipReason.AggregationTimeout);
    }

    // ----------------------------------------------------------------- views

    /// @notice The current round, its state and deadline, and the global model to train from
    /// (the paper's GetLatestModelParameters). The CID is derived from the hash off-chain.
    function latestModel() external view returns (GlobalModel memory) {
        uint64 round = currentRound;
        Round storage current = _rounds[round];
        return GlobalModel(round, current.state, current.deadline, current.globalModel);
    }

    /// @notice The record of round `round` (all zero for a round that has not opened).
    function getRound(uint64 round) external view returns (Round memory) {
        return _rounds[round];
    }

    /// @notice The update of `participant` in `round`; an update that was still pending when
    /// its round closed reads as Expired. Under AcceptedOnly, rejected and disputed updates
    /// read as None (their record was deleted; the events keep the history).
    function getUpdate(uint64 round, address participant) external view returns (Update memory update) {
        update = _updates[round][participant];
        if (update.status == UpdateStatus.Pending && !_isOpen(round)) update.status = UpdateStatus.Expired;
    }

    /// @notice Whether `oracle` has voted on the update of `participant` in `round`.
    function hasVoted(uint64 round, address participant, address oracle) external view returns (bool) {
        uint64 bit = _bitOrZero(oracle);
        return bit != 0 && _updates[round][participant].voters & bit != 0;
    }

    /// @notice Whether `oracle` has proposed an aggregate for `round`.
    function hasProposed(uint64 round, address oracle) external view returns (bool) {
        uint64 bit = _bitOrZero(oracle);
        return bit != 0 && _rounds[round].proposers & bit != 0;
    }

    /// @notice How many oracles proposed `contentHash` as the aggregate of `round`.
    function proposalVotes(uint64 round, bytes32 contentHash) external view returns (uint8) {
        return _proposalVotes[round][contentHash];
    }

    /// @notice Whether closeRound would succeed now.
    function canCloseRound() external view returns (bool) {
        Round storage current = _rounds[currentRound];
        if (current.state != RoundState.Open) return false;
        uint32 target = _rules.contributionTarget;
        return block.timestamp > current.deadline || (target != 0 && current.accepted >= target);
    }

    /// @notice The round rules in force.
    function roundRules() external view returns (RoundRules memory) {
        return _rules;
    }

    /// @notice The reward rule in force.
    function rewardRule() external view returns (RewardRule memory) {
        return _reward;
    }

    /// @notice The reward an update accepted now with `score` would earn.
    function rewardFor(uint32 score) public view returns (uint256) {
        RewardRule memory rule = _reward;
        return uint256(rule.base) + uint256(rule.perScorePoint) * score;
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

    function _isOpen(uint64 round) private view returns (bool) {
        return round == currentRound && _rounds[round].state == RoundState.Open;
    }

    function _requireOpen(uint64 round) private view returns (Round storage current) {
        uint64 active = currentRound;
        if (active == 0) revert TrainingNotStarted();
        if (round != active) revert WrongRound(active, round);
        current = _rounds[round];
        if (current.state != RoundState.Open) revert RoundNotOpen(round, current.state);
    }

    function _accept(uint64 round, address participant, Update storage update) private {
        uint32 score = update.acceptScore;
        update.status = UpdateStatus.Accepted;
        _rounds[round].accepted += 1;
        _participants[participant].accepted += 1;
        uint256 reward = rewardFor(score);
        emit UpdateAccepted(round, participant, score, reward);
        // Interaction last: the token is our own contract, created in the constructor.
        if (reward != 0) rewardToken.mint(participant, reward);
    }

    function _reject(uint64 round, address participant, Update storage update) private {
        uint32 score = update.rejectScore;
        uint8 reason = update.reason;
        if (storagePolicy == StoragePolicy.AuditAll) {
            update.status = UpdateStatus.Rejected;
        } else {
            delete _updates[round][participant];
        }
        _recordRejection(participant);
        emit UpdateRejected(round, participant, score, reason);
    }

    function _dispute(
        uint64 round,
        address participant,
        Update storage update,
        uint8 acceptVotes,
        uint8 rejectVotes
    ) private {
        if (storagePolicy == StoragePolicy.AuditAll) {
            update.status = UpdateStatus.Disputed;
        } else {
            delete _updates[round][participant];
        }
        emit UpdateDisputed(round, participant, acceptVotes, rejectVotes);
    }

    function _skip(uint64 round, Round storage current, SkipReason reason) private {
        current.state = RoundState.Skipped;
        emit RoundSkipped(round, reason);
        _openRound(round + 1, current.globalModel);
    }

    function _openRound(uint64 round, bytes32 globalModel) private {
        uint64 deadline = uint64(block.timestamp) + _rules.duration;
        currentRound = round;
        Round storage next = _rounds[round];
        next.globalModel = globalModel;
        next.deadline = deadline;
        next.state = RoundState.Open;
        emit RoundOpened(round, globalModel, deadline);
    }

    function _setRoundRules(RoundRules memory rules) private {
        if (rules.duration == 0 || rules.aggregationTimeout == 0) {
            revert InvalidRoundRules(rules.duration, rules.aggregationTimeout);
        }
        _rules = rules;
        emit RoundRulesChanged(rules.duration, rules.aggregationTimeout, rules.contributionTarget);
    }

    function _setRewardRule(RewardRule memory reward) private {
        _reward = reward;
        emit RewardRuleChanged(reward.base, reward.perScorePoint);
    }
}
