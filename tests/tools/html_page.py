#!/usr/bin/env python3
"""Opens a tracewire-trace HTML page in real headless Chromium and reports what a person sees.

usage: html_page.py PAGE.html SPAN_ID [SCREENSHOT.png]

Drives Debian's chromium through Playwright (its own browser downloads are not used). Loads the
page from file://, records every request other than the page itself and every console error
and uncaught exception, reads the waterfall's rows from the DOM, clicks the row of SPAN_ID and
reads the details panel. Prints one JSON object: rows (span_id, depth, duration_us, process,
name, bar width in pixels), requests, errors, details (the panel's text), detail_lines (rows
of its lines table), render_ms and select_ms (performance.now() around load and the click).
"""
import json
import os
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no chromium on PATH (apt-get install chromium)")


def main(page_path, span_id, screenshot=None):
    url = Path(page_path).resolve().as_uri()
    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.on("request", lambda r: requests.append(r.url) if r.url != url else None)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
        page.goto(url)
        page.wait_for_selector(".row")
        render_ms = page.evaluate("performance.now()")
        rows = page.evaluate("""() => Array.from(document.querySelectorAll('.row')).map(r => ({
            span_id: r.dataset.spanId, depth: Number(r.dataset.depth),
            duration_us: r.dataset.durationUs === '' ? null : Number(r.dataset.durationUs),
            process: r.dataset.process, name: r.querySelector('.name').textContent.replace(/^[▾▸]/, '').replace(/!$/, ''),
            bar_px: r.querySelector('.bar').getBoundingClientRect().width }))""")
        before = page.evaluate("performance.now()")
        page.click(f'.row[data-span-id="{span_id}"] .name')
        select_ms = page.evaluate("performance.now()") - before
        details = page.inner_text("#details")
        detail_lines = page.evaluate("Array.from(document.querySelectorAll('#details table.lines tr')).map(t => t.innerText)")
        selected = page.evaluate("document.querySelector('.row.selected') && document.querySelector('.row.selected').dataset.spanId")
        if screenshot:
            page.screenshot(path=screenshot, full_page=False)
        browser.close()
    print(json.dumps({"rows": rows, "requests": requests, "errors": errors, "details": details,
                      "detail_lines": detail_lines, "selected": selected,
                      "render_ms": render_ms, "select_ms": select_ms}))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2])
        sys.exit(2)
    main(*sys.argv[1:])
