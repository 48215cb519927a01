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


def test_overview_matrix_and_source_toggles(app):
    at = app()
    assert at.title[0].value == "ParticleBench leaderboard"
    matrix = at.dataframe[0].value
    assert set(matrix.index) == {"pair-force-net", "pair-force-net (local)", "velocitynet (local)"}
    assert list(matrix.columns) == ["spring v1 · mae"]
    assert matrix.loc["pair-force-net", "spring v1 · mae"] == pytest.approx(matrix.loc["pair-force-net (local)"].iat[0])
    at.sidebar.toggle(key="show-local").set_value(False).run()
    assert set(at.dataframe[0].value.index) == {"pair-force-net"}
    at.sidebar.toggle(key="show-official").set_value(False).run()
    assert "No result records yet" in at.info[0].value


def test_task_page_table_references_filters_and_plots(app):
    at = app(page="task", task="spring")
    assert at.title[0].value == "Task: spring"
    table = at.dataframe[0].value
    entries = list(table["entry"])
    assert "pair-force-net · torch" in entries and "velocitynet (local) · torch" in entries
    ranked = table[table["rank"].isin(["1", "2", "3"])]
    assert len(ranked) == 3 and (ranked["seeds"] == "3").all()
    published = table[table["rank"] == "ref"]
    assert set(published["metric"]) == {"loss_sum", "report_mae"}  # the papers' own losses, with the primary metric
    cranmer = published[published["metric"] == "loss_sum"]
    assert list(cranmer["entry"]) == ["published: gnn", "published: gnn-bottleneck", "published: gnn-l1"]
    assert list(cranmer["mean ± std"]) == ["0.047", "0.046", "0.045"]
    assert cranmer["note"].str.contains("multiply our MAE by n·d = 8").all()  # the note: source and definition
    assert len(at.get("vega_lite_chart")) == 3  # training curves, speed bars, message-vs-force scatter
    assert any("R² robust" in m.value for m in at.markdown)
    # filters: a capability only the example exposes; a metric other than the primary one
    at.sidebar.multiselect(key="f-capability").set_value(["edge_messages"]).run()
    assert not any("velocitynet" in e for e in at.dataframe[0].value["entry"])
    at.selectbox(key="metric").set_value("force_r2_robust").run()
    shown = at.dataframe[0].value
    assert shown["metric"].iloc[0] == "force_r2_robust"
    published = shown[shown["rank"] == "ref"]
    assert list(published["mean ± std"]) == ["1", "0.9196", "0.9979", "0.8014", "0.9523"]  # spring, Table 3
    assert published["note"].str.startswith("report 'Symbolic Distillation of GNNs', Table 3: ").all()


def test_task_page_renders_the_recovered_equation(app):
    at = app(page="task", task="spring")
    labels = at.selectbox(key="probe-run").options
    local_seed0 = next(i for i, label in enumerate(labels) if "(local)" in label and "seed 0" in label)
    at.selectbox(key="probe-run").set_value(local_seed0).run()
    assert any(LATEX in lt.value for lt in at.latex) and any("law recovered" in m.value for m in at.markdown)
    assert any("As reported by the run" in c.value for c in at.caption)  # not re-scored: marked so


def test_compare_page_paired_bootstrap(app, fixture_store, data_root):
    at = app(page="compare", task="spring")
    assert at.title[0].value == "Compare two entries"
    at.selectbox(key="cmp-a").set_value("pair-force-net · torch")
    at.selectbox(key="cmp-b").set_value("velocitynet (local) · torch").run()
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
    assert any("paired samples" in m.value for m in at.markdown)


def test_model_page_card_and_results(app):
    at = app(page="model", model="pair-force-net")
    assert at.title[0].value == "Model: pair-force-net"
    text = " ".join(m.value for m in at.markdown)
    assert "Ada Example, Bo Example" in text and "https://example.org/pair-force-net" in text and "MIT" in text
    results = at.dataframe[0].value
    assert set(results["model"]) == {"pair-force-net", "pair-force-net (local)"} and set(results["seeds"]) == {3}


def test_model_page_of_a_local_model_without_card(app):
    at = app(page="model", model="velocitynet")
    assert "local runs: no submitted card" in " ".join(c.value for c in at.code)
