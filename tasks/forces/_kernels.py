"""Compiled kernel of the family F simulator (numba), bit-identical to the numpy code of ``systems``.

The numpy integrator (``systems.integrate_reference``) spends its time in numpy's per-call overhead: every
velocity-Verlet substep of every simulation is a dozen small array operations, and the refinement ladder of
``generate`` runs a few simulations at 8 and 64 times the substeps. ``advance`` does the same substeps in the
same order of operations, for every simulation:

- the pair term of receiver i and sender j: ``δ = x_i − x_j``; ``r2 = (δ0·δ0 + δ1·δ1) + δ2·δ2`` (coordinates in
  order); ``r = √r2``; ``r' = r + 0.01``; the system's ``dV`` with the parenthesisation of ``systems``;
  ``f = (−dV / r) · δ``;
- the acceleration of i: ``(f_{i,s0} + f_{i,s1} + …) / m_i`` over its senders in ``bench.pairs.ordered_pairs``
  order, starting from the first term (not from 0: the sign of a zero sum would differ); ``damped`` then
  subtracts ``0.1 · v`` (the midpoint velocity);
- the substep: ``v½ = v + (½h)·a``; ``x = x + h·v½``; ``a`` of (x, v½); ``v = v½ + (½h)·a``;
- ``damped``'s dissipated work ``+= (h·0.1) · Σ_i m_i Σ_c v½_ic²`` with numpy's own order for the two sums
  (``_numpy_sum``): numpy's ``add.reduce`` of a contiguous row of n numbers adds, to 0.0, its pairwise sum,
  which is sequential for n < 8 and eight running sums combined as a tree for 8 ≤ n ≤ 128.

Every operation is an IEEE 754 ``+ − × /`` or ``√`` (correctly rounded, the same in a SIMD lane as in a
register), so the bytes are numpy's. The term ``−dV / r`` is the same for (i, j) and (j, i) (``r2`` is built
from squares of exactly negated differences; ``m_i m_j`` and ``q_i q_j`` commute exactly): it is computed once
per unordered pair. ``tests/tasks/test_forces_kernels.py`` checks the bytes for every system, including
coincident particles (NaN: IEEE 754 leaves a NaN's sign and payload open, but this numba and numpy agree).

Speed: the simulations of a block of ``LANES`` lie on the last, fastest axis of its arrays, so every loop over
them is a SIMD loop doing the same arithmetic in every lane; a block's state stays in cache for all k substeps
of a call (no numpy temporaries, no Python per substep); the loops index the block arrays directly (a view
would count references with atomic operations, which halved the speed).

``error_model="numpy"``: a float division never raises (x/0 is ±∞ as in numpy). No ``fastmath``: LLVM may
then neither reassociate nor fuse a multiply and an add. ``advance`` is serial and releases the GIL;
``systems.integrate`` runs it on one part of the simulations per numba thread (``numba.set_num_threads``,
``threads=`` of ``bench run``) in Python threads, which changes no byte. Not numba's ``parallel=True``: its
compilation took longer than it saves (the first use, which compiles and fills numba's disk cache, is in
the first ``bench data`` of a force task).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bench.tasks.forces.systems import SOFTENING
from bench.tasks.libm import with_disk_cache

SYSTEM_CODES = {"spring": 0, "r1": 1, "r2": 2, "charge": 3, "superposition": 4, "damped": 5, "discontinuous": 6}
"""The kernel's number for each system of ``systems.POTENTIALS`` (``damped``'s pair force is ``spring``'s)."""

LANES = 16
"""Simulations side by side in a block (``integrate`` passes it as ``advance``'s ``lanes``): the last, fastest axis
of every block array, so that every loop over the lanes is a SIMD loop. Any count gives the same bytes. (A count known
at compile time makes LLVM unroll the loops fully, and then not vectorise them.)"""

MAX_SUM = 128
"""numpy's pairwise sum splits rows longer than this recursively; ``_numpy_sum`` covers rows up to it."""


def _njit(**options):
    """``numba.njit(cache=True, **options)``, without the disk cache where no folder for it is writable."""
    return lambda function: with_disk_cache(lambda cache: njit(cache=cache, **options), function)


