"""The demo's plot: axis scaled to the data, a caption with the settings, counts per
round, attackers' zero bars labelled, readable participant labels."""

from __future__ import annotations

from pathlib import Path

from fedledger.demo.config import DemoConfig
from fedledger.demo.report import (
    DemoReport,
    ParticipantRecord,
    RoundRecord,
    accuracy_limits,
    caption,
    plot,
)
from fedledger.units import TOKEN_UNIT

#: A run as the README shows it (5 rounds, 7 honest, 3 attackers banned after round 3).
ACCURACY = (0.9264, 0.9465, 0.9545, 0.9591, 0.9633)
PLAIN = (0.6319, 0.9210, 0.9386, 0.9591, 0.9633)


def readme_like_report() -> DemoReport:
    rounds = tuple(
        RoundRecord(
            round=index + 1,
            state="finalized",
            global_model_hash="0x" + "ab" * 32,
            test_accuracy=ACCURACY[index],
            plain_fedavg_accuracy=PLAIN[index],
            accepted=7,
            rejected=3 if index < 3 else 0,
            tokens_minted=100 * TOKEN_UNIT,
            gas_used=2_000_000,
            seconds=5.0,
        )
        for index in range(5)
    )
    behaviours = ["honest"] * 7 + ["sign_flip", "noise", "free_rider"]
    people = tuple(
        ParticipantRecord(
            address=f"0x{index:040x}",
            behaviour=behaviour,
            accepted=5 if behaviour == "honest" else 0,
            rejected=0 if behaviour == "honest" else 3,
            tokens=(117 + index) * TOKEN_UNIT if behaviour == "honest" else 0,
            banned=behaviour != "honest",
        )
        for index, behaviour in enumerate(behaviours)
    )
    return DemoReport(
        config=DemoConfig().report_json(),
        genesis_accuracy=0.0958,
        rounds=rounds,
        participants=people,
        seconds=53.0,
    )


def test_the_accuracy_axis_is_scaled_to_the_data() -> None:
    low, high = accuracy_limits([100 * a for a in ACCURACY + PLAIN[1:]])
    assert 90 < low < 92.1 and 96.4 < high < 98
    assert accuracy_limits([99.5, 99.9]) == (98.5, 100.0)  # clamped, at least 2 points tall


def test_the_caption_names_the_run_settings() -> None:
    report = readme_like_report()
    text = caption(report)
    for part in ("10 participants", "3 malicious", "sign_flip", "3 oracles (quorum 2)",
                 "5 rounds", "seed 0", "96.33 %"):  # fmt: skip
        assert part in text, (part, text)


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "demo.png"
    plot(readme_like_report(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
