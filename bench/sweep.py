"""Sweeps (``bench run -m``) through Hydra's launcher plugins: in this process, in parallel on this machine
(``hydra/launcher=joblib``), on SLURM (``submitit_slurm``; ``submitit_local`` runs the same code path in local
processes) or on a Ray cluster (``ray``).

Every job is composed and checked here before any job starts (unknown values, ranges, task × model
compatibility, the family's checks, two jobs that would share a run folder); then the launcher runs the jobs, each
in its own run folder. A job whose run is finished (its record, of its configuration) is skipped; one with a
checkpoint resumes from it, so launching a sweep again after a pre-emption or a time limit finishes only what is
missing. The sweep ends with a table (done, resumed, skipped, failed with the reason), printed and written to the
sweep folder (``summary.txt``, ``summary.json``); each job also writes its outcome there as it ends
(``outcomes/<job>.json``), so the table is complete even when a launcher loses a job.

The sweep folder is ``<out>/sweeps/<sweep id>`` (``hydra.sweep.dir=`` another): the id is a hash of the job list,
so the same sweep launched again reuses its folder. Hydra composes each job's configuration again where it runs
(the launchers' contract); the job itself runs the configuration composed and checked here, picked by its number.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError, suggest, unknown

if TYPE_CHECKING:
    from omegaconf import DictConfig

LAUNCHER_GROUP = "hydra/launcher"
LAUNCHER_PACKAGES = {
    "joblib": "hydra-joblib-launcher",
    "submitit_local": "hydra-submitit-launcher",
    "submitit_slurm": "hydra-submitit-launcher",
    "ray": "hydra-ray-launcher",
    "ray_aws": "hydra-ray-launcher",
}
"""The launchers of Hydra's plug-ins that the ``cluster`` extra installs, by the package that provides each."""
HYDRA_DEFAULTS = ("hydra.job.name=bench", "hydra.output_subdir=null", "hydra.job.chdir=false")
"""Our settings of Hydra's own node, before the user's: job logs named ``bench.log`` (and SLURM jobs ``bench``),
no copy of Hydra's composition per job (the run folder's ``config.yaml`` is the configuration a job ran), jobs in
the working folder they were launched from."""
SUMMARY_NAME, SUMMARY_JSON, OUTCOMES = "summary.txt", "summary.json", "outcomes"
STATUSES = ("done", "resumed", "skipped", "failed")
"""A job's outcome: trained from the start, continued from its checkpoint, finished before (its record kept), or
failed (with the reason)."""


def is_launcher_override(text: str) -> bool:
    """Whether an override sets Hydra's own node (``hydra/launcher=joblib``, ``hydra.launcher.n_jobs=2``)."""
    key = text.partition("=")[0].strip().lstrip("+~")
    return key == "hydra" or key.startswith(("hydra/", "hydra."))


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """``overrides`` as (the jobs' own, Hydra's: the launcher and its settings)."""
    jobs = [o for o in overrides if not is_launcher_override(o)]
    return jobs, [o for o in overrides if is_launcher_override(o)]


@dataclass
class Job:
    """One job of a sweep: its overrides (``task=spring model=gnn seed=0``) and its configuration, composed and
    checked before any job starts."""

    number: int
    total: int
    overrides: list[str]
    cfg: Any
    short: str = ""
    """The overrides that tell this job from the others (the summary's first column)."""
    finished: str | None = None
    """The path of the run's finished record, where ``plan`` found one: the launch skips the job."""

    @property
    def label(self) -> str:
        return " ".join(self.overrides)


@dataclass
class Outcome:
    """What became of a job: ``status`` (one of ``STATUSES``) and the result record's path or the reason."""

    job: str
    status: str
    detail: str
    number: int = -1
    where: str = ""
    """``host:pid`` of the process that ran the job (empty for a job not launched)."""
    extra: dict[str, Any] = field(default_factory=dict)


