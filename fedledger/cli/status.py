"""``fedledger status``: the round, its submissions and verdicts, the oracles, the balances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from rich.table import Table

from fedledger import units
from fedledger.chain import FedLedger, GatewayInfo, RewardRule, RoundInfo, RoundRules, RoundState
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import json_option, network_option, user_errors
from fedledger.queries import (
    Rewards,
    UpdateVerdict,
    known_participants,
    read_rewards,
    read_verdicts,
)
from fedledger.storage import cid_from_content_hash


@click.command()
@click.option(
    "--round", "round_", type=int, default=None, help="Show this round [default: the current one]."
)
@network_option
@json_option
def status(round_: int | None, network: str | None, as_json: bool) -> None:
    """Show the round, its submissions with verdicts and votes, the oracle set and quorum,
    and the participants' token balances (participants are found from the chain's events).
    """
    _, ledger = open_ledger(network, sign=False)
    with user_errors():
        snapshot = _read(ledger, round_)
    if as_json:
        render.print_json(_to_json(ledger, snapshot))
    else:
        _print(ledger, snapshot)


@dataclass(frozen=True)
class _Snapshot:
    """Everything the command shows, read from the chain in one go."""

    current: int
    round: int
    info: RoundInfo | None
    now: int
    can_close: bool
    rules: RoundRules
    reward_rule: RewardRule
    rejection_limit: int
    open_enrolment: bool
    enrolment_stake: int  # wei per submission under open enrolment
    max_reward: int  # the per-update reward cap
    timelock_delay: int | None  # seconds, when the admin is a timelock
    oracles: list[tuple[int, str]]  # (index, address)
    quorum: int
    verdicts: list[UpdateVerdict]
    participants: list[Rewards]
    symbol: str
    total_supply: int
    pool: int
    #: (policy name, gateways) of the GatewayRegistry; None for a deployment without one.
    gateways: tuple[str, list[GatewayInfo]] | None


def _read(ledger: FedLedger, round_: int | None) -> _Snapshot:
    coordinator = ledger.coordinator
    current = coordinator.current_round()
    shown = current if round_ is None else round_
    if round_ is not None and not 1 <= round_ <= current:
        raise click.ClickException(
            f"round {round_} does not exist: "
            + (f"rounds run from 1 to {current}" if current else "training has not started")
        )
    return _Snapshot(
        current=current,
        round=shown,
        info=coordinator.get_round(shown) if shown else None,
        now=ledger.client.chain_time(),
        can_close=coordinator.can_close_round() if current else False,
        rules=coordinator.round_rules(),
        reward_rule=coordinator.reward_rule(),
        rejection_limit=coordinator.rejection_limit(),
        open_enrolment=coordinator.open_enrolment(),
        enrolment_stake=coordinator.enrolment_stake(),
        max_reward=coordinator.max_reward_per_update(),
        timelock_delay=ledger.timelock.min_delay() if ledger.timelock else None,
        oracles=[(coordinator.oracle_index(o), o) for o in coordinator.oracles()],
        quorum=coordinator.quorum(),
        verdicts=read_verdicts(ledger, shown) if shown else [],
        participants=[read_rewards(ledger, a) for a in known_participants(ledger)],
        symbol=ledger.token.symbol(),
        total_supply=ledger.token.total_supply(),
        pool=ledger.vault.pooled_balance(),
        gateways=(
            (ledger.gateways.global_model_policy().name.lower(), ledger.gateways.gateways())
            if ledger.deployment.gateways
            else None
        ),
    )


def _to_json(ledger: FedLedger, s: _Snapshot) -> dict[str, Any]:
    round_json: dict[str, Any] | None = None
    if s.info is not None:
        round_json = {
            "round": s.round,
            "state": render.enum_name(s.info.state),
            "deadline": s.info.deadline,
            "deadline_local": units.format_local_time(s.info.deadline),
            "seconds_to_deadline": s.info.deadline - s.now,
            "closed_at": s.info.closed_at or None,
            "global_model": render.hex32(s.info.global_model),
            "global_model_cid": cid_from_content_hash(s.info.global_model),
            "accepted": s.info.accepted,
            "pending": s.info.pending,
            "voting_ends": s.info.voting_ends or None,
            "proposals": s.info.proposals,
            "leading_proposal_votes": s.info.leading_votes,
        }
    return {
        "network": ledger.deployment.network,
        "coordinator": ledger.deployment.coordinator,
        "chain_time": s.now,
        "current_round": s.current,
        "can_close": s.can_close,
        "round": round_json,
        "rules": {
            "duration": s.rules.duration,
            "aggregation_timeout": s.rules.aggregation_timeout,
            "contribution_target": s.rules.contribution_target,
            "verification_grace": s.rules.verification_grace,
            "reward_base": str(s.reward_rule.base),
            "max_reward_per_update": str(s.max_reward),
            "enrolment_stake_wei": str(s.enrolment_stake),
            "timelock": ledger.deployment.timelock,
            "timelock_delay": s.timelock_delay,
            "reward_per_score_point": str(s.reward_rule.per_score_point),
            "rejection_limit": s.rejection_limit,
            "open_enrolment": s.open_enrolment,
            "storage_policy": render.enum_name(ledger.deployment.storage_policy),
        },
        "submissions": [render.verdict_json(verdict) for verdict in s.verdicts],
        "oracles": [{"index": index, "address": address} for index, address in s.oracles],
        "quorum": s.quorum,
        "participants": [
            {
                "address": p.address,
                "registered": p.registered,
                "banned": p.banned,
                "accepted": p.accepted,
                "rejected": p.rejected,
                "strikes": p.strikes,
                "tokens": str(p.balance),
                "tokens_human": render.tokens(p.balance, s.symbol),
                "credited": str(p.credited),
            }
            for p in s.participants
        ],
        "token": {
            "symbol": s.symbol,
            "total_supply": str(s.total_supply),
            "total_supply_human": render.tokens(s.total_supply, s.symbol),
        },
        "vault_pool_wei": str(s.pool),
        "vault_pool_human": render.eth(s.pool),
        "global_model_policy": s.gateways[0] if s.gateways else None,
        "gateways": [
            {"address": g.address, "url": g.url, "encryption_key": "0x" + g.encryption_key.hex()}
            for g in (s.gateways[1] if s.gateways else [])
        ],
    }


def _print(ledger: FedLedger, s: _Snapshot) -> None:
    out = render.console()
    deployment = ledger.deployment
    out.print(
        f"[bold]FedLedger[/bold] on {deployment.network} (chain id {deployment.chain_id}), "
        f"coordinator {deployment.coordinator}"
    )
    if s.info is None:
        out.print("training has not started (the admin runs `fedledger admin start`)")
    else:
        _print_round(s)
    out.print(_oracle_table(s))
    out.print(_participant_table(s))
    out.print(
        f"rules: rounds of {units.format_duration(s.rules.duration)}, aggregation timeout "
        f"{units.format_duration(s.rules.aggregation_timeout)}, contribution target "
        f"{s.rules.contribution_target or 'none'}, votes taken "
        f"{units.format_duration(s.rules.verification_grace)} after close; reward "
        f"{render.tokens(s.reward_rule.base, s.symbol)} + "
        f"{render.tokens(units.per_logit(s.reward_rule.per_score_point), s.symbol)} per logit "
        f"of score (at most {render.tokens(s.max_reward, s.symbol)} per update); "
        "ban after "
        f"{s.rejection_limit or 'no'} rejections; "
        f"{_enrolment(s)}; storage policy "
        f"{render.enum_name(deployment.storage_policy)}"
    )
    if s.timelock_delay is not None:
        out.print(
            f"admin: timelock {deployment.timelock}, every change waits "
            f"{units.format_duration(s.timelock_delay)} (`fedledger admin ... --schedule`)"
        )
    out.print(
        f"token supply {render.tokens(s.total_supply, s.symbol)}; vault pool {render.eth(s.pool)}"
    )
    if s.gateways is not None:
        policy, gateways = s.gateways
        served = (
            ", ".join(f"{g.address} at {g.url}" for g in gateways)
            if gateways
            else "none registered"
        )
        out.print(f"global models: {policy}; gateways: {served}", highlight=False)


def _enrolment(s: _Snapshot) -> str:
    if not s.open_enrolment:
        return "allowlist"
    if not s.enrolment_stake:
        return "open enrolment"
    return f"open enrolment with a stake of {render.eth(s.enrolment_stake)} per submission"


def _print_round(s: _Snapshot) -> None:
    assert s.info is not None
    info = s.info
    out = render.console()
    state = units.words(info.state)
    lines = [
        f"[bold]round {s.round}[/bold] of {s.current}: {state}",
        f"  global model  {render.hex32(info.global_model)} "
        f"({cid_from_content_hash(info.global_model)})",
        f"  deadline      {render.deadline(info.deadline, s.now)}",
        f"  accepted      {info.accepted}",
    ]
    if info.state == RoundState.OPEN and s.round == s.current:
        lines.append("  can close     " + _can_close(s))
    if info.state != RoundState.OPEN:
        lines.append(f"  closed        {render.deadline(info.closed_at, s.now)}")
    if info.state == RoundState.CLOSED and info.pending:
        lines.append(
            f"  verifying     {info.pending} pending update(s) take votes until "
            f"{render.deadline(info.voting_ends, s.now)}"
        )
    if info.state == RoundState.CLOSED:
        lines.append(
            f"  aggregation   {info.proposals} proposal(s), leading one has "
            f"{info.leading_votes} of {s.quorum} needed"
        )
    out.print("\n".join(lines))
    table = Table(title=f"submissions of round {s.round}", title_justify="left")
    render.add_address_column(table, "participant")
    for column in ("update", "status", "score", "reason", "votes a/r", "reward"):
        table.add_column(
            column, justify="right" if column in ("score", "reward") else "left", overflow="fold"
        )
    for verdict in s.verdicts:
        table.add_row(
            verdict.participant,
            render.short_hex(verdict.content_hash),
            units.words(verdict.status),
            render.score(verdict.score) if verdict.votes else "",
            units.words(verdict.reason_name) if verdict.reason_name else "",
            f"{verdict.accept_votes}/{verdict.reject_votes}",
            render.tokens(verdict.reward, s.symbol) if verdict.reward else "",
        )
    if not s.verdicts:
        table.caption = "no submissions yet"
    out.print(table)


def _can_close(s: _Snapshot) -> str:
    assert s.info is not None
    if s.can_close:
        why = "deadline passed" if s.now >= s.info.deadline else "contribution target met"
        return f"yes, {why} (`fedledger round close --wait`)"
    target = s.rules.contribution_target
    rest = f" or once {target} updates are in play (accepted or pending)" if target else ""
    return f"not yet: at the deadline{rest}"


def _oracle_table(s: _Snapshot) -> Table:
    table = Table(
        title=f"oracles: quorum {s.quorum} of {len(s.oracles)}",
        title_justify="left",
    )
    table.add_column("index", justify="right")
    render.add_address_column(table)
    if s.info is not None:
        table.add_column(f"proposed round {s.round}")
    for index, oracle in s.oracles:
        row = [str(index), oracle]
        if s.info is not None:
            row.append("yes" if s.info.proposed(index) else "")
        table.add_row(*row)
    return table


def _participant_table(s: _Snapshot) -> Table:
    table = Table(title="participants", title_justify="left")
    render.add_address_column(table)
    for column in ("tokens", "accepted", "rejected", "strikes", "standing"):
        table.add_column(column, justify="left" if column == "standing" else "right")
    for p in s.participants:
        standing = "banned" if p.banned else ("registered" if p.registered else "removed")
        table.add_row(
            p.address,
            render.tokens(p.balance, s.symbol),
            str(p.accepted),
            str(p.rejected),
            str(p.strikes),
            standing,
        )
    if not s.participants:
        table.caption = "none registered"
    return table
