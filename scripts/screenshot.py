"""Take a screenshot of the chat page answering a question, with its sources panel open.

Starts `app.py` on a free loopback port over the index in place (built first when there is none),
asks the question in headless Chromium (Debian's, never a downloaded one), clicks the first
citation so its source comes into view, and saves the page.

    python scripts/screenshot.py                       # the comparison question → docs/screenshot.png
    python scripts/screenshot.py --question "Is my data used to train models on Azure OpenAI?" --out x.png
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What's the difference between OpenAI and Azure OpenAI in terms of data privacy?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "AZCOMPARE_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="load")
            page.fill("#az-question textarea", args.question)
            page.press("#az-question textarea", "Enter")
            page.wait_for_selector("#az-sources details[data-turn='0']", timeout=120_000)
            page.locator("#az-chat a.az-cite").first.click()
            page.wait_for_timeout(800)
            # The answer from its first line: the chat scrolls to its end as it streams.
            page.locator("#az-chat [data-testid=bot]").last.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
        print(f"saved {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600  # the first start builds the index
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the app stopped (exit {server.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    sys.exit("the app did not start within 10 minutes")


if __name__ == "__main__":
    main()