def plan(combos: Sequence[Sequence[str]]) -> list[Job]:
    """Compose every job (``compose_jobs``), then check them (``check_jobs``): the first problem, of composing
    (any job) before checking, is a ``BenchError`` naming its job, before any job starts."""
    return check_jobs(compose_jobs(combos))


def _job_error(overrides: Sequence[str], e: BenchError) -> BenchError:
    return BenchError(f"sweep job '{' '.join(overrides)}': {e}; no job was started")


def compose_jobs(combos: Sequence[Sequence[str]]) -> list[Job]:
    """Each job's configuration (``bench.config.compose``, which imports no torch)."""
    from bench.config import compose, shared_bases

    jobs = []
    common = set.intersection(*(set(c) for c in combos)) if len(combos) > 1 else set()
    with shared_bases():  # the jobs' choices of groups repeat (seeds): each composed once for the key checks
        for k, overrides in enumerate(combos):
            try:
                cfg = compose(list(overrides))
            except BenchError as e:
                raise _job_error(overrides, e) from None
            short = " ".join(o for o in overrides if o not in common) or " ".join(overrides)
            jobs.append(Job(k, len(combos), list(overrides), cfg, short))
    return jobs


def check_jobs(jobs: list[Job]) -> list[Job]:
    """The checks of every composed job (``bench.run.check_run``, its folders writable), and its finished record
    if any (``Job.finished``). Two jobs that would write one run folder (they differ only in keys that do not change
    a run, or in a family option such as ``sr=``) are refused too. Returns ``jobs``."""
    from bench.run import _check_folders, check_run, finished_record

    for job in jobs:
        try:
            check_run(job.cfg)
            _check_folders(job.cfg)  # out= (and data_dir= where its dataset is missing) writable
        except BenchError as e:
            raise _job_error(job.overrides, e) from None
        finished = finished_record(job.cfg)
        job.finished = None if finished is None else str(finished)
    _check_distinct_runs(jobs)
    return jobs


def _check_distinct_runs(jobs: Sequence[Job]) -> None:
    from bench.identity import config_hash

    seen: dict[tuple[str, str], Job] = {}
    for job in jobs:
        key = (os.path.abspath(str(job.cfg.out)), config_hash(job.cfg, None))
        other = seen.setdefault(key, job)
        if other is job:
            continue
        first = [o for o in other.overrides if o not in job.overrides]
        second = [o for o in job.overrides if o not in other.overrides]
        why = f"they differ only in {' '.join(first)} / {' '.join(second)}" if first or second else "the same job twice"
        raise BenchError(f"sweep jobs '{other.label}' and '{job.label}' are one run ({why}, which does not change what "
                         f"is trained): both would write the same run folder under {job.cfg.out}/{job.cfg.task.name}/"
                         f"{job.cfg.model.name}/; drop one; no job was started")  # fmt: skip


def sweep_id(jobs: Sequence[Job]) -> str:
    """10 hex digits over the job list: the same sweep launched again has the same folder."""
    return hashlib.sha256(json.dumps([job.overrides for job in jobs]).encode()).hexdigest()[:10]


# -- the job, where it runs ------------------------------------------------------------------------------


def execute(job: Job) -> Outcome:
    """Run one job (``bench.run.run``) unless its run is finished; never raises for the job's own failure (a
    ``BenchError``, or a crash in a model's code, whose traceback is printed): a failed outcome says why."""
    print(f"\n[{job.number + 1}/{job.total}] bench run {job.label}", flush=True)
    outcome = _execute(job)
    outcome.where = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


