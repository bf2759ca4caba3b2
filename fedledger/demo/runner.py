"""``fedledger demo``: federated learning on MNIST, end to end, on a chain.

:class:`Demo` (and :func:`run_demo`) does what an operator and a consortium would do by
hand, with real processes that talk only through the chain and the store:

1. start anvil on a free port (or use ``--rpc``), write the run directory's project
   (:mod:`fedledger.demo.workspace`) and open the store;
2. split MNIST (``federated_split``): one .npz per participant and per oracle;
3. store the seeded genesis model and deploy: admin, oracles with quorum k, participants,
   the reward rule;
4. start n ``fedledger oracle run`` processes and the N participants, a few to a
   ``fedledger participant host`` process (each participant with its own key, data and
   log), then open round 1 on the genesis model once they are ready;
5. drive R rounds: wait until every participant has submitted in the round, close the round
   (on the embedded chain the chain's clock is moved to the deadline first, so nobody
   waits for wall-clock deadlines; against ``--rpc`` the contribution target, the honest
   participants' updates in play, lets it close), wait for the oracles' aggregate to
   finalize it, and measure the new global model on the MNIST test set with the exact evaluator;
6. stop every process and the chain, whatever happened.

Everything it reports is read back from the chain and the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from fedledger.admin import seeded_genesis, start_training
from fedledger.chain import (
    Anvil,
    DeployParams,
    FedLedger,
    GlobalModelPolicy,
    RewardRule,
    RoundRules,
    RoundState,
    StoragePolicy,
    compile_contracts,
    deploy,
    open_client,
    save_deployment,
)
from fedledger.chain.anvil import free_port
from fedledger.chain.errors import RoundCloseTooEarly, RoundNotOpen
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.events import (
    AggregateProposed,
    RoundFinalized,
    RoundSkipped,
    UpdateSubmitted,
)
from fedledger.chain.heads import HeadWatcher
from fedledger.config import ProjectConfig, mnist_directory
from fedledger.consortium.network import network_entry
from fedledger.crypto import (
    Binding,
    GlobalModelBinding,
    OracleKeyFile,
    is_envelope,
    open_envelope,
)
from fedledger.demo.cast import make_cast
from fedledger.demo.children import (
    POLL_SECONDS,
    demo_key_pair,
    died,
    start_gateway,
    start_oracles,
    start_participants,
    wait_until_ready,
)
from fedledger.demo.config import DemoConfig
from fedledger.demo.errors import DemoError
from fedledger.demo.measures import plain_fedavg_accuracy
from fedledger.demo.processes import ProcessGroup, child_environment
from fedledger.demo.report import DemoReport, ParticipantRecord, RoundRecord
from fedledger.demo.workspace import NETWORK, Workspace
from fedledger.ml import (
    ExactEvaluator,
    ModelWeights,
    decode,
    federated_split,
    load_mnist,
)
from fedledger.queries import RoundIndex, read_rewards, round_progress
from fedledger.queries.verdicts import SETTLEMENT_EVENTS
from fedledger.storage import (
    BlobStore,
    cid_from_content_hash,
    open_store,
)
from oracle.key_files import default_key_file

#: Wall-clock seconds the oracles get to finalize a closed round before the demo gives up.
AGGREGATION_WAIT_SECONDS = 300.0


@dataclass
class DemoObserver:
    """What the caller hears while the demo runs (the CLI prints it)."""

    stage: Callable[[str], None] = field(default=lambda message: None)
    #: The round's progress while the demo waits (updates settled, votes, deadline).
    progress: Callable[[str], None] = field(default=lambda message: None)
    round_done: Callable[[RoundRecord], None] = field(default=lambda record: None)


def run_demo(
    config: DemoConfig,
    base: ProjectConfig,
    *,
    admin: LocalAccount | None = None,
    observer: DemoObserver | None = None,
) -> DemoReport:
    """Set up, run every round, report; every process it starts is stopped before it
    returns or raises, Ctrl-C included. See :class:`Demo` for ``admin``."""
    with Demo(config, base, admin=admin, observer=observer) as demo:
        return demo.run()


class Demo:
    """One demo run as a context manager: entering sets everything up (chain, run
    directory, data, deployment, processes), :meth:`run` drives the rounds, leaving stops
    every process and the chain. In between, ``ledger`` and ``store`` are the demo's
    chain and store (tests inspect them before they are gone).

    ``admin`` signs the deployment against ``--rpc`` and funds the accounts the demo
    creates there; on the embedded chain the dev accounts are used.
    """

    def __init__(
        self,
        config: DemoConfig,
        base: ProjectConfig,
        *,
        admin: LocalAccount | None = None,
        observer: DemoObserver | None = None,
    ) -> None:
        if not config.embedded and admin is None:
            raise DemoError("--rpc needs the admin's key to deploy and fund the demo accounts")
        self.config = config
        self.base = base
        self.admin_account = admin
        self.observer = observer or DemoObserver()
        self._stack = ExitStack()

    def __enter__(self) -> Demo:
        self.started = time.monotonic()
        try:
            self._set_up()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    # ---- set-up --------------------------------------------------------------------------

    def _set_up(self) -> None:
        config, stack = self.config, self._stack
        self.workspace = Workspace.prepare(config.out)
        network = self._start_chain()
        self.project = self.workspace.write_project(
            self.base, network, store=config.store, ipfs_api=config.ipfs_api
        )
        self.store: BlobStore = stack.enter_context(
            open_store(self.project, kind=config.store, ipfs_api=config.ipfs_api)
        )
        self.observer.stage(f"run directory {self.workspace.root}")
        paths = self._write_data()
        self.cast = make_cast(
            config, self.workspace, self.project, self.admin_account, self.observer.stage
        )
        self.ledger = self._deploy()
        self.history = RoundIndex(self.ledger)  # the rounds' counts, tokens and gas
        self.processes = stack.enter_context(
            ProcessGroup(child_environment(self.workspace.root, self.cast.child_env))
        )
        # The participants' processes first: they import TensorFlow (seconds) while the
        # gateway, the genesis and the oracles are set up; they wait for round 1.
        started, ready_files = start_participants(
            self.processes, config, self.cast, self.workspace, paths
        )
        self.observer.stage(started)
        self.observer.stage(
            start_gateway(self.processes, config, self.ledger, self.project, self.workspace)
        )
        # The genesis is stored once the oracles' and the gateway's keys are on chain: under
        # a non-public policy it is sealed for them.
        self.genesis = seeded_genesis(
            self.store, config.architecture, config.seed, ledger=self.ledger
        )
        self.genesis_accuracy = self.test_evaluator.evaluate(self.genesis.weights).accuracy
        self.observer.stage(
            f"genesis model {self.genesis.cid}"
            + (
                f" (sealed: global models {config.global_model_policy})"
                if self.genesis.sealed
                else ""
            )
        )
        self.observer.stage(start_oracles(self.processes, config, self.cast, self.workspace, paths))
        # Round 1 opens only once the participants have imported TensorFlow and connected,
        # so neither its deadline nor its time runs while processes start.
        wait_until_ready(self.processes, ready_files)
        start_training(self.ledger, self.genesis)

    def run(self) -> DemoReport:
        """Drive every round and report (call once, inside the ``with`` block)."""
        records = []
        for round_ in range(1, self.config.rounds + 1):
            record = self._drive_round(round_)
            records.append(record)
            self.observer.round_done(record)
        self.processes.wait("participant", timeout=30.0)
        return DemoReport(
            config=self._report_config(),
            genesis_accuracy=self.genesis_accuracy,
            rounds=tuple(records),
            participants=tuple(self._participant_records()),
            seconds=time.monotonic() - self.started,
        )

    def _start_chain(self) -> dict[str, Any]:
        """The run's network entry: a fresh anvil, or the --rpc node."""
        config = self.config
        if config.consortium is not None:
            # Children find their organisation's geth in FEDLEDGER_RPC_URL; the demo itself
            # uses the first organisation's. Confirmations and compiler as the network's.
            return network_entry(self.base.network(config.consortium), str(config.rpc))
        if not config.embedded:
            poa = self.base.networks.get("external")
            return {"host": config.rpc, "poa": bool(poa and poa.poa)}
        embedded = next((n for n in self.base.networks.values() if n.embedded), None)
        if embedded is None:
            raise DemoError("brownie-config.yaml defines no embedded network for the demo's anvil")
        anvil = Anvil.from_config(
            self.base,
            embedded.name,
            port=free_port(),
            accounts=max(embedded.accounts, 1 + config.oracles + config.participants),
            log_path=self.workspace.log_path("anvil"),
        )
        self.observer.stage(f"starting anvil on port {anvil.port}")
        self._stack.enter_context(anvil)
        return {
            "host": f"http://{anvil.host}",
            "port": anvil.port,
            "chain_id": anvil.chain_id,
            "embedded": True,
            "accounts": anvil.accounts,
        }

    def _write_data(self) -> dict[str, list[str]]:
        config = self.config
        split_kind = "IID" if config.partition == "iid" else f"Dirichlet({config.alpha})"
        self.observer.stage(
            f"splitting MNIST {split_kind} among {config.participants} participants and "
            f"{config.oracles} oracles"
        )
        mnist = load_mnist(mnist_directory(self.base.root))
        split = federated_split(
            mnist,
            num_clients=config.participants,
            num_oracles=config.oracles,
            validation_size=config.validation_size,
            samples_per_client=config.samples_per_participant,
            alpha=config.alpha_or_none,
            seed=config.seed,
        )
        self.test_evaluator = ExactEvaluator(split.test, config.architecture)
        # The test images too, for `fedledger dashboard --eval` and `fedledger rounds --eval`.
        self.workspace.write_dataset("test", split.test)
        return {
            "participant": [
                str(self.workspace.write_dataset(f"participant-{i + 1:02d}", data))
                for i, data in enumerate(split.clients)
            ],
            "oracle": [
                str(self.workspace.write_dataset(f"oracle-{i + 1}-validation", data))
                for i, data in enumerate(split.validation)
            ],
        }

    def _deploy(self) -> FedLedger:
        import oracle

        config, cast = self.config, self.cast
        artifacts = compile_contracts(self.project)
        client = open_client(self.project, NETWORK, artifacts)
        self.reward_rule = RewardRule(
            base=config.reward_base,
            per_score_point=oracle.reward_per_score_point(config.reward_per_logit),
        )
        params = DeployParams(
            storage_policy=StoragePolicy.AUDIT_ALL,
            round_rules=RoundRules(
                config.duration,
                config.aggregation_timeout,
                config.target,
                **(
                    {"verification_grace": config.verification_grace}
                    if config.verification_grace is not None
                    else {}
                ),
            ),
            reward_rule=self.reward_rule,
            rejection_limit=config.rejection_limit,
            oracles=tuple(account.address for account in cast.oracles),
            quorum=config.quorum,
            participants=tuple(account.address for account in cast.participants),
            global_model_policy=GlobalModelPolicy[config.global_model_policy.upper()],
        )
        self.observer.stage(
            f"deploying: {config.oracles} oracles (quorum {config.quorum}), "
            f"{config.participants} participants; global models {config.global_model_policy}"
        )
        deployment = deploy(client, cast.admin, artifacts, params, network=NETWORK)
        save_deployment(self.project, deployment)
        ledger = FedLedger(client, deployment, cast.admin)
        self.observer.stage(f"registering {config.oracles} oracles' encryption keys")
        for account in cast.oracles:
            keys = OracleKeyFile.create(
                default_key_file(self.project, account.address),
                demo_key_pair(config, account.address),
            )
            ledger.with_account(account).coordinator.register_encryption_key(
                keys.current.public_key
            )
        return ledger

    # ---- rounds --------------------------------------------------------------------------

    def _drive_round(self, round_: int) -> RoundRecord:
        began = time.monotonic()
        coordinator = self.ledger.coordinator
        self.observer.stage(f"round {round_}: waiting for the submissions")
        self._wait_until_closable(round_)
        info = coordinator.get_round(round_)
        if info.state == RoundState.OPEN:
            if self.config.embedded and not coordinator.can_close_round():
                # Everyone has submitted: move the chain's clock past the deadline.
                now = self.ledger.client.chain_time()
                self.ledger.dev.increase_time(max(info.deadline - now, 0) + 1)
            self._close(round_)
        state = self._wait_for_end(round_)
        produced = coordinator.get_round(round_ + 1).global_model
        (summary,) = [s for s in self.history.refresh() if s.round == round_]
        return RoundRecord(
            round=round_,
            state=state.name.lower(),
            global_model_hash="0x" + produced.hex(),
            test_accuracy=self.test_evaluator.evaluate(self._fetch(produced)).accuracy,
            plain_fedavg_accuracy=plain_fedavg_accuracy(
                self.ledger, self._open_update, self.test_evaluator, round_
            ),
            accepted=summary.accepted,
            rejected=summary.rejected,
            tokens_minted=summary.tokens_minted,
            gas_used=summary.gas_used,
            seconds=time.monotonic() - began,
        )

    def _close(self, round_: int) -> None:
        """Close the round. An oracle node may have closed it first (they do once the
        deadline is past). On a chain with real blocks the pending block (where
        canCloseRound is judged) may already hold the submission that meets the target while
        the latest block (where the close is estimated) does not yet: try again a block
        later; a target the round cannot meet (too many bans) leaves it to the deadline."""
        coordinator = self.ledger.coordinator
        to_deadline = coordinator.get_round(round_).deadline - self.ledger.client.chain_time()
        give_up = time.monotonic() + max(to_deadline, 0) + self.config.round_timeout
        while True:
            try:
                with suppress(RoundNotOpen):
                    self.ledger.coordinator.close_round()
                return
            except RoundCloseTooEarly:
                if self.config.embedded or time.monotonic() > give_up:
                    raise
                time.sleep(POLL_SECONDS)

    def _wait_until_closable(self, round_: int) -> None:
        """Until every participant has either submitted in the round or been banned (or the
        round timeout passed; on a real chain, or its deadline). The oracles vote at close
        (they judge the round's updates together), so the round may close then: on the
        embedded chain the demo moves the clock, on a real one the contribution target
        (the honest participants by default) lets it close."""
        coordinator = self.ledger.coordinator
        give_up = time.monotonic() + self.config.round_timeout
        deadline = coordinator.get_round(round_).deadline
        # Who is banned can change only through a rejection, which settles an update the
        # participant submitted: one without a submission here was banned before the round
        # or not at all, so the bans are read once, not at every block.
        banned = {
            account.address
            for account in self.cast.participants
            if coordinator.get_participant(account.address).banned
        }
        # Woken by submissions and settlements (what the check and the progress line show).
        watcher = self._watch(UpdateSubmitted, *SETTLEMENT_EVENTS)
        while True:
            mark = watcher.mark()
            self._check_children()
            progress = round_progress(self.ledger, round_)
            self.observer.progress(progress.summary())
            submitted = {v.participant for v in progress.verdicts}
            waiting = [
                account.address
                for account in self.cast.participants
                if account.address not in submitted and account.address not in banned
            ]
            if not waiting:
                return
            if not self.config.embedded and self.ledger.client.chain_time() > deadline:
                return  # nobody can submit any more
            if time.monotonic() > give_up:
                self.observer.stage(
                    f"round {round_}: {len(waiting)} participant(s) without an "
                    f"update after {self.config.round_timeout:g} s; closing anyway "
                    "(pending updates keep the verification grace, then expire)"
                )
                return
            watcher.wait(mark, POLL_SECONDS)

    def _watch(self, *event_types: type[ChainEvent]) -> HeadWatcher:
        """The watcher of the blocks with the coordinator's events of ``event_types``; on a
        real chain (where a round may close at its deadline, with no event of the
        coordinator), of every block."""
        if not self.config.embedded:
            return self.ledger.client.heads
        return self.ledger.client.event_watcher(self.ledger.coordinator.address, event_types)

    def _wait_for_end(self, round_: int) -> RoundState:
        coordinator = self.ledger.coordinator
        give_up = time.monotonic() + max(AGGREGATION_WAIT_SECONDS, self.config.aggregation_timeout)
        watcher = self._watch(AggregateProposed, RoundFinalized, RoundSkipped)
        while True:
            mark = watcher.mark()
            info = coordinator.get_round(round_)
            state = info.state
            if state.ended:
                return state
            self.observer.progress(
                f"round {round_} closed: waiting for the oracles' aggregate "
                f"({info.leading_votes} of {self.config.quorum} matching proposals)"
            )
            self._check_children()
            if time.monotonic() > give_up:
                raise DemoError(
                    f"round {round_} was not finalized: the oracles did not agree on an "
                    f"aggregate; see their logs in {self.workspace.logs_dir}"
                )
            watcher.wait(mark, POLL_SECONDS)

    def _check_children(self) -> None:
        """Fail fast when an oracle dies, or a participant process fails (it exits 0 once
        each of its participants has finished its rounds or been banned)."""
        for child in self.processes.exited("oracle"):
            raise DemoError(died(child))
        for child in self.processes.exited("participant"):
            if child.returncode != 0:
                raise DemoError(died(child))

    def _fetch(self, digest: bytes) -> ModelWeights:
        """A global model; a sealed one opened with the first oracle's key file."""
        blob = self.store.get(cid_from_content_hash(digest))
        if is_envelope(blob):
            keys = OracleKeyFile.load(default_key_file(self.project, self.cast.oracles[0].address))
            binding = GlobalModelBinding(
                self.ledger.deployment.chain_id, self.ledger.coordinator.address
            )
            blob = open_envelope(blob, binding, [pair.private_key for pair in keys.keys])
        return decode(blob, max_bytes=self.project.storage.max_blob_bytes)

    def _open_update(self, event: UpdateSubmitted) -> ModelWeights:
        """A submitted update, opened with the first oracle's key file (the demo made the
        oracles' keys, so it can read what they read); EnvelopeError if it does not open."""
        keys = OracleKeyFile.load(default_key_file(self.project, self.cast.oracles[0].address))
        binding = Binding(
            self.ledger.deployment.chain_id,
            self.ledger.coordinator.address,
            event.round,
            event.participant,
        )
        blob = self.store.get(cid_from_content_hash(event.content_hash))
        plaintext = open_envelope(blob, binding, [pair.private_key for pair in keys.keys])
        return decode(plaintext, max_bytes=self.project.storage.max_blob_bytes)

    # ---- report --------------------------------------------------------------------------

    def _participant_records(self) -> list[ParticipantRecord]:
        records = []
        for account, behaviour in zip(
            self.cast.participants, self.config.behaviours(), strict=True
        ):
            standing = read_rewards(self.ledger, account.address)
            records.append(
                ParticipantRecord(
                    address=account.address,
                    behaviour=behaviour,
                    accepted=standing.accepted,
                    rejected=standing.rejected,
                    tokens=standing.balance + standing.credited,
                    banned=standing.banned,
                )
            )
        return records

    def _report_config(self) -> dict[str, Any]:
        deployment = self.ledger.deployment
        return self.config.report_json() | {
            "network": {
                "rpc_url": self.project.network(NETWORK).rpc_url,
                "chain_id": deployment.chain_id,
                "coordinator": deployment.coordinator,
                "token": deployment.token,
                "vault": deployment.vault,
            },
            "reward_rule": {
                "base": str(self.reward_rule.base),
                "per_score_point": str(self.reward_rule.per_score_point),
            },
            "genesis_model_hash": "0x" + self.genesis.content_hash.hex(),
            "genesis_test_accuracy": self.genesis_accuracy,
            "run_directory": str(self.workspace.root),
        }
