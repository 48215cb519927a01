"""Shared fixtures: one tiny-scale data folder for the whole session (datasets are generated once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session", autouse=True)
def _index_cache(tmp_path_factory):
    """The store's index cache in a session folder (never the real ~/.cache); os.environ, so that
    subprocesses (bench, streamlit) inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(tmp_path_factory.mktemp("index-cache")))
        yield


@pytest.fixture(autouse=True)
def _quiet_torch_threads():
    import torch

    torch.set_num_threads(1)
    yield
