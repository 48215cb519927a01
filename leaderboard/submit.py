"""Submissions: validate run folders and a model card, and write a folder ready for a pull request.

Nothing in a record is trusted (OGB/Matbench style). For every run folder:

1. ``result.json`` follows the record schema (``bench.leaderboard.schema``) and holds the full configuration,
   which ``config.yaml`` beside it repeats;
2. its task version is the official one, and its data checksum is the official dataset's
   (``data/manifests/<task>-v<version>-<scale>.json``);
3. ``predictions.npz`` is the file the record names (SHA-256), and the task's official evaluator, re-run on
   every saved array against the official true arrays, gives every recorded metric;
4. the run proves its predictions: its weights (``best.pt``) and, for a model loaded from a file, that file
   (SHA-256 as recorded) rebuild the model, whose predictions on the official test split must equal the
   saved ones (targets copied in as predictions are caught here);
5. its ``config_hash`` is what its configuration and data checksum hash to, and its folder name agrees.

Across runs: one model (the card's name) from one model file, one configuration apart from the seed, no two
runs with byte-identical predictions, at least ``MIN_SEEDS`` distinct seeds per task, scale and backend.
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
import re
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
from bench.records import NAME_PATTERN, PREDICTIONS_NAME, RECORD_NAME

CARD_REQUIRED = schema.CARD_REQUIRED  # the fields of schema.SubmissionCard, declared there
CARD_OPTIONAL = schema.CARD_OPTIONAL
CARD_DERIVED = schema.CARD_DERIVED  # schema.SubmittedCard's own: what bench submit fills in from the records
CARD_NAME = "card.yaml"
PROBE_SAMPLE_NAME = "probe_sample.npz"
PROBE_SAMPLE_POINTS = 600
RUN_FILES = (RECORD_NAME, PREDICTIONS_NAME, "config.yaml")
WEIGHTS_NAME = "best.pt"  # the best-validation weights the training loop writes (bench.train)
MODEL_FILE_NAME = "model.py"  # a copy of a file model's code (source.kind == "path")
MODEL_CARD_NAME = "model.yaml"  # its card, when it has one (bench.loading reads it beside model.py)
PREDICTION_RTOL, PREDICTION_ATOL = 1e-4, 1e-5  # float32 predictions recomputed on another machine
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
    bad_names = [Problem(where, key, f"{record[key]!r} is not a plain lower-case name (a-z, 0-9, '_', '.', '-'): "
                         "it would become a path outside the submission folder")
                 for key in ("task", "model") if not re.match(NAME_PATTERN, str(record[key]))]  # fmt: skip
    if bad_names:  # names that become folders of the submission
        return record, problems + bad_names
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
        if not problems:
            problems += check_model(path, record, pred_file, official, data_dir)
    return record, problems


def official_data(card, scale: str, data_dir: str | Path = "data"):
    """The family and the loaded official dataset of a task (generated if missing, then verified)."""
    from bench.family import get_family
    from bench.tasks.data import generate_dataset

    fam = get_family(str(card.family))
    return fam, fam.load(generate_dataset(card, scale, root=data_dir, progress=False), card)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The numeric arrays of a ``.npz`` file; a ``ValueError`` naming the file for anything else (random bytes,
    a truncated zip, pickled objects, which are never loaded)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive of named arrays")
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # hostile bytes raise many kinds: OSError, ValueError, EOFError, BadZipFile, ...
        reason = f"{type(e).__name__}: {e}"
        raise ValueError(f"'{path.name}' cannot be read as an .npz of numeric arrays ({reason})") from None
    bad = [k for k, a in arrays.items() if a.dtype.kind not in "biuf"]
    if bad:
        raise ValueError(f"'{path.name}' holds non-numeric arrays {bad}")
    return arrays


def recompute_metrics(record: dict[str, Any], pred_file: Path, card, data_dir: str | Path) -> list[tuple[str, str]]:
    """Re-run the official evaluator on every saved prediction array against the official true arrays;
    every metric that disagrees, and every recorded metric the evaluator does not give, is a problem."""
    try:
        arrays = read_arrays(pred_file)
    except ValueError as e:
        return [("predictions.file", str(e))]
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


# -- the model: the saved predictions must be the submitted model's -------------------------------------
#
# A run proves its predictions by carrying its model: the weights (``best.pt``; none for a parameter-free
# model) and the code (``model.py``, a copy of a file model whose SHA-256 is the record's
# ``config.model.source.sha256``; a shipped baseline or an installed entry point is named by its class in
# the record). The model is rebuilt from them, re-predicts the official test split through the family's
# ``collect`` (pure-torch backend, CPU), and every saved array must be what it predicts. Cost: one pass
# of the model over the test split plus the family's probe, the same work as the end of ``bench run``.
# Measured for the example PairForceNet on spring (2-core CPU, one thread): tiny (3 test simulations)
# 0.02 s, quick (150 test simulations, 24,000 probe edges) 0.07 s, plus loading and verifying the
# official dataset once more (0.2 s tiny, 0.3 s quick). Every array is compared in full: a family's
# ``collect`` works on the whole test split (the probe's edges are drawn from all of it), so a random
# subset of simulations cannot be taken generically, and at these costs it need not be.


class ModelProblem(BenchError):
    """Why a run's model cannot be rebuilt from what it carries: the file (or field) and the reason."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def model_file(path: Path, record: dict[str, Any]) -> Path | None:
    """The code of a model loaded from a file (None for a shipped or entry-point model): the run folder's
    ``model.py`` (a written submission), else the file the run was made from (the submitter's machine)."""
    source = record["config"]["model"].get("source") or {}
    if source.get("kind") != "path":
        return None
    copy = path / MODEL_FILE_NAME
    original = Path(str(source.get("file") or ""))
    return copy if copy.is_file() or not source.get("file") or not original.is_file() else original


