"""The family R evaluator: edge accuracy under one relabelling, raw accuracy, AUROC, rollout MSE in
normalised and physical units; each metric shown failing where it must, and the input checks."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from bench.config import task_card
from bench.tasks.relational.evaluator import Evaluator, auroc

S, N, E, K, H, F = 2000, 5, 20, 2, 3, 4  # springs5: 5 particles, 20 ordered pairs, steps 1/10/20, state (x, y, vx, vy)


@pytest.fixture(scope="module")
def ev() -> Evaluator:
    return Evaluator(task_card("springs5"))


def _labels(share_of_one: float = 0.5, seed: int = 0, samples: int = S) -> np.ndarray:
    return (np.random.default_rng(seed).random((samples, E)) < share_of_one).astype(np.int64)


def _onehot(types: np.ndarray, confidence: float = 1.0) -> np.ndarray:
    prob = np.full((*types.shape, K), (1 - confidence) / (K - 1))
    np.put_along_axis(prob, types[..., None], confidence, axis=-1)
    return prob


def _inputs(prob, labels, pred=None, true=None, scale=None) -> dict:
    samples = len(labels)
    true = np.zeros((samples, H, N, F)) if true is None else true
    return {"edge_prob_pred": prob, "edges_true": labels, "state_pred": true if pred is None else pred,
            "state_true": true, "feature_scale": np.ones(F) if scale is None else scale}  # fmt: skip


def test_a_perfect_posterior_scores_one(ev):
    labels = _labels()
    for confidence in (1.0, 0.6):  # a barely confident but right posterior ranks perfectly too
        out = ev(_inputs(_onehot(labels, confidence), labels))
        assert out["edge_accuracy"] == out["edge_accuracy_raw"] == out["edge_auroc"] == 1.0
        assert out["mse_h1"] == out["mse_h20"] == out["position_mse_h10"] == 0.0


def test_a_random_posterior_scores_chance(ev):
    rng = np.random.default_rng(1)
    labels = _labels(0.3)
    p1 = rng.random((S, E))
    out = ev(_inputs(np.stack([1 - p1, p1], axis=-1), labels))
    assert out["edge_accuracy"] == pytest.approx(0.5, abs=0.015)  # S·E = 40,000 edges: std 0.0025
    assert out["edge_accuracy"] >= out["edge_accuracy_raw"]
    assert out["edge_auroc"] == pytest.approx(0.5, abs=0.015)


def test_a_uniform_posterior_scores_the_largest_class_share(ev):
    """A model that infers no graph: every argmax is type 0 (ties go low); relabelled, the majority type."""
    labels = _labels(0.7)
    share = labels.mean()
    out = ev(_inputs(np.full((S, E, K), 0.5), labels))
    assert out["edge_accuracy_raw"] == pytest.approx(1 - share)
    assert out["edge_accuracy"] == pytest.approx(share) and share > 0.68
    assert out["edge_auroc"] == 0.5  # every score tied


def test_swapped_types_are_relabelled(ev):
    labels = _labels()
    out = ev(_inputs(_onehot(1 - labels, 0.9), labels))
    assert out["edge_accuracy_raw"] == 0.0
    assert out["edge_accuracy"] == 1.0 and out["edge_auroc"] == 1.0  # AUROC of type 0's posterior


def test_one_relabelling_for_the_whole_test_set(ev):
    """Half the samples right, the other half (the same systems) with the types swapped: no single
    relabelling fits both halves, so the score is one half, not the 1 a per-sample relabelling would give."""
    labels = np.concatenate([_labels(samples=S // 2)] * 2)
    types = labels.copy()
    types[S // 2 :] = 1 - types[S // 2 :]
    out = ev(_inputs(_onehot(types, 0.8), labels))
    assert out["edge_accuracy"] == out["edge_accuracy_raw"] == 0.5
    assert out["edge_auroc"] == 0.5
    # with a small majority of right samples the identity wins, and the swapped ones count as wrong
    types[S // 2 : S // 2 + 100] = labels[S // 2 : S // 2 + 100]
    out = ev(_inputs(_onehot(types, 0.8), labels))
    assert out["edge_accuracy"] == out["edge_accuracy_raw"] == pytest.approx(0.55)


def test_auroc_matches_sklearn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    score = rng.integers(0, 7, 5000) / 6.0  # many ties
    positive = rng.random(5000) < score * 0.6 + 0.1
    assert auroc(score, positive) == pytest.approx(metrics.roc_auc_score(positive, score), abs=1e-12)
    assert auroc(-score, positive) == pytest.approx(1 - auroc(score, positive), abs=1e-12)


def test_one_class_only_gives_nan_auroc(ev):
    labels = np.zeros((10, E), dtype=np.int64)
    out = ev(_inputs(_onehot(labels, 0.7), labels))
    assert np.isnan(out["edge_auroc"]) and out["edge_accuracy"] == 1.0


def test_rollout_mse_is_the_hand_computation(ev):
    rng = np.random.default_rng(3)
    samples = 7
    labels = _labels(samples=samples)
    true = rng.normal(size=(samples, H, N, F))
    pred = true + rng.normal(size=true.shape) * np.linspace(0.1, 2.0, H)[None, :, None, None]
    scale = np.array([2.0, 2.0, 0.5, 0.5])  # one range for positions, one for velocities (NRI)
    out = ev(_inputs(_onehot(labels), labels, pred, true, scale))
    for frame, k in enumerate((1, 10, 20)):  # the scored steps, in order: frames 50, 59, 69
        total = sum((pred[s, frame, i, f] - true[s, frame, i, f]) ** 2
                    for s in range(samples) for i in range(N) for f in range(F))  # fmt: skip
        assert out[f"mse_h{k}"] == pytest.approx(total / (samples * N * F), rel=1e-12)
        err = pred[:, frame] - true[:, frame]
        assert out[f"position_mse_h{k}"] == pytest.approx(4.0 * (err[..., :2] ** 2).mean(), rel=1e-12)
        assert out[f"velocity_mse_h{k}"] == pytest.approx(0.25 * (err[..., 2:] ** 2).mean(), rel=1e-12)
    assert out["mse_h1"] < out["mse_h10"] < out["mse_h20"]
    assert not any(k.startswith("mse_h") and k not in ("mse_h1", "mse_h10", "mse_h20") for k in out)


def test_physical_units_are_normalised_times_scale_squared(ev):
    """The same error in every feature: each physical MSE is the normalised MSE times its feature's scale²."""
    labels = _labels(samples=4)
    true = np.zeros((4, H, N, F))
    pred = true + 0.3
    scale = np.array([3.0, 3.0, 0.2, 0.2])
    out = ev(_inputs(_onehot(labels), labels, pred, true, scale))
    assert out["mse_h10"] == pytest.approx(0.09)
    assert out["position_mse_h10"] == pytest.approx(0.09 * 9.0)
    assert out["velocity_mse_h10"] == pytest.approx(0.09 * 0.04)


