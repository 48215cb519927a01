"""The family H evaluator: type recovery from the learned interaction functions (UMAP → single linkage →
the reference's median mapping and the one-to-one matching), interaction RMSE, velocity and minimum-image
position errors; each metric shown failing where it must, the reference mapping's fragility, non-finite
predictions and the input checks.

UMAP is slow to start (numba compiles it once per process) and slow on exact duplicates with a large
n_neighbors: the official settings run once, on 150 particles; the other UMAP calls use small settings."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bench.tasks.heterogeneous.evaluator import (
    HORIZONS,
    Evaluator,
    cluster,
    interaction_rmse,
    matched_mapping,
    min_image,
    reference_mapping,
    type_scores,
    umap_projection,
)

K, R, SIGMA, RADIUS = 3, 1000, 0.005, 0.075
PARAMS = np.array(
    [[1.6233, 1.0413, 1.6012, 1.5615], [1.7667, 1.8308, 1.0855, 1.9055], [1.7226, 1.7850, 1.0584, 1.8579]]
)
"""``arbitrary_3``'s three types (p0, p1, p2, p3)."""
R_GRID = np.linspace(0.0, RADIUS, R)
CARD = SimpleNamespace(name="arbitrary_3_test", n_particles=4800, dim=2, n_types=K)


def psi(params: np.ndarray) -> np.ndarray:
    """ψ(r) = r f_p(r) on ``R_GRID`` for each row of ``params`` (N, 4) → (N, R) (exponents on r²)."""
    r2 = R_GRID[None, :] ** 2
    with np.errstate(divide="ignore"):
        log_r2 = np.log(r2)
    p = params[:, :, None]
    f = p[:, 0] * np.exp(-np.exp(p[:, 1] * log_r2) / (2 * SIGMA**2)) - p[:, 2] * np.exp(
        -np.exp(p[:, 3] * log_r2) / (2 * SIGMA**2)
    )
    return R_GRID[None, :] * f


def _types(per_type: int) -> np.ndarray:
    return np.repeat(np.arange(K), per_type)


def _inputs(pred_psi: np.ndarray, types: np.ndarray, **extra) -> dict:
    """A complete input: true ψ of the types, perfect velocities and positions unless ``extra`` says otherwise."""
    N = types.size
    rng = np.random.default_rng(0)
    v = rng.normal(0.0, 0.01, (4, N, 2))
    x = rng.random((3, N, 2))
    base = {"interaction_pred": pred_psi, "interaction_true": psi(PARAMS[types]), "types_true": types,
            "velocity_pred": v, "velocity_true": v, "position_pred": x, "position_true": x,
            "rollout_steps": np.array([1, 10, 50]), "box": np.array(1.0), "velocity_scale": np.array(0.02)}  # fmt: skip
    return base | extra


@pytest.fixture(scope="module")
def ev() -> Evaluator:
    return Evaluator(CARD)


@pytest.fixture(scope="module")
def perfect(ev) -> dict[str, float]:
    """The official settings on the true functions of 3 × 50 particles, with well-separated embeddings."""
    types = _types(50)
    embedding = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 1.0]])[types]
    return ev(_inputs(psi(PARAMS[types]), types, embedding_pred=embedding))


def test_the_true_functions_score_perfectly(perfect):
    assert perfect["type_accuracy"] == perfect["type_accuracy_matched"] == 1.0
    assert perfect["cluster_count_error"] == 0.0
    assert perfect["embedding_accuracy"] == perfect["embedding_accuracy_matched"] == 1.0
    assert perfect["embedding_cluster_count_error"] == 0.0
    assert perfect["interaction_rmse"] == perfect["interaction_rmse_std"] == 0.0
    assert perfect["velocity_rmse"] == perfect["velocity_rmse_relative"] == 0.0
    assert perfect["position_rmse_h1"] == perfect["position_rmse_h10"] == perfect["position_rmse_h50"] == 0.0
    assert all(type(v) is float for v in perfect.values())


