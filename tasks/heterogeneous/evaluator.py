"""Official evaluator of family H (Allier et al. 2024): whether the learned per-particle interaction
functions ψ_i(r) recover the hidden particle types (UMAP → min–max → single linkage → clusters mapped to
types, as the reference's ``sparsify_cluster``, plus an optimal one-to-one mapping) and the true functions
(RMSE per particle), the one-step velocity error and the rollout's minimum-image position error."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench.evaluation import TaskEvaluator
from bench.family import Metric

HORIZONS = (1, 10, 50, 100, 250)
"""The rollout steps reported (of the 250 of the held-out run); those beyond the run are left out. The
evaluator scores the steps it is given (``rollout_steps``)."""

UMAP_NEIGHBORS, UMAP_FIT, UMAP_SEED = 500, 1000, 0
"""The reference's UMAP of the profiles: ``n_neighbors`` 500, fitted on 1000 random profiles, a fixed seed."""

CLUSTER_THRESHOLD = 0.01
"""Single-linkage distance threshold on the min–max normalised points (``cluster_distance_threshold``)."""


def minmax(points: np.ndarray) -> np.ndarray:
    """``points`` min–max normalised globally (one min, one max over the finite values of the whole array),
    as the reference: ``(p − min) / (max − min + 1e-10)``; non-finite values stay NaN."""
    p = np.array(points, dtype=np.float64)
    finite = np.isfinite(p)
    p[~finite] = np.nan
    if not finite.any():
        return p
    lo, hi = p[finite].min(), p[finite].max()
    return (p - lo) / (hi - lo + 1e-10)


