"""The suite's errors: each names the bad value and, where there is a list, the valid ones."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """An error a user can fix; the CLI prints its message and exits non-zero (no traceback)."""


class IncompatibleError(BenchError):
    """A task and a model that cannot be run together, with the reason."""


class DataError(BenchError):
    """A dataset that is missing, corrupted or not the official one, with the command that fixes it."""


class TrainingDiverged(BenchError):
    """Training produced a non-finite loss or parameter."""


def suggest(value: str, valid: Iterable[str]) -> str | None:
    """The nearest valid name to ``value``, if one is close enough."""
    close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1, cutoff=0.5)
    return close[0] if close else None


def unknown(kind: str, value: object, valid: Iterable[str]) -> BenchError:
    """``unknown task 'chrage'; did you mean 'charge'? valid: charge, r1, ...``"""
    valid = sorted(str(v) for v in valid)
    hint = suggest(str(value), valid)
    did_you_mean = f"; did you mean '{hint}'?" if hint else ";"
    return BenchError(f"unknown {kind} '{value}'{did_you_mean} valid: {', '.join(valid)}")
