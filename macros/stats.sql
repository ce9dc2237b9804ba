{#
  95 % confidence intervals of holdout_uplift_summary, the formulas of
  orchestration/stats.py (which the report and the dashboard apply to any date
  range; tests/unit/test_stats.py checks them against Newcombe 1998's tables).
  Counts are bigint; every result is double.
#}

{# The two-sided 95 % standard normal quantile (orchestration.stats.Z95). #}
{% macro z_95() -%}
    cast(1.959963984540054 as double)
{%- endmacro %}


{#
  One bound of the Wilson score interval of successes / trials (side 'lower'
  or 'upper'): (2x + z² ∓ z·√(z² + 4x(n - x)/n)) / (2(n + z²)), clamped to
  [0, 1]; null when trials is 0.
#}
{% macro wilson_bound(successes, trials, side) -%}
    {%- set sign = '-' if side == 'lower' else '+' -%}
    case
        when {{ trials }} > 0 then {{ 'greatest(0.0, ' if side == 'lower' else 'least(1.0, ' }}(
            2 * cast({{ successes }} as double) + {{ z_95() }} * {{ z_95() }}
            {{ sign }} {{ z_95() }} * sqrt(
                {{ z_95() }} * {{ z_95() }}
                + cast(4 * {{ successes }} * ({{ trials }} - {{ successes }}) as double) / {{ trials }}
            )
        ) / (2 * ({{ trials }} + {{ z_95() }} * {{ z_95() }})))
    end
{%- endmacro %}


{#
  p1 - p2 in one division, (x1·n2 - x2·n1) / (n1·n2); null when a group is empty.
#}
{% macro proportion_difference(successes_1, trials_1, successes_2, trials_2) -%}
    cast({{ successes_1 }} * {{ trials_2 }} - {{ successes_2 }} * {{ trials_1 }} as double)
    / nullif({{ trials_1 }} * {{ trials_2 }}, 0)
{%- endmacro %}


{#
  One bound of Newcombe's hybrid score interval of p1 - p2 (method 10 of
  Newcombe 1998), from the rates and Wilson bounds of both groups (columns or
  expressions): lower = d - √((p1 - l1)² + (u2 - p2)²), upper = d + √((u1 -
  p1)² + (p2 - l2)²). Null when a group is empty (its rate is null).
#}
{% macro newcombe_bound(difference, rate_1, lower_1, upper_1, rate_2, lower_2, upper_2, side) -%}
    {%- if side == 'lower' -%}
    {{ difference }} - sqrt(
        ({{ rate_1 }} - {{ lower_1 }}) * ({{ rate_1 }} - {{ lower_1 }})
        + ({{ upper_2 }} - {{ rate_2 }}) * ({{ upper_2 }} - {{ rate_2 }})
    )
    {%- else -%}
    {{ difference }} + sqrt(
        ({{ upper_1 }} - {{ rate_1 }}) * ({{ upper_1 }} - {{ rate_1 }})
        + ({{ rate_2 }} - {{ lower_2 }}) * ({{ rate_2 }} - {{ lower_2 }})
    )
    {%- endif -%}
{%- endmacro %}


{#
  The variance of a group's mean from its sum, sum of squares and count:
  max(0, (Σx² - (Σx)²/n) / (n - 1)) / n; null below two values.
#}
{% macro variance_of_mean(total, sum_squares, count) -%}
    case
        when {{ count }} >= 2 then greatest(
            0.0,
            (
                cast({{ sum_squares }} as double)
                - cast({{ total }} as double) * cast({{ total }} as double) / {{ count }}
            ) / ({{ count }} - 1)
        ) / {{ count }}
    end
{%- endmacro %}
