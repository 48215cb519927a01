"""The task-family contract: everything specific to a family of tasks, behind one class.

A family (force-law recovery, n-body rollout, ...) is a folder with a subclass of ``Family`` and one
registration in the entry-point group ``bench.families``::

    [project.entry-points."bench.families"]
    forces = "bench.tasks.forces.family:ForcesFamily"

The core (configuration, CLI, runner, training loop, records, store) asks the family and never names
one. A family owns:

================================  ===================================================================
what                              where
================================  ===================================================================
task cards and their keys         ``conf_dir``: Hydra folder with ``family/<name>.yaml`` (the keys every
                                  task of the family shares) and ``task/<task>.yaml``; ``check_card``
its own run-time option groups    ``option_groups`` (``{"sr": "operon"}``): folders of ``conf_dir``,
                                  selected like ``sr=none``; not part of a run's identity
generation and manifest facts     ``data_keys``, ``generate``, ``describe_generation``
loading splits, batches, targets  ``load(dataset, card)``: a ``TaskData`` whose ``batch`` returns
                                  ``(batch, targets)``: the targets never enter the batch
the ``TaskSpec``                  ``task_spec``
oracle inputs (upper bounds)      ``with_oracle(data, truths)``: batches that carry a truth an oracle
                                  model declares (``Model.oracle``); default: none offered
batch sizes, the objective        ``batch_size``, ``eval_batch_size``, ``objective``; ``loss_bound``: the
                                  loss above which training has diverged; ``monitor``: validation
                                  metrics per epoch (a learning curve), never choosing the best epoch
the official evaluator            ``evaluator(card)``: dict in, dict out, with its ``metric_table``
what is saved and re-scored       ``collect``: named prediction arrays; ``truth``: the true arrays the
                                  evaluator compares them with (regenerable by anyone)
analyses of a trained model       ``analyse``: probes, symbolic regression, rollouts, equivariance;
                                  timings go to ``diagnostics``, never ranked
checks before any work            ``check_run``
the report, the app's panels      ``report``, ``app_panels``
================================  ===================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

from bench.errors import BenchError, unknown

if TYPE_CHECKING:
    import torch

    from bench.batch import Batch
    from bench.evaluation import TaskEvaluator
    from bench.model import Model, TaskSpec

ENTRY_POINT_GROUP = "bench.families"


@dataclass(frozen=True)
class Metric:
    """One row of a task's metric table (OGB's ``master.csv``): a name, its direction, what it means.

    ``name`` may hold ``{k}`` for a family of metrics (``rollout_mse_h{k}``: one per horizon k).
    """

    name: str
    direction: Literal["lower", "higher"]
    description: str
    units: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("lower", "higher"):
            raise ValueError(f"metric '{self.name}': direction '{self.direction}' is not 'lower' or 'higher'")

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "lower"

    def matches(self, name: str) -> bool:
        if "{k}" not in self.name:
            return name == self.name
        return re.fullmatch(re.escape(self.name).replace(r"\{k\}", r"\d+"), name) is not None

    def as_record(self) -> dict[str, str]:
        return {"direction": self.direction, "description": self.description, "units": self.units}


def metric_info(table: tuple[Metric, ...], name: str) -> Metric:
    """The row of ``table`` that describes metric ``name``."""
    for metric in table:
        if metric.matches(name):
            return metric
    raise unknown("metric", name, [m.name for m in table])


class TaskData(Protocol):
    """The splits of one dataset, as a family's ``load`` returns them."""

    def num_samples(self, split: str) -> int: ...

    def batch(
        self, split: str, index: torch.Tensor, augment: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Batch, dict[str, torch.Tensor]]:
        """Samples ``index`` of ``split``: the model's input and, beside it, the targets."""
        ...


def default_loss_bound(zero_loss: float) -> float:
    """``1e6 × max(zero_loss, 1)``: the default bound of ``Family.loss_bound``."""
    return 1e6 * max(float(zero_loss), 1.0)


@dataclass
class Analysis:
    """What ``Family.analyse`` found: reported in the record, not re-scored by the evaluator."""

    analyses: dict[str, Any] = field(default_factory=dict)
    """Probes, symbolic regression, equivariance, rollouts: the record's ``analyses`` section."""
    diagnostics: dict[str, float] = field(default_factory=dict)
    """Machine-dependent numbers (timings): shown, never ranked."""


