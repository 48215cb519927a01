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

from bench.leaderboard import catalogue, compare, references, store

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


def _bad(what: str, value: str, valid: list[str]) -> None:
    shown = ", ".join(valid[:40]) + (f", … ({len(valid)} in all)" if len(valid) > 40 else "")
    st.error(f"Unknown {what} '{value}' in the URL. Valid {what}s: {shown}.")


def _param(name: str, options: list[str], default: str | None = None, what: str | None = None) -> str | None:
    """A choice kept in the URL's query parameters; an unknown value is named, with the valid ones, and replaced
    by the default."""
    if not options:
        return None
    value = st.query_params.get(name)
    fallback = default if default in options else options[0]
    if value is None:
        return fallback
    if value not in options:
        _bad(what or name, value, options)
        return fallback
    return value


def _select(label: str, name: str, options: list[str], default: str | None = None, where=st, what=None, fmt=None):
    value = _param(name, options, default, what)
    if value is None:
        return None
    kwargs = {"format_func": fmt} if fmt else {}
    chosen = where.selectbox(label, options, index=options.index(value), key=f"select-{name}", **kwargs)
    st.query_params[name] = chosen
    return chosen


def _multi(label: str, name: str, options: list[str], where=st) -> list[str]:
    """A multiple choice kept in the URL as a comma-separated list (``?backend=torch,jax``)."""
    asked = [v for v in (st.query_params.get(name) or "").split(",") if v]
    unknown = [v for v in asked if v not in options]
    for value in unknown:
        _bad(label, value, options)
    chosen = where.multiselect(label, options, default=[v for v in asked if v in options], key=f"f-{name}")
    if chosen:
        st.query_params[name] = ",".join(chosen)
    elif name in st.query_params:
        del st.query_params[name]
    return chosen


def _fmt_entry(row) -> str:
    return f"{row['model']}{' (local)' if row['source'] == 'local' else ''} · {row['backend']}"


def _sources() -> list[str]:
    """The sources shown (sidebar toggles, kept in the URL as ``?local=0`` / ``?official=0`` when off)."""
    st.sidebar.markdown("**Records**")
    shown = []
    for name, label in (("official", "official"), ("local", "local runs")):
        on = st.sidebar.toggle(label, value=st.query_params.get(name) != "0", key=f"show-{name}")
        if on:
            shown.append(name)
            if name in st.query_params:
                del st.query_params[name]
        else:
            st.query_params[name] = "0"
    return shown


def _tasks() -> dict[str, catalogue.TaskInfo]:
    return catalogue.tasks()  # read once per set of registered families


def _metric_info(task: str, metric: str, rows: pd.DataFrame) -> catalogue.MetricInfo:
    """The metric table's row (the task's family's evaluator; else the records' own directions)."""
    info = _tasks().get(task)
    found = info.metric(metric) if info else None
    if found is None:
        column = store.DIRECTION_PREFIX + metric
        lower = bool(rows[column].dropna().iloc[0]) if column in rows.columns and rows[column].notna().any() else True
        found = catalogue.MetricInfo(metric, lower, "", "")
    return found


def _scale_order(scales) -> list[str]:
    order = {s: i for i, s in enumerate(("paper", "quick", "tiny"))}
    return sorted(scales, key=lambda s: (order.get(s, 9), s))


def _budget(rows: pd.DataFrame) -> str:
    """'at most 2 epochs of 20 steps', read from the records' scale configuration."""
    epochs = rows["max_epochs"].max() if "max_epochs" in rows.columns else np.nan
    steps = rows["max_steps_per_epoch"].max() if "max_steps_per_epoch" in rows.columns else np.nan
    if pd.isna(epochs):
        return "budget not recorded"
    return f"at most {int(epochs)} epochs" + (f" of {int(steps)} steps" if pd.notna(steps) else "")


