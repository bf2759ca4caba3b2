// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ZeroAddress} from "./Errors.sol";
import {IFedLedgerCoordinator} from "./interfaces/IFedLedgerCoordinator.sol";
import {IGatewayRegistry} from "./interfaces/IGatewayRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IRedemptionVault} from "./interfaces/IRedemptionVault.sol";

/// @title GatewayRegistry
/// @notice The gateways that serve resources to entitled addresses, their encryption keys,
/// and the global-model policy chosen at deployment.
/// @dev Deployed beside the coordinator (which it only reads), owned by the same admin.
/// Entitlement is a set of views a gateway calls at request time; nothing here moves
/// tokens. The admin vouches for a gateway's key by registering it.
contract GatewayRegistry is IGatewayRegistry, Ownable2Step {
    /// @inheritdoc IGatewayRegistry
    bytes32 public constant GLOBAL_MODEL_RESOURCE = keccak256("fedledger/global-model");
    /// @inheritdoc IGatewayRegistry
    uint256 public constant MAX_GATEWAYS = 16;

    /// @inheritdoc IGatewayRegistry
    IFedLedgerCoordinator public immutable coordinator;
    /// @inheritdoc IGatewayRegistry
    IRedemptionVault public immutable vault;
    /// @inheritdoc IGatewayRegistry
    GlobalModelPolicy public immutable globalModelPolicy;

    address[] private _addresses;
    mapping(address gateway => Gateway) private _gateways;

    /// @param admin The registry's owner, who registers gateways.
    /// @param coordinator_ The coordinator whose members may read global models.
    /// @param policy Who may read the global models.
    constructor(address admin, IFedLedgerCoordinator coordinator_, GlobalModelPolicy policy)
        Ownable(admin)
    {
        if (address(coordinator_) == address(0)) revert ZeroAddress();
        coordinator = coordinator_;
        vault = coordinator_.redemptionVault();
        globalModelPolicy = policy;
    }

    /// @inheritdoc IGatewayRegistry
    function setGateway(address gateway, bytes32 encryptionKey, string calldata url)
        external
        onlyOwner
    {
        if (gateway == address(0)) revert ZeroAddress();
        if (encryptionKey == bytes32(0)) revert EmptyGatewayKey();
        if (bytes(url).length == 0) revert EmptyGatewayUrl();
        if (_gateways[gateway].encryptionKey == bytes32(0)) {
            if (_addresses.length == MAX_GATEWAYS) revert TooManyGateways(MAX_GATEWAYS);
            _addresses.push(gateway);
        }
        _gateways[gateway] = Gateway(encryptionKey, url);
        emit GatewaySet(gateway, encryptionKey, url);
    }

    /// @inheritdoc IGatewayRegistry
    function removeGateway(address gateway) external onlyOwner {
        if (_gateways[gateway].encryptionKey == bytes32(0)) revert UnknownGateway(gateway);
        delete _gateways[gateway];
        uint256 last = _addresses.length - 1;
        for (uint256 i; i <= last; ++i) {
            if (_addresses[i] == gateway) {
                _addresses[i] = _addresses[last];
                _addresses.pop();
                break;
            }
        }
        emit GatewayRemoved(gateway);
    }

    /// @inheritdoc IGatewayRegistry
    function gateways()
        external
        view
        returns (address[] memory addresses, bytes32[] memory keys, string[] memory urls)
    {
        addresses = _addresses;
        keys = new bytes32[](addresses.length);
        urls = new string[](addresses.length);
        for (uint256 i; i < addresses.length; ++i) {
            Gateway storage gateway = _gateways[addresses[i]];
            keys[i] = gateway.encryptionKey;
            urls[i] = gateway.url;
        }
    }

    /// @inheritdoc IGatewayRegistry
    function gatewayOf(address gateway) external view returns (Gateway memory) {
        return _gateways[gateway];
    }

    /// @inheritdoc IGatewayRegistry
    function isMember(address account) public view returns (bool) {
        if (account == owner() || account == Ownable(address(coordinator)).owner()) return true;
        if (coordinator.isOracle(account)) return true;
        IParticipantRegistry.Participant memory participant = coordinator.getParticipant(account);
        return participant.registered && !participant.banned;
    }

    /// @inheritdoc IGatewayRegistry
    function mayReadGlobalModel(address account) external view returns (bool) {
        if (globalModelPolicy == GlobalModelPolicy.Public) return true;
        if (isMember(account)) return true;
        return globalModelPolicy == GlobalModelPolicy.Holders
            && vault.hasAccess(GLOBAL_MODEL_RESOURCE, account);
    }
}