def _execute(job: Job) -> Outcome:
    import traceback

    from bench.run import checkpoint_epoch, finished_record, run

    try:
        finished = finished_record(job.cfg)
        if finished is not None:
            print(f"finished before: {finished}", flush=True)
            return Outcome(job.short, "skipped", str(finished), job.number)
        epoch = checkpoint_epoch(job.cfg)
        path = run(job.cfg)
        print(f"result record: {path}", flush=True)
        if epoch is None:
            return Outcome(job.short, "done", str(path), job.number)
        return Outcome(job.short, "resumed", f"{path} (from its checkpoint after epoch {epoch})", job.number,
                       {"from_epoch": epoch})  # fmt: skip
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return Outcome(job.short, "failed", str(e).splitlines()[0], job.number)
    except Exception as e:  # a crash inside one job (a model's forward, ...) must not end the sweep
        traceback.print_exc()
        return Outcome(job.short, "failed", f"{type(e).__name__}: {e}".splitlines()[0], job.number)


@dataclass
class SweepTask:
    """The task function the launcher runs for each job: the job of Hydra's job number, its outcome written to
    ``<sweep folder>/outcomes/<number>.json`` (on the shared file system, where the launcher may lose it) and
    returned."""

    jobs: list[Job]

    def __call__(self, composed: DictConfig) -> dict[str, Any]:
        from hydra.core.hydra_config import HydraConfig

        from bench.io import atomic_write_text

        hydra = HydraConfig.get()
        job = self.jobs[int(hydra.job.num)]  # the launched jobs' numbers count from 0
        outcome = asdict(execute(job))
        atomic_write_text(outcome_path(Path(str(hydra.sweep.dir)), job.number), json.dumps(outcome) + "\n")
        return outcome


def outcome_path(sweep_dir: Path, number: int) -> Path:
    return sweep_dir / OUTCOMES / f"{number}.json"


# -- the launcher -----------------------------------------------------------------------------------------


def _check_hydra_overrides(overrides: Sequence[str], loader) -> None:
    """Each of Hydra's overrides names a known option (a launcher that is not installed says how to install it)
    with one value (a launcher's setting is not swept)."""
    from bench.config import _parse

    for o in _parse(overrides):
        key = o.key_or_group
        if o.is_sweep_override():
            raise BenchError(f"'{o.input_line}': a launcher setting takes one value, not a sweep")
        if key == "hydra.launcher" and not o.is_delete():
            raise BenchError(f"'{o.input_line}': a launcher is chosen with a slash: "
                             f"{LAUNCHER_GROUP}={o.get_value_element_as_str()}")  # fmt: skip
        if "/" not in key or o.is_delete():
            continue
        options = sorted(loader.get_group_options(key))
        if not options:
            groups = [f"hydra/{g}" for g in loader.list_groups("hydra")]
            raise unknown("config group", key, groups)
        choice = o.get_value_element_as_str()
        if choice in options:
            continue
        if key == LAUNCHER_GROUP and choice in LAUNCHER_PACKAGES:
            raise BenchError(f"the launcher '{choice}' is not installed here (package {LAUNCHER_PACKAGES[choice]}): "
                             f"pip install -e \".[cluster]\"; installed: {', '.join(options)}")  # fmt: skip
        raise unknown("launcher" if key == LAUNCHER_GROUP else f"option of {key}", choice, options)


def _check_hydra_keys(overrides: Sequence[str], hydra_cfg: DictConfig) -> None:
    """Every ``hydra.KEY=V`` names a key of Hydra's node as composed with the chosen launcher (``+hydra.KEY=V``
    adds one, for the launchers' free-form mappings such as ``hydra.launcher.ray.init``)."""
    from omegaconf import DictConfig, OmegaConf

    for text in overrides:
        key = text.partition("=")[0].strip()
        if key.startswith(("+", "~")) or "/" in key:
            continue
        node: Any = hydra_cfg
        parent = "hydra"
        for part in key.split(".")[1:]:
            if not isinstance(node, DictConfig) or part not in node:
                siblings = [f"{parent}.{k}" for k in node] if isinstance(node, DictConfig) else []
                hint = suggest(key, siblings)
                did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
                where = f"valid keys under {parent}: {', '.join(siblings)}" if siblings else f"{parent} is a value"
                if isinstance(node, DictConfig) and OmegaConf.get_type(node) is dict:  # not one of a dataclass's
                    where += f" ({parent} is a free-form mapping: add a key to it with +{text.strip()})"
                raise BenchError(f"unknown key '{key}'{did_you_mean} {where}")
            node = node._get_node(part)  # noqa: SLF001 - no interpolation resolved
            parent = f"{parent}.{part}"


