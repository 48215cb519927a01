"""Family H's panels on the leaderboard's task page (``HeterogeneousFamily.app_panels``): for each chosen run,
its learned interaction functions ψ_i(r) against the true ψ of each type, its node embeddings coloured by
the true type (when the model has them), and, on the hidden-field tasks (``field-static``, ``field-dynamic``),
its learned field beside the true one.

Everything comes from the run's saved predictions (``predictions.npz``: ``interaction_pred`` (N, R) on
r = linspace(0, R, R points), ``embedding_pred`` (N, k), ``field_pred`` (F, M)) and its record's task
configuration: the true types are contiguous blocks (``generate.particle_types``) and each type's ψ(r) = r·f(r)
comes from its parameters (``generate.type_parameters``: the card's ``type_params``, or those drawn from the
data seed); the true field is regenerated from the card and the record's scale (``generate.hidden_field``:
values (F, M) at the M = n² nodes of an n × n jittered grid, F = 1 for a static field, one row per frame for a
dynamic one). A learned field is defined only up to an affine map, so it is drawn as a · learned + b with
(a, b) the least-squares fit onto the truth over all nodes and frames (``field_metrics.affine_fit``, as the
metrics), in the truth's colour limits. No dataset is loaded. Figures are matplotlib ``Figure`` objects (no
pyplot state), shown with ``st.pyplot``; the field figures are also drawn by the family's report, which needs no
streamlit (``st`` is None where it is not installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    import streamlit as st
except ImportError:  # the report draws the field figures without the leaderboard's extra
    st = None  # type: ignore[assignment]

PER_TYPE = 50
"""Learned profiles drawn per true type (fewer for many types: at most ``MAX_CURVES`` in all)."""
MAX_CURVES = 600
PLOT_POINTS = 200
"""Distances of the 1000 plotted (every k-th): the figure stays light."""
MAX_RUNS = 4
"""Runs shown at once."""
FIELD_FRAMES = 3
"""Frames of a dynamic field drawn by default, evenly spaced: the first, the middle and the last."""
FIELD_CMAP = "viridis"
FIELD_METRICS = ("field_r2", "field_r2_outlier_rule", "field_outliers", "field_pearson_r", "field_rmse",
                 "field_psnr", "field_ssim")  # fmt: skip
"""The field metrics shown above a run's field figure (those the record has)."""


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


def _scale(record: dict[str, Any]) -> str:
    """The record's scale name (its config's ``scale.name``, else the record's ``scale``)."""
    scale = (record.get("config") or {}).get("scale")
    return str(scale["name"]) if isinstance(scale, dict) and scale.get("name") else str(record["scale"])


