{# True when the whole text matches the regular expression. #}
{% macro matches_pattern(text, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__matches_pattern(text, pattern) -%}
    regexp_full_match({{ text }}, {{ regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__matches_pattern(text, pattern) -%}
    ({{ text }} rlike {{ regex_literal('^(?:' ~ pattern ~ ')$') }})
{%- endmacro %}


{# True when the regular expression matches somewhere in the text. #}
{% macro contains_pattern(text, pattern) -%}
    {{ return(adapter.dispatch('contains_pattern')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__contains_pattern(text, pattern) -%}
    regexp_matches({{ text }}, {{ regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__contains_pattern(text, pattern) -%}
    ({{ text }} rlike {{ regex_literal(pattern) }})
{%- endmacro %}


{#
  A regular expression as a string literal: DuckDB's literals keep backslashes
  as written, Spark's read them as escapes (so `\d` is written `\\d`).
#}
{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal')(pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_literal(pattern) -%}
    '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
    '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}


{#
  The texts of a group joined by `separator` in the order of `order_by` (the
  expression itself by default), each distinct text once when `distinct`, of
  the rows where `where` holds (all by default); null when there are none.
#}
{% macro string_agg_ordered(expression, separator, order_by=none, distinct=false, where=none) -%}
    {{ return(adapter.dispatch('string_agg_ordered')(expression, separator, order_by, distinct, where)) }}
{%- endmacro %}

{% macro duckdb__string_agg_ordered(expression, separator, order_by, distinct, where) -%}
    string_agg(
        {{ 'distinct ' if distinct }}{{ expression }}, '{{ separator }}' order by {{ order_by or expression }}
    ){{ ' filter (where ' ~ where ~ ')' if where }}
{%- endmacro %}

{#
  Spark's listagg ... within group fails to plan with an order other than the
  expression (a ClassCastException in Spark 4.3), so: collect, sort, fold. A
  fold (not array_join) keeps the null of an empty group.
#}
{% macro spark__string_agg_ordered(expression, separator, order_by, distinct, where) -%}
    {%- set filter_clause = ' filter (where ' ~ where ~ ')' if where else '' -%}
    {%- if distinct -%}
        {%- if order_by and order_by != expression -%}
            {{ exceptions.raise_compiler_error('string_agg_ordered: distinct orders by the expression itself') }}
        {%- endif -%}
        {%- set texts = 'array_sort(collect_set(' ~ expression ~ ')' ~ filter_clause ~ ')' -%}
    {%- else -%}
        {%- set texts -%}
            transform(
                filter(
                    array_sort(collect_list(
                        struct({{ order_by or expression }} as sort_key, {{ expression }} as text)
                    ){{ filter_clause }}),
                    entry -> entry.text is not null
                ),
                entry -> entry.text
            )
        {%- endset -%}
    {%- endif -%}
    aggregate(
        {{ texts }},
        cast(null as string),
        (joined, text) -> case when joined is null then text else joined || '{{ separator }}' || text end
    )
{%- endmacro %}
