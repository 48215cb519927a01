"""Checks shared by the model tests of both families."""

from __future__ import annotations

import io

import torch


def reloaded(model, make):
    """``make()``'s fresh model, its parameters moved away, then loaded with ``model``'s saved state
    dict (through bytes, as a checkpoint is): it must compute what ``model`` computes."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other = make()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_state_dict(torch.load(buffer))
    return other
