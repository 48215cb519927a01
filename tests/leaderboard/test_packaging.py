"""The wheel: only ``bench`` (with its symlinked ``tasks``, ``baselines``, ``leaderboard``), its configuration
and the official records complete enough to re-verify them; and a store read never writes beside its records
(the official one may sit read-only in site-packages), only into the index cache folder."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.leaderboard import store

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "bench"
RESULTS = REPO / "leaderboard" / "results"
SKIPPED = {"build", "dist", "__pycache__", "runs", "outputs", "submissions", "test-artifacts", "runs-official"}
"""Top-level or nested folders never copied into the build tree (build outputs, local runs)."""


def _ignore(folder: str, names: list[str]) -> set[str]:
    """What the wheel is not built from: dot folders (.git, caches), build outputs, egg-info, local runs and
    generated datasets (only ``data/manifests`` and ``data/README.md`` are sources)."""
    skip = {n for n in names if n.startswith(".") or n in SKIPPED or n.endswith(".egg-info")}
    if Path(folder).resolve() == (REPO / "data").resolve():
        skip |= set(names) - {"manifests", "README.md"}
    return skip


def _files(root: Path, pattern: str = "*") -> set[str]:
    """Files under ``root`` (symbolic links followed) matching ``pattern``, as posix paths relative to it,
    leaving out dot files, dot folders and ``__pycache__``."""
    found = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            if not name.startswith(".") and Path(name).match(pattern):
                found.add(Path(folder, name).relative_to(root).as_posix())
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """The wheel, built without build isolation from a clean copy of the source tree (a build in the working
    tree would leave ``build/`` there, whose stale files later builds would pick up)."""
    src = tmp_path_factory.mktemp("src") / "particlebench"
    shutil.copytree(REPO, src, symlinks=True, ignore=_ignore)
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(out), "-q"]
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("particlebench-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_wheel_holds_only_bench_with_its_code_and_configuration(wheel):
    names = set(wheel.namelist())
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"bench"}, tops
    assert not any(n.startswith("benchmarks/") for n in names)
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert wheel.read(top_level).decode().split() == ["bench"]
    inits = {f"bench/{sub}__init__.py" for sub in ("", "tasks/", "baselines/", "leaderboard/")}
    assert inits | {"bench/leaderboard/app.py", "bench/leaderboard/store.py"} <= names
    # every module below bench/ (symlinked trees included): a code folder without __init__.py would be lost
    modules = {f"bench/{p}" for p in _files(PACKAGE, "*.py")}
    assert modules - names == set(), "modules left out of the wheel (a folder without __init__.py?)"
    # the configuration: bench/conf, every conf/ folder below bench.tasks and bench.baselines, manifests
    conf = {f"bench/{p}" for p in _files(PACKAGE, "*.yaml") if "conf" in Path(p).parts[:-1]}
    assert any(c.startswith("bench/conf/") for c in conf)
    assert any(c.startswith("bench/tasks/") for c in conf) and any(c.startswith("bench/baselines/") for c in conf)
    assert conf - names == set()
    manifests = {f"bench/tasks/manifests/{p}" for p in _files(PACKAGE / "tasks" / "manifests", "*.json")}
    assert manifests and manifests - names == set()
    assert {"bench/leaderboard/baselines.yaml", "bench/leaderboard/references.yaml"} <= names
    assert not any(n.endswith(".parquet") or "__pycache__" in n for n in names)


def test_wheel_ships_the_official_records_byte_for_byte(wheel):
    repo = _files(RESULTS)
    assert {Path(p).name for p in repo} >= {"card.yaml", "result.json", "config.yaml", "predictions.npz"}
    shipped = {n[len("bench/leaderboard/results/") :] for n in wheel.namelist()
               if n.startswith("bench/leaderboard/results/")}  # fmt: skip
    assert shipped == repo
    for rel in sorted(repo):
        assert wheel.read(f"bench/leaderboard/results/{rel}") == (RESULTS / rel).read_bytes(), rel


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``root``, dot files included: relative path → (size, mtime_ns, sha256) or folder."""
    snap = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            snap[os.path.relpath(os.path.join(folder, name), root)] = (-1, -1, "dir")
        for name in files:
            path = Path(folder, name)
            st, digest = path.stat(), hashlib.sha256(path.read_bytes()).hexdigest()
            snap[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, digest)
    return snap


def _n_read(records: store.Records) -> int:
    """Records read, valid or not (what is checked here is where the store writes, not the records)."""
    return len(records.frame) + len(records.invalid)


@pytest.fixture
def small_store(tmp_path) -> Path:
    """A copy of one model's official records (its card and a handful of runs)."""
    model = next(p for p in sorted(RESULTS.iterdir()) if (p / "card.yaml").is_file())
    root = tmp_path / "official"
    shutil.copytree(model, root / model.name)
    return root


def test_reading_the_official_store_writes_only_into_the_cache(small_store, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    before = _snapshot(small_store)
    records = store.load(small_store)
    assert _n_read(records) == len(list(small_store.rglob("result.json"))) > 0
    assert _snapshot(small_store) == before
    index = store.index_path(small_store)
    assert index.parent == cache and re.fullmatch(r"index-[0-9a-f]{16}-r\d+-i\d+\.parquet", index.name)
    assert sorted(cache.iterdir()) == [index]
    # a second read is served from the index: no record is parsed again
    monkeypatch.setattr(store, "_read_one", lambda path: pytest.fail(f"re-parsed {path}"))
    again = store.load(small_store)
    ordered = [r.frame.sort_values("run_dir").reset_index(drop=True) for r in (records, again)]
    assert ordered[0].equals(ordered[1]) and again.invalid == records.invalid
    assert _snapshot(small_store) == before


def test_an_unwritable_cache_is_not_used(small_store, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(store.CACHE_ENV, str(blocker / "cache"))  # cannot be created, even by root
    before = _snapshot(small_store)
    for _ in range(2):  # read in full each time
        assert _n_read(store.load(small_store)) == len(list(small_store.rglob("result.json"))) > 0
    assert _snapshot(small_store) == before and blocker.read_text() == ""


def test_the_cache_folder_and_one_index_per_root(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(store.CACHE_ENV)
    assert store.cache_dir() == tmp_path / "xdg" / "particlebench"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid by the XDG spec: ignored
    assert store.cache_dir() == tmp_path / "home" / ".cache" / "particlebench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert store.cache_dir() == tmp_path / "home" / ".cache" / "particlebench"
    # one file per root, by its resolved path: the same root spelt differently shares it
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert store.index_path(tmp_path / "a") == store.index_path(tmp_path / "a" / "b" / "..")
    assert store.index_path(tmp_path / "a") == store.index_path(tmp_path / "link")
    assert store.index_path(tmp_path / "a") != store.index_path(tmp_path / "a" / "b")