@contextmanager
def _workers_import_this_checkout() -> Iterator[None]:
    """Run from a source checkout (``python -m bench.cli`` without installing), the launchers' worker processes
    (submitit's, Ray's) must import this same ``bench``: its folder goes first on ``PYTHONPATH`` while they start."""
    import bench

    root = Path(bench.__file__).resolve().parent.parent
    old = os.environ.get("PYTHONPATH")
    parts = [p for p in (old or "").split(os.pathsep) if p]
    if (root / "pyproject.toml").is_file() and str(root) not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(root), *parts])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _absolute_sweep_dir(text: str) -> str:
    """``hydra.sweep.dir=DIR`` with DIR made absolute: workers may start in another folder (Ray's do)."""
    key, eq, value = text.partition("=")
    if key.strip().lstrip("+") != "hydra.sweep.dir" or not eq or value.startswith(("/", "$")):
        return text
    return f"{key}={os.path.abspath(value)}"


def _with_defaults(hydra_overrides: Sequence[str], jobs: Sequence[Job] = ()) -> list[str]:
    """The user's launcher overrides, the sweep folder made absolute (workers may start in another folder: Ray's
    do) or, when not given, ``<out>/sweeps/<sweep id>`` of ``jobs``."""
    overrides = [_absolute_sweep_dir(o) for o in hydra_overrides]
    if jobs and not any(o.partition("=")[0].strip().lstrip("+~") == "hydra.sweep.dir" for o in overrides):
        overrides.append(f"hydra.sweep.dir={Path(str(jobs[0].cfg.out)).resolve() / 'sweeps' / sweep_id(jobs)}")
    return overrides


def _compose_launcher(loader, hydra_overrides: Sequence[str]) -> DictConfig:
    """The configuration with Hydra's node for ``hydra_overrides``, each checked first (``BenchError``)."""
    from hydra import compose as hydra_compose
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.config import _search_path

    _check_hydra_overrides(hydra_overrides, loader)
    groups = [o for o in hydra_overrides if "/" in o.partition("=")[0]]
    keys = [o for o in hydra_overrides if o not in groups and not o.startswith("hydra.sweep.dir=")]
    try:
        if keys:
            base = hydra_compose(config_name="config", overrides=[_search_path(), *groups], return_hydra_config=True)
            _check_hydra_keys(keys, base.hydra)
        return hydra_compose(config_name="config", overrides=[_search_path(), *HYDRA_DEFAULTS, *hydra_overrides],
                             return_hydra_config=True)  # fmt: skip
    except (HydraException, OmegaConfBaseException) as e:
        raise BenchError(f"the launcher settings {' '.join(hydra_overrides)}: {str(e).splitlines()[0]}") from None


def check_launcher(hydra_overrides: Sequence[str]) -> DictConfig:
    """Compose the launcher's settings (a ``BenchError`` for an unknown launcher, key or value), before the jobs;
    returns Hydra's node as composed."""
    from bench.config import _hydra

    with _hydra() as gh:
        return _compose_launcher(gh.config_loader(), _with_defaults(hydra_overrides)).hydra  # type: ignore[attr-defined]


WARM_MODULES = ("bench.run", "torch._dynamo", "matplotlib.figure", "matplotlib.backends.backend_agg", "numba",
                "bench.leaderboard.schema")  # fmt: skip
"""What a job imports before its first result: torch with ``bench.run``, ``torch._dynamo`` (which every
``torch.optim`` step imports), matplotlib for the figures, numba for the kernels, pydantic for the record (about
4.5 s of CPU in a fresh process, against a tiny run's 2.5 s)."""


