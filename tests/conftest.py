"""Shared fixtures: one tiny-scale data folder for the whole session (datasets are generated once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _quiet_torch_threads():
    import torch

    torch.set_num_threads(1)
    yield