def _entry_table(frame: pd.DataFrame, task: str, scale: str, metric: str, agg: pd.DataFrame | None = None):
    """Every entry of (task, scale) on ``metric`` with its global rank (over all records, whatever is shown),
    the trivial baseline's figure, each entry's ratio to it and whether it is within noise of it. ``agg``: the
    entries already aggregated (``store.aggregate`` of every record of the task and scale); ``frame`` may hold
    the records of that task and scale only."""
    same = (frame["task"] == task) & (frame["scale"] == scale)
    rows = frame if same.all() else frame[same]
    agg = store.aggregate(rows, metric) if agg is None else agg.reset_index(drop=True)
    info = _tasks().get(task)
    family = info.family if info else str(rows["task_family"].iat[0]) if len(rows) else ""
    trivial = catalogue.trivial_value(family, metric, rows)
    agg["trivial"] = False
    spec = catalogue.TRIVIAL.get(family)
    if spec is not None and spec.model is not None:
        agg["trivial"] = agg["model"] == spec.model
    if trivial is not None:
        t_mean, t_std, t_n = trivial
        agg["vs_trivial"] = agg["mean"] / t_mean if t_mean else np.nan
        agg["near_trivial"] = [not t and catalogue.within_noise(m, s, n, t_mean, t_std, t_n)
                               for m, s, n, t in zip(agg["mean"], agg["std"], agg["n_seeds"], agg["trivial"],
                                                     strict=True)]  # fmt: skip
    else:
        agg["vs_trivial"], agg["near_trivial"] = np.nan, False
    agg.attrs["trivial"] = trivial
    agg.attrs["trivial_label"] = spec.label if spec else None
    return agg


# -- pages ----------------------------------------------------------------------------------------------


PURPOSE = ("**ParticleBench** is a benchmark suite for machine-learning models of interacting particle systems: "
           "every task has a fixed simulator, fixed splits and an official evaluator, and a model is scored on its "
           "prediction error **and** on whether it recovered what drives the system (the force law, the particle "
           "types, a hidden field, the interaction graph).")  # fmt: skip


@st.cache_data(show_spinner=False)
def _links() -> dict[str, str]:
    """The project's public links, from the baselines' common card (``code_url``)."""
    try:
        code = yaml.safe_load((Path(__file__).resolve().parent / "baselines.yaml").read_text())["common"]["code_url"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}
    return {"README": f"{code}#readme", "tutorial: submit a model": f"{code}/blob/main/docs/tutorial.md",
            "code": code}  # fmt: skip


def _public_face() -> None:
    st.markdown(PURPOSE)
    links = _links()
    if links:
        st.markdown(" · ".join(f"[{k}]({v})" for k, v in links.items()))


def _shown_scale(rows: pd.DataFrame, asked: str | None) -> str | None:
    """The scale shown for one task: the one asked for (None if the task has no records there), else its
    largest."""
    scales = _scale_order(rows["scale"].unique())
    if not scales:
        return None
    if asked is not None:
        return asked if asked in scales else None
    return scales[0]


