"""asv: peak memory (``peakmem_*``: the largest resident set of the benchmark's process) of the README's first
command and of one paper-scale run of each task family.

The runs are cut short where memory no longer grows. A run holds its whole dataset, its model and its optimiser
from the first step, and its graphs have the same size at every step. So the training loop stops after
``STEPS`` steps of one epoch; everything else is as a user runs it. The first command keeps its default
symbolic regression (an operon population in memory); the paper-scale runs skip it (``sr=none``, where the
family has it). Datasets are generated once, in ``setup_cache`` (paper scale takes minutes: a timeout of an hour).
Their generation is not part of the figure; ``benchmarks/simulator_speed.py`` times it. With the environment
variable ``BENCH_ASV_DATA=DIR`` the datasets are kept in DIR instead (made there once, verified by their
checksums on later runs), so that a rerun does not generate the paper-scale datasets again.
"""

from __future__ import annotations

import os
import tempfile

STEPS = 20
"""Training steps of the cut-short runs."""

FIRST_COMMAND = ["task=charge", "model=egnn"]
"""The README's first command (``bench run task=charge model=egnn``): its defaults, scale quick."""

PAPER_RUNS = {
    "forces": ["task=charge", "model=gnn", "sr=none"],
    "nbody": ["task=nbody5", "model=egnn"],
    "relational": ["task=springs5", "model=nri"],
    "heterogeneous": ["task=types3", "model=embedding-gnn"],
}
"""One paper-scale run per family: its reference model on its reference task."""


def overrides(run: list[str], scale: str | None, data_dir: str, out: str) -> list[str]:
    """``bench run`` overrides of a cut-short run of ``run`` at ``scale`` (None: the default scale)."""
    scale_overrides = [] if scale is None else [f"scale={scale}"]
    return [*run, *scale_overrides, "scale.epochs=1", f"scale.max_steps_per_epoch={STEPS}", "progress=false",
            "threads=1", f"data_dir={data_dir}", f"out={out}"]  # fmt: skip


def data_dir(default: str) -> str:
    """Where ``setup_cache`` keeps its datasets: ``$BENCH_ASV_DATA`` when set (a relative path is taken from the
    repository root, ``$ASV_CONF_DIR``, not from the temporary folder asv runs ``setup_cache`` in), else
    ``default`` (in that temporary folder, which asv removes after the run)."""
    kept = os.environ.get("BENCH_ASV_DATA")
    if not kept:
        return os.path.abspath(default)
    kept = os.path.expanduser(kept)
    return os.path.abspath(os.path.join(os.environ.get("ASV_CONF_DIR") or os.getcwd(), kept))


def generate(run: list[str], scale: str | None, data_dir: str) -> None:
    """The run's dataset, in ``data_dir``."""
    from bench.config import compose
    from bench.tasks.data import generate_dataset

    cfg = compose(overrides(run, scale, data_dir, data_dir))
    generate_dataset(cfg.task, str(cfg.scale.name), root=data_dir, progress=False)


def cut_short_run(run: list[str], scale: str | None, data_dir: str) -> dict:
    """Train ``STEPS`` steps, predict, evaluate and record, in a fresh output folder; returns the record."""
    import json

    from bench.config import compose
    from bench.run import run as bench_run

    with tempfile.TemporaryDirectory() as out:
        return json.loads(bench_run(compose(overrides(run, scale, data_dir, out))).read_text())


class FirstCommand:
    timeout = 1800

    def setup_cache(self):
        root = data_dir("data-first-command")
        generate(FIRST_COMMAND, None, root)
        return root

    def peakmem_first_command(self, data_dir):
        cut_short_run(FIRST_COMMAND, None, data_dir)


class PaperRun:
    params = list(PAPER_RUNS)
    param_names = ["family"]
    timeout = 3600

    def setup_cache(self):
        root = data_dir("data-paper")
        for run in PAPER_RUNS.values():
            generate(run, "paper", root)
        return root

    def peakmem_paper_run(self, data_dir, family):
        cut_short_run(PAPER_RUNS[family], "paper", data_dir)
