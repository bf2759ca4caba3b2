// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IParticipantRegistry
/// @notice Who may submit model updates: an admin-kept allowlist, or anyone while open
/// enrolment is on; the per-participant counters and the rejection limit that bans a
/// participant whose updates oracles keep rejecting.
interface IParticipantRegistry {
    /// @dev One storage slot per participant, read and written once per submission.
    struct Participant {
        bool registered;
        bool banned;
        uint32 accepted; // lifetime accepted updates
        uint32 rejected; // lifetime rejected updates
        uint32 strikes; // rejections since registration or the last pardon; bans at the limit
        uint64 lastSubmittedRound; // enforces one submission per round
        uint80 rewardOwed; // rewards credited at acceptance and not yet claimed (same slot)
    }

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

    /// @notice Add `participant` to the allowlist.
    /// @param participant The participant's wallet address.
    function registerParticipant(address participant) external;

    /// @notice Add several participants to the allowlist in one transaction.
    /// @param participants The wallet addresses; none may already be registered.
    function registerParticipants(address[] calldata participants) external;

    /// @notice Take `participant` off the allowlist (its counters and pending update stay).
    /// @param participant A registered participant.
    function removeParticipant(address participant) external;

    /// @notice Ban `participant` now, whatever its strikes; its pending update is rejected
    /// with the ban reason when it is next voted on or settled.
    /// @param participant Any address (a banned address cannot enrol itself either).
    function banParticipant(address participant) external;

    /// @notice Lift `participant`'s ban and clear its strikes (lifetime counters stay).
    /// @param participant A banned participant.
    function pardonParticipant(address participant) external;

    /// @notice Switch open enrolment on (anyone not banned may submit, with the stake) or
    /// off (allowlist only).
    /// @param open The new setting.
    function setOpenEnrolment(bool open) external;

    /// @notice Set the number of rejections after which a participant is banned (0: never).
    /// @param limit Strikes before a ban; applies from the next rejection.
    function setRejectionLimit(uint32 limit) external;

    /// @notice The participant's record: registration, ban, counters, last submitted round.
    /// @param participant Any address.
    function getParticipant(address participant) external view returns (Participant memory);

    /// @notice Whether any address may submit (it is registered on its first submission).
    function openEnrolment() external view returns (bool);

    /// @notice Strikes (rejected updates) after which a participant is banned; 0 never bans.
    function rejectionLimit() external view returns (uint32);
}
