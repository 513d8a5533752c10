with

activities as (

    select * from {{ ref('stg_crm__activities') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

users as (

    select * from {{ ref('stg_crm__users') }}

),

as_of_state as (

    select
        activities.*,
        -- a call logged today about last week happened last week: the earlier of logged and done counts
        case
            when activities.done_at is not null and activities.done_at < activities.created_at
                then activities.done_at
            else activities.created_at
        end as known_at,
        case when activities.done_at < {{ as_of_cutoff() }} then activities.done_at end as done_at_as_of

    from activities

),

final as (

    select
        as_of_state.activity_id,
        as_of_state.activity_kind,
        as_of_state.purpose,
        case
            when as_of_state.done_at_as_of is not null then 'done'
            -- a cancellation is only known to have happened by the as-of date if the row has not changed since
            when as_of_state.activity_status = 'cancelled' and as_of_state.updated_at < {{ as_of_cutoff() }}
                then 'cancelled'
            else 'open'
        end as activity_status,
        as_of_state.owner_id,
        users.department_id,
        as_of_state.account_id,
        accounts.region,
        as_of_state.contact_id,
        as_of_state.opportunity_id,
        as_of_state.case_id,
        as_of_state.campaign_id,
        as_of_state.known_at as created_at,
        as_of_state.due_at,
        as_of_state.done_at_as_of as done_at,
        cast(coalesce(as_of_state.done_at_as_of, as_of_state.due_at, as_of_state.known_at) as date) as activity_date,
        as_of_state.done_at_as_of is null
            and as_of_state.due_at < {{ as_of_cutoff() }}
            and not (as_of_state.activity_status = 'cancelled' and as_of_state.updated_at < {{ as_of_cutoff() }})
            as is_overdue,
        as_of_state.duration_minutes,
        -- expenses are spent when the work is done
        case when as_of_state.done_at_as_of is not null then as_of_state.expense else 0 end as expense,
        as_of_state.recurrence_parent_activity_id

    from as_of_state
    left join accounts
        on as_of_state.account_id = accounts.account_id
    left join users
        on as_of_state.owner_id = users.user_id

    where as_of_state.known_at < {{ as_of_cutoff() }}
        -- activities about soft-deleted accounts go with them
        and (as_of_state.account_id is null or accounts.account_id is not null)

)

select * from final
