"""Click parameter types for the values users type: token and ETH amounts, addresses,
content hashes and access resources."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from eth_utils import is_address, to_checksum_address

from fedledger.chain.deployment import TOKEN_UNIT
from fedledger.units import WEI_PER_ETH


def _base_units(value: object, unit: int) -> int | None:
    """``value``, a decimal number as typed ("10", "0.001"), in base units (``unit`` per
    whole one); None if it is not a finite number or is finer than one base unit."""
    try:
        amount = Decimal(str(value)) * unit
    except InvalidOperation:
        return None
    # "inf" and "nan" parse as decimals; neither is an amount.
    if not amount.is_finite() or amount != amount.to_integral_value():
        return None
    return int(amount)


def _bytes32(hex_text: str) -> bytes | None:
    """The 32 bytes ``hex_text`` (no ``0x``) spells, or None."""
    try:
        digest = bytes.fromhex(hex_text)
    except ValueError:
        return None
    return digest if len(digest) == 32 else None


class TokenAmount(click.ParamType):
    """A token amount in whole tokens ("10", "0.001"), converted to base units."""

    name = "tokens"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        amount = _base_units(value, TOKEN_UNIT)
        if amount is None or amount < 0:
            self.fail(
                f"{value!r} is not a non-negative amount of tokens with at most 18 decimals",
                param,
                ctx,
            )
        return amount


class EthAmount(click.ParamType):
    """An amount of ETH ("0.5"), converted to wei."""

    name = "eth"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        wei = _base_units(value, WEI_PER_ETH)
        if wei is None or wei <= 0:
            self.fail(
                f"{value!r} is not a positive amount of ETH with at most 18 decimals", param, ctx
            )
        return wei


class Address(click.ParamType):
    name = "address"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        if not isinstance(value, str) or not is_address(value):
            self.fail(f"{value!r} is not an Ethereum address", param, ctx)
        return to_checksum_address(value)


class ContentHash(click.ParamType):
    name = "hash"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> bytes:
        digest = _bytes32(str(value).removeprefix("0x"))
        if digest is None:
            self.fail(f"{value!r} is not a 32-byte hex content hash", param, ctx)
        return digest


class Resource(click.ParamType):
    """What access is sold for: a 32-byte hex id, or a CID (its content hash is the id)."""

    name = "resource"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> bytes:
        from fedledger.storage import InvalidCid, content_hash

        text = str(value).strip()
        if text.startswith("0x"):
            digest = _bytes32(text[2:])
            if digest is not None:
                return digest
        else:
            try:
                return content_hash(text)
            except InvalidCid:
                pass
        self.fail(f"{value!r} is neither a 32-byte 0x-hex id nor a CID", param, ctx)
