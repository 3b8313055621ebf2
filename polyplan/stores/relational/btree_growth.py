"""Leaf pages of a B-tree grown by inserts in random key order (pure: no I/O, no numpy).

Textbook B-tree analysis (Yao, "On random 2-3 trees", 1978) gives leaves ln 2 ≈ 69 % full on
average once a tree grown by random inserts has reached its steady state. A real index never
gets there: a tree grows from one leaf, each leaf gains rows in proportion to the rows (key
range) it holds, and a leaf split 50:50 gives two halves that fill up again at the same pace, so
the leaves stay nearly in step for dozens of generations and the average fill swings between
about 0.65 and 0.8 as the row count doubles (wider for more entries a leaf). Measured on
PostgreSQL 15 (pgstatindex, 100,000 random keys, 406 entries a leaf): 73-78 % full, not 69 %;
this model says 75 %.

The model is the fringe analysis in continuous time. A leaf holding s rows gains rows at rate s
per unit of log-rows (τ = ln n: a random key falls in a leaf with the share of the keys it
holds), so a leaf born with x rows reaches b + 1 (and splits) after a time T_x whose Laplace
transform is ∏_{k=x}^{b} k/(k+s). A non-rightmost leaf splits into halves of h₁ and h₂ rows;
the rightmost leaf (the first leaf too) splits at its own share (PostgreSQL's nbtsplitloc.c
leaves the left page fillfactor % full there: 90:10), emitting a leaf of `a` rows every T_r.
The expected leaves then solve a renewal equation whose Laplace transform is a ratio of those
products; its poles are the roots of f_h₁(λ) + f_h₂(λ) = 1: λ = 1 (the steady state, ≈ ln 2
full) and complex pairs whose imaginary part is the swing with each doubling and whose real
part below 1 its slow decay. The sum of the residues at the first few roots gives the expected
leaves at any row count; a Monte Carlo of the same split rules agrees within 1-2 %
(tests/test_btree_sizing.py), and PostgreSQL's own leaves within a few % (bench/capacity.py).
"""

from __future__ import annotations

import cmath
import math
from functools import lru_cache

HARMONICS = 6  # complex root pairs kept: the k-th decays like exp(-(2πk)² τ / (b ln 2)); from 4 full
# leaves on, 6 pairs give the leaves of 12 within 0.2 % (the first generations are a few pages).
SMALLEST = 8  # rows a leaf holds below which the oscillation dies within two generations: steady state only


# Stirling's series for log Γ and ψ (Abramowitz & Stegun 6.1.41, 6.3.18), after shifting the
# argument past SHIFT: math.lgamma takes no complex argument, and a product over every row a leaf
# holds would cost O(rows a leaf) per evaluation (hundreds of indexes × a dozen horizons).
SHIFT = 10.0
_LGAMMA = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680)
_DIGAMMA = (-1 / 12, 1 / 120, -1 / 252, 1 / 240)


def _log_gamma(z: complex) -> complex:
    """log Γ(z) for Re z > 0, up to a multiple of 2πi (only its exponential is used)."""
    shift: complex = 0.0
    while z.real < SHIFT:
        shift += cmath.log(z)
        z += 1
    series = sum(c / z ** (2 * i + 1) for i, c in enumerate(_LGAMMA))
    return (z - 0.5) * cmath.log(z) - z + 0.5 * math.log(2 * math.pi) + series - shift


def _digamma(z: complex) -> complex:
    """ψ(z) = Γ'(z)/Γ(z) for Re z > 0."""
    shift: complex = 0.0
    while z.real < SHIFT:
        shift += 1 / z
        z += 1
    series = sum(c / z ** (2 * i + 2) for i, c in enumerate(_DIGAMMA))
    return cmath.log(z) - 0.5 / z + series - shift


def _transform(born: int, full: int, s: complex) -> complex:
    """E[exp(-s T)] of the log-row time a leaf born with `born` rows takes to reach `full` + 1:
    ∏_{k=born}^{full} k/(k+s) = Γ(full+1) Γ(born+s) / (Γ(born) Γ(full+1+s))."""
    return cmath.exp(math.lgamma(full + 1) - math.lgamma(born) + _log_gamma(born + s) - _log_gamma(full + 1 + s))


