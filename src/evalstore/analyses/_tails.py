"""The distribution tails the analyses need: the chi-square survival function (drift's
p-values) and the binomial's (quality's allowance of values out of range).

Written here, not imported: ``scipy.special`` takes 0.2-0.3 s to import (it pulls in
scipy's array-API layer, ``numpy.testing`` and ``numpy.f2py``), which every process that
reports paid for about thirty numbers. scipy stays the oracle: ``tests/test_tails.py``
holds these to ``scipy.special.chdtrc`` and ``bdtrc`` at thousands of points, the far
tails included.

How: for whole degrees of freedom up to 200 (drift's), the chi-square's tail as the
finite sum it is there (Poisson terms, plus ``erfc`` for odd ones), all values at once
with no loop; otherwise the regularized incomplete gamma and beta functions by their
series and continued fractions (Numerical Recipes 6.2 and 6.4, modified Lentz), with the
factor in front of both, a Poisson or binomial probability, computed as Loader (2000,
"Fast and accurate computation of binomial probabilities") does -- Stirling's error and
the deviance ``bd0`` -- so that it stays accurate where ``lgamma`` differences of large
numbers cancel.

::

    chi2_sf(np.array([3.0]), np.array([7.81]))   # [0.0500...], as chdtrc(3, 7.81)
    binomial_sf(5, 1000, 0.002)                   # P(X > 5), as bdtrc(5, 1000, 0.002)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["binomial_sf", "chi2_sf"]

_EPS = float(np.finfo(np.float64).eps)
_TINY = 1e-300  # Lentz's guard against a zero denominator
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
#: iterations at most; the series and fractions converge in O(sqrt(a)) steps
_MAX_STEPS = 100_000


def _stirlerr(n: np.ndarray) -> np.ndarray:
    """``log(n!) - log(sqrt(2 pi n) (n/e)^n)`` for n > 0, without its cancellation: the
    asymptotic series above 15 (Loader's cutoffs), lgamma below, where the terms are small."""
    out = np.empty_like(n)
    small = n <= 15
    m = n[small]
    lgamma = np.array([math.lgamma(v + 1.0) for v in m.tolist()], dtype=np.float64)
    out[small] = lgamma - (m + 0.5) * np.log(m) + m - _LOG_SQRT_2PI
    m = n[~small]
    nn = m * m
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    out[~small] = np.where(
        m > 500,
        (s0 - s1 / nn) / m,
        np.where(
            m > 80,
            (s0 - (s1 - s2 / nn) / nn) / m,
            np.where(
                m > 35,
                (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / m,
                (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / m,
            ),
        ),
    )
    return out


def _bd0(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``x log(x / mean) + mean - x`` (x, mean > 0), by its series where x is near the mean
    (the terms cancel there)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out: np.ndarray = x * np.log(x / mean) + mean - x
        near = np.abs(x - mean) < 0.1 * (x + mean)
    if not near.any():
        return out
    x, mean = x[near], mean[near]
    v = (x - mean) / (x + mean)
    s = (x - mean) * v
    ej = 2 * x * v
    v2 = v * v
    active = np.ones(len(x), dtype=bool)
    j = 0
    while active.any() and j < _MAX_STEPS:
        j += 1
        ej = np.where(active, ej * v2, ej)
        nxt = np.where(active, s + ej / (2 * j + 1), s)
        active &= nxt != s
        s = nxt
    out[near] = s
    return out


def _poisson_pmf(k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``mean^k exp(-mean) / Gamma(k + 1)`` for k, mean > 0 (k need not be whole)."""
    out: np.ndarray = np.exp(-_stirlerr(k) - _bd0(k, mean)) / np.sqrt(2 * math.pi * k)
    return out


def _upper_gamma(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The regularized upper incomplete gamma function Q(a, x), for a > 0, 0 < x < inf."""
    out = np.empty_like(x)
    # x^a e^-x / Gamma(a + 1): the front of both the series and the fraction
    front = _poisson_pmf(a, x)
    series = x < a + 1
    if series.any():  # P(a, x) = front * (1 + x/(a+1) + x^2/((a+1)(a+2)) + ...)
        sa, sx = a[series], x[series]
        term = np.ones_like(sa)
        total = np.ones_like(sa)
        active = np.ones(len(sa), dtype=bool)
        n = 0
        while active.any() and n < _MAX_STEPS:
            n += 1
            term = np.where(active, term * sx / (sa + n), term)
            total = np.where(active, total + term, total)
            active &= term > total * _EPS
        out[series] = 1.0 - front[series] * total
    fraction = ~series
    if fraction.any():  # Q(a, x) = a * front * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))
        fa, fx = a[fraction], x[fraction]
        b = fx + 1 - fa
        c = np.full_like(fa, 1 / _TINY)
        d = 1 / b
        h = d
        active = np.ones(len(fa), dtype=bool)
        i = 0
        while active.any() and i < _MAX_STEPS:
            i += 1
            an = -i * (i - fa)
            b = b + 2
            d = an * d + b
            d = np.where(np.abs(d) < _TINY, _TINY, d)
            c = b + an / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            d = 1 / d
            delta = d * c
            h = np.where(active, h * delta, h)
            active &= np.abs(delta - 1) > _EPS
        out[fraction] = fa * front[fraction] * h
    return out


#: whole degrees of freedom up to this take the finite sum (:func:`_whole_dof_tail`)
_FINITE_DOF = 200
_J = np.arange(_FINITE_DOF // 2, dtype=np.float64)
_LOG_FACTORIAL = np.array([math.lgamma(j + 1.0) for j in range(_FINITE_DOF // 2)])
_LOG_GAMMA_HALF = np.array([math.lgamma(j + 1.5) for j in range(_FINITE_DOF // 2)])


def _whole_dof_tail(dof: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Q(dof/2, x) for whole ``dof`` from 1 to ``_FINITE_DOF``, as a finite sum of positive
    terms (nothing cancels, and no loop to converge: drift over a week asks ~50 small
    arrays, which the series and fraction took ~1 ms each to iterate):
    ``e^-x sum_{j<k} x^j / j!`` for dof = 2k, ``erfc(sqrt x) + e^-x sum_{j<k} x^(j+1/2) /
    Gamma(j+3/2)`` for dof = 2k + 1. Each value depends on its own dof and x only."""
    k = (dof // 2).astype(np.int64)
    odd = dof % 2 == 1
    out: np.ndarray = np.array([math.erfc(math.sqrt(v)) for v in x.tolist()]) * odd
    width = int(k.max())
    if width:
        j, log_x = _J[:width], np.log(x)[:, None]
        exponent = np.where(
            odd[:, None],
            (j + 0.5) * log_x - _LOG_GAMMA_HALF[:width],
            j * log_x - _LOG_FACTORIAL[:width],
        )
        sums = np.cumsum(np.exp(exponent - x[:, None]), axis=1)  # in order: j = 0, 1, ...
        out = out + np.where(k > 0, sums[np.arange(len(k)), np.maximum(k - 1, 0)], 0.0)
    return out


def chi2_sf(dof: np.ndarray, statistic: np.ndarray) -> np.ndarray:
    """P(X > statistic) for X chi-square with ``dof`` degrees of freedom, elementwise:
    ``scipy.special.chdtrc(dof, statistic)``. NaN where dof <= 0 or the statistic is NaN;
    1 at a statistic <= 0, 0 at infinity."""
    dof, statistic = np.broadcast_arrays(
        np.asarray(dof, dtype=np.float64), np.asarray(statistic, dtype=np.float64)
    )
    a, x = (dof / 2).ravel(), (statistic / 2).ravel()
    out = np.full(a.shape, math.nan)
    valid = (a > 0) & ~np.isnan(x)
    out[valid & (x <= 0)] = 1.0
    out[valid & (x == math.inf)] = 0.0
    inner = valid & (x > 0) & (x < math.inf)
    whole = inner & (2 * a == np.round(2 * a)) & (2 * a <= _FINITE_DOF)
    if whole.any():
        out[whole] = _whole_dof_tail(2 * a[whole], x[whole])
    rest = inner & ~whole
    if rest.any():
        out[rest] = _upper_gamma(a[rest], x[rest])
    return out.reshape(dof.shape)


def _binomial_pmf(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p), 0 < p < 1 (Loader's ``dbinom_raw``)."""
    q = 1.0 - p
    if k == 0 or k == n:
        # all failures (or all successes): (1-p)^n, through bd0 when n p is small
        miss, hit = (p, q) if k == 0 else (q, p)
        if miss < 0.1:
            nf = np.array([float(n)])
            return math.exp(float(-_bd0(nf, nf * hit)[0]) - n * miss)
        return math.exp(n * math.log(hit))
    kn = np.array([float(n), float(k), float(n - k)])
    err = _stirlerr(kn)
    dev = _bd0(kn[1:], np.array([n * p, n * q]))
    lc = float(err[0] - err[1] - err[2] - dev[0] - dev[1])
    lf = math.log(2 * math.pi) + math.log(k) + math.log1p(-k / n)
    return math.exp(lc - 0.5 * lf)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes' betacf)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _TINY else _TINY)
    h = d
    for m in range(1, _MAX_STEPS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) >= _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) >= _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _EPS:
            break
    return h


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X > k) for X ~ Binomial(n, p): ``scipy.special.bdtrc(k, n, p)`` for whole k, n
    (NaN, as there, for k > n).

    It is the regularized incomplete beta function I_p(k + 1, n - k); its front factor
    p^(k+1) (1-p)^(n-k) / B(k + 1, n - k) is a binomial probability times a ratio."""
    if math.isnan(p) or not 0.0 <= p <= 1.0 or n < 0 or k > n:
        return math.nan
    if k < 0:
        return 1.0
    if k == n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    a, b = k + 1.0, float(n - k)
    if p < (a + 1.0) / (a + b + 2.0):
        # I_p(a, b) = p^a (1-p)^b / (a B(a, b)) * fraction = (1-p) P(X = k+1) * fraction
        return (1.0 - p) * _binomial_pmf(k + 1, n, p) * _beta_fraction(a, b, p)
    # 1 - I_(1-p)(b, a), whose front p^a (1-p)^b / (b B(a, b)) = p P(X = k)
    return 1.0 - p * _binomial_pmf(k, n, p) * _beta_fraction(b, a, 1.0 - p)
