"""Typed binding of GatewayRegistry: the gateways, their keys and the global-model policy."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain.client import TxResult
from fedledger.chain.contract import OwnableMixin
from fedledger.chain.enums import GlobalModelPolicy


@dataclass(frozen=True)
class GatewayInfo:
    """A registered gateway: who runs it, the key resources are sealed for, its URL."""

    address: str
    encryption_key: bytes
    url: str

    @property
    def registered(self) -> bool:
        return self.encryption_key != bytes(32)


class GatewayRegistry(OwnableMixin):
    """The gateways that serve resources, and who may read the global models."""

    CONTRACT = "GatewayRegistry"

    def set_gateway(self, gateway: str, encryption_key: bytes, url: str) -> TxResult:
        """Register ``gateway`` with its X25519 key and URL, or update them (admin)."""
        return self._transact("setGateway", gateway, encryption_key, url)

    def remove_gateway(self, gateway: str) -> TxResult:
        return self._transact("removeGateway", gateway)

    def gateways(self) -> list[GatewayInfo]:
        """The registered gateways, in registration order."""
        addresses, keys, urls = self._call("gateways")
        return [
            GatewayInfo(str(address), bytes(key), str(url))
            for address, key, url in zip(addresses, keys, urls, strict=True)
        ]

    def gateway_of(self, gateway: str) -> GatewayInfo:
        raw = self._call("gatewayOf", gateway)
        return GatewayInfo(gateway, bytes(raw["encryption_key"]), str(raw["url"]))

    def is_member(self, account: str) -> bool:
        return bool(self._call("isMember", account))

    def may_read_global_model(self, account: str, block: str = "latest") -> bool:
        return bool(self._call("mayReadGlobalModel", account, block=block))

    def global_model_policy(self) -> GlobalModelPolicy:
        return GlobalModelPolicy(self._call("globalModelPolicy"))

    def global_model_resource(self) -> bytes:
        return bytes(self._call("GLOBAL_MODEL_RESOURCE"))

    def max_gateways(self) -> int:
        return int(self._call("MAX_GATEWAYS"))

    def coordinator(self) -> str:
        return str(self._call("coordinator"))

    def vault(self) -> str:
        return str(self._call("vault"))
