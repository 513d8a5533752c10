{#- Rows for which `<column> <expression>` (or the bare expression on a model) is not true. -#}
{% test expression_is_true(model, expression, column_name=none, where=none) %}

select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})
    {%- if where %} and ({{ where }}){% endif %}

{% endtest %}