def page_overview(frame: pd.DataFrame, sources: list[str]) -> None:
    st.title("ParticleBench leaderboard")
    _public_face()
    tasks = _tasks()
    shown = frame[frame["source"].isin(sources)]
    all_scales = _scale_order(set(frame["scale"].dropna().unique()))
    asked = _param("scale", ["largest", *all_scales], "largest", what="scale") if len(frame) else None
    scale = st.selectbox("scale", ["largest", *all_scales], index=["largest", *all_scales].index(asked),
                         key="select-scale", help="'largest': each task at the largest scale it has records at"
                         ) if len(frame) else "largest"  # fmt: skip
    if len(frame):
        st.query_params["scale"] = scale
    leaders, columns, made = [], {}, {}
    primary_agg = aggregated(frame) if len(frame) else None  # every entry on its task's primary metric, ranked
    by_key = dict(iter(primary_agg.groupby(["task", "scale"]))) if primary_agg is not None else {}
    records_by_key = dict(iter(frame.groupby(["task", "scale"]))) if len(frame) else {}
    shown_by_task = dict(iter(shown.groupby("task"))) if len(shown) else {}
    for name in sorted(set(tasks) | set(frame["task"].unique()), key=lambda t: (tasks[t].family, t) if t in tasks
                       else ("~", t)):  # fmt: skip
        info = tasks.get(name)
        rows = shown_by_task.get(name, shown.iloc[:0])
        at = _shown_scale(rows, None if scale == "largest" else scale)
        primary = info.primary if info else (str(rows["primary_metric"].iat[0]) if len(rows) else "")
        arrow = _metric_info(name, primary, rows).arrow if primary else ""
        row = {"task": f"?page=task&task={name}", "family": info.family if info else "?",
               "what is simulated": info.summary if info else "", "metric": f"{primary} {arrow}",
               "leader": "no entries yet" if scale == "largest" else f"no entries at scale {scale}",
               "mean ± std": "", "trivial": "", "entries": 0,
               "scale": at or ""}  # fmt: skip
        if at is not None:
            pre = by_key.get((name, at))
            pre = pre if pre is not None and (pre["metric"] == primary).all() else None
            table = _entry_table(records_by_key[(name, at)], name, at, primary, agg=pre)
            table = table[table["source"].isin(sources)]
            row["entries"] = len(table)
            made.setdefault(at, {"tasks": [], "rows": []})
            made[at]["tasks"].append(name)
            made[at]["rows"].append(rows[rows["scale"] == at])
            row["leader"], row["mean ± std"] = catalogue.leader(table)
            trivial = table.attrs.get("trivial")
            if trivial is not None:
                row["trivial"] = store.mean_pm_std(trivial[0], trivial[1])
            label = f"{name} · {primary} {arrow}"
            columns[label] = table.assign(entry=np.where(table["source"] == "local", table["model"] + " (local)",
                                                         table["model"]))  # fmt: skip
        leaders.append(row)
    if made:
        parts = []
        for at, m in made.items():
            budget = _budget(pd.concat(m["rows"]))
            smoke = ": a smoke test of the pipeline, not a measure of the models" if at == "tiny" else ""
            parts.append(f"**{at}** ({budget}{smoke}) on {', '.join(m['tasks'])}")
        st.info("Records shown were made at scale " + "; at scale ".join(parts) + ". Scales differ in data size and "
                "training budget: compare numbers only within one scale.")  # fmt: skip
    else:
        st.info("No result records yet. Run `bench run task=spring model=gnn`, or show the official records.")
    st.subheader("Tasks and their leaders")
    order = ["task", "metric", "leader", "mean ± std", "trivial", "entries", "scale", "family", "what is simulated"]
    st.dataframe(pd.DataFrame(leaders)[order], hide_index=True, width="stretch", key="leaders-table",
                 height=35 * (len(leaders) + 1) + 3, column_config={
        "task": st.column_config.LinkColumn("task", display_text=r"task=(.*)$", help="open the task's page"),
        "metric": st.column_config.TextColumn("metric", help="the task's primary metric; ↓ lower is better, ↑ higher"),
        "leader": st.column_config.TextColumn("leader", help=f"rank 1 among entries with ≥ {store.MIN_SEEDS} seeds"),
        "mean ± std": st.column_config.TextColumn("mean ± std", help="over seeds; '≈ trivial': within noise of "
                                                  "the trivial baseline"),
        "trivial": st.column_config.TextColumn("trivial", help="the trivial baseline (predict zero, copy the last "
                                               "frame, chance), read from the records"),
    })  # fmt: skip
    if not columns:
        return
    st.subheader("Every entry on each task's primary metric")
    parts = []
    for label, table in columns.items():
        best = table.assign(signed=table["mean"].where(table["lower_is_better"], -table["mean"]))
        parts.append(best.sort_values("signed").groupby("entry", sort=False).first()["mean"].rename(label))
    matrix = pd.concat(parts, axis=1)
    lower = {label: bool(t["lower_is_better"].iat[0]) for label, t in columns.items()}
    styler = matrix.style.format(lambda v: "–" if pd.isna(v) else f"{v:.4g}").apply(
        lambda col: _colour_scale(col, lower[col.name])
    )
    st.dataframe(styler, width="stretch", key="matrix")
    counts = shown.groupby("source").size().to_dict()
    st.caption(f"{len(shown):,} records shown ({', '.join(f'{v:,} {k}' for k, v in counts.items())}). Mean over "
               "seeds, best backend per cell; colour per task column: green is better. ↓ lower is better, "
               "↑ higher is better.")  # fmt: skip


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


def _card_facts(info: catalogue.TaskInfo) -> pd.DataFrame:
    """The task card as a table of facts: sizes, splits, protocol."""
    card = info.card
    sims = card.get("simulations")
    split = card.get("split")
    if isinstance(split, list) and all(isinstance(x, float) for x in split):
        split_text = " / ".join(f"{x:.0%}" for x in split) + " (train / validation / test, by simulation)"
    elif isinstance(split, list):
        split_text = " / ".join(f"{x:,}" for x in split) + " (train / validation / test)"
    else:
        split_text = str(split) if split is not None else "–"
    primary = info.metric(info.primary)
    arrow = primary.arrow if primary else ""
    facts = [
        ("family", f"{info.family}: {info.family_about}"),
        ("particles × dimensions", f"{card.get('n_particles', '–')} × {card.get('dim', '–')}"),
        ("simulations per scale", ", ".join(f"{k}: {v:,}" for k, v in sims.items()) if isinstance(sims, dict)
         else str(sims)),
        ("split", split_text),
        ("target (what a model predicts)", str(card.get("target", "–"))),
        ("primary metric (ranked)", f"{info.primary} {arrow}"),
        ("protocol", f"one dataset per (task version {card.get('version', '?')}, scale), fixed data seed "
                     f"{card.get('data_seed', '?')}; every entry trains on the train split, is scored on the test "
                     f"split by the official evaluator; an entry is ranked with ≥ {store.MIN_SEEDS} seeds, by mean "
                     "over seeds; ranks are per (task, scale)"),
    ]  # fmt: skip
    return pd.DataFrame(facts, columns=["", "value"])


