"""What every official evaluator shares: built from a task's name or card, dict in, dict out, a metric
table (name, direction, description, units) and a printable contract (``repr`` lists the expected
input and the output)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.family import Metric, metric_info


def describe(name: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    lines = [name, "  input:"] + [f"    {k}: {v}" for k, v in inputs.items()]
    return "\n".join(lines + ["  output:"] + [f"    {k}: {v}" for k, v in outputs.items()])


class TaskEvaluator:
    """Base of a family's ``Evaluator``: ``Evaluator('charge')`` or ``Evaluator(card)``; subclasses define
    ``expected_input``, ``metric_table`` and ``__call__(input_dict) -> metrics``.

    Every metric an evaluator returns has a row in its ``metric_table``; ranks, colours, captions,
    ``bench results``, the reports and the app read the direction from there.
    """

    expected_input: dict[str, str]
    metric_table: tuple[Metric, ...] = ()

    def __init__(self, task: Any):
        if isinstance(task, str):
            from bench.config import task_card

            task = task_card(task)
        self.card = task
        self.task = str(task.name)
        self.n, self.d = int(task.n_particles), int(task.dim)

    @property
    def expected_output(self) -> dict[str, str]:
        arrow = {"lower": "↓", "higher": "↑"}
        return {m.name: f"{arrow[m.direction]} {m.description}" + (f" [{m.units}]" if m.units else "")
                for m in self.metric_table}  # fmt: skip

    def metric(self, name: str) -> Metric:
        """The metric table's row of ``name``."""
        return metric_info(self.metric_table, name)

    def table_of(self, metrics: dict[str, float]) -> dict[str, dict[str, str]]:
        """The record's ``metric_table``: the row of each metric in ``metrics``."""
        return {name: self.metric(name).as_record() for name in metrics}

    def __repr__(self) -> str:
        return describe(f"Evaluator(task={self.task!r})", self.expected_input, self.expected_output)

    def input_array(
        self,
        input_dict: dict[str, Any],
        name: str,
        shape: tuple[int | str, ...] | None,
        what: str,
        finite: bool = True,
    ) -> np.ndarray:
        """Input ``name`` as a float64 array of ``shape`` (a str entry: any length; None: any shape), every value
        finite (unless ``finite`` is False: predictions may blow up); a ``ValueError`` naming the input, its
        shape and ``what`` was expected otherwise."""
        owner = f"Evaluator({self.task!r})"
        if input_dict.get(name) is None:
            raise ValueError(f"{owner}: missing input '{name}', {what}")
        try:
            a = np.asarray(input_dict[name], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{owner}: {name} is not a numeric array ({e}); expected {what}") from None
        if shape is None:
            return a
        want = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        if a.ndim != len(shape) or any(isinstance(s, int) and a.shape[i] != s for i, s in enumerate(shape)):
            raise ValueError(f"{owner}: {name} has shape {a.shape}; expected {want}, {what}")
        if finite and not np.isfinite(a).all():
            raise ValueError(f"{owner}: {name} has {int((~np.isfinite(a)).sum())} non-finite values; expected {what}")
        return a

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def eval(self, input_dict: dict[str, Any]) -> dict[str, float]:
        return self(input_dict)
