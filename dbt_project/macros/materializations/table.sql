{#- The table materialization for DuckDB, lean: the model's table is (re)created in one transaction — drop the old
    table if there is one, create the new one — instead of dbt-duckdb's create-under-a-temporary-name, rename the
    old one to a backup, rename the new one, drop the backup. A refresh builds into a new file, where every table is
    new, so the renames and backup drops were pure per-model overhead (macro calls and round trips, ~50 times per
    refresh). DuckDB's DDL is transactional: a failed create leaves the old table as it was.
    The configurations the default materialization handles and this one does not are refused, not ignored. -#}
{% materialization table, adapter="duckdb", supported_languages=['sql', 'python'] %}

  {%- set language = model['language'] -%}
  {%- for unsupported in ['partitioned_by', 'sorted_by', 'indexes', 'grants'] -%}
    {%- if config.get(unsupported) -%}
      {{ exceptions.raise_compiler_error("model " ~ model['name'] ~ ": the project's table materialization (macros/materializations/table.sql) does not support " ~ unsupported) }}
    {%- endif -%}
  {%- endfor -%}
  {%- if config.get('contract', {}).enforced -%}
    {{ exceptions.raise_compiler_error("model " ~ model['name'] ~ ": the project's table materialization (macros/materializations/table.sql) does not enforce contracts") }}
  {%- endif -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% if existing_relation is not none %}
    {{ adapter.drop_relation(existing_relation) }}
  {% endif %}

  {% call statement('main', language=language) -%}
    {{- create_table_as(False, target_relation, compiled_code, language) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
