{#
  Fails on every row where any of `columns` is null: one query for a table's
  many count columns instead of one not_null test each (each dbt test costs a
  round trip, which a daily run pays for every test).
#}
{% test not_null_columns(model, columns) %}
select *
from {{ model }}
where
    {%- for column in columns %}
    {{ column }} is null{{ ' or' if not loop.last }}
    {%- endfor %}
{% endtest %}
