// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IRewardToken} from "./interfaces/IRewardToken.sol";

/// @title RewardToken
/// @notice The ERC-20 that pays for verified model updates. Holders transfer it like any
/// ERC-20, burn it in the RedemptionVault for pooled ETH, or spend it on access rights.
/// @dev The minter is the account that deploys the token and can never change: the
/// FedLedgerCoordinator creates its token in its constructor, so no admin key can mint.
contract RewardToken is ERC20, ERC20Burnable, IRewardToken {
    /// @inheritdoc IRewardToken
    address public immutable minter;

    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        minter = msg.sender;
    }

    /// @inheritdoc IRewardToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IRewardToken
    function burn(uint256 value) public override(ERC20Burnable, IRewardToken) {
        super.burn(value);
    }

    /// @inheritdoc IRewardToken
    function burnFrom(address account, uint256 value) public override(ERC20Burnable, IRewardToken) {
        super.burnFrom(account, value);
    }
}
