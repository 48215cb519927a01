"""The family F evaluator: numbers, shape checks, printable contract."""

from __future__ import annotations

import numpy as np
import pytest

from bench.tasks.forces import Evaluator


def test_metrics_are_the_documented_numbers():
    ev = Evaluator("spring")
    true = np.zeros((2, 3, 4, 2))
    true[..., 0] = 2.0
    pred = true.copy()
    pred[0, 0, 0, 0] += 4.0
    out = ev({"acceleration_pred": pred, "acceleration_true": true})
    n = true.size
    assert out["mae"] == pytest.approx(4.0 / n)
    assert out["mse"] == pytest.approx(16.0 / n)
    assert out["zero_mae"] == pytest.approx(1.0)
    assert out["relative_mae"] == pytest.approx(4.0 / n)


def test_contract_is_printable_and_checked():
    ev = Evaluator("charge")
    text = repr(ev)
    assert "acceleration_pred" in text and "(..., 4, 2)" in text and "mae" in text
    with pytest.raises(ValueError, match="missing input"):
        ev({"acceleration_pred": np.zeros((1, 4, 2))})
    with pytest.raises(ValueError, match="must match"):
        ev({"acceleration_pred": np.zeros((2, 4, 2)), "acceleration_true": np.zeros((3, 4, 2))})
    with pytest.raises(ValueError, match=r"must end in \(n, d\) = \(4, 2\)"):
        ev({"acceleration_pred": np.zeros((2, 4, 3)), "acceleration_true": np.zeros((2, 4, 3))})
    bad = np.zeros((2, 4, 2))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ev({"acceleration_pred": bad, "acceleration_true": np.zeros((2, 4, 2))})
