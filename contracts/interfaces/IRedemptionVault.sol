// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IRewardToken} from "./IRewardToken.sol";

/// @title IRedemptionVault
/// @notice Where reward tokens are worth something: sponsors (and forfeited stakes) add ETH,
/// holders burn tokens for a pro-rata share of it (pull payment) or for access rights.
interface IRedemptionVault {
    /// @notice `sponsor` added `amount` wei to the pool.
    event Deposited(address indexed sponsor, uint256 amount);
    /// @notice `holder` burned `tokens` and was credited `payout` wei to withdraw.
    event Redeemed(address indexed holder, uint256 tokens, uint256 payout);
    /// @notice `holder` withdrew `amount` wei of credited redemptions.
    event Withdrawn(address indexed holder, uint256 amount);
    /// @notice The admin set the token price of `resource` (0 takes it off sale).
    event AccessPriceSet(bytes32 indexed resource, uint256 price);
    /// @notice `buyer` burned `price` tokens for access to `resource`, valid until
    /// `expiresAt` (chain time, seconds; type(uint64).max: never expires).
    event AccessPurchased(
        address indexed buyer, bytes32 indexed resource, uint256 price, uint64 expiresAt
    );
    /// @notice The admin registered (or re-registered) `resource`: its price, the content
    /// hash of its bytes, the content hash of the sealed blob gateways serve it from, and
    /// how long a purchase grants access (0: forever).
    event ResourceRegistered(
        bytes32 indexed resource,
        uint256 price,
        bytes32 contentHash,
        bytes32 sealedBlob,
        uint64 accessDuration
    );

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
    /// @notice The buyer already has access to the resource (until `expiresAt`).
    error AccessAlreadyGranted(bytes32 resource, address buyer, uint64 expiresAt);
    /// @notice A resource served by gateways needs the content hash of its bytes and of
    /// its sealed blob.
    error EmptyResourceContent(bytes32 resource);

    /// @notice What the vault sells: a price and, for resources the gateways serve, what
    /// the buyer downloads.
    struct Resource {
        uint256 price; // tokens (base units) to burn for access; 0: not for sale
        bytes32 contentHash; // sha2-256 digest of the bytes' CIDv0 (0: a bare access right)
        bytes32 sealedBlob; // content hash of the envelope holding them, for the gateways
        uint64 accessDuration; // seconds of access per purchase (0: forever)
    }

    /// @notice Add the sent ETH to the pool that token holders redeem against.
    function deposit() external payable;

    /// @notice Burn `amount` tokens for their pro-rata share of the pool,
    /// amount * pool / totalSupply (rounded down), credited for `withdraw`.
    /// @param amount Tokens to burn, in base units (approve the vault for them first).
    function redeem(uint256 amount) external;

    /// @notice Send the caller all the ETH its redemptions were credited.
    function withdraw() external;

    /// @notice Burn the price of `resource` in tokens and record the caller's access to it,
    /// until now + the resource's access duration (forever if it has none). Buying again
    /// is possible once the access has expired.
    /// @param resource Identifier of the resource (for a model: its content hash).
    function purchaseAccess(bytes32 resource) external;

    /// @notice Register a resource the gateways serve: price, content and access duration.
    /// Re-registering replaces them (access already bought keeps its expiry).
    /// @param resource Identifier of the resource.
    /// @param price Tokens (base units) to burn for access; 0 registers it off sale.
    /// @param contentHash Content hash of the resource's bytes (what downloaders verify).
    /// @param sealedBlob Content hash of the envelope sealed for the gateways' keys.
    /// @param accessDuration Seconds of access per purchase; 0: access never expires.
    function registerResource(
        bytes32 resource,
        uint256 price,
        bytes32 contentHash,
        bytes32 sealedBlob,
        uint64 accessDuration
    ) external;

    /// @notice Set the token price of `resource`; 0 takes it off sale (granted access stays).
    /// @param resource Identifier of the resource.
    /// @param price Tokens (base units) to burn for access.
    function setAccessPrice(bytes32 resource, uint256 price) external;

    /// @notice The ETH backing the token supply: the balance minus credited redemptions.
    function pooledBalance() external view returns (uint256);

    /// @notice The wei that burning `amount` tokens would credit now.
    /// @param amount Tokens to burn, in base units.
    function quoteRedemption(uint256 amount) external view returns (uint256);

    /// @notice ETH credited to `holder` and not yet withdrawn.
    /// @param holder Any address.
    function owed(address holder) external view returns (uint256);

    /// @notice ETH credited to redeemers and not yet withdrawn (not part of the pool).
    function totalOwed() external view returns (uint256);

    /// @notice The token price of `resource` (0: not for sale).
    /// @param resource Identifier of the resource.
    function accessPrice(bytes32 resource) external view returns (uint256);

    /// @notice Whether `account` holds access to `resource` now (bought, not expired at
    /// the chain's time).
    /// @param resource Identifier of the resource.
    /// @param account Any address.
    function hasAccess(bytes32 resource, address account) external view returns (bool);

    /// @notice When the access of `account` to `resource` ends (chain time, seconds):
    /// 0 never bought, type(uint64).max never expires.
    /// @param resource Identifier of the resource.
    /// @param account Any address.
    function accessExpiry(bytes32 resource, address account) external view returns (uint64);

    /// @notice The registration of `resource` (all zeros: unknown).
    /// @param resource Identifier of the resource.
    function resourceOf(bytes32 resource) external view returns (Resource memory);

    /// @notice The reward token this vault redeems.
    function token() external view returns (IRewardToken);
}
