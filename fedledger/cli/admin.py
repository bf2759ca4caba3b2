"""``fedledger admin``: the consortium admin's commands (the coordinator's owner).

Oracles and the quorum, the participant allowlist, bans, round and reward rules, the
start of training, and access prices in the vault. Each command is one transaction
signed by --key, which must be the admin (``OwnableUnauthorizedAccount`` otherwise).

On a deployment whose admin is a timelock (every network but the embedded dev chain),
each command runs twice: with ``--schedule`` it announces the call on chain, and with
``--execute`` (the same arguments) it makes it take effect once the delay has passed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click
from eth_utils import keccak

from fedledger import units
from fedledger.chain import FedLedger, RewardRule, RoundRules, TxResult, smallest_quorum
from fedledger.chain.events import CallScheduled
from fedledger.chain.timelock import ZERO_SALT, TimelockRoute
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import (
    contribution_target_option,
    json_option,
    key_option,
    network_option,
    store_options,
    user_errors,
)
from fedledger.cli.params import Address, Resource, TokenAmount
from fedledger.config import ProjectConfig

_ROUTE = "fedledger.admin.route"


class _TimelockAwareGroup(click.Group):
    """Gives every admin command ``--schedule``, ``--execute`` and ``--salt``."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(
            [
                click.Option(
                    ["--schedule"],
                    is_flag=True,
                    help="Announce the call through the admin's timelock (runs after the delay).",
                ),
                click.Option(
                    ["--execute"],
                    is_flag=True,
                    help="Run a call scheduled with the same arguments, once its delay passed.",
                ),
                click.Option(
                    ["--salt"],
                    default="",
                    help="Tells apart timelock operations of one call (give it to both steps).",
                ),
            ]
        )
        callback = cmd.callback
        assert callback is not None

        @functools.wraps(callback)
        def routed(*args: Any, schedule: bool, execute: bool, salt: str, **kwargs: Any) -> Any:
            if schedule and execute:
                raise click.UsageError("give --schedule or --execute, not both")
            mode = "schedule" if schedule else "execute" if execute else None
            click.get_current_context().meta[_ROUTE] = (mode, salt)
            return callback(*args, **kwargs)

        cmd.callback = routed
        super().add_command(cmd, name)


@click.group(cls=_TimelockAwareGroup)
def admin() -> None:
    """Register oracles and participants, set the quorum and rules, start training.

    Behind a timelock, run each command with --schedule, then again with --execute
    after the delay."""


def _admin_ledger(network: str | None, key: str | None) -> tuple[ProjectConfig, FedLedger]:
    """The deployment acting as --key, its admin calls routed through the timelock when
    the deployment has one (as --schedule or --execute say)."""
    config, ledger = open_ledger(network, key)
    mode, salt = click.get_current_context().meta.get(_ROUTE, (None, ""))
    timelock = ledger.timelock
    if timelock is None:
        if mode is not None:
            raise click.UsageError(
                f"this deployment has no timelock: run the command without --{mode}"
            )
        return config, ledger
    if mode is None:
        with user_errors():
            delay = units.format_duration(timelock.min_delay())
        raise click.UsageError(
            f"the admin is the timelock {timelock.address} (delay {delay}): run the command "
            "with --schedule, then again with --execute once the delay has passed"
        )
    route = TimelockRoute(timelock, mode, keccak(text=salt) if salt else ZERO_SALT)
    ledger.coordinator = ledger.coordinator.routed(route)
    ledger.vault = ledger.vault.routed(route)
    if ledger.deployment.gateways:
        ledger.gateways = ledger.gateways.routed(route)
    return config, ledger


def _report(
    ledger: FedLedger, result: TxResult, message: str, as_json: bool, **fields: Any
) -> None:
    """render.report_tx, saying what a timelocked step did."""
    mode, _ = click.get_current_context().meta.get(_ROUTE, (None, ""))
    if mode == "schedule" and ledger.timelock is not None:
        scheduled = result.event(CallScheduled)
        with user_errors():
            ready = ledger.timelock.timestamp_of(scheduled.id)
            now = ledger.client.chain_time()
        message = (
            f"scheduled: {message}; run the same command with --execute after "
            f"{render.deadline(ready, now)}"
        )
        fields.update(operation="0x" + bytes(scheduled.id).hex(), executable_at=ready)
    elif mode == "execute":
        message = f"executed through the timelock: {message}"
    render.report_tx(result, message, as_json, **fields)


# ---- oracles -----------------------------------------------------------------------------


