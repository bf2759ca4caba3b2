"""Attacks against federated learning: plain FedAvg, verified FedAvg and robust aggregators.

    .venv/bin/python scripts/bench_attacks.py [--json PATH] [--workers N] [--quick]
        [--partitions iid,dirichlet0.5] [--attacks ...] [--methods ...] [--fresh]

MNIST, the MLP, 20 clients of 500 images (30 % malicious), 10 rounds of one local epoch,
on IID, Dirichlet(0.5), Dirichlet(0.1) and 2-classes-per-client partitions. One scenario
per attack plus a run without attack; against ``verified`` the attackers are adaptive
(they run the public Verifier on their own data and tune their strength every round from
its verdicts and the oracles'; docs/verification.md). Each scenario is run with:

- ``fedavg``: FedAvg as published, weighted by the sample counts clients claim;
- ``verified``: FedLedger -- 3 oracles, each with its own 2,000 validation images, judge
  the round with :meth:`oracle.verification.Verifier.judge_round`; 2 agreeing votes
  settle an update (the contract's k-of-n rule, recorded score = the lowest agreeing
  score); the accepted updates are aggregated with the bit-exact
  :func:`fedledger.ml.aggregation.bounded_fedavg` (clipped to the median norm, equal
  weights), kept only if 2 oracles ``approve`` it; an accepted update earns
  ``base + perScorePoint * score`` tokens;
- ``krum`` (f = 6), ``median``, ``trimmed_mean`` (30 % cut at each end) from
  :mod:`fedledger.ml.robust` (checked against Flower 1.41.0's
  ``flwr.server.strategy.aggregate`` on the same inputs by tests/ml/test_robust_flower.py).

Every run (partition, attack, method) is written to ``results/bench_attacks/runs/`` as soon
as it ends and reused by later invocations (``--fresh`` recomputes), so the benchmark can be
resumed and split. Runs go to ``--workers`` processes (one BLAS/TensorFlow thread each).
Then the script prints the markdown table, writes ``--json``, the table and the plots.
``--quick`` is 10 clients (3 malicious), 3 rounds, 200 images each, 500 validation images,
the issue's attacks only.

Local training is a :class:`fedledger.ml.training.LocalTrainer`: one Keras model per run
(building and tracing a fresh model costs more than a client's epoch) that returns what
``train_local`` returns, bit for bit; each run checks that again before it starts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# One thread per worker process, set before numpy or TensorFlow load (fedledger.threads
# imports neither).
from fedledger.threads import THREAD_VARIABLES

for _name in THREAD_VARIABLES:
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fedledger.chain.deployment import DEFAULT_REWARD_RULE  # noqa: E402
from fedledger.config import find_root, mnist_directory  # noqa: E402
from fedledger.ml import (  # noqa: E402
    MNIST_MLP,
    Dataset,
    Evaluation,
    ExactEvaluator,
    FederatedSplit,
    ModelWeights,
    WeightsOutOfRange,
    attacks,
    federated_split,
    initial_weights,
    load_mnist,
    robust,
)
from fedledger.ml.aggregation import bounded_fedavg  # noqa: E402
from oracle.duplicates import Step, first_duplicated  # noqa: E402
from oracle.verification import Verifier, VerifierParams  # noqa: E402

if TYPE_CHECKING:
    from fedledger.ml.training import LocalTrainer

#: partition name -> federated_split's keyword (alpha or classes_per_client)
PARTITIONS: dict[str, dict[str, float]] = {
    "iid": {},
    "dirichlet0.5": {"alpha": 0.5},
    "dirichlet0.1": {"alpha": 0.1},
    "classes2": {"classes_per_client": 2},
}
ATTACKS = (
    "none",
    "min_max",
    "min_sum",
    "alie",
    "ipm0.1",
    "ipm0.5",
    "sign_flip",
    "label_flip",
    "backdoor",
    "free_rider",
    "delta_rider",
    "stale",
    "scaling",
    "noise",
    "sample_inflation",
    "copycat",
)
#: Attacks whose strength the attackers tune every round against the public Verifier.
ADAPTIVE = frozenset(
    {
        "min_max",
        "min_sum",
        "alie",
        "sign_flip",
        "label_flip",
        "backdoor",
        "free_rider",
        "delta_rider",
        "scaling",
    }
)
#: Relative noise each colluder adds to the crafted vector so that the copies are no
#: duplicates of each other under oracle.duplicates' public rule (25 % L1).
COPY_NOISE_RELATIVE = 0.3
#: Starting strength per adaptive attack (the scale multiplies it; it halves or doubles).
START = {"free_rider": 1e-3}
METHODS = ("fedavg", "verified", "krum", "median", "trimmed_mean")
VERIFYING_METHODS = ("verified",)

#: The reward rule: the deployment default (no base reward, 100 tokens per logit of
#: measured gain; token base units, 18 decimals).
REWARD_BASE = DEFAULT_REWARD_RULE.base
REWARD_PER_SCORE_POINT = DEFAULT_REWARD_RULE.per_score_point


@dataclass(frozen=True)
class Setting:
    clients: int = 20
    rounds: int = 10
    malicious_fraction: float = 0.3
    oracles: int = 3
    quorum: int = 2
    validation_size: int = 2000
    samples_per_client: int | None = 500  # None: all training images not held out
    seed: int = 0
    epochs: int = 1

    @property
    def malicious_count(self) -> int:
        return round(self.malicious_fraction * self.clients)


FULL = Setting()
QUICK = Setting(clients=10, rounds=3, samples_per_client=200, validation_size=500)
#: The attacks of a --quick run: the issue's matrix (the older ones run in the full one).
QUICK_ATTACKS = (
    "none",
    "min_max",
    "min_sum",
    "alie",
    "ipm0.1",
    "ipm0.5",
    "sign_flip",
    "label_flip",
    "backdoor",
    "free_rider",
    "delta_rider",
    "stale",
)


# --- local training ------------------------------------------------------------------------


def check_trainer(trainer: LocalTrainer, split: FederatedSplit) -> None:
    """Refuse to run if the reused model does not reproduce ``train_local`` bit for bit."""
    from fedledger.ml.training import TrainingConfig, train_local

    start = initial_weights(MNIST_MLP.id, 1)
    for client in (0, 1):
        data = split.clients[client]
        ours = trainer.train(start, data, TrainingConfig(seed=client))
        reference = train_local(start, data, TrainingConfig(seed=client))
        if ours != reference:
            raise SystemExit("the benchmark trainer no longer reproduces train_local bit for bit")


# --- one run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    partition: str
    attack: str
    method: str
    final_test_accuracy: float
    accuracy_per_round: list[float]
    honest_acceptance: float | None
    malicious_acceptance: float | None
    backdoor_success: float | None
    tokens_honest: str | None
    tokens_malicious: str | None
    backdoor_success_per_round: list[float] | None = None
    #: the malicious clients' share of the aggregate's weight, mean over rounds (FedAvg's
    #: sample weights, 1/K per accepted update for verified FedAvg, Krum's pick)
    malicious_weight_share: float | None = None
    rejected_by_check: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: the adaptive attackers' chosen strength per round (1 = the attack as published)
    strength_per_round: list[float] | None = None
    #: rounds in which the oracles' guard refused the aggregate (the model was kept)
    guard_refusals: int | None = None


def accuracy_of(evaluator: ExactEvaluator, model: ModelWeights, dataset: Dataset) -> Evaluation:
    """The exact evaluation, or for a model outside the exact range (a diverged baseline)
    the same counts from a plain float64 forward pass (argmax, lowest class on ties)."""
    try:
        return evaluator.evaluate(model)
    except WeightsOutOfRange:
        pass
    activations = dataset.images.reshape(len(dataset), -1).astype(np.float64) / 256
    arrays = [a.astype(np.float64) for a in model.arrays]
    for index in range(0, len(arrays), 2):
        activations = activations @ arrays[index] + arrays[index + 1]
        if index + 2 < len(arrays):
            np.maximum(activations, 0, out=activations)
    predictions = np.argmax(np.nan_to_num(activations, nan=-np.inf), axis=1)
    pairs = dataset.labels.astype(np.intp) * 10 + predictions
    confusion = np.bincount(pairs, minlength=100).reshape(10, 10)
    return Evaluation(
        architecture=model.architecture,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        margin_sums=(0,) * 10,
        saturated=0,
    )


def client_seed(setting: Setting, round_index: int, client: int) -> int:
    return setting.seed * 1_000_003 + round_index * 1_009 + client


def _without_first_layer(global_model: ModelWeights, noisy: ModelWeights) -> ModelWeights:
    """``noisy`` with the first layer's kernel put back to the global model's (the issue's
    free-rider: noise that the dormant-input check cannot see)."""
    return ModelWeights(global_model.architecture, (global_model.arrays[0], *noisy.arrays[1:]))


def craft(
    attack: str,
    strength: float,
    global_model: ModelWeights,
    honest: list[ModelWeights],
    own: ModelWeights,
    poisoned: ModelWeights | None,
    flipped: ModelWeights | None,
    previous: ModelWeights,
    seed: int,
    clients: int,
    colluders: int,
) -> ModelWeights:
    """One malicious update at ``strength`` (1 = the attack as published). ``honest``: the
    round's honest updates (full knowledge, the issue's threat model); ``own``: the
    attacker's honest update; ``previous``: the global model of the round before."""
    if attack in ("min_max", "min_sum", "alie", "ipm0.1", "ipm0.5"):
        benign = attacks.deltas(global_model, honest)
        if attack == "min_max":
            delta = attacks.min_max(benign, strength)
        elif attack == "min_sum":
            delta = attacks.min_sum(benign, strength)
        elif attack == "alie":
            delta = attacks.alie(benign, strength * attacks.alie_z(clients, colluders))
        else:
            delta = attacks.ipm(benign, float(attack[3:]))
        # every colluder re-noises the vector, each coordinate in proportion to its size (so
        # weights the vector leaves alone stay put): no two copies are duplicates under
        # oracle.duplicates' public rule, and the dormant-input check sees no noise
        rng = np.random.default_rng(seed)
        delta = delta * (1.0 + COPY_NOISE_RELATIVE * rng.standard_normal(delta.shape))
        return attacks.from_delta(global_model, delta)
    if attack == "sign_flip":
        return attacks.sign_flip(global_model, own, strength)
    if attack == "scaling":
        return attacks.boost(global_model, own, 10.0 * strength)
    if attack == "label_flip":
        assert flipped is not None
        return attacks.boost(global_model, flipped, strength)
    if attack == "backdoor":  # constrain-and-scale: the poisoned model boosted to pass
        assert poisoned is not None
        return attacks.boost(global_model, poisoned, strength)
    if attack == "free_rider":
        noisy = attacks.gaussian_noise(global_model, START["free_rider"] * strength, seed)
        return _without_first_layer(global_model, noisy)
    if attack == "delta_rider":  # Lin et al. 2019's "delta weights": the last global step again
        return attacks.from_delta(
            global_model, strength * attacks.deltas(previous, [global_model])[0]
        )
    if attack == "stale":
        return previous
    if attack == "noise":
        return attacks.gaussian_noise(global_model, attacks.NOISE_STD, seed)
    raise ValueError(f"unknown attack {attack!r}")


