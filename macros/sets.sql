{#
  `union all by name` in SQL both engines run (Spark has no `by name` form):
  each branch is a relation with the columns it lists; the result has every
  listed column, in order of first appearance, null where a branch lacks it.
#}
{% macro union_all_by_name(branches) -%}
    {%- set all_columns = [] -%}
    {%- for columns in branches.values() -%}
        {%- for column in columns if column not in all_columns -%}
            {%- do all_columns.append(column) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for relation, columns in branches.items() %}
    select
        {%- for column in all_columns %}
        {{ column if column in columns else 'null as ' ~ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
