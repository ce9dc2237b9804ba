"""orchestration.stats against published reference values.

Wilson: Newcombe (1998a), Statistics in Medicine 17:857-872, Table I, method 3 (score
interval without continuity correction). Newcombe's hybrid score interval: Newcombe
(1998b), Statistics in Medicine 17:873-890, Table II, method 10. Both tables give four
decimals; the values here are the tables', not this module's output.
"""

from __future__ import annotations

import math
import statistics
from statistics import NormalDist

import pytest

from orchestration.stats import Z95, mean_difference, newcombe_difference, wilson_interval

WILSON_TABLE_I = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0000, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
    ((29, 29), (0.8830, 1.0000)),
]

# (x1, n1, x2, n2) -> (lower, upper) of p1 - p2
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


def test_z_is_the_two_sided_95_percent_quantile() -> None:
    assert NormalDist().inv_cdf(0.975) == pytest.approx(Z95, abs=1e-15)


@pytest.mark.parametrize(("counts", "expected"), WILSON_TABLE_I)
def test_wilson_matches_newcombe_1998a(counts, expected) -> None:
    interval = wilson_interval(*counts)
    assert interval is not None
    assert tuple(round(bound, 4) for bound in interval) == expected


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, 7)[0] == 0.0 and wilson_interval(7, 7)[1] == 1.0
    low, high = wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric about 1/2
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_matches_newcombe_1998b(counts, expected) -> None:
    interval = newcombe_difference(*counts)
    assert interval is not None
    x1, n1, x2, n2 = counts
    assert interval.estimate == pytest.approx(x1 / n1 - x2 / n2, abs=1e-15)
    assert (round(interval.low, 4), round(interval.high, 4)) == expected


def test_newcombe_difference_is_one_division_and_the_interval_is_asymmetric() -> None:
    interval = newcombe_difference(56, 70, 48, 80)
    assert interval.estimate == 0.2  # (56·80 - 48·70) / 5600, not 0.8 - 0.6
    assert interval.excludes_zero
    assert interval.high - interval.estimate != interval.estimate - interval.low
    assert not newcombe_difference(5, 56, 0, 29).excludes_zero
    assert newcombe_difference(3, 10, 0, 0) is None


def test_mean_difference_is_the_normal_approximation_of_welch() -> None:
    treated = [0.0, 0.0, 12.5, 40.0, 0.0, 7.25]
    holdout = [0.0, 5.0, 0.0, 0.0]
    interval = mean_difference(
        sum(treated), sum(v * v for v in treated), len(treated),
        sum(holdout), sum(v * v for v in holdout), len(holdout),
    )  # fmt: skip
    difference = statistics.fmean(treated) - statistics.fmean(holdout)
    se = math.sqrt(
        statistics.variance(treated) / len(treated) + statistics.variance(holdout) / len(holdout)
    )
    assert interval.estimate == pytest.approx(difference)
    assert interval.low == pytest.approx(difference - 1.959963984540054 * se)
    assert interval.high == pytest.approx(difference + 1.959963984540054 * se)


def test_mean_difference_without_spread_or_values() -> None:
    assert mean_difference(0, 0, 0, 0, 0, 5) is None
    single = mean_difference(10.0, 100.0, 1, 0.0, 0.0, 3)
    assert single.estimate == 10.0 and single.low is None and single.high is None
    # every value the same: no spread, a zero-width interval (never a negative variance)
    same = mean_difference(0.3, 0.03, 3, 0.0, 0.0, 2)
    assert same.low == pytest.approx(0.1) and same.high == pytest.approx(0.1)