@dataclass
class Adversary:
    """The colluding attackers' tuning: the strength they submit at, the public Verifier
    run on data of their own (the union of their local data, never the oracles'), and the
    verdicts they saw."""

    verifier: Verifier | None
    strength: float = 1.0

    #: True when more strength makes the update *more* likely to pass (a free-rider's
    #: noise: too little of it looks like no work at all)
    upward: bool = False

    def choose(self, attempt: Any) -> float:
        """The strongest of ``2s, s, s/2`` (s the current strength) at which their own
        verifier accepts every malicious update of the round, else ``s/4``; for an upward
        attack the weakest of ``s, 4s, 16s, 64s`` that passes, else ``64s``.
        ``attempt(strength)`` returns the own verifier's verdicts on the malicious ones."""
        s = self.strength
        ladder = (s, 4 * s, 16 * s, 64 * s) if self.upward else (2 * s, s, s / 2)
        for candidate in ladder:
            if all(v.accept for v in attempt(candidate)):
                return candidate
        return 64 * s if self.upward else s / 4

    def observe(self, chosen: float, accepted: int, offered: int) -> None:
        """The oracles' verdicts: keep the strength that got through, else back off (halve
        it; for an upward attack, double it)."""
        passed = offered and 2 * accepted >= offered
        self.strength = chosen if passed else (2 * chosen if self.upward else chosen / 2)


