// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The zero address cannot take this role.
error ZeroAddress();
