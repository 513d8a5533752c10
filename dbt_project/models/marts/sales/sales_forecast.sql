{#- What is expected to come in, month by month from the as-of month: open pipeline weighted by stage
    probability by expected close month, plus planned collections of signed orders. -#}
with

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where opportunity_status = 'open'

),

instalments as (

    select * from {{ ref('int_orders__instalments') }}
    where unpaid_amount > 0

),

as_of as (

    select cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as as_of_month

),

pipeline as (

    select
        -- a deal whose expected close date has passed (or is unknown) is expected now
        greatest(coalesce(opportunities.expected_close_month, as_of.as_of_month), as_of.as_of_month) as forecast_month,
        opportunities.department_id,
        opportunities.region,
        opportunities.owner_id,
        count(*) as open_opportunity_count,
        sum(opportunities.amount) as open_amount,
        sum(opportunities.weighted_amount) as weighted_amount,
        count(case when opportunities.expected_close_month < as_of.as_of_month then 1 end) as slipped_opportunity_count

    from opportunities
    cross join as_of
    group by 1, 2, 3, 4

),

collections as (

    select
        greatest(instalments.due_month, as_of.as_of_month) as forecast_month,
        instalments.department_id,
        instalments.region,
        instalments.owner_id,
        sum(case when instalments.due_date >= {{ as_of_date() }} then instalments.unpaid_amount else 0 end)
            as planned_collections,
        -- already due and unpaid: shown in the as-of month, separately
        sum(case when instalments.due_date < {{ as_of_date() }} then instalments.unpaid_amount else 0 end)
            as overdue_collections

    from instalments
    cross join as_of
    group by 1, 2, 3, 4

),

keys as (

    select forecast_month, department_id, region, owner_id from pipeline
    union
    select forecast_month, department_id, region, owner_id from collections

),

final as (

    select
        keys.forecast_month,
        keys.department_id,
        keys.region,
        keys.owner_id,
        coalesce(pipeline.open_opportunity_count, 0) as open_opportunity_count,
        coalesce(pipeline.slipped_opportunity_count, 0) as slipped_opportunity_count,
        coalesce(pipeline.open_amount, 0) as open_amount,
        coalesce(pipeline.weighted_amount, 0) as weighted_pipeline_amount,
        coalesce(collections.planned_collections, 0) as planned_collections,
        coalesce(collections.overdue_collections, 0) as overdue_collections,
        coalesce(pipeline.weighted_amount, 0) + coalesce(collections.planned_collections, 0)
            + coalesce(collections.overdue_collections, 0) as forecast_amount

    from keys
    left join pipeline
        on keys.forecast_month = pipeline.forecast_month
        and keys.department_id is not distinct from pipeline.department_id
        and keys.region is not distinct from pipeline.region
        and keys.owner_id is not distinct from pipeline.owner_id
    left join collections
        on keys.forecast_month = collections.forecast_month
        and keys.department_id is not distinct from collections.department_id
        and keys.region is not distinct from collections.region
        and keys.owner_id is not distinct from collections.owner_id

)

select * from final
