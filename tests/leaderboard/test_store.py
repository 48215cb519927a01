"""The result store: validation on load, the index, aggregation over seeds and ranks; the paired bootstrap."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.leaderboard import compare, store
from bench.leaderboard.schema import check_record


@pytest.fixture(autouse=True)
def _private_index_cache(tmp_path, monkeypatch):
    """The store's indexes go to this test's own cache folder, never to the user's ~/.cache."""
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "index-cache"))


def _frame(rows):
    base = {"source": "official", "task_version": 1, "scale": "tiny", "backend": "torch", "primary_metric": "mae",
            "lower_is_better": True, "n_parameters": 10, "train_time_s": 1.0, "time_per_epoch_s": 0.5,
            "model_family": "m", "task_family": "forces", "capabilities": "", "model_version": 1,
            "data_checksum": "sha256:x"}  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows])


def test_aggregate_mean_std_seeds_and_ranks():
    rows = [{"task": "spring", "model": "a", "seed": s, "value": v} for s, v in [(0, 1.0), (1, 2.0), (2, 3.0)]]
    rows += [{"task": "spring", "model": "b", "seed": s, "value": v} for s, v in [(0, 0.5), (1, 0.7), (2, 0.9)]]
    rows += [{"task": "spring", "model": "c", "seed": s, "value": 0.1} for s in (0, 1)]  # 2 seeds: unranked
    rows += [{"task": "spring", "model": "d", "seed": 0, "value": 9.0} for _ in range(3)]  # one seed thrice
    agg = store.aggregate(_frame(rows)).set_index("model")
    assert agg.loc["a", "mean"] == 2.0 and agg.loc["a", "std"] == pytest.approx(1.0)  # sample std
    assert agg.loc["b", "mean"] == pytest.approx(0.7) and agg.loc["b", "n_seeds"] == 3
    assert (agg.loc["b", "rank"], agg.loc["a", "rank"]) == (1, 2)
    assert pd.isna(agg.loc["c", "rank"]) and agg.loc["c", "n_seeds"] == 2
    assert agg.loc["d", "n_seeds"] == 1 and agg.loc["d", "n_records"] == 3 and pd.isna(agg.loc["d", "rank"])


def test_an_oracle_entry_is_never_ranked(session_runs):
    rows = [{"task": "t", "model": m, "seed": s, "value": v, "oracle": o}
            for m, v, o in [("a", 2.0, ""), ("b", 1.0, ""), ("told", 0.1, "types")] for s in range(3)]  # fmt: skip
    agg = store.aggregate(_frame(rows)).set_index("model")
    assert (agg.loc["b", "rank"], agg.loc["a", "rank"]) == (1, 2) and pd.isna(agg.loc["told", "rank"])
    assert agg.loc["told", "oracle"] == "types" and agg.loc["told", "mean"] == pytest.approx(0.1)
    # a record says what it was told; one from before the field was told nothing
    record = json.loads(next(session_runs.rglob("result.json")).read_text())
    assert store.flatten({**record, "oracle": ["edges"]})["oracle"] == "edges"
    assert store.flatten({k: v for k, v in record.items() if k != "oracle"})["oracle"] == ""
    assert check_record({**record, "oracle": ["types"]}) == []
    assert "oracle" in dict(check_record({**record, "oracle": "types"}))


def test_higher_is_better_ranks_the_largest_first():
    rows = [{"task": "t", "model": m, "seed": s, "value": v, "lower_is_better": False}
            for m, v in [("a", 0.9), ("b", 0.99)] for s in range(3)]  # fmt: skip
    agg = store.aggregate(_frame(rows)).set_index("model")
    assert (agg.loc["b", "rank"], agg.loc["a", "rank"]) == (1, 2)


def test_load_validates_and_indexes(session_runs, tmp_path):
    root = shutil.copytree(session_runs, tmp_path / "runs")
    records = store.load(None, [root])
    assert len(records.frame) == 6 and not records.invalid
    assert set(records.frame["model"]) == {"pair-force-net", "velocitynet"}
    assert store.index_path(root).is_file() and store.index_path(root).parent == tmp_path / "index-cache"
    assert not list(root.rglob("*.parquet"))  # nothing written beside the records
    # a broken record is listed with its reason; a changed record is re-read, not served from the index
    broken, changed = sorted(root.rglob("result.json"))[:2]
    broken.write_text("{not json")
    record = json.loads(changed.read_text())
    record["metrics"]["mae"] = 123.0
    changed.write_text(json.dumps(record))
    records = store.load(None, [root])
    assert len(records.frame) == 5 and records.invalid[0][0] == str(broken.parent)
    assert "cannot be read as JSON" in records.invalid[0][1]
    assert 123.0 in set(records.frame["value"])


