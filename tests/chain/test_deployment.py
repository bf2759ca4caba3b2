"""Deployment, the deployment file, FedLedger.connect, and the `fedledger chain` and
`fedledger deploy` commands, in a throw-away project whose chain is the test anvil."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fedledger.chain import (
    Anvil,
    ArtifactSet,
    ChainClient,
    DeployParams,
    FedLedger,
    RoundState,
    StoragePolicy,
    deploy,
    dev_account,
    load_deployment,
    save_deployment,
)
from fedledger.chain.anvil import free_port
from fedledger.chain.deployment import TOKEN_UNIT, Deployment, deployment_path
from fedledger.chain.errors import DeploymentError
from fedledger.chain.keys import PRIVATE_KEY_ENV, write_keystore
from fedledger.chain.timelock import DEFAULT_TIMELOCK_DELAY, PROPOSER_ROLE
from fedledger.cli import main
from fedledger.config import ProjectConfig, load_config
from tests.fixtures.chain import content_hash, write_project


@pytest.fixture
def fresh_project(chain_project: ProjectConfig, chain_snapshot: object) -> Iterator[ProjectConfig]:
    """The test project, without a deployment file left over from another test."""
    deployment_path(chain_project).unlink(missing_ok=True)
    yield chain_project
    deployment_path(chain_project).unlink(missing_ok=True)


def deploy_into(
    config: ProjectConfig, client: ChainClient, artifacts: ArtifactSet, **options: Any
) -> Deployment:
    params = DeployParams(**options)
    deployment = deploy(client, dev_account(0), artifacts, params, network="anvil")
    save_deployment(config, deployment)
    return deployment


def test_the_deployment_file_round_trips(
    fresh_project: ProjectConfig, chain_client: ChainClient, chain_artifacts: ArtifactSet
) -> None:
    deployment = deploy_into(
        fresh_project, chain_client, chain_artifacts, storage_policy=StoragePolicy.ACCEPTED_ONLY
    )
    assert deployment_path(fresh_project) == fresh_project.state_dir / "deployments" / "anvil.json"
    assert load_deployment(fresh_project) == deployment
    assert deployment.admin == deployment.deployer == dev_account(0).address
    assert deployment.artifacts_key == chain_artifacts.key


def test_connect_finds_the_deployment_and_acts_as_an_account(
    fresh_project: ProjectConfig, chain_client: ChainClient, chain_artifacts: ArtifactSet
) -> None:
    oracle = dev_account(1)
    deployment = deploy_into(
        fresh_project,
        chain_client,
        chain_artifacts,
        oracles=(oracle.address,),
        genesis_model=content_hash("g"),
    )
    reader = FedLedger.connect(fresh_project)
    assert reader.account is None
    assert reader.addresses == (deployment.coordinator, deployment.token, deployment.vault)
    assert reader.coordinator.latest_model().content_hash == content_hash("g")
    assert reader.coordinator.storage_policy() is StoragePolicy.AUDIT_ALL
    as_oracle = FedLedger.connect(fresh_project, account=oracle)
    assert as_oracle.coordinator.is_oracle(as_oracle.address)
    with pytest.raises(DeploymentError, match="read-only"):
        reader.redeem(1)


def test_a_missing_or_broken_deployment_file_says_to_deploy(fresh_project: ProjectConfig) -> None:
    with pytest.raises(DeploymentError, match="run `fedledger deploy` first"):
        load_deployment(fresh_project)
    path = deployment_path(fresh_project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    with pytest.raises(DeploymentError, match="not a valid deployment file"):
        load_deployment(fresh_project)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chain_id": 1}, "chain id"),
        ({"genesis_hash": "0x" + "11" * 32}, "restarted"),
        ({"coordinator": "0x" + "22" * 20}, "no contract at"),
        ({"artifacts_key": "0" * 24}, "other contract sources"),
    ],
)
def test_connect_refuses_a_deployment_that_does_not_match_the_chain(
    fresh_project: ProjectConfig,
    chain_client: ChainClient,
    chain_artifacts: ArtifactSet,
    change: dict[str, Any],
    message: str,
) -> None:
    deployment = deploy_into(fresh_project, chain_client, chain_artifacts)
    save_deployment(fresh_project, dataclasses.replace(deployment, **change))
    with pytest.raises(DeploymentError, match=message):
        FedLedger.connect(fresh_project)


def test_configuring_at_deployment_needs_the_deployer_as_admin(
    chain_client: ChainClient, chain_artifacts: ArtifactSet, chain_snapshot: object
) -> None:
    params = DeployParams(admin=dev_account(2).address, oracles=(dev_account(1).address,))
    with pytest.raises(DeploymentError, match="deploying account to be the admin"):
        deploy(chain_client, dev_account(0), chain_artifacts, params)
    handed_over = deploy(
        chain_client, dev_account(0), chain_artifacts, DeployParams(admin=dev_account(2).address)
    )
    assert handed_over.admin == dev_account(2).address


def test_oracles_are_added_with_a_valid_quorum_at_every_step(
    chain_client: ChainClient, chain_artifacts: ArtifactSet, chain_snapshot: object
) -> None:
    oracles = tuple(dev_account(i).address for i in range(1, 6))
    for quorum, expected in ((None, 3), (4, 4), (5, 5)):
        deployment = deploy(
            chain_client,
            dev_account(0),
            chain_artifacts,
            DeployParams(oracles=oracles, quorum=quorum),
        )
        ledger = FedLedger(chain_client, deployment)
        assert (ledger.coordinator.oracle_count(), ledger.coordinator.quorum()) == (5, expected)
        assert ledger.coordinator.oracles() == list(oracles)


# ---- the commands -------------------------------------------------------------------


def run(config: ProjectConfig, *args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"FEDLEDGER_ROOT": str(config.root), **env})
    return result.exit_code, result.output


def test_fedledger_deploy_configures_everything_it_is_told(fresh_project: ProjectConfig) -> None:
    oracles = [dev_account(i).address for i in (1, 2, 3)]
    code, output = run(
        fresh_project, "deploy",
        *[arg for oracle in oracles for arg in ("--oracle", oracle)],
        "--quorum", "3", "--participant", dev_account(9).address,
        "--genesis", "0x" + content_hash("g").hex(), "--storage-policy", "accepted-only",
        "--round-duration", "120", "--aggregation-timeout", "60", "--contribution-target", "4",
        "--reward-base", "2", "--reward-per-logit", "8388608", "--rejection-limit", "5",
        "--open-enrolment", "--token-name", "Test Reward", "--token-symbol", "TST",
    )  # fmt: skip
    assert code == 0, output
    assert "FedLedgerCoordinator" in output and "deployment written to" in output
    ledger = FedLedger.connect(fresh_project)
    coordinator = ledger.coordinator
    assert coordinator.oracles() == oracles and coordinator.quorum() == 3
    assert coordinator.get_participant(dev_account(9).address).registered
    assert coordinator.storage_policy() is StoragePolicy.ACCEPTED_ONLY
    rules = coordinator.round_rules()
    assert (rules.duration, rules.aggregation_timeout, rules.contribution_target) == (120, 60, 4)
    assert (
        coordinator.reward_rule().base == 2 * TOKEN_UNIT
        and coordinator.reward_rule().per_score_point == TOKEN_UNIT // 2
    )
    assert (coordinator.rejection_limit(), coordinator.open_enrolment()) == (5, True)
    assert (ledger.token.name(), ledger.token.symbol()) == ("Test Reward", "TST")
    model = coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (1, RoundState.OPEN, content_hash("g"))


def test_the_old_spelling_reward_per_score_still_works_with_a_deprecation_note(
    fresh_project: ProjectConfig,
) -> None:
    """--reward-per-score (tokens per score point) was deploy's name for what the demo
    calls --reward-per-logit (tokens per logit = 2**24 score points)."""
    runner = CliRunner()
    env = {"FEDLEDGER_ROOT": str(fresh_project.root)}
    old = runner.invoke(main, ["deploy", "--reward-per-score", "0.5"], env=env)
    assert old.exit_code == 0, old.output
    assert "--reward-per-score is deprecated" in old.stderr
    assert "--reward-per-logit" in old.stderr and "deprecated" not in old.stdout
    assert FedLedger.connect(fresh_project).coordinator.reward_rule().per_score_point == (
        TOKEN_UNIT // 2
    )
    new = runner.invoke(main, ["deploy", "--reward-per-logit", "100"], env=env)
    assert new.exit_code == 0 and "deprecated" not in new.output
    assert FedLedger.connect(fresh_project).coordinator.reward_rule().per_score_point == (
        100 * TOKEN_UNIT >> 24
    )
    both = runner.invoke(
        main, ["deploy", "--reward-per-logit", "1", "--reward-per-score", "1"], env=env
    )
    assert both.exit_code == 2 and "not both" in both.output
    assert "--reward-per-score" not in runner.invoke(main, ["deploy", "--help"]).output


def test_fedledger_deploy_works_against_any_rpc_url_with_a_key_from_the_environment(
    fresh_project: ProjectConfig, chain_anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = chain_anvil.rpc_url
    code, output = run(fresh_project, "deploy", "--network", "external", FEDLEDGER_RPC_URL=url)
    assert code == 1 and "needs a signing key" in output and PRIVATE_KEY_ENV in output
    key = "0x" + dev_account(5).key.hex().removeprefix("0x")
    code, output = run(
        fresh_project,
        "deploy",
        "--network",
        "external",
        FEDLEDGER_RPC_URL=url,
        **{PRIVATE_KEY_ENV: key},
    )
    assert code == 0, output
    deployment = load_deployment(fresh_project, "external")
    assert deployment.deployer == dev_account(5).address
    monkeypatch.setenv("FEDLEDGER_RPC_URL", url)
    ledger = FedLedger.connect(load_config(fresh_project.root), "external")  # with PoA middleware
    # Not the embedded dev chain: the admin is a timelock the deployer proposes to.
    assert ledger.timelock is not None and deployment.admin == ledger.timelock.address
    assert ledger.coordinator.owner() == ledger.vault.owner() == ledger.timelock.address
    assert ledger.timelock.min_delay() == DEFAULT_TIMELOCK_DELAY
    assert ledger.timelock.has_role(PROPOSER_ROLE, dev_account(5).address)
    code, output = run(
        fresh_project, "deploy", "--network", "external", "--no-timelock",
        FEDLEDGER_RPC_URL=url, **{PRIVATE_KEY_ENV: key},
    )  # fmt: skip
    assert code == 2 and "always behind a timelock" in output
    deployment_path(fresh_project, "external").unlink()


def test_fedledger_deploy_signs_with_the_key_it_is_given(
    fresh_project: ProjectConfig, tmp_path: Path
) -> None:
    code, output = run(fresh_project, "deploy", "--key", "dev:4")
    assert code == 0, output
    assert load_deployment(fresh_project).deployer == dev_account(4).address
    keystore = write_keystore(dev_account(6), tmp_path / "admin.json", "pw")
    code, output = run(
        fresh_project, "deploy", "--key", str(keystore), FEDLEDGER_KEYSTORE_PASSWORD="pw"
    )
    assert code == 0, output
    assert FedLedger.connect(fresh_project).coordinator.owner() == dev_account(6).address


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("dev:x", "expected dev:N"),
        ("dev:999", "does not exist"),
        ("/no/such/keystore.json", "no such keystore file"),
    ],
)
def test_fedledger_deploy_refuses_a_key_it_cannot_use(
    fresh_project: ProjectConfig, key: str, complaint: str
) -> None:
    code, output = run(fresh_project, "deploy", "--key", key)
    assert code == 1 and complaint in output and "Traceback" not in output


def test_dev_keys_are_refused_off_the_embedded_chain(
    fresh_project: ProjectConfig, chain_anvil: Anvil
) -> None:
    code, output = run(
        fresh_project, "deploy", "--network", "external", "--key", "dev:1",
        FEDLEDGER_RPC_URL=chain_anvil.rpc_url,
    )  # fmt: skip
    assert code == 1 and "only on the embedded chain" in output


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--genesis", "0x1234", "32-byte hex"),
        ("--reward-base", "-1", "non-negative"),
        ("--oracle", "not-an-address", "not an Ethereum address"),
    ],
)
def test_fedledger_deploy_rejects_bad_options(
    fresh_project: ProjectConfig, option: str, value: str, complaint: str
) -> None:
    code, output = run(fresh_project, "deploy", option, value)
    assert code == 2 and complaint in output


def test_chain_status_reports_a_node_it_did_not_start(fresh_project: ProjectConfig) -> None:
    code, output = run(fresh_project, "chain", "status")
    assert code == 0 and "not started by `fedledger chain up`" in output
    code, output = run(fresh_project, "chain", "up")
    assert code == 1 and "already answers" in output


def test_chain_up_status_down(tmp_path: Path, chain_config: ProjectConfig) -> None:
    project = write_project(tmp_path, chain_config, anvil={"port": free_port()})

    code, output = run(project, "chain", "status")
    assert code == 1 and "no node answers" in output
    code, output = run(project, "chain", "up")
    try:
        assert code == 0 and "anvil started at" in output, output
        code, output = run(project, "chain", "status")
        assert code == 0 and "running at" in output
        code, output = run(project, "chain", "up")
        assert code == 0 and "already running" in output
    finally:
        code, output = run(project, "chain", "down")
    assert code == 0 and "stopped" in output
    code, output = run(project, "chain", "down")
    assert "not running" in output
    code, output = run(project, "chain", "up", "--network", "external")
    assert code == 1 and "not embedded" in output


def test_fedledger_deploy_warns_before_replacing_a_deployment_and_keeps_it(
    fresh_project: ProjectConfig,
) -> None:
    history = fresh_project.state_dir / "deployments" / "history"
    deployment_path(fresh_project).unlink(missing_ok=True)
    code, output = run(fresh_project, "deploy")
    assert code == 0, output
    assert "warning" not in output
    before = set(history.glob("anvil-*.json"))
    first = deployment_path(fresh_project).read_text()
    code, output = run(fresh_project, "deploy")
    assert code == 0, output
    coordinator = Deployment.from_json(first).coordinator
    assert output.index("warning:") < output.index("FedLedgerCoordinator")
    assert f"(coordinator {coordinator}) will be replaced" in output
    kept = set(history.glob("anvil-*.json")) - before
    assert [path.read_text() for path in kept] == [first]
    assert f"kept as {kept.pop()}" in output
    assert deployment_path(fresh_project).read_text() != first


def test_the_default_reward_pays_only_the_measured_gain() -> None:
    """No base reward (issue 15: a free-rider or stale update must earn nothing), and the
    rate per score point is 100 tokens per logit at the oracles' score scale."""
    import oracle
    from fedledger.chain.deployment import DEFAULT_REWARD_RULE

    assert DEFAULT_REWARD_RULE.base == 0
    assert DEFAULT_REWARD_RULE.per_score_point == oracle.reward_per_score_point(100 * TOKEN_UNIT)
    assert DEFAULT_REWARD_RULE.reward_for(0) == 0
