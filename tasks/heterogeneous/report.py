"""The heterogeneous-particles reproduction report: our type accuracy and interaction-function RMSE beside
Allier et al. 2024.

    bench report family=heterogeneous [--runs runs ...]
                                      [--tasks types3,types3-continuous,types16,field-static,field-dynamic]
                                      [--scales tiny quick paper] [--out FILE]

Reads every heterogeneous result record under the run folders (``--runs``, default ``runs``) and writes
Markdown: the published row (Allier et al. 2024, from ``references.yaml``) and the chance level of each task,
then one row of ours per task × model × scale × configuration: type accuracy (the reference's mapping and the
one-to-one matching), clusters found, embedding accuracy, interaction-function RMSE, relative one-step velocity
RMSE and the rollout's position RMSE at its largest horizon, each as mean ± std over the seeds, with the row's
budget (scale, particles, epochs and iterations run, batch, training time per seed, precision). An oracle
model (the true types as input) is marked as a ceiling, ``zero-velocity`` as the trivial row. The hidden-field
tasks (``field-static``, ``field-dynamic``) get tables of their own, one per field kind, with the field metrics
besides (``FIELD_COLUMNS``), and a section "Hidden fields" that says how the fields are made and scored and
embeds PNG pictures written next to the ``--out`` file: ``<stem>-fields.png``, the true static field and three
frames of the dynamic one at the quick scale (from the task cards alone), and ``<stem>-<task>-learned.png``, the
learned field of the first ``embedding-gnn-field`` run of each field task against the truth
(``app.field_figure``). Without ``--out`` the Markdown is printed and no picture is written.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
from functools import cache
from pathlib import Path
from typing import Any

from bench.io import atomic_write, atomic_write_text
from bench.leaderboard import references
from bench.reports import config_tags, grouped, one_per_seed
from bench.reports import finite as _finite
from bench.reports import load_records as _load
from bench.reports import mean_std as _mean_std

TASKS = ("types3", "types3-continuous", "types16", "field-static", "field-dynamic")
ORDER = ("embedding-gnn", "embedding-gnn-field", "shared-gnn", "oracle-gnn", "zero-velocity")
"""Our models in this order; any other model follows, by name."""
SCALES = ("tiny", "quick", "paper")
TRIVIAL = ("zero-velocity",)
"""Models that predict no motion: the trivial row (so is any model without parameters)."""
PUBLISHED = ("type_accuracy", "interaction_rmse")
"""The metrics of Allier et al.'s published row, under our names (``references.yaml``)."""
FIELD_COLUMNS = {
    "static": (
        ("field R²", "field_r2", ".3f"),
        ("field R², Allier's outlier rule", "field_r2_outlier_rule", ".3f"),
        ("outliers (rule)", "field_outliers", ".4g"),
        ("field RMSE", "field_rmse", ".3g"),
    ),
    "dynamic": (
        ("field Pearson r", "field_pearson_r", ".3f"),
        ("field PSNR (dB)", "field_psnr", ".3g"),
        ("field SSIM", "field_ssim", ".3f"),
        ("field RMSE", "field_rmse", ".3g"),
    ),
}
"""The columns (header, metric, format) a field task's table adds after ``seeds``, by the field's kind."""
FIELD_MODEL = "embedding-gnn-field"
"""The model whose learned field the report draws (the first of its runs on each field task)."""
PICTURE_SCALE = "quick"
"""The scale of the true fields drawn in ``<stem>-fields.png``."""
PICTURE_DPI = 110
Picture = tuple[str | None, str, str]
"""A picture of the section "Hidden fields": (PNG file name next to the report, or None: a caption alone; alt
text; caption)."""
REFERENCE_ITERATIONS = "20 epochs × 3125 iterations of 8 frames (GPU)"
"""The reference's training budget (decomp-gnn ``arbitrary_3.yaml``: n_epochs 20, 250 frames × 100
augmentation loops / batch 8 per epoch)."""

