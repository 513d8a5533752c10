{#- Time spent in each open stage of the pipeline, from the stage history. -#}
with

changes as (

    select * from {{ ref('fct_opportunity_stage_changes') }}
    where not to_stage_is_closed

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}
    where not is_closed

),

final as (

    select
        stages.stage_id,
        stages.stage_name,
        stages.stage_position,
        changes.department_id,
        changes.region,
        changes.owner_id,
        -- stays that ended (the deal moved on, back, or closed) by the as-of date
        count(case when not changes.is_current_stage then 1 end) as completed_stay_count,
        sum(case when not changes.is_current_stage then changes.days_in_stage else 0 end) as completed_stay_days,
        avg(case when not changes.is_current_stage then changes.days_in_stage end) as avg_days_in_stage,
        percentile_cont(0.5) within group (
            order by case when not changes.is_current_stage then changes.days_in_stage end
        ) as median_days_in_stage,
        -- deals sitting in the stage on the as-of date and for how long so far
        count(case when changes.is_current_stage then 1 end) as current_stay_count,
        sum(case when changes.is_current_stage then changes.days_in_stage else 0 end) as current_stay_days,
        avg(case when changes.is_current_stage then changes.days_in_stage end) as avg_days_in_stage_so_far

    from changes
    inner join stages
        on changes.to_stage_id = stages.stage_id
    group by
        stages.stage_id,
        stages.stage_name,
        stages.stage_position,
        changes.department_id,
        changes.region,
        changes.owner_id

)

select * from final
