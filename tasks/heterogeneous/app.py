"""Family H's panels on the leaderboard's task page (``HeterogeneousFamily.app_panels``): for each chosen run,
its learned interaction functions ψ_i(r) against the true ψ of each type, and its node embeddings coloured by
the true type (when the model has them).

Everything comes from the run's saved predictions (``predictions.npz``: ``interaction_pred`` (N, R) on
r = linspace(0, R, R points), ``embedding_pred`` (N, k)) and its record's task configuration: the true types
are contiguous blocks (``generate.particle_types``) and each type's ψ(r) = r·f(r) comes from its parameters
(``generate.type_parameters``: the card's ``type_params``, or those drawn from the data seed). No dataset is
loaded. Figures are matplotlib ``Figure`` objects (no pyplot state), shown with ``st.pyplot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

PER_TYPE = 50
"""Learned profiles drawn per true type (fewer for many types: at most ``MAX_CURVES`` in all)."""
MAX_CURVES = 600
PLOT_POINTS = 200
"""Distances of the 1000 plotted (every k-th): the figure stays light."""
MAX_RUNS = 4
"""Runs shown at once."""


def _label(row) -> str:
    return f"{row['model']}{' (local)' if row['source'] == 'local' else ''} · {row['backend']} · seed {row['seed']}"


def _card(record: dict[str, Any]):
    from omegaconf import OmegaConf

    return OmegaConf.create(record["config"]["task"])


def _colours(K: int) -> np.ndarray:
    from matplotlib import colormaps

    if K <= 20:  # the qualitative maps, indexed by integer
        return colormaps["tab10" if K <= 10 else "tab20"](np.arange(K))
    return colormaps["viridis"](np.linspace(0.0, 1.0, K))


def true_types(record: dict[str, Any], n_particles: int) -> np.ndarray:
    """(N,) the true type of each of the run's particles: contiguous blocks of N / K."""
    from bench.tasks.heterogeneous.generate import particle_types

    return particle_types(n_particles, int(record["config"]["task"]["n_types"]))


def type_curves(record: dict[str, Any], r: np.ndarray) -> np.ndarray:
    """(K, len(r)) the true ψ(r) = r·f_p(r) of each type's parameters (without a task's per-particle jitter)."""
    from bench.tasks.heterogeneous.generate import type_parameters
    from bench.tasks.heterogeneous.systems import psi

    card = _card(record)
    return psi(r, type_parameters(card), float(card.sigma))


