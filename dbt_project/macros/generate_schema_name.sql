{#- Layers live in schemas named after them (staging, intermediate, marts), not "<target>_<custom>":
    readers query `marts.customer_value`, whatever the target is called. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
