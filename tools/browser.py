"""Debian's Chromium, driven by Selenium through Debian's chromedriver: the tests' and benchmarks' browser.

Selenium's and Playwright's own browser downloads do not work here (no internet); `make test` and
`make bench-review` install `chromium` and `chromium-driver` from the distribution (Makefile browser-deps).
"""

import time
from pathlib import Path

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def chromium(width=1400, height=1000):
    """A headless Chromium (muted, sound allowed to play without a click)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        raise RuntimeError("no Chromium here: apt-get install chromium chromium-driver (make browser-deps)")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", f"--window-size={width},{height}", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required", "--disable-gpu"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def wait_for(condition, what, timeout=60, poll=0.1):
    """``condition()``'s first true value, polled until ``timeout`` seconds (then an AssertionError naming ``what``)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
