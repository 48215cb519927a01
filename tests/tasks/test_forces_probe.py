"""The force-law probe: right and wrong laws, component choice, robust fit, and its place in a record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.tasks.forces import ForceProbe


def _forces(n=4000, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 2))


def test_linear_messages_score_one_and_nonlinear_ones_do_not():
    F = _forces()
    noise = np.random.default_rng(1).standard_normal((len(F), 2)) * 1e-3
    good = ForceProbe()({"messages": F @ np.array([[1.0, -2.0], [0.5, 3.0]]) + noise, "pair_force": F})
    assert good["r2_robust"] > 0.9999 and good["r2_full"] > 0.9999
    bad = ForceProbe()({"messages": np.column_stack([F[:, 0] ** 2, np.tanh(3 * F[:, 1]) * F[:, 0]]), "pair_force": F})
    assert bad["r2_full"] < 0.5 and bad["r2_robust"] < 0.7


def test_chooses_largest_std_or_the_given_importance():
    F = _forces()
    messages = np.column_stack([F[:, 0] * 0.01, F @ [1.0, 1.0], F @ [2.0, -1.0], F[:, 1] * 0.02])
    assert sorted(c["component"] for c in ForceProbe()({"messages": messages, "pair_force": F})["components"]) == [1, 2]
    by_kl = ForceProbe()({"messages": messages, "pair_force": F, "importance": np.array([4.0, 0.0, 0.0, 3.0])})
    assert sorted(c["component"] for c in by_kl["components"]) == [0, 3]


def test_robust_fit_ignores_the_worst_ten_percent():
    F = _forces()
    y = F @ [1.0, 2.0]
    y[:200] += 50.0  # 5 % outliers
    result = ForceProbe()({"messages": np.column_stack([y, y * 0.5 + F[:, 0]]), "pair_force": F})
    assert result["r2_robust"] > 0.999 and result["r2_full"] < 0.9


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"must be \(E, k\), \(E, d\)"):
        ForceProbe()({"messages": np.zeros((5, 3)), "pair_force": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="fewer than d = 2"):
        ForceProbe()({"messages": np.zeros((5, 1)), "pair_force": np.zeros((5, 2))})


def test_runs_record_the_probe_figure_and_inputs(tmp_path, data_root):
    from bench.config import compose
    from bench.run import run

    cfg = compose(
        [
            "task=spring",
            "model=gnn-bottleneck",
            "scale=tiny",
            f"out={tmp_path}",
            f"data_dir={data_root}",
            "progress=false",
            "sr=none",
        ]
    )  # fmt: skip  (symbolic regression: test_forces_symbolic.py)
    path = run(cfg)
    record = json.loads(path.read_text())
    probe = record["analyses"]["force_probe"]
    assert record["metrics"]["force_r2_robust"] == probe["r2_robust"]
    assert (path.parent / probe["figure"]).stat().st_size > 1000
    inputs = np.load(path.parent / probe["inputs"])
    from bench.config import task_card
    from bench.tasks.data import generate_dataset

    test = generate_dataset(task_card("spring"), "tiny", root=data_root, progress=False).split("test")
    snapshots = min(2000, test["position"].shape[0] * test["position"].shape[1])
    assert inputs["messages"].shape == (snapshots * 12, 2) and inputs["pair_force"].shape == (snapshots * 12, 2)
    assert ForceProbe()(dict(inputs))["r2_robust"] == pytest.approx(probe["r2_robust"])
    # the probe's chosen messages are saved with the predictions; the evaluator re-scores the R² from them
    with np.load(path.parent / "predictions.npz") as z:
        chosen = z["edge_messages_pred"]
    columns = [c["component"] for c in probe["components"]]
    assert np.array_equal(chosen, inputs["messages"][:, columns].astype(np.float32))


def test_a_constant_message_scores_zero_not_nan():
    """A pruned or dead message component is constant: it explains none of the force."""
    from bench.tasks.forces.probe import ForceProbe

    rng = np.random.default_rng(0)
    force = rng.normal(size=(500, 2))
    messages = np.column_stack([force[:, 0] + force[:, 1], np.full(500, 0.3)])
    out = ForceProbe()({"messages": messages, "pair_force": force})
    r2 = {c["component"]: c["r2_full"] for c in out["components"]}
    assert r2[0] == pytest.approx(1.0) and r2[1] == 0.0
    assert np.isfinite(out["r2_robust"]) and out["r2_robust"] == pytest.approx(0.5)
