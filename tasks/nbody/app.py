"""Family N's panel on the leaderboard's task page (``NbodyFamily.app_panels``): a run's rollout (its jumps
chained over a test trajectory's stored frames, ``rollout_pred`` of its ``predictions.npz``) drawn against the
true trajectory, in the x–y plane, and its error per jump.

The true trajectory is the official test split, regenerated from the record's task card and scale where it
is not on disk (``BENCH_DATA``, default ``data``); where it cannot be, the panel says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st


def _label(row) -> str:
    return f"{row['model']}{' (local)' if row['source'] == 'local' else ''} · {row['backend']} · seed {row['seed']}"


@st.cache_data(show_spinner="loading the test trajectories ...", max_entries=4)
def true_trajectories(task_config: dict, scale: str, data_dir: str) -> np.ndarray:
    """(S, K+1, n, 3) the true positions of the test split at the input frame and after each jump."""
    from omegaconf import OmegaConf

    from bench.leaderboard.submit import official_data

    _, data = official_data(OmegaConf.create(task_config), scale, data_dir)
    return data.splits["test"]["position"].numpy()


def rollout_frame(pred: np.ndarray, true: np.ndarray) -> pd.DataFrame:
    """Long table of one trajectory: (K, n, 3) predicted and (K+1, n, 3) true positions → rows of particle,
    step, x, y, kind (the prediction starts from the true input frame)."""
    start = true[:1]
    parts = []
    for kind, arr in (("true", true), ("predicted", np.concatenate([start, pred], axis=0))):
        k, n = arr.shape[:2]
        parts.append(pd.DataFrame({
            "particle": np.tile(np.arange(n), k).astype(str), "step": np.repeat(np.arange(k), n),
            "x": arr[..., 0].reshape(-1), "y": arr[..., 1].reshape(-1), "kind": kind,
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def rollout_panel(rows: pd.DataFrame, read_record) -> None:
    import altair as alt

    from bench.records import PREDICTIONS_NAME

    ordered = rows.sort_values("value")  # the best run on the primary metric (mse, lower is better) first
    with_rollout = [r for _, r in ordered.iterrows() if (Path(r["run_dir"]) / PREDICTIONS_NAME).is_file()]
    if not with_rollout:
        return
    st.subheader("Rollouts: predicted against true trajectories")
    labels = [_label(r) for r in with_rollout]
    pick = st.selectbox("run", range(len(labels)), format_func=lambda i: labels[i], key="rollout-run")
    row = with_rollout[pick]
    with np.load(Path(row["run_dir"]) / PREDICTIONS_NAME, allow_pickle=False) as z:
        if "rollout_pred" not in z.files:
            st.caption("this run kept no rollout")
            return
        pred_all = z["rollout_pred"]
    record = read_record(row["run_dir"])
    try:
        true_all = true_trajectories(record["config"]["task"], str(row["scale"]), os.environ.get("BENCH_DATA", "data"))
    except Exception as e:  # no dataset here and it cannot be generated: say so, draw nothing
        st.info(f"The true test trajectories are not available here ({type(e).__name__}: {e}).")
        return
    if true_all.shape[0] != pred_all.shape[0]:
        st.info("The run's rollouts and the test split differ in size: not drawn.")
        return
    s = st.number_input("test trajectory", 0, pred_all.shape[0] - 1, 0, key="rollout-trajectory")
    k = pred_all.shape[1]
    data = rollout_frame(pred_all[s], true_all[s, : k + 1])
    paths = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("x:Q", scale=alt.Scale(zero=False)), y=alt.Y("y:Q", scale=alt.Scale(zero=False)),
        color=alt.Color("particle:N", legend=alt.Legend(orient="bottom")), order="step:Q",
        strokeDash=alt.StrokeDash("kind:N", scale=alt.Scale(domain=["true", "predicted"], range=[[1, 0], [4, 3]]),
                                  legend=alt.Legend(orient="bottom", title=None)),
        detail="kind:N", tooltip=["particle", "step", "kind", "x", "y"])  # fmt: skip
    err = ((pred_all - true_all[:, 1 : k + 1]) ** 2).mean(axis=(0, 2, 3))
    steps = pd.DataFrame({"jump": np.arange(1, k + 1), "position MSE over the test split": err})
    left, right = st.columns([2, 1])
    left.altair_chart(paths.properties(height=360), width="stretch")
    right.altair_chart(alt.Chart(steps).mark_line(point=True).encode(
        x=alt.X("jump:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("position MSE over the test split:Q", scale=alt.Scale(type="log" if (err > 0).all() else "linear")),
    ).properties(height=360), width="stretch")  # fmt: skip
    st.caption("Solid: the true trajectory; dashed: the run's jumps chained from the true input frame (x–y plane; "
               "the z coordinate is not drawn). Right: the squared position error after each jump, mean over the "
               "test split.")  # fmt: skip
