"""``fedledger rewards``: what reward tokens are worth, and spending them.

Token holders check balances, redeem tokens for their share of the sponsors' ETH pool
(burn, then withdraw: a pull payment), buy access rights the admin has priced, and
transfer tokens like any ERC-20. Sponsors deposit the ETH.
"""

from __future__ import annotations

import click

from fedledger.chain.events import Redeemed
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import json_option, key_option, network_option, user_errors
from fedledger.cli.params import Address, AmountCommand, EthAmount, Resource, TokenAmount
from fedledger.queries import read_rewards


@click.group()
def rewards() -> None:
    """Token balances, redemption for ETH, access rights and transfers."""


@rewards.command()
@click.argument("address", required=False, type=Address())
@key_option
@network_option
@json_option
def balance(address: str | None, key: str | None, network: str | None, as_json: bool) -> None:
    """Show the tokens of ADDRESS (default: the --key account) and what they redeem for."""
    _, ledger = open_ledger(network, key, sign=address is None)
    with user_errors():
        holder = address or ledger.address
        standing = read_rewards(ledger, holder)
        symbol = ledger.token.symbol()
        supply = ledger.token.total_supply()
        pool = ledger.vault.pooled_balance()
    if as_json:
        render.print_json(
            {
                "address": holder,
                "tokens": str(standing.balance),
                "symbol": symbol,
                "accepted": standing.accepted,
                "rejected": standing.rejected,
                "banned": standing.banned,
                "redeemable_wei": str(standing.redeemable_wei),
                "owed_wei": str(standing.owed_wei),
                "total_supply": str(supply),
                "pool_wei": str(pool),
            }
        )
        return
    out = render.console()
    out.print(f"[bold]{holder}[/bold]: {render.tokens(standing.balance, symbol)}")
    out.print(
        f"  {standing.accepted} accepted and {standing.rejected} rejected update(s)"
        + (", banned" if standing.banned else "")
    )
    out.print(
        f"  redeemable now for {render.eth(standing.redeemable_wei)} "
        f"(pool {render.eth(pool)} over {render.tokens(supply, symbol)} in circulation)"
    )
    if standing.owed_wei:
        out.print(
            f"  {render.eth(standing.owed_wei)} credited, not yet withdrawn "
            "(`fedledger rewards withdraw`)"
        )


@rewards.command(cls=AmountCommand)
@click.argument("amount", type=TokenAmount(), required=False)
@click.option("--all", "everything", is_flag=True, help="Redeem the whole balance.")
@click.option(
    "--no-withdraw", is_flag=True, help="Only credit the ETH; withdraw it later yourself."
)
@key_option
@network_option
@json_option
def redeem(
    amount: int | None,
    everything: bool,
    no_withdraw: bool,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Burn AMOUNT tokens (or --all) for their pro-rata share of the vault's ETH pool,
    then withdraw the ETH to the --key account."""
    if (amount is None) == (not everything):
        raise click.UsageError("give either AMOUNT or --all")
    _, ledger = open_ledger(network, key)
    with user_errors():
        if everything:
            amount = ledger.token.balance_of(ledger.address)
            if amount == 0:
                raise click.ClickException(f"{ledger.address} holds no tokens")
        assert amount is not None
        symbol = ledger.token.symbol()
        redeemed = ledger.redeem(amount)
        withdrawn = None if no_withdraw else ledger.vault.withdraw()
    payout = redeemed.event(Redeemed).payout
    if as_json:
        payload = render.tx_json(redeemed, tokens=str(amount), payout_wei=str(payout))
        if withdrawn is not None:
            payload["withdraw_tx_hash"] = withdrawn.tx_hash
        render.print_json(payload)
        return
    render.report_tx(
        redeemed, f"burned {render.tokens(amount, symbol)} for {render.eth(payout)}", False
    )
    if withdrawn is not None:
        render.report_tx(withdrawn, f"withdrew {render.eth(payout)} to {ledger.address}", False)


@rewards.command()
@key_option
@network_option
@json_option
def withdraw(key: str | None, network: str | None, as_json: bool) -> None:
    """Send the --key account the ETH its redemptions were credited."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        owed = ledger.vault.owed(ledger.address)
        result = ledger.vault.withdraw()
    render.report_tx(
        result, f"withdrew {render.eth(owed)} to {ledger.address}", as_json, amount_wei=str(owed)
    )


@rewards.command(cls=AmountCommand)
@click.argument("amount", type=EthAmount())
@key_option
@network_option
@json_option
def deposit(amount: int, key: str | None, network: str | None, as_json: bool) -> None:
    """Deposit AMOUNT ETH into the vault's pool (sponsors): token holders redeem against it."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        result = ledger.vault.deposit(amount)
        pool = ledger.vault.pooled_balance()
    render.report_tx(
        result,
        f"deposited {render.eth(amount)}; the pool holds {render.eth(pool)}",
        as_json,
        amount_wei=str(amount),
        pool_wei=str(pool),
    )


@rewards.command()
@click.argument("resource", type=Resource())
@click.option("--check", is_flag=True, help="Only show the price and whether you have access.")
@key_option
@network_option
@json_option
def access(
    resource: bytes, check: bool, key: str | None, network: str | None, as_json: bool
) -> None:
    """Buy access to RESOURCE (a 0x id or a CID the admin priced) by burning its price."""
    _, ledger = open_ledger(network, key)
    resource_hex = "0x" + resource.hex()
    with user_errors():
        symbol = ledger.token.symbol()
        price = ledger.vault.access_price(resource)
        granted = ledger.vault.has_access(resource, ledger.address)
        result = None if check or granted else ledger.purchase_access(resource)
    if result is None:
        state = "has access" if granted else "has no access"
        offer = f"price {render.tokens(price, symbol)}" if price else "not for sale"
        if as_json:
            render.print_json(
                {"resource": resource_hex, "price": str(price), "has_access": granted}
            )
        else:
            render.console().print(f"{ledger.address} {state} to {resource_hex} ({offer})")
        return
    render.report_tx(
        result,
        f"bought access to {resource_hex} for {render.tokens(price, symbol)}",
        as_json,
        resource=resource_hex,
        price=str(price),
    )


@rewards.command(cls=AmountCommand)
@click.argument("to", type=Address())
@click.argument("amount", type=TokenAmount())
@key_option
@network_option
@json_option
def transfer(to: str, amount: int, key: str | None, network: str | None, as_json: bool) -> None:
    """Send AMOUNT tokens to the address TO (an ordinary ERC-20 transfer)."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        symbol = ledger.token.symbol()
        result = ledger.token.transfer(to, amount)
    render.report_tx(
        result, f"sent {render.tokens(amount, symbol)} to {to}", as_json, to=to, amount=str(amount)
    )
