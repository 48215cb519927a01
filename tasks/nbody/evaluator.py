"""Official evaluators of family N: position error at the target frame, and autoregressive rollouts."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.evaluation import TaskEvaluator, describe
from bench.family import Metric
from bench.tasks.nbody.systems import energy

ROLLOUT_METRICS = (
    Metric(
        "rollout_mse_h{k}", "lower", "MSE of the positions after k chained jumps (systems still finite)", "length²"
    ),  # fmt: skip
    Metric("rollout_finite_h{k}", "higher", "fraction of test systems whose rollout is still finite after k jumps"),
    Metric("energy_drift_h{k}", "lower", "median |E_k − E_0| / K_0 of the predicted frames after k jumps"),
    Metric(
        "true_energy_drift_h{k}",
        "lower",
        "the same drift for the true trajectory with the same velocity estimate: a floor, the same for every model",
    ),  # fmt: skip
)


def _array(
    name: str, owner: str, input_dict: dict[str, Any], tail: tuple[int, ...], ndim: int, finite: bool = True
) -> np.ndarray:
    if input_dict.get(name) is None:
        raise ValueError(f"{owner}: missing input '{name}'")
    a = np.asarray(input_dict[name], dtype=np.float64)
    if a.ndim != ndim or a.shape[a.ndim - len(tail) :] != tail:
        raise ValueError(f"{owner}: {name} has shape {a.shape}; expected {ndim} dimensions ending in {tail}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{owner}: {name} has {(~np.isfinite(a)).sum()} non-finite values")
    return a


class Evaluator(TaskEvaluator):
    """``Evaluator('nbody5')`` or ``Evaluator(card)``; ``evaluator(input_dict) -> metrics``.

    Input: ``position_pred`` and ``position_true``, float arrays (S, n, 3): the positions of every
    particle at the target frame. Output: ``mse`` (primary: mean over particles and coordinates of the
    squared error, as in Satorras et al.), ``mae``. Optional, the model's jumps chained over the test
    trajectories' later frames: ``rollout_pred`` with ``trajectory_true``, ``velocity_true`` and
    ``charge_true`` (see ``RolloutEvaluator``) add the rollout metrics.
    """

    metric_table = (
        Metric(
            "mse",
            "lower",
            "mean squared error of the positions at the target frame, over particles and coordinates (primary)",
            "length²",
        ),  # fmt: skip
        Metric("mae", "lower", "mean absolute error of the positions at the target frame", "length"),
        *ROLLOUT_METRICS,
    )

    @property
    def expected_input(self) -> dict[str, str]:
        shape = f"(S, {self.n}, {self.d})"
        return {
            "position_pred": f"float array {shape}: predicted positions at the target frame",
            "position_true": f"float array {shape}: true positions at the target frame",
            "rollout_pred": f"optional float array (S, K, {self.n}, {self.d}): positions after 1..K chained jumps",
            "trajectory_true": f"(S, K+1, {self.n}, {self.d}): true positions at the input frame and after each jump",
            "velocity_true": f"(S, {self.n}, {self.d}): true velocities at the input frame",
            "charge_true": f"(S, {self.n}): charges",
        }

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:
        owner = f"Evaluator({self.task!r})"
        pred = _array("position_pred", owner, input_dict, (self.n, self.d), 3)
        true = _array("position_true", owner, input_dict, (self.n, self.d), 3)
        if pred.shape != true.shape:
            raise ValueError(f"{owner}: position_pred has shape {pred.shape}, position_true {true.shape}")
        err = pred - true
        out = {"mse": float((err * err).mean()), "mae": float(np.abs(err).mean())}
        if "rollout_pred" in input_dict:
            from bench.tasks.nbody.analysis import jump_time

            out.update(RolloutEvaluator(jump_time(self.card))({
                "rollout_pred": input_dict["rollout_pred"], "trajectory": input_dict.get("trajectory_true"),
                "velocity": input_dict.get("velocity_true"), "charge": input_dict.get("charge_true"),
            }))  # fmt: skip
        return out


class RolloutEvaluator:
    """Scores an autoregressive rollout: the model's jumps chained over K target frames.

    Input: ``rollout_pred`` (S, K, n, 3): predicted positions after 1..K jumps; ``trajectory`` (S, K+1,
    n, 3): true positions at the input frame and after each jump; ``velocity`` (S, n, 3): true velocities
    at the input frame; ``charge`` (S, n); and the constructor's ``jump_time`` (the time of one jump).

    Output, per horizon k = 1..K: ``rollout_mse_h{k}`` (over the systems whose rollout is still finite);
    ``rollout_finite_h{k}``, the fraction of those systems (1 unless the rollout blew up);
    ``energy_drift_h{k}``, the median over systems of |E_k − E_0| / K_0, where E_k is the energy of the
    predicted frame k with velocities estimated as the displacement over the last jump divided by
    ``jump_time`` (the same estimate the rollout feeds back), E_0 and K_0 the true total and kinetic
    energy at the input frame; and ``true_energy_drift_h{k}``, the same quantity for the true
    trajectory with the same velocity estimate (what the estimate itself costs: a floor for the model).
    """

    def __init__(self, jump_time: float):
        self.jump_time = float(jump_time)

    def __repr__(self) -> str:
        return describe(f"RolloutEvaluator(jump_time={self.jump_time})", {
            "rollout_pred": "(S, K, n, 3) predicted positions after 1..K jumps",
            "trajectory": "(S, K+1, n, 3) true positions at the input frame and after each jump",
            "velocity": "(S, n, 3) true velocities at the input frame", "charge": "(S, n) charges",
        }, {"rollout_mse_h{k}": "MSE after k jumps", "energy_drift_h{k}": "median relative energy drift",
            "true_energy_drift_h{k}": "the same for the true trajectory"})  # fmt: skip

    def drift(self, positions: np.ndarray, velocity: np.ndarray, charge: np.ndarray) -> np.ndarray:
        """Median relative energy drift (K,) of trajectories ``positions`` (S, K+1, n, 3) whose frame 0
        is the true input frame with true ``velocity``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            kin0, pot0 = energy(positions[:, 0], velocity, charge)
            v_est = (positions[:, 1:] - positions[:, :-1]) / self.jump_time
            kin, pot = energy(positions[:, 1:], v_est, charge[:, None])
            rel = np.abs((kin + pot) - (kin0 + pot0)[:, None]) / kin0[:, None]
        return np.nanmedian(np.where(np.isfinite(rel), rel, np.inf), axis=0)

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:
        owner = "RolloutEvaluator"
        pred = _array("rollout_pred", owner, input_dict, (3,), 4, finite=False)  # a rollout may blow up
        true = _array("trajectory", owner, input_dict, (3,), 4)
        S, K, n = pred.shape[:3]
        if true.shape != (S, K + 1, n, 3):
            raise ValueError(f"{owner}: trajectory has shape {true.shape}; expected {(S, K + 1, n, 3)}")
        velocity = _array("velocity", owner, input_dict, (n, 3), 3)
        charge = _array("charge", owner, input_dict, (n,), 2)
        finite = np.isfinite(pred).all(axis=(2, 3))  # (S, K): systems whose rollout is still finite
        with np.errstate(over="ignore", invalid="ignore"):
            per_system = ((pred - true[:, 1:]) ** 2).mean(axis=(2, 3))
        predicted = np.concatenate([true[:, :1], pred], axis=1)
        model_drift = self.drift(predicted, velocity, charge)
        true_drift = self.drift(true, velocity, charge)
        out: dict[str, float] = {}
        for k in range(K):
            # over the systems still finite at horizon k (all of them unless the rollout blew up)
            out[f"rollout_mse_h{k + 1}"] = float(per_system[finite[:, k], k].mean()) if finite[:, k].any() else np.nan
        for k in range(K):
            out[f"rollout_finite_h{k + 1}"] = float(finite[:, k].mean())
        for k in range(K):
            out[f"energy_drift_h{k + 1}"] = float(model_drift[k])
            out[f"true_energy_drift_h{k + 1}"] = float(true_drift[k])
        return out

    eval = __call__
