with

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

furthest as (

    select * from {{ ref('int_opportunities__furthest_stage') }}

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}

),

segments as (

    select distinct department_id, region, owner_id from opportunities

),

grid as (

    select
        stages.stage_id,
        stages.stage_name,
        stages.stage_position,
        stages.probability as stage_probability,
        stages.is_closed,
        stages.is_won,
        segments.department_id,
        segments.region,
        segments.owner_id

    from stages
    cross join segments

),

current_stage as (

    select
        stage_id,
        department_id,
        region,
        owner_id,
        count(*) as current_count,
        sum(amount) as current_amount,
        sum(weighted_amount) as weighted_amount

    from opportunities
    group by stage_id, department_id, region, owner_id

),

reached as (

    select
        grid.stage_id,
        grid.department_id,
        grid.region,
        grid.owner_id,
        count(furthest.opportunity_id) as reached_count,
        coalesce(sum(furthest.amount), 0) as reached_amount

    from grid
    inner join furthest
        on grid.department_id is not distinct from furthest.department_id
        and grid.region is not distinct from furthest.region
        and grid.owner_id is not distinct from furthest.owner_id
        and (
            -- open and won stages: reached when the deal got that far; the lost stage: when it was lost
            (not (grid.is_closed and not grid.is_won) and furthest.furthest_stage_position >= grid.stage_position)
            or (grid.is_closed and not grid.is_won and furthest.opportunity_status = 'lost')
        )
    group by grid.stage_id, grid.department_id, grid.region, grid.owner_id

),

final as (

    select
        grid.stage_id,
        grid.stage_name,
        grid.stage_position,
        grid.stage_probability,
        grid.is_closed,
        grid.is_won,
        grid.department_id,
        grid.region,
        grid.owner_id,
        coalesce(current_stage.current_count, 0) as current_count,
        coalesce(current_stage.current_amount, 0) as current_amount,
        case when grid.is_closed then 0 else coalesce(current_stage.current_count, 0) end as open_count,
        case when grid.is_closed then 0 else coalesce(current_stage.current_amount, 0) end as open_amount,
        coalesce(current_stage.weighted_amount, 0) as weighted_amount,
        coalesce(reached.reached_count, 0) as reached_count,
        coalesce(reached.reached_amount, 0) as reached_amount

    from grid
    left join current_stage
        on grid.stage_id = current_stage.stage_id
        and grid.department_id is not distinct from current_stage.department_id
        and grid.region is not distinct from current_stage.region
        and grid.owner_id is not distinct from current_stage.owner_id
    left join reached
        on grid.stage_id = reached.stage_id
        and grid.department_id is not distinct from reached.department_id
        and grid.region is not distinct from reached.region
        and grid.owner_id is not distinct from reached.owner_id

)

select * from final
