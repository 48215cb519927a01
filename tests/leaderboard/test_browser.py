"""Real-browser tests: Debian's headless chromium (driven by selenium through chromedriver) loads the running
app, started as ``bench leaderboard`` starts it, page by page: the overview (the suite's purpose, no Deploy
button), the task page (its table, and the ranks of a higher-is-better metric), an unknown task in the URL
and a comparison's verdict. Each keeps a screenshot as an artifact (``test-artifacts/leaderboard-*.png``, or
under ``$BENCH_TEST_ARTIFACTS``).

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


@pytest.fixture(scope="module")
def server(fixture_store, data_root):
    official, local = fixture_store
    port = _free_port()
    env = {**os.environ, "BENCH_OFFICIAL": str(official), "BENCH_RUNS": str(local), "BENCH_DATA": str(data_root)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "leaderboard" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
           "--client.showErrorDetails", "type"]  # fmt: skip
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


@pytest.fixture(scope="module")
def driver():
    chromium, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
    ):
        options.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield d
    finally:
        d.quit()


def _body(d) -> str:
    from selenium.webdriver.common.by import By

    return d.find_element(By.TAG_NAME, "body").text


def _open(d, url: str, text: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    d.get(url)
    WebDriverWait(d, 90).until(lambda d: text in _body(d))


def _shot(d, name: str, show: str | None = None) -> Path:
    """A screenshot of the page, scrolled so that the first element whose text holds ``show`` is in view."""
    from selenium.webdriver.common.by import By

    if show is not None:
        found = d.find_elements(By.XPATH, f"//*[contains(text(), {show!r})]")
        if found:
            d.execute_script("arguments[0].scrollIntoView({block: 'start'});", found[0])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"leaderboard-{name}.png"
    time.sleep(0.5)  # let the charts finish drawing
    assert d.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    return shot


def _grid(d, header: str) -> list[dict[str, str]]:
    """The rows of the data grid whose column headers include ``header``, as {column: text}; [] until drawn."""
    from selenium.webdriver.common.by import By

    for frame in d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'):
        heads = [h.get_attribute("textContent") for h in frame.find_elements(By.CSS_SELECTOR, '[role="columnheader"]')]
        if header not in heads:
            continue
        rows = []
        for tr in frame.find_elements(By.CSS_SELECTOR, 'tbody [role="row"], [role="row"]:not(:first-child)'):
            cells = [c.get_attribute("textContent") for c in tr.find_elements(By.CSS_SELECTOR, '[role="gridcell"]')]
            if cells:
                rows.append(dict(zip(heads[-len(cells) :], cells, strict=False)))
        return rows
    return []


@pytest.mark.slow
def test_overview_in_a_real_browser(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(driver, f"{server}/", "Tasks and their leaders")
    cells = '[data-testid="stDataFrame"] [role="gridcell"]'
    WebDriverWait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, cells)) > 20)
    body = _body(driver)
    assert "benchmark suite for machine-learning models of interacting particle systems" in body
    assert "smoke test" in body and "tiny" in body  # the scale and budget of the records shown
    assert "Deploy" not in body and not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]')
    assert "/tmp/" not in body and str(REPO) not in body  # no server paths
    _shot(driver, "overview")


@pytest.mark.slow
def test_task_page_in_a_real_browser(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(driver, f"{server}/?page=task&task=spring", "Task: spring")
    cell = '[data-testid="stDataFrame"] [role="gridcell"]'

    def rows(d):
        texts = [c.get_attribute("textContent") for c in d.find_elements(By.CSS_SELECTOR, cell)]
        return texts if "velocitynet (local) · torch" in texts else False

    cells = WebDriverWait(driver, 60).until(rows)
    assert "pair-force-net · torch" in cells and "pair-force-net (local) · torch" in cells
    assert "trivial: predict zero acceleration" in cells and "3" in cells
    assert "Published reference numbers" in _body(driver)
    _shot(driver, "task-spring", show="Results")


@pytest.mark.slow
def test_higher_is_better_ranks_in_a_real_browser(server, driver):
    from selenium.webdriver.support.ui import WebDriverWait

    _open(driver, f"{server}/?page=task&task=spring&metric=force_r2_robust", "Task: spring")
    column = "force_r2_robust ↑"
    table = WebDriverWait(driver, 60).until(lambda d: [r for r in _grid(d, column) if r.get("rank", "").isdigit()])
    assert len(table) >= 2
    ranked = sorted(table, key=lambda r: int(r["rank"]))
    values = [float(r[column].split(" ")[0]) for r in ranked]
    assert values == sorted(values, reverse=True), ranked  # rank 1 has the highest R²
    assert "higher is better" in _body(driver)
    _shot(driver, "task-spring-r2-ranks", show="Results")


@pytest.mark.slow
def test_unknown_task_in_the_url_in_a_real_browser(server, driver):
    _open(driver, f"{server}/?page=task&task=nbody99", "Unknown task")
    body = _body(driver)
    assert "Unknown task 'nbody99' in the URL" in body and "nbody5" in body and "Traceback" not in body
    _shot(driver, "unknown-task")


@pytest.mark.slow
def test_comparison_verdict_in_a_real_browser(server, driver):
    url = f"{server}/?page=compare&task=spring&a=pair-force-net+%C2%B7+torch&b=velocitynet+%28local%29+%C2%B7+torch"
    _open(driver, url + "&unit=snapshots", " is better: its mae is lower than ")
    body = _body(driver)
    assert "pair-force-net · torch is better" in body or "velocitynet (local) · torch is better" in body
    _shot(driver, "compare")