def _metric_table(info: catalogue.TaskInfo) -> pd.DataFrame:
    return pd.DataFrame({
        "metric": [m.name for m in info.metrics],
        "direction": [f"{m.arrow} {'lower' if m.lower_is_better else 'higher'} is better" for m in info.metrics],
        "units": [m.units or "–" for m in info.metrics],
        "definition": [m.description for m in info.metrics],
    })  # fmt: skip


def _reference_table(task: str, metrics: list[str]) -> pd.DataFrame:
    """The published numbers of a task, each with its protocol: ours (a metric of our evaluator) or the paper's."""
    refs = references.for_task(task)
    if refs.empty:
        return refs
    ours = refs["metric"].isin(metrics)
    protocol = np.where(ours, "our metric" + refs["scale"].map(lambda s: f", {s} scale" if isinstance(s, str) else ""),
                        "NOT our protocol: the paper's own quantity")  # fmt: skip
    return pd.DataFrame({
        "model": refs["model"],
        "metric": refs["metric"],
        "value": refs["value"].map(lambda v: v if isinstance(v, str) else f"{v:.4g}"),
        "protocol": protocol,
        "source": refs["source"],
        "definition": refs["definition"],
    })  # fmt: skip


def page_task(frame: pd.DataFrame, sources: list[str]) -> None:
    tasks = _tasks()
    names = sorted(set(tasks) | set(frame["task"].unique()))
    task = _select("task", "task", names, default="spring" if "spring" in names else None, what="task",
                   where=st.sidebar)  # fmt: skip
    if task is None:
        st.info("No tasks registered.")
        return
    info = tasks.get(task)
    st.title(f"Task: {task}")
    if info is not None:
        st.markdown(info.about or info.family_about)
        with st.expander("Task card: sizes, splits, protocol", expanded=True):
            st.table(_card_facts(info).set_index(""))
        with st.expander("Metrics: direction, units, definition", expanded=False):
            st.dataframe(_metric_table(info), hide_index=True, width="stretch", key="metric-table")
    all_rows = frame[frame["task"] == task]
    _task_results(task, info, all_rows, sources)
    refs = _reference_table(task, [m.name for m in info.metrics] if info else [])
    st.subheader("Published reference numbers")
    if refs.empty:
        st.caption("No published numbers for this task in references.yaml.")
    else:
        st.dataframe(refs, hide_index=True, width="stretch", key="reference-table")
        st.caption("As the papers print them. A number marked 'NOT our protocol' is the paper's own quantity (its "
                   "loss, an MSE in other units, on its own data and budget): read its definition before comparing "
                   "it with the table above.")  # fmt: skip


