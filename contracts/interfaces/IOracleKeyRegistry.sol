// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IOracleKeyRegistry
/// @notice The oracles' X25519 encryption keys: participants seal every update for the keys
/// of the live oracles, which alone can read it (docs/security.md).
/// @dev Rotation: a new key replaces the current one at once (participants seal for it from
/// the next block on); the previous key stays valid for the updates of the round in which it
/// was replaced, and the oracle keeps its private half until that round ends. So one
/// rotation per oracle per round: a second would leave updates sealed for the first key
/// unreadable.
interface IOracleKeyRegistry {
    /// @notice An oracle's encryption keys, as participants and oracles read them.
    struct EncryptionKey {
        bytes32 current; // the key participants seal for (0: none registered)
        bytes32 previous; // still valid for updates of round `rotatedInRound` (0: none)
        uint64 rotatedInRound; // the round in which `current` replaced `previous` (0: never)
        uint64 registeredAtBlock; // the block of the last registration or rotation
    }

    /// @notice `oracle` registered `publicKey` (first registration: `previousKey` is 0) or
    /// rotated from `previousKey` to `publicKey` during round `round`.
    event EncryptionKeyRegistered(
        address indexed oracle, bytes32 publicKey, bytes32 previousKey, uint64 round
    );

    /// @notice The zero key names no X25519 key.
    error EmptyEncryptionKey();
    /// @notice The key given is the oracle's current key already.
    error EncryptionKeyUnchanged(address oracle, bytes32 publicKey);
    /// @notice The oracle rotated its key in this round already; rotate again next round.
    error EncryptionKeyRotatedThisRound(address oracle, uint64 round);

    /// @notice Register (or rotate to) the caller's X25519 public key; registered oracles only.
    /// @param x25519PublicKey The raw 32-byte X25519 public key.
    function registerEncryptionKey(bytes32 x25519PublicKey) external;

    /// @notice The encryption keys of `oracle` (zeros when it never registered one).
    /// @param oracle Any address.
    function encryptionKeyOf(address oracle) external view returns (EncryptionKey memory);

    /// @notice The live oracles, in index order, and the current key of each (0: none).
    /// @dev What a participant seals for; a view for tools, not used on chain.
    function encryptionKeys() external view returns (address[] memory oracles, bytes32[] memory keys);
}