def model_card_file(path: Path, record: dict[str, Any]) -> Path | None:
    """The card file of a file model, if it had one: the run folder's ``model.yaml``, else the original."""
    source = record["config"]["model"].get("source") or {}
    if source.get("kind") != "path":
        return None
    if (path / MODEL_CARD_NAME).is_file():
        return path / MODEL_CARD_NAME
    card = source.get("card")
    return Path(card) if card and Path(card).is_file() else None


def submitted_model(path: Path, record: dict[str, Any], card) -> Any:
    """The run's model rebuilt from its code, the record's hyper-parameters and its weights (``best.pt``);
    raises ``ModelProblem`` naming the missing or wrong file."""
    import torch

    from bench.family import get_family
    from bench.loading import import_class, sha256_bytes

    model_cfg = record["config"]["model"]
    source = model_cfg.get("source") or {}
    target = str(model_cfg["class"])
    file = model_file(path, record)
    if file is not None:
        if not file.is_file():
            raise ModelProblem(MODEL_FILE_NAME, f"missing: the code of a model loaded from a file "
                               f"('{source.get('spec')}') must be submitted beside the run's record")  # fmt: skip
        digest = sha256_bytes(file.read_bytes())
        if digest != source.get("sha256"):
            raise ModelProblem(MODEL_FILE_NAME, f"'{file}' is not the model file the run was made with: its "
                               f"SHA-256 {digest} differs from the record's model.source.sha256 "
                               f"{source.get('sha256')} (was it edited after the run?)")  # fmt: skip
        target = f"{file}:{target.rpartition(':')[2]}"
    try:
        cls = import_class(target, what=f"model '{model_cfg.get('name')}'")
    except BenchError as e:
        hint = "; its package must be installed to validate the run" if source.get("kind") == "entry_point" else ""
        raise ModelProblem("config.model.class", f"{str(e).splitlines()[0]}{hint}") from None
    hparams = dict(model_cfg.get("hparams") or {})
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(record["seed"]))  # as bench.run.prepare: a model's own buffers may be random
            model = cls(get_family(str(card.family)).task_spec(card, str(record["scale"])), **hparams)
    except Exception as e:
        raise ModelProblem("config.model.hparams", f"building the model with {hparams} failed: "
                           f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None  # fmt: skip
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        if model.state_dict():  # trained weights or fitted buffers (a parameter-free model's threshold)
            raise ModelProblem(WEIGHTS_NAME, f"missing: the trained weights ({WEIGHTS_NAME}, written by bench run "
                               "into the run folder) must be submitted with the run")  # fmt: skip
        return model
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ModelProblem(WEIGHTS_NAME, f"cannot be loaded into the model: {type(e).__name__}: {first}") from None
    return model


_LAST_DATA: dict[tuple, Any] = {}


def _official_data_once(card, scale: str, data_dir: str | Path):
    """``official_data``, kept for the next run of the same dataset (a submission's runs share a few)."""
    key = (str(card.name), int(card.version), scale, str(Path(data_dir).resolve()))
    if key not in _LAST_DATA:
        _LAST_DATA.clear()  # one dataset in memory at a time
        _LAST_DATA[key] = official_data(card, scale, data_dir)
    return _LAST_DATA[key]


def repredict(model: Any, context: tuple) -> dict[str, np.ndarray]:
    """The named prediction arrays the model gives on the official test split (the family's ``collect``);
    ``context``: ``_run_context``'s (family, data, configuration)."""
    import torch

    from bench.backends import get_backend

    fam, data, cfg = context
    if oracle := tuple(getattr(model, "oracle", ())):
        data = fam.with_oracle(data, oracle)
    return fam.collect(model, data, get_backend("torch"), torch.device("cpu"), cfg)


def _run_context(record: dict[str, Any], card, data_dir: str | Path):
    """(family, official data, the run's configuration on the official task card) for re-predicting."""
    from omegaconf import OmegaConf

    fam, data = _official_data_once(card, record["scale"], data_dir)
    cfg = OmegaConf.create(record["config"])
    cfg.task = card  # the official task card (its checksum was checked above)
    cfg.progress = False
    return fam, data, cfg


def compare_predictions(saved: dict[str, np.ndarray], recomputed: dict[str, np.ndarray]) -> list[str]:
    """One reason per saved array that is not what the model predicts (float32 tolerance)."""
    lead = "the saved predictions are not what the submitted model predicts: "
    reasons = []
    for name, array in sorted(saved.items()):
        if name not in recomputed:
            reasons.append(f"{lead}the model gives no '{name}' (it gives {', '.join(sorted(recomputed)) or 'none'})")
            continue
        mine = np.asarray(recomputed[name])
        if array.shape != mine.shape:
            reasons.append(f"{lead}{name} has shape {array.shape}, the model's {mine.shape}")
        elif not np.allclose(array, mine, rtol=PREDICTION_RTOL, atol=PREDICTION_ATOL, equal_nan=True):
            diff = np.abs(array.astype(np.float64) - mine.astype(np.float64))
            worst = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
            reasons.append(f"{lead}{name} differs by up to {worst:.3g} (tolerance {PREDICTION_ATOL:g} + "
                           f"{PREDICTION_RTOL:g} × |value|)")  # fmt: skip
    return reasons


def check_model(path: Path, record: dict[str, Any], pred_file: Path, card, data_dir: str | Path) -> list[Problem]:
    """Rebuild the run's model from its submitted code and weights and re-predict: the saved arrays must be
    its predictions (see the comment above ``ModelProblem``)."""
    where = str(path)
    try:
        model = submitted_model(path, record, card)
    except ModelProblem as e:
        return [Problem(where, e.field, e.reason)]
    if model.num_parameters() != int(record["n_parameters"]):
        return [Problem(where, "n_parameters", f"the record says {record['n_parameters']}; the submitted model "
                        f"has {model.num_parameters()} trainable parameters")]  # fmt: skip
    told = list(getattr(model, "oracle", ()))
    if list(record.get("oracle") or []) != told:  # an oracle entry must say so: it is never ranked
        return [Problem(where, "oracle", f"the record says {record.get('oracle') or []}, but the submitted model is "
                        f"given {told or 'no truths'} as inputs (Model.oracle)")]  # fmt: skip
    try:
        context = _run_context(record, card, data_dir)
        recomputed = repredict(model, context)
    except Exception as e:
        return [Problem(where, "model", f"re-predicting the test split with the submitted model failed: "
                        f"{type(e).__name__}: {e}")]  # fmt: skip
    saved = read_arrays(pred_file)  # readable: recompute_metrics read it before
    problems = [Problem(where, PREDICTIONS_NAME, reason) for reason in compare_predictions(saved, recomputed)]
    if problems:
        return problems
    fam, data, cfg = context
    reasons = fam.verify_analyses(record.get("analyses") or {}, model, data, cfg)
    return [Problem(where, "analyses", reason) for reason in reasons]


# -- the whole submission ------------------------------------------------------------------------------


RUN_FOLDER_PATTERN = re.compile(r"^(?P<scale>.+)-seed(?P<seed>-?\d+)-(?P<hash>[0-9a-f]{8})$")
"""How ``bench run`` names a run folder: ``<scale>-seed<k>-<config hash>`` (``bench.run.run_dir``)."""


def check_identity(runs: list[Run]) -> list[Problem]:
    """Each run is what it says it is: its ``config_hash``, recomputed from its configuration and data checksum
    (``bench.run.config_hash``), is the recorded one, and its folder is named for its scale, seed and hash. A
    run folder copied and relabelled as another seed (the seed edited in the record) fails here."""
    from bench.run import config_hash

    problems = []
    for run in runs:
        r, where = run.record, str(run.path)
        recomputed = config_hash(r["config"], r["data_checksum"])
        if recomputed != r["config_hash"]:
            problems.append(Problem(where, "config_hash", f"the record says {r['config_hash']}, but its configuration "
                                    f"(seed {r['seed']}) and data checksum hash to {recomputed}: the record was edited "
                                    "after the run (a relabelled seed or configuration); submit run folders as "
                                    "bench run wrote them"))  # fmt: skip
        named = RUN_FOLDER_PATTERN.match(run.path.name)
        if named is None:
            problems.append(Problem(where, "run folder", f"'{run.path.name}' is not named as bench run names a run "
                                    "folder (<scale>-seed<k>-<config hash>)"))  # fmt: skip
            continue
        if (named["scale"], int(named["seed"])) != (r["scale"], r["seed"]):
            problems.append(Problem(where, "seed", f"the folder is named for {named['scale']} seed {named['seed']}, "
                                    f"but its record is of {r['scale']} seed {r['seed']}: relabelled"))  # fmt: skip
        if named["hash"] != r["config_hash"]:
            problems.append(Problem(where, "config_hash", f"the folder is named for config hash {named['hash']}, but "
                                    f"its record's is {r['config_hash']}: a relabelled run"))  # fmt: skip
    return problems


def check_configurations(runs: list[Run]) -> list[Problem]:
    """One entry is one experiment: within a task, scale and backend every run has the same configuration
    apart from its seed (``bench.identity.config_id``); otherwise the keys that differ are named."""
    from bench.identity import config_differences, config_id, identity_config

    problems = []
    groups: dict[tuple, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        r = run.record
        groups[(r["task"], r["task_version"], r["scale"], r["backend"])][config_id(r["config"])].append(run)
    for (task, version, scale, backend), by_config in sorted(groups.items()):
        if len(by_config) < 2:
            continue
        firsts = sorted((min(members, key=lambda m: m.record["seed"]) for members in by_config.values()),
                        key=lambda m: m.record["seed"])  # fmt: skip
        base = firsts[0]
        details = []
        for other in firsts[1:]:
            diffs = config_differences(identity_config(base.record["config"], seed=False),
                                       identity_config(other.record["config"], seed=False))  # fmt: skip
            details.append(f"seed {base.record['seed']} vs seed {other.record['seed']}: {'; '.join(diffs[:6])}"
                           + (f" (and {len(diffs) - 6} more)" if len(diffs) > 6 else ""))  # fmt: skip
        problems.append(Problem(f"{task} v{version} {scale} ({backend})", "config",
                                f"the runs mix {len(by_config)} configurations ({' | '.join(details)}); the seeds "
                                "of one entry must differ in their seed only: submit one configuration"))  # fmt: skip
    return problems


def check_duplicates(runs: list[Run]) -> list[Problem]:
    """Two runs with byte-identical predictions are one run counted twice (a copied folder). A model
    without trainable parameters (``static``, ``corr``: nothing drawn from the seed) predicts the same for
    every seed; its runs are exempt, each being re-predicted from the submitted model all the same."""
    problems = []
    by_file: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if int(run.record["n_parameters"]) == 0:
            continue
        by_file[run.record["predictions"]["sha256"]].append(run)
    for members in by_file.values():
        first, *copies = sorted(members, key=lambda m: (m.record["seed"], str(m.path)))
        for copy in copies:
            problems.append(Problem(str(copy.path), "predictions", f"seed {copy.record['seed']} and seed "
                                    f"{first.record['seed']} ({first.path}) have byte-identical predictions: one "
                                    "run submitted twice; each seed must be its own training run"))  # fmt: skip
    return problems


def check_seeds(runs: list[Run]) -> list[Problem]:
    """Across runs: each is what it says (``check_identity``), one configuration per entry
    (``check_configurations``), no run twice (``check_duplicates``), and ``MIN_SEEDS`` distinct seeds."""
    problems = check_identity(runs) + check_configurations(runs) + check_duplicates(runs)
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
    codes = sorted({str(((run.record["config"].get("model") or {}).get("source") or {}).get("sha256")) for run in runs})
    if len(codes) > 1:  # a model loaded from a file: the file's SHA-256 is its code version
        problems.append(Problem("runs", "config.model.source.sha256", f"the runs were made with {len(codes)} "
                                f"different model files ({', '.join(codes)}); submit runs of one code"))  # fmt: skip
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


def run_files(run: Run) -> list[tuple[str, Path]]:
    """(name in the run's submission folder, source file): the record, predictions and configuration, the
    weights (when the run has them) and, for a model loaded from a file, its code and its card."""
    files = [(name, run.path / name) for name in RUN_FILES]
    if (run.path / WEIGHTS_NAME).is_file():
        files.append((WEIGHTS_NAME, run.path / WEIGHTS_NAME))
    code = model_file(run.path, run.record)
    if code is not None:
        files.append((MODEL_FILE_NAME, code))
        card = model_card_file(run.path, run.record)
        if card is not None:
            files.append((MODEL_CARD_NAME, card))
    return files


def planned_files(sub: Submission) -> list[tuple[str, Path | None, int]]:
    """(path inside the submission folder, source file or None when generated, size in bytes)."""
    files: list[tuple[str, Path | None, int]] = [(CARD_NAME, None, len(yaml.safe_dump(sub.card, sort_keys=False)))]
    for run in sub.runs:
        rel = f"{run.record['task']}/{run.path.name}"
        for name, source in run_files(run):
            files.append((f"{rel}/{name}", source, source.stat().st_size))
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
            for name, source in run_files(run):
                shutil.copy2(source, folder / name)
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
