// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ZeroAddress} from "./Errors.sol";

/// @title ParticipantRegistry
/// @notice Who may submit model updates: an admin-kept allowlist, or anyone while open
/// enrolment is on; plus the per-participant counters and the rejection limit that bans
/// a participant whose updates oracles keep rejecting.
abstract contract ParticipantRegistry is Ownable2Step {
    /// @dev One storage slot per participant, read and written once per submission.
    struct Participant {
        bool registered;
        bool banned;
        uint32 accepted; // lifetime accepted updates
        uint32 rejected; // lifetime rejected updates
        uint32 strikes; // rejections since registration or the last pardon; bans at the limit
        uint64 lastSubmittedRound; // enforces one submission per round
    }

    mapping(address participant => Participant) internal _participants;
    /// @notice Whether any address may submit (it is registered on its first submission).
    bool public openEnrolment;
    /// @notice Strikes (rejected updates) after which a participant is banned; 0 never bans.
    uint32 public rejectionLimit;

    /// @notice `participant` may now submit (registered by the admin or by open enrolment).
    event ParticipantRegistered(address indexed participant);
    /// @notice `participant` was taken off the allowlist.
    event ParticipantRemoved(address indexed participant);
    /// @notice `participant` was banned, after `strikes` rejections or by the admin (strikes 0).
    event ParticipantBanned(address indexed participant, uint32 strikes);
    /// @notice The admin lifted `participant`'s ban and cleared its strikes.
    event ParticipantPardoned(address indexed participant);
    /// @notice Open enrolment was switched on or off.
    event OpenEnrolmentChanged(bool open);
    /// @notice The rejection limit changed.
    event RejectionLimitChanged(uint32 limit);

    /// @notice The account is neither registered nor allowed in by open enrolment.
    error NotParticipant(address account);
    /// @notice The participant is banned and may not submit.
    error Banned(address participant);
    /// @notice The participant is already registered.
    error AlreadyRegistered(address participant);
    /// @notice The participant is not banned, so there is nothing to pardon.
    error NotBanned(address participant);

    constructor(bool openEnrolment_, uint32 rejectionLimit_) {
        openEnrolment = openEnrolment_;
        rejectionLimit = rejectionLimit_;
    }

    /// @notice Add `participant` to the allowlist.
    /// @param participant The participant's wallet address.
    function registerParticipant(address participant) external onlyOwner {
        _register(participant);
    }

    /// @notice Add several participants to the allowlist in one transaction.
    /// @dev Loops over its argument only: an admin convenience, not part of the round flow.
    /// @param participants The wallet addresses; none may already be registered.
    function registerParticipants(address[] calldata participants) external onlyOwner {
        for (uint256 i; i < participants.length; ++i) {
            _register(participants[i]);
        }
    }

    /// @notice Take `participant` off the allowlist (its counters and pending update stay).
    /// @param participant A registered participant.
    function removeParticipant(address participant) external onlyOwner {
        Participant storage record = _participants[participant];
        if (!record.registered) revert NotParticipant(participant);
        record.registered = false;
        emit ParticipantRemoved(participant);
    }

    /// @notice Ban `participant` now, whatever its strikes.
    /// @param participant Any address (a banned address cannot enrol itself either).
    function banParticipant(address participant) external onlyOwner {
        if (participant == address(0)) revert ZeroAddress();
        Participant storage record = _participants[participant];
        if (record.banned) revert Banned(participant);
        record.banned = true;
        emit ParticipantBanned(participant, 0);
    }

    /// @notice Lift `participant`'s ban and clear its strikes (lifetime counters stay).
    /// @param participant A banned participant.
    function pardonParticipant(address participant) external onlyOwner {
        Participant storage record = _participants[participant];
        if (!record.banned) revert NotBanned(participant);
        record.banned = false;
        record.strikes = 0;
        emit ParticipantPardoned(participant);
    }

    /// @notice Switch open enrolment on (anyone not banned may submit) or off (allowlist only).
    function setOpenEnrolment(bool open) external onlyOwner {
        openEnrolment = open;
        emit OpenEnrolmentChanged(open);
    }

    /// @notice Set the number of rejections after which a participant is banned (0: never).
    /// @dev Applies from the next rejection; nobody is banned retroactively.
    function setRejectionLimit(uint32 limit) external onlyOwner {
        rejectionLimit = limit;
        emit RejectionLimitChanged(limit);
    }

    /// @notice The participant's record: registration, ban, counters, last submitted round.
    function getParticipant(address participant) external view returns (Participant memory) {
        return _participants[participant];
    }

    /// @dev Admits `account` to a submission, enrolling it on the fly when enrolment is open.
    function _admit(address account) internal returns (Participant storage record) {
        record = _participants[account];
        if (record.banned) revert Banned(account);
        if (!record.registered) {
            if (!openEnrolment) revert NotParticipant(account);
            record.registered = true;
            emit ParticipantRegistered(account);
        }
    }

    /// @dev Counts a rejection and bans the participant when its strikes reach the limit.
    function _recordRejection(address account) internal {
        Participant storage record = _participants[account];
        uint32 strikes = record.strikes + 1;
        record.rejected += 1;
        record.strikes = strikes;
        uint32 limit = rejectionLimit;
        if (limit != 0 && strikes >= limit && !record.banned) {
            record.banned = true;
            emit ParticipantBanned(account, strikes);
        }
    }

    function _register(address participant) private {
        if (participant == address(0)) revert ZeroAddress();
        Participant storage record = _participants[participant];
        if (record.registered) revert AlreadyRegistered(participant);
        record.registered = true;
        emit ParticipantRegistered(participant);
    }
}
