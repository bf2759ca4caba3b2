"""What a demo run produced: per-round and per-participant records, the JSON report and
its plot.

The JSON follows the schema of ``fedledger demo --json`` exactly (README, "The demo");
token amounts are decimal strings of base units (18 decimals). The plot beside it shows
the test accuracy per round of the chain's global model against the plain FedAvg of every
update submitted in that round, attackers included, and the tokens each participant
earned, coloured by behaviour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedledger.chain.deployment import TOKEN_UNIT

#: Colours of the behaviours in the plot.
BEHAVIOUR_COLOURS = {
    "honest": "#2a9d8f",
    "sign_flip": "#e76f51",
    "noise": "#f4a261",
    "free_rider": "#8d99ae",
    "label_flip": "#9b5de5",
}


@dataclass(frozen=True)
class RoundRecord:
    """One round as the chain recorded it, and the test accuracy of what it produced."""

    round: int
    state: str  # "finalized" or "skipped"
    global_model_hash: str  # the model the round produced (the next round trains from it)
    test_accuracy: float
    plain_fedavg_accuracy: float | None  # every submitted update averaged; None if none
    accepted: int
    rejected: int
    tokens_minted: int  # base units
    gas_used: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "global_model_hash": self.global_model_hash,
            "test_accuracy": self.test_accuracy,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "tokens_minted": str(self.tokens_minted),
            "gas_used": self.gas_used,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ParticipantRecord:
    address: str
    behaviour: str
    accepted: int
    rejected: int
    tokens: int  # base units
    banned: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "behaviour": self.behaviour,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "tokens": str(self.tokens),
            "banned": self.banned,
        }


@dataclass(frozen=True)
class DemoReport:
    config: dict[str, Any]
    genesis_accuracy: float
    rounds: tuple[RoundRecord, ...]
    participants: tuple[ParticipantRecord, ...]
    seconds: float

    @property
    def final_test_accuracy(self) -> float:
        return self.rounds[-1].test_accuracy if self.rounds else self.genesis_accuracy

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "rounds": [record.to_json() for record in self.rounds],
            "participants": [record.to_json() for record in self.participants],
            "final_test_accuracy": self.final_test_accuracy,
        }

    def write(self, json_path: Path) -> tuple[Path, Path]:
        """Write the JSON report and, next to it (same name, ``.png``), the plot."""
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        plot_path = json_path.with_suffix(".png")
        plot(self, plot_path)
        return json_path, plot_path


def plot(report: DemoReport, path: Path) -> None:
    """Accuracy per round (chain vs plain FedAvg of every submission) and tokens earned."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    figure, (accuracy_axis, token_axis) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1.2]}
    )
    rounds = [0, *(record.round for record in report.rounds)]
    chain = [report.genesis_accuracy, *(record.test_accuracy for record in report.rounds)]
    accuracy_axis.plot(
        rounds, [100 * a for a in chain], marker="o", label="FedLedger (verified updates only)"
    )
    plain = [
        (record.round, 100 * record.plain_fedavg_accuracy)
        for record in report.rounds
        if record.plain_fedavg_accuracy is not None
    ]
    if plain:
        accuracy_axis.plot(
            [r for r, _ in plain],
            [a for _, a in plain],
            marker="x",
            linestyle="--",
            label="plain FedAvg of every submission (attackers included)",
        )
    accuracy_axis.set_xlabel("round (0 = genesis model)")
    accuracy_axis.set_ylabel("MNIST test accuracy %")
    accuracy_axis.set_ylim(0, 100)
    accuracy_axis.set_xticks(rounds)
    accuracy_axis.grid(alpha=0.3)
    accuracy_axis.legend(fontsize=8, loc="best")
    accuracy_axis.set_title("global model accuracy per round")

    labels = [f"P{index + 1:02d}" for index in range(len(report.participants))]
    amounts = [record.tokens / TOKEN_UNIT for record in report.participants]
    colours = [BEHAVIOUR_COLOURS.get(r.behaviour, "#333333") for r in report.participants]
    bars = token_axis.bar(labels, amounts, color=colours)
    for bar, record in zip(bars, report.participants, strict=True):
        label = f"{record.tokens / TOKEN_UNIT:.0f}" + (" banned" if record.banned else "")
        token_axis.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    present = list(dict.fromkeys(record.behaviour for record in report.participants))
    token_axis.legend(
        handles=[Patch(color=BEHAVIOUR_COLOURS.get(b, "#333333"), label=b) for b in present],
        fontsize=8,
    )
    token_axis.set_ylabel("reward tokens")
    token_axis.set_title("tokens earned per participant")
    token_axis.tick_params(axis="x", labelrotation=90, labelsize=7)
    token_axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
