// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title AdminTimelock
/// @notice The consortium admin behind a delay: OpenZeppelin's TimelockController, made the
/// owner of the coordinator and the vault by `fedledger deploy` on every network but the
/// embedded dev chain. Every admin call (oracle set, quorum, round and reward rules,
/// participants, access prices) is scheduled on chain and can only execute `minDelay`
/// seconds later, so token holders see it coming and can redeem first.
/// @dev No code of its own: the artifact exists so that the project compiles and deploys the
/// exact OpenZeppelin contract with the project's compiler settings.
contract AdminTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling an operation and executing it.
    /// @param proposers Accounts that may schedule (and cancel) operations.
    /// @param executors Accounts that may execute ready operations (address(0): anyone).
    /// @param admin Optional account that may grant roles during set-up (address(0): none).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
