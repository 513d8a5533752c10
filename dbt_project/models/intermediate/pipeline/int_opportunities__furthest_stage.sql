{#- How far each opportunity got by the as-of date: the highest-positioned stage it entered that is not a
    closed-lost stage. The funnel counts an opportunity as having reached every stage up to that one, so a
    deal that skipped a stage still passed through it. -#}
with

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

changes as (

    select * from {{ ref('fct_opportunity_stage_changes') }}

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}

),

entered as (

    select
        opportunity_id,
        to_stage_position as stage_position

    from changes
    where not (to_stage_is_closed and not to_stage_is_won)

    union all

    -- the current stage counts too (rows imported without history)
    select
        opportunity_id,
        stage_position

    from opportunities
    where opportunity_status <> 'lost'

),

furthest as (

    select
        opportunity_id,
        max(stage_position) as furthest_stage_position

    from entered
    group by opportunity_id

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.department_id,
        opportunities.region,
        opportunities.owner_id,
        opportunities.opportunity_status,
        opportunities.amount,
        -- lost straight from creation: it reached the first stage
        coalesce(
            furthest.furthest_stage_position,
            (select min(stage_position) from stages where not is_closed)
        ) as furthest_stage_position

    from opportunities
    left join furthest
        on opportunities.opportunity_id = furthest.opportunity_id

)

select * from final
