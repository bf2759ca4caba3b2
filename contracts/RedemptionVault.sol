// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ZeroAddress} from "./Errors.sol";

/// @title RedemptionVault
/// @notice Where reward tokens are worth something: sponsors deposit ETH, and holders burn
/// tokens either for a pro-rata share of the pooled ETH or for access rights (for example to
/// download a supplementary model), which are recorded here.
/// @dev Redemption is a pull payment: `redeem` burns the tokens and credits the ETH, and
/// `withdraw` sends it. Both follow checks-effects-interactions and share one reentrancy lock.
/// The storage-based ReentrancyGuard is used because the transient variant needs cancun and
/// the contracts target shanghai. Tokens are burned with `burnFrom`, so the holder first
/// approves this vault for the amount.
contract RedemptionVault is Ownable2Step, ReentrancyGuard {
    /// @notice The reward token this vault redeems.
    ERC20Burnable public immutable token;
    /// @notice ETH credited to redeemers and not yet withdrawn (not part of the pool).
    uint256 public totalOwed;

    mapping(address holder => uint256 wei_) private _owed;
    mapping(bytes32 resource => uint256 price) private _accessPrice;
    mapping(bytes32 resource => mapping(address account => bool)) private _access;

    /// @notice `sponsor` added `amount` wei to the pool.
    event Deposited(address indexed sponsor, uint256 amount);
    /// @notice `holder` burned `tokens` and was credited `payout` wei to withdraw.
    event Redeemed(address indexed holder, uint256 tokens, uint256 payout);
    /// @notice `holder` withdrew `amount` wei of credited redemptions.
    event Withdrawn(address indexed holder, uint256 amount);
    /// @notice The admin set the token price of `resource` (0 takes it off sale).
    event AccessPriceSet(bytes32 indexed resource, uint256 price);
    /// @notice `buyer` burned `price` tokens for access to `resource`.
    event AccessPurchased(address indexed buyer, bytes32 indexed resource, uint256 price);

    /// @notice The amount must be positive.
    error ZeroAmount();
    /// @notice The holder's balance is smaller than the amount it tries to spend.
    error InsufficientTokens(uint256 balance, uint256 requested);
    /// @notice The pool holds no ETH (or the amount is too small to earn one wei).
    error NothingToRedeem(uint256 tokens, uint256 pool);
    /// @notice The caller has no credited ETH to withdraw.
    error NothingToWithdraw(address holder);
    /// @notice The resource has no price set.
    error ResourceNotForSale(bytes32 resource);
    /// @notice The buyer already has access to the resource.
    error AccessAlreadyGranted(bytes32 resource, address buyer);

    /// @param admin The vault's owner, who prices access rights.
    /// @param token_ The RewardToken (burnable) this vault redeems.
    constructor(address admin, ERC20Burnable token_) Ownable(admin) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
    }

    /// @notice Plain ETH transfers are deposits to the pool.
    receive() external payable {
        _deposit();
    }

    /// @notice Add the sent ETH to the pool that token holders redeem against.
    function deposit() external payable {
        _deposit();
    }

    /// @notice Burn `amount` tokens for their pro-rata share of the pool,
    /// amount * pool / totalSupply (rounded down), credited for `withdraw`.
    /// @dev Requires an allowance of at least `amount` for this vault.
    /// @param amount Tokens to burn, in base units.
    function redeem(uint256 amount) external nonReentrant {
        _requireBalance(msg.sender, amount);
        uint256 payout = quoteRedemption(amount);
        if (payout == 0) revert NothingToRedeem(amount, pooledBalance());

        _owed[msg.sender] += payout;
        totalOwed += payout;
        emit Redeemed(msg.sender, amount, payout);
        token.burnFrom(msg.sender, amount);
    }

    /// @notice Send the caller all the ETH its redemptions were credited.
    function withdraw() external nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);

        _owed[msg.sender] = 0;
        totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Burn the price of `resource` in tokens and record the caller's access to it.
    /// @dev Requires an allowance of at least the price for this vault.
    /// @param resource Identifier of the resource (for a model: its content hash).
    function purchaseAccess(bytes32 resource) external nonReentrant {
        uint256 price = _accessPrice[resource];
        if (price == 0) revert ResourceNotForSale(resource);
        if (_access[resource][msg.sender]) revert AccessAlreadyGranted(resource, msg.sender);
        _requireBalance(msg.sender, price);

        _access[resource][msg.sender] = true;
        emit AccessPurchased(msg.sender, resource, price);
        token.burnFrom(msg.sender, price);
    }

    /// @notice Set the token price of `resource`; 0 takes it off sale (granted access stays).
    /// @param resource Identifier of the resource.
    /// @param price Tokens (base units) to burn for access.
    function setAccessPrice(bytes32 resource, uint256 price) external onlyOwner {
        _accessPrice[resource] = price;
        emit AccessPriceSet(resource, price);
    }

    /// @notice The ETH backing the token supply: the balance minus credited redemptions.
    function pooledBalance() public view returns (uint256) {
        return address(this).balance - totalOwed;
    }

    /// @notice The wei that burning `amount` tokens would credit now.
    /// @param amount Tokens to burn, in base units.
    function quoteRedemption(uint256 amount) public view returns (uint256) {
        if (amount == 0) revert ZeroAmount();
        uint256 supply = token.totalSupply();
        if (supply == 0) return 0;
        return (amount * pooledBalance()) / supply;
    }

    /// @notice ETH credited to `holder` and not yet withdrawn.
    function owed(address holder) external view returns (uint256) {
        return _owed[holder];
    }

    /// @notice The token price of `resource` (0: not for sale).
    function accessPrice(bytes32 resource) external view returns (uint256) {
        return _accessPrice[resource];
    }

    /// @notice Whether `account` bought access to `resource`.
    function hasAccess(bytes32 resource, address account) external view returns (bool) {
        return _access[resource][account];
    }

    function _deposit() private {
        if (msg.value == 0) revert ZeroAmount();
        emit Deposited(msg.sender, msg.value);
    }

    function _requireBalance(address holder, uint256 amount) private view {
        uint256 balance = token.balanceOf(holder);
        if (balance < amount) revert InsufficientTokens(balance, amount);
    }
}
