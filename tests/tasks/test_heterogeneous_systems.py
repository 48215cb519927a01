"""The heterogeneous simulator against a brute-force reading of its equations (Allier et al.'s PDE_A)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tasks.heterogeneous.systems import neighbour_pairs, pair_function, psi, simulate, velocity

TYPES3 = np.array(
    [[1.6233, 1.0413, 1.6012, 1.5615], [1.7667, 1.8308, 1.0855, 1.9055], [1.7226, 1.7850, 1.0584, 1.8579]]
)
SIGMA, R = 0.005, 0.075


def brute_force_velocity(x, params, box, radius, sigma):
    """ẋ_i = mean over j with 0 < |d_ij| < R of f_{p_i}(|d_ij|) d_ij, d_ij = minimum image of x_j − x_i: a
    double loop, written from the equation alone."""
    N = len(x)
    out = np.zeros((N, 2))
    for i in range(N):
        total, count = np.zeros(2), 0
        for j in range(N):
            d = x[j] - x[i]
            d -= box * np.round(d / box)
            r = float(np.hypot(*d))
            if 0 < r < radius:
                p = params[i]
                f = p[0] * np.exp(-((r * r) ** p[1]) / (2 * sigma**2)) - p[2] * np.exp(
                    -((r * r) ** p[3]) / (2 * sigma**2)
                )
                total += f * d
                count += 1
        out[i] = total / max(count, 1)
    return out


def test_pair_function_has_its_exponent_on_r_squared_and_psi_is_r_f():
    r = np.array([0.0, 0.01, 0.03])
    p = TYPES3[1]
    f = pair_function(r, p, SIGMA)
    assert f[0] == pytest.approx(p[0] - p[2])  # r = 0: both exponentials are 1
    expected = p[0] * np.exp(-((0.01**2) ** p[1]) / (2 * SIGMA**2)) - p[2] * np.exp(
        -((0.01**2) ** p[3]) / (2 * SIGMA**2)
    )
    assert f[1] == pytest.approx(expected, rel=1e-12)
    on_r = p[0] * np.exp(-(0.01 ** p[1]) / (2 * SIGMA**2)) - p[2] * np.exp(-(0.01 ** p[3]) / (2 * SIGMA**2))
    assert abs(f[1] - on_r) > 1e-3  # the other reading (exponent on r) would be a different system
    np.testing.assert_allclose(psi(r, TYPES3, SIGMA), r[None] * pair_function(r[None], TYPES3[:, None], SIGMA))
    # types 1 and 2 are close, type 0 differs in sign over most of [0, R]
    grid = np.linspace(0, R, 100)
    profiles = psi(grid, TYPES3, SIGMA)
    assert profiles[0, 30] < 0 < profiles[1, 30] and 0 < np.abs(profiles[1] - profiles[2]).max() < 0.005


@pytest.mark.parametrize("box", [0.2236, 0.4472])
def test_velocity_matches_the_double_loop_with_periodic_images(box):
    rng = np.random.default_rng(3)
    N = 90
    x = rng.uniform(0, box, (N, 2))
    x[0] = [0.001, 0.001]  # neighbours across the corner of the box
    x[1] = [box - 0.002, box - 0.003]
    params = TYPES3[np.repeat(np.arange(3), N // 3)]
    ours = velocity(x, params, box, R, SIGMA)
    np.testing.assert_allclose(ours, brute_force_velocity(x, params, box, R, SIGMA), rtol=1e-10, atol=1e-14)
    i, j, d = neighbour_pairs(x, box, R)
    assert ((0, 1) in set(zip(i.tolist(), j.tolist(), strict=True))) and np.all(np.hypot(*d.T) < R)


def test_the_receiver_parameters_decide():
    """Two particles of different types: each moves by its own parameters (receiver's), not its neighbour's."""
    box = 0.5
    x = np.array([[0.2, 0.2], [0.2 + 0.02, 0.2]])
    params = TYPES3[[0, 1]]
    v = velocity(x, params, box, R, SIGMA)
    d = np.array([0.02, 0.0])
    assert v[0] == pytest.approx(pair_function(0.02, TYPES3[0], SIGMA) * d)
    assert v[1] == pytest.approx(-pair_function(0.02, TYPES3[1], SIGMA) * d)


def test_a_run_is_deterministic_wrapped_and_steps_with_its_velocity():
    box, N = 0.2236, 60
    params = TYPES3[np.repeat(np.arange(3), N // 3)]
    a = simulate(params, box, R, SIGMA, 0.1, 12, [42, 0])
    b = simulate(params, box, R, SIGMA, 0.1, 12, [42, 0])
    c = simulate(params, box, R, SIGMA, 0.1, 12, [42, 1])
    np.testing.assert_array_equal(a["position"], b["position"])
    assert not np.allclose(a["position"][0], c["position"][0])
    assert a["position"].min() >= 0 and a["position"].max() < box
    step = a["position"][:-1] + 0.1 * a["velocity"][:-1]
    step -= box * np.floor(step / box)
    np.testing.assert_allclose(step, a["position"][1:], atol=1e-12)
    np.testing.assert_allclose(a["velocity"][5], velocity(a["position"][5], params, box, R, SIGMA))
    assert np.abs(a["velocity"]).max() > 0


def test_pair_function_is_the_c_librarys_exp_and_log():
    """Bit for bit the scalar formula with math.exp and math.log (the C library's, the same on every x86 CPU),
    not numpy's exp and log, whose AVX-512 kernels differ from it in rare last bits."""
    import math

    rng = np.random.default_rng(5)
    r = rng.uniform(0.0, 0.075, 2000)
    params = rng.uniform(1.0, 2.0, (2000, 4))
    sigma = 0.005

    def scalar(rk, p):
        log_r2 = math.log(rk * rk) if rk > 0 else -math.inf
        two_s2 = 2.0 * sigma**2
        return p[0] * math.exp(-math.exp(p[1] * log_r2) / two_s2) - p[2] * math.exp(-math.exp(p[3] * log_r2) / two_s2)

    expected = np.array([scalar(rk, p) for rk, p in zip(r, params, strict=True)])
    np.testing.assert_array_equal(pair_function(r, params, sigma), expected)
