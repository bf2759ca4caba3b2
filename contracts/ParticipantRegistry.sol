// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ZeroAddress} from "./Errors.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title ParticipantRegistry
/// @notice Who may submit model updates: an admin-kept allowlist, or anyone while open
/// enrolment is on; plus the per-participant counters and the rejection limit that bans
/// a participant whose updates oracles keep rejecting.
abstract contract ParticipantRegistry is IParticipantRegistry, Ownable2Step {
    mapping(address participant => Participant) internal _participants;
    /// @inheritdoc IParticipantRegistry
    bool public openEnrolment;
    /// @inheritdoc IParticipantRegistry
    uint32 public rejectionLimit;

    constructor(bool openEnrolment_, uint32 rejectionLimit_) {
        openEnrolment = openEnrolment_;
        rejectionLimit = rejectionLimit_;
    }

    /// @inheritdoc IParticipantRegistry
    function registerParticipant(address participant) external onlyOwner {
        _register(participant);
    }

    /// @inheritdoc IParticipantRegistry
    /// @dev Loops over its argument only: an admin convenience, not part of the round flow.
    function registerParticipants(address[] calldata participants) external onlyOwner {
        for (uint256 i; i < participants.length; ++i) {
            _register(participants[i]);
        }
    }

    /// @inheritdoc IParticipantRegistry
    function removeParticipant(address participant) external onlyOwner {
        Participant storage record = _participants[participant];
        if (!record.registered) revert NotParticipant(participant);
        record.registered = false;
        emit ParticipantRemoved(participant);
    }

    /// @inheritdoc IParticipantRegistry
    function banParticipant(address participant) external onlyOwner {
        if (participant == address(0)) revert ZeroAddress();
        Participant storage record = _participants[participant];
        if (record.banned) revert Banned(participant);
        record.banned = true;
        emit ParticipantBanned(participant, 0);
    }

    /// @inheritdoc IParticipantRegistry
    function pardonParticipant(address participant) external onlyOwner {
        Participant storage record = _participants[participant];
        if (!record.banned) revert NotBanned(participant);
        record.banned = false;
        record.strikes = 0;
        emit ParticipantPardoned(participant);
    }

    /// @inheritdoc IParticipantRegistry
    function setOpenEnrolment(bool open) external onlyOwner {
        openEnrolment = open;
        emit OpenEnrolmentChanged(open);
    }

    /// @inheritdoc IParticipantRegistry
    /// @dev Applies from the next rejection; nobody is banned retroactively.
    function setRejectionLimit(uint32 limit) external onlyOwner {
        rejectionLimit = limit;
        emit RejectionLimitChanged(limit);
    }

    /// @inheritdoc IParticipantRegistry
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
