{#- The as-of date of the whole build: var `as_of_date`, else the environment variable CRM_AS_OF_DATE (how the
    refresh pipeline passes it), else the day the run started (UTC). Every model calls these macros, so one run
    uses one date even across midnight.
    The environment variable is read only when dbt executes (`execute`), never while it parses: dbt's partial
    parsing keeps the parsed project as long as the command-line vars are the same, so a daily refresh (a new
    date every day) does not pay a full re-parse of the project. -#}

{% macro as_of_date_string() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if (value is none or (value | string | trim) == '') and execute -%}
        {%- set value = env_var('CRM_AS_OF_DATE', '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("as_of_date must be a date written YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    {%- set year, month, day_of_month = value.split('-') | map('int') -%}
    {%- set valid_month = month >= 1 and month <= 12 -%}
    {%- if valid_month -%}
        {#- the last day of the month: the day before the first of the next one -#}
        {%- set next_month = modules.datetime.date(year + (month // 12), month % 12 + 1, 1) -%}
        {%- set last_day = (next_month - modules.datetime.timedelta(days=1)).day -%}
    {%- endif -%}
    {%- if year < 1 or not valid_month or day_of_month < 1 or day_of_month > last_day -%}
        {{ exceptions.raise_compiler_error("as_of_date " ~ value ~ " is not a calendar date") }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime(year, month, day_of_month) -%}
    {%- if parsed.date() > run_started_at.date() -%}
        {{ exceptions.raise_compiler_error("as_of_date " ~ value ~ " is in the future (today is " ~ run_started_at.strftime('%Y-%m-%d') ~ ")") }}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}

{#- The as-of date as a SQL date literal. -#}
{% macro as_of_date() -%}
    cast('{{ as_of_date_string() }}' as date)
{%- endmacro %}

{#- The first instant after the as-of date: timestamps strictly before it happened on or before the date. -#}
{% macro as_of_cutoff() -%}
    {%- set day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') + modules.datetime.timedelta(days=1) -%}
    cast('{{ day.strftime("%Y-%m-%d") }} 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The as-of date shifted by whole days (negative: earlier), as a SQL date literal. -#}
{% macro as_of_date_plus(days) -%}
    {%- set day = modules.datetime.datetime.strptime(as_of_date_string(), '%Y-%m-%d') + modules.datetime.timedelta(days=days) -%}
    cast('{{ day.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}

{% macro horizon_days() -%}
    {%- set value = var('horizon_days') | int -%}
    {%- if value < 1 -%}
        {{ exceptions.raise_compiler_error("horizon_days must be a positive number of days, got " ~ var('horizon_days')) }}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}

{#- Days before the as-of date that the customer value back-test holds out (var clv_backtest_holdout_days). -#}
{% macro clv_backtest_holdout_days() -%}
    {%- set raw = var('clv_backtest_holdout_days') | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', raw) or (raw | int) < 1 -%}
        {{ exceptions.raise_compiler_error("clv_backtest_holdout_days must be a positive number of days, got " ~ raw) }}
    {%- endif -%}
    {{- raw | int -}}
{%- endmacro %}
