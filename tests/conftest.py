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


UMAP_MODULES = "tests/tasks/test_heterogeneous_"
"""Test modules whose runs score types through UMAP. A process's first UMAP fit spends 15-30 s compiling numba code
that umap does not cache, so these modules share one xdist work unit: one worker pays it, not each."""


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` (the default in pyproject.toml), with the heterogeneous family's modules as one scope."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return UMAP_MODULES if nodeid.startswith(UMAP_MODULES) else super()._split_scope(nodeid)

    return Scheduling(config, log)
