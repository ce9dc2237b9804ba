{# Fails on dates that are not the Monday of their ISO week. #}
{% test is_monday(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} <> {{ week_start(column_name) }}
{% endtest %}


{# Fails on dates that are not the first day of their month. #}
{% test is_first_of_month(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} <> {{ month_start(column_name) }}
{% endtest %}
