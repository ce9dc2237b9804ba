{#
  JSON access, kept here so the models can move to another adapter.
  `json_typed` parses a JSON value into a typed structure described by a
  DuckDB json_transform structure string (objects -> structs, arrays -> lists);
  fields missing from the document come back null.
#}
{% macro json_typed(json_expression, structure) -%}
    {{ return(adapter.dispatch('json_typed')(json_expression, structure)) }}
{%- endmacro %}

{% macro default__json_typed(json_expression, structure) -%}
    json_transform({{ json_expression }}, '{{ structure | tojson | replace("'", "''") }}')
{%- endmacro %}