DEFINITIONS = (
    "Definitions and choices. Each particle's learned interaction function ψ_i(r) is sampled on 1000 "
    "distances r in [0, R] (as the reference). `type accuracy`: those profiles → UMAP (n_neighbors 500, fitted "
    "on 1000 profiles drawn with seed 0, then every profile transformed) → one global min–max over the 2-D "
    "points → single linkage cut at distance 0.01 → clusters mapped to types by the reference's rule "
    "(decomp-gnn's `sparsify_cluster`): each type claims the cluster of its median cluster id and every other "
    "particle counts as an unmatched class. That rule is fragile: a type split over several clusters keeps one "
    "at most, the median of arbitrary ids can name another type's cluster, two types claiming one cluster leave "
    "the earlier with nothing, so it can fall below chance when there are many clusters. `matched`: the "
    "one-to-one (Hungarian) matching of clusters to types that maximises the agreement, clusters beyond K "
    "unmatched: never below `type accuracy`, robust to cluster numbering. `|clusters − K|`: how far the "
    "number of clusters found is from the number of types (0 ideal; over-splitting and merging both raise it). "
    "`embedding acc.`: the same clustering (reference mapping) of the min–max normalised embeddings "
    "a_i, no UMAP (– for a model without embeddings). Allier et al.'s 1.00 comes after bootstrapped "
    "training: every 5 epochs the embeddings are replaced by their cluster's median, so the clusters are built "
    "into training. Ours does it too (`cluster_every` 5; after epochs 5, 10, 15 of 20, after epoch 5 of 8), with "
    "two differences: it clusters the embeddings themselves (single linkage at 0.01, no UMAP), and each particle "
    "then joins the cluster whose median best predicts its own training velocities, so that a particle whose "
    "embedding strayed between the types is reassigned by its motion; a replacement is kept only if it predicts the "
    "training motion at least as well as the embeddings did (clusters that still merge two types do not); it "
    "freezes the embeddings after the last kept replacement. `interaction RMSE`: per particle, the RMSE over the "
    "1000 r of ψ_i against the particle's true ψ(r) = r·f(r), then the mean over particles: the reference's "
    "definition, but it trains 4800 particles for " + REFERENCE_ITERATIONS + "; each of our rows states its "
    "budget. `velocity RMSE`: the one-step velocity error over the test run's scored frames, relative to the "
    "training velocity std, both per component (a model that predicts no motion scores about 1). "
    "`position RMSE`: the rollout's "
    "minimum-image position error at its largest scored step h (box lengths). Scales: the paper scale is the "
    "reference's 4800 particles in the unit square; quick (960) and tiny (240) keep the density (4800 per unit "
    "area) and R = 0.075 in a smaller periodic box, so each particle sees as many neighbours."
)


def load_records(roots: list[Path], tasks=TASKS, scales=SCALES) -> list[dict[str, Any]]:
    """Every heterogeneous record under ``roots`` of the given tasks and scales (unreadable files skipped)."""
    return _load(roots, "heterogeneous", tasks, scales)


def published(task: str, model: str, metric: str) -> float | None:
    """Allier et al.'s published ``metric`` of ``model`` on ``task`` (``references.yaml``), or None."""
    value = references.lookup(task, model, metric)
    assert not isinstance(value, str)
    return value


def chance(task: str) -> float:
    """The type accuracy of a model that tells no types apart (every particle in one cluster, matched to one
    type): the largest type's share of the particles, 1/K with the family's equal blocks."""
    import numpy as np

    from bench.config import task_card
    from bench.tasks.heterogeneous.generate import particle_types

    card = task_card(task)
    types = particle_types(int(card.n_particles), int(card.n_types))
    return float(np.bincount(types).max() / types.size)


def _duration(seconds: list[float | None]) -> str:
    """Training time per seed, mean ± std, in s, min or h after the mean's size."""
    values = _finite(seconds)
    if not values:
        return "–"
    mean = statistics.mean(values)
    unit, div = ("s", 1.0) if mean < 60 else ("min", 60.0) if mean < 3600 else ("h", 3600.0)
    if len(values) == 1:
        return f"{mean / div:.2g} {unit}" if unit == "s" else f"{mean / div:.1f} {unit}"
    return f"{mean / div:.1f} ± {statistics.stdev(values) / div:.1f} {unit}"


def _span(values: list[int]) -> str:
    values = sorted(set(values))
    return "–" if not values else str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def horizon(records: list[dict[str, Any]]) -> int | None:
    """The largest rollout step k scored (``position_rmse_h{k}``) by every record of a row; None if none."""
    common = None
    for r in records:
        steps = {int(m.group(1)) for k in (r.get("metrics") or {}) if (m := re.fullmatch(r"position_rmse_h(\d+)", k))}
        common = steps if common is None else common & steps
    return max(common) if common else None


