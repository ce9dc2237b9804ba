{#
  Keep one row per key: the first by `order_by` (e.g. the newest extract file),
  and count how many copies were received (`copies_received`), so the number of
  duplicates removed stays visible downstream (data_quality).
  `newest_loaded_at` is the newest load of any copy: the incremental watermark
  of the staging models (they select it as `_loaded_at`). Plain SQL both engines
  run (no `qualify`, no `* exclude`): the model names the columns it keeps.
#}
{% macro deduplicate(relation, key, order_by) -%}
    select * from (
        select
            *,
            count(*) over (partition by {{ key }}) as copies_received,
            max(_loaded_at) over (partition by {{ key }}) as newest_loaded_at,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as recency_rank
        from {{ relation }}
    ) as ranked
    where recency_rank = 1
{%- endmacro %}


{# A stable text key over several columns (nulls allowed). #}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %}, coalesce(cast({{ column }} as string), '\N'){% endfor -%}
    ))
{%- endmacro %}


{#
  The rows of raw source `source_name` a staging model reads. Built
  incrementally, every copy of each key named by a row loaded since the
  model's last build (its newest `_loaded_at`), so deduplication sees all
  copies of a key and a re-exported row replaces the one already there;
  otherwise every row. A file re-delivered with other bytes removes rows,
  which no new key names: the pipeline then rebuilds the source's models
  with --full-refresh (orchestration/defs/transform.py).
#}
{% macro source_rows_since_last_build(source_name, key) -%}
    select * from {{ source('raw', source_name) }}
    {%- if is_incremental() %}
    where {{ key }} in (
        select {{ key }} from {{ source('raw', source_name) }}
        where _loaded_at > {{ last_loaded_at() }}
    )
    -- a null key is a group of its own (`in` never matches it)
    or ({{ key }} is null and exists (
        select 1 from {{ source('raw', source_name) }}
        where {{ key }} is null and _loaded_at > {{ last_loaded_at() }}
    ))
    {%- endif %}
{%- endmacro %}


{# The newest `_loaded_at` an incremental model has built from (the start of time when empty). #}
{% macro last_loaded_at() -%}
    (select coalesce(max(_loaded_at), cast('1970-01-01' as timestamp)) from {{ this }})
{%- endmacro %}
