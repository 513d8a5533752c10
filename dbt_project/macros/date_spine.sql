{#- One row per day from start_date to end_date (SQL date expressions), column `date_day`.
    DuckDB-only (generate_series); other adapters need their own implementation here. -#}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'crm')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__date_spine(start_date, end_date) -%}
    select cast(unnest(generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day)) as date) as date_day
{%- endmacro %}

{% macro postgres__date_spine(start_date, end_date) -%}
    select cast(day as date) as date_day
    from generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date), interval '1 day') as day
{%- endmacro %}
