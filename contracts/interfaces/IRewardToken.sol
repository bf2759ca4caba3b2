// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRewardToken
/// @notice The ERC-20 that pays for verified model updates; only its creator mints.
interface IRewardToken is IERC20 {
    /// @notice The caller is not the minter.
    error NotMinter(address account);

    /// @notice Mint `amount` to `to` (emits Transfer from the zero address).
    /// @param to The rewarded participant.
    /// @param amount Token amount in the smallest unit (18 decimals).
    function mint(address to, uint256 amount) external;

    /// @notice Burn `value` of the caller's tokens.
    /// @param value Token amount in base units.
    function burn(uint256 value) external;

    /// @notice Burn `value` of `account`'s tokens, using the caller's allowance.
    /// @param account The holder.
    /// @param value Token amount in base units.
    function burnFrom(address account, uint256 value) external;

    /// @notice The only account allowed to mint: the coordinator that created this token.
    function minter() external view returns (address);
}
