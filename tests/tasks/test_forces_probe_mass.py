"""The force-law probe up to a mass factor: messages linear in F/m_i (or F/m_j) of the simulator's law are told
apart from messages linear in F, and noise or a wrong law fits none of the three forms."""

from __future__ import annotations

import numpy as np
import pytest

from bench.pairs import ordered_pairs
from bench.tasks.forces import ForceProbe
from bench.tasks.forces.systems import initial_state, pair_forces


def _edges(system: str, snapshots: int = 1000, n: int = 4, seed: int = 0):
    """The true pair forces of random states (positions N(0, 1), masses exp(N(0, 1))), with each edge's receiver and
    sender mass: (F (E, 2), m_i (E,), m_j (E,))."""
    state = initial_state(snapshots, n, 2, seed)
    force = pair_forces(system, state["pos"], state["charge"], state["mass"]).reshape(-1, 2)
    recv, send = ordered_pairs(n)
    return force, state["mass"][:, recv].ravel(), state["mass"][:, send].ravel()


def _probe(messages, force, m_i, m_j):
    return ForceProbe()({"messages": messages, "pair_force": force, "receiver_mass": m_i, "sender_mass": m_j})


MIX = np.array([[0.8, -0.3], [0.4, 1.1]])  # a rotation-and-scale of the force's components, as a model may learn


@pytest.mark.parametrize("system", ["r1", "r2"])
def test_a_message_linear_in_force_over_receiver_mass_fits_that_form_only(system):
    force, m_i, m_j = _edges(system)
    result = _probe((force / m_i[:, None]) @ MIX + 0.5, force, m_i, m_j)
    assert result["best_form"] == "F/m_i"
    assert result["r2_robust_mass_i"] > 0.9999 and result["r2_full_mass_i"] > 0.9999
    assert result["r2_robust"] < 0.95 and result["r2_robust_mass_j"] < 0.95  # the exact form fails
    for comp in result["components"]:
        assert comp["r2_robust_mass_i"] > 0.9999 and comp["r2_robust"] < 0.95


def test_a_message_linear_in_force_over_sender_mass_fits_that_form():
    force, m_i, m_j = _edges("r2")
    result = _probe((force / m_j[:, None]) @ MIX, force, m_i, m_j)
    assert result["best_form"] == "F/m_j" and result["r2_robust_mass_j"] > 0.9999
    assert result["r2_robust"] < 0.95 and result["r2_robust_mass_i"] < 0.95


@pytest.mark.parametrize("system", ["spring", "r1", "r2"])
def test_a_message_linear_in_the_force_keeps_its_exact_verdict(system):
    force, m_i, m_j = _edges(system)
    result = _probe(force @ MIX, force, m_i, m_j)
    assert result["best_form"] == "F" and result["r2_robust"] > 0.9999 and result["r2_full"] > 0.9999
    if system != "spring":  # a spring's force has no mass in it: F/m carries the masses' spread
        assert result["r2_robust_mass_i"] < 0.95 and result["r2_robust_mass_j"] < 0.95
    # the existing keys mean what they meant: the same numbers without the masses
    plain = ForceProbe()({"messages": force @ MIX, "pair_force": force})
    assert plain["r2_robust"] == result["r2_robust"] and "best_form" not in plain and "r2_robust_mass_i" not in plain


def test_noise_and_a_wrong_law_fit_no_form():
    force, m_i, m_j = _edges("r2")
    noise = np.random.default_rng(1).standard_normal(force.shape)
    wrong_force, *_ = _edges("r1")  # 1/r' instead of 1/r'^2, same states: a wrong law over the receiver's mass too
    for messages in (noise, (wrong_force / m_i[:, None]) @ MIX):
        result = _probe(messages, force, m_i, m_j)
        assert max(result["r2_robust"], result["r2_robust_mass_i"], result["r2_robust_mass_j"]) < 0.9


def test_masses_must_come_in_pairs_and_be_positive():
    force, m_i, m_j = _edges("r1", snapshots=10)
    with pytest.raises(ValueError, match="receiver_mass given without the other"):
        ForceProbe()({"messages": force, "pair_force": force, "receiver_mass": m_i})
    with pytest.raises(ValueError, match=r"sender_mass must be \(120,\) positive masses"):
        _probe(force, force, m_i, -m_j)
