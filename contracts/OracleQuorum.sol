// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ZeroAddress} from "./Errors.sol";
import {IOracleQuorum} from "./interfaces/IOracleQuorum.sol";

/// @title OracleQuorum
/// @notice The registered oracle set (n nodes, at most MAX_ORACLES) and its quorum k.
/// @dev Every oracle owns a slot index in [0, MAX_ORACLES); per-update votes and per-round
/// proposals are recorded as bitmaps of these indices, so vote and proposal bookkeeping is
/// O(1) whatever the size of the set. The quorum always satisfies 2k > n and k <= n, and a
/// tally only ever counts the bits of live members (`members`), so two opposite verdicts (or
/// two different aggregates) can never both reach k, whatever changes of the set or of k
/// happen between the votes.
///
/// A removed oracle's index is quarantined until the next round opens: the bitmaps of the
/// round in progress may carry its bit, and a newcomer on the same index would otherwise be
/// taken for an oracle that has already voted. For the same reason a removed oracle cannot
/// rejoin (on a fresh index) before the next round: it could vote twice on one update.
/// Rounds only ever look at their own bitmaps, so from the next round on both are safe.
abstract contract OracleQuorum is IOracleQuorum, Ownable2Step {
    /// @inheritdoc IOracleQuorum
    uint256 public constant MAX_ORACLES = 64;

    /// @dev One storage slot: everything `vote` and `proposeAggregate` need about the set.
    struct OracleSet {
        uint64 members; // bitmap of occupied indices
        uint64 quarantined; // indices vacated during round `quarantineRound`
        uint64 quarantineRound;
        uint8 size; // n
        uint8 quorum; // k
    }

    /// @dev One slot per address: read by every vote and proposal.
    struct Membership {
        uint8 indexPlusOne; // 0: not an oracle
        uint64 leftInRound; // round in which it was last removed (0: never)
    }

    OracleSet private _set;
    mapping(address oracle => Membership) private _members;
    /// @dev index => oracle address, for the `oracles()` view and admin bookkeeping.
    address[MAX_ORACLES] private _byIndex;

    /// @inheritdoc IOracleQuorum
    /// @dev Adding a member and changing k must be atomic: from n = 1, k = 1 no k is valid for
    /// both the old and the new n (2k > 2 needs k = 2 > n = 1).
    function addOracle(address oracle, uint8 newQuorum) external onlyOwner {
        if (oracle == address(0)) revert ZeroAddress();
        Membership memory membership = _members[oracle];
        if (membership.indexPlusOne != 0) revert OracleAlreadyRegistered(oracle);
        uint64 round = _quorumRound();
        if (membership.leftInRound != 0 && membership.leftInRound == round) {
            revert OracleRejoinTooSoon(oracle, round);
        }
        OracleSet memory set = _set;
        uint64 blocked = set.members;
        if (set.quarantineRound == round) blocked |= set.quarantined;
        uint8 index = _lowestClearBit(blocked);
        uint8 size = set.size + 1;
        _requireValidQuorum(newQuorum, size);

        _set.members = set.members | (uint64(1) << index);
        _set.size = size;
        _set.quorum = newQuorum;
        _members[oracle] = Membership({indexPlusOne: index + 1, leftInRound: membership.leftInRound});
        _byIndex[index] = oracle;
        emit OracleAdded(oracle, index, size, newQuorum);
    }

    /// @inheritdoc IOracleQuorum
    /// @dev Votes and proposals it cast stop counting: tallies count live members' bits only.
    /// Its index is quarantined until the next round opens, so that no newcomer inherits them.
    function removeOracle(address oracle, uint8 newQuorum) external onlyOwner {
        uint8 index = _indexOf(oracle);
        OracleSet memory set = _set;
        uint8 size = set.size - 1;
        _requireValidQuorum(newQuorum, size);

        uint64 bit = uint64(1) << index;
        uint64 round = _quorumRound();
        uint64 quarantined = set.quarantineRound == round ? set.quarantined : 0;
        // Before training starts (round 0) there are no bitmaps to protect.
        if (round != 0) quarantined |= bit;
        _set = OracleSet({
            members: set.members & ~bit,
            quarantined: quarantined,
            quarantineRound: round,
            size: size,
            quorum: newQuorum
        });
        _members[oracle] = Membership({indexPlusOne: 0, leftInRound: round});
        delete _byIndex[index];
        emit OracleRemoved(oracle, index, size, newQuorum);
    }

    /// @inheritdoc IOracleQuorum
    function setQuorum(uint8 newQuorum) external onlyOwner {
        uint8 size = _set.size;
        _requireValidQuorum(newQuorum, size);
        _set.quorum = newQuorum;
        emit QuorumChanged(newQuorum, size);
    }

    /// @inheritdoc IOracleQuorum
    function oracleCount() external view returns (uint8) {
        return _set.size;
    }

    /// @inheritdoc IOracleQuorum
    function quorum() external view returns (uint8) {
        return _set.quorum;
    }

    /// @inheritdoc IOracleQuorum
    function liveOracles() external view returns (uint64) {
        return _set.members;
    }

    /// @inheritdoc IOracleQuorum
    function isOracle(address account) external view returns (bool) {
        return _members[account].indexPlusOne != 0;
    }

    /// @inheritdoc IOracleQuorum
    function oracleIndex(address oracle) external view returns (uint8) {
        return _indexOf(oracle);
    }

    /// @inheritdoc IOracleQuorum
    function oracles() public view returns (address[] memory members) {
        members = new address[](_set.size);
        uint256 found;
        for (uint256 i; i < MAX_ORACLES && found < members.length; ++i) {
            address oracle = _byIndex[i];
            if (oracle != address(0)) members[found++] = oracle;
        }
    }

    /// @dev The round whose bitmaps are live; indices freed in it stay blocked until it ends.
    function _quorumRound() internal view virtual returns (uint64);

    /// @dev The caller's bit in vote/proposal bitmaps, plus the live members' bitmap and k.
    function _oracleBitAndQuorum(address oracle) internal view returns (uint64 bit, uint64 live, uint8 k) {
        bit = uint64(1) << _indexOf(oracle);
        (live, k) = _liveSet();
    }

    /// @dev The live members' bitmap and k (one SLOAD).
    function _liveSet() internal view returns (uint64 live, uint8 k) {
        OracleSet storage set = _set;
        (live, k) = (set.members, set.quorum);
    }

    /// @dev The number of set bits of `bits` (SWAR popcount, constant gas).
    function _popcount(uint64 bits) internal pure returns (uint8) {
        unchecked {
            uint64 x = bits - ((bits >> 1) & 0x5555555555555555);
            x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f;
            return uint8((x * 0x0101010101010101) >> 56);
        }
    }

    /// @dev The bit of `account` if it is an oracle, 0 otherwise (for views).
    function _bitOrZero(address account) internal view returns (uint64) {
        uint8 indexPlusOne = _members[account].indexPlusOne;
        return indexPlusOne == 0 ? 0 : uint64(1) << (indexPlusOne - 1);
    }

    function _indexOf(address oracle) private view returns (uint8) {
        uint8 indexPlusOne = _members[oracle].indexPlusOne;
        if (indexPlusOne == 0) revert NotOracle(oracle);
        return indexPlusOne - 1;
    }

    function _requireValidQuorum(uint8 k, uint8 size) private pure {
        bool valid = size == 0 ? k == 0 : (k <= size && 2 * uint256(k) > size);
        if (!valid) revert InvalidQuorum(k, size);
    }

    /// @dev Admin-only helper: a bounded scan over at most MAX_ORACLES bits.
    function _lowestClearBit(uint64 bitmap) private pure returns (uint8) {
        for (uint8 i; i < MAX_ORACLES; ++i) {
            if (bitmap & (uint64(1) << i) == 0) return i;
        }
        revert OracleSetFull(MAX_ORACLES);
    }
}
