{#- Every row rule of one model in one query: a refresh pays dbt's per-node overhead (compile context, events,
    a round trip: tens of milliseconds of CPU each) once per model instead of once per column and rule, and at a
    few hundred tests that overhead, not the SQL, was most of the dbt stage (DECISIONLOG.md, Tests).

    Returns one row per failing row and rule: `rule` (in words, naming the column), `failing_key` (the row's key:
    `key`, else `primary_key`, else the first unique combination; several columns joined by ' / ') and
    `failing_value` (the offending value, or how many rows share a key). Nulls pass every rule except
    `primary_key` and `not_null`, as dbt's own tests.

    Arguments (all optional):
      primary_key          column: unique and not null
      not_null             [column, ...]
      unique               [column, ...]: no value twice (nulls allowed)
      unique_combinations  [[column, ...], ...]: no combination twice
      accepted_values      {column: [value, ...]}
      ranges               {column: {min: x, max: y, inclusive: true}}
      expressions          [SQL condition every row satisfies, ...]
      references           {column: {to: ref(...) or source(...), field: column}}: a set value names a row there
      key                  column or [columns] naming failing rows when there is no primary_key -#}
{% test checks(model, primary_key=none, not_null=[], unique=[], unique_combinations=[], accepted_values={},
               ranges={}, expressions=[], references={}, key=none) %}

{%- set key_columns = [key] if key is string else (key or ([primary_key] if primary_key else (unique_combinations[0] if unique_combinations else []))) -%}
{%- set text = dbt.type_string() -%}
{%- set as_text = [] -%}
{%- for column in key_columns -%}{%- do as_text.append('cast(' ~ column ~ ' as ' ~ text ~ ')') -%}{%- endfor -%}
{%- if as_text | length == 1 -%}
    {%- set key_sql = as_text[0] -%}
{%- elif as_text -%}
    {%- set key_sql = "concat_ws(' / ', " ~ (as_text | join(', ')) ~ ")" -%}
{%- else -%}
    {%- set key_sql = 'cast(null as ' ~ text ~ ')' -%}
{%- endif -%}
{%- set branches = [] -%}

{%- if primary_key -%}
    {%- do branches.append(
        "select '" ~ primary_key ~ " must be unique and not null' as rule, cast(" ~ primary_key ~ " as " ~ text ~ ") as failing_key, "
        ~ "cast(count(*) as " ~ text ~ ") || ' rows' as failing_value from " ~ model
        ~ " group by " ~ primary_key ~ " having count(*) > 1 or " ~ primary_key ~ " is null") -%}
{%- endif -%}

{%- for column in unique -%}
    {%- do branches.append(
        "select '" ~ column ~ " must be unique' as rule, cast(" ~ column ~ " as " ~ text ~ ") as failing_key, "
        ~ "cast(count(*) as " ~ text ~ ") || ' rows' as failing_value from " ~ model ~ " where " ~ column ~ " is not null"
        ~ " group by " ~ column ~ " having count(*) > 1") -%}
{%- endfor -%}

{%- for combination in unique_combinations -%}
    {%- set columns = combination | join(', ') -%}
    {%- set combination_text = [] -%}
    {%- for column in combination -%}{%- do combination_text.append('cast(' ~ column ~ ' as ' ~ text ~ ')') -%}{%- endfor -%}
    {%- do branches.append(
        "select '(" ~ columns ~ ") must be unique' as rule, concat_ws(' / ', " ~ (combination_text | join(', ')) ~ ") as failing_key, "
        ~ "cast(count(*) as " ~ text ~ ") || ' rows' as failing_value from " ~ model
        ~ " group by " ~ columns ~ " having count(*) > 1") -%}
{%- endfor -%}

{%- for column in not_null -%}
    {%- do branches.append(
        "select '" ~ column ~ " must not be null' as rule, " ~ key_sql ~ " as failing_key, cast(null as " ~ text
        ~ ") as failing_value from " ~ model ~ " where " ~ column ~ " is null") -%}
{%- endfor -%}

{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append(("'" ~ (value | replace("'", "''")) ~ "'") if value is string else (value | string)) -%}
    {%- endfor -%}
    {%- do branches.append(
        "select '" ~ column ~ " must be one of " ~ (values | join(', ')) ~ "' as rule, " ~ key_sql ~ " as failing_key, cast("
        ~ column ~ " as " ~ text ~ ") as failing_value from " ~ model ~ " where " ~ column ~ " is not null and "
        ~ column ~ " not in (" ~ (listed | join(', ')) ~ ")") -%}
{%- endfor -%}

{%- for column, bounds in ranges.items() -%}
    {%- set inclusive = bounds.get('inclusive', true) -%}
    {%- set low = bounds.get('min') -%}
    {%- set high = bounds.get('max') -%}
    {%- set outside = [] -%}
    {%- if low is not none -%}{%- do outside.append(column ~ (' < ' if inclusive else ' <= ') ~ low) -%}{%- endif -%}
    {%- if high is not none -%}{%- do outside.append(column ~ (' > ' if inclusive else ' >= ') ~ high) -%}{%- endif -%}
    {%- if low is not none and high is not none -%}
        {%- set words = 'between ' ~ low ~ ' and ' ~ high ~ ('' if inclusive else ' (exclusive)') -%}
    {%- elif low is not none -%}
        {%- set words = ('at least ' if inclusive else 'greater than ') ~ low -%}
    {%- else -%}
        {%- set words = ('at most ' if inclusive else 'less than ') ~ high -%}
    {%- endif -%}
    {%- do branches.append(
        "select '" ~ column ~ " must be " ~ words ~ "' as rule, " ~ key_sql ~ " as failing_key, cast(" ~ column ~ " as "
        ~ text ~ ") as failing_value from " ~ model ~ " where " ~ column ~ " is not null and ("
        ~ (outside | join(' or ')) ~ ")") -%}
{%- endfor -%}

{%- for expression in expressions -%}
    {%- do branches.append(
        "select 'must hold: " ~ (expression | replace("'", "''")) ~ "' as rule, " ~ key_sql ~ " as failing_key, cast(null as "
        ~ text ~ ") as failing_value from " ~ model ~ " where not (" ~ expression ~ ")") -%}
{%- endfor -%}

{%- for column, reference in references.items() -%}
    {%- set parent = reference['to'] -%}
    {%- do branches.append(
        "select '" ~ column ~ " must exist in " ~ (parent.identifier or parent) ~ "." ~ reference['field'] ~ "' as rule, "
        ~ key_sql ~ " as failing_key, cast(" ~ column ~ " as " ~ text ~ ") as failing_value from " ~ model ~ " as child"
        ~ " where " ~ column ~ " is not null and not exists (select 1 from " ~ parent ~ " as parent where parent."
        ~ reference['field'] ~ " = child." ~ column ~ ")") -%}
{%- endfor -%}

{%- if not branches -%}
    {{ exceptions.raise_compiler_error("checks on " ~ model ~ ": no rule given") }}
{%- endif -%}

{{ branches | join('\nunion all\n') }}

{% endtest %}
