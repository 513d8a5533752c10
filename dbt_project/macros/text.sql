{#- Money as text for plain-language reasons: "12,345.60". DuckDB-only (format); elsewhere a plain cast. -#}
{% macro money_text(expression) -%}
    {{ return(adapter.dispatch('money_text', 'crm')(expression)) }}
{%- endmacro %}

{% macro duckdb__money_text(expression) -%}
    format('{:,.2f}', cast({{ expression }} as double))
{%- endmacro %}

{% macro default__money_text(expression) -%}
    cast(round(cast({{ expression }} as {{ dbt.type_numeric() }}), 2) as {{ dbt.type_string() }})
{%- endmacro %}

{#- A number as text with `decimals` digits ("0.93", "1.5"). -#}
{% macro number_text(expression, decimals=1) -%}
    {{ return(adapter.dispatch('number_text', 'crm')(expression, decimals)) }}
{%- endmacro %}

{% macro duckdb__number_text(expression, decimals) -%}
    format('{:.{{ decimals }}f}', cast({{ expression }} as double))
{%- endmacro %}

{% macro default__number_text(expression, decimals) -%}
    cast(round(cast({{ expression }} as {{ dbt.type_numeric() }}), {{ decimals }}) as {{ dbt.type_string() }})
{%- endmacro %}