def _rate_sum(born: int, full: int, s: complex) -> complex:
    """Σ_{k=born}^{full} 1/(k+s) = ψ(full+1+s) - ψ(born+s): minus the log-derivative of `_transform`."""
    return _digamma(full + 1 + s) - _digamma(born + s)


@lru_cache(maxsize=512)
def _residues(full: int, half: int, emitted: int) -> tuple[tuple[complex, complex], ...]:
    """(root λ, residue coefficient) of the expected-leaves transform, steady state first.

    `full` rows fill a leaf; a non-rightmost split leaves `half` and `full + 1 - half`; the
    rightmost leaf emits a leaf of `emitted` rows and keeps the rest each time it splits."""
    other = full + 1 - half
    kept = full + 1 - emitted
    mean = 0.5 * (_rate_sum(half, full, 0).real + _rate_sum(other, full, 0).real)
    found: list[tuple[complex, complex]] = []
    root = complex(1.0, 0.0)  # λ = 1 exactly: f_h₁(1) + f_h₂(1) = (h₁ + h₂)/(b + 1)
    step_up = complex(0.0, 2 * math.pi / mean)  # the roots lie about 2π/E[T] apart
    for k in range(HARMONICS + 1 if full >= SMALLEST else 1):
        if k:
            root += step_up if k == 1 else found[-1][0] - found[-2][0]
        converged = k == 0
        for _ in range(0 if k == 0 else 40):
            first, second = _transform(half, full, root), _transform(other, full, root)
            slope = -(first * _rate_sum(half, full, root) + second * _rate_sum(other, full, root))
            if slope == 0:
                break
            step = cmath.log(first + second) * (first + second) / slope  # Newton on log(f₁ + f₂) = 0
            root -= step
            if abs(step) < 1e-10:
                converged = True
                break
        if not converged or (k and (root.real >= 1.0 or root.imag <= 0)):
            break  # a root Newton did not reach: the harmonics past it are negligible anyway
        first, second = _transform(half, full, root), _transform(other, full, root)
        spread = first * _rate_sum(half, full, root) + second * _rate_sum(other, full, root)
        rightmost = _transform(emitted, full, root) / (1.0 - _transform(kept, full, root))
        found.append((root, rightmost / (root * spread)))
    return tuple(found)


# Pure in its four numbers, and asked for the same few again and again: the capacity plan sizes
# every index of every table at each horizon (16,161 calls, 299 distinct, at 300 entities).
@lru_cache(maxsize=8192)
def random_insert_leaves(rows: float, per_leaf: float, split_share: float = 0.5, rightmost_share: float = 0.5) -> float:
    """Expected leaf pages after `rows` rows were inserted in random key order into an empty
    B-tree whose leaves hold `per_leaf` rows when full; a full leaf splits keeping
    `split_share` of its rows on the left, the rightmost leaf keeping `rightmost_share`."""
    full = max(1, math.floor(per_leaf))
    if rows <= full:
        return 1.0
    half = min(full, max(1, round(split_share * (full + 1))))
    emitted = min(full, max(1, round(rightmost_share * (full + 1))))
    tau = math.log(rows / (full + 1))  # the first split, at full + 1 rows, is τ = 0
    leaves = 1.0  # the rightmost leaf
    for k, (root, coefficient) in enumerate(_residues(full, half, emitted)):
        term = (coefficient * cmath.exp(root * tau)).real
        leaves += term if k == 0 else 2 * term  # a conjugate pair
    # Never fewer leaves than completely full ones would take.
    return max(leaves, math.ceil(rows / full))


def random_insert_fill(rows: float, per_leaf: float, split_share: float = 0.5, rightmost_share: float = 0.5) -> float:
    """The average leaf fill (rows held ÷ rows the leaves could hold) of `random_insert_leaves`."""
    return rows / (random_insert_leaves(rows, per_leaf, split_share, rightmost_share) * max(1, math.floor(per_leaf)))