@admin.command("add-oracle")
@click.argument("oracle", type=Address())
@click.option("--quorum", type=int, default=None, help="k for the enlarged set [default: n//2+1].")
@key_option
@network_option
@json_option
def add_oracle(
    oracle: str, quorum: int | None, key: str | None, network: str | None, as_json: bool
) -> None:
    """Register ORACLE and set the quorum for the enlarged set, in one transaction."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        size = ledger.coordinator.oracle_count() + 1
        k = smallest_quorum(size) if quorum is None else quorum
        result = ledger.coordinator.add_oracle(oracle, k)
    _report(
        ledger,
        result,
        f"oracle {oracle} added: quorum {k} of {size}",
        as_json,
        quorum=k,
        oracles=size,
    )


@admin.command("remove-oracle")
@click.argument("oracle", type=Address())
@click.option("--quorum", type=int, default=None, help="k for the reduced set [default: n//2+1].")
@key_option
@network_option
@json_option
def remove_oracle(
    oracle: str, quorum: int | None, key: str | None, network: str | None, as_json: bool
) -> None:
    """Remove ORACLE and set the quorum for the reduced set, in one transaction."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        size = ledger.coordinator.oracle_count() - 1
        k = smallest_quorum(size) if quorum is None else quorum
        result = ledger.coordinator.remove_oracle(oracle, k)
    _report(
        ledger,
        result,
        f"oracle {oracle} removed: quorum {k} of {size}",
        as_json,
        quorum=k,
        oracles=size,
    )


@admin.command("set-quorum")
@click.argument("quorum", type=int)
@key_option
@network_option
@json_option
def set_quorum(quorum: int, key: str | None, network: str | None, as_json: bool) -> None:
    """Set the number of agreeing oracles, k, needed to settle an update or an aggregate
    (2k > n and k <= n)."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        result = ledger.coordinator.set_quorum(quorum)
        size = ledger.coordinator.oracle_count()
    _report(ledger, result, f"quorum {quorum} of {size}", as_json, quorum=quorum, oracles=size)


# ---- participants ------------------------------------------------------------------------


@admin.command()
@click.argument("participants", nargs=-1, required=True, type=Address())
@key_option
@network_option
@json_option
def register(
    participants: tuple[str, ...], key: str | None, network: str | None, as_json: bool
) -> None:
    """Allow PARTICIPANTS (one or more addresses) to submit updates."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        if len(participants) == 1:
            result = ledger.coordinator.register_participant(participants[0])
        else:
            result = ledger.coordinator.register_participants(participants)
    _report(
        ledger,
        result,
        f"registered {len(participants)} participant(s)",
        as_json,
        participants=list(participants),
    )


def _participant_command(name: str, summary: str, verb: str) -> None:
    """Define ``admin NAME ADDRESS``: one coordinator call on one participant."""

    @admin.command(name, help=summary)
    @click.argument("participant", type=Address())
    @key_option
    @network_option
    @json_option
    def command(participant: str, key: str | None, network: str | None, as_json: bool) -> None:
        _, ledger = _admin_ledger(network, key)
        with user_errors():
            method = getattr(ledger.coordinator, f"{name}_participant")
            result = method(participant)
        _report(ledger, result, f"{participant} {verb}", as_json, participant=participant)


_participant_command(
    "remove", "Take PARTICIPANT off the allowlist (its tokens stay its own).", "removed"
)
_participant_command(
    "ban", "Ban PARTICIPANT now: it can no longer submit until pardoned.", "banned"
)
_participant_command("pardon", "Lift PARTICIPANT's ban and clear its strikes.", "pardoned")


@admin.command("open-enrolment")
@click.argument("switch", type=click.Choice(["on", "off"]))
@key_option
@network_option
@json_option
def open_enrolment(switch: str, key: str | None, network: str | None, as_json: bool) -> None:
    """Let any address submit (on; it is registered by its first submission), or only
    the allowlist (off)."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        result = ledger.coordinator.set_open_enrolment(switch == "on")
    message = "open enrolment: any address may submit" if switch == "on" else "allowlist only"
    _report(ledger, result, message, as_json, open_enrolment=switch == "on")


@admin.command("set-rejection-limit")
@click.argument("limit", type=click.IntRange(min=0))
@key_option
@network_option
@json_option
def set_rejection_limit(limit: int, key: str | None, network: str | None, as_json: bool) -> None:
    """Ban a participant after LIMIT rejected updates (0: never)."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        result = ledger.coordinator.set_rejection_limit(limit)
    message = f"ban after {limit} rejections" if limit else "no bans for rejections"
    _report(ledger, result, message, as_json, rejection_limit=limit)


