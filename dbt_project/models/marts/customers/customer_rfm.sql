with

customers as (

    select * from {{ ref('dim_customers') }}

),

windows as (

    select * from {{ ref('int_customers__order_windows') }}
    where occasion_count > 0

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

measured as (

    select
        windows.account_id,
        windows.last_occasion_date,
        {{ dbt.datediff('windows.last_occasion_date', as_of_date(), 'day') }} as recency_days,
        windows.occasion_count as frequency,
        windows.lifetime_net_revenue as monetary

    from windows
    inner join customers
        on windows.account_id = customers.account_id

),

scored as (

    select
        measured.*,
        {{ quintile_score('recency_days', descending=true) }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary') }} as m_score

    from measured

),

final as (

    select
        scored.account_id,
        customers.external_ref,
        customers.account_name,
        customers.owner_id,
        customers.department_id,
        customers.department_path,
        customers.region,
        scored.last_occasion_date,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        cast(scored.r_score as {{ dbt.type_string() }})
            || cast(scored.f_score as {{ dbt.type_string() }})
            || cast(scored.m_score as {{ dbt.type_string() }}) as rfm_cell,
        scored.r_score + scored.f_score + scored.m_score as rfm_total,
        segments.segment

    from scored
    inner join customers
        on scored.account_id = customers.account_id
    left join segments
        on scored.r_score = segments.r_score and scored.f_score = segments.f_score

)

select * from final
