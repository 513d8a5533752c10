"""The DuckDB warehouse: raw layer, dbt build, quality gate, atomic publish and readers' connections."""
