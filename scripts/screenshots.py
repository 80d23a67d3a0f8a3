"""The README's screenshots of the web page, at desktop (1280×800) and phone (390×844) size.

    python scripts/screenshots.py            # writes docs/figures/web-*.png

Starts ``matdiff serve`` on a free port, opens the page in Debian's Chromium (Playwright), and
takes each picture as a user would see it: the 2-3-2 network's two gradients on a desktop, and on
a phone the same example after a tap on Differentiate, the answer scrolled into view.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
CHROMIUM = "/usr/bin/chromium"
NETWORK = ("/?expr=z2%20%3D%20W2*x%0Aa2%20%3D%20sigmoid(z2)%0Az3%20%3D%20W3*a2%0Aa3%20%3D%20sigmoid(z3)%0A"
           "L%20%3D%200.5*sum((a3%20-%20y).%5E2)&wrt=W2,W3&layout=gradient&shapes=x:2;W2:3x2;W3:2x3;y:2")
SEED = "/?expr=W2*W1*h&wrt=W1&layout=numerator&shapes=W2:1x2;W1:2x2;h:2"


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    server = subprocess.Popen([sys.executable, "-c", f"from matdiff.web.server import serve; serve(port={port})"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(base + "/api/capabilities", timeout=1) as reply:
                json.load(reply)
            return server, base
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def settled(page) -> None:
    page.wait_for_selector("#result:not([hidden]):not(.stale) #math math", timeout=30_000)
    page.wait_for_timeout(400)  # the variables table and the fonts


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    server, base = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            desktop = browser.new_page(viewport={"width": 1280, "height": 800})
            desktop.goto(base + NETWORK)
            settled(desktop)
            desktop.screenshot(path=str(FIGURES / "web-desktop.png"))
            desktop.locator("#answers").scroll_into_view_if_needed()
            desktop.evaluate("document.querySelector('#result').scrollIntoView()")
            desktop.screenshot(path=str(FIGURES / "web-desktop-result.png"))

            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True).new_page()
            phone.goto(base + SEED)
            settled(phone)
            phone.screenshot(path=str(FIGURES / "web-phone.png"))
            phone.select_option("#layout", "denominator")
            phone.tap("#go")
            settled(phone)
            phone.wait_for_timeout(800)  # the smooth scroll to the answer
            phone.screenshot(path=str(FIGURES / "web-phone-result.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for name in ("web-desktop.png", "web-desktop-result.png", "web-phone.png", "web-phone-result.png"):
        print(FIGURES / name)


if __name__ == "__main__":
    main()