def _task_results(task: str, info, all_rows: pd.DataFrame, sources: list[str]) -> None:
    st.subheader("Results")
    if all_rows.empty:
        st.info(f"No entries yet on {task}. Run `bench run task={task} model=<model> seed=0,1,2` and submit it "
                "(see the tutorial).")  # fmt: skip
        return
    side = st.sidebar
    side.markdown("**Filters**")
    scales = _scale_order(all_rows["scale"].unique())
    scale = _select("scale", "scale", scales, default=scales[0], where=side, what="scale")
    at_scale = all_rows[all_rows["scale"] == scale]
    backends = _multi("backend", "backend", sorted(at_scale["backend"].unique()), where=side)
    families = _multi("model family", "family", sorted(at_scale["model_family"].unique()), where=side)
    caps = sorted({c for cs in at_scale["capabilities"] for c in cs.split(",") if c})
    wanted = _multi("capability", "capability", caps, where=side)
    metrics = [m for m in store.Records(at_scale).metric_names if at_scale[store.METRIC_PREFIX + m].notna().any()]
    primary = info.primary if info else str(at_scale["primary_metric"].mode().iat[0])
    default = primary if primary in metrics else metrics[0]
    metric = _param("metric", metrics, default, what="metric")
    labels = {m: f"{m} {_metric_info(task, m, at_scale).arrow}" for m in metrics}
    metric = st.selectbox("metric", metrics, index=metrics.index(metric), key="metric", format_func=labels.get)
    st.query_params["metric"] = metric
    mi = _metric_info(task, metric, at_scale)
    agg = _entry_table(all_rows, task, scale, metric)  # ranked over every record of (task, scale)
    keep = agg["source"].isin(sources)
    if backends:
        keep &= agg["backend"].isin(backends)
    if families:
        keep &= agg["model_family"].isin(families)
    for cap in wanted:
        keep &= agg["capabilities"].str.split(",").map(lambda cs, cap=cap: cap in cs)
    agg = agg[keep].reset_index(drop=True)
    if agg.empty:
        st.info("No records match the filters.")
        return
    column = f"{metric} {mi.arrow}"
    table = store.results_table(agg).rename(columns={"model": "entry", "mean ± std": column})
    table = table.drop(columns=["task", "scale", "backend", "metric"])
    table["entry"] = [_fmt_entry(r) for _, r in agg.iterrows()]
    table["seeds"] = table["seeds"].astype(str)
    trivial, t_label = agg.attrs.get("trivial"), agg.attrs.get("trivial_label")
    notes = []
    for _, r in agg.iterrows():
        note = []
        if r["trivial"]:
            note.append("the trivial baseline")
        elif r["near_trivial"]:
            note.append("≈ trivial: within noise of the trivial baseline")
        if r.get("oracle"):
            note.append(f"oracle: told the true {r['oracle'].replace(',', ' and ')} as input; an upper bound, unranked")
        elif r["n_seeds"] < store.MIN_SEEDS:
            note.append(f"unranked: {r['n_seeds']} seed(s)")
        notes.append("; ".join(note))
    table["note"] = notes
    ratio = "÷ trivial"
    table.insert(3, ratio, agg["vs_trivial"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}"))
    if trivial is not None and not agg["trivial"].any():
        row = {c: "" for c in table.columns}
        row.update({"rank": "–", "entry": f"trivial: {t_label}", column: store.mean_pm_std(trivial[0], trivial[1]),
                    ratio: "1", "seeds": str(trivial[2]) + " records", "note": "read from the records"})  # fmt: skip
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    st.dataframe(table, hide_index=True, width="stretch", key="task-table", column_config={
        column: st.column_config.TextColumn(column, help=f"{mi.description} [{mi.units or 'no units'}]; "
                                            f"{'lower' if mi.lower_is_better else 'higher'} is better"),
        ratio: st.column_config.TextColumn(ratio, help="the entry's mean divided by the trivial baseline's"),
        "rank": st.column_config.TextColumn("rank", help=f"over every entry of {task} at scale {scale} with ≥ "
                                            f"{store.MIN_SEEDS} seeds, oracle entries (upper bounds) apart; "
                                            "filters hide rows, never renumber them"),
    })  # fmt: skip
    scale_rows = at_scale[at_scale["source"].isin(sources)]
    st.caption(f"**{metric}** {mi.arrow} ({'lower' if mi.lower_is_better else 'higher'} is better"
               f"{', ' + mi.units if mi.units else ''}): {mi.description or 'as the records define it'}. "
               f"Mean ± std over seeds at scale '{scale}' ({_budget(scale_rows)}); the mean is rounded to the "
               "precision of its std. "
               f"Ranks are global over every entry of {task} at this scale with ≥ {store.MIN_SEEDS} distinct seeds; "
               f"filters hide rows. Trivial baseline: {t_label or 'none for this family'}"
               f"{'' if trivial is not None else ' (no record of it on this metric)'}.")  # fmt: skip
    rows = scale_rows
    shown_keys = set(zip(agg["source"], agg["model"], agg["backend"], strict=True))
    rows = rows[[k in shown_keys for k in zip(rows["source"], rows["model"], rows["backend"], strict=True)]]
    _task_plots(agg, rows, metric, mi)

    from bench.family import get_family

    for fam in sorted(rows["task_family"].unique()):
        get_family(str(fam)).app_panels(rows[rows["task_family"] == fam], read_record)


def _task_plots(agg: pd.DataFrame, rows: pd.DataFrame, metric: str, mi) -> None:
    import altair as alt

    data = pd.DataFrame({
        "entry": [_fmt_entry(r) for _, r in agg.iterrows()],
        "mean": agg["mean"], "low": agg["mean"] - agg["std"].fillna(0), "high": agg["mean"] + agg["std"].fillna(0),
        "parameters": agg["n_parameters"].astype(float), "train time (s)": agg["train_time_s"].astype(float),
        "seeds": agg["n_seeds"],
    })  # fmt: skip
    axis = f"{metric} {mi.arrow}" + (f" [{mi.units}]" if mi.units else "")
    st.subheader("Entries: mean ± std over seeds")
    order = list(data["entry"])
    dots = alt.Chart(data).mark_point(filled=True, size=70).encode(
        x=alt.X("mean:Q", title=axis, scale=alt.Scale(zero=False)),
        y=alt.Y("entry:N", sort=order, title=None, axis=alt.Axis(labelLimit=400)),
        tooltip=["entry", "mean", "low", "high", "seeds"])  # fmt: skip
    bars = alt.Chart(data).mark_rule().encode(x="low:Q", x2="high:Q", y=alt.Y("entry:N", sort=order))
    chart = dots + bars
    trivial = agg.attrs.get("trivial")
    if trivial is not None:
        chart += alt.Chart(pd.DataFrame({"trivial": [trivial[0]]})).mark_rule(strokeDash=[4, 4], color="grey").encode(
            x="trivial:Q", tooltip=["trivial"])  # fmt: skip
    st.altair_chart(chart.properties(height=max(120, 28 * len(data))), width="stretch")
    st.caption("Dots: mean over seeds; bars: ± one std" + ("; dashed line: the trivial baseline." if trivial else "."))

    st.subheader("Metric against cost")
    if not ((data["parameters"] > 0) | (data["train time (s)"] > 0)).any():
        st.caption("No entry has parameters or a training time (trivial baselines only): nothing to draw.")
        return _training_curves(rows)
    left, right = st.columns(2)
    for where, cost in ((left, "parameters"), (right, "train time (s)")):
        sub = data[data[cost] > 0].copy()
        if sub.empty:
            continue
        on_front = store.pareto_front(sub[cost].to_numpy(), sub["mean"].to_numpy(), mi.lower_is_better)
        sub["Pareto front"] = np.where(on_front, "on the front", "dominated")
        base = alt.Chart(sub).encode(x=alt.X(f"{cost}:Q", scale=alt.Scale(type="log"), title=f"{cost} (log)"),
                                     y=alt.Y("mean:Q", title=axis, scale=alt.Scale(zero=False)))  # fmt: skip
        points = base.mark_circle(size=80).encode(color=alt.Color("Pareto front:N", legend=alt.Legend(orient="bottom")),
                                                  tooltip=["entry", "mean", cost])  # fmt: skip
        front = alt.Chart(sub[on_front].sort_values(cost)).mark_line(strokeDash=[3, 3]).encode(
            x=f"{cost}:Q", y="mean:Q")  # fmt: skip
        where.altair_chart((points + front).properties(height=280), width="stretch")
    st.caption("Each dot an entry (median parameters, mean training time over seeds); the dashed line joins the "
               "Pareto front: entries that no other entry beats on both cost and metric. Times are measured on each "
               "run's own machine.")  # fmt: skip
    _training_curves(rows)


def _training_curves(rows: pd.DataFrame) -> None:
    import altair as alt

    curves = []
    for _, r in rows.sort_values(["model", "seed"]).iterrows():
        history = (read_record(r["run_dir"]).get("training") or {}).get("history") or []
        for h in history:
            if h.get("val_loss") is not None:
                curves.append({"epoch": h["epoch"], "val_loss": h["val_loss"], "entry": _fmt_entry(r)})
    if curves:
        st.subheader("Training curves")
        df = pd.DataFrame(curves).groupby(["entry", "epoch"], as_index=False)["val_loss"].mean()
        log = bool((df["val_loss"] > 0).all())
        line = alt.Chart(df).mark_line(point=True).encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("val_loss:Q", scale=alt.Scale(type="log" if log else "linear"),
                    title="validation loss" + (" (log)" if log else "")),
            color=alt.Color("entry:N", legend=alt.Legend(orient="bottom", columns=2, labelLimit=0, title=None)),
            tooltip=["entry", "epoch", "val_loss"])  # fmt: skip
        st.altair_chart(line.properties(height=320), width="stretch")
        st.caption("Validation loss (the training objective) per epoch, mean over each entry's seeds.")
    diagnostics = [c for c in rows.columns if c.startswith(store.DIAGNOSTIC_PREFIX) and rows[c].notna().any()]
    if diagnostics:
        st.subheader("Diagnostics")
        shown = rows.groupby(["model", "backend"])[diagnostics].mean().reset_index()
        shown.columns = [c.removeprefix(store.DIAGNOSTIC_PREFIX) for c in shown.columns]
        st.dataframe(shown, hide_index=True, width="stretch", key="diagnostics-table")
        st.caption("Measured on each run's own machine (timings), mean over seeds: shown, never ranked.")


