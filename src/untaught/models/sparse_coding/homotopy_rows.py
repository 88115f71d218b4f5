"""The homotopy of :mod:`.homotopy` one row at a time, compiled by numba: the CPU path.

The lockstep path batches every row's piece into [R, K] tensor operations, which suits a GPU; on a
CPU its some 40 element-wise passes per piece over all K atoms cost more than the arithmetic (each
row needs about as many pieces as it has non-zero codes, ~8 for 100 atoms). Here every row follows
its own path in compiled loops: a piece costs one m x K product (v = w G_A·, m active atoms) instead
of K x K, the inverse G_AA⁻¹ is bordered on a join and Schur-downdated on a leave (the leaving slot
takes the last one's place), and rows are split over numba's threads in chunks that each own one
workspace. Same path and pieces as the lockstep path (the tests compare them in float64); in float32
the scalars here are float64, so the two may part by rounding, and a 0/0 join score is skipped here
where the lockstep path gives up the row: either way every row is certified afterwards.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNKS_PER_THREAD = 8  # rows differ in cost: small chunks balance the threads


@njit(cache=True, parallel=True, error_model="numpy")  # x / 0 gives inf or NaN, as in torch
def lars_rows(c, gram, lam, nonneg, max_steps, chunks):  # pragma: no cover - compiled
    """Follow the lasso path of every row of c [B, K] (c = x Dᵀ) on the Gram matrix [K, K] down to
    λ = ``lam``. Returns codes [B, K] (dtype of c), pieces per row [B] (int64) and failed [B] (bool:
    a degenerate active set or ``max_steps`` pieces; such rows are left to FISTA)."""
    b_rows, k = c.shape
    codes = np.zeros((b_rows, k), dtype=c.dtype)
    steps = np.zeros(b_rows, dtype=np.int64)
    failed = np.zeros(b_rows, dtype=np.bool_)
    diag = np.empty(k, dtype=c.dtype)
    for i in range(k):
        diag[i] = gram[i, i]
    singular = 1e3 * np.finfo(c.dtype).eps
    per = (b_rows + chunks - 1) // chunks
    for chunk in prange(chunks):
        inverse = np.zeros((k, k), dtype=c.dtype)  # G_AA⁻¹ in slot order
        atom = np.zeros(k, dtype=np.int64)
        sign = np.zeros(k, dtype=c.dtype)
        z = np.zeros(k, dtype=c.dtype)
        w = np.zeros(k, dtype=c.dtype)
        u = np.zeros(k, dtype=c.dtype)
        v = np.zeros(k, dtype=c.dtype)
        corr = np.zeros(k, dtype=c.dtype)
        active = np.zeros(k, dtype=np.bool_)
        for b in range(chunk * per, min(b_rows, (chunk + 1) * per)):
            level = -np.inf
            first = 0
            for j in range(k):
                corr[j] = c[b, j]
                active[j] = False
                score = corr[j] if nonneg else abs(corr[j])
                if score > level:
                    level, first = score, j
            if not level > lam:
                continue  # z* = 0
            m = 1
            atom[0] = first
            sign[0] = 1.0 if nonneg or corr[first] > 0 else -1.0
            inverse[0, 0] = 1.0 / diag[first]
            z[0] = 0.0
            active[first] = True
            barred = -1  # the atom that just left stays out for one piece
            step = 0
            while True:
                step += 1
                for i in range(m):  # w = G_AA⁻¹ s_A, dz_A / d(−λ)
                    acc = 0.0
                    for j in range(m):
                        acc += inverse[i, j] * sign[j]
                    w[i] = acc
                for j in range(k):  # v = w G_A·, −dr / d(−λ)
                    v[j] = 0.0
                for i in range(m):
                    wi = w[i]
                    row = gram[atom[i]]
                    for j in range(k):
                        v[j] += wi * row[j]
                best, join = -np.inf, -1  # an inactive atom joins after a fall 1/best of λ
                for j in range(k):
                    if active[j] or j == barred:
                        continue
                    r, vj = corr[j], v[j]
                    if nonneg:
                        inv_gamma = (1.0 - vj) / (level - r)
                    else:
                        inv_gamma = (level - vj * r + abs(r - level * vj)) / (level * level - r * r)
                    if inv_gamma > best:
                        best, join = inv_gamma, j
                g_join = 1.0 / best if best > 0 else np.inf
                g_leave, leave = np.inf, -1  # an active code reaches zero
                for i in range(m):
                    if z[i] * w[i] < 0 and -z[i] / w[i] < g_leave:
                        g_leave, leave = -z[i] / w[i], i
                g_end = level - lam
                gamma = min(g_join, g_leave, g_end)
                for i in range(m):
                    z[i] += gamma * w[i]
                for j in range(k):
                    corr[j] -= gamma * v[j]
                level -= gamma
                barred = -1
                if g_end <= gamma:
                    break
                if g_leave <= g_join:  # Schur downdate; the last slot moves into the freed one
                    p = leave
                    gone = atom[p]
                    piv = inverse[p, p]
                    for i in range(m):
                        u[i] = inverse[i, p]
                    for i in range(m):
                        for j in range(m):
                            inverse[i, j] -= u[i] * u[j] / piv
                    m -= 1
                    if p != m:
                        for j in range(m + 1):
                            inverse[p, j] = inverse[m, j]
                        for i in range(m + 1):
                            inverse[i, p] = inverse[i, m]
                        atom[p], sign[p], z[p] = atom[m], sign[m], z[m]
                    active[gone] = False
                    barred = gone
                else:  # bordering with the joining atom
                    row = gram[join]
                    schur = diag[join]
                    for i in range(m):
                        acc = 0.0
                        for j in range(m):
                            acc += inverse[i, j] * row[atom[j]]
                        u[i] = acc
                        schur -= row[atom[i]] * acc
                    if schur <= singular * diag[join]:  # d_j in the span of the active atoms
                        failed[b] = True
                        break
                    for i in range(m):
                        for j in range(m):
                            inverse[i, j] += u[i] * u[j] / schur
                        inverse[i, m] = -u[i] / schur
                        inverse[m, i] = -u[i] / schur
                    inverse[m, m] = 1.0 / schur
                    atom[m] = join
                    sign[m] = 1.0 if nonneg or corr[join] > 0 else -1.0
                    z[m] = 0.0
                    active[join] = True
                    m += 1
                if step >= max_steps:
                    failed[b] = True
                    break
            steps[b] = step
            for i in range(m):
                codes[b, atom[i]] = z[i]
    return codes, steps, failed


def chunks_for(rows: int, threads: int) -> int:
    """How many chunks to split ``rows`` into for ``threads`` threads."""
    return max(1, min(rows, CHUNKS_PER_THREAD * threads))