def submissions(
    attack: str,
    global_model: ModelWeights,
    previous: ModelWeights,
    split: FederatedSplit,
    malicious: frozenset[int],
    round_index: int,
    setting: Setting,
    trainer: LocalTrainer,
    adversary: Adversary | None,
) -> tuple[list[tuple[ModelWeights, int]], float]:
    """Every client's (update, claimed sample count) for one round, and the strength the
    attackers chose."""
    from fedledger.ml.training import TrainingConfig

    train = _shared_training(trainer) if round_index == 0 else trainer.train
    honest: dict[int, ModelWeights] = {}
    own: dict[int, tuple[ModelWeights, ModelWeights | None, ModelWeights | None]] = {}
    counts = {}
    for client, data in enumerate(split.clients):
        seed = client_seed(setting, round_index, client)
        config = TrainingConfig(epochs=setting.epochs, seed=seed)
        counts[client] = len(data)
        if client not in malicious or attack == "none":
            honest[client] = train(global_model, data, config)
        elif attack == "sample_inflation":
            honest[client] = train(global_model, data, config)
            counts[client] *= attacks.INFLATION_FACTOR
        elif attack == "copycat":
            continue
        else:
            needs_own = attack in ("sign_flip", "scaling")
            trained = train(global_model, data, config) if needs_own else global_model
            poisoned = (
                trainer.train(
                    global_model,
                    attacks.poison_with_trigger(data, attacks.CENTER_TRIGGER, seed=seed),
                    config,
                )
                if attack == "backdoor"
                else None
            )
            flipped = (
                trainer.train(global_model, attacks.flip_labels(data), config)
                if attack == "label_flip"
                else None
            )
            own[client] = (trained, poisoned, flipped)
    honest_list = [honest[c] for c in sorted(honest) if c not in malicious]

    def build(strength: float) -> dict[int, ModelWeights]:
        return {
            client: craft(
                attack,
                strength,
                global_model,
                honest_list,
                trained,
                poisoned,
                flipped,
                previous,
                client_seed(setting, round_index, client),
                setting.clients,
                setting.malicious_count,
            )
            for client, (trained, poisoned, flipped) in own.items()
        }

    strength = 1.0
    if own and adversary is not None and adversary.verifier is not None and attack in ADAPTIVE:
        verifier = adversary.verifier

        def attempt(candidate: float) -> list[Any]:
            crafted = build(candidate)
            judged = verifier.judge_round(global_model, honest_list + list(crafted.values()))
            return list(judged.verdicts[len(honest_list) :])

        strength = adversary.choose(attempt)
    crafted = build(strength)
    out = []
    for client in range(len(split.clients)):
        if client in honest:
            out.append((honest[client], counts[client]))
        elif attack == "copycat":
            out.append((None, counts[client]))  # type: ignore[arg-type]
        else:
            out.append((crafted[client], counts[client]))
    if attack == "copycat":
        # Colluders re-seal the first honest client's plaintext with tiny noise (an exact
        # copy of its sealed blob fails to authenticate: tests/oracle/test_copies.py).
        partner = next(u for u, _ in out if u is not None)
        out = [
            (
                u
                if u is not None
                else attacks.noisy_copy(
                    global_model, partner, attacks.COLLUDER_NOISE_RELATIVE, client
                ),
                n,
            )
            for client, (u, n) in enumerate(out)
        ]
    return out, strength


