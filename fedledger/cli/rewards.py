"""``fedledger rewards``: what reward tokens are worth, and spending them.

Token holders check balances, redeem tokens for their share of the sponsors' ETH pool
(burn, then withdraw: a pull payment), buy access rights the admin has priced, and
transfer tokens like any ERC-20. Sponsors deposit the ETH.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from fedledger import units
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
                "credited": str(standing.credited),
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
    if standing.credited:
        out.print(
            f"  {render.tokens(standing.credited, symbol)} credited by accepted updates, "
            "not yet claimed (`fedledger rewards claim`)"
        )
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
def claim(key: str | None, network: str | None, as_json: bool) -> None:
    """Mint the --key account the rewards its accepted updates were credited (one
    transaction for every round since the last claim)."""
    _, ledger = open_ledger(network, key)
    with user_errors():
        credited = ledger.coordinator.reward_owed(ledger.address)
        symbol = ledger.token.symbol()
        result = ledger.coordinator.claim_rewards()
    render.report_tx(
        result,
        f"claimed {render.tokens(credited, symbol)} to {ledger.address}",
        as_json,
        tokens=str(credited),
    )


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
    """Buy access to RESOURCE (a 0x id or a CID the admin priced) by burning its price.

    Access to a resource with an access duration ends that long after the purchase, on
    the chain's clock (`--check` shows when); it can be bought again once it has ended."""
    from fedledger.chain import ACCESS_FOREVER
    from fedledger.chain.events import AccessPurchased

    _, ledger = open_ledger(network, key)
    resource_hex = "0x" + resource.hex()
    with user_errors():
        symbol = ledger.token.symbol()
        info = ledger.vault.resource_of(resource)
        price = info.price
        granted = ledger.vault.has_access(resource, ledger.address, block="pending")
        expiry = ledger.vault.access_expiry(resource, ledger.address)
        now = ledger.client.chain_time()
        result = None if check or granted else ledger.purchase_access(resource)
    if result is not None:
        expiry = result.event(AccessPurchased).expires_at
    until = None if expiry in (0, ACCESS_FOREVER) else render.deadline(expiry, now)
    duration = (
        f", access for {units.format_duration(info.access_duration)} per purchase"
        if info.access_duration
        else ""
    )
    if result is None:
        if granted:
            state = "has access" + (f" until {until}" if until else " (never expires)")
        elif expiry:
            state = f"had access, ended {until}"
        else:
            state = "has no access"
        offer = f"price {render.tokens(price, symbol)}" if price else "not for sale"
        if as_json:
            render.print_json(
                {
                    "resource": resource_hex,
                    "price": str(price),
                    "has_access": granted,
                    "expires_at": None if expiry in (0, ACCESS_FOREVER) else expiry,
                    "access_duration": info.access_duration,
                    "content_hash": render.hex32(info.content_hash) if info.servable else None,
                }
            )
        else:
            render.console().print(
                f"{ledger.address} {state} to {resource_hex} ({offer}{duration})"
            )
        return
    render.report_tx(
        result,
        f"bought access to {resource_hex} for {render.tokens(price, symbol)}"
        + (f", until {until}" if until else ", forever"),
        as_json,
        resource=resource_hex,
        price=str(price),
        expires_at=None if expiry == ACCESS_FOREVER else expiry,
    )


@rewards.command()
@click.argument("resource", type=Resource())
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the resource's bytes to (written atomically).",
)
@click.option(
    "--gateway",
    "gateway_url",
    default=None,
    metavar="URL",
    help="The gateway to ask [default: each registered gateway in turn].",
)
@key_option
@network_option
@json_option
def download(
    resource: bytes,
    out: Path,
    gateway_url: str | None,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Download RESOURCE through a gateway: sign a request with --key, fetch the bytes,
    check them against the content hash on chain, write them to --out.

    The --key account must hold access (`fedledger rewards access RESOURCE`)."""
    from fedledger.chain.access import GatewayDomain, sign_download
    from fedledger.storage import GatewayRefused, StoreUnavailable, fetch_through_gateway

    config, ledger = open_ledger(network, key)
    resource_hex = "0x" + resource.hex()
    with user_errors():
        info = ledger.vault.resource_of(resource)
        if not info.servable:
            raise click.ClickException(
                f"{resource_hex} is not a resource the gateways serve (the admin registers "
                "one with `fedledger admin add-resource`)"
            )
        urls = [gateway_url] if gateway_url else [g.url for g in ledger.gateways.gateways()]
        if not urls:
            raise click.ClickException("no gateway is registered: ask the admin to register one")
        domain = GatewayDomain(ledger.client.chain_id, ledger.gateways.address)
        failures: list[str] = []
        data = None
        for url in urls:
            signed = sign_download(
                ledger.signer, domain, resource, ledger.client.chain_time() + 120
            )
            try:
                data = fetch_through_gateway(
                    url,
                    resource,
                    signed.to_json(),
                    info.content_hash,
                    max_bytes=config.storage.max_blob_bytes,
                    timeout=config.storage.timeout_seconds,
                )
                break
            except GatewayRefused as refused:
                if refused.status in (401, 403):
                    raise  # the same answer from any gateway: the chain decides it
                failures.append(str(refused))
            except StoreUnavailable as error:
                failures.append(str(error))
        if data is None:
            raise click.ClickException("; ".join(failures))
        write_atomically(out, data)
    if as_json:
        render.print_json(
            {
                "resource": resource_hex,
                "bytes": len(data),
                "content_hash": render.hex32(info.content_hash),
                "out": str(out),
                "gateway": url,
            }
        )
        return
    render.console().print(
        f"downloaded {resource_hex} ({len(data):,} bytes, content hash checked) to {out} "
        f"from {url}",
        highlight=False,
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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
