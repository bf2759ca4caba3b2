// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ZeroAddress} from "./Errors.sol";
import {IRedemptionVault} from "./interfaces/IRedemptionVault.sol";
import {IRewardToken} from "./interfaces/IRewardToken.sol";

/// @title RedemptionVault
/// @notice Where reward tokens are worth something: sponsors deposit ETH, and holders burn
/// tokens either for a pro-rata share of the pooled ETH or for access rights (for example to
/// download a supplementary model), which are recorded here.
/// @dev Redemption is a pull payment: `redeem` burns the tokens and credits the ETH, and
/// `withdraw` sends it. Both follow checks-effects-interactions and share one reentrancy lock.
/// The storage-based ReentrancyGuard is used because the transient variant needs cancun and
/// the contracts target shanghai. Tokens are burned with `burnFrom`, so the holder first
/// approves this vault for the amount.
contract RedemptionVault is IRedemptionVault, Ownable2Step, ReentrancyGuard {
    /// @inheritdoc IRedemptionVault
    IRewardToken public immutable token;
    /// @inheritdoc IRedemptionVault
    uint256 public totalOwed;

    mapping(address holder => uint256 wei_) private _owed;
    mapping(bytes32 resource => Resource) private _resources;
    mapping(bytes32 resource => mapping(address account => uint64 expiresAt)) private _access;

    /// @dev The expiry of access that never ends.
    uint64 private constant _FOREVER = type(uint64).max;

    /// @param admin The vault's owner, who prices access rights.
    /// @param token_ The RewardToken this vault redeems.
    constructor(address admin, IRewardToken token_) Ownable(admin) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
    }

    /// @notice Plain ETH transfers are deposits to the pool.
    receive() external payable {
        _deposit();
    }

    /// @inheritdoc IRedemptionVault
    function deposit() external payable {
        _deposit();
    }

    /// @inheritdoc IRedemptionVault
    /// @dev Requires an allowance of at least `amount` for this vault.
    function redeem(uint256 amount) external nonReentrant {
        _requireBalance(msg.sender, amount);
        uint256 payout = quoteRedemption(amount);
        if (payout == 0) revert NothingToRedeem(amount, pooledBalance());

        _owed[msg.sender] += payout;
        totalOwed += payout;
        emit Redeemed(msg.sender, amount, payout);
        token.burnFrom(msg.sender, amount);
    }

    /// @inheritdoc IRedemptionVault
    function withdraw() external nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);

        _owed[msg.sender] = 0;
        totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IRedemptionVault
    /// @dev Requires an allowance of at least the price for this vault.
    function purchaseAccess(bytes32 resource) external nonReentrant {
        Resource storage sold = _resources[resource];
        uint256 price = sold.price;
        if (price == 0) revert ResourceNotForSale(resource);
        uint64 current = _access[resource][msg.sender];
        if (current > block.timestamp) revert AccessAlreadyGranted(resource, msg.sender, current);
        _requireBalance(msg.sender, price);

        uint64 duration = sold.accessDuration;
        uint64 expiresAt = duration == 0 ? _FOREVER : uint64(block.timestamp) + duration;
        _access[resource][msg.sender] = expiresAt;
        emit AccessPurchased(msg.sender, resource, price, expiresAt);
        token.burnFrom(msg.sender, price);
    }

    /// @inheritdoc IRedemptionVault
    function setAccessPrice(bytes32 resource, uint256 price) external onlyOwner {
        _resources[resource].price = price;
        emit AccessPriceSet(resource, price);
    }

    /// @inheritdoc IRedemptionVault
    function registerResource(
        bytes32 resource,
        uint256 price,
        bytes32 contentHash,
        bytes32 sealedBlob,
        uint64 accessDuration
    ) external onlyOwner {
        if (contentHash == bytes32(0) || sealedBlob == bytes32(0)) {
            revert EmptyResourceContent(resource);
        }
        _resources[resource] = Resource(price, contentHash, sealedBlob, accessDuration);
        emit ResourceRegistered(resource, price, contentHash, sealedBlob, accessDuration);
    }

    /// @inheritdoc IRedemptionVault
    function pooledBalance() public view returns (uint256) {
        return address(this).balance - totalOwed;
    }

    /// @inheritdoc IRedemptionVault
    function quoteRedemption(uint256 amount) public view returns (uint256) {
        if (amount == 0) revert ZeroAmount();
        uint256 supply = token.totalSupply();
        if (supply == 0) return 0;
        return (amount * pooledBalance()) / supply;
    }

    /// @inheritdoc IRedemptionVault
    function owed(address holder) external view returns (uint256) {
        return _owed[holder];
    }

    /// @inheritdoc IRedemptionVault
    function accessPrice(bytes32 resource) external view returns (uint256) {
        return _resources[resource].price;
    }

    /// @inheritdoc IRedemptionVault
    function hasAccess(bytes32 resource, address account) external view returns (bool) {
        return _access[resource][account] > block.timestamp;
    }

    /// @inheritdoc IRedemptionVault
    function accessExpiry(bytes32 resource, address account) external view returns (uint64) {
        return _access[resource][account];
    }

    /// @inheritdoc IRedemptionVault
    function resourceOf(bytes32 resource) external view returns (Resource memory) {
        return _resources[resource];
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