def settle(verdicts: list[Any], quorum: int) -> tuple[bool, int] | None:
    """The contract's rule: the quorum-th agreeing vote settles; the recorded score is the
    lowest among the agreeing votes. None if the votes never reach the quorum."""
    accepts: list[int] = []
    rejects = 0
    for verdict in verdicts:
        if verdict.accept:
            accepts.append(verdict.score)
            if len(accepts) == quorum:
                return True, min(accepts)
        else:
            rejects += 1
            if rejects == quorum:
                return False, 0
    return None


@cache  # one Keras model per worker process, checked once per split
def checked_trainer(partition: str, setting: Setting) -> LocalTrainer:
    trainer = _trainer()
    check_trainer(trainer, make_split(partition, setting))
    return trainer


def _shared_training(trainer: LocalTrainer) -> Any:
    """``trainer.train`` remembering the first round's trainings: every run of a partition
    starts from the same initial model with the same seeds, so they are the same bytes."""

    def train(start: ModelWeights, data: Dataset, config: Any) -> ModelWeights:
        digest = hashlib.sha256(b"".join(a.tobytes() for a in start.arrays)).digest()
        key = (digest, id(data), config.seed, config.epochs)
        if key not in _ROUND_ZERO:
            _ROUND_ZERO[key] = trainer.train(start, data, config)
        return _ROUND_ZERO[key]

    return train


#: First-round trainings of this worker process (see _shared_training).
_ROUND_ZERO: dict[Any, ModelWeights] = {}


@cache
def _trainer() -> LocalTrainer:
    from fedledger.ml.training import LocalTrainer  # Keras: in the worker only

    return LocalTrainer(MNIST_MLP)


