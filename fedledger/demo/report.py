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
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedledger.units import TOKEN_UNIT

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
    tokens: int  # base units earned: held, or credited and not claimed yet
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


def caption(report: DemoReport) -> str:
    """The run's settings, in one or two lines under the plot."""
    c = report.config
    partition = c.get("partition", "?")
    if partition == "dirichlet":
        partition = f"dirichlet(alpha={c.get('alpha')})"
    samples = c.get("samples_per_participant") or "all"
    attacks = ", ".join(c.get("attacks", [])) or "none"
    return (
        f"{c.get('participants', '?')} participants ({c.get('malicious', 0)} malicious: "
        f"{attacks}), {c.get('oracles', '?')} oracles (quorum {c.get('quorum', '?')}), "
        f"{len(report.rounds)} rounds, {c.get('architecture', c.get('arch', '?'))}, "
        f"{partition} split, {samples} samples each, {c.get('epochs', '?')} epoch(s), "
        f"seed {c.get('seed', '?')}; reward {c.get('reward_base', '?')} + "
        f"{c.get('reward_per_logit', '?')} per logit of score; ban after "
        f"{c.get('rejection_limit', '?')} rejections; final accuracy "
        f"{100 * report.final_test_accuracy:.2f} % in {report.seconds:.0f} s"
    )


def accuracy_limits(values: list[float]) -> tuple[float, float]:
    """A y range (in %) that shows the differences in ``values`` (in %): the data plus a
    margin, within 0..100, at least 2 points tall."""
    low, high = min(values), max(values)
    margin = max((high - low) * 0.12, 1.0)
    return max(0.0, low - margin), min(100.0, high + margin)


def plot(report: DemoReport, path: Path) -> None:
    """Three panels: accuracy per round (the chain's model against plain FedAvg of every
    submission), accepted and rejected updates per round, and the tokens each participant
    earned (coloured by behaviour, attackers' zero bars labelled); the run's settings as
    the caption."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    figure, (accuracy_axis, count_axis, token_axis) = plt.subplots(
        1, 3, figsize=(16, 5.2), gridspec_kw={"width_ratios": [1.1, 0.8, 1.3]}
    )
    _plot_accuracy(accuracy_axis, report)
    _plot_counts(count_axis, report)
    _plot_tokens(token_axis, report, Patch)
    figure.suptitle("FedLedger demo: verified federated learning on MNIST", fontsize=12)
    figure.text(
        0.5, 0.01, textwrap.fill(caption(report), 190), ha="center", va="bottom", fontsize=8
    )
    figure.tight_layout(rect=(0, 0.07, 1, 0.95))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_accuracy(axis: Any, report: DemoReport) -> None:
    rounds = [0, *(record.round for record in report.rounds)]
    chain = [100 * report.genesis_accuracy, *(100 * r.test_accuracy for r in report.rounds)]
    axis.plot(rounds, chain, marker="o", label="FedLedger (verified updates only)")
    for x, y in zip(rounds[1:], chain[1:], strict=True):
        axis.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6),
                      ha="center", fontsize=7)  # fmt: skip
    plain = [
        (record.round, 100 * record.plain_fedavg_accuracy)
        for record in report.rounds
        if record.plain_fedavg_accuracy is not None
    ]
    if plain:
        axis.plot(
            [r for r, _ in plain],
            [a for _, a in plain],
            marker="x",
            linestyle="--",
            label="plain FedAvg of every submission (attackers included)",
        )
    # Scaled to the data, leaving out the untrained genesis model (about 10 %) when the
    # rounds are far above it, so that the differences between rounds stay visible.
    trained = chain[1:] + [a for _, a in plain]
    shown = trained if trained and min(trained) > chain[0] + 20 else [*chain, *trained]
    low, high = accuracy_limits(shown)
    axis.set_ylim(low, high)
    if chain[0] < low:
        axis.annotate(f"genesis model: {chain[0]:.1f} % (below the axis)", (0.02, 0.96),
                      xycoords="axes fraction", va="top", fontsize=7, color="#555555")  # fmt: skip
    axis.set_xlabel("round (0 = genesis model)")
    axis.set_ylabel("MNIST test accuracy (%)")
    axis.set_xticks(rounds)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title("global model accuracy per round", fontsize=10)


def _plot_counts(axis: Any, report: DemoReport) -> None:
    rounds = [record.round for record in report.rounds]
    accepted = [record.accepted for record in report.rounds]
    rejected = [record.rejected for record in report.rounds]
    axis.bar(rounds, accepted, color=BEHAVIOUR_COLOURS["honest"], label="accepted")
    axis.bar(rounds, rejected, bottom=accepted, color="#e76f51", label="rejected")
    for x, a, r in zip(rounds, accepted, rejected, strict=True):
        axis.annotate(f"{a} / {r}", (x, a + r), textcoords="offset points", xytext=(0, 3),
                      ha="center", fontsize=7)  # fmt: skip
    axis.set_xlabel("round")
    axis.set_ylabel("updates")
    axis.set_xticks(rounds)
    axis.set_ylim(0, max([a + r for a, r in zip(accepted, rejected, strict=True)] + [1]) * 1.2)
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title("accepted / rejected updates per round", fontsize=10)
    axis.grid(axis="y", alpha=0.3)


def _plot_tokens(axis: Any, report: DemoReport, patch: Any) -> None:
    people = report.participants
    labels = [f"P{index + 1:02d}\n{record.behaviour.replace('_', ' ')}"
              for index, record in enumerate(people)]  # fmt: skip
    amounts = [record.tokens / TOKEN_UNIT for record in people]
    colours = [BEHAVIOUR_COLOURS.get(r.behaviour, "#333333") for r in people]
    bars = axis.bar(range(len(people)), amounts, color=colours)
    top = max([*amounts, 1.0])
    for bar, record, amount in zip(bars, people, amounts, strict=True):
        text = f"{amount:.0f}"
        if record.banned:
            text += "\nbanned"
        centre = bar.get_x() + bar.get_width() / 2
        axis.annotate(text, (centre, amount), textcoords="offset points", xytext=(0, 3),
                      ha="center", va="bottom", fontsize=7,
                      color="#b00020" if amount == 0 else "black")  # fmt: skip
        if amount == 0:
            # A zero bar has no height: mark where it stands, in its behaviour's colour.
            axis.plot([centre], [0], marker="v", markersize=8, color=bar.get_facecolor(),
                      clip_on=False)  # fmt: skip
    axis.set_xticks(range(len(people)), labels, fontsize=7)
    axis.set_ylim(0, top * 1.25)
    present = list(dict.fromkeys(record.behaviour for record in people))
    axis.legend(
        handles=[patch(color=BEHAVIOUR_COLOURS.get(b, "#333333"), label=b) for b in present],
        fontsize=7,
        loc="upper right",
    )
    axis.set_ylabel("reward tokens (FLR)")
    axis.set_title("tokens earned per participant", fontsize=10)
    axis.grid(axis="y", alpha=0.3)