def test_kuramoto_reports_its_own_feature_groups():
    ev = Evaluator("kuramoto5")
    labels = _labels(samples=3)
    true = np.zeros((3, H, N, 3))
    pred = true.copy()
    pred[..., 0], pred[..., 1], pred[..., 2] = 0.1, 0.2, 5.0  # ω's error enters mse_h{k} only
    out = ev({"edge_prob_pred": _onehot(labels), "edges_true": labels, "state_pred": pred, "state_true": true,
              "feature_scale": np.array([10.0, 1.0, 4.5])})  # fmt: skip
    assert out["mse_h1"] == pytest.approx((0.01 + 0.04 + 25.0) / 3)
    assert out["dphi_dt_mse_h1"] == pytest.approx(0.01 * 100) and out["sin_phi_mse_h20"] == pytest.approx(0.04)
    assert not any(k.startswith(("position", "velocity")) for k in out)


def test_only_horizons_within_the_tasks_are_reported():
    ev = Evaluator(OmegaConf.merge(task_card("springs5"), {"horizon": 5}))
    labels = _labels(samples=2)
    assert ev.steps == (1,)
    z = np.zeros((2, 1, N, F))
    out = ev({"edge_prob_pred": _onehot(labels), "edges_true": labels, "state_pred": z, "state_true": z,
              "feature_scale": np.ones(F)})  # fmt: skip
    assert sorted(k for k in out if "mse" in k) == ["mse_h1", "position_mse_h1", "velocity_mse_h1"]


@pytest.mark.parametrize("task", ["springs5", "charged10", "kuramoto5"])
def test_the_metric_table_covers_every_metric_with_its_direction(task):
    ev = Evaluator(task)
    n, f = ev.n, ev.n_features
    labels = np.random.default_rng(4).integers(0, K, (3, n * (n - 1)))
    z = np.zeros((3, H, n, f))
    out = ev({"edge_prob_pred": _onehot(labels, 0.7), "edges_true": labels, "state_pred": z, "state_true": z,
              "feature_scale": np.ones(f)})  # fmt: skip
    table = ev.table_of(out)
    assert set(table) == set(out) and all(isinstance(v, float) for v in out.values())
    for name, row in table.items():
        want = "higher" if name.startswith("edge_") else "lower"
        assert row["direction"] == want, name
    assert ev.card.primary_metric == "edge_accuracy" and ev.metric("edge_accuracy").direction == "higher"
    assert "mse_h" in repr(ev) and f"(S, {n * (n - 1)}, 2)" in repr(ev)