def umap_projection(
    profiles: np.ndarray, n_neighbors: int = UMAP_NEIGHBORS, n_fit: int = UMAP_FIT, seed: int = UMAP_SEED
) -> np.ndarray:
    """The 2-D UMAP of the per-particle ``profiles`` (N, R), min–max normalised: (N, 2) in [0, 1].

    As Allier et al.: ``umap.UMAP(n_neighbors=min(n_neighbors, n_fit' − 1), n_components=2,
    random_state=seed)`` fitted on the n_fit' = min(n_fit, N) rows ``default_rng(seed).permutation(N)[:n_fit]``,
    then ``transform`` of all N rows, then one global min and max over the (N, 2) result. Deterministic.

    Rows with a non-finite value are left out of the fit and come back as NaN rows. Degenerate cases skip
    UMAP: (numerically) identical finite rows → zeros; fewer than 10 finite rows → their first two principal
    components (numpy SVD), min–max normalised. UMAP's warnings are silenced.

    Cost: numba compiles UMAP once per process (~15–20 s). The layout is slowest for a *good* model: exact or
    near-duplicate profiles within a type weigh every one of the ~n_fit × n_neighbors edges fully, so all are
    sampled in each of the 500 epochs (measured on 2 busy cores: 1.5 min at N = 960 and 2.3 min at N = 4800
    for perfect profiles, against 9 s and 25 s for random ones).
    """
    x = np.asarray(profiles, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"umap_projection: profiles has shape {x.shape}; expected (N, R)")
    N = x.shape[0]
    out = np.full((N, 2), np.nan)
    finite = np.isfinite(x).all(axis=1)
    rows = x[finite]
    n = rows.shape[0]
    if n == 0:
        return out
    if np.abs(rows - rows[0]).max() <= 1e-12 * (1.0 + np.abs(rows[0]).max()):
        out[finite] = 0.0
        return out
    if n < 10:
        centred = rows - rows.mean(axis=0)
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        pcs = np.zeros((n, 2))
        k = min(2, s.size)
        pcs[:, :k] = u[:, :k] * s[:k]
        out[finite] = minmax(pcs)
        return out
    fit = np.random.default_rng(seed).permutation(n)[: min(n_fit, n)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

        reducer = umap.UMAP(n_neighbors=max(2, min(n_neighbors, fit.size - 1)), n_components=2, random_state=seed)
        reducer.fit(rows[fit])
        projected = np.asarray(reducer.transform(rows), dtype=np.float64)
    out[finite] = projected
    return minmax(out)


def cluster(points: np.ndarray, threshold: float = CLUSTER_THRESHOLD) -> np.ndarray:
    """Cluster labels (N,) int, 0-based, of the finite ``points`` (N, k): single linkage cut at distance
    ``threshold`` (``scipy.cluster.hierarchy.fclusterdata(points, threshold, criterion="distance",
    method="single") − 1``, the reference's ``'distance'`` method). One point, or identical points: one cluster."""
    from scipy.cluster.hierarchy import fclusterdata

    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValueError(f"cluster: points has shape {p.shape}; expected (N, k)")
    if not np.isfinite(p).all():
        raise ValueError(f"cluster: points has {int((~np.isfinite(p)).sum())} non-finite values")
    if p.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if p.shape[0] == 1 or (p == p[0]).all():
        return np.zeros(p.shape[0], dtype=np.int64)
    return np.asarray(fclusterdata(p, threshold, criterion="distance", method="single"), dtype=np.int64) - 1


def reference_mapping(labels: np.ndarray, types: np.ndarray, K: int) -> np.ndarray:
    """The predicted type (N,) of each particle under the reference's mapping of clusters to types
    (decomp-gnn's ``sparsify_cluster``): type n (of those present, in order 0..K−1) claims cluster
    ``round(median(labels of type n))``; every particle starts as K ("unmatched") and those in a claimed
    cluster take the claiming type.

    Fragile, faithfully: the median of arbitrary cluster ids need not be a cluster of that type (a type split
    in clusters 0 and 2 claims cluster 1, another type's); two types claiming one cluster end with the later
    one (the earlier scores nothing); a type split over several clusters keeps one at most; and one cluster
    shared by all types goes to the last type. ``matched_mapping`` is the robust counterpart.
    """
    labels, types = np.asarray(labels), np.asarray(types)
    predicted = np.full(labels.shape, K, dtype=np.int64)
    claims = [(n, np.round(np.median(labels[types == n]))) for n in range(K) if (types == n).any()]
    for n, claimed in claims:
        predicted[labels == claimed] = n
    return predicted


def matched_mapping(labels: np.ndarray, types: np.ndarray, K: int) -> np.ndarray:
    """The predicted type (N,) of each particle under the one-to-one matching of clusters to types that
    maximises the agreement (``scipy.optimize.linear_sum_assignment`` on the clusters × types count matrix,
    maximise); particles of clusters left unmatched (more clusters than types) get K."""
    from scipy.optimize import linear_sum_assignment

    labels, types = np.asarray(labels), np.asarray(types, dtype=np.int64)
    predicted = np.full(labels.shape, K, dtype=np.int64)
    if labels.size == 0:
        return predicted
    ids, index = np.unique(labels, return_inverse=True)
    counts = np.zeros((ids.size, K), dtype=np.int64)
    np.add.at(counts, (index, types), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    type_of = np.full(ids.size, K, dtype=np.int64)
    type_of[rows] = cols
    return type_of[index]


def type_scores(
    points: np.ndarray, types: np.ndarray, K: int, threshold: float = CLUSTER_THRESHOLD
) -> dict[str, float]:
    """Clusters of ``points`` (N, k) scored against the true ``types`` (N,) in 0..K−1: ``accuracy`` (reference
    mapping), ``accuracy_matched`` (one-to-one mapping), ``n_clusters``. Rows with a non-finite value are not
    clustered: they count as wrong (and as no cluster)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    types = np.asarray(types, dtype=np.int64)
    N = types.size
    finite = np.isfinite(p).all(axis=1)
    if N == 0:
        return {"accuracy": float("nan"), "accuracy_matched": float("nan"), "n_clusters": 0.0}
    labels = cluster(p[finite], threshold)
    kept = types[finite]
    return {
        "accuracy": float((reference_mapping(labels, kept, K) == kept).sum() / N),
        "accuracy_matched": float((matched_mapping(labels, kept, K) == kept).sum() / N),
        "n_clusters": float(np.unique(labels).size),
    }


def interaction_rmse(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per particle (N,): sqrt(mean over r of (pred − true)²) of the functions ``pred``, ``true`` (N, R); inf
    where ``pred`` has a non-finite value."""
    with np.errstate(over="ignore", invalid="ignore"):
        rmse = np.sqrt(((np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)) ** 2).mean(axis=-1))
    rmse[~np.isfinite(rmse)] = np.inf
    return rmse


def min_image(delta: np.ndarray, box: float | np.ndarray) -> np.ndarray:
    """The minimum image of displacements ``delta`` in a periodic box of side ``box``: delta − box·round(delta/box)."""
    delta = np.asarray(delta, dtype=np.float64)
    return delta - box * np.round(delta / box)


class Evaluator(TaskEvaluator):
    """``Evaluator(card)``; ``evaluator(input_dict) -> metrics``.

    N (particles) is read from the arrays (the card's ``n_particles`` is the paper's count), K from
    ``card.n_types``. Input (R distances of ``r_grid``, S test frames, H scored rollout steps):

    - ``interaction_pred`` (N, R): the learned ψ_i(r) of each particle on ``r_grid``;
    - ``interaction_true`` (N, R): the true ψ of each particle (its own parameters);
    - ``embedding_pred`` (N, k), optional: the learned node embeddings a_i (models that have them);
    - ``types_true`` (N,) int: the hidden types, in 0..K−1;
    - ``velocity_pred``, ``velocity_true`` (S, N, 2): the one-step velocity on the test run's scored frames;
    - ``position_pred``, ``position_true`` (H, N, 2): the rollout's positions at the steps ``rollout_steps``
      (H,) int (those of 1, 10, 50, 100, 250 within the run);
    - ``box``: the side L of the periodic box (scalar or (1,));
    - ``velocity_scale``: the training split's velocity std (scalar or (1,)).

    Output (plain floats):

    - ``type_accuracy`` (primary), ``type_accuracy_matched``, ``cluster_count_error`` (|clusters − K|: a count
      of clusters has no better direction, its distance to K has): ``interaction_pred`` → UMAP
      (``umap_projection``: n_neighbors 500, fit on 1000 rows, seed 0) → global min–max → single linkage at
      0.01 → clusters mapped to types by the reference's median rule (``reference_mapping``) and by the best
      one-to-one matching (``matched_mapping``); accuracy over all N particles.
    - ``embedding_accuracy``, ``embedding_accuracy_matched``, ``embedding_cluster_count_error``: the same clustering of
      the globally min–max normalised embeddings (no UMAP; the reference's ``distance_embedding``); only when
      ``embedding_pred`` is given.
    - ``interaction_rmse``, ``interaction_rmse_std``: mean and std over particles of the per-particle RMSE of
      ψ_i against the true ψ.
    - ``velocity_rmse``: sqrt(mean over frames, particles and the two components of (pred − true)²);
      ``velocity_rmse_relative``: the same divided by ``velocity_scale`` (the training velocity std over
      components too, so that predicting zero scores about 1).
    - ``position_rmse_h{k}``: sqrt(mean over particles of |min_image(pred − true)|²) at rollout step k.

    Non-finite predictions score, never raise: a non-finite ψ row has RMSE inf and is clustered as an
    unmatched particle of its own (wrong under both mappings); a non-finite velocity or position makes its
    metric inf.
    """

    metric_table = (
        Metric(
            "type_accuracy",
            "higher",
            "fraction of particles whose type is recovered: UMAP of the learned interaction functions (n_neighbors "
            "500, fit on 1000, seed 0) → min–max → single linkage at 0.01 → each type claims the cluster of its "
            "median cluster id (the reference's mapping) (primary)",
        ),  # fmt: skip
        Metric(
            "type_accuracy_matched",
            "higher",
            "as type_accuracy, with the one-to-one matching of clusters to types that maximises it (Hungarian)",
        ),
        Metric(
            "cluster_count_error",
            "lower",
            "|number of clusters of the learned interaction functions − number of types K|; ideal 0 (over-splitting "
            "and merging types both raise it)",
        ),  # fmt: skip
        Metric(
            "embedding_accuracy",
            "higher",
            "as type_accuracy, clustering the min–max normalised node embeddings directly (no UMAP)",
        ),
        Metric("embedding_accuracy_matched", "higher", "as type_accuracy_matched, on the node embeddings"),
        Metric(
            "embedding_cluster_count_error",
            "lower",
            "|number of clusters of the node embeddings − K|; ideal 0",
        ),
        Metric(
            "interaction_rmse",
            "lower",
            "mean over particles of the RMSE (over the r grid) of the learned interaction function ψ_i(r) against "
            "the particle's true one",
            "box lengths / time",
        ),  # fmt: skip
        Metric(
            "interaction_rmse_std",
            "lower",
            "std over particles of the per-particle RMSE of the interaction function",
            "box lengths / time",
        ),
        Metric(
            "velocity_rmse",
            "lower",
            "RMSE of the one-step velocity over the test frames, particles and components",
            "box lengths / time",
        ),
        Metric("velocity_rmse_relative", "lower", "velocity_rmse divided by the training velocity std (zero: about 1)"),
        Metric(
            "field_r2",
            "higher",
            "field tasks: R² of the true field against the learned one after the best affine fit (over the nodes, "
            "and the frames of a dynamic field); a model without a field model scores 0 (a constant field) "
            "(primary of field-static)",
        ),  # fmt: skip
        Metric(
            "field_r2_outlier_rule",
            "higher",
            "field-static: field_r2 with Allier et al.'s outlier rule: nodes whose error after the affine fit "
            "exceeds 0.25 are dropped from the residuals (not from the total), the line refitted on the rest; "
            "a constant field (no field model) scores 0, as the rule alone would keep the nodes near the mean",
        ),  # fmt: skip
        Metric("field_outliers", "lower", "field-static: the nodes the outlier rule dropped", "nodes"),
        Metric(
            "field_pearson_r",
            "higher",
            "field tasks: Pearson r of the learned against the true field over all nodes and frames; 0 for a "
            "model without a field model (primary of field-dynamic)",
        ),  # fmt: skip
        Metric(
            "field_rmse",
            "lower",
            "field tasks: RMSE of the affinely fitted learned field against the true one",
            "field units",
        ),  # fmt: skip
        Metric(
            "field_psnr",
            "higher",
            "field-dynamic: mean over frames of the PSNR of the affinely fitted field (data range: the true "
            "field's over the run; a perfect frame counts 100 dB)",
            "dB",
        ),  # fmt: skip
        Metric(
            "field_ssim",
            "higher",
            "field-dynamic: mean over frames of the SSIM (scikit-image) of the affinely fitted field as an image "
            "of the node grid",
        ),  # fmt: skip
        Metric(
            "position_rmse_h{k}",
            "lower",
            "RMSE of the minimum-image position error of the rollout at step k, over particles",
            "box lengths",
        ),
    )

    n_neighbors, n_fit, seed, threshold = UMAP_NEIGHBORS, UMAP_FIT, UMAP_SEED, CLUSTER_THRESHOLD
    """The reference's settings of the type scores (class attributes: the official ones)."""

    def __init__(self, task: Any):
        super().__init__(task)
        self.n_types = int(self.card.n_types)

    @property
    def expected_input(self) -> dict[str, str]:
        K = self.n_types
        return {
            "interaction_pred": "float array (N, R): the learned interaction function ψ_i of each particle on r_grid",
            "interaction_true": "float array (N, R): the true ψ of each particle on r_grid",
            "embedding_pred": "float array (N, k), optional: the learned node embeddings",
            "types_true": f"int array (N,): the hidden types, in 0..{K - 1}",
            "velocity_pred": "float array (S, N, 2): the one-step velocity on the test frames",
            "velocity_true": "float array (S, N, 2): the true velocity on those frames",
            "position_pred": "float array (H, N, 2): the rollout's positions at rollout_steps",
            "position_true": "float array (H, N, 2): the true positions at rollout_steps",
            "rollout_steps": f"int array (H,): the rollout steps scored (those of {HORIZONS} within the run)",
            "box": "float (scalar or (1,)): the side L of the periodic box",
            "velocity_scale": "float (scalar or (1,)): the training split's velocity std",
            "field_true": "float array (F, M), field tasks only: the true field at the M = n² nodes (F = 1: static; "
            "F = frames: dynamic)",
            "field_pred": "float array (F, M), optional: the learned field there (absent: a model without one, "
            "scored as a constant field)",
        }

    def _scalar(self, input_dict: dict[str, Any], name: str, what: str) -> float:
        """Input ``name``: one positive finite number (a scalar or an array of shape (1,))."""
        owner = f"Evaluator({self.task!r})"
        a = self.input_array(input_dict, name, None, what, finite=False)
        if a.size != 1 or a.ndim > 1:
            raise ValueError(f"{owner}: {name} has shape {a.shape}; expected a scalar or (1,), {what}")
        value = float(a.reshape(()))
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{owner}: {name} is {value}; expected a positive number, {what}")
        return value

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:
        owner = f"Evaluator({self.task!r})"
        K = self.n_types
        true_psi = self.input_array(input_dict, "interaction_true", ("N", "R"), "(N, R): the true ψ of each particle")
        N, R = true_psi.shape
        if N == 0 or R == 0:
            raise ValueError(f"{owner}: interaction_true has shape {true_psi.shape}; expected N > 0 particles, R > 0")
        pred_psi = self.input_array(
            input_dict, "interaction_pred", (N, R), "(N, R): the learned ψ_i on r_grid", finite=False
        )  # a blown-up model scores inf, not an error
        types = self.input_array(input_dict, "types_true", (N,), f"(N,): the hidden types in 0..{K - 1}")
        if (types != np.round(types)).any() or types.min() < 0 or types.max() > K - 1:
            bad = np.unique(types[(types != np.round(types)) | (types < 0) | (types > K - 1)])[:5]
            shown = ", ".join(f"{v:g}" for v in bad)
            raise ValueError(f"{owner}: types_true holds {shown}; expected types (integers) in 0..{K - 1}")
        types = types.astype(np.int64)
        embedding = None
        if input_dict.get("embedding_pred") is not None:
            embedding = self.input_array(
                input_dict, "embedding_pred", (N, "k"), "(N, k): the node embeddings", finite=False
            )
        v_pred = self.input_array(
            input_dict, "velocity_pred", ("S", N, 2), "(S, N, 2): one-step velocity", finite=False
        )
        v_true = self.input_array(input_dict, "velocity_true", ("S", N, 2), "(S, N, 2): true velocity")
        if v_pred.shape != v_true.shape:
            raise ValueError(
                f"{owner}: velocity_pred has shape {v_pred.shape}, velocity_true {v_true.shape}; they must match"
            )
        if v_true.shape[0] == 0:
            raise ValueError(f"{owner}: velocity_true holds no frames; expected (S, N, 2) with S > 0")
        steps_raw = self.input_array(input_dict, "rollout_steps", ("H",), "(H,): the rollout steps scored")
        H = steps_raw.size
        if (steps_raw != np.round(steps_raw)).any() or (steps_raw < 1).any() or np.unique(steps_raw).size != H:
            raise ValueError(f"{owner}: rollout_steps is {steps_raw.tolist()}; expected distinct integers ≥ 1")
        steps = [int(k) for k in steps_raw]
        x_pred = self.input_array(input_dict, "position_pred", (H, N, 2), "(H, N, 2): rollout positions", finite=False)
        x_true = self.input_array(input_dict, "position_true", (H, N, 2), "(H, N, 2): true positions")
        box = self._scalar(input_dict, "box", "the side of the periodic box")
        scale = self._scalar(input_dict, "velocity_scale", "the training velocity std")

        field = self._field_scores(input_dict) if input_dict.get("field_true") is not None else {}

        projected = umap_projection(pred_psi, self.n_neighbors, self.n_fit, self.seed)
        scores = type_scores(projected, types, K, self.threshold)
        out = {"type_accuracy": scores["accuracy"], "type_accuracy_matched": scores["accuracy_matched"]}
        out["cluster_count_error"] = abs(scores["n_clusters"] - K)
        if embedding is not None:
            scores = type_scores(minmax(embedding), types, K, self.threshold)
            out["embedding_accuracy"] = scores["accuracy"]
            out["embedding_accuracy_matched"] = scores["accuracy_matched"]
            out["embedding_cluster_count_error"] = abs(scores["n_clusters"] - K)
        rmse = interaction_rmse(pred_psi, true_psi)
        finite = bool(np.isfinite(rmse).all())
        out["interaction_rmse"] = float(rmse.mean()) if finite else float("inf")
        out["interaction_rmse_std"] = float(rmse.std()) if finite else float("inf")
        with np.errstate(over="ignore", invalid="ignore"):
            v_err = float(np.sqrt(((v_pred - v_true) ** 2).mean()))
            out["velocity_rmse"] = v_err if np.isfinite(v_err) else float("inf")
            out["velocity_rmse_relative"] = out["velocity_rmse"] / scale
            for j, k in enumerate(steps):
                err = float(np.sqrt((min_image(x_pred[j] - x_true[j], box) ** 2).sum(axis=-1).mean()))
                out[f"position_rmse_h{k}"] = err if np.isfinite(err) else float("inf")
        return out | field

    def _field_scores(self, input_dict: dict[str, Any]) -> dict[str, float]:
        """The ``field_*`` metrics (``bench.tasks.heterogeneous.field_metrics``) of ``field_pred`` against
        ``field_true``; without ``field_pred``, a constant field (r2 and Pearson r 0). A non-finite learned field
        scores r2 and r 0 and the errors inf."""
        from bench.tasks.heterogeneous.field_metrics import dynamic_scores, static_scores

        owner = f"Evaluator({self.task!r})"
        true = self.input_array(input_dict, "field_true", ("F", "M"), "(F, M): the true field at the nodes")
        F, M = true.shape
        grid = int(round(M**0.5))
        if F == 0 or grid * grid != M:
            raise ValueError(f"{owner}: field_true has shape {true.shape}; expected (F ≥ 1, n²) on an n × n grid")
        if input_dict.get("field_pred") is None:
            pred = np.zeros_like(true)
        else:
            pred = self.input_array(input_dict, "field_pred", (F, M), "(F, M): the learned field", finite=False)
        if not np.isfinite(pred).all():
            return {"field_r2": 0.0, "field_pearson_r": 0.0, "field_rmse": float("inf")} | (
                {"field_psnr": 0.0, "field_ssim": 0.0} if F > 1 else
                {"field_r2_outlier_rule": 0.0, "field_outliers": float(M)})  # fmt: skip
        constant = bool(np.ptp(pred) == 0)
        if F == 1:
            s = static_scores(pred[0], true[0])
            out = {"field_r2": s["r2"], "field_r2_outlier_rule": s["r2_outlier_rule"], "field_outliers": s["outliers"],
                   "field_rmse": s["rmse"], "field_pearson_r": s["pearson_r"]}  # fmt: skip
        else:
            s = dynamic_scores(pred, true, grid)
            out = {"field_pearson_r": s["pearson_r"], "field_rmse": s["rmse"], "field_psnr": s["psnr"],
                   "field_ssim": s["ssim"], "field_r2": float(s["pearson_r"] ** 2) if np.isfinite(s["pearson_r"])
                   else 0.0}  # fmt: skip
        if constant:  # no information about the field: no correlation, and nothing the outlier rule may keep
            out["field_pearson_r"], out["field_r2"] = 0.0, 0.0
            if "field_r2_outlier_rule" in out:
                out["field_r2_outlier_rule"] = 0.0
        return {k: float(v) for k, v in out.items()}
