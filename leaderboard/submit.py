"""Submissions: validate run folders and a model card, and write a folder ready for a pull request.

Nothing in a record is trusted (OGB/Matbench style). For every run folder:

1. ``result.json`` follows the record schema (``bench.leaderboard.schema``) and holds the full configuration,
   which ``config.yaml`` beside it repeats;
2. its task version is the official one, and its data checksum is the official dataset's
   (``data/manifests/<task>-v<version>-<scale>.json``);
3. ``predictions.npz`` is the file the record names (SHA-256), and the task's official evaluator, re-run on
   it against the official test targets, gives the recorded metrics.

Across runs: one model (the card's name), at least ``MIN_SEEDS`` distinct seeds per task, scale and backend.
The card needs ``name, authors, paper, code_url, licence, hardware``; the parameter count, training time,
hyper-parameters and training data are filled in from the records. Every problem is reported with its
run folder (or ``card``), the field and the reason; one problem rejects the whole submission.

Every number under a record's ``metrics`` is re-scored from the saved arrays (the force probe's R² from the
saved messages, the n-body rollout metrics from the saved rollout); what the evaluator cannot re-score lives
under ``analyses`` and ``diagnostics``, shown as reported.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.errors import BenchError
from bench.io import atomic_write, atomic_write_text, save_npz
from bench.leaderboard import schema
from bench.leaderboard.schema import check_card, check_record
from bench.leaderboard.store import MIN_SEEDS
from bench.records import PREDICTIONS_NAME, RECORD_NAME

CARD_REQUIRED = schema.CARD_REQUIRED  # the fields of schema.SubmissionCard, declared there
CARD_OPTIONAL = schema.CARD_OPTIONAL
CARD_DERIVED = schema.CARD_DERIVED  # schema.SubmittedCard's own: what bench submit fills in from the records
CARD_NAME = "card.yaml"
PROBE_SAMPLE_NAME = "probe_sample.npz"
PROBE_SAMPLE_POINTS = 600
RUN_FILES = (RECORD_NAME, PREDICTIONS_NAME, "config.yaml")
METRIC_RTOL = 1e-9


class SubmissionRejected(BenchError):
    """A submission with problems; the message lists each with its place, field and reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"submission rejected ({len(problems)} problem{'s' * (len(problems) > 1)}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Problem:
    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


@dataclass
class Run:
    path: Path
    record: dict[str, Any]


@dataclass
class Submission:
    card: dict[str, Any]
    runs: list[Run]
    problems: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.card.get("name"))


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Run folders: each path is one (it holds ``result.json``) or a folder searched for them."""
    runs: dict[Path, None] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise BenchError(f"run folder '{p}' does not exist")
        if (p / RECORD_NAME).is_file():
            runs[p.resolve()] = None
            continue
        found = sorted(r.parent.resolve() for r in p.rglob(RECORD_NAME))
        if not found:
            raise BenchError(f"'{p}' holds no run ({RECORD_NAME} not found in it or below it)")
        runs.update(dict.fromkeys(found))
    return list(runs)


# -- the card ------------------------------------------------------------------------------------------


def read_card(path: str | Path) -> tuple[dict[str, Any], list[Problem]]:
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"model card '{path}' does not exist (see docs/tutorial.md for a template)")
    try:
        card = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        return {}, [Problem("card", "card", f"not valid YAML: {str(e).splitlines()[0]}")]
    if not isinstance(card, dict):
        return {}, [Problem("card", "card", "must be a mapping of fields (name, authors, ...)")]
    return card, check_card_fields(card)


def check_card_fields(card: dict[str, Any]) -> list[Problem]:
    """One problem per bad field of a submitter's card (``bench.leaderboard.schema.SubmissionCard``)."""
    return [Problem("card", field, reason) for field, reason in check_card(card)]


# -- one run -------------------------------------------------------------------------------------------


