"""Module attributes imported on first use (PEP 562), so that importing a package stays cheap (no torch)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(module: str, names: dict[str, tuple[str, str]]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module``: ``names`` maps an attribute to (the module that defines
    it, its name there); the first access imports it and keeps it in the module."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module '{module}' has no attribute '{name}'")
        source, attr = names[name]
        value = getattr(importlib.import_module(source), attr)
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
