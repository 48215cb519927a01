r"""The force-law reproduction report: our test loss, robust R² and symbolic recovery beside the
published numbers (Cranmer et al. 2020; reports "Symbolic Distillation of GNNs" and "GNN+EQL").

    bench report family=forces [--run] [--seeds 0,1,2] [--systems spring,r1,r2,charge]
                               [--models gnn,gnn-bottleneck,...] [--epochs 20] [--precision fp32|bf16]
                               [--threads N] [--runs runs] [--out FILE]

Collects every force-family result record under the run folders (``--runs``, default ``runs``) for the
chosen systems and models, groups them by (system, model, budget) and writes a Markdown table: test MAE
(a mean per component) and its ratio to the MAE of predicting zero, both converted to the paper's
definition of its test loss (a sum over a graph's n·d components: MAE × n·d) beside the published losses,
the 90 % bootstrap interval of the MAE of predicting zero (from the test split on disk, where it is),
robust and full R² of the message probe, how many seeds recovered the law (the chosen expression of
symbolic regression, and any expression of its Pareto front; for ``eql-gnn`` its own equation), how many
recovered it exactly or up to a mass factor, the recovered expression of one seed in LaTeX, and the
budget (scale, training samples, epochs, training time) of each row; a row whose runs differ from
today's model card names the settings that differ. Published numbers of a system we define differently
(``OTHER_DEFINITION``: ``damped``) carry a dagger and a footnote. ``--run`` first trains and evaluates every
missing (system, model, seed) at scale ``quick`` with ``--epochs`` epochs at ``--precision``, one after the other.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bench.io import atomic_write_text
from bench.leaderboard import references

SYSTEMS = ("spring", "r1", "r2", "charge")
"""The systems of the report by default (those of the published recovery tables)."""
VALID_SYSTEMS = (*SYSTEMS, "damped", "discontinuous")
MODELS = ("gnn", "gnn-bottleneck", "gnn-l1", "gnn-kl", "gnn-prune", "eql-gnn")

OTHER_DEFINITION = {
    "damped": "our `damped` system damps every particle uniformly (a = F/m − γ v), on purpose and documented "
    "in DESIGN.md; the reference code damps particles unevenly, so the published numbers belong to another "
    "system and are not comparable with ours",
}
"""Systems whose published numbers were measured on a system defined differently from ours: why."""
DAGGER = "†"
BOOTSTRAP_LEVEL, BOOTSTRAP_RESAMPLES = 0.9, 2000


def published(
    task: str, model: str, metric: str, n_particles: int | None = None, dim: int | None = None
) -> float | str | None:
    """A published number of a row, from the reference table (``bench/leaderboard/references.yaml``):
    Cranmer et al.'s summed test loss ``loss_sum``, the "Symbolic Distillation" report's Table 2
    ``report_mae`` and Table 3 ``force_r2_robust``, and ``recovery`` (its Table 5; the GNN+EQL report).
    With ``n_particles``/``dim``, only a number published for that size (or for any size)."""
    return references.lookup(task, model, metric, n_particles=n_particles, dim=dim)


def _shown(value: float | str | None, task: str | None = None) -> str:
    """A published value as printed; a dagger on one measured on another definition of the system."""
    if value is None:
        return "–"
    return f"{value}{DAGGER}" if task in OTHER_DEFINITION else str(value)


def size(record: dict[str, Any]) -> tuple[int, int]:
    """(n, d) of the record's task card: the paper's loss sums |error| over a graph's n·d components."""
    task = record["config"]["task"]
    return int(task["n_particles"]), int(task["dim"])


