"""What every official evaluator shares: built from a task's name or card, dict in, dict out, a metric
table (name, direction, description, units) and a printable contract (``repr`` lists the expected
input and the output)."""

from __future__ import annotations

from typing import Any

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

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def eval(self, input_dict: dict[str, Any]) -> dict[str, float]:
        return self(input_dict)
