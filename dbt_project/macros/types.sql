{#- An 8-byte float everywhere (dbt.type_float() is 4 bytes on DuckDB, 8 on PostgreSQL). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'crm')()) }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}
