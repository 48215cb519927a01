"""Official evaluator of family F: error of the predicted accelerations on a split."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.evaluation import TaskEvaluator


class Evaluator(TaskEvaluator):
    """``Evaluator('charge')`` or ``Evaluator(card)``; ``evaluator(input_dict) -> metrics``.

    Input: ``acceleration_pred`` and ``acceleration_true``, float arrays of the same shape
    (..., n, d) with the task's n and d (for a whole split: (simulations, snapshots, n, d)).
    Output: ``mae`` (the primary metric: mean absolute error over every component), ``mse``,
    ``zero_mae`` (the MAE of predicting zero acceleration: the scale of the data) and
    ``relative_mae`` (= mae / zero_mae).
    """

    @property
    def expected_input(self) -> dict[str, str]:
        shape = f"(..., {self.n}, {self.d})"
        return {
            "acceleration_pred": f"float array {shape}: predicted accelerations",
            "acceleration_true": f"float array {shape}: true accelerations, same shape",
        }

    @property
    def expected_output(self) -> dict[str, str]:
        return {
            "mae": "mean absolute error over all components (primary)",
            "mse": "mean squared error",
            "zero_mae": "MAE of predicting zero",
            "relative_mae": "mae / zero_mae",
        }

    def _check(self, input_dict: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        missing = [k for k in self.expected_input if k not in input_dict]
        if missing:
            raise ValueError(f"Evaluator({self.task!r}): missing input {missing}; expected:\n{self!r}")
        pred = np.asarray(input_dict["acceleration_pred"], dtype=np.float64)
        true = np.asarray(input_dict["acceleration_true"], dtype=np.float64)
        if pred.shape != true.shape:
            raise ValueError(
                f"Evaluator({self.task!r}): acceleration_pred has shape {pred.shape}, "
                f"acceleration_true {true.shape}; they must match"
            )
        if pred.ndim < 2 or pred.shape[-2:] != (self.n, self.d):
            raise ValueError(f"Evaluator({self.task!r}): shape {pred.shape} must end in (n, d) = ({self.n}, {self.d})")
        if not np.isfinite(pred).all():
            raise ValueError(f"Evaluator({self.task!r}): acceleration_pred has {(~np.isfinite(pred)).sum()} "
                             "non-finite values")  # fmt: skip
        return pred, true

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:
        pred, true = self._check(input_dict)
        err = pred - true
        mae = float(np.abs(err).mean())
        zero = float(np.abs(true).mean())
        return {
            "mae": mae,
            "mse": float((err * err).mean()),
            "zero_mae": zero,
            "relative_mae": mae / zero if zero > 0 else float("nan"),
        }
