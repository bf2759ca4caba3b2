"""Screenshot of the dashboard during a real run, for the README.

    .venv/bin/python scripts/dashboard_screenshot.py [--out docs/img/dashboard.png]

Starts `fedledger demo` (its own anvil, real oracle and participant processes, attackers
included) in a temporary run directory, then `fedledger dashboard --eval` on the demo's
project (``FEDLEDGER_ROOT`` = the run directory) with the MNIST test images the demo
writes (data/test.npz) as the evaluation set, waits until --rounds rounds are finalized,
and photographs the page in headless Debian Chromium (/usr/bin/chromium, through
Playwright), then prints `fedledger rounds` of the same run. Stops both processes.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PATIENCE = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    parser.add_argument("--rounds", type=int, default=3, help="finalized rounds to wait for")
    parser.add_argument("--width", type=int, default=1500)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fedledger-screenshot-") as folder:
        work = Path(folder)
        run_dir = work / "demo"
        eval_path = run_dir / "data" / "test.npz"  # the demo writes the MNIST test images
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        demo_log = (work / "demo.log").open("w")
        command = [sys.executable, "-m", "fedledger", "demo"]
        demo = subprocess.Popen(
            # Public models: the dashboard, holding no key, evaluates them for its chart.
            [*command, "--out", str(run_dir), "--rounds", "20", "--global-model-policy", "public"],
            cwd=ROOT,
            env=env,
            stdout=demo_log,
            stderr=subprocess.STDOUT,
        )
        dashboard: subprocess.Popen[str] | None = None
        try:
            _wait(lambda: (run_dir / ".fedledger" / "deployments" / "demo.json").exists(), demo)
            command = [sys.executable, "-m", "fedledger", "dashboard", "--port", "0"]
            dashboard = subprocess.Popen(
                [*command, "--eval", str(eval_path), "--refresh", "0.5"],
                env={**env, "FEDLEDGER_ROOT": str(run_dir)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert dashboard.stdout is not None
            line = dashboard.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if found is None:
                raise SystemExit(f"the dashboard did not start: {line}")
            url = found.group(1)
            print(f"dashboard at {url}; waiting for {arguments.rounds} finalized rounds")
            _photograph(url, arguments.out, arguments.width, arguments.rounds, demo)
            print(f"wrote {arguments.out}; `fedledger rounds` of the same run:")
            subprocess.run(
                [sys.executable, "-m", "fedledger", "rounds"],
                env={**env, "FEDLEDGER_ROOT": str(run_dir)},
                check=False,
            )
        finally:
            for process in (dashboard, demo):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=60)
            demo_log.close()
            if demo.returncode:
                print("the demo's output:", (work / "demo.log").read_text()[-3000:])


def _wait(condition: Any, demo: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if demo.poll() is not None:
            raise SystemExit(f"the demo ended (exit {demo.returncode}) before the screenshot")
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {PATIENCE:g} s")
        time.sleep(0.25)


def _photograph(
    url: str, out: Path, width: int, rounds: int, demo: subprocess.Popen[bytes]
) -> None:
    """Once the page charts ``rounds`` finalized rounds and shows a round in progress
    (updates accepted; the history row agreeing on its state and count: the views and the
    events are read a block or two apart, so a page may briefly show one ahead of the
    other), photograph all of it."""
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(url)
        _wait(lambda: _shown(page, rounds), demo)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def _shown(page: Any, rounds: int) -> bool:
    return bool(
        page.evaluate(
            f"""(() => {{
              const round = document.getElementById('round-number').textContent;
              const state = document.getElementById('round-state').dataset.state;
              const row = document.querySelector(`#rounds tbody tr[data-round="${{round}}"]`);
              const accepted = document.querySelectorAll(
                '#submissions tr[data-status=accepted]').length;
              return document.querySelectorAll('#accuracy-chart circle.point').length >= {rounds}
                && accepted > 0 && row !== null
                && (state === 'open' || state === 'closed') && row.dataset.state === state
                && Number(row.children[2].textContent) === accepted
                && document.getElementById('problem').hidden;
            }})()"""
        )
    )


if __name__ == "__main__":
    main()
