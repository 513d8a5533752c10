{#- A 1-5 quintile score of `expression` among all rows: the share of rows ranked strictly below decides it,
    so equal values always share a score (ties are never split by an arbitrary order). `descending=true`
    gives the smallest values the highest score (recency: fewer days since the last purchase is better). -#}
{% macro quintile_score(expression, descending=false) -%}
    least(5, 1 + cast(floor(5.0 * (rank() over (order by {{ expression }} {{ 'desc' if descending else 'asc' }}) - 1)
        / count(*) over ()) as {{ dbt.type_int() }}))
{%- endmacro %}