MIN_UNITS = 20  # fewer resampled units than this: the bootstrap interval is unreliable, and the page says so


def page_compare(frame: pd.DataFrame, sources: list[str], data_dir: str) -> None:
    st.title("Compare two entries")
    st.caption(compare.__doc__.split("\n\n")[1].replace("\n", " "))
    frame = frame[frame["source"].isin(sources)]
    task = _select("task", "task", sorted(frame["task"].unique()), default="spring", what="task")
    if task is None:
        st.info("No result records yet.")
        return
    rows = frame[frame["task"] == task]
    scales = _scale_order(rows["scale"].unique())
    scale = _select("scale", "scale", scales, default=scales[0], what="scale")
    rows = rows[rows["scale"] == scale]
    keys = rows[["source", "model", "backend"]].drop_duplicates().to_dict("records")
    entries = {_fmt_entry(k): (k["source"], k["model"], k["backend"]) for k in keys}
    names = sorted(entries)
    if len(names) < 2:
        st.info(f"Only {len(names)} entry on {task} at scale {scale}: nothing to compare.")
        return
    a = _select("entry A", "a", names, default=names[0], what="entry")
    b = _select("entry B", "b", names, default=names[1], what="entry")
    family = str(rows["task_family"].iat[0])
    units = compare.units_for(family)
    unit = _select("resample", "unit", list(units), default=next(iter(units)), what="resampling unit")
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
        result = compare.paired_bootstrap(errors[0], errors[1], unit=units[unit])
    except Exception as e:  # a missing dataset that cannot be generated here, unreadable predictions, ...
        st.error(f"cannot compare: {type(e).__name__}: {e}")
        return
    verdict = compare.verdict(result, a, b, metric, unit)
    col1, col2, col3 = st.columns(3)
    col1.metric(f"{metric} A − B", f"{result['diff']:.4g}")
    col2.metric("95 % interval", f"[{result['ci_low']:.3g}, {result['ci_high']:.3g}]")
    col3.metric("relative (A − B) / B", f"{result['relative']:+.1%}" if np.isfinite(result["relative"]) else "–")
    (st.success if result["significant"] else st.info)(verdict)
    st.markdown(f"{result['n']:,} paired {unit}, 2000 bootstrap resamples, p (two-sided) = {result['p_value']:.3g}; "
                f"A: {len(pick[a])} seed(s), B: {len(pick[b])} seed(s) (errors averaged over seeds). Lower "
                f"{metric} is better.")  # fmt: skip
    if result["n"] < MIN_UNITS:
        st.warning(f"Only {result['n']} {unit} to resample: with fewer than {MIN_UNITS} the bootstrap interval is "
                   "too narrow to trust. Compare on a larger scale (more test simulations).")  # fmt: skip
    _bootstrap_histogram(result["boot"], metric)


