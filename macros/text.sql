{# True when the whole text matches the regular expression. #}
{% macro matches_pattern(text, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern')(text, pattern)) }}
{%- endmacro %}

{% macro default__matches_pattern(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}
