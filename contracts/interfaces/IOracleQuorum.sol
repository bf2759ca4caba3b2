// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IOracleQuorum
/// @notice The registered oracle set (n nodes, at most MAX_ORACLES, one bitmap index each)
/// and its quorum k. Only the live set counts: a vote or proposal of a removed oracle stops
/// counting the moment it is removed, so 2k > n over the live set rules out two verdicts.
interface IOracleQuorum {
    /// @notice An oracle joined the set at `index`; `size` and `quorum` are the new n and k.
    event OracleAdded(address indexed oracle, uint8 index, uint8 size, uint8 quorum);
    /// @notice An oracle left the set; `size` and `quorum` are the new n and k.
    event OracleRemoved(address indexed oracle, uint8 index, uint8 size, uint8 quorum);
    /// @notice The quorum changed without a change of members.
    event QuorumChanged(uint8 quorum, uint8 size);

    /// @notice The caller (or the named account) is not a registered oracle.
    error NotOracle(address account);
    /// @notice The account is already a registered oracle.
    error OracleAlreadyRegistered(address oracle);
    /// @notice The oracle was removed in this round and may rejoin from the next one.
    error OracleRejoinTooSoon(address oracle, uint64 round);
    /// @notice The set is full: no free index (MAX_ORACLES reached, or indices quarantined).
    error OracleSetFull(uint256 maxOracles);
    /// @notice k must satisfy 2k > n and k <= n (and k = 0 only while n = 0).
    error InvalidQuorum(uint256 quorum, uint256 size);

    /// @notice Register `oracle` and set the quorum to `newQuorum` in one step.
    /// @param oracle The oracle node's address.
    /// @param newQuorum The quorum k for the enlarged set.
    function addOracle(address oracle, uint8 newQuorum) external;

    /// @notice Remove `oracle` from the set and set the quorum to `newQuorum` in one step;
    /// its votes and proposals stop counting at once.
    /// @param oracle A registered oracle.
    /// @param newQuorum The quorum k for the reduced set (0 when the set becomes empty).
    function removeOracle(address oracle, uint8 newQuorum) external;

    /// @notice Change the quorum k for the current set.
    /// @param newQuorum The new k; must satisfy 2k > n and k <= n.
    function setQuorum(uint8 newQuorum) external;

    /// @notice The number of registered oracles, n.
    function oracleCount() external view returns (uint8);

    /// @notice The number of agreeing live votes or proposals needed, k.
    function quorum() external view returns (uint8);

    /// @notice The bitmap of the live oracles' indices (bit i set: index i is a member).
    function liveOracles() external view returns (uint64);

    /// @notice Whether `account` is a registered oracle.
    /// @param account Any address.
    function isOracle(address account) external view returns (bool);

    /// @notice The bitmap index of a registered oracle; reverts with NotOracle otherwise.
    /// @param oracle A registered oracle.
    function oracleIndex(address oracle) external view returns (uint8);

    /// @notice The registered oracles, in index order (a view for tools; not used on-chain).
    function oracles() external view returns (address[] memory);

    /// @notice Upper bound on n: the width of the vote and proposal bitmaps.
    function MAX_ORACLES() external view returns (uint256);
}
