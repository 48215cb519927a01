"""What a force-task run measures beyond the test error: the force-law probe of its edge messages.

``analyse`` is the family's hook for the runner (``bench.run``): it gets the trained model and returns
extra metrics plus the analyses that go into the record's ``probes`` section, writing its files into
the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.io import atomic_write, save_npz
from bench.tasks.forces.probe import plot, probe_model

PROBE_NAME, PROBE_FIGURE = "probe.npz", "message_probe.png"


def analyse(model, data, backend, device, cfg, directory: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """Extra metrics and record analyses for a trained model (none for a model without edge messages)."""
    metrics: dict[str, float] = {}
    probes: dict[str, Any] = {}
    if "edge_messages" in type(model).capabilities():
        inputs, probe = probe_model(model, data, backend, device, seed=int(cfg.task.data_seed))
        metrics.update(force_r2_robust=probe["r2_robust"], force_r2_full=probe["r2_full"])
        atomic_write(directory / PROBE_NAME, lambda f: save_npz(f, inputs))
        plot(inputs, probe, directory / PROBE_FIGURE)
        probes["force_probe"] = {**probe, "inputs": PROBE_NAME, "figure": PROBE_FIGURE}
    return metrics, probes