def _settle(root):
    """Date the index of ``root`` 10 s later, as if it had been written well after its records."""
    path = store.index_path(root)
    later = path.stat().st_mtime_ns + 10_000_000_000
    os.utime(path, ns=(later, later))


def test_an_unchanged_store_is_read_from_its_index_without_opening_a_record(session_runs, tmp_path, monkeypatch):
    root = shutil.copytree(session_runs, tmp_path / "runs")
    first = store.load(None, [root]).frame
    opened = []
    real = store._read_bytes
    monkeypatch.setattr(store, "_read_bytes", lambda path: opened.append(path) or real(path))
    # records written less than RACY_NS before their index are hashed again (a write in the same clock tick)
    store.load(None, [root])
    assert len(opened) == 6
    _settle(root)
    opened.clear()
    again = store.load(None, [root]).frame
    assert opened == [] and again.drop(columns="run_dir").equals(first.drop(columns="run_dir"))
    # a record rewritten with the same size and its old modification time is still seen: its change time moved
    changed = sorted(root.rglob("result.json"))[0]
    before, text = changed.stat(), changed.read_text()
    mae = json.dumps(json.loads(text)["metrics"]["mae"])
    edited = text.replace(f'"mae": {mae}', f'"mae": 9{mae[1:]}', 1)
    assert edited != text and len(edited) == len(text)
    changed.write_text(edited)
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changed.stat().st_mtime_ns == before.st_mtime_ns and changed.stat().st_size == before.st_size
    values = set(store.load(None, [root]).frame["value"])
    assert float(f"9{mae[1:]}") in values and [p.parent for p in opened] == [changed.parent]
    # a copied store (new inodes and times, the same bytes) is hashed, not validated again
    copy = shutil.copytree(root, tmp_path / "copy")
    store.load(None, [copy])
    _settle(copy)
    shutil.rmtree(copy)
    shutil.copytree(root, copy)
    monkeypatch.setattr(store, "_read_one", lambda path: pytest.fail(f"{path} validated again"))
    assert len(store.load(None, [copy]).frame) == 6


def test_schema_names_each_bad_field(session_runs):
    record = json.loads(next(session_runs.rglob("result.json")).read_text())
    assert check_record(record) == []
    bad = {**record, "seed": "0", "metrics": {**record["metrics"], "mae": "x"}}
    del bad["data_checksum"]
    fields = dict(check_record(bad))
    assert fields["seed"].startswith("must be an integer") and fields["data_checksum"] == "missing"
    assert "mae" in " ".join(fields) and len(fields) == 3
    assert "not a supported schema version" in dict(check_record({**record, "schema_version": 99}))["schema_version"]
    assert (
        "version 1 records are no longer read" in dict(check_record({**record, "schema_version": 1}))["schema_version"]
    )


def test_bench_results_prints_the_aggregate(session_runs, capsys):
    code = main(["results", "--source", "local", "--runs", str(session_runs)])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if "spring v2" in line]
    assert len(lines) == 2 and all(" 3 " in line for line in lines)  # two entries of three seeds, ranked
    assert lines[0].split()[3] == "1" and "±" in lines[0]
    code = main(["results", "--source", "local", "--runs", str(session_runs), "--records", "--model", "velocitynet"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("local")]
    assert code == 0 and len(rows) == 3 and all("velocitynet" in row for row in rows)
    assert main(["results", "--source", "nowhere"]) == 2
    assert "unknown source 'nowhere'" in capsys.readouterr().err


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, size=(20, 50))
    better = base * 0.8  # 20 % lower error on every sample
    real = compare.paired_bootstrap(better, base)
    assert real["ci_high"] < 0 and real["p_value"] < 0.01 and real["diff"] == pytest.approx((better - base).mean())
    noise = base + rng.normal(0, 0.01, size=base.shape)
    null = compare.paired_bootstrap(noise, noise[:, ::-1][:, ::-1] + 0)  # identical errors
    assert null["diff"] == 0 and null["p_value"] == 1.0
    shuffled = compare.paired_bootstrap(base, rng.permuted(base, axis=1), unit="simulations")
    assert shuffled["ci_low"] < 0 < shuffled["ci_high"] or shuffled["diff"] == 0
    with pytest.raises(ValueError, match="not paired"):
        compare.paired_bootstrap(base, base[:5])
