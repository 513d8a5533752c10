{#- Each opportunity as it stood at the end of the as-of date, rebuilt from its stage history: the stage it
    was in, hence status, closed date and the amount recorded with that stage change. The current row only
    supplies what history does not record (see DECISIONLOG.md, "as-of semantics"). -#}
with

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

),

all_history as (

    select * from {{ ref('stg_crm__opportunity_stage_history') }}

),

stages as (

    select * from {{ ref('stg_crm__pipeline_stages') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

history_ranked as (

    select
        opportunity_id,
        stage_change_id,
        from_stage_id,
        to_stage_id,
        changed_at,
        amount,
        probability,
        changed_at < {{ as_of_cutoff() }} as is_known,
        row_number() over (
            partition by opportunity_id, changed_at < {{ as_of_cutoff() }}
            order by changed_at desc, stage_change_id desc
        ) as newest_first,
        row_number() over (
            partition by opportunity_id, changed_at < {{ as_of_cutoff() }}
            order by changed_at, stage_change_id
        ) as oldest_first

    from all_history

),

history_summary as (

    select
        opportunity_id,
        min(changed_at) as first_changed_at,
        max(case when is_known and newest_first = 1 then stage_change_id end) as last_known_change_id,
        -- the stage before the first change after the as-of date (for rows whose history starts later)
        max(case when not is_known and oldest_first = 1 then from_stage_id end) as stage_before_later_changes,
        max(case when not is_known then 1 else 0 end) = 1 as has_later_changes

    from history_ranked
    group by opportunity_id

),

known_state as (

    select
        opportunities.opportunity_id,
        opportunities.opportunity_name,
        opportunities.account_id,
        opportunities.owner_id,
        opportunities.department_id,
        opportunities.source_campaign_id,
        opportunities.expected_close_date,
        opportunities.evaluation_score,
        accounts.region,
        cast(least(opportunities.created_at, coalesce(history_summary.first_changed_at, opportunities.created_at))
            as {{ dbt.type_timestamp() }}) as created_at,
        coalesce(last_change.to_stage_id, history_summary.stage_before_later_changes, opportunities.stage_id)
            as stage_id,
        last_change.changed_at as stage_entered_at,
        -- history records the amount at each stage change; a row untouched since the as-of date has the
        -- amount of that date even if it was edited after the last stage change
        case
            when opportunities.updated_at < {{ as_of_cutoff() }} or last_change.amount is null
                then opportunities.amount
            else last_change.amount
        end as amount,
        coalesce(last_change.probability, opportunities.probability) as recorded_probability,
        opportunities.opportunity_status as current_status,
        opportunities.closed_date as current_closed_date,
        opportunities.lost_reason as current_lost_reason,
        opportunities.competitor_id as current_competitor_id

    from opportunities
    -- opportunities of soft-deleted accounts go with them
    inner join accounts
        on opportunities.account_id = accounts.account_id
    left join history_summary
        on opportunities.opportunity_id = history_summary.opportunity_id
    left join history_ranked as last_change
        on history_summary.last_known_change_id = last_change.stage_change_id

),

final as (

    select
        known_state.opportunity_id,
        known_state.opportunity_name,
        known_state.account_id,
        known_state.owner_id,
        known_state.department_id,
        known_state.region,
        known_state.source_campaign_id,
        known_state.created_at,
        cast(known_state.created_at as date) as created_date,
        known_state.stage_id,
        stages.stage_name,
        stages.stage_position,
        stages.probability as stage_probability,
        known_state.recorded_probability,
        case
            when stages.is_closed and stages.is_won then 'won'
            when stages.is_closed then 'lost'
            else 'open'
        end as opportunity_status,
        stages.is_closed,
        stages.is_won,
        known_state.amount,
        known_state.stage_entered_at,
        -- rows without stage history (imports) keep the closed date they carry
        case
            when stages.is_closed
                then coalesce(cast(known_state.stage_entered_at as date), known_state.current_closed_date)
        end as closed_date,
        known_state.expected_close_date,
        -- the reason recorded today belongs to this loss only if the deal is still lost since that day
        case
            when stages.is_closed and not stages.is_won
                and known_state.current_status = 'lost'
                and known_state.current_closed_date
                    = coalesce(cast(known_state.stage_entered_at as date), known_state.current_closed_date)
                then known_state.current_lost_reason
        end as lost_reason,
        -- a competitor recorded with a loss after the as-of date was not known on it
        case
            when known_state.current_status = 'lost' and known_state.current_closed_date > {{ as_of_date() }}
                then null
            else known_state.current_competitor_id
        end as competitor_id,
        known_state.evaluation_score

    from known_state
    left join stages
        on known_state.stage_id = stages.stage_id

    where known_state.created_at < {{ as_of_cutoff() }}

)

select * from final
