// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOracleKeyRegistry} from "./IOracleKeyRegistry.sol";
import {IOracleQuorum} from "./IOracleQuorum.sol";
import {IParticipantRegistry} from "./IParticipantRegistry.sol";
import {IRedemptionVault} from "./IRedemptionVault.sol";
import {IRewardToken} from "./IRewardToken.sol";

/// @title IFedLedgerCoordinator
/// @notice Federated learning rounds: participants submit the content hash of a model
/// update, a k-of-n quorum of live oracles verifies each update, accepted updates earn
/// RewardToken, and k identical aggregate proposals finalize a round and open the next.
interface IFedLedgerCoordinator is IOracleQuorum, IOracleKeyRegistry, IParticipantRegistry {
    /// @notice What happens to the record of an update that is not accepted.
    enum StoragePolicy {
        AcceptedOnly, // rejected and disputed records are deleted (less ledger growth)
        AuditAll // every submission is kept with its votes and score
    }

    enum RoundState {
        None,
        Open, // accepting submissions and votes
        Closed, // no submissions; pending updates take votes until votingEnds, then aggregation
        Finalized, // the aggregate became the next round's global model
        Skipped // ended without a new model; the next round reuses this round's model
    }

    enum UpdateStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Disputed, // the live votes split so that neither verdict can reach k
        Expired // still pending when its round's voting ended
    }

    enum SkipReason {
        NoAcceptedUpdates,
        NoAgreement, // the proposals split so that no aggregate can reach k
        AggregationTimeout // the oracles did not agree within aggregationTimeout
    }

    /// @dev One slot. Changes apply from the next round that opens (duration), the next
    /// close (target, grace) or the next stall check (timeout).
    struct RoundRules {
        uint64 duration; // seconds from opening to the submission deadline
        uint64 aggregationTimeout; // seconds after voting ends before anyone may skip the round
        uint32 contributionTarget; // updates in play (accepted + pending) that allow an early close (0: none)
        uint64 verificationGrace; // seconds after close during which pending updates take votes
    }

    /// @dev Reward for an accepted update: min(base + perScorePoint * score, the cap).
    struct RewardRule {
        uint128 base;
        uint128 perScorePoint;
    }

    /// @dev Two slots: the model hash, and everything else.
    struct Round {
        bytes32 globalModel; // the model this round's participants train from
        uint40 deadline; // last timestamp at which submissions are accepted
        uint40 closedAt;
        uint40 votingEnds; // closedAt + verificationGrace: the last timestamp of a vote
        uint24 accepted; // accepted updates so far
        uint24 pending; // updates submitted and not yet settled
        RoundState state;
        uint8 proposals; // oracles that proposed an aggregate (removed ones included)
        uint8 leadingVotes; // proposals for the most-proposed aggregate (removed ones included)
        uint64 proposers; // bitmap of oracle indices that proposed
    }

    /// @dev An update as the views report it; the vote counts are over the live oracles.
    struct Update {
        bytes32 contentHash;
        uint32 numSamples; // claimed by the participant, never verified
        uint64 voters; // bitmap of oracle indices that voted
        uint64 acceptors; // the voters that voted to accept
        uint32 acceptScore; // minimum score among the accept votes
        uint32 rejectScore; // minimum score among the reject votes
        uint8 acceptVotes; // live accept votes
        uint8 rejectVotes; // live reject votes
        UpdateStatus status;
        uint8 reason; // reason code of the first reject vote (0 while none)
        bool staked; // the submission carries the enrolment stake, not yet returned or forfeited
    }

    /// @dev The answer to the paper's GetLatestModelParameters.
    struct GlobalModel {
        uint64 round;
        RoundState state;
        uint64 deadline;
        bytes32 contentHash;
    }

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
    /// @notice k live oracles accepted the update; `reward` tokens were credited to the
    /// participant (claimRewards mints them).
    event UpdateAccepted(uint64 indexed round, address indexed participant, uint32 score, uint256 reward);
    /// @notice k live oracles rejected the update (`reason`: the first rejecting vote's code), or
    /// its participant was banned while it was pending (`reason`: BANNED_REASON).
    event UpdateRejected(uint64 indexed round, address indexed participant, uint32 score, uint8 reason);
    /// @notice The live votes split so that neither verdict can reach k; the update is void.
    event UpdateDisputed(
        uint64 indexed round, address indexed participant, uint8 acceptVotes, uint8 rejectVotes
    );
    /// @notice The update was still pending when its round's voting ended: no verdict.
    event UpdateExpired(uint64 indexed round, address indexed participant);
    /// @notice The round stopped taking submissions with `acceptedUpdates` accepted and
    /// `pendingUpdates` still open to votes until `votingEnds`.
    event RoundClosed(uint64 indexed round, uint32 acceptedUpdates, uint32 pendingUpdates, uint64 votingEnds);
    /// @notice An oracle proposed `contentHash` as the round's aggregate; `votes` live oracles back it.
    event AggregateProposed(
        uint64 indexed round, address indexed oracle, bytes32 indexed contentHash, uint8 votes
    );
    /// @notice k oracles agreed: `globalModel` is the next round's global model.
    event RoundFinalized(uint64 indexed round, bytes32 globalModel);
    /// @notice The round ended without a new global model.
    event RoundSkipped(uint64 indexed round, SkipReason reason);
    /// @notice The round rules changed.
    event RoundRulesChanged(
        uint64 duration, uint64 aggregationTimeout, uint32 contributionTarget, uint64 verificationGrace
    );
    /// @notice The reward rule changed.
    event RewardRuleChanged(uint128 base, uint128 perScorePoint);
    /// @notice `participant` deposited the enrolment stake with its update of `round`.
    event StakeDeposited(uint64 indexed round, address indexed participant, uint256 amount);
    /// @notice The stake of the update was credited back to `participant` (accepted, disputed
    /// or expired); it withdraws it with withdrawStake.
    event StakeReturned(uint64 indexed round, address indexed participant, uint256 amount);
    /// @notice The stake of a rejected update went to the RedemptionVault's pool.
    event StakeForfeited(uint64 indexed round, address indexed participant, uint256 amount);
    /// @notice `participant` withdrew `amount` wei of returned stakes.
    event StakeWithdrawn(address indexed participant, uint256 amount);
    /// @notice `amount` credited reward tokens were minted to `participant` (a claim, or a
    /// credit too large for the record, paid at once).
    event RewardPaid(address indexed participant, uint256 amount);

    /// @notice startTraining has not been called yet.
    error TrainingNotStarted();
    /// @notice startTraining was already called.
    error TrainingAlreadyStarted();
    /// @notice The call names `given` but the round in progress is `current`.
    error WrongRound(uint64 current, uint64 given);
    /// @notice The round does not accept submissions in its state.
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
    /// @notice The submission must carry exactly the required stake (the enrolment stake under
    /// open enrolment, nothing otherwise).
    error WrongStake(uint256 required, uint256 sent);
    /// @notice No update from `participant` in `round`.
    error UnknownUpdate(uint64 round, address participant);
    /// @notice The update is no longer pending: it was accepted, rejected, disputed or expired.
    error UpdateAlreadySettled(uint64 round, address participant);
    /// @notice The oracle already voted on this update.
    error AlreadyVoted(uint64 round, address participant, address oracle);
    /// @notice An accept vote carries reason 0; a reject vote carries a non-zero reason.
    error InvalidReasonCode(bool accept, uint8 reason);
    /// @notice The round's verification grace ended at `votingEnds`: no more votes.
    error VotingEnded(uint64 round, uint64 votingEnds);
    /// @notice The live votes on the update neither reach k nor rule a verdict out yet.
    error NothingToSettle(uint64 round, address participant);
    /// @notice Neither the deadline has passed nor the contribution target has been met:
    /// `inPlay` updates (accepted + pending) of `target`.
    error RoundCloseTooEarly(uint64 round, uint32 inPlay, uint32 target, uint64 deadline);
    /// @notice Pending updates take votes until `votingEnds`; aggregation starts after it,
    /// or once nothing is pending.
    error AggregationNotStarted(uint64 round, uint32 pending, uint64 votingEnds);
    /// @notice The round accepted no update: there is nothing to aggregate (skip it instead).
    error NothingToAggregate(uint64 round);
    /// @notice The oracle already proposed an aggregate for this round.
    error AlreadyProposed(uint64 round, address oracle);
    /// @notice The aggregation may only be abandoned after `stalledAfter`.
    error AggregationNotStalled(uint64 round, uint64 stalledAfter);
    /// @notice Round duration, aggregation timeout and verification grace must be positive.
    error InvalidRoundRules(uint64 duration, uint64 aggregationTimeout, uint64 verificationGrace);
    /// @notice The base reward exceeds the per-update cap fixed at deployment.
    error RewardAboveCap(uint256 base, uint256 cap);
    /// @notice No returned stake to withdraw.
    error NoStakeToWithdraw(address participant);
    /// @notice voteBatch needs at least one verdict.
    error EmptyBatch();
    /// @notice A voteBatch verdict word sets bits above bit 207, or an accept byte other than 0 or 1.
    error MalformedVerdict(uint256 verdict);
    /// @notice No credited reward to claim.
    error NoRewardOwed(address participant);

    /// @notice Open round 1 on the initial global model.
    /// @param genesisModel Content hash of the initial model blob.
    function startTraining(bytes32 genesisModel) external;

    /// @notice Change the round rules (see RoundRules for when each one takes effect).
    /// @param rules The new duration, aggregation timeout, contribution target and grace.
    function setRoundRules(RoundRules calldata rules) external;

    /// @notice Change the reward for accepted updates settled from now on (within the cap).
    /// @param reward The new base and per-score-point amounts.
    function setRewardRule(RewardRule calldata reward) external;

    /// @notice Submit a model update for the current round (the paper's SubmitModelWeights);
    /// under open enrolment it carries the enrolment stake as its value.
    /// @param round The round the update was trained for; must be the current round.
    /// @param contentHash sha2-256 digest inside the update blob's CIDv0.
    /// @param numSamples Training samples the participant claims (informational, unverified).
    function submitUpdate(uint64 round, bytes32 contentHash, uint32 numSamples) external payable;

    /// @notice Vote on a pending update of the current round (oracles only, once each), while
    /// the round is open or within its verification grace after close.
    /// @param round The update's round; must be the current round.
    /// @param participant The participant whose update this vote is about.
    /// @param accept The verdict.
    /// @param score The oracle's integer score of the update on its validation data.
    /// @param reason 0 with an accept verdict; a non-zero ReasonCode with a reject verdict.
    function vote(uint64 round, address participant, bool accept, uint32 score, uint8 reason) external;

    /// @notice Cast many votes of the caller on pending updates of the current round in one
    /// transaction (oracles only), with vote's rules for each; an update no longer pending, or
    /// already voted on by the caller, is skipped. Reverts as a whole on an invalid reason
    /// code or verdict word, an empty batch, or a round that takes no votes.
    /// @param round The updates' round; must be the current round.
    /// @param verdicts One verdict per update, tallied in this order, each the arguments of a
    /// vote but the round in one word: `uint256(uint160(participant)) << 48 | uint256(score)
    /// << 16 | uint256(reason) << 8 | (accept ? 1 : 0)`, bits 208-255 zero (reason: 0 with an
    /// accept verdict, a non-zero ReasonCode with a reject verdict).
    /// @return counted The verdicts tallied (the others were skipped).
    function voteBatch(uint64 round, uint256[] calldata verdicts) external returns (uint256 counted);

    /// @notice Mint the caller the reward tokens credited to it by its accepted updates.
    function claimRewards() external;

    /// @notice Re-evaluate a pending update against the live oracle set and k (anyone may call):
    /// settles it when its live votes decide it, rejects it when its participant is banned,
    /// and expires it once its round's voting has ended.
    /// @param round The update's round (the current round, or an earlier one to expire).
    /// @param participant The participant whose update to settle.
    function settle(uint64 round, address participant) external;

    /// @notice Close the current round (the paper's external trigger); anyone may call it once
    /// the deadline has passed or the contribution target is met: that many updates in play
    /// (accepted, or submitted and not yet settled; rejected, disputed and expired ones do not
    /// count). Pending updates keep taking votes for the verification grace.
    function closeRound() external;

    /// @notice Propose the content hash of the round's aggregate (the paper's
    /// CalculateNextModelVersion); oracles only, once per round, once aggregation started.
    /// @param round The current round; must be Closed.
    /// @param contentHash sha2-256 digest inside the aggregate blob's CIDv0.
    function proposeAggregate(uint64 round, bytes32 contentHash) external;

    /// @notice Skip a Closed round that has nothing to aggregate once aggregation started, or
    /// whose oracles did not agree within the aggregation timeout; anyone may call it.
    function skipStalledRound() external;

    /// @notice Send the caller the stakes credited back to it.
    function withdrawStake() external;

    /// @notice The current round, its state and deadline, and the global model to train from.
    function latestModel() external view returns (GlobalModel memory);

    /// @notice The round in progress (0 before startTraining).
    function currentRound() external view returns (uint64);

    /// @notice The record of round `round` (all zero for a round that has not opened).
    /// @param round Any round number.
    function getRound(uint64 round) external view returns (Round memory);

    /// @notice The update of `participant` in `round`, with live vote counts; a pending update
    /// whose round's voting ended reads as Expired.
    /// @param round Any round number.
    /// @param participant Any address.
    function getUpdate(uint64 round, address participant) external view returns (Update memory);

    /// @notice Whether `oracle` has voted on the update of `participant` in `round`.
    /// @param round Any round number.
    /// @param participant The update's participant.
    /// @param oracle A registered oracle.
    function hasVoted(uint64 round, address participant, address oracle) external view returns (bool);

    /// @notice Whether `oracle` has proposed an aggregate for `round`.
    /// @param round Any round number.
    /// @param oracle A registered oracle.
    function hasProposed(uint64 round, address oracle) external view returns (bool);

    /// @notice How many live oracles proposed `contentHash` as the aggregate of `round`.
    /// @param round Any round number.
    /// @param contentHash An aggregate's content hash.
    function proposalVotes(uint64 round, bytes32 contentHash) external view returns (uint8);

    /// @notice Whether closeRound would succeed now.
    function canCloseRound() external view returns (bool);

    /// @notice Whether votes on `round`'s pending updates are taken now.
    /// @param round Any round number.
    function votingOpen(uint64 round) external view returns (bool);

    /// @notice Whether proposals for `round` are taken now (Closed, and voting ended or
    /// nothing pending).
    /// @param round Any round number.
    function aggregationOpen(uint64 round) external view returns (bool);

    /// @notice The round rules in force.
    function roundRules() external view returns (RoundRules memory);

    /// @notice The reward rule in force.
    function rewardRule() external view returns (RewardRule memory);

    /// @notice The reward an update accepted now with `score` would earn.
    /// @param score An oracle score.
    function rewardFor(uint32 score) external view returns (uint256);

    /// @notice The cap on any one update's reward, fixed at deployment.
    function maxRewardPerUpdate() external view returns (uint256);

    /// @notice The wei a submission deposits under open enrolment, fixed at deployment (0: none).
    function enrolmentStake() external view returns (uint256);

    /// @notice Reward tokens credited to `participant` and not yet claimed.
    /// @param participant Any address.
    function rewardOwed(address participant) external view returns (uint256);

    /// @notice Stakes credited back to `participant` and not yet withdrawn.
    /// @param participant Any address.
    function returnedStake(address participant) external view returns (uint256);

    /// @notice The reason code of a rejection because the participant was banned.
    function BANNED_REASON() external view returns (uint8);

    /// @notice The storage policy fixed at deployment.
    function storagePolicy() external view returns (StoragePolicy);

    /// @notice The reward token; this contract is its only minter.
    function rewardToken() external view returns (IRewardToken);

    /// @notice The vault that redeems the token and receives forfeited stakes.
    function redemptionVault() external view returns (IRedemptionVault);
}
