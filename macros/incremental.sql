{#
  Incremental models: recompute only what new data can change.

  Every incremental model keeps one row in `intermediate._incremental_state`
  (written by `record_incremental_state()`, its post-hook): when it was last
  built (the dbt invocation's start, `run_marker()`), the as_of of that build,
  when it was last rebuilt from scratch, and a fingerprint of the small inputs
  that change every row (account time zones and currencies, seeds). Each row it
  writes carries `_refreshed_at` = the marker of the build that wrote it, so a
  downstream model finds what changed upstream since its own last build.

  `incremental_plan()` decides, at run time, how a model is built:
  - `full`: every row is recomputed and the table's rows are replaced. First
    build, `--full-refresh`, no build state, as_of moved back, a raw file of the
    model's sources re-delivered with other bytes (rows may have disappeared),
    a key the contract makes unique per row delivered again in a new file (the
    row may have moved, and a cohort it leaves empty has no key left to
    replace), an upstream model rebuilt from scratch or built twice since this
    model's last build, or a changed fingerprint.
  - `window` (period marts run for a Dagster partition): rows whose period
    starts inside [WA_PERIOD_START, WA_PERIOD_END) are replaced.
  - `changes`: only the keys the model's SQL names as changed are replaced
    (`since` = this model's last build, `previous_as_of` = its as_of).

  The model's `meta.incremental` config names its inputs:
    raw_sources  raw sources (loader names) whose rows the model reads
    upstream     incremental models it reads (their `_refreshed_at`)
    fingerprint  small relations (and columns) whose content, when changed,
                 rebuilds it
    unique_key_of_source  {source, key}: a raw source whose key the contract
                 makes unique per row; a key loaded again since the last
                 build rebuilds the model
    as_of_sensitive  false for models that do not read as_of themselves
    period_column    the column a partition window applies to (period marts)
#}

{% macro incremental_state_relation() -%}
    {{ return(api.Relation.create(
        database=target.database, schema='intermediate', identifier='_incremental_state'
    )) }}
{%- endmacro %}


{# on-run-start: the build-state table exists before any model reads it. #}
{% macro create_incremental_state() -%}
    create schema if not exists {{ incremental_state_relation().schema }};
    create table if not exists {{ incremental_state_relation() }} (
        model varchar,
        refreshed_at timestamp,
        previous_refreshed_at timestamp,
        as_of timestamp,
        full_rebuild_at timestamp,
        fingerprint varchar,
        build_mode varchar
    )
{%- endmacro %}


{# The start of this dbt invocation (naive UTC): the `_refreshed_at` of every row it writes. #}
{% macro run_marker() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}


{% macro _incremental_settings() -%}
    {#- at parse time config.get returns a placeholder, not the model's meta -#}
    {%- set meta = config.get('meta') -%}
    {{ return(meta.get('incremental', {}) if meta is mapping else {}) }}
{%- endmacro %}


{#
  md5 over the sorted rows of the model's fingerprint relations (small
  tables). An entry is a model or seed name, optionally followed by the
  columns that matter: "stg_raw__accounts: account_id, timezone".
#}
{% macro _fingerprint_sql(entries) -%}
    {%- if entries | length == 0 -%}
        cast(null as varchar)
    {%- else -%}
        md5(concat_ws('#'
        {%- for entry in entries %}
        {%- set name = entry.split(':')[0] | trim %}
        {%- set columns = entry.split(':')[1] | trim if ':' in entry else '*' %},
            (select coalesce(string_agg(cast(r as varchar), '|' order by cast(r as varchar)), '')
             from (select {{ columns }} from {{ ref(name) }}) as r)
        {%- endfor %}
        ))
    {%- endif -%}
{%- endmacro %}


{# The partition window of a period mart run, from WA_PERIOD_START / WA_PERIOD_END. #}
{% macro period_window() -%}
    {%- set start = env_var('WA_PERIOD_START', '') | trim -%}
    {%- set end = env_var('WA_PERIOD_END', '') | trim -%}
    {%- if start and end -%}
        {{ return({'start': "cast('" ~ start ~ "' as date)", 'end': "cast('" ~ end ~ "' as date)"}) }}
    {%- elif start or end -%}
        {{ exceptions.raise_compiler_error(
            'WA_PERIOD_START and WA_PERIOD_END go together (got start=' ~ start ~ ', end=' ~ end ~ ')'
        ) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro incremental_plan() -%}
    {%- set settings = _incremental_settings() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return({'mode': 'full', 'reason': 'first build or full refresh'}) }}
    {%- endif -%}
    {%- set window = period_window() if settings.get('period_column') else none -%}
    {%- if window is not none -%}
        {{ return({'mode': 'window', 'window': window, 'reason': 'partition window'}) }}
    {%- endif -%}

    {%- set state = incremental_state_relation() -%}
    {%- set previous = run_query(
        "select cast(refreshed_at as varchar), cast(as_of as varchar), fingerprint from "
        ~ state ~ " where model = '" ~ this.identifier ~ "'"
    ) -%}
    {%- if previous.rows | length == 0 -%}
        {{ return({'mode': 'full', 'reason': 'no build state'}) }}
    {%- endif -%}
    {%- set since = "cast('" ~ previous.rows[0][0] ~ "' as timestamp)" -%}
    {%- set previous_as_of = "cast('" ~ previous.rows[0][1] ~ "' as timestamp)" -%}
    {%- set upstream = settings.get('upstream', []) -%}
    {%- set raw_sources = settings.get('raw_sources', []) -%}
    {%- set unique_source = settings.get('unique_key_of_source') -%}

    {%- set checks_sql -%}
        select
            {{ as_of() }} < {{ previous_as_of }} as as_of_moved_back,
            (
                select count(*) from {{ state }}
                where model in ('{{ upstream | join("', '") }}')
                    and (full_rebuild_at > {{ since }} or previous_refreshed_at > {{ since }})
            ) as upstream_rebuilt,
            (
                select count(*) from raw._loads
                where source in ('{{ raw_sources | join("', '") }}')
                    and replaced_load_id is not null
                    and loaded_at > {{ since }}
            ) as files_replaced,
            {{ _fingerprint_sql(settings.get('fingerprint', [])) }} as fingerprint,
            {% if unique_source -%}
            (
                select count(*) from {{ source('raw', unique_source.source) }} as loaded
                where loaded._loaded_at > {{ since }}
                    and exists (
                        select 1 from {{ source('raw', unique_source.source) }} as earlier
                        where earlier.{{ unique_source.key }} = loaded.{{ unique_source.key }}
                            and earlier._loaded_at <= {{ since }}
                    )
            )
            {%- else -%}
            0
            {%- endif %} as keys_delivered_again
    {%- endset -%}
    {%- set checks = run_query(checks_sql).rows[0] -%}
    {%- if settings.get('as_of_sensitive', true) and checks[0] -%}
        {{ return({'mode': 'full', 'reason': 'as_of moved back'}) }}
    {%- elif checks[1] > 0 -%}
        {{ return({'mode': 'full', 'reason': 'an upstream model was rebuilt'}) }}
    {%- elif checks[2] > 0 -%}
        {{ return({'mode': 'full', 'reason': 'a raw file was re-delivered with other bytes'}) }}
    {%- elif checks[3] != previous.rows[0][2] -%}
        {{ return({'mode': 'full', 'reason': 'accounts or seeds changed'}) }}
    {%- elif checks[4] > 0 -%}
        {{ return({'mode': 'full', 'reason': 'a unique key was delivered again in a new file'}) }}
    {%- endif -%}
    {{ return({
        'mode': 'changes', 'since': since, 'previous_as_of': previous_as_of,
        'reason': 'changes since ' ~ previous.rows[0][0]
    }) }}
{%- endmacro %}


{#
  A predicate: `column` + `hours` moved from "after as_of" to "on or before
  as_of" between the previous build and this one (e.g. hours=720: the 720-hour
  report deadline of a message passed).
#}
{% macro crossed_as_of(plan, column, hours=0) -%}
    ({{ add_hours(column, hours) }} > {{ plan.previous_as_of }}
        and {{ add_hours(column, hours) }} <= {{ as_of() }})
{%- endmacro %}


{#
  The model's rows (`relation`, a CTE) with their build columns: for each of
  `columns` (name -> type), `_previous_<column>`, the value the row had before
  this build (null on a full build or for a new key), so a downstream model
  also recomputes the cohort a row moved away from; and `_refreshed_at`.
#}
{% macro with_build_columns(plan, relation, key, columns) -%}
    select
        {{ relation }}.*,
        {%- for column, data_type in columns.items() %}
        {%- if plan.mode == 'changes' %}
        previous.{{ column }} as _previous_{{ column }},
        {%- else %}
        cast(null as {{ data_type }}) as _previous_{{ column }},
        {%- endif %}
        {%- endfor %}
        {{ run_marker() }} as _refreshed_at
    from {{ relation }}
    {%- if plan.mode == 'changes' %}
    left join {{ this }} as previous
        on {{ relation }}.{{ key }} = previous.{{ key }}
    {%- endif %}
{%- endmacro %}


{#
  The values of `columns` in the rows of incremental model `model` written
  since this model's last build, both as they are now and as they were before
  (their `_previous_` columns): the keys those rows name or used to name.
  `aliases` renames the output columns (default: the column names).
#}
{% macro changed_upstream_values(plan, model, columns, aliases=none) -%}
    {%- set names = aliases or columns -%}
    select
        {%- for column in columns %}
        {{ column }} as {{ names[loop.index0] }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(model) }}
    where _refreshed_at > {{ plan.since }}
    union
    select
        {%- for column in columns %}
        _previous_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(model) }}
    where _refreshed_at > {{ plan.since }}
{%- endmacro %}


{#
  post-hook: remember this build. A partition-window build records nothing: it
  recomputed its window only, so what changed since the last recorded build is
  still to be recomputed by the next build without a window.
#}
{% macro record_incremental_state() -%}
    {%- set plan = incremental_plan() -%}
    {%- if plan.mode == 'window' -%}
        select 1
    {%- else -%}
    {%- set state = incremental_state_relation() -%}
    {%- set settings = _incremental_settings() -%}
    {%- set previous_full -%}
        (select full_rebuild_at from {{ state }} where model = '{{ this.identifier }}')
    {%- endset -%}
    create or replace temp table _incremental_state_row as
    select
        '{{ this.identifier }}' as model,
        {{ run_marker() }} as refreshed_at,
        (select refreshed_at from {{ state }} where model = '{{ this.identifier }}') as previous_refreshed_at,
        {{ as_of() }} as as_of,
        {% if plan.mode == 'full' %}{{ run_marker() }}{% else %}{{ previous_full }}{% endif %} as full_rebuild_at,
        {{ _fingerprint_sql(settings.get('fingerprint', [])) }} as fingerprint,
        '{{ plan.mode }}: {{ plan.reason }}' as build_mode;
    delete from {{ state }} where model = '{{ this.identifier }}';
    insert into {{ state }} select * from _incremental_state_row;
    drop table _incremental_state_row
    {%- endif -%}
{%- endmacro %}


{#
  Incremental strategy `replace_changed` (config incremental_strategy): the
  model's SQL returns the recomputed rows; this replaces what they recompute.
  full: every row; window: the rows of the partition window; changes: the
  rows of the same unique key.
#}
{% macro get_incremental_replace_changed_sql(arg_dict) -%}
    {%- set plan = incremental_plan() -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set temp_relation = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- if plan.mode == 'full' %}
    delete from {{ target_relation }};
    {%- elif plan.mode == 'window' %}
    {%- set period_column = _incremental_settings()['period_column'] %}
    delete from {{ target_relation }}
    where {{ period_column }} >= {{ plan.window.start }} and {{ period_column }} < {{ plan.window.end }};
    {%- else %}
    delete from {{ target_relation }}
    using {{ temp_relation }}
    where
        {%- for key in keys %}
        {{ target_relation }}.{{ key }} is not distinct from {{ temp_relation }}.{{ key }}{{ ' and' if not loop.last }}
        {%- endfor %};
    {%- endif %}
    insert into {{ target_relation }} ({{ columns }})
    select {{ columns }} from {{ temp_relation }}
{%- endmacro %}


{#
  The rows of a raw source an incremental staging model recomputes: on a
  `changes` build, every copy of each key named by a file loaded since the
  model's last build (so deduplication sees all copies), otherwise all rows.
#}
{% macro source_rows_to_recompute(plan, source_name, key) -%}
    select * from {{ source('raw', source_name) }}
    {%- if plan.mode == 'changes' %}
    where {{ key }} in (
        select {{ key }} from {{ source('raw', source_name) }}
        where _loaded_at > {{ plan.since }}
    )
    -- a null key is a group of its own (not equal to itself in `in`)
    or ({{ key }} is null and exists (
        select 1 from {{ source('raw', source_name) }}
        where {{ key }} is null and _loaded_at > {{ plan.since }}
    ))
    {%- endif %}
{%- endmacro %}


{#
  A predicate: the row's (account, campaign, cohort_date) is one of the
  `changed_cohorts` CTE on a `changes` build (always true otherwise).
#}
{% macro in_changed_cohorts(plan, relation, account_column, campaign_column) -%}
    {%- if plan.mode == 'changes' -%}
        exists (
            select 1 from changed_cohorts
            where changed_cohorts.account_id = {{ relation }}.{{ account_column }}
                and changed_cohorts.campaign_id = {{ relation }}.{{ campaign_column }}
                and changed_cohorts.cohort_date = {{ relation }}.cohort_date
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