def _warm_worker(parent: int) -> int:
    import atexit
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
    if os.getpid() != parent:  # a worker process (never the sweeping process, whose exit status must stand)
        atexit.register(_exit_now)  # after the imports' own handlers: the first to run
    return os.getpid()


def _exit_now() -> None:
    """A warmed worker's exit, once joblib has shut it down: its output flushed, then no interpreter teardown (about
    2 s of CPU with torch loaded, which the sweeping process would wait for). Its jobs' files were written and
    closed when each job returned."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@dataclass
class Workers:
    """The launcher's workers as ``warm_workers`` started them: joblib's (``settings``, and once warmed the ``pids``
    of its processes), or none (other launchers)."""

    settings: dict[str, Any] | None = None
    pids: list[int] = field(default_factory=list)
    thread: Any = None

    def plan(self, combos: Sequence[Sequence[str]]) -> list[Job]:
        """``plan(combos)``: the jobs composed here while the workers warm up; with warmed joblib workers, their
        checks (``check_jobs``, which import torch with the model classes) then run in one of them, and this process
        never imports torch, whose import would take a core from the workers' own (unless a model is a file of the
        user's, imported to compose it). A check's error is raised here all the same. Without warmed workers (other
        launchers; joblib with one job at a time, in this process) the checks run here."""
        jobs = compose_jobs(combos)
        if self.thread is not None:
            self.thread.join()
        if not self.pids:
            return check_jobs(jobs)
        from joblib import Parallel, delayed

        assert self.settings is not None
        (checked,) = Parallel(**self.settings)([delayed(check_jobs)(jobs)])
        return checked


@contextmanager
def warm_workers(hydra: DictConfig) -> Iterator[Workers]:
    """With joblib's launcher, start its worker processes and their imports (``WARM_MODULES``) in a thread, while
    this process expands the sweep: a ``Parallel`` of the launcher's very settings, whose workers joblib then reuses
    for the jobs (it keeps one pool for the same settings); ``Workers.plan`` checks the jobs in one of them. Other
    launchers' workers start where the jobs run (a SLURM node, a Ray worker) and are left alone. No job starts
    here."""
    import threading

    if not str(hydra.launcher.get("_target_", "")).endswith("JoblibLauncher"):
        yield Workers()
        return
    from joblib import Parallel, delayed, effective_n_jobs

    settings = joblib_settings(hydra)
    n_jobs = effective_n_jobs(settings["n_jobs"])
    if n_jobs == 1:  # joblib runs the jobs in this process, one after another: no worker to warm
        yield Workers()
        return
    workers = Workers(settings)

    def warm() -> None:
        try:
            workers.pids.extend(Parallel(**settings)(delayed(_warm_worker)(os.getpid()) for _ in range(n_jobs)))
        except Exception:  # the launch itself reports a pool that cannot start; warming is only a head start
            pass

    with _workers_import_this_checkout():
        workers.thread = threading.Thread(target=warm, name="warm joblib workers", daemon=True)
        workers.thread.start()
        try:
            yield workers
        except BaseException:  # a job refused by the checks, Ctrl-C: no job will run on the warmed workers
            workers.thread.join()
            _stop_joblib_workers()
            raise
        finally:
            workers.thread.join()


def joblib_settings(hydra: DictConfig) -> dict[str, Any]:
    """The arguments of ``joblib.Parallel`` that Hydra's joblib launcher builds from its settings."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from omegaconf import OmegaConf

    settings = OmegaConf.to_container(hydra.launcher, resolve=True)
    assert isinstance(settings, dict)
    settings.pop("_target_", None)
    settings["backend"] = "loky"  # as the launcher does
    process_joblib_cfg(settings)
    return settings