class Family:
    """Base class of a task family (see the module docstring for the whole contract).

    Subclasses set the class attributes and implement the methods that raise ``NotImplementedError``;
    the others have defaults that fit a family predicting one per-particle target.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    conf_dir: ClassVar[Path]
    """Hydra config folder: ``family/<name>.yaml``, ``task/*.yaml`` and the family's option groups."""
    option_groups: ClassVar[dict[str, str]] = {}
    """The family's own config groups and their default option (``{"sr": "operon"}``); run-time
    choices that do not change what a run trains, so they stay out of the run's identity."""
    data_keys: ClassVar[tuple[str, ...]] = ()
    """The card entries that determine a dataset's bytes (besides the scale's simulation count)."""
    optional_data_keys: ClassVar[tuple[str, ...]] = ()
    """Those of ``data_keys`` that only some cards have (family H's ``field``): absent or null, they are left out
    of the parameters, so that adding one to the family keeps the other tasks' datasets and checksums."""
    per_scale_data_keys: ClassVar[tuple[str, ...]] = ()
    """Those of ``data_keys`` that the card gives per scale (``{tiny: ..., quick: ...}``, as ``simulations``): a
    dataset's parameters hold its own scale's value only, so that another scale's value leaves its checksum."""
    manifests_dir: ClassVar[Path | None] = None
    """The committed official manifests ``<task>-v<version>-<scale>.json`` (None: ``conf_dir``'s sibling
    folder ``manifests``): a result can be submitted only on an official dataset."""

    def official_manifests(self) -> Path:
        return Path(self.manifests_dir) if self.manifests_dir is not None else Path(self.conf_dir).parent / "manifests"

    # -- task cards ---------------------------------------------------------------------------------
    def tasks(self) -> tuple[str, ...]:
        """The names of the family's task cards."""
        return tuple(sorted(p.stem for p in (Path(self.conf_dir) / "task").glob("*.yaml")))

    def check_card(self, card: Any) -> None:
        """Raise a ``BenchError`` naming the key, the bad value and the valid ones for a card this family
        cannot run (``task.dim=4``)."""

    # -- data ---------------------------------------------------------------------------------------
    def generate(self, card: Any, scale: str, progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays ``{split}/{field}`` of one dataset, and generation facts for its manifest."""
        raise NotImplementedError

    def describe_generation(self, info: dict[str, Any]) -> str:
        """One line of the manifest's generation facts, for ``bench data``."""
        return ", ".join(f"{k} {v}" for k, v in info.items() if isinstance(v, (int, float, str)))

    def load(self, dataset: Any, card: Any) -> TaskData:
        raise NotImplementedError

    def task_spec(self, card: Any, scale: str | None = None) -> TaskSpec:
        """What a model is built from. ``scale``: the run's scale, for a family whose sizes depend on it
        (heterogeneous particles: the particles of each scale's box); None where the caller has none."""
        raise NotImplementedError

    def with_oracle(self, data: TaskData, truths: tuple[str, ...]) -> TaskData:
        """``data`` whose batches also carry the truths ``truths`` a model declares as oracle inputs
        (``Model.oracle``, e.g. ``("edges",)``: ``batch.edge_label``). Default: the family offers none."""
        raise BenchError(f"task family '{self.name}' gives no oracle inputs; a model asking for "
                         f"{', '.join(truths)} (Model.oracle) cannot run on its tasks")  # fmt: skip

    def batch_size(self, card: Any) -> int:
        """The reference training batch (systems per batch) when the model card leaves it null."""
        raise NotImplementedError

    def eval_batch_size(self, card: Any) -> int:
        """Samples per batch in validation and evaluation: about 50k edges at most by default."""
        n = int(card.n_particles)
        return int(max(1, min(2048, 50_000 // max(1, n * (n - 1)))))

    # -- training -----------------------------------------------------------------------------------
    def objective(self, card: Any, loss: str):
        """The default training loss ``f(outputs, targets) -> scalar`` for the loss named in the model
        card (``l1`` or ``mse`` over the task's target); a model may define its own (``Model.loss``)."""
        from bench.train import LOSSES

        if loss not in LOSSES:
            raise unknown("loss", loss, LOSSES)
        target, fn = str(card.target), LOSSES[loss]
        return lambda outputs, targets: fn(outputs[target].float(), targets[target])

    def monitor(self, model: Model, data: TaskData, backend: Any, device: torch.device, cfg: Any) -> dict[str, float]:
        """Validation metrics after each training epoch, kept in the run's history and printed (a learning
        curve of what the task ranks, e.g. NRI's edge accuracy); they do not choose the best epoch. Keep it
        cheap: it runs every epoch. Default: none."""
        return {}

    def loss_bound(self, card: Any, zero_loss: float) -> float:
        """The training or validation loss (the objective) above which a run has diverged: training stops
        with ``TrainingDiverged`` and nothing is recorded. ``zero_loss``: the objective of predicting zero
        on the first training batch. Default: ``1e6 × max(zero_loss, 1)`` (the floor keeps the bound sane for
        targets near zero). Not applied to a model with its own ``loss``."""
        return default_loss_bound(zero_loss)

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluator(self, card: Any) -> TaskEvaluator:
        raise NotImplementedError

    def collect(
        self, model: Model, data: TaskData, backend: Any, device: torch.device, cfg: Any
    ) -> dict[str, np.ndarray]:
        """The named prediction arrays the official evaluator scores (``acceleration_pred``, ...).

        Default: the model's prediction of the task's target on every test sample."""
        from bench.train import predict

        target = str(cfg.task.target)
        pred = predict(model, data, "test", backend, device, self.eval_batch_size(cfg.task))[target]
        return {f"{target}_pred": pred.numpy().astype(np.float32)}

    def truth(self, card: Any, data: TaskData, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The true arrays the evaluator compares the prediction arrays ``names`` with."""
        raise NotImplementedError

    def check_run(self, cfg: Any, model_cls: type[Model]) -> None:
        """Checks of a run's configuration before any data is generated or any training starts."""

    def analyse(
        self, model: Model, data: TaskData, backend: Any, device: torch.device, cfg: Any, directory: Path
    ) -> Analysis:
        """Analyses of the trained model beyond the evaluator; may write files into ``directory``."""
        return Analysis()

    def verify_analyses(self, analyses: dict[str, Any], model: Model, data: TaskData, cfg: Any) -> list[str]:
        """Re-score what a run's ``analyses`` claim, from the submitted model (``bench submit``); one reason
        per claim the re-scoring contradicts. Default: nothing to verify."""
        return []

    # -- presentation -------------------------------------------------------------------------------
    def report(self, argv: list[str]) -> int:
        raise BenchError(f"task family '{self.name}' has no reproduction report")

    def app_panels(self, rows: Any, read_record: Any) -> None:
        """Extra panels of the leaderboard's task page (Streamlit calls), for the records ``rows``."""


# -- the registry ---------------------------------------------------------------------------------------


def _entry_points() -> dict[str, str]:
    import sys

    return _entry_points_on(tuple(sys.path))


@cache
def _entry_points_on(path: tuple[str, ...]) -> dict[str, str]:
    """The registered families, looked up once per import path (a new path may bring new ones)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


@cache
def _load(name: str, target: str) -> Family:
    from bench.loading import import_object

    cls = import_object(target, what=f"task family '{name}' ({ENTRY_POINT_GROUP})")
    if not (isinstance(cls, type) and issubclass(cls, Family)):
        raise BenchError(f"task family '{name}': '{target}' is not a subclass of bench.family.Family")
    fam = cls()
    if fam.name != name:
        raise BenchError(f"task family entry point '{name}' names a family called '{fam.name}'; the two must agree")
    return fam


def family_names() -> tuple[str, ...]:
    return tuple(sorted(_entry_points()))


def get_family(name: str) -> Family:
    """The registered family ``name`` (entry-point group ``bench.families``)."""
    eps = _entry_points()
    if name not in eps:
        raise unknown("task family", name, eps)
    return _load(name, eps[name])


def families() -> list[Family]:
    return [get_family(n) for n in family_names()]


def family_of_task(task: str) -> Family | None:
    """The family whose ``task/`` folder holds the card ``task`` (None: no family has it)."""
    for fam in families():
        if task in fam.tasks():
            return fam
    return None
