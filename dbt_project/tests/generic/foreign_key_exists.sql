{#- Rows whose `column_name` is set but names no row of `to`.`field`; returns the row's `key` and the
    dangling value so a failure can show example keys. Nulls pass (an optional reference). -#}
{% test foreign_key_exists(model, column_name, to, field, key) %}

select
    child.{{ key }} as failing_key,
    child.{{ column_name }} as missing_reference
from {{ model }} as child
left join {{ to }} as parent
    on child.{{ column_name }} = parent.{{ field }}
where child.{{ column_name }} is not null
    and parent.{{ field }} is null

{% endtest %}