@_njit(error_model="numpy")
def _numpy_sum(a, n):
    """``np.add.reduce`` of the contiguous ``a[:n]`` (n ≤ 128) in numpy's order: its ``pairwise_sum`` added to 0.0
    (found by experiment with numpy 2.4, tested against it: tests/tasks/test_forces_kernels.py)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res = res + a[i]
        return res  # 0.0 + res would change nothing: a sum started from 0.0 is never -0.0
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    while i < n - n % 8:
        r0 = r0 + a[i]
        r1 = r1 + a[i + 1]
        r2 = r2 + a[i + 2]
        r3 = r3 + a[i + 3]
        r4 = r4 + a[i + 4]
        r5 = r5 + a[i + 5]
        r6 = r6 + a[i + 6]
        r7 = r7 + a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res = res + a[i]
        i += 1
    return 0.0 + res  # the sign of an all -0.0 row's sum: +0.0, as numpy's


@_njit(error_model="numpy")
def _block_accelerations(code, x, vel, q, m, damping, acc, w, r2):
    """``systems.accelerations`` of a block of L simulations: x, vel, acc (n, d, L); q, m (n, L); w (n, n, L) and
    r2 (L,) scratch. (No views of the block arrays in the loops, here and in ``advance``: each would count
    references with atomic operations.)"""
    n, d, L = x.shape
    # w[i, j] = −dV(r') / r of every pair i < j: the derivative of ``systems`` for the system ``code``, term for term
    for i in range(n):
        for j in range(i + 1, n):
            for b in range(L):
                r2[b] = (x[i, 0, b] - x[j, 0, b]) * (x[i, 0, b] - x[j, 0, b])
            for c in range(1, d):
                for b in range(L):
                    r2[b] = r2[b] + (x[i, c, b] - x[j, c, b]) * (x[i, c, b] - x[j, c, b])
            if code == 0 or code == 5:  # spring, damped
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = 2.0 * (rp - 1.0)
                    w[i, j, b] = -dV / r
            elif code == 1:  # r1
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = m[i, b] * m[j, b] / rp
                    w[i, j, b] = -dV / r
            elif code == 2:  # r2
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = m[i, b] * m[j, b] / (rp * rp)
                    w[i, j, b] = -dV / r
            elif code == 3:  # charge
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = -(q[i, b] * q[j, b]) / (rp * rp)
                    w[i, j, b] = -dV / r
            elif code == 4:  # superposition
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = (m[i, b] * m[j, b] - q[i, b] * q[j, b]) / (rp * rp)
                    w[i, j, b] = -dV / r
            else:  # discontinuous: np.where(rp < 2, 0, 2 (rp - 1)); NaN is not < 2
                for b in range(L):
                    r = np.sqrt(r2[b])
                    rp = r + SOFTENING
                    dV = 0.0 if rp < 2.0 else 2.0 * (rp - 1.0)
                    w[i, j, b] = -dV / r
    # each receiver's terms (−dV / r)·(x_i − x_j), added in sender order starting from the first term; / m; damping
    for i in range(n):
        j0 = 1 if i == 0 else 0
        for c in range(d):
            lo, hi = min(i, j0), max(i, j0)
            for b in range(L):
                acc[i, c, b] = w[lo, hi, b] * (x[i, c, b] - x[j0, c, b])
            for j in range(j0 + 1, n):
                if j != i:
                    lo, hi = min(i, j), max(i, j)
                    for b in range(L):
                        acc[i, c, b] = acc[i, c, b] + w[lo, hi, b] * (x[i, c, b] - x[j, c, b])
            if damping != 0.0:
                for b in range(L):
                    acc[i, c, b] = acc[i, c, b] / m[i, b] - damping * vel[i, c, b]
            else:
                for b in range(L):
                    acc[i, c, b] = acc[i, c, b] / m[i, b]


@_njit(error_model="numpy")
def _gather(s0, nb, pos, vel, charge, mass, xb, vb, qb, mb):
    """Simulations s0 .. s0 + nb − 1 into the block's lanes (positions, velocities (n, d, L), charges, masses (n, L));
    the lanes past nb repeat the last simulation (no garbage in a lane)."""
    n, d, L = xb.shape
    for b in range(L):
        s = s0 + min(b, nb - 1)
        for i in range(n):
            qb[i, b] = charge[s, i]
            mb[i, b] = mass[s, i]
            for c in range(d):
                xb[i, c, b] = pos[s, i, c]
                vb[i, c, b] = vel[s, i, c]


@_njit(error_model="numpy")
def accelerations_kernel(code, pos, vel, charge, mass, damping, lanes):
    """``systems.accelerations`` of pos, vel (S, n, d) with charges and masses (S, n): (S, n, d), as ``advance``
    computes them (``integrate`` takes its first from numpy; the tests compare the two)."""
    S, n, d = pos.shape
    L = lanes
    out = np.empty((S, n, d))
    xb, vb, ab = np.empty((n, d, L)), np.empty((n, d, L)), np.empty((n, d, L))
    qb, mb, w, r2 = np.empty((n, L)), np.empty((n, L)), np.empty((n, n, L)), np.empty(L)
    for s0 in range(0, S, L):
        nb = min(L, S - s0)
        _gather(s0, nb, pos, vel, charge, mass, xb, vb, qb, mb)
        _block_accelerations(code, xb, vb, qb, mb, damping, ab, w, r2)
        for b in range(nb):
            for i in range(n):
                for c in range(d):
                    out[s0 + b, i, c] = ab[i, c, b]
    return out


@_njit(error_model="numpy", nogil=True)
def advance(code, x, v, a, q, m, damping, dissipated, h, k, lanes):
    """``k`` velocity-Verlet substeps of ``h`` of every simulation, in place: x, v, a (S, n, d) the positions,
    velocities and accelerations (``a`` of the current state, as ``integrate`` carries it); q, m (S, n);
    ``dissipated`` (S,) gains the work of friction when ``damping`` is not 0. ``lanes`` simulations at a time
    (any count gives the same bytes; a multiple of 8 leaves no scalar remainder to the SIMD loops), all k
    substeps of a block before the next. Releases the GIL: ``integrate`` runs it on parts of the simulations in
    several threads."""
    S, n, d = x.shape
    L = lanes
    half = 0.5 * h
    hd = h * damping
    xb, vb, ab = np.empty((n, d, L)), np.empty((n, d, L)), np.empty((n, d, L))
    qb, mb, w, r2 = np.empty((n, L)), np.empty((n, L)), np.empty((n, n, L)), np.empty(L)
    sq, ke, work = np.empty(d), np.empty(n), np.empty(L)
    for s0 in range(0, S, L):
        nb = min(L, S - s0)
        _gather(s0, nb, x, v, q, m, xb, vb, qb, mb)
        for b in range(L):  # and the carried accelerations and dissipated work, likewise
            s = s0 + min(b, nb - 1)
            for i in range(n):
                for c in range(d):
                    ab[i, c, b] = a[s, i, c]
            work[b] = dissipated[s]
        for _ in range(k):
            for i in range(n):
                for c in range(d):
                    for b in range(L):
                        vh = vb[i, c, b] + half * ab[i, c, b]
                        vb[i, c, b] = vh
                        xb[i, c, b] = xb[i, c, b] + h * vh
            if damping != 0.0:  # numpy: dissipated + h * damping * (m * (v½ * v½).sum(-1)).sum(-1), lane by lane
                for b in range(L):  # (scalar: SIMD loops here cost more compilation than they save)
                    for i in range(n):
                        for c in range(d):
                            sq[c] = vb[i, c, b] * vb[i, c, b]
                        ke[i] = mb[i, b] * _numpy_sum(sq, d)
                    work[b] = work[b] + hd * _numpy_sum(ke, n)
            _block_accelerations(code, xb, vb, qb, mb, damping, ab, w, r2)
            for i in range(n):
                for c in range(d):
                    for b in range(L):
                        vb[i, c, b] = vb[i, c, b] + half * ab[i, c, b]
        for b in range(nb):
            for i in range(n):
                for c in range(d):
                    x[s0 + b, i, c] = xb[i, c, b]
                    v[s0 + b, i, c] = vb[i, c, b]
                    a[s0 + b, i, c] = ab[i, c, b]
            dissipated[s0 + b] = work[b]
