"""Recovery up to a mass factor: a law over m_i or m_j passes that verdict and fails the exact one, the exact law
passes the exact one only, and a wrong law or an extra term fails both."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.tasks.forces.recovery import RecoveryScore, evaluate, fresh_pairs, parse, variable_names
from bench.tasks.forces.systems import pair_forces

R_RANGE = (0.4, 3.5)

# (system, expression, factor): the law over the factor, rotated, scaled and shifted
OVER_MASS = [
    ("r1", "0.7*m_j*dx/rp**2 + 0.1*m_j*dy/rp**2 - 0.3", "m_i"),  # the GNN+EQL report's r1 "missing m_i"
    ("r1", "-1.2*m_i*(dx + dy)/rp**2", "m_j"),
    ("r2", "-2.1*m_i*(dx - 0.5*dy)/rp**3", "m_j"),
    ("r2", "0.4*m_j*dy/rp**3 + 0.02", "m_i"),
    ("spring", "(1/rp - 1)*dx/m_i", "m_i"),
]
EXACT = {"r1": "0.7*m_i*m_j*dx/rp**2", "r2": "-2.1*m_i*m_j*(dx - 0.5*dy)/rp**3", "spring": "(1/rp - 1)*dy"}
WRONG = {
    "r2": "m_j*dx/rp**4",  # a 1/r'^3 force over m_i instead of 1/r'^2
    "r1": "0.7*m_j*dx/rp**2 + 0.5*m_i*dy",  # the law over m_i plus a real extra term
    "spring": "(1/rp - 1)*dx/(m_i*m_j)",  # over both masses
}


@pytest.mark.parametrize("system, expression, factor", OVER_MASS)
def test_a_law_over_one_mass_is_recovered_up_to_that_factor_only(system, expression, factor):
    result = RecoveryScore(system, 2, R_RANGE)({"expression": expression})
    assert result["recovered_mass_factor"] and result["mass_factor"] == factor
    verdict = result["mass_factors"][factor]
    assert verdict["numeric"]["r2_inside"] >= 0.999 and verdict["numeric"]["r2_outside"] >= 0.999
    assert verdict["symbolic"]["recovered"] and verdict["symbolic"]["check"] in ("difference", "ratio")
    other = "m_j" if factor == "m_i" else "m_i"
    assert not result["mass_factors"][other]["recovered"]
    assert not result["recovered"] and not result["numeric"]["recovered"]  # the exact verdict says no


@pytest.mark.parametrize("system", sorted(EXACT))
def test_the_exact_law_is_recovered_exactly_and_not_up_to_a_mass_factor(system):
    result = RecoveryScore(system, 2, R_RANGE)({"expression": EXACT[system]})
    assert result["recovered"] and not result["recovered_mass_factor"] and result["mass_factor"] is None
    for verdict in result["mass_factors"].values():
        assert not verdict["numeric"]["recovered"] and verdict["symbolic"]["check"] == "skipped"


@pytest.mark.parametrize("system", sorted(WRONG))
def test_a_wrong_law_fails_both_verdicts(system):
    result = RecoveryScore(system, 2, R_RANGE)({"expression": WRONG[system]})
    assert not result["recovered"] and not result["recovered_mass_factor"] and result["mass_factor"] is None
    assert all(v["numeric"]["r2_inside"] < 0.999 for v in result["mass_factors"].values())


def test_the_symbolic_check_of_a_factor_can_say_no_where_the_numeric_one_passes():
    """A tiny-looking but real extra term (under the numeric threshold) is caught by the SymPy check."""
    score = RecoveryScore("r1", 2, R_RANGE)
    expr = parse("m_j*dx/rp**2 + 0.01*m_j*dy/rp**3", 2)
    numeric = score.numeric(expr, "m_i")
    symbolic = score.symbolic(expr, "m_i")
    assert numeric["recovered"] and not symbolic["recovered"]
    assert not score({"expression": expr})["recovered_mass_factor"]


def test_the_mass_factor_target_is_the_simulator_force_over_that_mass():
    """The expression of the law over m_i, on fresh pairs, is a multiple of the simulator's pair force / m_i."""
    x, _ = fresh_pairs("r2", 2, 0.5, 2.0, 200, seed=5)
    names = variable_names(2)
    delta = x[:, :2]
    pos = np.stack([delta, np.zeros_like(delta)], axis=1)  # receiver at Δ, sender at the origin
    m = x[:, [names.index("m_i"), names.index("m_j")]]
    q = x[:, [names.index("q_i"), names.index("q_j")]]
    force_over_mi = pair_forces("r2", pos, q, m)[:, 0] / m[:, :1]
    values = evaluate(parse("m_j*dx/rp**3", 2), 2, x)
    ratio = values / force_over_mi[:, 0]
    assert np.allclose(ratio, ratio[0], rtol=0.05)  # Δ/r' vs Δ/r: the softening's 0.01 / r at most


def test_an_unknown_mass_factor_is_named():
    with pytest.raises(BenchError, match="unknown mass factor 'm_k'; valid: m_i, m_j"):
        RecoveryScore("r1", 2, R_RANGE).mass_factor(parse("dx", 2), "m_k")


class _FixedFront:
    """A symbolic-regression engine whose front is given: the law over m_i (complexity 7) and a wrong one (3)."""

    name = "fixed"

    def __init__(self, settings, threads):
        pass

    def fit(self, X, y, names):
        return [{"expression": "m_j*dx", "complexity": 3, "mse": 0.5},
                {"expression": "0.7*m_j*dx/rp**2", "complexity": 7, "mse": 1e-6}]  # fmt: skip


def test_symbolic_regression_and_equations_count_recovery_up_to_a_mass_factor(monkeypatch):
    from bench.tasks.forces import symbolic
    from bench.tasks.forces.analysis import score_equation

    monkeypatch.setitem(symbolic.ENGINES, "fixed", _FixedFront)
    x, f = fresh_pairs("r1", 2, 0.5, 3.0, 300, seed=2)
    score = RecoveryScore("r1", 2, R_RANGE)
    probe = {"components": [{"component": 0}]}
    out = symbolic.run_sr({"messages": f[:, :1], "edge_inputs": x}, probe, {"name": "fixed", "edges": 300}, score, 2,
                          progress=False)  # fmt: skip
    comp = out["components"][0]
    assert comp["chosen"] == 1 and comp["recovered_mass_factor"] and comp["mass_factor"] == "m_i"
    assert [e["recovered_mass_factor"] for e in comp["front"]] == [False, True]
    assert not out["recovered"] and not out["recovered_on_front"]
    assert out["recovered_up_to_mass"] and out["recovered_up_to_mass_on_front"]

    class Model:
        def __init__(self, expressions):
            self.expressions = expressions

        def equation(self):
            return [parse(e, 2) for e in self.expressions]

    over_mass = score_equation(Model(["0.7*m_j*dx/rp**2", "m_j*dy/rp**2"]), score)
    assert not over_mass["recovered"] and over_mass["recovered_up_to_mass"]
    exact = score_equation(Model(["m_i*m_j*dx/rp**2"]), score)
    assert exact["recovered"] and exact["recovered_up_to_mass"]
    wrong = score_equation(Model(["0.7*m_j*dx/rp**2", "m_j*dy/rp"]), score)
    assert not wrong["recovered"] and not wrong["recovered_up_to_mass"]