def _good(samples: int = 3) -> dict:
    labels = _labels(samples=samples)
    return _inputs(_onehot(labels, 0.8), labels)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("edge_prob_pred", np.full((3, E), 0.5), r"edge_prob_pred has shape \(3, 20\); expected \(S, 20, 2\)"),
        ("edge_prob_pred", np.full((3, 12, K), 0.5), r"edge_prob_pred has shape \(3, 12, 2\); expected \(S, 20, 2\)"),
        ("edges_true", np.zeros((3, E, 1)), r"edges_true has shape \(3, 20, 1\); expected \(S, 20\)"),
        ("state_pred", np.zeros((3, 20, N, F)), r"state_pred has shape \(3, 20, 5, 4\); expected \(S, 3, 5, 4\)"),
        ("state_true", np.zeros((3, H, N, 3)), r"state_true has shape \(3, 3, 5, 3\); expected \(S, 3, 5, 4\)"),
        ("feature_scale", np.ones(3), r"feature_scale has shape \(3,\); expected \(4,\)"),
        ("feature_scale", np.array([1.0, 1.0, 0.0, 1.0]), "feature_scale is .*; expected positive values"),
        ("state_pred", np.zeros((2, H, N, F)), "state_pred holds 2 samples, edge_prob_pred 3; they must match"),
        ("edges_true", np.full((3, E), 2), "edges_true holds 2; expected edge types"),
        ("edges_true", np.full((3, E), 0.5), r"edges_true holds 0.5; expected edge types \(integers\) in 0..1"),
        ("edge_prob_pred", np.random.default_rng(0).normal(size=(3, E, K)),
         r"edge_prob_pred is not a posterior.*\(the softmax, not logits\)"),
        ("state_true", None, "missing input 'state_true'"),
        ("edge_prob_pred", "abc", "edge_prob_pred is not a numeric array"),
    ],
)  # fmt: skip
def test_bad_inputs_are_rejected_by_name(ev, name, value, message):
    inputs = {**_good(), name: value}
    with pytest.raises(ValueError, match=message) as e:
        ev(inputs)
    assert str(e.value).startswith("Evaluator('springs5'): ")


@pytest.mark.parametrize("name", ["edge_prob_pred", "edges_true", "state_true", "feature_scale"])
def test_non_finite_inputs_are_rejected_by_name(ev, name):
    inputs = _good()
    bad = np.array(inputs[name], dtype=np.float64)
    bad.reshape(-1)[1] = np.nan
    with pytest.raises(ValueError, match=f"{name} has 1 non-finite values"):
        ev({**inputs, name: bad})


def test_a_rollout_that_blows_up_scores_an_infinite_error(ev):
    """A model's rollout may diverge: its MSE is infinite from that step on, the edge metrics stand."""
    inputs = _good()
    pred = np.array(inputs["state_pred"], dtype=np.float64)
    pred[0, 1:] = np.nan  # blown up by step 10
    pred[1, 2:] = np.inf
    out = ev({**inputs, "state_pred": pred})
    good = ev(inputs)
    assert out["mse_h1"] == good["mse_h1"] and np.isinf(out["mse_h10"]) and np.isinf(out["mse_h20"])
    assert np.isinf(out["position_mse_h10"]) and out["edge_accuracy"] == good["edge_accuracy"]


def test_the_familys_truth_arrays_are_what_it_reads(data_root):
    """A tiny springs5 dataset: the family's true arrays, a uniform posterior and a rollout that repeats the
    last observed frame (the static baselines) score chance and the copy's error."""
    from bench.family import get_family
    from bench.tasks import data as D

    card = task_card("springs5")
    family = get_family("relational")
    data = family.load(D.generate_dataset(card, "tiny", root=data_root, progress=False), card)
    truth = family.truth(card, data, ("edge_prob_pred", "state_pred"))
    S = truth["edges_true"].shape[0]
    last = data.splits["test"]["state"][:, :, data.observed("test") - 1].numpy()  # frame 49, (S, n, F)
    static = np.repeat(last[:, None], H, axis=1)  # the same frame at every scored step
    out = family.evaluator(card)({"edge_prob_pred": np.full((S, E, K), 0.5, np.float32), "state_pred": static,
                                  **truth})  # fmt: skip
    share = truth["edges_true"].mean()
    assert out["edge_accuracy"] == pytest.approx(max(share, 1 - share)) and out["edge_auroc"] == 0.5
    assert np.array_equal(truth["state_true"][:, 1], data.future("test")[:, 9])  # step 10: frame 59
    err = static[:, 1] - truth["state_true"][:, 1]
    assert out["mse_h10"] == pytest.approx((err.astype(np.float64) ** 2).mean(), rel=1e-6)
    assert out["position_mse_h10"] == pytest.approx(
        ((err[..., :2] * truth["feature_scale"][:2]).astype(np.float64) ** 2).mean(), rel=1e-6)  # fmt: skip
    assert 0 < out["mse_h1"] < out["mse_h20"]