def test_every_output_has_a_row_and_the_contract_prints(ev, perfect):
    table = ev.table_of(perfect)  # raises on a metric without a row
    assert table["type_accuracy"]["direction"] == "higher" and table["position_rmse_h50"]["units"] == "box lengths"
    text = repr(ev)
    for name in ("interaction_pred", "embedding_pred", "rollout_steps", "velocity_scale", "type_accuracy"):
        assert name in text
    assert HORIZONS == (1, 10, 50, 100, 250)


def test_one_shared_function_cannot_tell_the_types_apart(ev):
    """Every particle gets the mean of the three true functions: one cluster (no UMAP: identical rows). The
    reference mapping gives it to the last type, the matching to one type: a third right either way."""
    types = _types(100)
    true = psi(PARAMS[types])
    shared = np.repeat(psi(PARAMS).mean(axis=0, keepdims=True), types.size, axis=0)
    out = ev(_inputs(shared, types, embedding_pred=np.ones((types.size, 2))))
    assert out["type_accuracy"] == pytest.approx(1 / 3) and out["type_accuracy_matched"] == pytest.approx(1 / 3)
    assert out["cluster_count_error"] == 2.0 and out["embedding_cluster_count_error"] == 2.0
    assert out["embedding_accuracy_matched"] == pytest.approx(1 / 3)
    per_particle = np.sqrt(((shared - true) ** 2).mean(axis=1))
    assert out["interaction_rmse"] == pytest.approx(per_particle.mean(), rel=1e-12)
    assert out["interaction_rmse_std"] == pytest.approx(per_particle.std(), rel=1e-12)
    assert out["interaction_rmse"] > 1e-3
    assert "embedding_accuracy" in out
    assert "embedding_accuracy" not in ev(_inputs(shared, types))  # no embedding: no embedding metrics


def test_splitting_every_type_in_two_halves_the_matched_accuracy():
    """Six far-apart groups of 50, two per type: six clusters, three matched (half the particles)."""
    types = _types(100)
    half = np.tile(np.repeat([0, 1], 50), K)
    points = np.stack([types * 10.0, half * 10.0], axis=1)
    scores = type_scores(points / 30.0, types, K)
    assert scores["n_clusters"] == 6.0 and scores["accuracy_matched"] == 0.5
    # the same through UMAP (small settings; fit on 200 rows, transform all 300): six clusters survive
    profiles = psi(PARAMS[types]) * (1.0 + half)[:, None]
    projected = umap_projection(profiles, n_neighbors=15, n_fit=200)
    assert projected.shape == (300, 2) and projected.min() == 0.0 and projected.max() == pytest.approx(1.0)
    scores = type_scores(projected, types, K)
    assert scores["n_clusters"] == 6.0 and scores["accuracy_matched"] == 0.5


def test_the_reference_mapping_is_fragile():
    """Type 0 split over clusters 0 and 2 claims cluster 1 (the median id), which is type 1's: type 1 then
    overwrites it, and type 0 scores nothing. The matching gives cluster 0 to type 0."""
    types = _types(100)
    labels = np.concatenate([np.repeat([0, 2], 50), np.full(100, 1), np.full(100, 3)])
    ref, matched = reference_mapping(labels, types, K), matched_mapping(labels, types, K)
    assert (ref == types).mean() == pytest.approx(2 / 3)
    assert (matched == types).mean() == pytest.approx(5 / 6)
    assert (ref[:100] == K).all()  # type 0: all unmatched
    assert set(matched[:100].tolist()) == {0, K}  # one of its clusters matched, the other left over
    # two types in one cluster: the later one takes it
    labels = np.concatenate([np.zeros(200, dtype=int), np.ones(100, dtype=int)])
    assert (reference_mapping(labels, types, K)[:200] == 1).all()


