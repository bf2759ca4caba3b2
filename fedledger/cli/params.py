"""Click parameter types for the values users type: token amounts, addresses, content hashes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from eth_utils import is_address, to_checksum_address

from fedledger.chain.deployment import TOKEN_UNIT


class TokenAmount(click.ParamType):
    """A token amount in whole tokens ("10", "0.001"), converted to base units."""

    name = "tokens"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        try:
            amount = Decimal(str(value)) * TOKEN_UNIT
        except InvalidOperation:
            self.fail(f"{value!r} is not a number of tokens", param, ctx)
        if amount < 0 or amount != amount.to_integral_value():
            self.fail(
                f"{value!r} is not a non-negative amount with at most 18 decimals", param, ctx
            )
        return int(amount)


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
        text = str(value).removeprefix("0x")
        try:
            digest = bytes.fromhex(text)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            self.fail(f"{value!r} is not a 32-byte hex content hash", param, ctx)
        return digest
