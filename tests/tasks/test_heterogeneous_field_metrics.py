"""Metrics of hidden-field recovery (family H): the affine fit and R² by hand, the outlier rule (by hand, on
corrupted nodes, and its reward for dropping nodes), a perfect affine copy against noise and a noisy copy for
every score, the sign flip that R² does not see, the PSNR cap, degenerate fields, input checks and
determinism. Fields are 50 × 50 grids, T ≤ 5 frames."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tasks.heterogeneous.field_metrics import (
    OUTLIER_THRESHOLD,
    PSNR_CAP_DB,
    affine_fit,
    dynamic_scores,
    r2_affine,
    r2_outlier_rule,
    static_scores,
)

GRID, T = 50, 5
M = GRID * GRID


def structured_field(frames: int = T, grid: int = GRID) -> np.ndarray:
    """(frames, grid²) smooth moving pattern, min–max scaled to [0, 2] (the reference field's range); node
    k = row · grid + col."""
    c = (np.arange(grid) + 0.5) / grid
    x, y = np.meshgrid(c, c, indexing="xy")
    out = []
    for t in range(frames):
        v = np.sin(2 * np.pi * (2 * x + 0.1 * t)) * np.cos(2 * np.pi * (3 * y - 0.05 * t))
        v = v + 0.5 * np.sin(2 * np.pi * (x + y + 0.07 * t))
        out.append(v.ravel())
    f = np.stack(out)
    return 2.0 * (f - f.min()) / (f.max() - f.min())


@pytest.fixture(scope="module")
def dynamic_true() -> np.ndarray:
    return structured_field()


@pytest.fixture(scope="module")
def static_true() -> np.ndarray:
    return structured_field(frames=1)[0]


# --- affine fit and R² by hand --------------------------------------------------------------------------


def test_affine_fit_and_r2_by_hand():
    # x̄ = 1.5, ȳ = 2.75, Σ dx dy = 5.5, Σ dx² = 5 → a = 1.1, b = 2.75 − 1.65 = 1.1;
    # fitted 1.1 2.2 3.3 4.4, residuals −0.1 0.8 −1.3 0.6 → SS_res = 2.7; SS_tot = 8.75 → R² = 6.05/8.75 = 121/175
    learned = np.array([0.0, 1.0, 2.0, 3.0])
    true = np.array([1.0, 3.0, 2.0, 5.0])
    a, b = affine_fit(learned, true)
    assert a == pytest.approx(1.1, abs=1e-12) and b == pytest.approx(1.1, abs=1e-12)
    assert r2_affine(learned, true) == pytest.approx(121 / 175, abs=1e-12)
    # = the squared Pearson correlation: 5.5² / (5 · 8.75)
    assert r2_affine(learned, true) == pytest.approx(np.corrcoef(learned, true)[0, 1] ** 2, abs=1e-12)
    # non-finite pairs are left out: the same four points plus two broken pairs
    assert affine_fit(np.append(learned, [np.nan, 1.0]), np.append(true, [2.0, np.inf])) == pytest.approx((a, b))
    assert r2_affine(np.append(learned, [np.nan, 1.0]), np.append(true, [2.0, np.inf])) == pytest.approx(121 / 175)


def test_affine_fit_degenerate_cases():
    assert affine_fit(np.full(4, 0.1), np.array([1.0, 2.0, 3.0, 6.0])) == (0.0, 3.0)
    assert r2_affine(np.full(4, 0.1), np.array([1.0, 2.0, 3.0, 6.0])) == 0.0
    assert np.isnan(r2_affine(np.array([1.0, 2.0, 3.0]), np.full(3, 2.0)))  # SS_tot = 0
    assert np.isnan(r2_affine(np.array([1.0, np.nan]), np.array([1.0, 2.0])))  # one finite pair
    assert all(np.isnan(affine_fit(np.array([np.nan]), np.array([1.0]))))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        affine_fit(np.zeros(3), np.zeros(4))


# --- the outlier rule --------------------------------------------------------------------------------------


def test_outlier_rule_by_hand():
    # fit on all: x̄ = 0, ȳ = 0.2, Σxy = Σx² = 10 → a = 1, b = 0.2; errors 0.2 0.2 0.8 0.2 0.2 → one outlier (the
    # middle node); the refit on the four kept is exact (SS_res = 0), SS_tot over all five = 10.8 → R² = 1.
    learned = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    true = np.array([-2.0, -1.0, 1.0, 1.0, 2.0])
    assert affine_fit(learned, true) == pytest.approx((1.0, 0.2))
    assert r2_affine(learned, true) == pytest.approx(1 - 0.8 / 10.8, abs=1e-12)  # 25/27
    r2, outliers = r2_outlier_rule(learned, true)
    assert outliers == 1 and r2 == pytest.approx(1.0, abs=1e-12)
    # a threshold below every error: all five are outliers, nothing left to fit
    r2, outliers = r2_outlier_rule(learned, true, threshold=0.1)
    assert outliers == 5 and np.isnan(r2)
    # a threshold above every error: no outlier, the plain R²
    assert r2_outlier_rule(learned, true, threshold=1.0) == (pytest.approx(25 / 27, abs=1e-12), 0)


def test_outlier_rule_keeps_outliers_in_the_total():
    # the refit residual is that of the kept nodes, the total that of ALL nodes (the reference's rule):
    # dropping the corrupted node from both would give the kept nodes' own R² instead
    learned = np.linspace(0.0, 2.0, 21)
    corrupted = learned + 0.03 * np.sin(7.0 * learned)
    corrupted[10] += 1.5  # the other nodes' errors after the fit on all stay below 0.11
    r2, outliers = r2_outlier_rule(learned, corrupted)
    assert outliers == 1
    kept = np.arange(21) != 10
    a, b = affine_fit(learned[kept], corrupted[kept])
    ss_res = np.sum((corrupted[kept] - (a * learned[kept] + b)) ** 2)
    ss_tot_all = np.sum((corrupted - corrupted.mean()) ** 2)
    assert r2 == pytest.approx(1 - ss_res / ss_tot_all, abs=1e-12)
    assert r2 != pytest.approx(r2_affine(learned[kept], corrupted[kept]), abs=1e-6)


def test_outlier_rule_forgives_corrupted_nodes(static_true):
    rng = np.random.default_rng(1)
    learned = 3.0 * (static_true + rng.normal(0.0, 0.02, M)) - 0.7
    corrupted = rng.choice(M, 7, replace=False)
    learned[corrupted] += 3.0 * np.array([2.0, -2.0, 1.5, -1.5, 2.5, 1.0, -1.0])  # errors ≥ 1 in field units
    r2_rule, outliers = r2_outlier_rule(learned, static_true)
    assert outliers == corrupted.size
    assert r2_rule > r2_affine(learned, static_true) + 0.03
    assert r2_rule > 0.99
    scores = static_scores(learned, static_true)
    assert scores["outliers"] == 7.0 and scores["r2_outlier_rule"] == r2_rule


def test_outlier_rule_equals_r2_without_outliers(static_true):
    # errors below the threshold everywhere: nothing is dropped, the rule is the plain R², and it is < 1
    learned = static_true + np.random.default_rng(2).uniform(-0.15, 0.15, M)
    r2_rule, outliers = r2_outlier_rule(learned, static_true)
    assert outliers == 0
    assert r2_rule == r2_affine(learned, static_true)
    assert 0.9 < r2_rule < 0.98


def test_outlier_rule_rewards_dropping_nodes(static_true):
    # the reference rule's weakness, kept on purpose: noise fits to the mean, the nodes whose true value lies
    # within 0.25 of the mean are kept with small residuals, and R² comes out high; only the count shows it
    noise = np.random.default_rng(3).normal(size=M)
    r2_rule, outliers = r2_outlier_rule(noise, static_true)
    assert r2_affine(noise, static_true) < 0.01
    assert r2_rule > 0.5
    assert outliers > M // 3
    assert OUTLIER_THRESHOLD == 0.25


# --- the scores ---------------------------------------------------------------------------------------------


def test_affine_copy_scores_perfect(static_true, dynamic_true):
    s = static_scores(3.0 * static_true - 0.7, static_true)
    assert s["r2"] == pytest.approx(1.0, abs=1e-12)
    assert s["r2_outlier_rule"] == pytest.approx(1.0, abs=1e-12) and s["outliers"] == 0.0
    assert s["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert s["pearson_r"] == pytest.approx(1.0, abs=1e-12)

    d = dynamic_scores(3.0 * dynamic_true - 0.7, dynamic_true, GRID)
    assert d["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert d["psnr"] == PSNR_CAP_DB == 100.0
    assert d["ssim"] == pytest.approx(1.0, abs=1e-9)
    assert d["pearson_r"] == pytest.approx(1.0, abs=1e-12)
    assert d["slope"] == pytest.approx(1 / 3, abs=1e-12) and d["offset"] == pytest.approx(0.7 / 3, abs=1e-12)


def test_noise_scores_near_zero(static_true, dynamic_true):
    rng = np.random.default_rng(0)
    s = static_scores(rng.normal(size=M), static_true)
    assert s["r2"] < 0.05
    assert abs(s["pearson_r"]) < 0.05
    assert s["rmse"] == pytest.approx(static_true.std(), rel=0.02)  # the fit is about the mean

    d = dynamic_scores(rng.normal(size=dynamic_true.shape), dynamic_true, GRID)
    assert d["ssim"] < 0.15
    assert abs(d["pearson_r"]) < 0.05
    assert d["psnr"] < 20.0
    assert d["rmse"] == pytest.approx(dynamic_true.std(), rel=0.02)
    assert abs(d["slope"]) < 0.01


def test_noisy_copy_scores_between(dynamic_true):
    # graded, not all-or-nothing: a noisy copy scores strictly between noise and a perfect copy
    noisy = dynamic_true + np.random.default_rng(4).normal(0.0, 0.1, dynamic_true.shape)
    d = dynamic_scores(noisy, dynamic_true, GRID)
    assert 0.8 < d["ssim"] < 0.99
    assert 20.0 < d["psnr"] < 35.0
    assert 0.9 < d["pearson_r"] < 0.99
    assert 0.05 < d["rmse"] < 0.1
    assert static_scores(noisy[0], dynamic_true[0])["r2"] == pytest.approx(
        static_scores(noisy[0], dynamic_true[0])["pearson_r"] ** 2, abs=1e-12
    )


def test_psnr_is_per_frame_with_one_range_and_capped(dynamic_true):
    noisy = dynamic_true + np.random.default_rng(5).normal(0.0, 0.05, dynamic_true.shape)
    noisy[0] += 0.2  # a worse first frame: the frames' PSNRs differ
    d = dynamic_scores(noisy, dynamic_true, GRID)
    a, b = affine_fit(noisy, dynamic_true)
    fitted = a * noisy + b
    data_range = dynamic_true.max() - dynamic_true.min()
    per_frame = 10 * np.log10(data_range**2 / np.mean((fitted - dynamic_true) ** 2, axis=1))
    assert d["psnr"] == pytest.approx(np.mean(np.minimum(per_frame, PSNR_CAP_DB)), abs=1e-9)
    assert d["rmse"] == pytest.approx(np.sqrt(np.mean((fitted - dynamic_true) ** 2)), abs=1e-12)
    # an exact copy has MSE 0 (infinite PSNR): capped, not inf
    assert dynamic_scores(dynamic_true, dynamic_true, GRID)["psnr"] == PSNR_CAP_DB


def test_sign_flip_is_not_penalised_by_r2(static_true, dynamic_true):
    # the affine fit absorbs the sign: R², RMSE, PSNR, SSIM all call −true perfect; only pearson_r shows it
    s = static_scores(-static_true, static_true)
    assert s["r2"] == pytest.approx(1.0, abs=1e-12)
    assert s["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert s["pearson_r"] == pytest.approx(-1.0, abs=1e-12)
    d = dynamic_scores(-dynamic_true, dynamic_true, GRID)
    assert d["slope"] == pytest.approx(-1.0) and d["pearson_r"] == pytest.approx(-1.0, abs=1e-12)
    assert d["ssim"] == pytest.approx(1.0, abs=1e-9) and d["psnr"] == PSNR_CAP_DB


def test_constant_fields():
    true = structured_field(frames=2)
    d = dynamic_scores(np.full(true.shape, 0.3), true, GRID)  # a constant learned field: the fit is the mean
    assert d["slope"] == 0.0 and d["offset"] == pytest.approx(true.mean())
    assert np.isnan(d["pearson_r"]) and d["ssim"] < 0.15
    flat = np.full(true.shape, 1.0)  # a constant true field: no range for PSNR and SSIM, no R²
    d = dynamic_scores(true, flat, GRID)
    assert np.isnan(d["psnr"]) and np.isnan(d["ssim"]) and np.isnan(d["pearson_r"])
    assert d["rmse"] == pytest.approx(0.0, abs=1e-12)
    s = static_scores(true[0], flat[0])
    assert np.isnan(s["r2"]) and np.isnan(s["r2_outlier_rule"]) and s["outliers"] == 0.0


# --- input checks and determinism --------------------------------------------------------------------------


def test_shape_mismatch_raises(dynamic_true, static_true):
    with pytest.raises(ValueError, match=r"learned has shape \(5, 2500\) and true has shape \(4, 2500\)"):
        dynamic_scores(dynamic_true, dynamic_true[:4], GRID)
    with pytest.raises(ValueError, match=r"\(5, 2500\).*\(5, 2500\).*grid 49"):
        dynamic_scores(dynamic_true, dynamic_true, 49)
    with pytest.raises(ValueError, match=r"\(2500,\).*\(2500,\).*\(T, M\)"):
        dynamic_scores(static_true, static_true, GRID)
    with pytest.raises(ValueError, match=r"grid is 5"):
        dynamic_scores(np.zeros((2, 25)), np.zeros((2, 25)), 5)
    with pytest.raises(ValueError, match=r"learned has shape \(2500,\) and true has shape \(2499,\)"):
        static_scores(static_true, static_true[:-1])
    with pytest.raises(ValueError, match=r"\(1, 2500\).*\(M,\)"):
        static_scores(static_true[None], static_true[None])


def test_non_finite_values_raise(dynamic_true, static_true):
    learned = dynamic_true.copy()
    learned[0, :3] = np.nan
    learned[2, 7] = np.inf
    with pytest.raises(ValueError, match=r"learned has 4 non-finite values"):
        dynamic_scores(learned, dynamic_true, GRID)
    learned = static_true.copy()
    learned[[1, 5]] = -np.inf
    with pytest.raises(ValueError, match=r"learned has 2 non-finite values"):
        static_scores(learned, static_true)
    true = static_true.copy()
    true[0] = np.nan
    with pytest.raises(ValueError, match=r"true has 1 non-finite values"):
        static_scores(static_true, true)


def test_deterministic(dynamic_true, static_true):
    rng = np.random.default_rng(6)
    noisy = dynamic_true + rng.normal(0.0, 0.2, dynamic_true.shape)
    first, second = dynamic_scores(noisy, dynamic_true, GRID), dynamic_scores(noisy.copy(), dynamic_true, GRID)
    assert first == second and all(isinstance(v, float) for v in first.values())
    first, second = static_scores(noisy[0], static_true), static_scores(noisy[0].copy(), static_true)
    assert first == second and all(isinstance(v, float) for v in first.values())
