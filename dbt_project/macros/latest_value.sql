{#- Aggregate: `value` of the row with the greatest (`order_by`, `tiebreak`) in the group, e.g. the department of
    a customer's latest purchase. The tiebreak (a unique key) makes the choice the same on every run. -#}
{% macro latest_value(value, order_by, tiebreak) -%}
    {{ return(adapter.dispatch('latest_value', 'crm')(value, order_by, tiebreak)) }}
{%- endmacro %}

{% macro duckdb__latest_value(value, order_by, tiebreak) -%}
    arg_max({{ value }}, ({{ order_by }}, {{ tiebreak }}))
{%- endmacro %}

{% macro default__latest_value(value, order_by, tiebreak) -%}
    (array_agg({{ value }} order by {{ order_by }} desc, {{ tiebreak }} desc))[1]
{%- endmacro %}