def test_mappings_on_a_perfect_clustering_with_arbitrary_ids():
    types = _types(10)
    labels = np.array([7, 3, 5])[types]
    assert (reference_mapping(labels, types, K) == types).all()
    assert (matched_mapping(labels, types, K) == types).all()


def test_cluster_edge_cases():
    assert cluster(np.zeros((1, 2))).tolist() == [0]
    assert cluster(np.ones((5, 2))).tolist() == [0] * 5
    assert cluster(np.zeros((0, 2))).size == 0
    labels = cluster(np.array([[0.0, 0.0], [0.005, 0.0], [1.0, 1.0]]))
    assert labels[0] == labels[1] != labels[2] and labels.min() == 0
    with pytest.raises(ValueError, match="non-finite"):
        cluster(np.array([[0.0, np.nan], [1.0, 1.0]]))


def test_small_and_degenerate_projections():
    assert (umap_projection(np.ones((20, 5))) == 0).all()  # identical rows: zeros, no UMAP
    rows = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [np.nan, 0.0, 0.0]])
    projected = umap_projection(rows)  # fewer than 10 rows: principal components
    assert np.isnan(projected[3]).all() and np.isfinite(projected[:3]).all()
    assert projected[:3].min() == 0.0 and projected[:3].max() == pytest.approx(1.0)


def test_interaction_rmse_grows_with_the_error():
    true = psi(PARAMS[_types(4)])
    offsets = np.linspace(0.0, 0.03, 12)
    assert interaction_rmse(true + 0.01, true) == pytest.approx(np.full(12, 0.01), rel=1e-9)
    assert interaction_rmse(true + offsets[:, None], true) == pytest.approx(offsets, rel=1e-9, abs=1e-15)
    noisy = true + np.random.default_rng(0).normal(0.0, 0.002, true.shape)
    assert interaction_rmse(noisy, true) == pytest.approx(np.full(12, 0.002), rel=0.1)
    bad = true.copy()
    bad[2, 5] = np.nan
    assert np.isinf(interaction_rmse(bad, true)[2]) and np.isfinite(interaction_rmse(bad, true)[[0, 1, 3]]).all()


def test_velocity_and_minimum_image_position_errors(ev):
    types = _types(20)
    shared = np.repeat(psi(PARAMS[:1]), types.size, axis=0)  # identical rows: no UMAP
    base = _inputs(shared, types)
    v_pred = base["velocity_true"] + np.array([0.03, 0.04])  # per component: RMS of (0.03, 0.04) = 0.05 / sqrt(2)
    x_pred = base["position_true"].copy()
    x_pred[0] += np.array([1.0, -1.0])  # off by one box length: no error
    x_pred[1, :, 0] += 2.1  # off by two boxes and 0.1: error 0.1
    x_pred[2, :10] += np.array([0.0, 0.6])  # half off by 0.6: min image −0.4
    out = ev(base | {"velocity_pred": v_pred, "position_pred": x_pred})
    assert out["velocity_rmse"] == pytest.approx(0.05 / np.sqrt(2))
    assert out["velocity_rmse_relative"] == pytest.approx(2.5 / np.sqrt(2))
    assert out["position_rmse_h1"] == pytest.approx(0.0, abs=1e-12)
    assert out["position_rmse_h10"] == pytest.approx(0.1)
    assert out["position_rmse_h50"] == pytest.approx(np.sqrt(0.4**2 / 6))
    assert min_image(np.array([0.5 + 1e-9, -0.7, 3.2]), 1.0) == pytest.approx([-0.5 + 1e-9, 0.3, 0.2])
    # the steps come from the input: a run shorter than 50 steps reports 1 and 10 only
    short = base | {"position_pred": x_pred[:2], "position_true": base["position_true"][:2], "rollout_steps": [1, 10]}
    assert {k for k in ev(short) if k.startswith("position")} == {"position_rmse_h1", "position_rmse_h10"}


