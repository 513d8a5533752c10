with

customers as (

    select * from {{ ref('dim_customers') }}

),

windows as (

    select * from {{ ref('int_customers__order_windows') }}

),

summary as (

    select * from {{ ref('int_customers__clv_summary') }}

),

scores as (

    select * from {{ ref('int_customers__clv_scored') }}
    where record_type = 'customer'

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where opportunity_status = 'open'

),

pipeline as (

    select
        account_id,
        count(*) as open_opportunity_count,
        sum(amount) as open_pipeline_amount,
        sum(weighted_amount) as weighted_pipeline_amount

    from opportunities
    group by account_id

),

valued as (

    select
        customers.account_id,
        customers.external_ref,
        customers.account_name,
        customers.owner_id,
        customers.owner_name,
        customers.department_id,
        customers.department_path,
        customers.region,
        customers.industry,
        customers.tier,
        customers.lifecycle_stage,
        customers.customer_since,
        summary.first_occasion_date,
        summary.last_occasion_date,
        summary.frequency,
        summary.recency,
        summary.age,
        cast(scores.p_alive as {{ type_double() }}) as p_alive,
        cast(scores.p_alive_earlier as {{ type_double() }}) as p_alive_earlier,
        cast(scores.expected_purchases as {{ type_double() }}) as expected_purchases,
        cast(scores.expected_avg_order_value as {{ type_double() }}) as expected_avg_order_value,
        -- never bought: no model value yet (BG/NBD starts at the first purchase)
        cast(coalesce(scores.predicted_clv, 0) as {{ type_double() }}) as predicted_clv,
        coalesce(windows.lifetime_net_revenue, 0) as lifetime_net_revenue,
        coalesce(windows.lifetime_gross_margin, 0) as lifetime_gross_margin,
        coalesce(windows.t12m_net_revenue, 0) as t12m_net_revenue,
        coalesce(windows.t12m_gross_margin, 0) as t12m_gross_margin,
        coalesce(windows.prior_12m_net_revenue, 0) as prior_12m_net_revenue,
        coalesce(windows.last_period_net_revenue, 0) as last_period_net_revenue,
        coalesce(windows.previous_period_net_revenue, 0) as previous_period_net_revenue,
        coalesce(pipeline.open_opportunity_count, 0) as open_opportunity_count,
        coalesce(pipeline.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(pipeline.weighted_pipeline_amount, 0) as weighted_pipeline_amount

    from customers
    left join windows
        on customers.account_id = windows.account_id
    left join summary
        on customers.account_id = summary.account_id
    left join scores
        on customers.account_id = cast(scores.account_id as {{ dbt.type_int() }})
    left join pipeline
        on customers.account_id = pipeline.account_id

),

scored as (

    select
        valued.*,
        -- potential value (DESIGN.md §4): open pipeline weighted by stage probability + model value
        cast(valued.weighted_pipeline_amount as {{ type_double() }}) + valued.predicted_clv as potential_value,
        -- what the tier ranks: margin earned in the last 12 months + margin the model expects to come
        cast(valued.t12m_gross_margin as {{ type_double() }}) + valued.predicted_clv as value_score

    from valued

),

ranked as (

    select
        scored.*,
        case
            when scored.value_score > 0
                then cume_dist() over (
                    partition by scored.value_score > 0 order by scored.value_score desc
                )
        end as value_share_above

    from scored

),

{%- set shares = var('value_tier_cumulative_shares') %}

final as (

    select
        ranked.*,
        case
            when ranked.value_share_above is null then 'none'
            when ranked.value_share_above <= {{ shares[0] }} then 'top'
            when ranked.value_share_above <= {{ shares[1] }} then 'high'
            when ranked.value_share_above <= {{ shares[2] }} then 'medium'
            else 'low'
        end as value_tier

    from ranked

)

select * from final
