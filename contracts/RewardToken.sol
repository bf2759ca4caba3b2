// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @title RewardToken
/// @notice The ERC-20 that pays for verified model updates. Holders transfer it like any
/// ERC-20, burn it in the RedemptionVault for pooled ETH, or spend it on access rights.
/// @dev The minter is the account that deploys the token and can never change: the
/// FedLedgerCoordinator creates its token in its constructor, so no admin key can mint.
contract RewardToken is ERC20, ERC20Burnable {
    /// @notice The only account allowed to mint: the coordinator that created this token.
    address public immutable minter;

    /// @notice The caller is not the minter.
    error NotMinter(address account);

    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        minter = msg.sender;
    }

    /// @notice Mint `amount` to `to` (emits Transfer from the zero address).
    /// @param to The rewarded participant.
    /// @param amount Token amount in the smallest unit (18 decimals).
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }
}
