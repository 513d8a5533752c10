{#- Calendar from the first dated business record to the end of the forecast horizon. -#}
with

orders as (

    select * from {{ ref('int_orders__scoped') }}

),

opportunities as (

    select * from {{ ref('int_opportunities__as_of') }}

),

bounds as (

    select
        cast({{ dbt.date_trunc('year', 'min(first_day)') }} as date) as start_date,
        cast({{ dbt.date_trunc('year', 'max(last_day)') }} as date) as last_year_start

    from (
        select min(order_date) as first_day, max(order_date) as last_day from orders
        union all
        select min(created_date), max(expected_close_date) from opportunities
        union all
        select {{ as_of_date_plus(-365) }}, {{ as_of_date_plus(horizon_days() | int) }}
    ) as edges

),

days as (

    {{ date_spine(
        '(select start_date from bounds)',
        "(select " ~ dbt.dateadd('day', -1, dbt.dateadd('year', 1, 'last_year_start')) ~ " from bounds)"
    ) }}

),

final as (

    select
        date_day,
        extract(year from date_day) as year_number,
        extract(quarter from date_day) as quarter_number,
        extract(month from date_day) as month_number,
        extract(day from date_day) as day_of_month,
        -- ISO: Monday 1 … Sunday 7
        extract(isodow from date_day) as iso_day_of_week,
        extract(isodow from date_day) in (6, 7) as is_weekend,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
        cast({{ dbt.date_trunc('year', 'date_day') }} as date) as year_start,
        date_day <= {{ as_of_date() }} as is_on_or_before_as_of,
        {{ dbt.datediff(as_of_date(), 'date_day', 'day') }} as days_from_as_of

    from days

)

select * from final
