"""``bench run -m`` through Hydra's launchers: every job checked before any starts, jobs in parallel (joblib) and in
processes of their own (submitit's local executor: SLURM's code path without SLURM), a sweep interrupted and
launched again finishing only what is missing with the same records, and the summary in the sweep folder.
Each job is a tiny run cut to one or two epochs of two steps."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench import sweep as S
from bench.cli import main

pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="the cluster extra: pip install -e '.[cluster]'")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra: pip install -e '.[cluster]'")


def _tiny(tmp_path, data_root, epochs=1):
    return ["task=spring", "model=egnn", "scale=tiny", "sr=none", "progress=false", "threads=1",
            f"scale.epochs={epochs}", "scale.max_steps_per_epoch=2", "model.hparams.hidden=16",
            "model.hparams.layers=2", f"out={tmp_path / 'runs'}", f"data_dir={data_root}"]  # fmt: skip


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _summary(out: str) -> list[str]:
    lines = out.splitlines()
    return lines[next(k for k, line in enumerate(lines) if line.startswith("sweep finished")) :]


def _records(runs: Path) -> dict[int, dict]:
    return {(r := json.loads(p.read_text()))["seed"]: r for p in runs.rglob("result.json")}


# -- checked before any job starts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["hydra/launcher=jobib"], "unknown launcher 'jobib'; did you mean 'joblib'?"),
        (["hydra/launchr=joblib"], "unknown config group 'hydra/launchr'; did you mean 'hydra/launcher'?"),
        (["hydra/launcher=joblib", "hydra.launcher.n_job=2"],
         "unknown key 'hydra.launcher.n_job'; did you mean 'hydra.launcher.n_jobs'?"),
        (["hydra.launcher=joblib"], "a launcher is chosen with a slash: hydra/launcher=joblib"),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=1,2"], "a launcher setting takes one value"),
        (["hydra/launcher=submitit_slurm", "hydra.launcher.timeout_min=soon"], "timeout_min"),
        (["task=spring,springs5"], "model=egnn seed=0 scale=tiny out="),  # the job, then why (below)
        (["progress=true,false"], "are one run (they differ only in progress=True / progress=False, which does not"),
        (["sr=none,operon"], "are one run (they differ only in sr=none / sr=operon"),
        (["seed=0,0"], "are one run (the same job twice"),
        (["out=FILE"], "it is a file, not a folder; choose another out="),
    ],
)  # fmt: skip
def test_a_bad_sweep_is_refused_before_any_job_starts(overrides, message, tmp_path, capsys):
    base = ["task=spring", "model=egnn", "seed=0", "scale=tiny", f"out={tmp_path / 'runs'}",
            f"data_dir={tmp_path / 'data'}"]  # fmt: skip
    (tmp_path / "a-file").write_text("")
    overrides = [o.replace("FILE", str(tmp_path / "a-file")) for o in overrides]
    given = {o.partition("=")[0]: o for o in overrides}
    args = [given.pop(o.partition("=")[0], o) for o in base] + list(given.values())
    code, _, err = _run(capsys, "run", "-m", *args)
    assert code == 2 and message in err, err
    if "springs5" in args[0]:
        assert "error: sweep job 'task=springs5 model=egnn" in err
        assert "': cannot run task 'springs5' with model 'egnn': model 'egnn' is built for task families" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_a_launcher_that_is_not_installed_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(S.LAUNCHER_PACKAGES, "fancy", "hydra-fancy-launcher")
    code, _, err = _run(capsys, "run", "-m", "task=spring", "scale=tiny", f"out={tmp_path}", "hydra/launcher=fancy")
    assert code == 2 and "the launcher 'fancy' is not installed here (package hydra-fancy-launcher)" in err
    assert 'pip install -e ".[cluster]"' in err


def test_a_launcher_setting_outside_a_sweep_is_refused(capsys):
    code, _, err = _run(capsys, "run", "task=spring", "hydra/launcher=joblib")
    assert code == 2 and "'hydra/launcher=joblib' is a launcher setting, for sweeps: bench run -m" in err


# -- launchers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                      ["hydra/launcher=submitit_local"]])  # fmt: skip
def test_jobs_run_in_processes_of_their_own(launcher, tmp_path, data_root, capsys, monkeypatch):
    warmed: list[list[int]] = []
    real_warm = S.warm_workers

    @contextmanager
    def spy(hydra):
        with real_warm(hydra) as workers:
            yield workers
        warmed.append(workers.pids)

    checked_in = tmp_path / "checked-in"
    real_check = S.check_jobs

    def check_jobs(jobs):  # (pickled by value into a joblib worker: the pid it writes is where the jobs were checked)
        checked_in.write_text(str(os.getpid()))
        return real_check(jobs)

    monkeypatch.setattr(S, "warm_workers", spy)
    monkeypatch.setattr(S, "check_jobs", check_jobs)
    code, out, err = _run(capsys, "run", "-m", *_tiny(tmp_path, data_root), "seed=0,1", *launcher)
    assert code == 0, err
    assert _summary(out)[:4] == [
        "sweep finished: 2 done, 0 failed",
        "  job     status  result record or reason",
        f"  seed=0  done    {next((tmp_path / 'runs').rglob('tiny-seed0-*'))}/result.json",
        f"  seed=1  done    {next((tmp_path / 'runs').rglob('tiny-seed1-*'))}/result.json",
    ]
    assert sorted(_records(tmp_path / "runs")) == [0, 1]
    sweep_dir = next((tmp_path / "runs" / "sweeps").iterdir())
    summary = json.loads((sweep_dir / S.SUMMARY_JSON).read_text())
    pids = {int(job["where"].rpartition(":")[2]) for job in summary["jobs"]}
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, neither of them this one
    # joblib's workers were started, with torch imported, while the sweep was expanded; one of them checked the
    # jobs (so this process need not import torch), and they ran the jobs. Other launchers: checked here.
    assert [sorted(w) for w in warmed] == [sorted(pids) if "joblib" in launcher[0] else []]
    assert int(checked_in.read_text()) in (pids if "joblib" in launcher[0] else {os.getpid()})
    assert (sweep_dir / S.SUMMARY_NAME).read_text().splitlines() == _summary(out)[:4]
    if "submitit" in launcher[0]:
        assert len(list((sweep_dir / ".submitit").glob("*/*_log.out"))) == 2  # each job's log


def test_a_job_refused_by_the_checks_in_a_joblib_worker_is_named_here(tmp_path, data_root, capsys, monkeypatch):
    """The checks run in a warmed worker (``Workers.plan``): their refusal is the same sentence, and no job starts."""
    checked_in = tmp_path / "checked-in"
    real_check = S.check_jobs

    def check_jobs(jobs):  # (pickled by value into the worker)
        checked_in.write_text(str(os.getpid()))
        return real_check(jobs)

    warmed: list[list[int]] = []
    real_warm = S.warm_workers

    @contextmanager
    def spy(hydra):
        with real_warm(hydra) as workers:
            warmed.append(workers.pids)
            yield workers

    monkeypatch.setattr(S, "check_jobs", check_jobs)
    monkeypatch.setattr(S, "warm_workers", spy)
    code, out, err = _run(capsys, "run", "-m", "task=spring", "model=gnn", "model.hparams.message_dim=2,1",
                          "scale=tiny", "sr=none", f"out={tmp_path / 'runs'}", f"data_dir={data_root}",
                          "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert "sweep job 'task=spring model=gnn model.hparams.message_dim=1 " in err
    assert "model.hparams.message_dim=1 is below the system's dimension task.dim=2" in err
    assert err.rstrip().endswith("no job was started") and not (tmp_path / "runs" / "spring").exists()
    assert int(checked_in.read_text()) in warmed[0] and os.getpid() not in warmed[0]  # refused in a worker
    assert all(_gone(pid) for pid in warmed[0])  # and the warmed workers were ended: no job will use them


def test_a_warmed_worker_exits_at_once_but_never_the_sweeping_process(monkeypatch):
    """``_exit_now`` (an exit without teardown, status 0) is registered in a worker only: where joblib runs the
    warm-up in the sweeping process itself, that process's exit status must stand."""
    import atexit

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(S, "WARM_MODULES", ())
    assert S._warm_worker(os.getpid()) == os.getpid() and registered == []
    S._warm_worker(os.getpid() + 1)
    assert registered == [S._exit_now]


