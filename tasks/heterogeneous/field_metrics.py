"""Official metrics of hidden-field recovery in family H (``field-static``, ``field-dynamic``): how well a
learned scalar field on the field nodes matches the true one.

A model learns the field only up to an affine map (its scale and offset are absorbed by the rest of the
network), so every metric here either is affine-invariant (R², Pearson r) or is taken after the least-squares
affine map of the learned field onto the true one (``affine_fit``: true ≈ a · learned + b). The sign is
absorbed too: a learned field equal to −true scores R² = 1; only ``pearson_r`` shows the flip.

Layout: the values sit on the nodes of an n × n grid of cell centres, node k = row · n + col, so a C-order
``reshape(n, n)`` of a vector (M,) with M = n² is an image (``tasks/heterogeneous/fields.py``). A static field
is one vector (M,); a dynamic field is (T, M) over T frames.

All functions are deterministic closed forms in numpy float64, except PSNR and SSIM, which are
scikit-image's (imported inside ``dynamic_scores``, the one function that needs it).
"""

from __future__ import annotations

import numpy as np

OUTLIER_THRESHOLD = 0.25
"""Allier et al.'s outlier threshold for the static field's R²: a node whose absolute error exceeds 0.25 (in
units of the field, whose values span [0, 2] in the reference) is an outlier (decomp-gnn, ``plotting.py``,
field case ``'tensor'``)."""

PSNR_CAP_DB = 100.0
"""Cap of the PSNR of one frame, in dB: a perfect frame (zero error) has an infinite PSNR, and float rounding
of an exact affine copy gives arbitrary values in the hundreds; each frame's PSNR is clipped to at most this
before the mean over frames, so that the mean stays finite and comparable."""

SSIM_MIN_GRID = 7
"""The smallest grid side SSIM accepts: scikit-image's default window is 7 × 7 pixels."""


