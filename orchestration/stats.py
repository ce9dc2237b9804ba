"""95 % confidence intervals of holdout uplift, as ``docs/contract/marts.md`` states them.

One implementation for the terminal report and the dashboard, which recompute the
intervals from ``holdout_uplift``'s additive counts over any range of cohort dates;
``models/marts/holdout_uplift_summary.sql`` applies the same formulas in SQL
(``macros/stats.sql``) over each campaign's whole history.

- :func:`wilson_interval`: the Wilson score interval of one proportion (no continuity
  correction), Newcombe (1998a) method 3.
- :func:`newcombe_difference`: the difference of two independent proportions with
  Newcombe's hybrid score interval, Newcombe (1998b) method 10: the two Wilson
  intervals combined square-and-add.
- :func:`mean_difference`: the difference of two means with a normal-approximation
  (Welch) interval, from each group's count, sum and sum of squares.

References: R. G. Newcombe, "Two-sided confidence intervals for the single proportion:
comparison of seven methods", Statistics in Medicine 17:857-872 (1998a); "Interval
estimation for the difference between independent proportions: comparison of eleven
methods", Statistics in Medicine 17:873-890 (1998b). tests/unit/test_stats.py checks
both against their published tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The two-sided 95 % standard normal quantile, ``NormalDist().inv_cdf(0.975)``.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval; ``low``/``high`` None when it has none."""

    estimate: float
    low: float | None
    high: float | None

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly above or below 0 (the difference is significant)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / trials``; None without trials.

    (2x + z² ∓ z·√(z² + 4x(n - x)/n)) / (2(n + z²)), clamped to [0, 1] (rounding
    could leave 0 or 1 by a hair)."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} outside 0..{trials}")
    centre = 2 * successes + z * z
    spread = z * math.sqrt(z * z + 4 * successes * (trials - successes) / trials)
    denominator = 2 * (trials + z * z)
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def newcombe_difference(
    successes_1: int, trials_1: int, successes_2: int, trials_2: int, z: float = Z95
) -> Interval | None:
    """p1 - p2 with Newcombe's hybrid score interval; None when a group is empty.

    With Wilson intervals (l1, u1) and (l2, u2): low = d - √((p1 - l1)² + (u2 - p2)²),
    high = d + √((u1 - p1)² + (p2 - l2)²). The difference is computed as
    (x1·n2 - x2·n1) / (n1·n2), one rounding (the SQL does the same)."""
    first = wilson_interval(successes_1, trials_1, z)
    second = wilson_interval(successes_2, trials_2, z)
    if first is None or second is None:
        return None
    p1, p2 = successes_1 / trials_1, successes_2 / trials_2
    (l1, u1), (l2, u2) = first, second
    difference = (successes_1 * trials_2 - successes_2 * trials_1) / (trials_1 * trials_2)
    low = difference - math.sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2))
    high = difference + math.sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2))
    return Interval(difference, low, high)


def _variance_of_mean(total: float, sum_squares: float, count: int) -> float | None:
    """The sample variance of the values over ``count``: var / n (None below 2 values)."""
    if count < 2:
        return None
    variance = max(0.0, (sum_squares - total * total / count) / (count - 1))
    return variance / count


def mean_difference(
    total_1: float,
    sum_squares_1: float,
    count_1: int,
    total_2: float,
    sum_squares_2: float,
    count_2: int,
    z: float = Z95,
) -> Interval | None:
    """mean1 - mean2 with the normal-approximation interval d ± z·√(s1²/n1 + s2²/n2).

    Each group's values are given by their sum and sum of squares (additive over rows),
    s² the sample variance (n - 1). None when a group is empty; an estimate without
    an interval when a group has a single value."""
    if count_1 <= 0 or count_2 <= 0:
        return None
    difference = total_1 / count_1 - total_2 / count_2
    first = _variance_of_mean(total_1, sum_squares_1, count_1)
    second = _variance_of_mean(total_2, sum_squares_2, count_2)
    if first is None or second is None:
        return Interval(difference, None, None)
    half = z * math.sqrt(first + second)
    return Interval(difference, difference - half, difference + half)
