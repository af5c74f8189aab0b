"""Screenshots of the web console's main pages, for the README and docs/console.md.

    python3 docs/screenshots.py                 # starts `memberops serve --demo` on a temp database
    BASE_URL=http://127.0.0.1:8080 EMAIL=admin@demo.local PASSWORD=… python3 docs/screenshots.py

Writes PNGs to docs/screenshots/ (or OUT_DIR) at 1366×768, plus the member page at phone
width. Needs Debian's chromium (/usr/bin/chromium), `pip install playwright`, and a CJK font
for the Chinese pages (`apt-get install fonts-noto-cjk`; without one Chinese shows as boxes).
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("OUT_DIR", ROOT / "docs" / "screenshots"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo():
    """`memberops serve --demo` on a fresh database; returns (process, url, email, password)."""
    db = Path(tempfile.mkdtemp()) / "memberops.db"
    port = free_port()
    proc = subprocess.Popen(
        ["cargo", "run", "-q", "-p", "memberops", "--", "--db", str(db), "serve", "--demo",
         "--demo-members", "300", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 900
    for line in proc.stdout:
        m = re.search(r"sign in as (\S+) with password (\S+)\)", line)
        if m:
            break
        if time.time() > deadline:
            proc.kill()
            sys.exit("the demo server did not start")
    else:
        sys.exit("the demo server stopped before printing its password")
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, url, m.group(1), m.group(2)


def main():
    proc = None
    base = os.environ.get("BASE_URL")
    if base:
        email, password = os.environ["EMAIL"], os.environ["PASSWORD"]
    else:
        proc, base, email, password = start_demo()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for lang in ["zh-CN", "en-US"]:
                ctx = browser.new_context(locale=lang, viewport={"width": 1366, "height": 768})
                page = ctx.new_page()
                page.goto(base + "/login")
                tag = lang.split("-")[0]
                page.screenshot(path=OUT / f"login-{tag}.png")
                page.fill("input[name=email]", email)
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                page.wait_for_url(base + "/")
                # The account's language decides once set: follow the browser's here.
                page.select_option("#lang-switch", "zh-CN" if tag == "zh" else "en")
                page.click("#lang-apply")
                page.screenshot(path=OUT / f"dashboard-{tag}.png", full_page=True)
                page.goto(base + "/members")
                page.screenshot(path=OUT / f"members-{tag}.png")
                page.click("table.list tbody tr:first-child a")
                page.screenshot(path=OUT / f"member-{tag}.png", full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.screenshot(path=OUT / f"member-phone-{tag}.png", full_page=True)
                page.set_viewport_size({"width": 1366, "height": 768})
                page.goto(base + "/segments/new")
                page.click("#add-condition")
                page.select_option("#field-1", "orders")
                page.select_option("#op-1", "gte")
                page.fill("#value-1", "2")
                page.wait_for_timeout(800)
                page.screenshot(path=OUT / f"segment-builder-{tag}.png")
                page.goto(base + "/campaigns/new")
                page.screenshot(path=OUT / f"campaign-new-{tag}.png")
                ctx.close()
            browser.close()
    finally:
        if proc:
            proc.terminate()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
