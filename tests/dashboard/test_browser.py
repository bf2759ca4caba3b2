"""The dashboard page in a real browser (headless Debian Chromium through Playwright),
served by the real `fedledger dashboard` against a real anvil with a round in progress
and real in-process oracle nodes verifying real updates: the page shows the round, the
verdicts appear without a reload, and the chart gains one point per finalized round."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from fedledger.chain import UpdateStatus
from fedledger.chain.events import RoundFinalized
from fedledger.ml import ModelWeights, encode
from tests.dashboard.conftest import Dashboard
from tests.oracle.conftest import BadBlobs, NodeBed, settle, step_until

#: Milliseconds the page may take to show what the chain says (it polls every 0.2 s).
PAGE_TIMEOUT = 60_000


def _row(page: Page, table: str, key: str, value: str) -> Any:
    return page.locator(f'#{table} tbody tr[data-{key}="{value}"]')


def test_the_page_follows_the_round_live_and_charts_each_finalized_round(
    dash_bed: NodeBed,
    start_dashboard: Callable[..., Dashboard],
    eval_file: Path,
    browser: Any,
    node_honest: list[ModelWeights],
    node_bad_blobs: BadBlobs,
) -> None:
    honest = dash_bed.submit(0, encode(node_honest[0]))
    attacker = dash_bed.submit(1, node_bad_blobs.sign_flip)
    dashboard = start_dashboard("--eval", str(eval_file), "--refresh", "0.2")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(dashboard.url)
        page.evaluate("window.loadedOnce = true")  # gone if the page ever reloads

        # The round in progress, its two pending submissions, no verdict yet.
        expect(page.locator("#round-number")).to_have_text("1", timeout=PAGE_TIMEOUT)
        expect(page.locator("#round-state")).to_have_attribute("data-state", "open")
        expect(page.locator("#round-facts")).to_contain_text("on the chain's clock")
        for address in (honest, attacker):
            row = _row(page, "submissions", "participant", address)
            expect(row).to_have_attribute("data-status", "pending", timeout=PAGE_TIMEOUT)
            expect(row.locator("code")).to_have_text(address)  # the whole address
        expect(page.locator("#accuracy-chart circle.point")).to_have_count(0)

        # Two oracles check the updates on arrival, then, once the round is closed, judge
        # them and vote: the verdicts appear on the page by themselves (before the round
        # is finalized: the nodes are stepped until both updates are settled).
        nodes = [dash_bed.node(0), dash_bed.node(1)]
        settle(nodes)
        dash_bed.close_round()
        step_until(
            nodes,
            lambda: all(dash_bed.status(a)[0] != UpdateStatus.PENDING for a in (honest, attacker)),
        )
        accepted = _row(page, "submissions", "participant", honest)
        rejected = _row(page, "submissions", "participant", attacker)
        expect(accepted).to_have_attribute("data-status", "accepted", timeout=PAGE_TIMEOUT)
        expect(accepted.locator(".verdict")).to_have_text("accepted by 2 of 2 needed votes")
        expect(accepted).to_contain_text("FLR")
        expect(rejected).to_have_attribute("data-status", "rejected", timeout=PAGE_TIMEOUT)
        expect(rejected.locator(".verdict")).to_have_text("rejected: failed verification")
        expect(rejected).to_contain_text("logits")
        expect(_row(page, "participants", "address", honest)).to_contain_text("registered")
        expect(_row(page, "oracles", "address", nodes[0].address)).to_contain_text("live")

        # The oracles finalize the round: one point on the chart.
        settle(nodes)
        expect(page.locator("#round-number")).to_have_text("2", timeout=PAGE_TIMEOUT)
        points = page.locator("#accuracy-chart circle.point")
        expect(points).to_have_count(1, timeout=PAGE_TIMEOUT)
        expect(points.first).to_have_attribute("data-round", "1")
        expect(_row(page, "rounds", "round", "1")).to_have_attribute("data-state", "finalized")
        expect(_row(page, "rounds", "round", "1")).to_contain_text("%")

        # A second round, whatever its outcome: one point per finalized round, no more.
        for index, update in ((2, node_honest[1]), (3, node_honest[2])):
            dash_bed.submit(index, encode(update))
        settle(nodes)
        dash_bed.close_round()
        settle(nodes)
        expect(page.locator("#round-number")).to_have_text("3", timeout=PAGE_TIMEOUT)
        bed = dash_bed.bed
        finalized = bed.admin.events(RoundFinalized, bed.deployment.block_number)
        expect(points).to_have_count(len(finalized), timeout=PAGE_TIMEOUT)
        expect(page.locator("#rounds tbody tr")).to_have_count(3)  # rounds 1, 2 and 3 (open)

        assert page.evaluate("window.loadedOnce") is True  # all of it without a reload
        expect(page.locator("#problem")).to_be_hidden()
    finally:
        page.close()
