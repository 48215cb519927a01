"""One real-browser test: Debian's headless chromium (driven by selenium through chromedriver) loads the
running app; the task page renders its table with the expected rows; a screenshot is kept as an artifact
(``test-artifacts/leaderboard-task-spring.png``, or under ``$BENCH_TEST_ARTIFACTS``).

Chromium is installed by ``.ci/setup-browser`` (called by ``.ci/run``); where it cannot be, this test skips
and says why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BENCH_TEST_ARTIFACTS", REPO / "test-artifacts"))


def _browser() -> tuple[str, str]:
    pytest.importorskip("streamlit")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed: run .ci/setup-browser (needs root/apt)")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(fixture_store, data_root):
    official, local = fixture_store
    port = _free_port()
    env = {**os.environ, "BENCH_OFFICIAL": str(official), "BENCH_RUNS": str(local), "BENCH_DATA": str(data_root)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "leaderboard" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_task_page_in_a_real_browser(server):
    chromium, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1100",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(f"{server}/?page=task&task=spring")
        WebDriverWait(driver, 60).until(lambda d: "Task: spring" in d.find_element(By.TAG_NAME, "body").text)
        cell = '[data-testid="stDataFrame"] [role="gridcell"]'

        def rows(d):
            texts = [c.get_attribute("textContent") for c in d.find_elements(By.CSS_SELECTOR, cell)]
            return texts if "velocitynet (local) · torch" in texts else False

        cells = WebDriverWait(driver, 60).until(rows)
        assert "pair-force-net · torch" in cells and "pair-force-net (local) · torch" in cells
        assert "published: gnn" in cells and "3" in cells and "mae" in cells
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "leaderboard-task-spring.png"
        time.sleep(0.5)  # let the charts below the table finish drawing
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        driver.quit()
