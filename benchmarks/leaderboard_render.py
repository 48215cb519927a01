"""How long the leaderboard's first page takes with 10,000 result records in the store.

    python -m benchmarks.leaderboard_render [--records 10000] [--browser]

Writes a synthetic store (records shaped like real ones: copies of an official record with other tasks,
models, backends, seeds and metrics) into a temporary folder, then measures, each in a fresh process:

* ``cold``: the overview page's script run (Streamlit ``AppTest``) on a store without its index: every
  ``result.json`` is parsed and the index is written;
* ``warm``: the same on the indexed store (every later start of the app);
* with ``--browser`` (needs chromium, chromedriver and selenium): a real browser opening the running app
  until the overview table's cells are on screen, server start-up excluded.

The goal is under 3 s for the first page with 10,000 records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "leaderboard" / "app.py"
TASKS = ["spring", "r1", "r2", "charge", "superposition", "damped", "discontinuous"]
BACKENDS = ["torch", "pyg", "dgl"]

_RUN_APP = """
import sys, time
t = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
elapsed = time.perf_counter() - t
assert not at.exception, [e.value for e in at.exception]
matrix = at.dataframe[-1].value  # the task × model matrix, below the tasks table
print(f"{elapsed:.3f} {matrix.shape[0]} {matrix.shape[1]}")
"""


def template() -> dict:
    """A force task's record to copy the shape of: an official one, else the test fixtures' (tiny scale)."""
    stores = [REPO / "leaderboard" / "results", REPO / "tests" / "fixtures" / "official_tiny"]
    found = [f for store in stores for f in sorted(store.glob("*/spring/*/result.json"))]
    if not found:
        raise SystemExit("no force record to copy the shape of; run python -m bench.leaderboard.official first")
    return json.loads(found[0].read_text())


def write_store(root: Path, n: int, seed: int = 0) -> None:
    base = template()
    rng = np.random.default_rng(seed)
    models = [f"model-{k:03d}" for k in range(max(1, n // (len(TASKS) * len(BACKENDS) * 3)))]
    k = 0
    while k < n:
        for model in models:
            for task in TASKS:
                for backend in BACKENDS:
                    for s in range(3):
                        if k == n:
                            return
                        rec = json.loads(json.dumps(base))
                        mae = float(rng.lognormal(0, 0.5))
                        rec.update(task=task, model=model, backend=backend, seed=s + 3 * (k // (len(models) * 63)))
                        rec["metrics"] = {**rec["metrics"], "mae": mae, "mse": mae * mae * 2}
                        rec["config"]["task"]["name"], rec["config"]["model"]["name"] = task, model
                        rec["config"]["seed"] = rec["seed"]
                        folder = root / task / model / f"tiny-seed{rec['seed']}-{backend}-{k:05d}"
                        folder.mkdir(parents=True)
                        (folder / "result.json").write_text(json.dumps(rec, indent=1))
                        k += 1


def run_app(root: Path) -> tuple[float, str]:
    env = {**os.environ, "BENCH_OFFICIAL": str(root), "BENCH_RUNS": ""}
    out = subprocess.run([sys.executable, "-c", _RUN_APP, str(APP)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    seconds, rows, cols = out.stdout.split()[-3:]
    return float(seconds), f"{rows} models × {cols} tasks"


def browser(root: Path) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = 8599
    env = {**os.environ, "BENCH_OFFICIAL": str(root), "BENCH_RUNS": ""}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        import urllib.request

        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            cells = '[data-testid="stDataFrame"] [role="gridcell"]'
            times = []
            for _ in range(2):  # the first visitor after the server started, then a later visitor
                t = time.perf_counter()
                driver.get(f"http://127.0.0.1:{port}/?visit={len(times)}")
                WebDriverWait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, cells)) > 10)
                times.append(time.perf_counter() - t)
            return times
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--browser", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        t = time.perf_counter()
        write_store(root, args.records)
        size = sum(f.stat().st_size for f in root.rglob("result.json"))
        took = time.perf_counter() - t
        print(f"synthetic store: {args.records:,} records ({size / 1e6:.0f} MB) written in {took:.1f} s")
        cold, shape = run_app(root)
        print(f"first page, cold (no index: every record parsed, index written): {cold:.2f} s  [{shape}]")
        warm = [run_app(root)[0] for _ in range(3)]
        print(f"first page, warm (indexed store, fresh process): {min(warm):.2f} s (best of 3; all: "
              f"{', '.join(f'{w:.2f}' for w in warm)})")  # fmt: skip
        if args.browser:
            first, later = browser(root)
            print(f"first page in headless chromium (indexed store), until the table's cells show: first visitor "
                  f"after the server started {first:.2f} s, a later visitor {later:.2f} s")  # fmt: skip
        print(f"goal: < 3 s; warm/goal = {min(warm) / 3:.2f}, cold/goal = {cold / 3:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
