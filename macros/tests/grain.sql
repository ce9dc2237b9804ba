{#
  The grain of a model in one test: `key` (one or more columns) is unique
  (nulls compare equal) and never null but for its `nullable` columns, and
  every column of `not_null` is never null. Fails on every
  duplicated key and on every row with a null key or required column. One
  query per model instead of one unique and one not_null test per column:
  every dbt test costs a round trip that every run pays.
#}
{% test grain(model, key, not_null=[], nullable=[]) %}
{%- set key_list = key | join(', ') %}
select {{ key_list }}, 'duplicate key' as problem, count(*) as occurrences
from {{ model }}
group by {{ key_list }}
having count(*) > 1
union all
select {{ key_list }}, 'null key or required column' as problem, count(*) as occurrences
from {{ model }}
where
    {%- for column in key | reject('in', nullable) | list + not_null %}
    {{ column }} is null{{ ' or' if not loop.last }}
    {%- endfor %}
group by {{ key_list }}
{% endtest %}
