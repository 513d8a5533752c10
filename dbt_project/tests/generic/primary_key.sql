{#- A primary key: no null and no repeated value (unique + not_null in one query: the refresh pays dbt's
    per-test overhead once per key instead of twice). Returns the offending key values. -#}
{% test primary_key(model, column_name) %}

select
    {{ column_name }} as failing_key,
    count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
