// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

interface IVaultUnderAttack {
    function redeem(uint256 amount) external;
    function withdraw() external;
}

/// @notice Test-only attacker: a token holder whose receive() re-enters the vault while the
/// vault is paying it, trying to be paid twice.
contract ReentrantRedeemer {
    enum Reentry {
        Withdraw,
        Redeem
    }

    IVaultUnderAttack public immutable vault;
    IERC20 public immutable token;
    Reentry public reentry;
    uint256 public reentries;

    constructor(IVaultUnderAttack vault_, IERC20 token_) {
        vault = vault_;
        token = token_;
    }

    /// @notice Redeem `amount` tokens (held by this contract), then withdraw and re-enter.
    function attack(uint256 amount, Reentry mode) external {
        reentry = mode;
        token.approve(address(vault), type(uint256).max);
        vault.redeem(amount / 2);
        vault.withdraw();
    }

    receive() external payable {
        reentries += 1;
        if (reentry == Reentry.Withdraw) {
            vault.withdraw();
        } else {
            vault.redeem(1);
        }
    }
}
