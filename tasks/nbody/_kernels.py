"""Compiled kernels of the family N simulator (numba), bit-identical to the numpy code of ``systems``.

The numpy simulator (``systems.forces_reference``) computes, for every simulation,

    strength_ij = q_i q_j / (r2 · √r2)  (r2 = ((d0·d0) + (d1·d1)) + (d2·d2), d = x_i − x_j; r2_ii = ∞)
    F_i         = Σ_j strength_ij · (x_i − x_j)   (a numpy reduction over j)

and then clips F and steps ``v += dt·F; x += dt·v``. Every operation there is an IEEE 754 ``+ − × / √``
(correctly rounded, so the same in a SIMD lane as in a scalar register); only the order of the j-sum
is numpy's choice. The product ``strength · delta`` inherits delta's memory layout (coordinate fastest,
then j), so ``.sum(-1)`` is not numpy's pairwise sum but an iterator over j with the three coordinates
inside: every F_i^c is 0 + t_0 + t_1 + … + t_{n−1}, one term after the other. ``_block_forces`` adds in
exactly that order, so the kernels give the numpy simulator's bytes (``tests/tasks/test_simulator_kernels.py``
checks it bit for bit, for 1 to 129 bodies).

Speed comes from four things: the simulations of a block lie on the last, fastest axis (every loop over
``b`` is one SIMD loop, the same arithmetic in every lane); the state of a block stays in cache for all
its steps (no numpy temporaries, no per-step Python); each pair's strength is computed once for (i, j)
and (j, i) (symmetric bit for bit: x_j − x_i = −(x_i − x_j) exactly, so r2 is the same); and the j-sum
takes four columns per pass over F (one load and store of F_i for four additions, still in j order).
Blocks are independent, so ``simulate_kernel`` shares them among numba's threads without changing a byte.
``error_model="numpy"``: a float division never raises (x/0 is ±∞ as in numpy) and can be vectorised. No
``fastmath``: LLVM may then neither reassociate nor fuse a multiply and an add.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from bench.tasks.libm import with_disk_cache


def _njit(**options):
    """``numba.njit(cache=True, **options)``, without the disk cache where no folder for it is writable."""
    return lambda function: with_disk_cache(lambda cache: njit(cache=cache, **options), function)


@_njit(error_model="numpy")
def _block_forces(x, q, nb, s, F, clip, max_force):
    """Forces F (3, n, B) of the block's positions x (3, n, B) and charges q (n, B), first ``nb`` lanes;
    clipped to ±max_force when ``clip``. ``s`` (n, n, B) is scratch: the strength of pair (i ≤ j) in s[i, j]."""
    n = x.shape[1]
    for i in range(n):
        for j in range(i + 1, n):
            for b in range(nb):
                d0 = x[0, i, b] - x[0, j, b]
                d1 = x[1, i, b] - x[1, j, b]
                d2 = x[2, i, b] - x[2, j, b]
                r2 = d0 * d0 + d1 * d1 + d2 * d2
                s[i, j, b] = (q[i, b] * q[j, b]) / (r2 * np.sqrt(r2))
        for b in range(nb):
            s[i, i, b] = (q[i, b] * q[i, b]) / np.inf  # numpy's r2_ii = ∞: the term is (q_i q_i / ∞) · 0
    for c in range(3):
        for i in range(n):
            for b in range(nb):
                F[c, i, b] = 0.0
    j0 = 0
    while j0 + 4 <= n:  # four columns per pass: F_i is loaded and stored once for four terms, added in j order
        for i in range(n):
            s0 = s[min(i, j0), max(i, j0)]
            s1 = s[min(i, j0 + 1), max(i, j0 + 1)]
            s2 = s[min(i, j0 + 2), max(i, j0 + 2)]
            s3 = s[min(i, j0 + 3), max(i, j0 + 3)]
            for c in range(3):
                xc = x[c]
                Fc = F[c, i]
                for b in range(nb):
                    xi = xc[i, b]
                    f = Fc[b]
                    f += s0[b] * (xi - xc[j0, b])
                    f += s1[b] * (xi - xc[j0 + 1, b])
                    f += s2[b] * (xi - xc[j0 + 2, b])
                    f += s3[b] * (xi - xc[j0 + 3, b])
                    Fc[b] = f
        j0 += 4
    for j in range(j0, n):
        for i in range(n):
            a, z = (i, j) if i <= j else (j, i)
            for b in range(nb):
                w = s[a, z, b]
                F[0, i, b] += w * (x[0, i, b] - x[0, j, b])
                F[1, i, b] += w * (x[1, i, b] - x[1, j, b])
                F[2, i, b] += w * (x[2, i, b] - x[2, j, b])
    if clip:  # np.clip: NaN stays NaN
        for c in range(3):
            for i in range(n):
                for b in range(nb):
                    f = F[c, i, b]
                    if f < -max_force:
                        F[c, i, b] = -max_force
                    elif f > max_force:
                        F[c, i, b] = max_force


@_njit(error_model="numpy")
def forces_kernel(pos, charge, clip, max_force, block):
    """Forces (S, n, 3) of positions (S, n, 3) and charges (S, n); see ``systems.forces``."""
    S, n = pos.shape[0], pos.shape[1]
    out = np.empty((S, n, 3))
    x = np.empty((3, n, block))
    q = np.empty((n, block))
    F = np.empty((3, n, block))
    s = np.empty((n, n, block))
    for s0 in range(0, S, block):
        nb = min(block, S - s0)
        for b in range(nb):
            for i in range(n):
                q[i, b] = charge[s0 + b, i]
                for c in range(3):
                    x[c, i, b] = pos[s0 + b, i, c]
        _block_forces(x, q, nb, s, F, clip, max_force)
        for b in range(nb):
            for i in range(n):
                for c in range(3):
                    out[s0 + b, i, c] = F[c, i, b]
    return out


@_njit(error_model="numpy", parallel=True)
def simulate_kernel(pos, vel, charge, record_steps, n_steps, dt, clip, max_force, block, pos_out, vel_out):
    """Kick-drift integration of ``n_steps`` steps of every simulation of ``pos``/``vel`` (S, n, 3), charges
    (S, n); the state after step ``record_steps[k]`` (sorted; 0: the initial state) goes to
    ``pos_out``/``vel_out[:, k]`` (S, K, n, 3). Simulations are integrated ``block`` at a time, all steps of a
    block before the next; blocks are shared among numba's threads (``numba.set_num_threads``). The
    simulations are independent: neither the block size nor the threads change a byte."""
    S, n = pos.shape[0], pos.shape[1]
    K = record_steps.shape[0]
    for blk in prange((S + block - 1) // block):
        s0 = blk * block
        nb = min(block, S - s0)
        x = np.empty((3, n, block))
        v = np.empty((3, n, block))
        q = np.empty((n, block))
        F = np.empty((3, n, block))
        s = np.empty((n, n, block))
        for b in range(nb):
            for i in range(n):
                q[i, b] = charge[s0 + b, i]
                for c in range(3):
                    x[c, i, b] = pos[s0 + b, i, c]
                    v[c, i, b] = vel[s0 + b, i, c]
        k = 0
        for step in range(n_steps + 1):
            while k < K and record_steps[k] == step:
                for b in range(nb):
                    for i in range(n):
                        for c in range(3):
                            pos_out[s0 + b, k, i, c] = x[c, i, b]
                            vel_out[s0 + b, k, i, c] = v[c, i, b]
                k += 1
            if step == n_steps:
                break
            _block_forces(x, q, nb, s, F, clip, max_force)
            for c in range(3):
                for i in range(n):
                    for b in range(nb):
                        v[c, i, b] += dt * F[c, i, b]
                    for b in range(nb):
                        x[c, i, b] += dt * v[c, i, b]
