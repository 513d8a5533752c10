{#- Each customer's service record as of the as-of date: open complaints, cases and satisfaction in the
    last 12 months. -#}
with

cases as (

    select * from {{ ref('fct_cases') }}

),

final as (

    select
        account_id,
        sum(case when is_complaint and is_open then 1 else 0 end) as open_complaint_count,
        min(case when is_complaint and is_open then opened_date end) as oldest_open_complaint_date,
        sum(case when is_open then 1 else 0 end) as open_case_count,
        sum(case when opened_date > {{ as_of_date_plus(-365) }} then 1 else 0 end) as t12m_case_count,
        sum(case when is_complaint and opened_date > {{ as_of_date_plus(-365) }} then 1 else 0 end)
            as t12m_complaint_count,
        -- satisfaction given on cases settled in the last 12 months
        count(case
            when satisfaction is not null
                and coalesce(closed_at, resolved_at) >= cast({{ as_of_date_plus(-364) }} as {{ dbt.type_timestamp() }})
                then satisfaction
        end) as t12m_rated_case_count,
        avg(case
            when satisfaction is not null
                and coalesce(closed_at, resolved_at) >= cast({{ as_of_date_plus(-364) }} as {{ dbt.type_timestamp() }})
                then cast(satisfaction as {{ type_double() }})
        end) as t12m_avg_satisfaction,
        min(case
            when satisfaction is not null
                and coalesce(closed_at, resolved_at) >= cast({{ as_of_date_plus(-364) }} as {{ dbt.type_timestamp() }})
                then satisfaction
        end) as t12m_min_satisfaction,
        avg(resolution_hours) as avg_resolution_hours

    from cases
    group by account_id

)

select * from final
