{#
  Keep one row per key: the first by `order_by` (e.g. the newest extract file),
  and count how many copies were received (`copies_received`), so the number of
  duplicates removed stays visible downstream (data_quality).
#}
{% macro deduplicate(relation, key, order_by) -%}
    {{ return(adapter.dispatch('deduplicate')(relation, key, order_by)) }}
{%- endmacro %}

{% macro default__deduplicate(relation, key, order_by) -%}
    select
        * exclude (recency_rank)
    from (
        select
            *,
            count(*) over (partition by {{ key }}) as copies_received,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as recency_rank
        from {{ relation }}
    )
    where recency_rank = 1
{%- endmacro %}


{# A stable text key over several columns (nulls allowed). #}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %}, coalesce(cast({{ column }} as varchar), '\N'){% endfor -%}
    ))
{%- endmacro %}