def sample_particles(types: np.ndarray, K: int, per_type: int = PER_TYPE, seed: int = 0) -> np.ndarray:
    """Indices of up to ``per_type`` particles of each type (at most ``MAX_CURVES`` in all), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    per_type = max(1, min(per_type, MAX_CURVES // max(K, 1)))
    picked = []
    for k in range(K):
        members = np.flatnonzero(types == k)
        picked.append(rng.choice(members, size=min(per_type, members.size), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def interaction_figure(record: dict[str, Any], interaction: np.ndarray, per_type: int = PER_TYPE):
    """The learned ψ_i(r) of a sample of particles per true type (coloured by type) and each type's true ψ
    (black, dashed)."""
    from matplotlib.figure import Figure

    interaction = np.asarray(interaction, dtype=np.float64)
    N, R = interaction.shape
    K = int(record["config"]["task"]["n_types"])
    r = np.linspace(0.0, float(record["config"]["task"]["radius"]), R)
    keep = np.unique(np.linspace(0, R - 1, min(R, PLOT_POINTS)).round().astype(int))
    types = true_types(record, N)
    colours = _colours(K)
    truth = type_curves(record, r[keep])
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    sample = sample_particles(types, K, per_type)
    for i in sample:
        ax.plot(r[keep], interaction[i, keep], color=colours[types[i]], lw=0.6, alpha=0.35)
    for k in range(K):
        ax.plot(r[keep], truth[k], color="black", ls="--", lw=1.2, label="true ψ per type" if k == 0 else None)
    finite = truth[np.isfinite(truth)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.5 * (hi - lo) if hi > lo else 1e-3
        ax.set_ylim(lo - pad, hi + pad)  # a diverged model's curves are clipped, the truth stays readable
    ax.set_xlabel("r (box lengths)")
    ax.set_ylabel("ψ(r) = r f(r)")
    ax.set_title(f"learned ψ_i of {sample.size} of {N} particles, coloured by true type", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def embedding_figure(record: dict[str, Any], embedding: np.ndarray):
    """The node embeddings (its first two dimensions) of every particle, coloured by true type."""
    from matplotlib.figure import Figure

    embedding = np.asarray(embedding, dtype=np.float64)
    N = embedding.shape[0]
    K = int(record["config"]["task"]["n_types"])
    types = true_types(record, N)
    colours = _colours(K)
    x = embedding[:, 0]
    y = embedding[:, 1] if embedding.shape[1] > 1 else np.zeros(N)
    fig = Figure(figsize=(4.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for k in range(K):
        sel = types == k
        ax.scatter(x[sel], y[sel], s=4, color=colours[k], label=f"type {k}" if K <= 10 else None)
    ax.set_xlabel("a_i[0]")
    ax.set_ylabel("a_i[1]" if embedding.shape[1] > 1 else "")
    ax.set_title(f"embeddings of {N} particles, coloured by true type", fontsize=9)
    if K <= 10:
        ax.legend(loc="best", fontsize=7, markerscale=2)
    return fig


def _predictions(run_dir: str, record: dict[str, Any]) -> dict[str, np.ndarray] | None:
    from bench.records import PREDICTIONS_NAME

    name = (record.get("predictions") or {}).get("file") or PREDICTIONS_NAME
    path = Path(run_dir) / str(name)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("interaction_pred", "embedding_pred") if k in z.files}


def show_run(run_dir: str, read_record) -> None:
    """One run's two figures side by side (or a caption saying why not)."""
    record = read_record(run_dir)
    try:
        arrays = _predictions(run_dir, record)
    except (OSError, ValueError) as e:
        st.warning(f"cannot read the predictions of {run_dir}: {e}")
        return
    if arrays is None or "interaction_pred" not in arrays:
        st.caption("no interaction functions were saved with this run")
        return
    metrics = record.get("metrics") or {}
    keys = ("type_accuracy", "type_accuracy_matched", "cluster_count_error", "embedding_accuracy", "interaction_rmse")
    shown = [f"{k} **{metrics[k]:.4g}**" for k in keys if isinstance(metrics.get(k), int | float)]
    if shown:
        st.markdown(", ".join(shown))
    try:
        figures = [interaction_figure(record, arrays["interaction_pred"])]
        if "embedding_pred" in arrays:
            figures.append(embedding_figure(record, arrays["embedding_pred"]))
    except (KeyError, TypeError, ValueError, IndexError) as e:  # a record or arrays of another shape
        st.warning(f"cannot draw the predictions of {run_dir}: {e}")
        return
    left, right = st.columns(2)
    left.pyplot(figures[0])
    if len(figures) > 1:
        right.pyplot(figures[1])
    else:
        right.caption("this model has no node embeddings")
    if float(record["config"]["task"].get("param_jitter") or 0) > 0:
        st.caption("The dashed curves are each type's ψ without the task's per-particle jitter.")


def interaction_panel(rows, read_record) -> None:
    """The panel for the runs of ``rows`` (the leaderboard's records of this family on one task page)."""
    if not len(rows):
        return
    st.subheader("Interaction functions and types")
    st.caption("Learned ψ_i(r) of a sample of particles per true type (colours) against each type's true ψ "
               "(black dashed), and the learned embeddings coloured by true type.")  # fmt: skip
    labels = [_label(r) for _, r in rows.iterrows()]
    picked = st.multiselect("runs", list(range(len(labels))), default=[0], format_func=lambda i: labels[i],
                            max_selections=MAX_RUNS, key="heterogeneous-runs")  # fmt: skip
    for i in picked:
        if len(picked) > 1:
            st.markdown(f"**{labels[i]}**")
        show_run(str(rows.iloc[i]["run_dir"]), read_record)
