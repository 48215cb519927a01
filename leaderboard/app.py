"""The ParticleBench leaderboard (Streamlit): ``bench leaderboard`` starts it.

Pages: an overview matrix (task × model), a page per task (table with ranks, filters, published
reference rows, plots), a paired comparison of two entries, and a page per model. The page and its
selection live in the URL (``?page=task&task=spring``), so every view can be linked to.

Reads the official store (``BENCH_OFFICIAL``, default ``leaderboard/results``) and local run folders
(``BENCH_RUNS``, separated by ``os.pathsep``; default ``runs``). Datasets for comparisons: ``BENCH_DATA``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import yaml

from bench.leaderboard import compare, references, store

PAGES = ("Overview", "Task", "Compare", "Model")
CARD_NAME = "card.yaml"
REFERENCE_MARK = "ref"


def _config() -> tuple[str, tuple[str, ...], str]:
    official = os.environ.get("BENCH_OFFICIAL", str(store.OFFICIAL_ROOT))
    runs = tuple(p for p in os.environ.get("BENCH_RUNS", "runs").split(os.pathsep) if p)
    return official, runs, os.environ.get("BENCH_DATA", "data")


@st.cache_data(show_spinner="reading result records ...", ttl=300)
def load_records(official: str, runs: tuple[str, ...]) -> store.Records:
    return store.load(official, list(runs))


@st.cache_data(show_spinner=False, ttl=300)
def aggregated(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    return store.aggregate(frame, metric)


@st.cache_data(show_spinner=False, max_entries=256)
def read_record(run_dir: str) -> dict:
    return json.loads((Path(run_dir) / "result.json").read_text())


def _param(name: str, options: list[str], default: str | None = None) -> str | None:
    """A choice kept in the URL's query parameters."""
    if not options:
        return None
    value = st.query_params.get(name)
    return value if value in options else (default if default in options else options[0])


def _select(label: str, name: str, options: list[str], default: str | None = None, where=st) -> str | None:
    value = _param(name, options, default)
    if value is None:
        return None
    chosen = where.selectbox(label, options, index=options.index(value), key=f"select-{name}")
    st.query_params[name] = chosen
    return chosen


def _fmt_entry(row) -> str:
    return f"{row['model']}{' (local)' if row['source'] == 'local' else ''} · {row['backend']}"


def _sources(frame: pd.DataFrame) -> pd.DataFrame:
    st.sidebar.markdown("**Records**")
    official = st.sidebar.toggle("official", value=True, key="show-official")
    local = st.sidebar.toggle("local runs", value=True, key="show-local")
    shown = [s for s, on in (("official", official), ("local", local)) if on]
    return frame[frame["source"].isin(shown)]


# -- pages ----------------------------------------------------------------------------------------------


def page_overview(frame: pd.DataFrame) -> None:
    st.title("ParticleBench leaderboard")
    st.caption("Primary metric of each task, mean over seeds; colour per task column: green is better. "
               "Open a task on the **Task** page for ranks, spreads and plots.")  # fmt: skip
    if frame.empty:
        st.info("No result records yet. Run `bench run task=spring model=gnn`, or show the official records.")
        return
    scales = sorted(frame["scale"].unique(), key=lambda s: ("paper", "quick", "tiny").index(s) if s in
                    ("paper", "quick", "tiny") else 9)  # fmt: skip
    scale = _select("scale", "scale", scales, default=frame["scale"].mode().iat[0])
    agg = aggregated(frame[frame["scale"] == scale])
    agg = agg.assign(entry=np.where(agg["source"] == "local", agg["model"] + " (local)", agg["model"]))
    agg["column"] = agg["task"] + " v" + agg["task_version"].astype(str) + " · " + agg["metric"]
    agg["signed"] = agg["mean"].where(agg["lower_is_better"], -agg["mean"])  # the best backend per cell
    best = agg.sort_values("signed").groupby(["entry", "column"], sort=False).first().reset_index()
    matrix = best.pivot(index="entry", columns="column", values="mean")
    lower = best.groupby("column")["lower_is_better"].first()
    styler = matrix.style.format(lambda v: "–" if pd.isna(v) else f"{v:.4g}").apply(
        lambda col: _colour_scale(col, lower[col.name])
    )
    st.dataframe(styler, width="stretch")
    counts = agg.groupby("source")["n_records"].sum().to_dict()
    shown = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    st.caption(f"{len(frame):,} records in all; {shown} at scale '{scale}'. Best backend per cell.")