def _bootstrap_histogram(boot: np.ndarray, metric: str) -> None:
    import altair as alt

    hist, edges = np.histogram(boot, bins=40)
    data = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "resamples": hist})
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("from:Q", title=f"bootstrap mean difference of {metric}, A − B", scale=alt.Scale(zero=True)),
        x2="to:Q", y=alt.Y("resamples:Q"), tooltip=["from", "to", "resamples"])  # fmt: skip
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="red", strokeWidth=2).encode(x="x:Q")
    st.altair_chart((bars + zero).properties(height=240), width="stretch")
    st.caption("Red line: no difference. Left of it A is better (lower error), right of it B.")


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


def _link(text: str) -> str:
    """Markdown of a card's value, with arXiv ids and URLs as links."""
    import re

    text = re.sub(r"(https?://\S+)", r"[\1](\1)", text)
    return re.sub(r"arXiv[: ](\d{4}\.\d{4,5})", r"[arXiv:\1](https://arxiv.org/abs/\1)", text)


def page_model(frame: pd.DataFrame, sources: list[str]) -> None:
    shown = frame[frame["source"].isin(sources)]
    names = sorted(shown["model"].unique())
    model = _select("model", "model", names, what="model", where=st.sidebar)
    if model is None:
        st.info("No result records yet.")
        return
    st.title(f"Model: {model}")
    rows = shown[shown["model"] == model]
    card = model_card_of(model, rows[rows["source"] == "official"]) or model_card_of(model, rows)
    left, right = st.columns([1, 2])
    with left:
        st.subheader("Card")
        if card:
            for key in ("authors", "paper", "code_url", "licence", "hardware", "parameters", "description", "note"):
                if card.get(key) is not None:
                    value = ", ".join(map(str, card[key])) if isinstance(card[key], list) else str(card[key])
                    st.markdown(f"**{key.replace('_', ' ')}**: {_link(value)}")
            official = rows[rows["source"] == "official"] if (rows["source"] == "official").any() else rows
            weighted = sum((Path(d) / "best.pt").is_file() for d in official["run_dir"])  # submit.WEIGHTS_NAME
            st.markdown(f"**weights**: available ({weighted} runs)" if weighted else "**weights**: not available")
            with st.expander("full card"):
                st.table(_card_rows(card))
    with right:
        st.subheader("Results")
        parts = []
        for (task, scale), _ in rows.groupby(["task", "scale"]):
            metric = str(rows.loc[rows["task"] == task, "primary_metric"].iat[0])
            table = _entry_table(frame, task, scale, metric)  # ranked among every entry of the task
            n_ranked = int(table["rank"].notna().sum())
            table = table[(table["model"] == model) & table["source"].isin(sources)]
            parts.append(pd.DataFrame({
                "task": task, "scale": scale,
                "rank": [f"{r} of {n_ranked}" if pd.notna(r) else "–" for r in table["rank"]],
                "entry": [_fmt_entry(r) for _, r in table.iterrows()],
                "metric": f"{metric} {_metric_info(task, metric, rows).arrow}",
                "mean ± std": [store.mean_pm_std(m, s) for m, s in zip(table["mean"], table["std"], strict=True)],
                "÷ trivial": table["vs_trivial"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}"),
                "seeds": table["n_seeds"].astype(str),
            }))  # fmt: skip
        st.dataframe(pd.concat(parts, ignore_index=True), hide_index=True, width="stretch", key="model-table")
        st.caption("Ranks among every entry of the task at that scale (the task page's ranks), on its primary metric.")


