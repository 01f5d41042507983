"""The HTML report in a real browser: headless Chromium driven over CDP.

Chromium is driven through ``--remote-debugging-pipe`` (JSON messages on file
descriptors 3 and 4), which needs no WebSocket client and opens no port.
Chromium is required: CI installs it, and a missing browser fails the test
rather than skipping it, so the report is never shipped unchecked.

Set ``KPI_SCREENSHOT_DIR`` to keep the screenshots and the PDF for a look.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest_html import make_health_sources, make_insight_results, make_review

from kpi_cli.atomic import write_atomic
from kpi_cli.render_html import render_html

CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
)
TIMEOUT = 60.0


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def _chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "Chromium is needed for the browser tests and was not found "
        f"(looked for {', '.join(CHROMIUM_CANDIDATES)}); install it, e.g. "
        "'apt-get install -y chromium'"
    )


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above 4 so placing them on 3 and 4 in the child
        # cannot overwrite one another.
        to_child = _high_fd(to_child)
        from_child_w = _high_fd(from_child_w)

        def place_pipe() -> None:
            os.dup2(to_child, 3)
            os.dup2(from_child_w, 4)

        args = [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--font-render-hinting=none",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
        ]
        # Chromium reads commands from fd 3 and writes replies to fd 4.
        self._process = subprocess.Popen(
            args,
            pass_fds=(3, 4),
            preexec_fn=place_pipe,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call(
            "Target.attachToTarget", targetId=target, flatten=True
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_child)
        os.close(self._from_child)

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {
            "id": self._next_id,
            "method": method,
            "params": params,
        }
        if session:
            message["sessionId"] = self._session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, event: str) -> dict:
        seen = next((e for e in self.events if e["method"] == event), None)
        while seen is None:
            message = self._read()
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    seen = message
        self.events.remove(seen)
        return seen

    def _read(self) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, width: int, height: int = 900) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 500,
        )
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        metrics = self.call("Page.getLayoutMetrics", session=True)
        size = metrics["cssContentSize"]
        data = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            },
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def pdf(self, path: Path) -> None:
        data = self.call(
            "Page.printToPDF",
            session=True,
            printBackground=True,
            preferCSSPageSize=True,
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self) -> list[str]:
        """Console errors, exceptions and CSP or load errors seen so far."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                found.append(json.dumps(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"]["level"] in (
                "error",
                "warning",
            ):
                found.append(params["entry"]["text"])
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def _keep(*paths: Path) -> None:
    folder = os.environ.get("KPI_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, Path(folder) / path.name)


def _pdf_pages(path: Path) -> int:
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        out = subprocess.run([pdfinfo, str(path)], capture_output=True, text=True)
        match = re.search(r"^Pages:\s+(\d+)", out.stdout, re.MULTILINE)
        if match:
            return int(match.group(1))
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_in_chromium(browser: Browser, tmp_path: Path, lang: str) -> None:
    report = tmp_path / f"review-{lang}.html"
    write_atomic(report, render_html(make_review(lang)))
    browser.events.clear()

    shots = []
    for width in (1280, 375):
        browser.open(report.as_uri(), width)
        # Nothing may stick out sideways on a phone: wide tables scroll in their box.
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        shot = tmp_path / f"review-{lang}-{width}.png"
        browser.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG")
        shots.append(shot)
    pdf = tmp_path / f"review-{lang}.pdf"
    browser.pdf(pdf)
    _keep(*shots, pdf)

    assert browser.problems() == []
    outside = [u for u in browser.requests() if not u.startswith(report.as_uri())]
    assert outside == []
    # Six KPIs: summary, details, data and appendix on their own pages.
    assert 4 <= _pdf_pages(pdf) <= 12


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_insights_fit_a_phone(browser: Browser, tmp_path: Path, lang: str) -> None:
    """Why tables, target notes, streaks and health facts stay on screen."""
    review = make_review(lang, results=make_insight_results())
    report = tmp_path / f"insights-{lang}.html"
    write_atomic(report, render_html(replace(review, sources=make_health_sources())))
    browser.events.clear()

    for width in (1280, 375):
        browser.open(report.as_uri(), width)
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        # Every why block, target note and health fact lies inside the page.
        right = browser.evaluate(
            "Math.max(...[...document.querySelectorAll("
            "'.why, .target-info li, .source-facts > div, .attention-why, .streak'"
            ")].map(e => e.getBoundingClientRect().right))"
        )
        assert 0 < right <= width
        shot = tmp_path / f"insights-{lang}-{width}.png"
        browser.screenshot(shot)
        _keep(shot)

    assert browser.problems() == []


def test_chart_scales_on_phone(browser: Browser, tmp_path: Path) -> None:
    report = tmp_path / "review.html"
    write_atomic(report, render_html(make_review("zh")))

    browser.open(report.as_uri(), 375)
    widths = browser.evaluate(
        "[...document.querySelectorAll('svg.trend')]"
        ".map(s => s.getBoundingClientRect().width)"
    )

    assert widths
    assert all(0 < w <= 375 for w in widths)
