"""What a demo run does: :class:`DemoConfig`, with the defaults of ``fedledger demo``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fedledger.chain import valid_quorum
from fedledger.demo.errors import DemoError
from fedledger.ml import ARCHITECTURES, MNIST_CNN, MNIST_MLP
from fedledger.participant import BEHAVIOURS
from fedledger.storage import STORE_KINDS
from fedledger.units import TOKEN_UNIT

#: Short names the command line accepts for the registered architectures.
ARCH_ALIASES = {"mlp": MNIST_MLP.id, "cnn": MNIST_CNN.id}
#: The attacks a malicious participant can run (every behaviour but honest).
ATTACKS = tuple(behaviour for behaviour in BEHAVIOURS if behaviour != "honest")
DEFAULT_ATTACKS = ("sign_flip", "noise", "free_rider")
PARTITIONS = ("iid", "dirichlet")
#: Round duration on the embedded chain: long, because the demo moves the chain's clock
#: to the deadline itself once every submission has settled; nobody waits for it.
EMBEDDED_ROUND_SECONDS = 3_600
#: Round duration against a real chain (--rpc), where the deadline is waited for.
RPC_ROUND_SECONDS = 120


@dataclass(frozen=True)
class DemoConfig:
    """One demo run. ``malicious`` participants (the last ones) cycle through ``attacks``.

    Rewards: ``reward_base`` per accepted update plus ``reward_per_logit`` per logit of mean
    validation-margin gain of the update's contribution, the oracles' score (docs/contracts.md:
    scores are in units of 2**-24 logits); both in token base units (the report shows whole
    tokens).
    """

    oracles: int = 3
    quorum: int = 2
    participants: int = 10
    malicious: int = 3
    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    rounds: int = 5
    seed: int = 0
    partition: str = "iid"
    alpha: float = 0.5
    arch: str = "mlp"
    epochs: int = 1
    samples_per_participant: int | None = None  # None: all training images not held out
    validation_size: int = 2_000
    store: str = "local"
    ipfs_api: str | None = None
    rpc: str | None = None
    #: On a consortium (``--network consortium``): its network's name, and each
    #: organisation's (geth RPC URL, Kubo API URL). Oracle i talks only to organisation
    #: i mod N's nodes, participant j to organisation j mod N's.
    consortium: str | None = None
    organisations: tuple[tuple[str, str], ...] = ()
    #: Seconds oracles may still vote after a close (None: the contract default). A real
    #: chain waits it out in wall-clock time before the aggregate can be proposed.
    verification_grace: int | None = None
    round_duration: int | None = None  # None: EMBEDDED_ROUND_SECONDS or RPC_ROUND_SECONDS
    #: Updates in play (accepted or pending) that let a round close early; None: 0 on the
    #: embedded chain (the demo moves its clock), the honest participants on a real one.
    contribution_target: int | None = None
    aggregation_timeout: int = 600
    rejection_limit: int = 3
    #: Who may read the global models (GatewayRegistry): the demo seals them for its oracles
    #: and its gateway, through which the participants fetch them.
    global_model_policy: str = "members"
    reward_base: int = 0  # token base units: only the measured gain is paid
    reward_per_logit: int = 100 * TOKEN_UNIT  # token base units
    fund_eth: float = 1.0  # per generated account, with --rpc
    round_timeout: float = 600.0  # wall-clock seconds to wait for a round's submissions
    out: Path = field(default_factory=lambda: Path(".fedledger") / "demo")
    json_path: Path | None = None

    def __post_init__(self) -> None:
        if self.oracles < 1 or not valid_quorum(self.quorum, self.oracles):
            raise DemoError(
                f"quorum {self.quorum} of {self.oracles} oracles is invalid: the contract needs "
                "2k > n and k <= n"
            )
        if self.participants < 1 or not 0 <= self.malicious <= self.participants:
            raise DemoError(
                f"{self.malicious} malicious of {self.participants} participants: need "
                "at least one participant and at most all of them malicious"
            )
        unknown = set(self.attacks) - set(ATTACKS)
        if unknown or (self.malicious and not self.attacks):
            raise DemoError(
                f"unknown or missing attacks {sorted(unknown)}; choose from {', '.join(ATTACKS)}"
            )
        if self.partition not in PARTITIONS:
            raise DemoError(f"partition must be one of {', '.join(PARTITIONS)}")
        if self.rounds < 1 or self.epochs < 1:
            raise DemoError("rounds and epochs must be at least 1")
        if self.store not in STORE_KINDS:
            raise DemoError(f"store must be one of {', '.join(STORE_KINDS)}")
        if self.organisations and (self.rpc is None or self.store != "ipfs"):
            raise DemoError("a consortium demo runs on its organisations' geth and Kubo nodes")
        if self.global_model_policy not in ("public", "members", "holders"):
            raise DemoError("global_model_policy must be public, members or holders")
        _ = self.architecture  # raises DemoError for an unknown architecture

    @property
    def architecture(self) -> str:
        """The registered architecture id ``arch`` names."""
        arch = ARCH_ALIASES.get(self.arch, self.arch)
        if arch not in ARCHITECTURES:
            known = ", ".join([*ARCH_ALIASES, *ARCHITECTURES])
            raise DemoError(f"unknown architecture {self.arch!r}; choose one of {known}")
        return arch

    @property
    def embedded(self) -> bool:
        """True when the demo runs its own anvil (no --rpc)."""
        return self.rpc is None

    @property
    def duration(self) -> int:
        if self.round_duration is not None:
            return self.round_duration
        return EMBEDDED_ROUND_SECONDS if self.embedded else RPC_ROUND_SECONDS

    @property
    def target(self) -> int:
        """The contribution target the demo deploys with. On a real chain, whose clock
        cannot be moved, the honest participants: the demo closes a round once every
        participant has submitted (or been banned), and honest updates, never rejected on
        arrival, are all in play then. (A malicious one may be rejected on arrival, so a
        target of every participant could be missed.)"""
        if self.contribution_target is not None:
            return self.contribution_target
        return 0 if self.embedded else self.participants - self.malicious

    @property
    def alpha_or_none(self) -> float | None:
        """The Dirichlet alpha, or None for an IID split."""
        return self.alpha if self.partition == "dirichlet" else None

    def organisation_of(self, index: int) -> tuple[str, str] | None:
        """(RPC URL, Kubo API) of the organisation whose nodes child ``index`` uses."""
        if not self.organisations:
            return None
        return self.organisations[index % len(self.organisations)]

    def behaviours(self) -> list[str]:
        """Each participant's behaviour: honest, then the malicious ones cycling attacks."""
        honest = self.participants - self.malicious
        return ["honest"] * honest + [
            self.attacks[i % len(self.attacks)] for i in range(self.malicious)
        ]

    def report_json(self) -> dict[str, Any]:
        """The configuration as the report's ``config`` object."""
        payload = asdict(self)
        payload["attacks"] = list(self.attacks)
        payload["reward_base"] = _whole_tokens(self.reward_base)
        payload["reward_per_logit"] = _whole_tokens(self.reward_per_logit)
        payload["architecture"] = self.architecture
        payload["round_duration"] = self.duration
        payload["out"] = str(self.out)
        payload["json_path"] = None if self.json_path is None else str(self.json_path)
        return payload


def _whole_tokens(amount: int) -> int | float:
    """Base units as whole tokens, an integer when it is one (the report's numbers)."""
    whole, rest = divmod(amount, TOKEN_UNIT)
    return whole if rest == 0 else amount / TOKEN_UNIT
