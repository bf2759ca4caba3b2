// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOracleKeyRegistry} from "./interfaces/IOracleKeyRegistry.sol";

/// @title OracleKeyRegistry
/// @notice Oracles register and rotate the X25519 keys that participants seal updates for.
/// @dev Abstract: the inheriting contract says who is an oracle, which oracles are live and
/// which round is in progress. Rotation rules are in IOracleKeyRegistry. A removed
/// oracle's keys stay stored but are no longer listed by `encryptionKeys`.
abstract contract OracleKeyRegistry is IOracleKeyRegistry {
    mapping(address oracle => EncryptionKey) private _encryptionKeys;

    /// @inheritdoc IOracleKeyRegistry
    function registerEncryptionKey(bytes32 x25519PublicKey) external {
        _requireOracle(msg.sender);
        if (x25519PublicKey == bytes32(0)) revert EmptyEncryptionKey();
        EncryptionKey memory key = _encryptionKeys[msg.sender];
        if (key.current == x25519PublicKey) revert EncryptionKeyUnchanged(msg.sender, x25519PublicKey);
        uint64 round = _keyRound();
        if (key.current != bytes32(0)) {
            // Before training starts no update can be sealed for any key: rotate freely.
            if (round != 0 && key.rotatedInRound == round) {
                revert EncryptionKeyRotatedThisRound(msg.sender, round);
            }
            key.previous = key.current;
            key.rotatedInRound = round;
        }
        key.current = x25519PublicKey;
        key.registeredAtBlock = uint64(block.number);
        _encryptionKeys[msg.sender] = key;
        emit EncryptionKeyRegistered(msg.sender, x25519PublicKey, key.previous, round);
    }

    /// @inheritdoc IOracleKeyRegistry
    function encryptionKeyOf(address oracle) external view returns (EncryptionKey memory) {
        return _encryptionKeys[oracle];
    }

    /// @inheritdoc IOracleKeyRegistry
    function encryptionKeys() external view returns (address[] memory oracles, bytes32[] memory keys) {
        oracles = _liveOracles();
        keys = new bytes32[](oracles.length);
        for (uint256 i; i < oracles.length; ++i) {
            keys[i] = _encryptionKeys[oracles[i]].current;
        }
    }

    /// @dev Revert unless `account` is a registered (live) oracle.
    function _requireOracle(address account) internal view virtual;

    /// @dev The live oracles, in index order.
    function _liveOracles() internal view virtual returns (address[] memory);

    /// @dev The round in progress (0 before training starts).
    function _keyRound() internal view virtual returns (uint64);
}