def test_non_finite_predictions_score_and_never_raise(ev):
    types = _types(20)
    shared = np.repeat(psi(PARAMS[:1]), types.size, axis=0)
    shared[-1, 3] = np.inf  # a type-2 particle's function blows up
    base = _inputs(shared, types, embedding_pred=np.ones((types.size, 2)))
    v_pred, x_pred = base["velocity_true"].copy(), base["position_true"].copy()
    v_pred[0, 0, 0] = np.nan
    x_pred[2, 5, 1] = np.inf
    base["embedding_pred"][0, 0] = np.nan
    out = ev(base | {"velocity_pred": v_pred, "position_pred": x_pred})
    assert np.isinf(out["interaction_rmse"]) and np.isinf(out["interaction_rmse_std"])
    assert out["type_accuracy"] == pytest.approx(19 / 60)  # one cluster to type 2, which lost a particle
    assert out["cluster_count_error"] == 2.0 and out["embedding_cluster_count_error"] == 2.0
    assert out["embedding_accuracy_matched"] == pytest.approx(20 / 60)  # type 0 lost one, but the matching holds
    assert np.isinf(out["velocity_rmse"]) and np.isinf(out["velocity_rmse_relative"])
    assert np.isinf(out["position_rmse_h50"]) and out["position_rmse_h1"] == 0.0
    assert all(not np.isnan(v) for v in out.values())


def test_the_inputs_are_checked(ev):
    types = _types(10)
    good = _inputs(psi(PARAMS[types]), types)
    cases = [
        ({"types_true": None}, r"missing input 'types_true'"),
        (
            {"interaction_pred": good["interaction_pred"][:, :-1]},
            r"interaction_pred has shape \(30, 999\); expected \(30, 1000\)",
        ),
        ({"interaction_true": good["interaction_true"][0]}, r"interaction_true has shape \(1000,\); expected \(N, R\)"),
        ({"types_true": types[:-1]}, r"types_true has shape \(29,\); expected \(30,\)"),
        ({"types_true": types + 1}, r"types_true holds 3; expected types \(integers\) in 0..2"),
        ({"embedding_pred": np.zeros((29, 2))}, r"embedding_pred has shape \(29, 2\); expected \(30, k\)"),
        (
            {"velocity_pred": good["velocity_pred"][:2]},
            r"velocity_pred has shape \(2, 30, 2\), velocity_true \(4, 30, 2\)",
        ),
        (
            {"velocity_true": good["velocity_true"][..., :1]},
            r"velocity_true has shape \(4, 30, 1\); expected \(S, 30, 2\)",
        ),
        ({"position_pred": good["position_pred"][:2]}, r"position_pred has shape \(2, 30, 2\); expected \(3, 30, 2\)"),
        ({"rollout_steps": [1, 10, 10]}, r"rollout_steps is \[1.0, 10.0, 10.0\]; expected distinct integers"),
        ({"box": np.ones(2)}, r"box has shape \(2,\); expected a scalar or \(1,\)"),
        ({"velocity_scale": 0.0}, r"velocity_scale is 0.0; expected a positive number"),
        ({"interaction_true": np.full((30, 1000), np.nan)}, r"interaction_true has 30000 non-finite values"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            ev(good | change)


def test_scores_are_deterministic():
    """Two calls, same numbers (small UMAP settings on jittered parameters, fit on 200 of 300 rows)."""
    local = Evaluator(CARD)
    local.n_neighbors, local.n_fit = 15, 200
    types = _types(100)
    jittered = psi(PARAMS[types] + np.random.default_rng(3).normal(0.0, 0.01, (types.size, 4)))
    inputs = _inputs(jittered, types, embedding_pred=np.random.default_rng(4).normal(size=(types.size, 2)))
    first, second = local(inputs), local(inputs)
    assert first == second
    # the reference mapping is a partial one-to-one map of clusters to types: never above the best one
    assert 0.0 <= first["type_accuracy"] <= first["type_accuracy_matched"] <= 1.0
    assert first["embedding_accuracy"] <= first["embedding_accuracy_matched"]