def run(
    partition: str, attack: str, method: str, setting: Setting, params: VerifierParams
) -> RunResult:
    started = time.perf_counter()
    split = make_split(partition, setting)
    malicious = malicious_clients(setting)
    trainer = checked_trainer(partition, setting)
    test = ExactEvaluator(split.test, MNIST_MLP.id)
    backdoor_set = attacks.triggered_test_set(split.test, attacks.CENTER_TRIGGER)
    # Measured without attack too: the share of triggered images a clean model already calls
    # the target (the rate the backdoor's success is to be read against).
    backdoor = (
        ExactEvaluator(backdoor_set, MNIST_MLP.id) if attack in ("backdoor", "none") else None
    )
    verifiers = [Verifier(MNIST_MLP.id, v, params) for v in split.validation]
    adversary = None
    if method in VERIFYING_METHODS and attack in ADAPTIVE:
        adversary = Adversary(
            Verifier(MNIST_MLP.id, attacker_data(split, malicious, setting), params),
            upward=attack == "free_rider",
        )
    global_model = initial_weights(MNIST_MLP.id, setting.seed)
    previous = global_model
    accuracy, asr, strengths = [], [], []
    accepted = {True: 0, False: 0}
    offered = {True: 0, False: 0}
    tokens = {True: 0, False: 0}
    shares: list[float] = []
    checks: dict[str, int] = {}
    guard_refusals = 0
    for round_index in range(setting.rounds):
        subs, strength = submissions(
            attack,
            global_model,
            previous,
            split,
            malicious,
            round_index,
            setting,
            trainer,
            adversary,
        )
        strengths.append(strength)
        updates = [u for u, _ in subs]
        is_bad = [c in malicious and attack != "none" for c in range(len(subs))]
        if method == "fedavg":
            counts = [n for _, n in subs]
            new = robust.weighted_fedavg(updates, counts)
            shares.append(sum(n for n, b in zip(counts, is_bad, strict=True) if b) / sum(counts))
        elif method == "krum":
            new = robust.krum(updates, setting.malicious_count)
            shares.append(float(any(new is u and b for u, b in zip(updates, is_bad, strict=True))))
        elif method == "median":
            new = robust.coordinate_median(updates)
        elif method == "trimmed_mean":
            new = robust.trimmed_mean(updates, setting.malicious_fraction)
        elif method == "verified":
            candidates: list[tuple[ModelWeights, bool]] = []
            steps: list[tuple[str, Step]] = []  # the oracles' duplicate check, in order
            # Copiers submit after the partner whose plaintext they copy: honest ones first.
            for update, bad in sorted(zip(updates, is_bad, strict=True), key=lambda p: p[1]):
                step = Step.of(update, global_model)
                offered[bad] += 1
                if first_duplicated(step, steps) is not None:
                    checks["duplicate"] = checks.get("duplicate", 0) + 1
                    continue
                steps.append(("", step))
                candidates.append((update, bad))
            judged = [
                v.judge_round(global_model, [u for u, _ in candidates]).verdicts for v in verifiers
            ]
            kept = []
            bad_accepted = bad_offered = 0
            for index, (update, bad) in enumerate(candidates):
                verdicts = [j[index] for j in judged]
                outcome = settle(verdicts, setting.quorum)
                bad_offered += bad
                if outcome is not None and outcome[0]:
                    accepted[bad] += 1
                    bad_accepted += bad
                    tokens[bad] += REWARD_BASE + REWARD_PER_SCORE_POINT * outcome[1]
                    kept.append((update, bad))
                else:
                    for verdict in verdicts:
                        if not verdict.accept:
                            checks[str(verdict.check)] = checks.get(str(verdict.check), 0) + 1
            if adversary is not None:
                adversary.observe(strength, bad_accepted, bad_offered)
            new = global_model
            if kept:
                candidate = bounded_fedavg(global_model, [u for u, _ in kept], [1] * len(kept))
                approvals = sum(v.approve(global_model, candidate.model) for v in verifiers)
                if approvals >= setting.quorum:
                    new = candidate.model
                else:
                    guard_refusals += 1
            shares.append(sum(b for _, b in kept) / len(kept) if kept else 0.0)
        else:
            raise ValueError(f"unknown method {method!r}")
        if new is not global_model:
            previous = global_model
        global_model = new
        accuracy.append(accuracy_of(test, global_model, split.test).accuracy)
        if backdoor is not None:
            triggered = accuracy_of(backdoor, global_model, backdoor_set)
            asr.append(attacks.attack_success_rate(triggered))
    verifying = method in VERIFYING_METHODS
    has_attackers = attack != "none"
    return RunResult(
        partition=partition,
        attack=attack,
        method=method,
        final_test_accuracy=accuracy[-1],
        accuracy_per_round=accuracy,
        honest_acceptance=accepted[False] / offered[False] if verifying else None,
        malicious_acceptance=(
            accepted[True] / offered[True] if verifying and has_attackers else None
        ),
        backdoor_success=asr[-1] if asr else None,
        tokens_honest=str(tokens[False]) if verifying else None,
        tokens_malicious=str(tokens[True]) if verifying and has_attackers else None,
        backdoor_success_per_round=asr or None,
        malicious_weight_share=(float(np.mean(shares)) if shares and has_attackers else None),
        rejected_by_check=checks,
        seconds=time.perf_counter() - started,
        strength_per_round=strengths if adversary is not None else None,
        guard_refusals=guard_refusals if verifying else None,
    )