_RED, _YELLOW, _GREEN = np.array([230, 124, 115]), np.array([255, 214, 102]), np.array([87, 187, 138])


def _colour_scale(column: pd.Series, lower_is_better: bool) -> list[str]:
    """Background colours of one matrix column: green for its best value, red for its worst."""
    values = column.to_numpy(dtype=float)
    lo, hi = np.nanmin(values), np.nanmax(values)
    good = (values - lo) / (hi - lo) if hi > lo else np.full_like(values, 0.5)
    good = 1 - good if lower_is_better else good
    styles = []
    for g in good:
        if np.isnan(g):
            styles.append("")
            continue
        rgb = _RED + (_YELLOW - _RED) * 2 * g if g < 0.5 else _YELLOW + (_GREEN - _YELLOW) * (2 * g - 1)
        styles.append("background-color: rgb({}, {}, {}); color: black".format(*rgb.round().astype(int)))
    return styles


def _reference_rows(task: str, metric: str, primary: str | None, metrics: list[str]) -> pd.DataFrame:
    """Published rows of the shown metric; a paper's own numeric quantity (its loss, an MSE in other units)
    goes with the task's primary metric. The note says how each number is defined and compares with ours."""
    refs = references.for_task(task)
    numeric = refs["value"].map(lambda v: not isinstance(v, str))  # recovery marks are not in a metric's table
    own = ~refs["metric"].isin(metrics) & numeric
    refs = refs[(refs["metric"] == metric) | (own & (metric == primary))]
    if refs.empty:
        return pd.DataFrame()  # adds no column to the table it is joined to
    return pd.DataFrame({
        "rank": REFERENCE_MARK,
        "entry": "published: " + refs["model"],
        "metric": refs["metric"],
        "mean ± std": refs["value"].map(lambda v: v if isinstance(v, str) else f"{v:.4g}"),
        "seeds": "",
        "parameters": "",
        "train time": "",
        "note": refs["source"] + ": " + refs["definition"],
    })  # fmt: skip


def page_task(frame: pd.DataFrame) -> None:
    tasks = sorted(frame["task"].unique())
    task = _select("task", "task", tasks)
    if task is None:
        st.info("No result records yet.")
        return
    st.title(f"Task: {task}")
    rows = frame[frame["task"] == task]
    side = st.sidebar
    side.markdown("**Filters**")
    scale = _select("scale", "scale", sorted(rows["scale"].unique()), default=rows["scale"].mode().iat[0], where=side)
    rows = rows[rows["scale"] == scale]
    backends = side.multiselect("backend", sorted(rows["backend"].unique()), key="f-backend")
    families = side.multiselect("model family", sorted(rows["model_family"].unique()), key="f-family")
    caps = sorted({c for cs in rows["capabilities"] for c in cs.split(",") if c})
    wanted = side.multiselect("capability", caps, key="f-capability")
    if backends:
        rows = rows[rows["backend"].isin(backends)]
    if families:
        rows = rows[rows["model_family"].isin(families)]
    for cap in wanted:
        rows = rows[rows["capabilities"].str.split(",").map(lambda cs, cap=cap: cap in cs)]
    metrics = [m for m in store.Records(rows).metric_names if rows[store.METRIC_PREFIX + m].notna().any()]
    primary = rows["primary_metric"].mode().iat[0] if len(rows) else None
    metric = st.selectbox("metric", metrics, index=metrics.index(primary) if primary in metrics else 0, key="metric")
    if rows.empty or metric is None:
        st.info("No records match the filters.")
        return
    agg = aggregated(rows, metric)
    table = store.results_table(agg).rename(columns={"model": "entry"}).drop(columns=["task", "scale", "backend"])
    table["entry"] = [_fmt_entry(r) for _, r in agg.iterrows()]
    table["note"] = agg["n_seeds"].map(lambda n: "" if n >= store.MIN_SEEDS else f"unranked: {n} seed(s)")
    table["seeds"] = table["seeds"].astype(str)
    shown = pd.concat([table, _reference_rows(task, metric, primary, metrics)], ignore_index=True)
    st.dataframe(shown, hide_index=True, width="stretch", key="task-table")
    st.caption(f"Mean ± std over seeds of **{metric}** ({'lower' if agg['lower_is_better'].iat[0] else 'higher'} "
               f"is better) at scale '{scale}'. Ranked entries have ≥ {store.MIN_SEEDS} distinct seeds. "
               f"'{REFERENCE_MARK}' rows are published numbers (DESIGN.md), marked with their source; a paper's "
               "own loss is not always on this suite's scale.")  # fmt: skip

    st.subheader("Training curves")
    curves = []
    for _, r in rows.sort_values(["model", "seed"]).iterrows():
        history = (read_record(r["run_dir"]).get("training") or {}).get("history") or []
        for h in history:
            curves.append({"epoch": h["epoch"], "val_loss": h.get("val_loss"), "run": f"{_fmt_entry(r)} s{r['seed']}"})
    if curves:
        st.line_chart(pd.DataFrame(curves), x="epoch", y="val_loss", color="run", height=300)
    st.subheader("Speed per backend")
    speed = rows.groupby(["model", "backend"])["time_per_epoch_s"].mean().reset_index()
    st.bar_chart(speed, x="model", y="time_per_epoch_s", color="backend", stack=False, height=260)
    st.caption("Training time per epoch (s), mean over seeds; measured on each run's own machine.")
    diagnostics = [c for c in rows.columns if c.startswith(store.DIAGNOSTIC_PREFIX) and rows[c].notna().any()]
    if diagnostics:
        st.subheader("Diagnostics")
        shown = rows.groupby(["model", "backend"])[diagnostics].mean().reset_index()
        shown.columns = [c.removeprefix(store.DIAGNOSTIC_PREFIX) for c in shown.columns]
        st.dataframe(shown, hide_index=True, width="stretch", key="diagnostics-table")
        st.caption("Measured on each run's own machine (timings), mean over seeds: shown, never ranked.")

    from bench.family import get_family

    for fam in sorted(rows["task_family"].unique()):
        get_family(str(fam)).app_panels(rows[rows["task_family"] == fam], read_record)