def particles(record: dict[str, Any]) -> int | None:
    """The particles of the record's dataset (its card's count at its scale)."""
    try:
        return int(record["config"]["task"]["particles"][record["scale"]])
    except (KeyError, TypeError, ValueError):
        return None


def steps_per_epoch(record: dict[str, Any]) -> int | None:
    """Optimiser steps in one epoch: ceil(training frames / batch), at most the scale's ``max_steps_per_epoch``
    (as ``bench.train``); None when the record does not say."""
    try:
        frames = int(record["config"]["task"]["frames"])
        batch = int(record["training"]["batch_size"])
    except (KeyError, TypeError, ValueError):
        return None
    steps = math.ceil(frames / batch)
    cap = ((record.get("config") or {}).get("scale") or {}).get("max_steps_per_epoch")
    return min(steps, int(cap)) if cap else steps


def oracle_inputs(records: list[dict[str, Any]]) -> list[str]:
    """The truths an oracle model was given (the records' ``analyses.oracle_inputs``): a ceiling, not a rival."""
    return sorted({x for r in records for x in ((r.get("analyses") or {}).get("oracle_inputs") or [])})


def trivial(records: list[dict[str, Any]]) -> bool:
    """A model that predicts no motion: ``zero-velocity``, or any without parameters."""
    return all(r.get("model") in TRIVIAL or r.get("n_parameters") == 0 for r in records)


def _published_pair(task: str, model: str) -> str:
    values = [published(task, model, m) for m in PUBLISHED]
    if all(v is None for v in values):
        return "–"
    return " / ".join("–" if v is None else f"{v:.2f}" if m == "type_accuracy" else f"{v:.1e}"
                      for m, v in zip(PUBLISHED, values, strict=True))  # fmt: skip


def published_table(tasks=TASKS) -> list[str]:
    """Allier et al.'s published rows of ``tasks`` and the chance level of each task."""
    refs = references.references()
    refs = refs[refs["task"].isin(tasks) & refs["metric"].isin(PUBLISHED)]
    lines = ["| task | row | particles | type accuracy | interaction RMSE | source |", "|---|---|---|---|---|---|"]
    for task in tasks:
        mine = refs[refs["task"] == task]
        for model in dict.fromkeys(mine["model"]):
            rows = mine[mine["model"] == model]
            value = {m: rows.loc[rows["metric"] == m, "value"] for m in PUBLISHED}
            accuracy = f"{float(value['type_accuracy'].iat[0]):.2f}" if len(value["type_accuracy"]) else "–"
            rmse = f"{float(value['interaction_rmse'].iat[0]):.1e}" if len(value["interaction_rmse"]) else "–"
            n = rows["n_particles"].dropna()
            lines.append(f"| {task} | published: `{model}` | {int(n.iat[0]) if len(n) else '–'} | {accuracy} | {rmse} "
                         f"| {rows['source'].iat[0]} |")  # fmt: skip
        lines.append(f"| {task} | chance (no types told apart: the largest type's share, 1/K) | – "
                     f"| {chance(task):.4g} | – | |")  # fmt: skip
    return lines


def field_kind(record: dict[str, Any]) -> str | None:
    """The kind of the record's hidden field (``static``, ``dynamic``), None for a task without one."""
    field = ((record.get("config") or {}).get("task") or {}).get("field")
    return str(field["kind"]) if isinstance(field, dict) and field.get("kind") else None


def field_nodes(record: dict[str, Any]) -> int | None:
    """The field nodes M = n² of the record's task at its scale (None without a field)."""
    try:
        return int(record["config"]["task"]["field"]["grid"][record["scale"]]) ** 2
    except (KeyError, TypeError, ValueError):
        return None