def zero_mae_interval(
    acceleration: np.ndarray, level: float = BOOTSTRAP_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the MAE of predicting zero, ``mean |a|``, over a split's accelerations
    (S, T, n, d), resampling whole simulations (the split's unit: snapshots of one simulation are correlated)."""
    per_simulation = np.abs(np.asarray(acceleration, dtype=np.float64)).reshape(len(acceleration), -1).mean(1)
    rng = np.random.default_rng(seed)
    means = per_simulation[rng.integers(0, len(per_simulation), (resamples, len(per_simulation)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@cache
def _zero_interval_of(task_json: str, scale: str, root: str, checksum: str) -> tuple[float, float] | None:
    from omegaconf import OmegaConf

    from bench.errors import BenchError
    from bench.tasks.data import load

    try:
        dataset = load(OmegaConf.create(json.loads(task_json)), scale, root)
    except (BenchError, OSError, KeyError, ValueError):
        return None
    if dataset.checksum != checksum:  # regenerated since the run: not the split the run was scored on
        return None
    return zero_mae_interval(dataset.split("test")["acceleration"])


def zero_interval(record: dict[str, Any]) -> tuple[float, float] | None:
    """The test split's bootstrap interval of the MAE of predicting zero, from the dataset the run was scored on
    where it is still on this machine (its ``data_dir``, same checksum); None otherwise. Never generates data."""
    config = record.get("config") or {}
    if "task" not in config or not record.get("data_checksum"):
        return None
    return _zero_interval_of(json.dumps(config["task"], sort_keys=True), str(record["scale"]),
                             str(config.get("data_dir", "data")), str(record["data_checksum"]))  # fmt: skip


@cache
def shipped_versions(task: str, model: str) -> tuple[int, int]:
    """(data version of the task's card, version of the model's card) as shipped today."""
    from bench.config import listed_card

    return int(listed_card("task", task)["version"]), int(listed_card("model", model)["version"])


def is_current(record: dict[str, Any]) -> bool:
    """Whether a record ran on today's data and model card: another task version is other data (the force family's
    version 1 had a 150-simulation test split), another card version another model (the Cranmer cards' version 1
    had the L1/KL penalties at 8/3 of the reference's strength)."""
    config = record.get("config") or {}
    ran = ((config.get("task") or {}).get("version", record.get("task_version")),
           (config.get("model") or {}).get("version", record.get("model_version")))  # fmt: skip
    try:
        return tuple(int(v) for v in ran) == shipped_versions(str(record["task"]), str(record["model"]))
    except (TypeError, ValueError, KeyError):  # no version in the record, or a task or model no longer shipped
        return False


def load_records(roots: list[Path], systems=VALID_SYSTEMS, models=MODELS) -> list[dict[str, Any]]:
    """The force-family records under ``roots`` of the given systems and models, on today's task and model versions
    (``is_current``); how many older ones were left out is printed on stderr."""
    records, old = [], 0
    for root in roots:
        for path in sorted(Path(root).rglob("result.json")):
            record = json.loads(path.read_text())
            if record.get("task_family") == "forces" and record["task"] in systems and record["model"] in models:
                if not is_current(record):
                    old += 1
                    continue
                record["_path"] = str(path)
                records.append(record)
    if old:
        print(f"left out {old} force-family record(s) of an older task or model version (other data or another "
              "model: their rows would mix with today's)", file=sys.stderr)  # fmt: skip
    return records


def budget(record: dict[str, Any]) -> tuple[str, int, str]:
    """(scale, epochs, training precision); records from before the precision option were fp32."""
    return str(record["scale"]), int(record["config"]["scale"]["epochs"]), str(record.get("precision", "fp32"))


def variant(record: dict[str, Any]) -> str:
    """The hyper-parameters and training settings in which the run differs from today's model card."""
    from omegaconf import OmegaConf

    from bench.config import model_card

    try:
        card = OmegaConf.to_container(model_card(record["model"]), resolve=True)
    except Exception:  # a model no longer shipped
        return ""
    assert isinstance(card, dict)
    ran = record["config"]["model"]
    diff = [f"{k}={ran[section][k]}" for section in ("hparams", "train")
            for k in sorted(ran.get(section) or {}) if (card.get(section) or {}).get(k) != ran[section][k]]  # fmt: skip
    return ", ".join(diff)


def _mean_std(values: list[float], digits: str = ".4g") -> str:
    """Mean ± standard deviation of the finite values (records of older probes may hold NaN)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return format(values[0], digits)
    return f"{format(statistics.mean(values), digits)} ± {format(statistics.stdev(values), digits)}"


class Verdicts(NamedTuple):
    """A record's recovery: chosen expression recovered, some front expression recovered (None: no
    symbolic stage), the same exactly or up to a mass factor (None also in records from before that
    verdict), the LaTeX of the recovered expressions, how many of the components they cover."""

    chosen: bool | None
    front: bool | None
    latex: str | None
    covered: int
    components: int
    mass_chosen: bool | None = None
    mass_front: bool | None = None


def _latex(entry: dict[str, Any]) -> str | None:
    """The LaTeX of an expression recovered exactly, or up to a mass factor (then marked); None otherwise."""
    if entry.get("recovered"):
        return entry["latex"]
    if entry.get("recovered_mass_factor"):
        return f"{entry['latex']} \\quad (\\text{{up to }} {entry['mass_factor']})"
    return None


def _recovered(record: dict[str, Any]) -> Verdicts:
    probes = record.get("analyses", {})
    if "equation" in probes:
        comps = probes["equation"]["components"]
        latex = [_latex(c) for c in comps]
        chosen = front = probes["equation"]["recovered"]
        mass_chosen = mass_front = probes["equation"].get("recovered_up_to_mass")
    elif "symbolic" in probes:
        s = probes["symbolic"]
        # a front's exact expression first, else one recovered up to a mass factor
        latex = [next((x for x in (_latex(e) for e in sorted(c["front"], key=lambda e: not e.get("recovered")))
                       if x), None) for c in s["components"]]  # fmt: skip
        chosen, front = s["recovered"], s["recovered_on_front"]
        mass_chosen, mass_front = s.get("recovered_up_to_mass"), s.get("recovered_up_to_mass_on_front")
    else:
        return Verdicts(None, None, None, 0, 0)
    shown = " ; ".join(x for x in latex if x) or None
    return Verdicts(chosen, front, shown, sum(x is not None for x in latex), len(latex), mass_chosen, mass_front)


def _count(flags: list[bool | None]) -> str:
    """``k/n`` over the records that have the verdict; – where none has it."""
    known = [f for f in flags if f is not None]
    return f"{sum(known)}/{len(known)}" if known else "–"


def _probe(record: dict[str, Any]) -> dict[str, Any]:
    """The record's force-law probe (empty for a model without messages)."""
    return (record.get("analyses") or {}).get("force_probe") or {}


def _interval(record: dict[str, Any]) -> str:
    interval = zero_interval(record)
    return "–" if interval is None else f"[{interval[0]:.4g}, {interval[1]:.4g}]"


HEADER = (
    "system", "model", "budget", "seeds", "test MAE", "MAE / MAE of 0", "MAE of 0", "MAE of 0, 90 % CI",
    "ours per graph: MAE × n·d", "MAE of 0 × n·d", "published loss (paper / report)", "R² robust",
    "published R²", "R² full", "R² robust F/m_i / F/m_j", "recovered (chosen)", "recovered (front)",
    "exactly or up to m_i/m_j (chosen / front)", "published recovery", "train time",
)  # fmt: skip


def table(records: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, str, tuple[str, int, str], str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["model"], budget(r), variant(r), size(r)), []).append(r)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    examples = []
    order = {m: i for i, m in enumerate(MODELS)}
    for (task, model, (scale, epochs, precision), differs, (n, d)), rs in sorted(
        groups.items(), key=lambda kv: (VALID_SYSTEMS.index(kv[0][0]), order[kv[0][1]], kv[0][2])
    ):
        rs = sorted({r["seed"]: r for r in rs}.values(), key=lambda r: r["seed"])  # one record per seed
        verdicts = [_recovered(r) for r in rs]
        chosen = [v.chosen for v in verdicts]
        front = [v.front for v in verdicts]
        mass = f"{_count([v.mass_chosen for v in verdicts])} / {_count([v.mass_front for v in verdicts])}"

        # numbers published for this size of system only
        paper = {m: published(task, model, m, n_particles=n, dim=d)
                 for m in ("loss_sum", "report_mae", "force_r2_robust", "recovery")}  # fmt: skip
        published_r2 = paper["force_r2_robust"]
        differs = ", ".join(x for x in ("" if (n, d) == (4, 2) else f"n={n}, d={d}", differs) if x)
        name, run_budget = f"{model}{f' ({differs})' if differs else ''}", f"{scale}, {epochs} epochs, {precision}"
        mae = [r["metrics"]["mae"] for r in rs]
        zero = [r["metrics"].get("zero_mae") for r in rs]
        relative = [
            r["metrics"].get("relative_mae", m / z if z else None) for r, m, z in zip(rs, mae, zero, strict=True)
        ]
        nd = [n * d] * len(rs)
        cells = [
            task, name, run_budget, ", ".join(str(r["seed"]) for r in rs),
            _mean_std(mae), _mean_std(relative), _mean_std(zero), _interval(rs[0]),
            _mean_std([m * k for m, k in zip(mae, nd, strict=True)]),
            _mean_std([None if z is None else z * k for z, k in zip(zero, nd, strict=True)]),
            f"{_shown(paper['loss_sum'], task)} / {_shown(paper['report_mae'], task)}",
            _mean_std([r["metrics"].get("force_r2_robust") for r in rs]),
            _shown(None if published_r2 is None else f"{published_r2:.4f}", task),
            _mean_std([r["metrics"].get("force_r2_full") for r in rs]),
            " / ".join(_mean_std([_probe(r).get(f"r2_robust_mass_{k}") for r in rs]) for k in "ij"),
            _count(chosen), _count(front), mass,
            _shown(paper["recovery"], task),
            f"{_mean_std([r['train_time_s'] / 60 for r in rs], '.1f')} min",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
        # one seed per row: the first whose every component was recovered, else the first with some
        candidates = [(r, v) for r, v in zip(rs, verdicts, strict=True) if v.latex]
        candidates.sort(key=lambda rv: rv[1].covered < rv[1].components)  # stable: complete first, then by seed
        if candidates:
            r, v = candidates[0]
            seed = f"seed {r['seed']} ({v.covered} of {v.components} components)"
            examples.append(f"- {task}, {name}, {run_budget}, {seed}: ${v.latex}$")
    notes = [f"{DAGGER} `{task}`: {why}." for task, why in OTHER_DEFINITION.items() if task in {k[0] for k in groups}]
    shown = "\n\n" + "\n".join(notes) if notes else ""
    if examples:
        shown += (
            "\n\nRecovered expressions, one seed per row (a seed whose every message component was recovered "
            "where there is one; an expression recovered only up to a mass factor is marked so):\n\n"
            + "\n".join(examples)
        )
    return "\n".join(lines) + shown


def render(records: list[dict[str, Any]], roots: list[Path]) -> str:
    head = (
        "# Force-law recovery: reproduction report\n\n"
        "Generated by `bench report family=forces` from the result records under "
        f"{', '.join(f'`{r}`' for r in roots)}. The published numbers are for 2-D systems of 4 particles; a "
        "row of another size (named beside its model) shows only numbers published for its size.\n\n"
        "**Losses.** Our test MAE is the mean absolute error of the acceleration over every component of the test "
        "split; `MAE / MAE of 0` divides it by the MAE of predicting zero (1 = no better than zero). Cranmer et al. "
        "2020's test loss (standard / bottleneck / L1; their data set: 10,000 simulations, about 200 epochs) is "
        "another quantity: the sum of |error| over a graph's n·d components (4 × 2 = 8), averaged over graphs. "
        "Beside it stand ours in that definition, `MAE × n·d`, and the loss of predicting zero in that definition, "
        "`MAE of 0 × n·d` (n and d from each run's task card). Neither the paper nor the report publishes the loss "
        "of predicting zero on its data, so the published losses get no relative column: our zero baseline × n·d "
        'is the scale to read them against. The second published loss is the report "Symbolic Distillation of '
        'GNNs" (Table 2): its own data, training and definition (a mean over particles), losses it says are about '
        "ten times the paper's; it is shown as printed, not converted. Our numbers are mean ± standard deviation "
        "over the seeds; `MAE of 0, 90 % CI` is a percentile bootstrap interval of the MAE of predicting zero "
        f"({BOOTSTRAP_RESAMPLES} resamples of the test split's simulations), computed from the run's dataset where "
        "it is still on this machine (– where it is not). Our `quick` scale: 1000 simulations, 700 of them (70,000 "
        "snapshots) for training.\n\n"
        "**Force law.** R² is the message probe (robust: worst 10 % of edges excluded); published R² from the "
        'report "Symbolic Distillation of GNNs" (Table 3); `R² robust F/m_i / F/m_j` is the same probe fitted '
        "against the force over the receiver's and over the sender's mass (– for records from before that fit). "
        "Recovery counts seeds whose symbolic-regression "
        "expression (chosen by PySR's rule, or anywhere on the Pareto front) passes the recovery score (R² ≥ 0.999 "
        "linear in the true force inside and outside the training range, and the SymPy check); `eql-gnn` is scored "
        "on its own equation. `exactly or up to m_i/m_j` counts the seeds whose expressions pass it exactly or "
        "up to a mass factor: the same checks against the force over the receiver's mass (F/m_i) or the sender's "
        "(F/m_j), the way Cranmer et al. and the published recovery tables count r1 and r2 laws found without a "
        "mass (– for records from before that verdict). It is computed for every system, but the sources apply it "
        "to r1 and r2 only: on the other systems, compare the exact count with theirs. The symbolic regression has "
        "the report's full budget "
        "(operon: 1000 generations of 1000 expressions, at most 300 s per message component; `--run` pins it, "
        "while a plain run at `quick` gets 100 × 500 and 30 s). Published recovery: that report's Table 5 (message "
        f"1 / message 2) and the GNN+EQL report. Each row states its budget. {DAGGER}: a published number "
        "measured on a system defined differently from ours (see the note under the table); not comparable.\n\n"
    )
    return head + (table(records) if records else "No force-family result records found.") + "\n"


# The GNN+EQL report's edge inputs per force: [Δ, r, 1/r, m_1, m_2] for spring and 1/r (the card's
# default), [Δ, 1/r³, m_1, m_2] for 1/r²; charge (q_i q_j Δ / r³) gets the charges in place of the masses.
EQL_INPUTS = {"r2": "[delta,inv_rp3,m_i,m_j]", "charge": "[delta,inv_rp3,q_i,q_j]"}


def full_sr_budget(engine: str = "operon") -> list[str]:
    """``sr.KEY=value`` overrides of the engine's full budget (the card's own values of the keys its ``per_scale``
    blocks change: the published report's), which the report's runs pin: at ``scale=quick`` a run otherwise gets
    the card's smaller ``per_scale`` budget."""
    from bench.config import listed_card

    card = listed_card("sr", engine)
    scaled = sorted({str(k) for block in (card.get("per_scale") or {}).values() for k in block or {}})
    return [f"sr.{k}={card[k]}" for k in scaled]


def run_missing(
    systems, models, seeds, epochs: int, roots: list[Path], threads: int | None = None, precision: str = "fp32"
) -> None:
    from bench.config import compose
    from bench.run import run

    have = {(r["task"], r["model"], r["seed"], budget(r)) for r in load_records(roots, systems, models)}
    todo = [(s, m, seed) for s in systems for m in models for seed in seeds
            if (s, m, seed, ("quick", epochs, precision)) not in have]  # fmt: skip
    for k, (system, model, seed) in enumerate(todo, 1):
        print(f"[{k}/{len(todo)}] {system} × {model}, seed {seed}, quick, {epochs} epochs, {precision}", flush=True)
        t0 = time.perf_counter()
        extra = [f"model.hparams.inputs={EQL_INPUTS[system]}"] if model == "eql-gnn" and system in EQL_INPUTS else []
        extra += [f"threads={threads}"] if threads else []
        cfg = compose([f"task={system}", f"model={model}", f"seed={seed}", "scale=quick", f"scale.epochs={epochs}",
                       "scale.patience=null", f"out={roots[0]}", "progress=false", f"precision={precision}",
                       *full_sr_budget(), *extra])  # fmt: skip
        path = run(cfg)
        print(f"    {time.perf_counter() - t0:.0f} s → {path}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench report family=forces", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=["runs"], help="folders of result records (default: runs)")
    p.add_argument("--out", default="tasks/forces/REPORT.md", help="where the Markdown goes")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"of {', '.join(VALID_SYSTEMS)}")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=20, help="budget of the runs that --run starts (scale quick)")
    p.add_argument("--run", action="store_true", help="train and evaluate the missing cells first")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads of the runs that --run starts")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="training precision of the runs that --run starts (bf16: mixed, about 2x faster on a CPU)",
    )
    args = p.parse_args(argv)
    systems, models = args.systems.split(","), args.models.split(",")
    from bench.errors import unknown

    for name, given, valid in (("system", systems, VALID_SYSTEMS), ("model", models, MODELS)):
        for g in given:
            if g not in valid:
                raise unknown(f"report {name}", g, valid)
    roots = [Path(r) for r in args.runs]
    if args.run:
        run_missing(
            systems, models, [int(s) for s in args.seeds.split(",")], args.epochs, roots, args.threads, args.precision
        )
    records = load_records(roots, systems, models)
    atomic_write_text(Path(args.out), render(records, roots))
    print(f"{len(records)} records → report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
