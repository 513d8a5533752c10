with

history as (

    select * from {{ ref('stg_crm__opportunity_stage_history') }}
    where changed_at < {{ as_of_cutoff() }}

),

opportunities as (

    select * from {{ ref('int_opportunities__as_of') }}

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}

),

sequenced as (

    select
        history.*,
        row_number() over (
            partition by history.opportunity_id order by history.changed_at, history.stage_change_id
        ) as change_sequence,
        lead(history.changed_at) over (
            partition by history.opportunity_id order by history.changed_at, history.stage_change_id
        ) as left_stage_at

    from history

),

final as (

    select
        sequenced.stage_change_id,
        sequenced.opportunity_id,
        opportunities.account_id,
        opportunities.owner_id,
        opportunities.department_id,
        opportunities.region,
        sequenced.change_sequence,
        sequenced.from_stage_id,
        from_stages.stage_name as from_stage_name,
        from_stages.stage_position as from_stage_position,
        sequenced.to_stage_id,
        to_stages.stage_name as to_stage_name,
        to_stages.stage_position as to_stage_position,
        to_stages.is_closed as to_stage_is_closed,
        to_stages.is_won as to_stage_is_won,
        sequenced.changed_at,
        cast(sequenced.changed_at as date) as changed_date,
        sequenced.changed_by_id,
        sequenced.amount,
        sequenced.probability,
        sequenced.from_stage_id is not null and to_stages.stage_position > from_stages.stage_position as is_forward,
        sequenced.left_stage_at,
        sequenced.left_stage_at is null as is_current_stage,
        -- time in the stage entered by this change: until the next change, or until the as-of date
        {{ dbt.datediff('sequenced.changed_at', 'coalesce(sequenced.left_stage_at, ' ~ as_of_cutoff() ~ ')', 'second') }}
            / 86400.0 as days_in_stage

    from sequenced
    inner join opportunities
        on sequenced.opportunity_id = opportunities.opportunity_id
    left join stages as from_stages
        on sequenced.from_stage_id = from_stages.stage_id
    left join stages as to_stages
        on sequenced.to_stage_id = to_stages.stage_id

)

select * from final
