"""Mainsail, the web interface Klipper users print from, in headless Chromium
(driven by Playwright) on Moonraker on `mendel serve`: the dashboard shows the
printer ready, a print starts from its file list, pauses and is cancelled
from its buttons, and a screenshot is saved.

Mainsail is in no package registry: build it from its sources
(github.com/mainsail-crew/mainsail: `npm ci && npm run build`) and set
MENDEL_MAINSAIL_DIST to its dist folder. Also needed: Playwright
(`pip install playwright`), a Chromium (MENDEL_CHROMIUM, else `chromium` on
PATH; Playwright drives it through executable_path, its own browser download
is not needed) and Moonraker (MENDEL_MOONRAKER, tests/moonraker_rig.py).
Without any of them the test is skipped. The simulated board runs in real
time here, so a person-paced click lands mid-print. Measured: about 30 s
(20 of them the real-time G28)."""
import functools
import http.server
import json
import os
import shutil
import threading
import time

import pytest

from moonraker_rig import mendel_and_moonraker, moonraker_command, short_tmp
from serve_clients import wait_for

# Ours: no heat-up (PAUSE then skips its retract), G28, then about three
# minutes of travel in a square at 20 mm/s: time to click.
SQUARE = "G28\nG90\nG1 Z5 F600\n" + "".join(
    "G1 X30 Y30 F1200\nG1 X130 Y30\nG1 X130 Y130\nG1 X30 Y130\n" for _ in range(10))
NAME = "mendel-square.gcode"
SHOWN_MS = 60000      # the longest a state may take to show (the G28 takes ~20 s)


@pytest.fixture(scope="module")
def dist():
    """The built Mainsail (its dist folder), from $MENDEL_MAINSAIL_DIST."""
    folder = os.environ.get("MENDEL_MAINSAIL_DIST")
    if not folder:
        pytest.skip("MENDEL_MAINSAIL_DIST not set: the dist folder of a Mainsail built from "
                    "its sources (npm ci && npm run build)")
    if not os.path.isfile(os.path.join(folder, "index.html")):
        pytest.fail("MENDEL_MAINSAIL_DIST=%s has no index.html" % folder)
    return folder


@pytest.fixture(scope="module")
def chromium(dist):
    """A headless Chromium driven by Playwright (asked for after ``dist``, so
    a missing Mainsail is the skip reason given first)."""
    found = os.environ.get("MENDEL_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
        None)
    if not found:
        pytest.skip("no Chromium: set MENDEL_CHROMIUM or put chromium on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install playwright")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=found)
        yield browser
        browser.close()


class _DistHandler(http.server.SimpleHTTPRequestHandler):
    """Mainsail's files, with a config.json that points it at Moonraker."""

    config_json = b"{}"

    def do_GET(self):
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config_json)))
            self.end_headers()
            self.wfile.write(self.config_json)
            return
        super().do_GET()

    def log_message(self, *_args):
        pass


def serve_mainsail(folder, moonraker_port):
    """An HTTP server on 127.0.0.1 for the dist ``folder``; Mainsail's
    config.json (``instancesDB``, ``hostname``, ``port``) sends the browser
    straight to Moonraker, whose [authorization] cors_domains lets it in.
    Returns the server (serving in a thread) and its URL."""
    config = {"instancesDB": "moonraker", "hostname": "127.0.0.1", "port": moonraker_port,
              "defaultLocale": "en"}
    handler = type("Handler", (_DistHandler,), {"config_json": json.dumps(config).encode()})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d/" % server.server_address[1]


def test_mainsail_starts_pauses_and_cancels_a_print(dist, chromium, tmp_path):
    command = moonraker_command()
    gcode = tmp_path / NAME
    gcode.write_text(SQUARE)
    with short_tmp() as data, mendel_and_moonraker(command, data, realtime=True) as (rig, client):
        client.upload(str(gcode), NAME)
        server, url = serve_mainsail(dist, rig.port)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        started = time.monotonic()
        try:
            page.goto(url)
            _drive(page, client, tmp_path)
        except Exception:
            page.screenshot(path=str(tmp_path / "mainsail-failed.png"))
            print("Mainsail screenshot at the failure: %s" % (tmp_path / "mainsail-failed.png"))
            raise
        finally:
            page.close()
            server.shutdown()
    print("Mainsail: start, pause and cancel in %.1f s; screenshots %s, %s"
          % (time.monotonic() - started, tmp_path / "mainsail-paused.png",
             tmp_path / "mainsail-cancelled.png"))


def _drive(page, client, tmp_path):
    """Start, pause and cancel the print from Mainsail's dashboard; check
    each step in Moonraker's print_stats too."""
    status = page.locator(".status-panel")         # its title: "Standby", "37% Printing", ...
    status.get_by_text("Standby").wait_for(timeout=SHOWN_MS)
    page.locator(".dashboard-gcodes-table").get_by_text(NAME).click()
    page.locator(".v-dialog--active button", has_text="print").click()   # Start Job dialog
    status.get_by_text("Printing").wait_for(timeout=SHOWN_MS)
    assert client.query("print_stats")["print_stats"]["state"] == "printing"
    # Pause print: clicked while the file's G28 runs (about 20 s in real time
    # from where the simulated board starts); Mendel pauses once that line is done
    pause = status.locator("button.warning--text")
    pause.wait_for(timeout=SHOWN_MS)
    pause.click()
    status.get_by_text("Paused").wait_for(timeout=SHOWN_MS)
    assert client.query("print_stats")["print_stats"]["state"] == "paused"
    wait_for(lambda: client.query("toolhead")["toolhead"]["position"][:2] == [5.0, 205.0], 30,
             "the user's PAUSE macro to park the head")
    # Mainsail finds the PAUSE/RESUME/CANCEL_PRINT macros and [display_status]
    assert not page.get_by_text("Missing configuration").count()
    page.screenshot(path=str(tmp_path / "mainsail-paused.png"))
    status.locator("button.error--text").click()                          # Cancel print
    confirm = page.locator(".v-dialog--active button", has_text="Yes")
    if confirm.count():
        confirm.click()
    status.get_by_text("Cancelled").wait_for(timeout=SHOWN_MS)
    assert client.query("print_stats")["print_stats"]["state"] == "cancelled"
    page.screenshot(path=str(tmp_path / "mainsail-cancelled.png"))
