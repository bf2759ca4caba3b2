"""Click parameter types for the values users type: token and ETH amounts, addresses,
content hashes and access resources."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import click
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from fedledger.chain.deployment import TOKEN_UNIT
from fedledger.units import WEI_PER_ETH

UINT256_MAX = 2**256 - 1


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
        if amount > UINT256_MAX:
            self.fail(f"{value!r} tokens is more than can exist (2**256 base units)", param, ctx)
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
        if wei > UINT256_MAX:
            self.fail(f"{value!r} ETH is more than can exist (2**256 wei)", param, ctx)
        return wei


class Address(click.ParamType):
    """An Ethereum address. Mixed case is an EIP-55 checksum and must be right (a typo in
    it would otherwise send tokens to an address nobody holds); all lower or all upper
    case carries no checksum and is taken as is."""

    name = "address"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = value.strip() if isinstance(value, str) else ""
        if not (text.startswith("0x") and is_hex_address(text)):
            self.fail(f"{value!r} is not an Ethereum address (0x and 40 hex digits)", param, ctx)
        digits = text[2:]
        if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(text):
            self.fail(
                f"{text} has a wrong EIP-55 checksum (its upper/lower case letters do not "
                "match): it was mistyped or altered; copy the address again from its owner",
                param,
                ctx,
            )
        return to_checksum_address(text)


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
        from fedledger.storage import InvalidCid, content_hash_from_cid

        text = str(value).strip()
        if text.startswith("0x"):
            digest = _bytes32(text[2:])
            if digest is not None:
                return digest
        else:
            try:
                return content_hash_from_cid(text)
            except InvalidCid:
                pass
        self.fail(f"{value!r} is neither a 32-byte 0x-hex id nor a CID", param, ctx)


_NEGATIVE_NUMBER = re.compile(r"^-\d")


class AmountCommand(click.Command):
    """A command whose arguments are amounts: ``-1`` is refused as a negative amount,
    instead of click's "No such option: -1"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            if _NEGATIVE_NUMBER.match(arg):
                raise click.UsageError(
                    f"{arg}: amounts cannot be negative; give a positive amount", ctx
                )
        return super().parse_args(ctx, args)