def page_compare(frame: pd.DataFrame, data_dir: str) -> None:
    st.title("Compare two entries")
    st.caption(compare.__doc__.split("\n\n")[1].replace("\n", " "))
    task = _select("task", "task", sorted(frame["task"].unique()))
    if task is None:
        st.info("No result records yet.")
        return
    rows = frame[frame["task"] == task]
    scale = _select("scale", "scale", sorted(rows["scale"].unique()), default=rows["scale"].mode().iat[0])
    rows = rows[rows["scale"] == scale]
    keys = rows[["source", "model", "backend"]].drop_duplicates().to_dict("records")
    entries = {_fmt_entry(k): (k["source"], k["model"], k["backend"]) for k in keys}
    names = sorted(entries)
    if len(names) < 2:
        st.info(f"Only {len(names)} entry on {task} at scale {scale}: nothing to compare.")
        return
    a = st.selectbox("entry A", names, index=0, key="cmp-a")
    b = st.selectbox("entry B", names, index=1, key="cmp-b")
    unit = st.radio("resample", compare.RESAMPLE_UNITS, horizontal=True, key="cmp-unit")
    if a == b:
        st.warning("Pick two different entries.")
        return
    pick = {n: rows[(rows["source"] == entries[n][0]) & (rows["model"] == entries[n][1])
                    & (rows["backend"] == entries[n][2])] for n in (a, b)}  # fmt: skip
    if pick[a]["data_checksum"].iat[0] != pick[b]["data_checksum"].iat[0]:
        st.error("The two entries were scored on different datasets (checksums differ): not comparable.")
        return
    metric = str(pick[a]["primary_metric"].iat[0])
    try:
        errors = _entry_errors(task, scale, data_dir, metric, tuple(pick[a]["run_dir"]), tuple(pick[b]["run_dir"]))
    except Exception as e:  # a missing dataset that cannot be generated here, unreadable predictions, ...
        st.error(f"cannot compare: {e}")
        return
    result = compare.paired_bootstrap(errors[0], errors[1], unit=unit)
    verdict = "the difference is real (95 % interval excludes 0)" if result["ci_low"] > 0 or result["ci_high"] < 0 \
        else "the difference is not significant (95 % interval contains 0)"  # fmt: skip
    col1, col2, col3 = st.columns(3)
    col1.metric(f"{metric} A − B", f"{result['diff']:.4g}")
    col2.metric("95 % interval", f"[{result['ci_low']:.3g}, {result['ci_high']:.3g}]")
    col3.metric("p (two-sided)", f"{result['p_value']:.3g}")
    st.markdown(f"**{verdict}** — {result['n']:,} paired {unit}, 2000 bootstrap resamples; "
                f"A: {len(pick[a])} seed(s), B: {len(pick[b])} seed(s) (errors averaged over seeds).")  # fmt: skip
    hist, edges = np.histogram(result["boot"], bins=40)
    centres = [f"{c:.3g}" for c in (edges[:-1] + edges[1:]) / 2]
    st.bar_chart(pd.DataFrame({"A − B": centres, "resamples": hist}), x="A − B", y="resamples", height=220, sort=False)