def field_truth(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The run's true hidden field: node positions (M, 2) and values (F, M), regenerated from the record's task
    card at its scale (``generate.hidden_field``); ValueError if the task has no field."""
    from bench.tasks.heterogeneous.generate import hidden_field

    field = hidden_field(_card(record), _scale(record))
    if field is None:
        raise ValueError(f"task {record['config']['task'].get('name')!r} has no hidden field")
    return field


def field_frames(n_frames: int, frames=None) -> list[int]:
    """The frames drawn of a field of ``n_frames`` rows: [0] for a static field (one row; ``frames`` ignored),
    else ``frames`` (each in [0, n_frames), else ValueError) or ``FIELD_FRAMES`` evenly spaced from the first to
    the last (rounded; with 3: the first, the middle and the last)."""
    if n_frames == 1:
        return [0]
    if frames is None:
        return sorted(set(np.linspace(0, n_frames - 1, FIELD_FRAMES).round().astype(int).tolist()))
    picked = [int(f) for f in frames]
    bad = [f for f in picked if not 0 <= f < n_frames]
    if bad or not picked:
        raise ValueError(f"field frames {list(frames)}: expected frames in [0, {n_frames})")
    return picked


@dataclass(frozen=True)
class FieldImages:
    """What ``field_figure`` draws: per drawn frame, the true field and the fitted learned one as (n, n) images
    (row = y, column = x: node k at row k // n, column k % n), and the fit and colour limits used."""

    frames: list[int]
    """The frames drawn (row f of the field's values)."""
    times: list[float]
    """Their times, frame × dt."""
    true: np.ndarray
    """(P, n, n) the true field at the drawn frames."""
    learned: np.ndarray
    """(P, n, n) a · learned + b at the drawn frames (NaN where the learned value is not finite)."""
    slope: float
    offset: float
    """(a, b) = ``affine_fit(field_pred, true)`` over all nodes and frames of the run."""
    limits: tuple[float, float]
    """The colour limits of both: the true field's minimum and maximum over all nodes and frames."""
    box: float
    """The side of the periodic box: the images span [0, box]²."""
    dynamic: bool
    """Whether the field has more than one frame."""


def field_images(record: dict[str, Any], field_pred: np.ndarray, frames=None) -> FieldImages:
    """The images of the run's true field and of its learned ``field_pred`` (F, M), fitted affinely to the truth
    (see ``FieldImages``); ValueError if ``field_pred``'s shape is not the truth's (F, M) with M = n²."""
    from bench.tasks.heterogeneous.field_metrics import affine_fit
    from bench.tasks.heterogeneous.generate import scale_value

    _, true = field_truth(record)
    learned = np.asarray(field_pred, dtype=np.float64)
    F, M = true.shape
    n = int(round(M**0.5))
    if learned.shape != true.shape or n * n != M:
        raise ValueError(f"field_pred has shape {learned.shape}; expected the true field's {true.shape} (F, n²)")
    a, b = affine_fit(learned, true)
    with np.errstate(invalid="ignore", over="ignore"):
        fitted = a * learned + b
    picked = field_frames(F, frames)
    card = _card(record)
    return FieldImages(
        frames=picked,
        times=[f * float(card.dt) for f in picked],
        true=true[picked].reshape(len(picked), n, n),
        learned=fitted[picked].reshape(len(picked), n, n),
        slope=float(a),
        offset=float(b),
        limits=(float(true.min()), float(true.max())),
        box=float(scale_value(card, "box", _scale(record))),
        dynamic=F > 1,
    )


def draw_field(ax, image: np.ndarray, box: float, limits: tuple[float, float], title: str):
    """One field image (n, n) on ``ax``: y up (``origin="lower"``) over [0, box]², colours clipped to
    ``limits``; returns the image (for a colorbar)."""
    im = ax.imshow(image, origin="lower", extent=(0.0, box, 0.0, box), vmin=limits[0], vmax=limits[1],
                   cmap=FIELD_CMAP, interpolation="nearest")  # fmt: skip
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def frame_label(frame: int, time: float) -> str:
    """``frame 125 (t = 12.5)``: a frame and its time (frame × dt)."""
    return f"frame {frame} (t = {time:.4g})"


def field_figure(record: dict[str, Any], field_pred: np.ndarray, frames=None):
    """The true field (left) and the learned one fitted to it (right) in the truth's colour limits, one shared
    colorbar: one pair for a static field, one pair per drawn frame of a dynamic one (``field_frames``: by default
    the first, middle and last), each titled with its frame and time (frame × dt)."""
    from matplotlib.figure import Figure

    images = field_images(record, field_pred, frames)
    P = len(images.frames)
    fig = Figure(figsize=(6.4, 3.0 * P + 0.4), layout="constrained")
    axes = fig.subplots(P, 2, squeeze=False)
    im = None
    for row, (f, t) in enumerate(zip(images.frames, images.times, strict=True)):
        when = f", {frame_label(f, t)}" if images.dynamic else ""
        im = draw_field(axes[row, 0], images.true[row], images.box, images.limits, f"true b{when}")
        draw_field(axes[row, 1], images.learned[row], images.box, images.limits, f"learned, fitted{when}")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="b")
    sign = "+" if images.offset >= 0 else "−"
    fig.suptitle(f"{'dynamic' if images.dynamic else 'static'} field: true b and {images.slope:.3g} · learned "
                 f"{sign} {abs(images.offset):.3g} (least squares)", fontsize=9)  # fmt: skip
    return fig


def _predictions(run_dir: str, record: dict[str, Any]) -> dict[str, np.ndarray] | None:
    from bench.records import PREDICTIONS_NAME

    name = (record.get("predictions") or {}).get("file") or PREDICTIONS_NAME
    path = Path(run_dir) / str(name)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("interaction_pred", "embedding_pred", "field_pred") if k in z.files}


def show_run(run_dir: str, read_record) -> None:
    """One run's two figures side by side (or a caption saying why not); on a field task, its field below."""
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
    if record["config"]["task"].get("field") is not None:
        show_field(run_dir, record, arrays)


def show_field(run_dir: str, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """A field task's run: its field metrics and ``field_figure`` (or a caption: the model has no field)."""
    if "field_pred" not in arrays:
        st.caption("this model has no field model: it is scored as a constant field (field R² and Pearson r 0)")
        return
    metrics = record.get("metrics") or {}
    shown = [f"{k} **{metrics[k]:.4g}**" for k in FIELD_METRICS if isinstance(metrics.get(k), int | float)]
    if shown:
        st.markdown(", ".join(shown))
    try:
        figure = field_figure(record, arrays["field_pred"])
    except (KeyError, TypeError, ValueError, IndexError) as e:
        st.warning(f"cannot draw the learned field of {run_dir}: {e}")
        return
    st.pyplot(figure)


def interaction_panel(rows, read_record) -> None:
    """The panel for the runs of ``rows`` (the leaderboard's records of this family on one task page)."""
    if not len(rows):
        return
    st.subheader("Interaction functions and types")
    st.caption("Learned ψ_i(r) of a sample of particles per true type (colours) against each type's true ψ "
               "(black dashed), and the learned embeddings coloured by true type; on a hidden-field task, the "
               "learned field (affinely fitted) beside the true one.")  # fmt: skip
    labels = [_label(r) for _, r in rows.iterrows()]
    picked = st.multiselect("runs", list(range(len(labels))), default=[0], format_func=lambda i: labels[i],
                            max_selections=MAX_RUNS, key="heterogeneous-runs")  # fmt: skip
    for i in picked:
        if len(picked) > 1:
            st.markdown(f"**{labels[i]}**")
        show_run(str(rows.iloc[i]["run_dir"]), read_record)