def attacker_data(split: FederatedSplit, malicious: frozenset[int], setting: Setting) -> Dataset:
    """The colluders' own data (the union of their local sets, at most validation_size
    images): what they run the public Verifier on."""
    images = np.concatenate([split.clients[c].images for c in sorted(malicious)])
    labels = np.concatenate([split.clients[c].labels for c in sorted(malicious)])
    return Dataset(images[: setting.validation_size], labels[: setting.validation_size])


@cache  # a worker process makes each split once, whatever the number of its runs
def make_split(partition: str, setting: Setting) -> FederatedSplit:
    return federated_split(
        load_mnist(mnist_directory()),
        num_clients=setting.clients,
        num_oracles=setting.oracles,
        validation_size=setting.validation_size,
        samples_per_client=setting.samples_per_client,
        seed=setting.seed,
        **PARTITIONS[partition],  # type: ignore[arg-type]
    )


def malicious_clients(setting: Setting) -> frozenset[int]:
    rng = np.random.default_rng(setting.seed + 1)
    chosen = rng.choice(setting.clients, setting.malicious_count, replace=False)
    return frozenset(int(c) for c in chosen)


# --- verification time ---------------------------------------------------------------------

#: The oracle's time budget for judging a round of 100 MLP updates at close (s).
ROUND_BUDGET_S = 2.0


def time_verification(updates: int = 100, repeat: int = 3) -> dict[str, float]:
    """Seconds for one oracle (2,000 validation images, one BLAS thread) to judge a round of
    ``updates`` MLP updates at close with :meth:`Verifier.judge_round`: 20 trained honest
    updates, and colluders' noisy copies of them for the rest. Besides wall-clock time (the
    machine is shared) the process's CPU time is reported."""
    split = make_split("iid", FULL)
    verifier = Verifier(MNIST_MLP.id, split.validation[0])
    from fedledger.ml.training import LocalTrainer, TrainingConfig

    start = initial_weights(MNIST_MLP.id, 0)
    trainer = LocalTrainer(MNIST_MLP)
    global_model = trainer.train(start, split.clients[0], TrainingConfig(seed=0))
    trained = [
        trainer.train(global_model, split.clients[c], TrainingConfig(seed=c)) for c in range(20)
    ]
    steps = attacks.deltas(global_model, trained)
    rng = np.random.default_rng(0)
    # the rest re-noise a trained step per coordinate (as the colluders do), so that every
    # update is admitted and costs its leave-one-out evaluation: the worst case
    batch = trained + [
        attacks.from_delta(
            global_model,
            steps[i % 20] * (1.0 + COPY_NOISE_RELATIVE * rng.standard_normal(steps.shape[1])),
        )
        for i in range(20, updates)
    ]
    wall, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        judged = verifier.judge_round(global_model, batch)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return {
        "updates": updates,
        "accepted": sum(v.accept for v in judged.verdicts),
        "round_s_median": float(np.median(wall)),
        "round_s_min": float(np.min(wall)),
        "round_cpu_s_median": float(np.median(cpu)),
        "load_average_1min": os.getloadavg()[0],
        "budget_s": ROUND_BUDGET_S,
    }


# --- orchestration and reporting ------------------------------------------------------------


def run_file(folder: Path, partition: str, attack: str, method: str) -> Path:
    return folder / f"{partition}__{attack}__{method}.json"


def _worker(job: tuple[str, str, str, Setting, VerifierParams, str]) -> str:
    partition, attack, method, setting, params, path = job
    try:
        result = run(partition, attack, method, setting, params)
    except Exception as error:  # report and let the other runs go on
        return f"{partition:13s} {attack:16s} {method:13s} FAILED: {error!r}"
    Path(path).write_text(json.dumps(asdict(result), indent=1))
    accuracy, seconds = result.final_test_accuracy, result.seconds
    return f"{partition:13s} {attack:16s} {method:13s} acc {accuracy:.4f}  {seconds:6.0f} s"


def _tokens_per_client(value: str | None, clients: int) -> str:
    return "" if value is None or clients == 0 else f"{int(value) / 10**18 / clients:,.2f}"


