with

opportunities as (

    select * from {{ ref('int_opportunities__as_of') }}

),

final as (

    select
        opportunity_id,
        opportunity_name,
        account_id,
        owner_id,
        department_id,
        region,
        source_campaign_id,
        competitor_id,
        created_at,
        created_date,
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as created_month,
        stage_id,
        stage_name,
        stage_position,
        opportunity_status,
        is_closed,
        is_won,
        amount,
        stage_probability,
        recorded_probability,
        -- the forecast weights open deals by their stage's probability (DESIGN.md §4)
        case when opportunity_status = 'open' then round(amount * stage_probability, 2) else 0 end as weighted_amount,
        stage_entered_at,
        {{ dbt.datediff('cast(stage_entered_at as date)', as_of_date(), 'day') }} as days_in_current_stage,
        expected_close_date,
        cast({{ dbt.date_trunc('month', 'expected_close_date') }} as date) as expected_close_month,
        closed_date,
        cast({{ dbt.date_trunc('month', 'closed_date') }} as date) as closed_month,
        case
            when opportunity_status = 'won' then {{ dbt.datediff('created_date', 'closed_date', 'day') }}
        end as sales_cycle_days,
        lost_reason,
        evaluation_score

    from opportunities

)

select * from final
