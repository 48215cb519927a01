"""The Streamlit app, page by page, with Streamlit's AppTest on a fixture store of real tiny runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.leaderboard import compare  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "leaderboard" / "app.py")
LATEX = r"-0.75 \Delta x + 0.53 \Delta y"


@pytest.fixture(scope="module")
def stores(fixture_store, tmp_path_factory):
    """The fixture store, with a symbolic-regression result added to one local run (as the SR stage writes it)."""
    official, session_runs = fixture_store
    local = Path(shutil.copytree(session_runs, tmp_path_factory.mktemp("local") / "runs"))
    run = sorted((local / "spring" / "pair-force-net").iterdir())[0]
    record = json.loads((run / "result.json").read_text())
    record["analyses"]["symbolic"] = {
        "engine": "operon", "recovered": True,
        "components": [{"component": 0, "latex": LATEX, "complexity": 7, "mse": 0.01, "recovered": True}],
    }  # fmt: skip
    (run / "result.json").write_text(json.dumps(record))
    return official, local


@pytest.fixture
def app(stores, data_root, monkeypatch):
    official, local = stores
    monkeypatch.setenv("BENCH_OFFICIAL", str(official))
    monkeypatch.setenv("BENCH_RUNS", str(local))
    monkeypatch.setenv("BENCH_DATA", str(data_root))

    def make(**params) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


def _texts(at) -> str:
    return " ".join(e.value for kind in ("markdown", "caption", "info", "error", "warning", "success")
                    for e in getattr(at, kind))  # fmt: skip


def test_overview_purpose_every_task_leaders_and_source_toggles(app):
    at = app()
    assert at.title[0].value == "ParticleBench leaderboard"
    text = _texts(at)
    assert "benchmark suite for machine-learning models of interacting particle systems" in text
    assert "README" in text and "tutorial" in text and "/tmp" not in text  # links, no server paths
    assert "scale **tiny** (at most 2 epochs" in text and "a smoke test" in text  # read from the records
    leaders = at.dataframe[0].value
    from bench.leaderboard import catalogue

    assert len(leaders) == len(catalogue.tasks())  # every task, entries or not
    spring = leaders[leaders["task"].str.endswith("task=spring")].iloc[0]
    assert spring["metric"] == "mae ↓"
    assert set(spring["leader"].split(" = ")) == {"pair-force-net", "pair-force-net (local)"}  # a tie: both named
    assert " ± " in spring["mean ± std"] and spring["trivial"].endswith(" ± 0")  # predict zero: zero_mae
    assert (leaders.loc[leaders["entries"] == 0, "leader"] == "no entries yet").all()
    matrix = at.dataframe[1].value
    assert set(matrix.index) == {"pair-force-net", "pair-force-net (local)", "velocitynet (local)"}
    assert list(matrix.columns) == ["spring · mae ↓"]
    assert matrix.loc["pair-force-net"].iat[0] == pytest.approx(matrix.loc["pair-force-net (local)"].iat[0])
    at.sidebar.toggle(key="show-local").set_value(False).run()
    assert set(at.dataframe[1].value.index) == {"pair-force-net"}
    assert at.query_params["local"] == ["0"] or at.query_params["local"] == "0"


def _ranks(table):
    return dict(zip(table["entry"], table["rank"], strict=True))


def test_task_page_card_global_ranks_trivial_row_and_references(app):
    at = app(page="task", task="spring")
    assert at.title[0].value == "Task: spring"
    card = at.table[0].value
    assert "split" in card.index and "70%" in card.loc["split"].iat[0]
    metrics = at.dataframe[0].value
    assert metrics.set_index("metric").loc["force_r2_robust", "direction"].startswith("↑ higher")
    table = at.dataframe[1].value
    entries = list(table["entry"])
    assert "pair-force-net · torch" in entries and "velocitynet (local) · torch" in entries
    assert "mae ↓" in table.columns and "÷ trivial" in table.columns
    ranked = table[table["rank"].isin(["1", "2", "3"])]
    assert len(ranked) == 3 and (ranked["seeds"] == "3").all()
    trivial = table[table["entry"] == "trivial: predict zero acceleration"]
    assert len(trivial) == 1 and trivial["note"].iat[0] == "read from the records"
    # the published numbers: their own table, each with its protocol; none in the results table
    assert not table["entry"].str.startswith("published").any()
    refs = at.dataframe[2].value
    cranmer = refs[refs["metric"] == "loss_sum"]
    assert list(cranmer["model"]) == ["gnn", "gnn-bottleneck", "gnn-l1"]
    assert list(cranmer["value"]) == ["0.047", "0.046", "0.045"]
    assert (cranmer["protocol"] == "NOT our protocol: the paper's own quantity").all()
    assert cranmer["definition"].str.contains("multiply our MAE by n·d = 8").all()
    assert len(at.get("vega_lite_chart")) == 5  # dots ± std, metric vs parameters / time, curves, probe
    assert any("R² robust" in m.value for m in at.markdown)
    # a filter hides rows and keeps the global ranks
    before = _ranks(table)
    at.sidebar.multiselect(key="f-capability").set_value(["edge_messages"]).run()
    after = _ranks(at.dataframe[1].value)
    assert not any("velocitynet" in e for e in after)
    assert all(before[e] == r for e, r in after.items() if e in before)
    assert at.query_params["capability"] in ("edge_messages", ["edge_messages"])


def test_an_oracle_entry_is_shown_unranked_with_what_it_was_told(app, stores, tmp_path, monkeypatch):
    official, local = stores
    mine = Path(shutil.copytree(local, tmp_path / "runs"))
    for path in (mine / "spring" / "velocitynet").rglob("result.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "oracle": ["types"]}))
    monkeypatch.setenv("BENCH_RUNS", str(mine))
    table = app(page="task", task="spring").dataframe[1].value
    row = table[table["entry"] == "velocitynet (local) · torch"]
    assert row["rank"].iat[0] == "–"
    assert row["note"].iat[0].endswith("oracle: told the true types as input; an upper bound, unranked")
    assert (table.loc[table["entry"] != "velocitynet (local) · torch", "rank"] != "–").sum() >= 2  # others ranked


def test_higher_is_better_metric_ranks_the_highest_first(app):
    at = app(page="task", task="spring", metric="force_r2_robust")
    table = at.dataframe[1].value
    column = "force_r2_robust ↑"
    assert column in table.columns
    ranked = table[table["rank"] != "–"].copy()
    ranked["value"] = ranked[column].str.split(" ").str[0].astype(float)
    ranked["r"] = ranked["rank"].astype(int)
    assert ranked.sort_values("r")["value"].is_monotonic_decreasing
    assert "higher is better" in _texts(at)
    refs = at.dataframe[2].value
    published = refs[refs["metric"] == "force_r2_robust"]
    assert list(published["value"]) == ["1", "0.9196", "0.9979", "0.8014", "0.9523"]  # spring, Table 3
    assert published["source"].str.startswith("report 'Symbolic Distillation of GNNs', Table 3").all()


def test_unknown_names_in_the_url_are_named_with_the_valid_ones(app):
    at = app(page="task", task="nosuch")
    assert "Unknown task 'nosuch' in the URL" in at.error[0].value and "nbody5" in at.error[0].value
    at = app(page="model", model="nosuch")
    assert "Unknown model 'nosuch' in the URL" in at.error[0].value and "pair-force-net" in at.error[0].value
    at = app(page="task", task="spring", metric="nosuch")
    assert "Unknown metric 'nosuch'" in at.error[0].value and "force_r2_robust" in at.error[0].value
    at = app(page="nosuch")
    assert "Unknown page 'nosuch'" in at.error[0].value


def test_a_task_without_entries_has_its_page(app):
    at = app(page="task", task="nbody5")
    assert at.title[0].value == "Task: nbody5" and not at.error
    assert "No entries yet on nbody5" in at.info[0].value
    assert "mse" in list(at.dataframe[0].value["metric"])  # the metric table, from the evaluator


def test_task_page_renders_the_recovered_equation(app):
    at = app(page="task", task="spring")
    labels = at.selectbox(key="probe-run").options
    local_seed0 = next(i for i, label in enumerate(labels) if "(local)" in label and "seed 0" in label)
    at.selectbox(key="probe-run").set_value(local_seed0).run()
    assert any(LATEX in lt.value for lt in at.latex) and any("law recovered" in m.value for m in at.markdown)
    assert any("As reported by the run" in c.value for c in at.caption)  # not re-scored: marked so


def test_compare_page_paired_bootstrap(app, fixture_store, data_root):
    at = app(page="compare", task="spring", a="pair-force-net · torch", b="velocitynet (local) · torch")
    assert at.title[0].value == "Compare two entries"
    assert not at.exception and not at.error
    shown_diff = float(at.metric[0].value)
    # the same difference, computed here from the saved predictions
    from bench.config import task_card
    from bench.leaderboard.submit import official_data

    official, local = fixture_store
    card, target = task_card("spring"), "acceleration"
    fam, data = official_data(card, "tiny", data_root)
    true = fam.truth(card, data, ("acceleration_pred",))["acceleration_true"]
    a = compare.entry_errors(sorted((official / "pair-force-net" / "spring").iterdir()), target, true)
    b = compare.entry_errors(sorted((local / "spring" / "velocitynet").iterdir()), target, true)
    assert shown_diff == pytest.approx(float(np.mean(a - b)), rel=1e-3)
    verdict = (at.success or at.info)[0].value
    better = "pair-force-net · torch" if np.mean(a - b) < 0 else "velocitynet (local) · torch"
    assert verdict.startswith(f"{better} is better") or verdict.startswith("No significant difference")
    assert any("paired simulations" in m.value for m in at.markdown)  # the family's unit, the default
    assert "fewer than 20" in at.warning[0].value  # 3 test simulations at the tiny scale
    histogram = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert histogram["layer"][0]["encoding"]["x"]["type"] == "quantitative"  # numeric bins, not strings
    assert histogram["layer"][1]["mark"]["type"] == "rule"  # the mark at zero
    at.selectbox(key="select-unit").set_value("snapshots").run()
    assert at.query_params["unit"] in ("snapshots", ["snapshots"])
    verdict = (at.success or at.info)[0].value
    better = "pair-force-net · torch" if np.mean(a - b) < 0 else "velocitynet (local) · torch"
    assert verdict.startswith(f"{better} is better")  # 3 × 100 snapshots: a clear verdict naming the better entry


def test_verdict_names_the_better_entry():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.1, size=(40, 5))
    result = compare.paired_bootstrap(a, a + 0.5, unit="simulations")
    text = compare.verdict(result, "alpha", "beta", "mae", "simulations")
    assert text.startswith("alpha is better: its mae is lower than beta's by 0.5") and "95 % interval" in text
    assert compare.verdict(compare.paired_bootstrap(a + 0.5, a), "alpha", "beta", "mae").startswith("beta is better")
    same = compare.paired_bootstrap(a, a + rng.normal(0, 0.1, size=a.shape))
    assert compare.verdict(same, "alpha", "beta", "mae").startswith("No significant difference")


def test_model_page_card_and_results(app):
    at = app(page="model", model="pair-force-net")
    assert at.title[0].value == "Model: pair-force-net"
    text = " ".join(m.value for m in at.markdown)
    assert "Ada Example, Bo Example" in text and "https://example.org/pair-force-net" in text and "MIT" in text
    results = at.dataframe[0].value
    assert set(results["entry"]) == {"pair-force-net · torch", "pair-force-net (local) · torch"}
    assert set(results["seeds"]) == {"3"}
    assert set(results["rank"]) == {"1 of 3"}  # global ranks: the two equal entries tie, velocitynet is third


def test_model_page_of_a_local_model_without_card(app):
    at = app(page="model", model="velocitynet")
    card = at.table[0].value
    assert card.loc["note", "value"] == "local runs: no submitted card"  # a table, not raw YAML
    assert at.dataframe[0].value["rank"].iat[0] == "3 of 3"


def test_nbody_rollout_panel_draws_prediction_and_truth_from_the_same_start():
    from bench.tasks.nbody.app import rollout_frame

    true = np.arange(3 * 2 * 3, dtype=float).reshape(3, 2, 3)  # input frame + 2 jumps, 2 particles
    pred = true[1:] + 0.5
    frame = rollout_frame(pred, true)
    assert set(frame["kind"]) == {"true", "predicted"} and len(frame) == 2 * 3 * 2
    start = frame[frame["step"] == 0]
    assert (start.groupby("particle")["x"].nunique() == 1).all()  # the rollout starts from the true input frame
    last = frame[(frame["step"] == 2) & (frame["particle"] == "1")].set_index("kind")
    assert last.loc["predicted", "x"] == last.loc["true", "x"] + 0.5