def _pair(learned: np.ndarray, true: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``learned`` and ``true`` as flat float64 arrays; ValueError if their shapes differ."""
    x = np.asarray(learned, dtype=np.float64)
    y = np.asarray(true, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{name}: learned has shape {x.shape} and true has shape {y.shape}; they must match")
    return x.ravel(), y.ravel()


def _finite_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (x_i, y_i) where both are finite."""
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (a, b) of y ≈ a·x + b over finite float64 vectors (see ``affine_fit``)."""
    if x.size == 0:
        return float("nan"), float("nan")
    y_mean = float(y.mean())
    if x.max() == x.min():
        return 0.0, y_mean
    x_mean = float(x.mean())
    dx = x - x_mean
    a = float(np.dot(dx, y - y_mean) / np.dot(dx, dx))
    return a, y_mean - a * x_mean


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """1 − SS_res/SS_tot of y against its least-squares line on x (finite float64 vectors)."""
    if x.size < 2:
        return float("nan")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    a, b = _fit(x, y)
    ss_res = float(np.sum((y - (a * x + b)) ** 2))
    return 1.0 - ss_res / ss_tot


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two finite float64 vectors; NaN if either is constant or they have fewer than 2 values."""
    if x.size < 2 or x.max() == x.min() or y.max() == y.min():
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    if denominator == 0.0:
        return float("nan")
    return float(np.clip(np.dot(dx, dy) / denominator, -1.0, 1.0))


def pearson_r(learned: np.ndarray, true: np.ndarray) -> float:
    """Pearson r of ``learned`` and ``true`` (any equal shapes, flattened) over their finite pairs; NaN if either
    is constant."""
    return _pearson(*_finite_pairs(*_pair(learned, true, "pearson_r")))


def affine_fit(learned: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """The least-squares slope a and offset b of ``true ≈ a · learned + b``.

    Over the pairs (learned_i, true_i) where both are finite, in float64, in closed form:
    a = Σ (x − x̄)(y − ȳ) / Σ (x − x̄)², b = ȳ − a x̄ with x = learned, y = true (any shape; both flattened, the
    shapes must match, else ValueError). If ``learned`` is constant (zero variance: all finite values equal,
    which includes a single pair) the fit is (0.0, mean(true)); with no finite pair it is (NaN, NaN).
    """
    x, y = _finite_pairs(*_pair(learned, true, "affine_fit"))
    return _fit(x, y)


def r2_affine(learned: np.ndarray, true: np.ndarray) -> float:
    """R² of ``true`` against its best affine map of ``learned``: 1 − SS_res / SS_tot.

    SS_res = Σ (y − (a x + b))² with (a, b) = ``affine_fit(learned, true)``, SS_tot = Σ (y − ȳ)², over all
    finite pairs (x = learned, y = true). NaN if SS_tot is 0 (constant true) or there are fewer than 2 finite
    pairs; 0 if ``learned`` is constant (the fit is the mean).

    Because the fit is least squares with an offset, this equals the squared Pearson correlation of learned and
    true: it is symmetric in the two fields and blind to the sign, so learned = −true scores 1 (a sign flip is
    not penalised; ``pearson_r`` of the score dicts shows it).
    """
    x, y = _finite_pairs(*_pair(learned, true, "r2_affine"))
    return _r2(x, y)


def r2_outlier_rule(learned: np.ndarray, true: np.ndarray, threshold: float = OUTLIER_THRESHOLD) -> tuple[float, int]:
    """R² with Allier et al.'s outlier rule, and the number of outliers: ``(r2, n_outliers)``.

    The reference (decomp-gnn, ``plotting.py``, static field case ``'tensor'``) drops the nodes whose absolute
    error |true − learned| exceeds ``threshold`` (0.25, in units of the field), fits a line true ≈ a·learned + b
    on the kept nodes, and computes R² = 1 − SS_res / SS_tot where SS_res sums the squared residuals of the
    KEPT nodes only, while SS_tot = Σ (true − mean(true))² runs over ALL nodes (about the mean of all true
    values): outliers are removed from the residuals, not from the total.

    Ours differs in one way. A learned field is only determined up to an affine map, so the absolute error is
    taken after the affine fit on all nodes: e_i = |true_i − (a·learned_i + b)| with (a, b) =
    ``affine_fit(learned, true)``. Then, as the reference: outliers are the nodes with e_i > threshold (their
    count is returned), the line is refitted on the kept nodes (e_i ≤ threshold; the reference keeps e_i <
    threshold and counts e_i > threshold, so a node exactly at the threshold is in neither there), and
    R² = 1 − SS_res(kept, refitted line) / SS_tot(all). When there is no outlier it equals ``r2_affine``.

    Over the finite pairs only. r2 is NaN if SS_tot is 0, if there are fewer than 2 finite pairs or fewer than
    2 kept nodes.

    Read it with its outlier count: the rule rewards dropping nodes. The threshold is absolute, so it depends
    on the field's units, and a learned field with no information (noise: the fit is the mean) keeps the nodes
    whose true value lies within the threshold of the mean, whose residuals are small, and can score a high r2
    with many outliers.
    """
    x, y = _finite_pairs(*_pair(learned, true, "r2_outlier_rule"))
    if x.size < 2:
        return float("nan"), 0
    a, b = _fit(x, y)
    error = np.abs(y - (a * x + b))
    outlier = error > threshold
    n_outliers = int(outlier.sum())
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    kept_x, kept_y = x[~outlier], y[~outlier]
    if ss_tot == 0.0 or kept_x.size < 2:
        return float("nan"), n_outliers
    a_kept, b_kept = _fit(kept_x, kept_y)
    ss_res = float(np.sum((kept_y - (a_kept * kept_x + b_kept)) ** 2))
    return 1.0 - ss_res / ss_tot, n_outliers


def _validate(
    learned: np.ndarray, true: np.ndarray, ndim: int, name: str, grid: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``learned`` and ``true`` as float64 arrays of the same shape with ``ndim`` dimensions (and a last axis
    of grid² when ``grid`` is given), all finite; ValueError otherwise."""
    x = np.asarray(learned, dtype=np.float64)
    y = np.asarray(true, dtype=np.float64)
    expected = "(T, M)" if ndim == 2 else "(M,)"
    grid_text = f" with M = grid² = {grid * grid} (grid {grid})" if grid is not None else ""
    if x.shape != y.shape or x.ndim != ndim or (grid is not None and x.shape[-1] != grid * grid):
        raise ValueError(
            f"{name}: learned has shape {x.shape} and true has shape {y.shape}; both must be {expected}{grid_text}"
        )
    if x.size == 0:
        raise ValueError(f"{name}: learned and true are empty (shape {x.shape})")
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise ValueError(f"{name}: learned has {bad} non-finite values (of {x.size})")
    bad = int((~np.isfinite(y)).sum())
    if bad:
        raise ValueError(f"{name}: true has {bad} non-finite values (of {y.size})")
    return x, y


def dynamic_scores(learned: np.ndarray, true: np.ndarray, grid: int) -> dict[str, float]:
    """Scores of a learned dynamic field ``learned`` (T, M) against the true one ``true`` (T, M), M = grid².

    One affine fit per run: (a, b) = ``affine_fit(learned, true)`` over all frames and nodes together, and the
    fitted field f = a · learned + b. Then (plain floats):

    - ``rmse``: sqrt(mean over all frames and nodes of (f − true)²), in units of the field;
    - ``psnr``: mean over frames of the frame's PSNR in dB,
      ``skimage.metrics.peak_signal_noise_ratio(true_t, f_t, data_range=R)`` = 10 log10(R² / MSE_t) with one data
      range for the run, R = max(true) − min(true) over all frames and nodes; each frame's PSNR is capped at
      ``PSNR_CAP_DB`` (100 dB) before the mean, so a perfect frame (infinite PSNR) counts 100;
    - ``ssim``: mean over frames of ``skimage.metrics.structural_similarity(true_t, f_t, data_range=R)`` on the
      (grid, grid) images (C-order reshape; scikit-image's defaults: 7 × 7 uniform window);
    - ``pearson_r``: Pearson r of learned and true over all frames and nodes flattened (affine-invariant, the
      fit does not change it; keeps the sign that the fit absorbs); NaN if either is constant;
    - ``slope``, ``offset``: the fit's a and b.

    If ``true`` is constant over the run (R = 0), ``psnr`` and ``ssim`` are NaN.

    ValueError if the shapes differ, are not (T, M) with M = grid², grid < ``SSIM_MIN_GRID`` (7), or if either
    array has non-finite values (the message names the shapes and grid, or the count).
    """
    if int(grid) < SSIM_MIN_GRID:
        raise ValueError(f"dynamic_scores: grid is {grid}; SSIM needs grid >= {SSIM_MIN_GRID}")
    grid = int(grid)
    x, y = _validate(learned, true, 2, "dynamic_scores", grid)
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = _fit(x.ravel(), y.ravel())
    f = a * x + b
    data_range = float(y.max() - y.min())
    if data_range > 0.0:
        psnr, ssim = [], []
        for true_t, fitted_t in zip(y, f, strict=True):
            with np.errstate(divide="ignore"):  # a perfect frame: 10 log10(R² / 0) = inf, then capped
                value = float(peak_signal_noise_ratio(true_t, fitted_t, data_range=data_range))
            psnr.append(min(value, PSNR_CAP_DB))
            image_true, image_fitted = true_t.reshape(grid, grid), fitted_t.reshape(grid, grid)
            ssim.append(float(structural_similarity(image_true, image_fitted, data_range=data_range)))
        psnr_mean, ssim_mean = float(np.mean(psnr)), float(np.mean(ssim))
    else:
        psnr_mean = ssim_mean = float("nan")
    return {
        "rmse": float(np.sqrt(np.mean((f - y) ** 2))),
        "psnr": psnr_mean,
        "ssim": ssim_mean,
        "pearson_r": _pearson(x.ravel(), y.ravel()),
        "slope": a,
        "offset": b,
    }


def static_scores(learned: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Scores of a learned static field ``learned`` (M,) against the true one ``true`` (M,) (plain floats):

    - ``r2``: ``r2_affine`` (= squared Pearson r; blind to the sign);
    - ``r2_outlier_rule``, ``outliers``: ``r2_outlier_rule`` with threshold ``OUTLIER_THRESHOLD`` (0.25) and its
      outlier count (as a float);
    - ``rmse``: sqrt(mean over nodes of (a · learned + b − true)²) after ``affine_fit``, in units of the field;
    - ``pearson_r``: Pearson r of learned and true (keeps the sign); NaN if either is constant.

    ValueError if the shapes differ or are not (M,), or if either array has non-finite values (the message
    names the shapes, or the count).
    """
    x, y = _validate(learned, true, 1, "static_scores")
    a, b = _fit(x, y)
    r2_rule, n_outliers = r2_outlier_rule(x, y)
    return {
        "r2": _r2(x, y),
        "r2_outlier_rule": r2_rule,
        "outliers": float(n_outliers),
        "rmse": float(np.sqrt(np.mean((a * x + b - y) ** 2))),
        "pearson_r": _pearson(x, y),
    }
