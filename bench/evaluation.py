"""What every official evaluator shares: built from a task's name or card, dict in, dict out, and a
printable contract (``repr`` lists the expected input and the output)."""

from __future__ import annotations

from typing import Any


def describe(name: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    lines = [name, "  input:"] + [f"    {k}: {v}" for k, v in inputs.items()]
    return "\n".join(lines + ["  output:"] + [f"    {k}: {v}" for k, v in outputs.items()])


class TaskEvaluator:
    """Base of a family's ``Evaluator``: ``Evaluator('charge')`` or ``Evaluator(card)``; subclasses define
    ``expected_input``, ``expected_output`` and ``__call__(input_dict) -> metrics``."""

    expected_input: dict[str, str]
    expected_output: dict[str, str]

    def __init__(self, task: Any):
        if isinstance(task, str):
            from bench.config import task_card

            task = task_card(task)
        self.task = str(task.name)
        self.n, self.d = int(task.n_particles), int(task.dim)

    def __repr__(self) -> str:
        return describe(f"Evaluator(task={self.task!r})", self.expected_input, self.expected_output)

    def __call__(self, input_dict: dict[str, Any]) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def eval(self, input_dict: dict[str, Any]) -> dict[str, float]:
        return self(input_dict)
