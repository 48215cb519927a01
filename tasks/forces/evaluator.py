"""Official evaluator of family F: error of the predicted accelerations on a split, and the force-law
probe of the edge messages saved with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.evaluation import TaskEvaluator
from bench.family import Metric
from bench.tasks.forces.probe import ForceProbe

UNITS = "simulation units of acceleration"


class Evaluator(TaskEvaluator):
    """``Evaluator('charge')`` or ``Evaluator(card)``; ``evaluator(input_dict) -> metrics``.

    Input: ``acceleration_pred`` and ``acceleration_true``, float arrays of the same shape
    (..., n, d) with the task's n and d (for a whole split: (simulations, snapshots, n, d)).
    Optional, for models with edge messages: ``edge_messages_pred`` (E, d), the d most important
    message components on the probe's test edges (``bench.tasks.forces.probe``), most important first,
    and ``pair_force_true`` (E, d), the true force on each of those edges' receiver.
    Output: ``mae`` (the primary metric: mean absolute error over every component, not the sum over a
    system's n·d components that Cranmer et al. report), ``mse``, ``zero_mae`` (the MAE of predicting
    zero acceleration: the scale of the data), ``relative_mae`` (= mae / zero_mae); with messages,
    ``force_r2_robust`` and ``force_r2_full``.
    """

    metric_table = (
        Metric("mae", "lower", "mean absolute error of the acceleration, over every component (primary)", UNITS),
        Metric("mse", "lower", "mean squared error of the acceleration", f"({UNITS})²"),
        Metric(
            "zero_mae",
            "lower",
            "MAE of predicting zero acceleration: the data's scale, the same for every model",
            UNITS,
        ),  # fmt: skip
        Metric("relative_mae", "lower", "mae / zero_mae (1 = no better than predicting zero)"),
        Metric(
            "force_r2_robust",
            "higher",
            "R² of the d most important messages fitted as linear combinations "
            "of the true pair force, on the best-fitting 90 % of test edges",
        ),  # fmt: skip
        Metric("force_r2_full", "higher", "the same R² on every probed test edge"),
    )

    @property
    def expected_input(self) -> dict[str, str]:
        shape = f"(..., {self.n}, {self.d})"
        return {
            "acceleration_pred": f"float array {shape}: predicted accelerations",
            "acceleration_true": f"float array {shape}: true accelerations, same shape",
            "edge_messages_pred": f"optional float array (E, {self.d}): the d most important message components "
            "on the probe's test edges, most important first",
            "pair_force_true": f"float array (E, {self.d}): the true pair force of those edges (with messages)",
        }

    def _check(self, input_dict: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        missing = [k for k in ("acceleration_pred", "acceleration_true") if k not in input_dict]
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
        out = {
            "mae": mae,
            "mse": float((err * err).mean()),
            "zero_mae": zero,
            "relative_mae": mae / zero if zero > 0 else float("nan"),
        }
        if "edge_messages_pred" in input_dict:
            out.update(self.probe(input_dict))
        return out

    def probe(self, input_dict: dict[str, Any]) -> dict[str, float]:
        """The force-law probe of the saved messages: each column fitted as a + b·F, in the given order."""
        if "pair_force_true" not in input_dict:
            raise ValueError(f"Evaluator({self.task!r}): edge_messages_pred needs pair_force_true")
        messages = np.asarray(input_dict["edge_messages_pred"], dtype=np.float64)
        force = np.asarray(input_dict["pair_force_true"], dtype=np.float64)
        if messages.ndim != 2 or messages.shape != force.shape or messages.shape[1] != self.d:
            raise ValueError(f"Evaluator({self.task!r}): edge_messages_pred {messages.shape} and pair_force_true "
                             f"{force.shape} must both be (E, {self.d})")  # fmt: skip
        if not np.isfinite(messages).all():
            raise ValueError(f"Evaluator({self.task!r}): edge_messages_pred has non-finite values")
        order = np.arange(self.d, 0, -1, dtype=np.float64)  # keep the columns in the order given
        result = ForceProbe()({"messages": messages, "pair_force": force, "importance": order})
        return {"force_r2_robust": result["r2_robust"], "force_r2_full": result["r2_full"]}
