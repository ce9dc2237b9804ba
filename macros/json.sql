{#
  JSON access. `json_typed` parses a JSON value into a typed structure
  described by `structure`, in DuckDB's json_transform notation (a dict is an
  object -> struct, a one-element list an array -> list, a string a DuckDB type
  name); fields missing from the document come back null. On Spark the same
  structure becomes the schema of from_json.
#}
{% macro json_typed(json_expression, structure) -%}
    {{ return(adapter.dispatch('json_typed')(json_expression, structure)) }}
{%- endmacro %}

{% macro duckdb__json_typed(json_expression, structure) -%}
    json_transform({{ json_expression }}, '{{ structure | tojson | replace("'", "''") }}')
{%- endmacro %}

{% macro spark__json_typed(json_expression, structure) -%}
    from_json({{ json_expression }}, '{{ spark__json_schema(structure) }}')
{%- endmacro %}

{# The Spark DDL type of a json_transform structure. #}
{% macro spark__json_schema(structure) -%}
    {%- set scalar_types = {
        'VARCHAR': 'string', 'BOOLEAN': 'boolean', 'INTEGER': 'int',
        'BIGINT': 'bigint', 'DOUBLE': 'double',
    } -%}
    {%- if structure is mapping -%}
        struct<
        {%- for field, field_structure in structure.items() -%}
            `{{ field }}`: {{ spark__json_schema(field_structure) }}{{ ', ' if not loop.last }}
        {%- endfor -%}
        >
    {%- elif structure is string -%}
        {{ scalar_types[structure | upper] }}
    {%- else -%}
        array<{{ spark__json_schema(structure[0]) }}>
    {%- endif -%}
{%- endmacro %}


{#
  One output row per element of a list (array) expression, in a select list;
  a null or empty list gives no row.
#}
{% macro unnest_list(list_expression) -%}
    {{ return(adapter.dispatch('unnest_list')(list_expression)) }}
{%- endmacro %}

{% macro duckdb__unnest_list(list_expression) -%}
    unnest({{ list_expression }})
{%- endmacro %}

{% macro spark__unnest_list(list_expression) -%}
    explode({{ list_expression }})
{%- endmacro %}


{# The element at a 1-based position of a list (null past its end). #}
{% macro list_element(list_expression, position) -%}
    {{ return(adapter.dispatch('list_element')(list_expression, position)) }}
{%- endmacro %}

{% macro duckdb__list_element(list_expression, position) -%}
    {{ list_expression }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(list_expression, position) -%}
    try_element_at({{ list_expression }}, {{ position }})
{%- endmacro %}