def _official_manifest(task: str, version: int, scale: str) -> dict[str, Any] | None:
    from bench.tasks.data import official_manifest_path

    path = official_manifest_path(task, version, scale)
    return json.loads(path.read_text()) if path.is_file() else None


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def check_run(
    path: Path, data_dir: str | Path = "data", reevaluate: bool = True
) -> tuple[dict[str, Any], list[Problem]]:
    """The record of one run folder and its problems (empty: valid, official, recomputable)."""
    where = str(path)
    try:
        record = json.loads((path / RECORD_NAME).read_text())
    except (OSError, ValueError) as e:
        return {}, [Problem(where, RECORD_NAME, f"cannot be read as JSON ({e})")]
    problems = [Problem(where, f, r) for f, r in check_record(record)]
    if problems:
        return record, problems
    config_file = path / "config.yaml"
    if not config_file.is_file():
        problems.append(Problem(where, "config.yaml", "missing: the full configuration of the run must be submitted"))
    elif yaml.safe_load(config_file.read_text()) != record["config"]:
        problems.append(Problem(where, "config.yaml", "differs from the configuration in result.json"))

    from bench.config import task_card
    from bench.errors import BenchError as _BenchError

    task, version, scale = record["task"], record["task_version"], record["scale"]
    try:
        official = task_card(task)
    except _BenchError as e:
        return record, [*problems, Problem(where, "task", str(e))]
    if version != int(official.version):
        problems.append(Problem(where, "task_version", f"{version}, but the official '{task}' task is version "
                                f"{official.version}; re-run it with this version of ParticleBench"))  # fmt: skip
        return record, problems
    manifest = _official_manifest(task, version, scale)
    if manifest is None:
        from bench.tasks.data import official_manifest_path

        folder = official_manifest_path(task, version, scale).parent
        scales = sorted(p.stem.rsplit("-", 1)[1] for p in folder.glob(f"{task}-v{version}-*.json"))
        problems.append(Problem(where, "scale", f"'{scale}' has no official dataset for {task} v{version} "
                                f"(official: {', '.join(scales) or 'none'})"))  # fmt: skip
        return record, problems
    if record["data_checksum"] != manifest["checksum"]:
        problems.append(Problem(where, "data_checksum", f"{record['data_checksum']} is not the official "
                                f"{task} v{version} {scale} dataset ({manifest['checksum']}); a variant of the "
                                "task or another platform's data cannot be submitted"))  # fmt: skip
        return record, problems
    pred_file = path / str(record["predictions"]["file"])
    if not pred_file.is_file():
        problems.append(Problem(where, "predictions.file", f"'{pred_file.name}' is missing"))
        return record, problems
    if _sha256(pred_file) != record["predictions"]["sha256"]:
        problems.append(Problem(where, "predictions.sha256", f"'{pred_file.name}' is not the file the record was "
                                "written with (its SHA-256 differs)"))  # fmt: skip
        return record, problems
    if reevaluate:
        problems += [Problem(where, f, r) for f, r in recompute_metrics(record, pred_file, official, data_dir)]
    return record, problems


def official_data(card, scale: str, data_dir: str | Path = "data"):
    """The family and the loaded official dataset of a task (generated if missing, then verified)."""
    from bench.family import get_family
    from bench.tasks.data import generate_dataset

    fam = get_family(str(card.family))
    return fam, fam.load(generate_dataset(card, scale, root=data_dir, progress=False), card)


