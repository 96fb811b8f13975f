"""Review page benchmark (`make bench-review`): the translator's loop, timed in Debian's Chromium.

1. A 3-minute lecture (bench_scale's synthetic lecture and script), dubbed with Piper; then, in the page:
   edit one line's text, click Re-dub, and time from the click to "re-dub done" (saving, the ordinary
   Snakemake target, the reload of the lines). Counts the lines voiced (`synth_batch.json`).
2. A 60-minute lecture (600 lines), dubbed with Piper; then the page's open time (navigation start to
   the lines and timeline drawn, from the page's own performance clock) and its responsiveness: one
   timeline redraw, one wheel zoom, one keystroke in a line's text (median of repeats, in the page).

Everything runs in throwaway copies of the workflow (tools/workflow_copy.py), never the repository's
media/ or results/. Writes <out>/review.json (default results/bench/).
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import make_media, snakemake, workdir_for
from browser import chromium, wait_for

REPO = Path(__file__).resolve().parents[1]


def serve(work, video):
    process = subprocess.Popen([sys.executable, "tools/review.py", video, "--port", "0", "--cores", "2"], cwd=work,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", process.stdout.readline()).group(0)
    return process, url


def wait(condition, timeout=300):
    return wait_for(condition, "the page", timeout, poll=0.05)


def open_page(driver, url):
    driver.get(url)
    wait(lambda: driver.execute_script("return document.body.dataset.ready") == "yes")
    return float(driver.execute_script("return Number(document.body.dataset.readyMs)")) / 1000


def dubbed(root, minutes):
    folder = root / "media-src"
    video, script, lines = make_media(folder, f"lecture{minutes}", minutes)
    work = workdir_for(root, f"work{minutes}", video, script)
    started = time.monotonic()
    snakemake(work, [f"results/{video.stem}/dubbed.mp4"], None)
    print(f"{minutes} min, {len(lines)} lines: dubbed in {time.monotonic() - started:.0f} s", flush=True)
    return work, video.stem, len(lines)


def redub_one_line(root, driver):
    from selenium.webdriver.common.by import By

    work, name, count = dubbed(root, 3)
    process, url = serve(work, name)
    try:
        open_seconds = open_page(driver, url)
        first = driver.find_element(By.CSS_SELECTOR, "#rows .line:nth-child(7) textarea")
        first.send_keys(" Indeed.")
        started = time.monotonic()
        driver.find_element(By.ID, "redub").click()
        wait(lambda: "re-dub done" in driver.find_element(By.ID, "status").text
             or "failed" in driver.find_element(By.ID, "status").text)
        seconds = time.monotonic() - started
        status = driver.find_element(By.ID, "status").text
    finally:
        process.terminate()
    voiced = json.loads((work / "results" / name / "synth_batch.json").read_text())["synthesized"]
    return {"minutes": 3, "lines": count, "open_seconds": round(open_seconds, 3),
            "redub_seconds": round(seconds, 2), "voiced": voiced, "status": status}


def in_page(driver, script, repeats=15):
    """Median milliseconds of ``script`` (JavaScript run in the page) over ``repeats``."""
    times = []
    for _ in range(repeats):
        times.append(driver.execute_script(f"const t = performance.now(); {script}; return performance.now() - t;"))
    return round(statistics.median(times), 2)


def large_page(root, driver, minutes):
    work, name, count = dubbed(root, minutes)
    process, url = serve(work, name)
    try:
        opens = [open_page(driver, url) for _ in range(3)]
        redraw = in_page(driver, "drawAll()")
        zoom = in_page(driver, "document.getElementById('detail').dispatchEvent(new WheelEvent('wheel', "
                               "{deltaY: -100, clientX: 300, cancelable: true}))")
        keystroke = in_page(driver, "const a = document.querySelector('#rows .line:nth-child(300) textarea'); "
                                    "a.value += 'x'; a.dispatchEvent(new Event('input'))")
    finally:
        process.terminate()
    return {"minutes": minutes, "lines": count, "open_seconds": round(statistics.median(opens), 3),
            "open_all": [round(o, 3) for o in opens], "redraw_ms": redraw, "zoom_ms": zoom, "keystroke_ms": keystroke}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "results" / "bench"))
    parser.add_argument("--minutes", type=int, default=60, help="the long lecture (600 lines at 60)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    driver = chromium()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
            small = redub_one_line(Path(tmp), driver)
            print(f"3-minute lecture: edit one line -> re-dub done in {small['redub_seconds']} s "
                  f"(target < 15 s); voiced {small['voiced']} line(s); page open {small['open_seconds']} s", flush=True)
            large = large_page(Path(tmp), driver, args.minutes)
            print(f"{large['lines']} lines: page open {large['open_seconds']} s (target < 1 s; runs {large['open_all']}); "
                  f"timeline redraw {large['redraw_ms']} ms, wheel zoom {large['zoom_ms']} ms, "
                  f"keystroke {large['keystroke_ms']} ms", flush=True)
    finally:
        driver.quit()
    (out / "review.json").write_text(json.dumps({"redub": small, "large": large}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
