"""The suite's one edge order for fully connected systems: receiver-major ordered pairs.

Pair k of a system of n particles is (receiver i, sender j) with i ascending and, for each i, the
senders j != i ascending. Simulators (pair forces), batches (``edge_index``) and the dense backend all
use this order, so an edge means the same pair everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def ordered_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Receivers and senders (each (n(n-1),) int64) of every ordered pair i != j, receiver-major."""
    receivers = np.repeat(np.arange(n, dtype=np.int64), n - 1)
    senders = np.array([j for i in range(n) for j in range(n) if j != i], dtype=np.int64)
    receivers.setflags(write=False)
    senders.setflags(write=False)
    return receivers, senders