@st.cache_data(show_spinner="re-scoring the test predictions ...", max_entries=32)
def _entry_errors(task: str, scale: str, data_dir: str, metric: str, a: tuple, b: tuple) -> tuple:
    from bench.config import task_card
    from bench.leaderboard.submit import official_data

    card = task_card(task)
    target = str(card.target)
    fam, data = official_data(card, scale, data_dir)
    true = fam.truth(card, data, (f"{target}_pred",))[f"{target}_true"]
    return compare.entry_errors(list(a), target, true, metric), compare.entry_errors(list(b), target, true, metric)


def model_card_of(model: str, rows: pd.DataFrame) -> dict | None:
    """The model's submitted card (official store), or what its local runs' configuration says."""
    for run_dir in rows["run_dir"]:
        for parent in Path(run_dir).parents[:3]:
            if (parent / CARD_NAME).is_file() and parent.name == model:
                return yaml.safe_load((parent / CARD_NAME).read_text())
    if len(rows):
        cfg = read_record(rows["run_dir"].iat[0])["config"]["model"]
        return {"name": model, "note": "local runs: no submitted card", **{k: cfg.get(k) for k in ("class", "version",
                "hparams", "train", "description") if cfg.get(k) is not None}}  # fmt: skip
    return None


def page_model(frame: pd.DataFrame) -> None:
    model = _select("model", "model", sorted(frame["model"].unique()))
    if model is None:
        st.info("No result records yet.")
        return
    st.title(f"Model: {model}")
    rows = frame[frame["model"] == model]
    card = model_card_of(model, rows[rows["source"] == "official"]) or model_card_of(model, rows)
    left, right = st.columns([1, 2])
    with left:
        st.subheader("Card")
        if card:
            for key in ("authors", "paper", "code_url", "licence", "hardware", "parameters", "description"):
                if card.get(key) is not None:
                    value = ", ".join(card[key]) if isinstance(card[key], list) else card[key]
                    st.markdown(f"**{key.replace('_', ' ')}**: {value}")
            shown = rows[rows["source"] == "official"] if (rows["source"] == "official").any() else rows
            weighted = sum((Path(d) / "best.pt").is_file() for d in shown["run_dir"])  # submit.WEIGHTS_NAME
            st.markdown(f"**weights**: available ({weighted} runs)" if weighted else "**weights**: not available")
            with st.expander("full card"):
                st.code(yaml.safe_dump(card, sort_keys=False), language="yaml")
    with right:
        st.subheader("Results")
        agg = aggregated(rows)
        table = store.results_table(agg)
        st.dataframe(table, hide_index=True, width="stretch", key="model-table")


def main() -> None:
    st.set_page_config(page_title="ParticleBench leaderboard", page_icon="🧲", layout="wide")
    official, runs, data_dir = _config()
    records = load_records(official, runs)
    page = _param("page", [p.lower() for p in PAGES], "overview")
    chosen = st.sidebar.radio("page", PAGES, index=[p.lower() for p in PAGES].index(page), key="page")
    if chosen.lower() != page:  # another page: its own selections start afresh
        st.query_params.clear()
    st.query_params["page"] = chosen.lower()
    frame = _sources(records.frame)
    if st.sidebar.button("reload records"):
        load_records.clear()
        st.rerun()
    if chosen == "Overview":
        page_overview(frame)
    elif chosen == "Task":
        page_task(frame)
    elif chosen == "Compare":
        page_compare(frame, data_dir)
    else:
        page_model(frame)
    if records.invalid:
        with st.sidebar.expander(f"{len(records.invalid)} invalid record(s) skipped"):
            for path, reason in records.invalid:
                st.caption(f"{path}: {reason}")
    st.sidebar.caption(f"official: {official}  \nlocal: {', '.join(runs) or '–'}")


main()
