"""The heterogeneous-particles reproduction report: our type accuracy and interaction-function RMSE beside
Allier et al. 2024.

    bench report family=heterogeneous [--runs runs ...] [--tasks types3,types3-continuous,types16]
                                      [--scales tiny quick paper] [--out FILE]

Reads every heterogeneous result record under the run folders (``--runs``, default ``runs``) and writes
Markdown: the published row (Allier et al. 2024, from ``references.yaml``) and the chance level of each task,
then one row of ours per task × model × scale × configuration: type accuracy (the reference's mapping and the
one-to-one matching), clusters found, embedding accuracy, interaction-function RMSE, relative one-step velocity
RMSE and the rollout's position RMSE at its largest horizon, each as mean ± std over the seeds, with the row's
budget (scale, particles, epochs and iterations run, batch, training time per seed, precision). An oracle
model (the true types as input) is marked as a ceiling, ``zero-velocity`` as the trivial row. Without
``--out`` the Markdown is printed.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
from pathlib import Path
from typing import Any

from bench.io import atomic_write_text
from bench.leaderboard import references
from bench.reports import config_tags, grouped, one_per_seed
from bench.reports import finite as _finite
from bench.reports import load_records as _load
from bench.reports import mean_std as _mean_std

TASKS = ("types3", "types3-continuous", "types16")
ORDER = ("embedding-gnn", "shared-gnn", "oracle-gnn", "zero-velocity")
"""Our models in this order; any other model follows, by name."""
SCALES = ("tiny", "quick", "paper")
TRIVIAL = ("zero-velocity",)
"""Models that predict no motion: the trivial row (so is any model without parameters)."""
PUBLISHED = ("type_accuracy", "interaction_rmse")
"""The metrics of Allier et al.'s published row, under our names (``references.yaml``)."""
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
    "a_i, no UMAP (– for a model without embeddings). Allier et al.'s 1.00 clusters the embeddings after "
    "bootstrapped training (every few epochs the embeddings are replaced by their cluster's, so the clusters "
    "are built into training); our models train without it. `interaction RMSE`: per particle, the RMSE over the "
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


def runs_table(records: list[dict[str, Any]]) -> list[str]:
    """Our rows: mean ± std over seeds per task × model × scale × configuration, with the budget."""
    groups = grouped(records, TASKS, ORDER, SCALES)
    tags = config_tags(groups)
    lines = [
        "| task | model | scale | seeds | type accuracy | matched | \\|clusters − K\\| | embedding acc. "
        "| interaction RMSE | velocity RMSE (rel.) | position RMSE (h) | Allier et al. (acc. / RMSE) | particles "
        "| epochs (iterations) | batch | train time / seed | precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
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
        lines.append(
            f"| {task} | {name} | {scale} | {len(rs)} ({', '.join(str(r['seed']) for r in rs)}) "
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


def render(records: list[dict[str, Any]], roots: list[Path], tasks=TASKS) -> str:
    lines = [
        "# Heterogeneous particles: reproduction report",
        "",
        "Generated by `bench report family=heterogeneous` from the result records under "
        f"{', '.join(f'`{r}`' for r in roots)}. Particles of K hidden types move under pair interactions of the "
        "receiver's type (Allier et al. 2024, arXiv 2407.19160); a model is scored on whether its learned "
        "interaction functions recover the types and the functions, and on the dynamics. `embedding-gnn` is the "
        "reference's model (a learned embedding per particle), `shared-gnn` one function for all (it cannot tell "
        "the types apart), `oracle-gnn` is given the true types (a ceiling, not a rival), `zero-velocity` predicts "
        "no motion (the trivial row).",
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
        lines += runs_table(records)
    else:
        lines.append("No records found: no heterogeneous result records under the run folders.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench report family=heterogeneous", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=["runs"], help="folders of result records (default: runs)")
    p.add_argument("--tasks", default=",".join(TASKS), help="tasks to report, comma-separated (default: all three)")
    p.add_argument("--scales", nargs="+", default=list(SCALES), help="scales to report (default: tiny quick paper)")
    p.add_argument("--out", default=None, help="write the Markdown here (default: print it)")
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
    text = render(records, roots, tasks)
    if args.out:
        atomic_write_text(Path(args.out), text)
        print(f"{len(records)} records → report: {args.out}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
