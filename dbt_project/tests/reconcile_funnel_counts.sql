{{ config(meta={'table': 'sales_funnel', 'rule': 'funnel counts match the opportunities (every deal in one stage; every deal reached the first stage)'}) }}
{#- Reconciliation: Σ sales_funnel.current_count = count(fct_opportunities) = reached count of the first stage. -#}
with

funnel as (

    select * from {{ ref('sales_funnel') }}

),

opportunity_count as (

    select count(*) as opportunities from {{ ref('fct_opportunities') }}

),

funnel_totals as (

    select
        sum(current_count) as in_stages,
        sum(case when stage_position = (select min(stage_position) from funnel) then reached_count else 0 end)
            as reached_first_stage

    from funnel

)

select
    opportunity_count.opportunities,
    funnel_totals.in_stages,
    funnel_totals.reached_first_stage

from opportunity_count
cross join funnel_totals

where coalesce(funnel_totals.in_stages, 0) <> opportunity_count.opportunities
    or coalesce(funnel_totals.reached_first_stage, 0) <> opportunity_count.opportunities
