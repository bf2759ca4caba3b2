// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IFedLedgerCoordinator} from "./IFedLedgerCoordinator.sol";
import {IRedemptionVault} from "./IRedemptionVault.sol";

/// @title IGatewayRegistry
/// @notice The gateways that serve the vault's resources (and, under a non-public policy,
/// the global models) to those entitled to them, with the X25519 keys resources are sealed
/// for, and who may read the global models: the policy fixed at deployment.
/// @dev Gateways check entitlement at the moment of each request with the views here and
/// in the vault (docs/security.md, "Gateways").
interface IGatewayRegistry {
    /// @notice Who may read the global models (fixed at deployment).
    enum GlobalModelPolicy {
        Public, // anyone: the aggregates lie unsealed in the store
        Members, // registered (unbanned) participants, oracles and the admin
        Holders // members, plus holders of access to GLOBAL_MODEL_RESOURCE in the vault
    }

    /// @notice A gateway as clients and sealers see it.
    struct Gateway {
        bytes32 encryptionKey; // raw X25519 public key resources are sealed for (0: none)
        string url; // base URL clients send their signed requests to
    }

    /// @notice The admin registered `gateway` (or replaced its key or URL).
    event GatewaySet(address indexed gateway, bytes32 encryptionKey, string url);
    /// @notice The admin removed `gateway`; resources stop being sealed for its key.
    event GatewayRemoved(address indexed gateway);

    /// @notice The zero key names no X25519 key.
    error EmptyGatewayKey();
    /// @notice A gateway needs a URL clients can reach it at.
    error EmptyGatewayUrl();
    /// @notice The address is not a registered gateway.
    error UnknownGateway(address gateway);
    /// @notice The registry holds MAX_GATEWAYS gateways already.
    error TooManyGateways(uint256 max);

    /// @notice Register `gateway` with its encryption key and URL, or update them.
    /// @param gateway The gateway operator's address (its identity in `status`).
    /// @param encryptionKey The gateway's raw 32-byte X25519 public key.
    /// @param url The base URL of its HTTP API.
    function setGateway(address gateway, bytes32 encryptionKey, string calldata url) external;

    /// @notice Remove `gateway`.
    /// @param gateway A registered gateway.
    function removeGateway(address gateway) external;

    /// @notice The registered gateways, in registration order, with their keys and URLs.
    function gateways()
        external
        view
        returns (address[] memory addresses, bytes32[] memory keys, string[] memory urls);

    /// @notice The registration of `gateway` (zeros: not registered).
    /// @param gateway Any address.
    function gatewayOf(address gateway) external view returns (Gateway memory);

    /// @notice Whether `account` is a member: a registered, unbanned participant, an
    /// oracle, or the admin of the coordinator or of this registry.
    /// @param account Any address.
    function isMember(address account) external view returns (bool);

    /// @notice Whether `account` may read the global models under the policy, now.
    /// @param account Any address.
    function mayReadGlobalModel(address account) external view returns (bool);

    /// @notice The global-model policy, fixed at deployment.
    function globalModelPolicy() external view returns (GlobalModelPolicy);

    /// @notice The vault resource whose holders may read the global models under `Holders`.
    function GLOBAL_MODEL_RESOURCE() external view returns (bytes32);

    /// @notice Upper bound on the number of gateways (each is a stanza of every envelope).
    function MAX_GATEWAYS() external view returns (uint256);

    /// @notice The coordinator whose members and models this registry serves.
    function coordinator() external view returns (IFedLedgerCoordinator);

    /// @notice The coordinator's vault, which records access rights.
    function vault() external view returns (IRedemptionVault);
}