def runs_table(records: list[dict[str, Any]], columns: tuple[tuple[str, str, str], ...] = ()) -> list[str]:
    """Our rows: mean ± std over seeds per task × model × scale × configuration, with the budget; ``columns``
    (header, metric, format) are added after ``seeds`` (``FIELD_COLUMNS``)."""
    groups = grouped(records, TASKS, ORDER, SCALES)
    tags = config_tags(groups)
    lines = [
        "| task | model | scale | seeds | "
        + "".join(f"{header} | " for header, _, _ in columns)
        + "type accuracy | matched | \\|clusters − K\\| | embedding acc. "
        "| interaction RMSE | velocity RMSE (rel.) | position RMSE (h) | Allier et al. (acc. / RMSE) | particles "
        "| epochs (iterations) | batch | train time / seed | precision |",
        "|---|---|---|---|" + "---|" * len(columns) + "---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, model, scale, experiment), rs in groups:
        rs = one_per_seed(rs)
        name = model
        oracle = oracle_inputs(rs)
        if oracle:
            name += f" (oracle: {', '.join(oracle)}; ceiling)"
        elif trivial(rs):
            name += " (trivial: no motion)"
        name += tags[(task, model, scale, experiment)]

        def metric(key: str, rs=rs) -> list[float | None]:
            return [(r.get("metrics") or {}).get(key) for r in rs]

        k = horizon(rs)
        position = "–" if k is None else f"{_mean_std(metric(f'position_rmse_h{k}'), digits='.2e')} (h{k})"
        epochs = [int((r.get("training") or {}).get("epochs_run") or 0) for r in rs]
        iterations = [e * s for e, r in zip(epochs, rs, strict=True) if (s := steps_per_epoch(r)) is not None]
        budget = _span(epochs) + (f" ({_span(iterations)})" if len(iterations) == len(rs) else "")
        batch = _span([int(b) for r in rs if (b := (r.get("training") or {}).get("batch_size")) is not None])
        precision = " / ".join(sorted({f"{r.get('precision', '?')} · {r.get('device', '?')}" for r in rs}))
        nodes = {field_nodes(r) for r in rs}
        of = f" of {nodes.pop()}" if len(nodes) == 1 and None not in nodes else ""
        extra = "".join(f"| {_mean_std(metric(key), digits=digits)}{of if key == 'field_outliers' else ''} "
                        for _, key, digits in columns)  # fmt: skip
        lines.append(
            f"| {task} | {name} | {scale} | {len(rs)} ({', '.join(str(r['seed']) for r in rs)}) {extra}"
            f"| {_mean_std(metric('type_accuracy'), digits='.3f')} "
            f"| {_mean_std(metric('type_accuracy_matched'), digits='.3f')} "
            f"| {_mean_std(metric('cluster_count_error'), digits='.4g')} "
            f"| {_mean_std(metric('embedding_accuracy'), digits='.3f')} "
            f"| {_mean_std(metric('interaction_rmse'), digits='.2e')} | {_mean_std(metric('velocity_rmse_relative'))} "
            f"| {position} | {_published_pair(task, model)} "
            f"| {_span([n for r in rs if (n := particles(r)) is not None])} | {budget} | {batch} "
            f"| {_duration([r.get('train_time_s') for r in rs])} | {precision} |"
        )
    return lines


def field_tasks(tasks=TASKS) -> list[str]:
    """The tasks of ``tasks`` that have a hidden field (their card's ``field``)."""
    return [t for t in tasks if _has_field(t)]


@cache
def _has_field(task: str) -> bool:
    from bench.config import task_card

    return task_card(task).get("field") is not None


def ours(records: list[dict[str, Any]]) -> list[str]:
    """Our tables: the tasks without a field, then one table per field kind with its ``FIELD_COLUMNS``."""
    lines: list[str] = []
    for kind in (None, *FIELD_COLUMNS):
        mine = [r for r in records if field_kind(r) == kind]
        if not mine:
            continue
        if lines:
            lines.append("")
        if kind is not None:
            lines += [f'Hidden-field tasks, {kind} field (field metrics: see "Hidden fields" below):', ""]
        lines += runs_table(mine, FIELD_COLUMNS.get(kind, ()))
    return lines


def fields_text(tasks=TASKS) -> list[str]:
    """How the hidden fields are made and scored, with the numbers of the first field task's card."""
    from bench.config import task_card
    from bench.tasks.heterogeneous.field_metrics import OUTLIER_THRESHOLD, PSNR_CAP_DB

    card = task_card(field_tasks(tasks)[0])
    f = card.field
    grid = ", ".join(f"{f.grid[s]} at {s}" for s in SCALES if s in f.grid)
    T, dt = int(card.frames), float(card.dt)
    return [
        "How the fields are made (`bench.tasks.heterogeneous.fields`; Allier et al.'s field is an image or a video "
        "that is not public, so ours are generated, deterministically from the card's `data_seed`). The field b "
        "lives on stationary nodes: the centres of an n × n grid of square cells over the periodic box "
        f"(n = {grid}: 100 per box length, the reference's 100 × 100 mesh at paper), each moved by "
        f"N(0, ({float(f.jitter):g} · cell)²) per coordinate and wrapped into the box. A particle of type p feels "
        f"the nodes closer than {float(f.radius):g} (R/2): its velocity gains the mean over them of "
        "f_p(|d_ik|) d_ik b_k(t), its own pair function weighted by the node's value. The pattern is a sum of "
        f"random Fourier modes: every integer wave vector m ≠ 0 with |m| ≤ L/{float(f.min_wavelength):g} "
        f"(wavelengths from {float(f.min_wavelength):g} to the box side L; one of each ±m), amplitude 1/|m| "
        "(structure at every scale, most of it large), uniform random phase: periodic in the box, so a node near "
        f"an edge sees one continuous field. It is min–max scaled to [0, {float(f.value_max):g}] over all nodes "
        "and frames. `field-static`: one pattern at every frame. `field-dynamic`: the whole pattern drifts by "
        f"{float(f.drift):g} box sides over the run's {T} frames (t = 0 to {(T - 1) * dt:g}) in a random "
        f"direction, and each mode turns its phase at its own rate, up to {float(f.deform):g} "
        f"turn{'' if float(f.deform) == 1 else 's'} over the run "
        "(random sign), so that it deforms while it moves. A model sees the particles' motion only.",
        "",
        "How a learned field is scored (`bench.tasks.heterogeneous.field_metrics`). A model learns b only up to "
        "an affine map (its scale and offset are absorbed by the rest of the network), so every metric first fits "
        "one: (a, b) the least squares of true ≈ a · learned + b over all nodes (and frames); the pictures show "
        "a · learned + b in the truth's colour scale. `field R²`: 1 − SS_res / SS_tot after that fit (the squared "
        "Pearson r: blind to the sign). `field RMSE`: the RMSE of the fitted field against the truth, in field "
        f"units (the truth spans [0, {float(f.value_max):g}]). `field R², Allier's outlier rule` (static): the "
        f"reference's rule: the nodes whose error after the fit exceeds {OUTLIER_THRESHOLD:g} are outliers, the "
        "line is refitted on the others and R² = 1 − SS_res(kept) / SS_tot(all nodes). The outliers are dropped "
        "from the residuals only, not from the total, so the rule rewards a field that is wrong in many places: a "
        "learned field with no information keeps the nodes whose true value is near the mean, whose residuals "
        "are small, and can score close to 1 (a constant field scores 0: see below). Always read it with its "
        "outlier count (`outliers (rule)`, of the n² "
        "nodes). Dynamic: `field Pearson r` over all nodes and frames (it keeps the sign), `field PSNR` the mean "
        "over frames of 10 log10(range² / MSE_t) with the true field's range over the run (a perfect frame counts "
        f"{PSNR_CAP_DB:g} dB), `field SSIM` the mean over frames of scikit-image's SSIM of the fitted frame as an "
        "n × n image (7 × 7 window). A model without a field model (`embedding-gnn`) is scored as a constant "
        "field: field R², the outlier rule's R² and Pearson r 0.",
    ]


def true_fields_figure(tasks=TASKS, scale: str = PICTURE_SCALE):
    """The true field of each field task of ``tasks`` at ``scale``, from its card alone (no run): a static field
    once, a dynamic one at its first, middle and last frame (``app.field_frames``), one colour scale (the
    fields' joint minimum and maximum); None without a field task."""
    from matplotlib.figure import Figure

    from bench.config import task_card
    from bench.tasks.heterogeneous.app import draw_field, field_frames, frame_label
    from bench.tasks.heterogeneous.generate import hidden_field, scale_value

    panels = []
    for task in field_tasks(tasks):
        card = task_card(task)
        _, values = hidden_field(card, scale)
        n = int(round(values.shape[1] ** 0.5))
        box = float(scale_value(card, "box", scale))
        for f in field_frames(values.shape[0]):
            title = task if values.shape[0] == 1 else f"{task}, {frame_label(f, f * float(card.dt))}"
            panels.append((values[f].reshape(n, n), box, title))
    if not panels:
        return None
    limits = (min(float(p[0].min()) for p in panels), max(float(p[0].max()) for p in panels))
    fig = Figure(figsize=(2.6 * len(panels) + 0.9, 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    im = None
    for ax, (image, box, title) in zip(axes, panels, strict=True):
        im = draw_field(ax, image, box, limits, title)
    fig.colorbar(im, ax=list(axes), shrink=0.85, label="b")
    fig.suptitle(f"true hidden fields at scale {scale} ({n} × {n} nodes; y up)", fontsize=9)
    return fig


def save_png(fig, path: Path) -> Path:
    """``fig`` as a PNG at ``path``, written atomically (a temporary file in the same folder, then renamed)."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=PICTURE_DPI))


def learned_run(records: list[dict[str, Any]], task: str) -> dict[str, Any] | None:
    """The first ``FIELD_MODEL`` record of ``task`` in the tables' order (scale, configuration, then seed)."""
    groups = grouped([r for r in records if r["task"] == task and r["model"] == FIELD_MODEL], TASKS, ORDER, SCALES)
    return one_per_seed(groups[0][1])[0] if groups else None


def write_pictures(records: list[dict[str, Any]], out: Path, tasks=TASKS) -> list[Picture]:
    """Write the section's PNGs next to the report ``out``: ``<stem>-fields.png`` (``true_fields_figure``) and,
    per field task with a ``FIELD_MODEL`` record, ``<stem>-<task>-learned.png`` (``app.field_figure`` of the
    first such run, ``learned_run``). Returns (file name, alt text, caption) per picture, in order; a file name
    of None is a caption with no picture (no such run, or it saved no learned field)."""
    from bench.tasks.heterogeneous.app import _predictions, field_figure

    out = Path(out)
    pictures: list[Picture] = []
    fig = true_fields_figure(tasks)
    if fig is None:
        return pictures
    name = f"{out.stem}-fields.png"
    save_png(fig, out.parent / name)
    caption = (f"The true fields at scale {PICTURE_SCALE}, from the task cards (no run): a static field, and a "
               "dynamic one at its first, middle and last frame; one colour scale.")  # fmt: skip
    pictures.append((name, "true hidden fields", caption))
    for task in field_tasks(tasks):
        record = learned_run(records, task)
        if record is None:
            pictures.append((None, "", f"`{task}`: no `{FIELD_MODEL}` record, so no learned field to draw."))
            continue
        where = f"`{FIELD_MODEL}`, scale {record['scale']}, seed {record['seed']} (`{record.get('_path', '?')}`)"
        try:
            arrays = _predictions(str(Path(record["_path"]).parent), record)
            if arrays is None or "field_pred" not in arrays:
                pictures.append((None, "", f"`{task}`: the run of {where} saved no learned field (`field_pred`)."))
                continue
            fig = field_figure(record, arrays["field_pred"])
        except (OSError, KeyError, TypeError, ValueError, IndexError) as e:
            pictures.append((None, "", f"`{task}`: cannot draw the learned field of {where}: {e}"))
            continue
        name = f"{out.stem}-{task}-learned.png"
        save_png(fig, out.parent / name)
        metrics = record.get("metrics") or {}
        of = f" of {field_nodes(record)}" if field_nodes(record) else ""
        scored = ", ".join(f"{header} {format(metrics[key], digits)}{of if key == 'field_outliers' else ''}"
                           for header, key, digits in FIELD_COLUMNS[field_kind(record) or "static"]
                           if isinstance(metrics.get(key), int | float))  # fmt: skip
        caption = (f"`{task}`: the learned field of {where} (left: the truth; right: the learned field, affinely "
                   f"fitted, in the truth's colours){': ' + scored if scored else ''}.")  # fmt: skip
        pictures.append((name, f"{task}: learned and true field", caption))
    return pictures


def fields_section(tasks=TASKS, pictures: list[Picture] | None = None) -> list[str]:
    """The section "Hidden fields": ``fields_text`` and the pictures (None: no ``--out``, none written)."""
    lines = ["## Hidden fields", "", *fields_text(tasks), ""]
    if pictures is None:
        lines.append("No pictures: they are written as PNG files next to the report only with `--out`.")
        return lines
    for name, alt, caption in pictures:
        if name is not None:
            lines += [f"![{alt}]({name})", ""]
        lines += [caption, ""]
    return lines[:-1]


DIAGNOSTICS = Path(__file__).resolve().parent / "field-identifiability-{task}.json"
"""Per field task, the figures of ``scripts/field_identifiability.py --out`` (committed; absent: no section)."""


COORDINATES = {"box": "position over the box side (x/L)", "physical": "position as simulated"}
"""How a diagnostic's SIREN reads the position (the model's ``field_coordinates``; "box" when not recorded)."""


def limits_section(tasks=TASKS) -> list[str]:
    """The section "What limits the learned field": for each field task with a committed diagnostic
    (``DIAGNOSTICS``), the field score per epoch of the baseline's SIREN fitted to the true field, of the same
    SIREN fitted to the motion with the true pair functions and types given, and of the joint model."""
    import json

    lines: list[str] = []
    for task in field_tasks(tasks):
        path = Path(str(DIAGNOSTICS).format(task=task))
        if not path.is_file():
            continue
        d = json.loads(path.read_text())
        siren = d["siren"]
        epochs = int(d["epochs"])
        lines += [
            f"`{task}` at scale {d['scale']}: the training run ({d['frames']} frames, {d['particles']} particles, "
            f"{d['nodes']} field nodes), the baseline's SIREN ({siren['field_layers']} × {siren['field_hidden']}, "
            f"ω₀ {siren['field_omega0']:g}, lr {siren['field_lr']:g}, "
            f"{COORDINATES[siren.get('field_coordinates', 'box')]}, one frame per step, cosine schedule over "
            f"{epochs} epochs); the field's {d['metric']} against the true field after each epoch "
            f"(`{Path(path).name}`, made by `scripts/field_identifiability.py`):",
            "",
            "| what is fitted | " + " | ".join(f"ep. {k}" for k in range(1, epochs + 1)) + " | time |",
            "|---|" + "---|" * (epochs + 1),
        ]
        labels = {"supervised": "the SIREN alone, on the true field values (can it represent the field?)",
                  "alone": "the SIREN, on the motion, the true pair functions and types given (does the motion "
                           "determine the field?)"}  # fmt: skip
        for mode, label in labels.items():
            if mode in d["experiments"]:
                e = d["experiments"][mode]
                scores = " | ".join(f"{v:.3f}" for v in e["scores"])
                lines.append(f"| {label} | {scores} | {e['seconds']:.0f} s |")
        joint = d.get("joint")
        if joint:
            cells = [f"{v:.3f}" if v is not None else "–" for v in joint["scores"]]
            cells += ["–"] * (epochs - len(cells))
            coordinates = joint.get("field_coordinates")
            reads = f"{COORDINATES[coordinates]}; " if coordinates in COORDINATES else ""
            lines.append(f"| `embedding-gnn-field`: everything learned at once ({reads}its score on the validation run "
                         f"after each epoch; `{joint['run']}`) | " + " | ".join(cells[:epochs]) + " | – |")  # fmt: skip
            lines += [
                "",
                "The joint run, per epoch: train loss "
                + ", ".join(f"{v:.3g}" for v in joint["train_loss"])
                + "; validation loss (another run of the same particles in the same field) "
                + ", ".join(f"{v:.3g}" for v in joint["val_loss"])
                + "; embedding accuracy (matched) "
                + ", ".join(f"{v:.3f}" for v in joint["embedding_accuracy_matched"] if v is not None)
                + ".",
            ]
            smoothing = joint.get("smoothing")
            if smoothing:
                cells = [f"{name}: {v['learned']:.3f} (the truth smoothed alike: {v['truth']:.3f})"
                         for name, v in smoothing.items() if name != "as learned"]  # fmt: skip
                lines += [
                    "",
                    f"Where its error lies (the finished run's learned field on the test run, {d['metric']} "
                    f"{smoothing['as learned']['learned']:.3f}): after a running mean over "
                    + "; ".join(cells)
                    + ". A mean over 3 × 3 neighbouring nodes removes node-scale noise and leaves the true field "
                    "nearly unchanged (its shortest wavelength spans about 10 nodes)"
                    + ("; one over 11 frames removes frame-to-frame noise." if "frames 11" in smoothing else "."),
                ]
            reached = [v for v in joint["scores"] if v is not None]
            experiments = d["experiments"]
            if reached and joint["train_loss"] and joint["val_loss"] and {"supervised", "alone"} <= set(experiments):
                lines += [
                    "",
                    f"Reading: the SIREN can represent this field ({d['metric']} "
                    f"{experiments['supervised']['scores'][-1]:.3f}) and the motion determines it when the pair "
                    f"functions and types are known ({experiments['alone']['scores'][-1]:.3f}); learned jointly it "
                    f"reaches {reached[-1]:.3f}, with a final validation loss "
                    f"{joint['val_loss'][-1] / joint['train_loss'][-1]:.2g} × its training loss.",
                ]
        lines.append("")
    if not lines:
        return []
    return ["## What limits the learned field", "", *lines[:-1]]


def render(records: list[dict[str, Any]], roots: list[Path], tasks=TASKS, pictures: list[Picture] | None = None) -> str:
    """The report's Markdown; ``pictures``: what ``write_pictures`` wrote (None: no ``--out``)."""
    lines = [
        "# Heterogeneous particles: reproduction report",
        "",
        "Generated by `bench report family=heterogeneous` from the result records under "
        f"{', '.join(f'`{r}`' for r in roots)}. Particles of K hidden types move under pair interactions of the "
        "receiver's type (Allier et al. 2024, arXiv 2407.19160); a model is scored on whether its learned "
        "interaction functions recover the types and the functions, and on the dynamics. `embedding-gnn` is the "
        "reference's model (a learned embedding per particle), `shared-gnn` one function for all (it cannot tell "
        "the types apart), `oracle-gnn` is given the true types (a ceiling, not a rival), `zero-velocity` predicts "
        "no motion (the trivial row). On the hidden-field tasks (`field-static`, `field-dynamic`) the particles "
        "are also pushed by a hidden scalar field; `embedding-gnn-field` is `embedding-gnn` with a learned field "
        "(a SIREN of position, and time on a dynamic field: the reference's `PDE_ParticleField_A`).",
        "",
        DEFINITIONS,
        "",
        "## Allier et al. 2024: published, and chance",
        "",
        *published_table(tasks),
        "",
        "Published: 3 types among 4800 particles (our `types3` at scale paper), after "
        f"{REFERENCE_ITERATIONS}. Chance: the type accuracy of a model that puts every particle in one cluster.",
        "",
        "## Ours",
        "",
    ]
    if records:
        lines += [
            "Mean ± std over seeds (`seeds`: their count and numbers). `Allier et al.`: the published type accuracy "
            "and interaction RMSE of the same model and task. Budget: particles of the scale, epochs run "
            "(optimiser steps in all), frames per batch, training time per seed, precision and device.",
            "",
        ]
        lines += ours(records)
    else:
        lines.append("No records found: no heterogeneous result records under the run folders.")
    if field_tasks(tasks):
        lines += ["", *fields_section(tasks, pictures)]
        limits = limits_section(tasks)
        if limits:
            lines += ["", *limits]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench report family=heterogeneous", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=["runs"], help="folders of result records (default: runs)")
    p.add_argument("--tasks", default=",".join(TASKS), help="tasks to report, comma-separated (default: all five)")
    p.add_argument("--scales", nargs="+", default=list(SCALES), help="scales to report (default: tiny quick paper)")
    p.add_argument(
        "--out",
        default=None,
        help="write the Markdown here, and its PNG pictures beside it (default: print it, no pictures)",
    )
    args = p.parse_args(argv)
    from bench.errors import unknown

    tasks = tuple(t for t in args.tasks.split(",") if t)
    scales = [s for part in args.scales for s in part.split(",") if s]
    for name, given, valid in (("task", tasks, TASKS), ("scale", scales, SCALES)):
        for g in given:
            if g not in valid:
                raise unknown(f"report {name}", g, valid)
    roots = [Path(r) for r in args.runs]
    records = load_records(roots, tasks, tuple(scales))
    if args.out:
        pictures = write_pictures(records, Path(args.out), tasks)
        atomic_write_text(Path(args.out), render(records, roots, tasks, pictures))
        print(f"{len(records)} records → report: {args.out}")
    else:
        print(render(records, roots, tasks), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