def _card_rows(card: dict) -> pd.DataFrame:
    """A card as a two-column table; nested values flattened to ``key.sub``."""
    out = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out.append((prefix, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))

    walk("", card)
    return pd.DataFrame(out, columns=["key", "value"]).set_index("key")


def main() -> None:
    # no page_icon: an emoji would import Streamlit's emoji table (0.2-0.3 s of the first visitor's page)
    st.set_page_config(page_title="ParticleBench leaderboard", layout="wide")
    try:
        st.set_option("client.toolbarMode", "viewer")  # no Deploy button (also in .streamlit/config.toml)
    except Exception:  # an older Streamlit that refuses it at run time: the config file and the command set it
        pass
    official, runs, data_dir = _config()
    records = load_records(official, runs)
    pages = [p.lower() for p in PAGES]
    page = _param("page", pages, "overview", what="page")
    chosen = st.sidebar.radio("page", PAGES, index=pages.index(page), key="page")
    if chosen.lower() != page:  # another page: its own selections start afresh
        st.query_params.clear()
    st.query_params["page"] = chosen.lower()
    sources = _sources()
    if st.sidebar.button("reload records"):
        load_records.clear()
        st.rerun()
    frame = records.frame
    if chosen == "Overview":
        page_overview(frame, sources)
    elif chosen == "Task":
        page_task(frame, sources)
    elif chosen == "Compare":
        page_compare(frame, sources, data_dir)
    else:
        page_model(frame, sources)
    if records.invalid:
        with st.sidebar.expander(f"{len(records.invalid)} invalid record(s) skipped"):
            for path, reason in records.invalid:
                st.caption(f"{'/'.join(Path(path).parts[-3:])}: {reason}")


main()
