// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface ICoordinatorWithStake {
    function submitUpdate(uint64 round, bytes32 contentHash, uint32 numSamples) external payable;
    function withdrawStake() external;
}

/// @notice Test-only participant: a contract that stakes under open enrolment but refuses
/// every ETH transfer, so the refund of its stake cannot be sent to it.
contract StakeRefuser {
    ICoordinatorWithStake public immutable coordinator;

    constructor(ICoordinatorWithStake coordinator_) {
        coordinator = coordinator_;
    }

    /// @notice Submit an update from this contract, paying the stake sent with the call.
    function submit(uint64 round, bytes32 contentHash) external payable {
        coordinator.submitUpdate{value: msg.value}(round, contentHash, 1);
    }

    /// @notice Ask for the returned stake (which receive() then refuses).
    function withdraw() external {
        coordinator.withdrawStake();
    }

    receive() external payable {
        revert(); // no return data: Address.sendValue reports it as FailedCall
    }
}