def recompute_metrics(record: dict[str, Any], pred_file: Path, card, data_dir: str | Path) -> list[tuple[str, str]]:
    """Re-run the official evaluator on every saved prediction array against the official true arrays;
    every metric that disagrees, and every recorded metric the evaluator does not give, is a problem."""
    with np.load(pred_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    named = sorted(record["predictions"].get("arrays") or [])
    if sorted(arrays) != named:
        return [("predictions.arrays", f"the record names {named}, but '{pred_file.name}' holds {sorted(arrays)}")]
    fam, data = official_data(card, record["scale"], data_dir)
    evaluator = fam.evaluator(card)
    unknown_arrays = [k for k in arrays if k not in evaluator.expected_input or not k.endswith("_pred")]
    if unknown_arrays:
        valid = [k for k in evaluator.expected_input if k.endswith("_pred")]
        return [("predictions.file", f"arrays {unknown_arrays} are not inputs of the official evaluator "
                 f"(its prediction inputs: {', '.join(valid)})")]  # fmt: skip
    try:
        metrics = evaluator({**arrays, **fam.truth(card, data, tuple(arrays))})
    except ValueError as e:
        return [("predictions.file", str(e))]
    problems = []
    for name, value in metrics.items():
        claimed = record["metrics"].get(name)
        if claimed is None:
            problems.append((f"metrics.{name}", f"missing; the official evaluator gives {value!r}"))
        elif not (_same(claimed, value)):
            problems.append((f"metrics.{name}", f"the record says {claimed!r}, but the official evaluator gives "
                             f"{value!r} on the saved predictions"))  # fmt: skip
    for name in record["metrics"]:
        if name not in metrics:
            problems.append((f"metrics.{name}", "the official evaluator does not give it from the saved arrays; "
                             "numbers it cannot re-score belong under 'analyses'"))  # fmt: skip
    table = evaluator.table_of(metrics)
    for name, row in (record.get("metric_table") or {}).items():
        if name in table and row != table[name]:
            problems.append((f"metric_table.{name}", f"{row} differs from the official metric table's {table[name]}"))
    return problems


def _same(claimed: float, value: float) -> bool:
    both_nan = math.isnan(claimed) and math.isnan(value)
    return both_nan or math.isclose(claimed, value, rel_tol=METRIC_RTOL, abs_tol=1e-12)


# -- the whole submission ------------------------------------------------------------------------------


def check_seeds(runs: list[Run]) -> list[Problem]:
    problems = []
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        r = run.record
        groups[(r["task"], r["task_version"], r["scale"], r["backend"])].append(run)
    for (task, version, scale, backend), members in sorted(groups.items()):
        where = f"{task} v{version} {scale} ({backend})"
        by_seed: dict[int, list[Path]] = defaultdict(list)
        for run in members:
            by_seed[run.record["seed"]].append(run.path)
        for seed, paths in sorted(by_seed.items()):
            if len(paths) > 1:
                problems.append(Problem(where, "seed", f"seed {seed} appears in {len(paths)} runs "
                                        f"({', '.join(map(str, paths))}); each seed counts once"))  # fmt: skip
        if len(by_seed) < MIN_SEEDS:
            seeds = ", ".join(map(str, sorted(by_seed)))
            reason = f"{len(by_seed)} distinct seed(s) ({seeds}); at least {MIN_SEEDS} distinct seeds are needed"
            problems.append(Problem(where, "seed", reason))
    return problems


def _model_problems(card: dict[str, Any], runs: list[Run]) -> list[Problem]:
    problems = []
    names = sorted({run.record["model"] for run in runs})
    if len(names) > 1:
        reason = f"the runs are of several models ({', '.join(names)}); submit one model"
        problems.append(Problem("runs", "model", reason))
    elif card.get("name") and names and card["name"] != names[0]:
        problems.append(Problem("card", "name", f"'{card['name']}', but the runs are of model '{names[0]}'"))
    versions = sorted({run.record["model_version"] for run in runs})
    if len(versions) > 1:
        problems.append(Problem("runs", "model_version", f"several versions ({versions}); submit one"))
    params = sorted({run.record["n_parameters"] for run in runs})
    if "parameters" in card and card["parameters"] not in params:
        problems.append(Problem("card", "parameters", f"{card['parameters']}, but the records count "
                                f"{', '.join(map(str, params))}; leave it out to have it filled in"))  # fmt: skip
    return problems


def derived_card(card: dict[str, Any], runs: list[Run]) -> dict[str, Any]:
    """The submitted card: the submitter's fields plus what the records say."""
    per_task: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        per_task[f"{run.record['task']} v{run.record['task_version']} {run.record['scale']}"].append(run)
    params = sorted({run.record["n_parameters"] for run in runs})
    out = {k: card[k] for k in CARD_REQUIRED + CARD_OPTIONAL if k in card}
    if isinstance(out.get("authors"), str):
        out["authors"] = [out["authors"]]
    out["model_version"] = int(runs[0].record["model_version"]) if runs else None
    out["parameters"] = params[0] if len(params) == 1 else {k: v[0].record["n_parameters"] for k, v in per_task.items()}
    out["training_time"] = {
        k: f"{np.mean([r.record['train_time_s'] for r in v]):.1f} s per run (mean of {len(v)}), "
        f"{v[0].record['environment'].get('device', v[0].record['device'])}"
        for k, v in sorted(per_task.items())
    }
    out["hyperparameters"] = {
        k: {key: v[0].record["config"]["model"].get(key) for key in ("hparams", "train")}
        for k, v in sorted(per_task.items())
    }
    out["training_data"] = {
        k: {"task": v[0].record["task"], "version": v[0].record["task_version"], "scale": v[0].record["scale"],
            "checksum": v[0].record["data_checksum"], "split": "train (validation: val; scored on test)"}
        for k, v in sorted(per_task.items())
    }  # fmt: skip
    out["submitted_runs"] = len(runs)
    return out


def validate(run_paths: list[str | Path], card_path: str | Path, data_dir: str | Path = "data") -> Submission:
    """Every check of the module docstring; the submission with its problems (none: accepted)."""
    card, problems = read_card(card_path)
    runs = []
    for path in find_runs(run_paths):
        record, run_problems = check_run(path, data_dir)
        problems += run_problems
        if record and not run_problems:
            runs.append(Run(path, record))
    if runs:
        problems += _model_problems(card, runs)
        problems += check_seeds(runs)
    elif not problems:
        problems.append(Problem("runs", "runs", "no valid run to submit"))
    return Submission(derived_card(card, runs) if runs else card, runs, problems)


def probe_sample(
    run_dir: Path, record: dict[str, Any], points: int = PROBE_SAMPLE_POINTS
) -> dict[str, np.ndarray] | None:
    """A few hundred points of the message-vs-force probe (what the app plots), from the run's probe inputs."""
    probe = (record.get("analyses") or {}).get("force_probe")
    if not probe:
        return None
    inputs = run_dir / str(probe.get("inputs", "probe.npz"))
    if not inputs.is_file():
        return None
    with np.load(inputs, allow_pickle=False) as z:
        messages, force = z["messages"], z["pair_force"]
    rows = np.sort(np.random.default_rng(0).permutation(len(force))[:points])
    fitted, message = [], []
    for comp in probe["components"]:
        y = messages[:, comp["component"]].astype(np.float64)
        y = (y - y.mean()) / (y.std() if y.std() > 0 else 1.0)
        fitted.append(comp["intercept"] + force[rows] @ np.asarray(comp["force_coefficients"]))
        message.append(y[rows])
    return {
        "component": np.asarray([c["component"] for c in probe["components"]], dtype=np.int64),
        "fitted_force": np.stack(fitted, axis=1).astype(np.float32),
        "message": np.stack(message, axis=1).astype(np.float32),
    }


def planned_files(sub: Submission) -> list[tuple[str, Path | None, int]]:
    """(path inside the submission folder, source file or None when generated, size in bytes)."""
    files: list[tuple[str, Path | None, int]] = [(CARD_NAME, None, len(yaml.safe_dump(sub.card, sort_keys=False)))]
    for run in sub.runs:
        rel = f"{run.record['task']}/{run.path.name}"
        for name in RUN_FILES:
            files.append((f"{rel}/{name}", run.path / name, (run.path / name).stat().st_size))
        if (sub_probe := (run.record.get("analyses") or {}).get("force_probe")) and (
            run.path / str(sub_probe.get("inputs", ""))
        ).is_file():
            files.append((f"{rel}/{PROBE_SAMPLE_NAME}", None, 0))
    return files


def write(sub: Submission, out: str | Path = "submissions", force: bool = False) -> Path:
    """Write the submission folder ``<out>/<model>/`` (all at once: built aside, then renamed into place)."""
    if sub.problems:
        raise SubmissionRejected(sub.problems)
    target = Path(out) / sub.name
    if target.exists() and not force:
        raise BenchError(f"'{target}' exists already; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sub.name}-", dir=target.parent))
    try:
        atomic_write_text(tmp / CARD_NAME, yaml.safe_dump(sub.card, sort_keys=False, allow_unicode=True))
        for run in sub.runs:
            folder = tmp / run.record["task"] / run.path.name
            folder.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                shutil.copy2(run.path / name, folder / name)
            sample = probe_sample(run.path, run.record)
            if sample is not None:
                atomic_write(folder / PROBE_SAMPLE_NAME, lambda f, s=sample: save_npz(f, s))
        for path in [tmp, *tmp.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)  # mkdtemp makes 0700; a submission is meant to be shared
        if target.exists():
            old = target.with_name(f".{target.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