def _token_share(r: dict[str, Any]) -> float | None:
    """The malicious clients' share of all tokens minted in a run."""
    if r.get("tokens_malicious") is None:
        return None
    bad, good = int(r["tokens_malicious"]), int(r["tokens_honest"])
    return bad / (bad + good) if bad + good else 0.0


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def markdown_tables(results: list[dict[str, Any]], setting: Setting) -> str:
    """Two tables: final accuracy of every method, then what verification decided."""
    by_key = {(r["partition"], r["attack"], r["method"]): r for r in results}
    scenarios = list(dict.fromkeys((r["partition"], r["attack"]) for r in results))
    methods = list(dict.fromkeys(r["method"] for r in results))
    lines = [
        "Final test accuracy % (backdoor: attack success % in brackets; no attack: the"
        " share of triggered images a clean model calls the target)",
        "",
        "| partition | attack | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for partition, attack in scenarios:
        cells = []
        for method in methods:
            r = by_key.get((partition, attack, method))
            cell = "" if r is None else f"{100 * r['final_test_accuracy']:.2f}"
            if r is not None and r["backdoor_success"] is not None:
                cell += f" [{100 * r['backdoor_success']:.1f}]"
            cells.append(cell)
        lines.append(f"| {partition} | {attack} | " + " | ".join(cells) + " |")
    honest = setting.clients - setting.malicious_count
    lines += [
        "",
        "Verified FedAvg: acceptance, tokens per client over all rounds, and the malicious "
        "clients' mean share of the aggregate (plain FedAvg's share for comparison)",
        "",
        "| partition | attack | honest accepted % | malicious accepted % | tokens per honest "
        "client | tokens per malicious client | malicious % of tokens | malicious share % "
        "| plain FedAvg share % | guard refusals |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for partition, attack in scenarios:
        r = by_key.get((partition, attack, "verified"))
        if r is None:
            continue
        plain = by_key.get((partition, attack, "fedavg"))
        honest_clients = honest if attack != "none" else setting.clients
        lines.append(
            f"| {partition} | {attack} | {_percent(r['honest_acceptance'])} "
            f"| {_percent(r['malicious_acceptance'])} "
            f"| {_tokens_per_client(r['tokens_honest'], honest_clients)} "
            f"| {_tokens_per_client(r['tokens_malicious'], setting.malicious_count)} "
            f"| {_percent(_token_share(r))} "
            f"| {_percent(r.get('malicious_weight_share'))} "
            f"| {_percent(plain.get('malicious_weight_share') if plain else None)} "
            f"| {r.get('guard_refusals', '')} |"
        )
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], folder: Path, attacks_: list[str]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for partition in sorted({r["partition"] for r in results}):
        columns = 4
        rows = -(-len(attacks_) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
        for index, attack in enumerate(attacks_):
            axis = axes[index // columns][index % columns]
            for r in results:
                if r["partition"] == partition and r["attack"] == attack:
                    rounds = range(1, len(r["accuracy_per_round"]) + 1)
                    axis.plot(rounds, [100 * a for a in r["accuracy_per_round"]], label=r["method"])
            axis.set_title(attack)
            axis.set_ylim(0, 100)
            axis.set_xlabel("round")
            axis.set_ylabel("test accuracy %")
            axis.grid(alpha=0.3)
        for index in range(len(attacks_), rows * columns):
            axes[index // columns][index % columns].axis("off")
        axes[0][0].legend(fontsize=8)
        figure.suptitle(f"MNIST MLP, {partition}: test accuracy per round")
        figure.tight_layout()
        path = folder / f"bench_attacks_{partition}.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        paths.append(path)
    return paths


def check_targets(
    results: list[dict[str, Any]], timing: dict[str, Any], setting: Setting
) -> list[dict[str, Any]]:
    """The issue's targets for the verified method, each with its measured figure."""
    by_key = {(r["partition"], r["attack"], r["method"]): r for r in results}
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    for (partition, attack, method), r in sorted(by_key.items()):
        if method != "verified":
            continue
        plain = by_key.get((partition, "none", "fedavg"))
        if plain is not None:
            drop = 100 * (plain["final_test_accuracy"] - r["final_test_accuracy"])
            add(
                f"{partition} {attack}: accuracy within 1.0 point of plain FedAvg without attack",
                f"{-drop:+.2f} points",
                drop <= 1.0,
            )
        add(
            f"{partition} {attack}: honest acceptance >= 95%",
            f"{r['honest_acceptance']:.1%}",
            r["honest_acceptance"] >= 0.95,
        )
        if attack == "none":
            continue
        bad, good = int(r["tokens_malicious"]), int(r["tokens_honest"])
        share = bad / (bad + good) if bad + good else 0.0
        if attack in ("free_rider", "delta_rider", "stale"):
            add(
                f"{partition} {attack}: 0 tokens",
                f"{bad / 10**18:.2f} tokens",
                bad == 0,
            )
        elif attack not in ("sample_inflation", "copycat"):
            add(f"{partition} {attack}: malicious <= 5% of tokens", f"{share:.1%}", share <= 0.05)
        if attack == "backdoor":
            add(
                f"{partition} backdoor: success <= 5%",
                f"{r['backdoor_success']:.1%}",
                r["backdoor_success"] <= 0.05,
            )
    if not timing:
        return targets
    add(
        f"judging a round of {timing['updates']} MLP updates on 2,000 images <= 2 s "
        "(CPU time, 1 thread)",
        f"CPU median {timing['round_cpu_s_median']:.2f} s; wall median "
        f"{timing['round_s_median']:.2f} s at load {timing['load_average_1min']:.1f}",
        timing["round_cpu_s_median"] <= ROUND_BUDGET_S,
    )
    return targets


def _relative(path: Path) -> str:
    """``path`` relative to the project root where it lies inside it."""
    try:
        return str(path.resolve().relative_to(find_root()))
    except ValueError:
        return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny federation")
    parser.add_argument("--partitions", default=",".join(PARTITIONS))
    parser.add_argument("--attacks", help="default: all (--quick: the issue's matrix)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--fresh", action="store_true", help="recompute runs already on disk")
    parser.add_argument(
        "--no-timing", action="store_true", help="skip timing the round judgement (resumed runs)"
    )
    parser.add_argument("--plots", type=Path, help="folder for the plots (default: the run folder)")
    parser.add_argument("--table", type=Path, help="also write the markdown table here")
    args = parser.parse_args()

    setting = QUICK if args.quick else FULL
    params = VerifierParams()
    partitions = args.partitions.split(",")
    attacks_ = (args.attacks or ",".join(QUICK_ATTACKS if args.quick else ATTACKS)).split(",")
    methods = args.methods.split(",")
    for name, known, chosen in (
        ("partition", PARTITIONS, partitions),
        ("attack", ATTACKS, attacks_),
        ("method", METHODS, methods),
    ):
        unknown = set(chosen) - set(known)
        if unknown:
            parser.error(f"unknown {name}: {', '.join(sorted(unknown))}; known: {', '.join(known)}")

    folder = find_root() / "results" / "bench_attacks" / ("quick" if args.quick else "runs")
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [
        (p, a, m, setting, params, str(run_file(folder, p, a, m)))
        for p in partitions
        for a in attacks_
        for m in methods
        if args.fresh or not run_file(folder, p, a, m).exists()
    ]
    started = time.perf_counter()
    print(f"{len(jobs)} runs to do on {args.workers} workers; results in {folder}", flush=True)
    if jobs:
        if args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.workers) as pool:
                for line in pool.map(_worker, jobs):
                    print(line, flush=True)
        else:
            for job in jobs:
                print(_worker(job), flush=True)
    wall = time.perf_counter() - started

    results = [
        json.loads(run_file(folder, p, a, m).read_text())
        for p in partitions
        for a in attacks_
        for m in methods
        if run_file(folder, p, a, m).exists()  # a run that FAILED is missing
    ]
    table = markdown_tables(results, setting)
    print(table)
    compute = sum(r["seconds"] for r in results)
    print(f"wall time of this invocation {wall:.0f} s; compute of all runs {compute:.0f} s")
    timing: dict[str, Any] = {}
    if not args.no_timing:
        timing = time_verification()
    if timing:
        print(
            f"judging a round of {timing['updates']} MLP updates on 2,000 images, 1 thread: "
            f"CPU median {timing['round_cpu_s_median']:.2f} s; wall median "
            f"{timing['round_s_median']:.2f} s (min {timing['round_s_min']:.2f}, load average "
            f"{timing['load_average_1min']:.1f}); budget {ROUND_BUDGET_S} s"
        )
    targets = check_targets(results, timing, setting) if "verified" in methods else []
    for target in targets:
        mark = "met" if target["met"] else "NOT MET"
        print(f"{mark:8s} {target['target']}: {target['measured']}")
    plots = plot(results, args.plots or folder, attacks_)
    if args.table:
        args.table.write_text(table)
    if args.json:
        report = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "setting": asdict(setting),
            "verifier": asdict(params),
            "reward": {"base": str(REWARD_BASE), "per_score_point": str(REWARD_PER_SCORE_POINT)},
            "wall_seconds_this_invocation": wall,
            "compute_seconds_all_runs": compute,
            "verification_time": timing,
            "targets": targets,
            "plots": [_relative(p) for p in plots],
            "scenarios": results,
        }
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
