{#- Stage-to-stage conversion along the open stages of the pipeline, from the stage history. -#}
with

furthest as (

    select * from {{ ref('int_opportunities__furthest_stage') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}

),

-- the path a deal walks: open stages, then the won stage
path as (

    select
        stage_id,
        stage_name,
        stage_position,
        lead(stage_id) over (order by stage_position) as next_stage_id,
        lead(stage_name) over (order by stage_position) as next_stage_name,
        lead(stage_position) over (order by stage_position) as next_stage_position,
        min(stage_position) over () as first_stage_position

    from stages
    where not is_closed or is_won

),

segments as (

    select distinct department_id, region, owner_id from opportunities

),

final as (

    select
        path.stage_id,
        path.stage_name,
        path.stage_position,
        path.next_stage_id,
        path.next_stage_name,
        segments.department_id,
        segments.region,
        segments.owner_id,
        count(furthest.opportunity_id) as entered_count,
        count(case when furthest.furthest_stage_position >= path.next_stage_position then 1 end)
            as advanced_count,
        count(case
            when furthest.furthest_stage_position = path.stage_position and furthest.opportunity_status = 'lost'
                then 1
        end) as lost_count,
        count(case
            when furthest.furthest_stage_position = path.stage_position and furthest.opportunity_status = 'open'
                then 1
        end) as still_open_count,
        -- conversion to the next stage among the deals that entered this one (null for the last stage)
        case
            when path.next_stage_id is not null and count(furthest.opportunity_id) > 0
                then cast(count(case when furthest.furthest_stage_position >= path.next_stage_position then 1 end)
                    as {{ type_double() }}) / count(furthest.opportunity_id)
        end as conversion_rate,
        -- the same, counting only deals already decided at this stage (advanced or lost here)
        case
            when path.next_stage_id is not null
                and count(case
                    when furthest.furthest_stage_position > path.stage_position or furthest.opportunity_status = 'lost'
                        then 1
                end) > 0
                then cast(count(case when furthest.furthest_stage_position >= path.next_stage_position then 1 end)
                    as {{ type_double() }})
                    / count(case
                        when furthest.furthest_stage_position > path.stage_position
                            or furthest.opportunity_status = 'lost'
                            then 1
                    end)
        end as decided_conversion_rate

    from path
    cross join segments
    left join furthest
        on furthest.furthest_stage_position >= path.stage_position
        and segments.department_id is not distinct from furthest.department_id
        and segments.region is not distinct from furthest.region
        and segments.owner_id is not distinct from furthest.owner_id
    group by
        path.stage_id,
        path.stage_name,
        path.stage_position,
        path.next_stage_id,
        path.next_stage_name,
        path.next_stage_position,
        segments.department_id,
        segments.region,
        segments.owner_id

)

select * from final
