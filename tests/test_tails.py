"""The distribution tails (``evalstore.analyses._tails``) against scipy, their oracle:
``scipy.special.chdtrc`` and ``bdtrc`` over many degrees of freedom, sizes and
probabilities, the far tails included; and against exact sums where scipy's own error
(which grows with n, through its lgamma differences) is the larger one."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import bdtrc, chdtrc

from evalstore.analyses._tails import binomial_sf, chi2_sf

#: relative agreement with scipy; results below this are compared absolutely (underflow)
REL = 1e-11
FLOOR = 1e-290


def _close(got: np.ndarray, want: np.ndarray, rel: float = REL) -> None:
    got, want = np.atleast_1d(got), np.atleast_1d(want)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    big = ok & (want > FLOOR)
    np.testing.assert_allclose(got[big], want[big], rtol=rel, atol=0)
    assert np.all(got[ok & ~big] <= FLOOR * 1e3)


@pytest.mark.parametrize("dof", [*range(1, 41), 55, 99, 250, 1000, 2863])
def test_chi2_sf_equals_chdtrc(dof: int) -> None:
    x = np.concatenate(
        [
            np.linspace(0, 6 * dof + 400, 301),  # up to far past underflow
            dof * np.exp(np.linspace(-12, 2, 60)),
            [1e-300, 1e-12, dof - 2, dof - 1, dof, dof + 1, dof + 2, dof / 2 + 1],
        ]
    )
    x = x[x >= 0]
    _close(chi2_sf(np.full(len(x), dof), x), chdtrc(dof, x))


def test_chi2_sf_edges_as_chdtrc() -> None:
    dof = np.array([1, 3, 0, -1, 2, 2, 4], dtype=np.float64)
    x = np.array([0.0, math.inf, 1.0, 1.0, math.nan, -1.0, 1e-320])
    got = chi2_sf(dof, x)
    np.testing.assert_array_equal(got[[0, 1, 5]], [1.0, 0.0, 1.0])
    assert np.isnan(got[[2, 3, 4]]).all()  # no degrees of freedom; NaN in, NaN out
    assert got[6] == pytest.approx(float(chdtrc(4, 1e-320)))
    assert chi2_sf(np.array(3), np.array(7.81)).shape == ()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=20),
    st.floats(0, 5000, allow_nan=False),
)
def test_chi2_sf_vectorized_equals_one_at_a_time(dofs: list[int], scale: float) -> None:
    """Each value is what it would be alone: drift's p-values per window and overall agree."""
    dof = np.array(dofs, dtype=np.float64)
    x = dof * scale / 100
    together = chi2_sf(dof, x)
    alone = [float(chi2_sf(np.array(d), np.array(v))) for d, v in zip(dof, x, strict=True)]
    np.testing.assert_array_equal(together, alone)
    _close(together, chdtrc(dof, x))


SIZES = [1, 2, 3, 7, 10, 31, 100, 1000, 10_000]
PROBABILITIES = [1e-9, 2e-6, 1e-3, 0.002, 0.05, 0.3, 0.5, 2 / 3, 0.9, 0.999, 1 - 1e-9]


@pytest.mark.parametrize("n", SIZES)
def test_binomial_sf_equals_bdtrc(n: int) -> None:
    for p in PROBABILITIES:
        mean, sd = n * p, math.sqrt(n * p * (1 - p))
        ks = {int(k) for k in np.round(mean + sd * np.linspace(-12, 40, 80))}
        ks |= {-1, 0, 1, n - 2, n - 1, n, n + 1}
        for k in sorted(ks):
            got, want = binomial_sf(k, n, p), float(bdtrc(k, n, p))
            _close(np.array(got), np.array(want), rel=1e-10 if n > 1000 else REL)


def test_binomial_sf_edges_as_bdtrc() -> None:
    for k, n, p in [(0, 5, 0.0), (0, 5, 1.0), (4, 5, 1.0), (5, 5, 0.5), (-1, 5, 0.5)]:
        assert binomial_sf(k, n, p) == float(bdtrc(k, n, p))
    assert math.isnan(binomial_sf(1, 5, math.nan))
    assert math.isnan(binomial_sf(1, 5, 1.5))
    assert math.isnan(binomial_sf(6, 5, 0.5)) and math.isnan(float(bdtrc(6, 5, 0.5)))


def _exact_sf(k: int, n: int, p: float) -> Decimal:
    """P(X > k) summed term by term at 60 digits, p taken exactly as the float it is."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Fraction(p)
        prob = Decimal(exact.numerator) / Decimal(exact.denominator)
        ratio = prob / (1 - prob)
        pmf, total = (1 - prob) ** n, Decimal(0)
        for j in range(n + 1):
            if j > k:
                total += pmf
            pmf = pmf * (n - j) / (j + 1) * ratio
        return total


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(650, 1000, 0.5), (93, 10_000, 0.002), (30, 200_000, 2e-5), (99_902, 100_000, 0.999)],
)
def test_binomial_sf_equals_exact_sum_where_scipy_drifts(k: int, n: int, p: float) -> None:
    exact = _exact_sf(k, n, p)
    assert abs(Decimal(binomial_sf(k, n, p)) - exact) / exact < Decimal("1e-11")