def _leave_a_thread() -> int:
    import threading
    import time

    threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon: the worker cannot exit by itself
    return os.getpid()


def test_a_worker_that_does_not_exit_is_ended(monkeypatch):
    """A job that leaves a thread running keeps its worker alive: the sweep's end terminates it after the timeout
    instead of waiting for ever."""
    import time

    from joblib import Parallel, delayed

    pids = Parallel(n_jobs=2, backend="loky")(delayed(_leave_a_thread)() for _ in range(2))
    start = time.perf_counter()
    S._stop_joblib_workers(timeout=2)
    assert time.perf_counter() - start < 30
    assert all(_gone(pid) for pid in set(pids))


def _gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (and been reaped) within ``seconds``."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_an_interrupted_sweep_launched_again_finishes_only_what_is_missing(tmp_path, data_root, capsys, monkeypatch):
    """Job seed=1 is killed after its first epoch's checkpoint (a scheduler's time limit): launched again, the
    sweep skips seed=0, resumes seed=1 and runs seed=2; seed=1's record equals that of a run never interrupted.
    Launched a third time, it starts no job at all."""
    import bench.train

    save = bench.train._atomic_save
    killed = []

    def save_then_die(obj, path):
        save(obj, path)
        if path.name == "last.pt" and "seed1" in path.parent.name and not killed:
            killed.append(path)
            raise KeyboardInterrupt  # the process ends here, as under SIGTERM

    monkeypatch.setattr(bench.train, "_atomic_save", save_then_die)
    sweep = ["run", "-m", *_tiny(tmp_path, data_root, epochs=2), "seed=0,1,2"]
    code, out, _ = _run(capsys, *sweep)
    assert code == 130 and killed and "sweep finished" not in out
    first = (next((tmp_path / "runs").rglob("tiny-seed0-*")) / "result.json").read_bytes()
    assert sorted(_records(tmp_path / "runs")) == [0]

    code, out, err = _run(capsys, *sweep)
    assert code == 0, err
    summary = _summary(out)
    assert summary[0] == "sweep finished: 1 done, 1 resumed, 1 skipped, 0 failed"
    assert [line.split()[:2] for line in summary[2:5]] == [["seed=0", "skipped"], ["seed=1", "resumed"],
                                                          ["seed=2", "done"]]  # fmt: skip
    assert "(from its checkpoint after epoch 1)" in summary[3]
    assert (next((tmp_path / "runs").rglob("tiny-seed0-*")) / "result.json").read_bytes() == first  # untouched

    # launched a third time, on another launcher: every run is finished, no job is submitted
    code, out, _ = _run(capsys, *sweep, "hydra/launcher=submitit_local")
    assert code == 0 and "(3 finished before: skipped)" in out and "bench run" not in out
    assert _summary(out)[0] == "sweep finished: 0 done, 3 skipped, 0 failed"
    assert not list((tmp_path / "runs" / "sweeps").glob("*/.submitit"))

    reference = tmp_path / "reference"
    code, _, _ = _run(capsys, "run", *_tiny(reference, data_root, epochs=2), "seed=1")
    assert code == 0
    resumed, whole = _records(tmp_path / "runs")[1], _records(reference / "runs")[1]
    assert resumed["config_hash"] == whole["config_hash"] and resumed["metrics"] == whole["metrics"]
    assert resumed["predictions"]["sha256"] == whole["predictions"]["sha256"]
    assert [{k: v for k, v in h.items() if k != "time_s"} for h in resumed["training"]["history"]] == [
        {k: v for k, v in h.items() if k != "time_s"} for h in whole["training"]["history"]
    ]