# ---- rules -------------------------------------------------------------------------------


@admin.command("set-round-rules")
@click.option("--duration", type=click.IntRange(min=1), default=None, help="Seconds per round.")
@click.option(
    "--aggregation-timeout",
    type=click.IntRange(min=1),
    default=None,
    help="Seconds the oracles have to agree on an aggregate before anyone may skip the round.",
)
@contribution_target_option(None)
@key_option
@network_option
@json_option
def set_round_rules(
    duration: int | None,
    aggregation_timeout: int | None,
    contribution_target: int | None,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Change the round rules; options not given keep their current value. The duration
    applies from the next round, the target at the next close."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        current = ledger.coordinator.round_rules()
        rules = RoundRules(
            duration=current.duration if duration is None else duration,
            aggregation_timeout=(
                current.aggregation_timeout if aggregation_timeout is None else aggregation_timeout
            ),
            contribution_target=(
                current.contribution_target if contribution_target is None else contribution_target
            ),
        )
        result = ledger.coordinator.set_round_rules(rules)
    _report(
        ledger,
        result,
        f"rounds of {rules.duration} s, aggregation timeout {rules.aggregation_timeout} s, "
        f"contribution target {rules.contribution_target or 'none'}",
        as_json,
        duration=rules.duration,
        aggregation_timeout=rules.aggregation_timeout,
        contribution_target=rules.contribution_target,
    )


@admin.command("set-reward")
@click.option("--base", type=TokenAmount(), default=None, help="Tokens per accepted update.")
@click.option(
    "--per-score",
    type=TokenAmount(),
    default=None,
    help="Extra tokens per point of the recorded score (the oracles' units: docs/contracts.md).",
)
@key_option
@network_option
@json_option
def set_reward(
    base: int | None, per_score: int | None, key: str | None, network: str | None, as_json: bool
) -> None:
    """Change the reward rule, base + per-score x score, for updates settled from now on;
    options not given keep their current value."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        current = ledger.coordinator.reward_rule()
        rule = RewardRule(
            base=current.base if base is None else base,
            per_score_point=current.per_score_point if per_score is None else per_score,
        )
        result = ledger.coordinator.set_reward_rule(rule)
        symbol = ledger.token.symbol()
    _report(
        ledger,
        result,
        f"reward {render.tokens(rule.base, symbol)} + "
        f"{render.tokens(units.per_logit(rule.per_score_point), symbol)} per logit of score",
        as_json,
        base=str(rule.base),
        per_score_point=str(rule.per_score_point),
    )


# ---- start and access --------------------------------------------------------------------


@admin.command()
@click.option(
    "--model",
    "model_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Initial weights file (canonical format).",
)
@click.option(
    "--arch",
    default=None,
    metavar="ID",
    help="Or create seeded initial weights of this architecture (see docs/ml.md).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the initial weights (--arch).")
@key_option
@network_option
@store_options
@json_option
def start(
    model_file: Path | None,
    arch: str | None,
    seed: int,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Store the genesis model and open round 1 on it (once per deployment).

    Give --model FILE, or --arch ID [--seed N] to create the initial weights here.
    """
    from fedledger.admin import genesis_from_blob, seeded_genesis, start_training
    from fedledger.storage import open_store

    if (model_file is None) == (arch is None):
        raise click.UsageError("give either --model FILE or --arch ID")
    config, ledger = _admin_ledger(network, key)
    with user_errors():
        with open_store(config, kind=store_kind, ipfs_api=ipfs_api) as store:
            if model_file is not None:
                max_bytes = config.storage.max_blob_bytes
                genesis = genesis_from_blob(
                    store, model_file.read_bytes(), max_bytes=max_bytes, ledger=ledger
                )
            else:
                assert arch is not None
                genesis = seeded_genesis(store, arch, seed, ledger=ledger)
        result = start_training(ledger, genesis)
        deadline = ledger.coordinator.latest_model().deadline
        now = ledger.client.chain_time()
    _report(
        ledger,
        result,
        f"round 1 open on {genesis.weights.architecture} genesis model {genesis.cid}, "
        f"until {render.deadline(deadline, now)}",
        as_json,
        architecture=genesis.weights.architecture,
        cid=genesis.cid,
        content_hash=render.hex32(genesis.content_hash),
        deadline=deadline,
    )


@admin.command("set-access-price")
@click.argument("resource", type=Resource())
@click.argument("price", type=TokenAmount())
@key_option
@network_option
@json_option
def set_access_price(
    resource: bytes, price: int, key: str | None, network: str | None, as_json: bool
) -> None:
    """Sell access to RESOURCE (a 0x id or a CID) for PRICE tokens; 0 takes it off sale."""
    _, ledger = _admin_ledger(network, key)
    resource_hex = "0x" + resource.hex()
    with user_errors():
        result = ledger.vault.set_access_price(resource, price)
        symbol = ledger.token.symbol()
    message = (
        f"access to {resource_hex} costs {render.tokens(price, symbol)}"
        if price
        else f"access to {resource_hex} is off sale"
    )
    _report(ledger, result, message, as_json, resource=resource_hex, price=str(price))


# ---- gateways and resources ----------------------------------------------------------------


@admin.command("set-gateway")
@click.argument("gateway", type=Address())
@click.option(
    "--encryption-key",
    "encryption_key",
    required=True,
    metavar="0xKEY",
    help="The gateway's X25519 public key (`fedledger gateway key` shows it).",
)
@click.option("--url", required=True, help="The URL clients reach the gateway at.")
@key_option
@network_option
@json_option
def set_gateway(
    gateway: str, encryption_key: str, url: str, key: str | None, network: str | None, as_json: bool
) -> None:
    """Register GATEWAY (its operator's address) with its encryption key and URL, or
    update them. Resources registered from then on are sealed for its key too."""
    try:
        public = bytes.fromhex(encryption_key.removeprefix("0x"))
    except ValueError:
        public = b""
    if len(public) != 32:
        raise click.BadParameter(
            "an X25519 public key is 0x and 64 hex digits", param_hint="--encryption-key"
        )
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        result = ledger.gateways.set_gateway(gateway, public, url)
    _report(
        ledger,
        result,
        f"gateway {gateway} at {url} with key 0x{public.hex()}",
        as_json,
        gateway=gateway,
        url=url,
        encryption_key="0x" + public.hex(),
    )


@admin.command("remove-gateway")
@click.argument("gateway", type=Address())
@key_option
@network_option
@json_option
def remove_gateway(gateway: str, key: str | None, network: str | None, as_json: bool) -> None:
    """Remove GATEWAY; resources registered from then on are not sealed for its key."""
    _, ledger = _admin_ledger(network, key)
    with user_errors():
        result = ledger.gateways.remove_gateway(gateway)
    _report(ledger, result, f"gateway {gateway} removed", as_json, gateway=gateway)


@admin.command("add-resource")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--price", type=TokenAmount(), required=True, help="Tokens to burn for access.")
@click.option(
    "--duration",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seconds of access per purchase, on the chain's clock (0: access never expires).",
)
@click.option(
    "--id",
    "resource_id",
    type=Resource(),
    default=None,
    help="The resource id (0x or a CID) [default: the file's content hash].",
)
@key_option
@network_option
@store_options
@json_option
def add_resource(
    file: Path,
    price: int,
    duration: int,
    resource_id: bytes | None,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Sell FILE (any blob: a supplementary model, a data set) through the gateways.

    The file is sealed for the registered gateways' keys (only they can read the stored
    blob), stored, and registered in the vault with its price, its content hash (what
    every download is checked against) and the access duration. Run it again after a
    gateway joins to seal the resource for it too."""
    from fedledger.access import seal_resource
    from fedledger.storage import content_hash_of_blob, open_store, store_blob

    config, ledger = _admin_ledger(network, key)
    data = file.read_bytes()
    with user_errors():
        content_hash = content_hash_of_blob(data)
        resource = resource_id or content_hash
        gateways = ledger.gateways.gateways()
        if not gateways:
            raise click.ClickException(
                "no gateway is registered, so nobody could serve the resource: register one "
                "first with `fedledger admin set-gateway`"
            )
        sealed = seal_resource(ledger, resource, data, [g.encryption_key for g in gateways])
        with open_store(config, kind=store_kind, ipfs_api=ipfs_api) as store:
            stored = store_blob(store, bytes(sealed))
            store.pin(stored.cid)
        result = ledger.vault.register_resource(
            resource, price, content_hash, stored.content_hash, duration
        )
        symbol = ledger.token.symbol()
    resource_hex = "0x" + resource.hex()
    lasting = f"for {units.format_duration(duration)}" if duration else "forever"
    _report(
        ledger,
        result,
        f"resource {resource_hex} ({len(data):,} bytes, sealed for {len(gateways)} gateway(s) "
        f"as {stored.cid}) costs {render.tokens(price, symbol)}, access {lasting}",
        as_json,
        resource=resource_hex,
        content_hash=render.hex32(content_hash),
        sealed_cid=stored.cid,
        price=str(price),
        access_duration=duration,
        gateways=len(gateways),
    )