def launch(jobs: list[Job], hydra_overrides: Sequence[str]) -> tuple[list[Outcome], Path]:
    """Run ``jobs`` with the launcher that ``hydra_overrides`` choose (Hydra's basic one, in this process, by
    default); returns each job's outcome and the sweep folder. A job whose run is finished is not launched (no
    SLURM job, no worker): it is skipped here."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.plugins import Plugins
    from hydra.errors import HydraException
    from hydra.types import HydraContext
    from omegaconf.errors import OmegaConfBaseException

    from bench.config import _family_overrides, _hydra, resolve_models

    outcomes: dict[int, Outcome] = {}
    for job in jobs:
        if job.finished is not None:
            outcomes[job.number] = Outcome(job.short, "skipped", job.finished, job.number)
    pending = [job for job in jobs if job.number not in outcomes]
    with _hydra() as gh:
        loader = gh.config_loader()  # type: ignore[attr-defined]
        cfg = _compose_launcher(loader, _with_defaults(hydra_overrides, jobs))
        sweep_dir = Path(str(cfg.hydra.sweep.dir))
        HydraConfig.instance().set_config(cfg)
        try:
            context = HydraContext(config_loader=loader, callbacks=Callbacks(cfg))
            launcher = Plugins.instance().instantiate_launcher(
                hydra_context=context, task_function=SweepTask(pending), config=cfg
            )
        except (HydraException, OmegaConfBaseException) as e:
            raise BenchError(f"the launcher settings {' '.join(hydra_overrides)}: {str(e).splitlines()[0]}") from None
        for job in jobs:  # a sweep launched again: its outcomes are this launch's
            outcome_path(sweep_dir, job.number).unlink(missing_ok=True)
        name = cfg.hydra.runtime.choices.get(LAUNCHER_GROUP) or cfg.hydra.launcher._target_.rpartition(".")[2]
        skipped = f" ({len(outcomes)} finished before: skipped)" if outcomes else ""
        print(f"sweep: {len(jobs)} runs{skipped}, launcher {name}, sweep folder {sweep_dir}", flush=True)
        returns: list[Any] = []
        lost = ""
        try:
            if pending:
                # each job's folder in the sweep folder is its number in the sweep, launched or not
                per_job = [[*_family_overrides(resolve_models(job.overrides)), f"hydra.sweep.subdir={job.number}"]
                           for job in pending]  # fmt: skip
                with _workers_import_this_checkout():
                    returns = list(launcher.launch(per_job, initial_job_idx=0))
            if name == "joblib":  # (warmed even when every job turned out finished)
                _stop_joblib_workers()
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a launcher that lost jobs (killed, pre-empted): the others' outcomes still count
            lost = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            print(f"error: the launcher stopped: {lost}", file=sys.stderr)
        finally:
            HydraConfig.instance().cfg = None  # type: ignore[assignment]
    for k, job in enumerate(pending):
        outcomes[job.number] = _outcome(job, returns[k] if k < len(returns) else None, sweep_dir, lost)
    return [outcomes[job.number] for job in jobs], sweep_dir


def _stop_joblib_workers(timeout: float = 30.0) -> None:
    """End joblib's worker processes now that every job has returned (joblib keeps them for the next ``Parallel``).
    They exit at once (``_exit_now``); one still there after ``timeout`` seconds (a job's thread keeps it) is
    terminated. Killing them all at once instead would leave their queue's semaphores for Python's resource
    tracker to report as leaked."""
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(reuse=True)
    manager = getattr(executor, "_executor_manager_thread", None)  # loky's thread that joins the workers
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False)
    if manager is None:
        return
    manager.join(timeout)
    if manager.is_alive():  # a worker that does not exit (a job left a thread running in it): ended
        for process in processes:
            process.terminate()
        manager.join(timeout)


def _outcome(job: Job, returned: Any, sweep_dir: Path, lost: str) -> Outcome:
    """A job's outcome: as its launcher returned it, else as the job wrote it, else failed (with the launcher's
    error, or the job's log to read)."""
    from hydra.core.utils import JobStatus

    if returned is not None and returned.status == JobStatus.COMPLETED and isinstance(returned.return_value, dict):
        return Outcome(**returned.return_value)
    if returned is not None and returned.status == JobStatus.FAILED:
        e = returned._return_value  # the exception, kept by Hydra's run_job
        return Outcome(job.short, "failed", f"{type(e).__name__}: {e}".splitlines()[0], job.number)
    try:
        return Outcome(**json.loads(outcome_path(sweep_dir, job.number).read_text()))
    except (OSError, ValueError, TypeError):
        why = f"the launcher stopped: {lost}" if lost else f"the job ended without an outcome (its log: {sweep_dir})"
        return Outcome(job.short, "failed", why, job.number)


# -- the summary ------------------------------------------------------------------------------------------


def summary(outcomes: Sequence[Outcome]) -> str:
    """``sweep finished: 3 done, 1 resumed, 0 failed`` and one line per job (status, record or reason)."""
    counts = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
    said = [f"{counts['done']} done"]
    said += [f"{counts[s]} {s}" for s in ("resumed", "skipped") if counts[s]]
    said.append(f"{counts['failed']} failed")
    width = max(len("job"), *(len(o.job) for o in outcomes))
    status_width = max(len("status"), *(len(o.status) for o in outcomes))
    lines = [f"sweep finished: {', '.join(said)}", f"  {'job':<{width}}  {'status':<{status_width}}  "
             "result record or reason"]  # fmt: skip
    lines += [f"  {o.job:<{width}}  {o.status:<{status_width}}  {o.detail}" for o in outcomes]
    return "\n".join(lines)


def write_summary(outcomes: Sequence[Outcome], sweep_dir: Path, hydra_overrides: Sequence[str]) -> Path:
    """The table as ``summary.txt`` and the outcomes as ``summary.json`` in the sweep folder."""
    from bench.io import atomic_write_text
    from bench.records import now

    text = summary(outcomes) + "\n"
    data = {"created": now(), "launcher": list(hydra_overrides), "jobs": [asdict(o) for o in outcomes]}
    atomic_write_text(sweep_dir / SUMMARY_JSON, json.dumps(data, indent=1) + "\n")
    return atomic_write_text(sweep_dir / SUMMARY_NAME, text)


def run_sweep(combos: Sequence[Sequence[str]], hydra_overrides: Sequence[str] = ()) -> tuple[list[Outcome], Path]:
    """Check the launcher's settings and every job, launch them, print and write the summary; returns the outcomes
    and the sweep folder."""
    hydra = check_launcher(hydra_overrides)  # the launcher's mistakes first: they cost no job composition
    with warm_workers(hydra) as workers:
        jobs = workers.plan(combos)
    return run_jobs(jobs, hydra_overrides)


def run_jobs(jobs: list[Job], hydra_overrides: Sequence[str]) -> tuple[list[Outcome], Path]:
    """Launch jobs checked by ``plan``; print and write the summary."""
    outcomes, sweep_dir = launch(jobs, hydra_overrides)
    print("\n" + summary(outcomes))
    path = write_summary(outcomes, sweep_dir, hydra_overrides)
    print(f"summary: {path}")
    return outcomes, sweep_dir


def sweep(overrides: Sequence[str]) -> int:
    """``bench run -m OVERRIDES``: every combination of the jobs' overrides, with the launcher of Hydra's; exit
    status 1 if a job failed."""
    from bench.config import expand_sweep, shared_bases

    job_overrides, hydra_overrides = split_overrides(overrides)
    hydra = check_launcher(hydra_overrides)
    with warm_workers(hydra) as workers, shared_bases():  # the expansion's checks and each job's: one composition
        jobs = workers.plan(expand_sweep(job_overrides))  # per choice of groups
    outcomes, _ = run_jobs(jobs, hydra_overrides)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