@pytest.mark.slow  # Ray's start-up: tens of seconds
def test_a_sweep_on_a_local_ray_instance(tmp_path, data_root, capsys):
    """``hydra/launcher=ray`` without an address starts a Ray instance on this machine (``ray.init()``)."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="the cluster extra: pip install -e '.[cluster]'")
    import ray

    ray_init = [
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
    ]
    code, _, err = _run(capsys, "run", "-m", *_tiny(tmp_path, data_root), "seed=0", "hydra/launcher=ray",
                        "hydra.launcher.ray.init.num_cpus=2")  # fmt: skip
    assert code == 2 and "(hydra.launcher.ray.init is a free-form mapping: add a key to it with " in err
    try:
        code, out, err = _run(capsys, "run", "-m", *_tiny(tmp_path, data_root), "seed=0,1", *ray_init)
    finally:
        ray.shutdown()
    assert code == 0, err
    assert "launcher ray" in out and "sweep finished: 2 done, 0 failed" in out
    assert sorted(_records(tmp_path / "runs")) == [0, 1]
    summary = json.loads(next((tmp_path / "runs" / "sweeps").glob(f"*/{S.SUMMARY_JSON}")).read_text())
    assert os.getpid() not in {int(job["where"].rpartition(":")[2]) for job in summary["jobs"]}


def test_a_launcher_that_fails_is_a_failed_outcome_for_each_job(tmp_path, data_root, capsys):
    """submitit_slurm where there is no SLURM: the sweep still ends with its table, each job failed with why."""
    import shutil

    if shutil.which("srun"):
        pytest.skip("SLURM is here")
    code, out, err = _run(capsys, "run", "-m", *_tiny(tmp_path, data_root), "seed=0,1", "hydra/launcher=submitit_slurm")
    assert code == 1 and "error: the launcher stopped: " in err and "Traceback" not in err
    summary = _summary(out)
    assert summary[0] == "sweep finished: 0 done, 2 failed"
    assert all("  failed  the launcher stopped: " in line for line in summary[2:4])
    assert not list((tmp_path / "runs").rglob("result.json"))


def test_the_same_run_started_while_it_runs_elsewhere_is_refused(tmp_path, data_root, capsys):
    """Two workers never train into one run folder: a run holds its folder's lock (here, another thread holds it)."""
    import threading

    from bench.config import compose
    from bench.io import file_lock
    from bench.run import LOCK_NAME, run_dir
    from bench.tasks.data import generate_dataset

    tiny = [*_tiny(tmp_path, data_root), "seed=0"]
    cfg = compose(tiny)
    generate_dataset(cfg.task, "tiny", root=data_root, progress=False)
    folder = run_dir(cfg)
    held, release = threading.Event(), threading.Event()

    def hold():
        with file_lock(folder / LOCK_NAME):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(60)
    try:
        code, _, err = _run(capsys, "run", *tiny)
    finally:
        release.set()
        thread.join()
    assert code == 2 and f"the run folder {folder} (the same run, started elsewhere and still running) is in use" in err
    assert not (folder / "last.pt").exists() and not (folder / "result.json").exists()
    assert _run(capsys, "run", *tiny)[0] == 0  # once the other one is gone
