with

members as (

    select * from {{ ref('stg_crm__campaign_members') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

as_of_state as (

    select
        members.campaign_member_id,
        members.campaign_id,
        members.account_id,
        members.contact_id,
        members.source_segment,
        coalesce(members.added_at, members.created_at) as added_at,
        -- steps taken after the as-of date had not been taken yet
        case when members.sent_at < {{ as_of_cutoff() }} then members.sent_at end as sent_at,
        case when members.responded_at < {{ as_of_cutoff() }} then members.responded_at end as responded_at,
        case when members.converted_at < {{ as_of_cutoff() }} then members.converted_at end as converted_at

    from members

),

final as (

    select
        as_of_state.campaign_member_id,
        as_of_state.campaign_id,
        as_of_state.account_id,
        accounts.region,
        accounts.department_id,
        accounts.owner_id,
        as_of_state.contact_id,
        as_of_state.source_segment,
        case
            when as_of_state.converted_at is not null then 'converted'
            when as_of_state.responded_at is not null then 'responded'
            when as_of_state.sent_at is not null then 'sent'
            else 'targeted'
        end as member_status,
        as_of_state.added_at,
        as_of_state.sent_at,
        as_of_state.responded_at,
        as_of_state.converted_at,
        -- a later step implies the earlier ones (a conversion without a recorded send was still reached)
        coalesce(as_of_state.sent_at, as_of_state.responded_at, as_of_state.converted_at) is not null as is_sent,
        coalesce(as_of_state.responded_at, as_of_state.converted_at) is not null as is_responded,
        as_of_state.converted_at is not null as is_converted,
        {{ dbt.datediff('as_of_state.sent_at', 'as_of_state.responded_at', 'day') }} as days_to_response

    from as_of_state
    inner join accounts
        on as_of_state.account_id = accounts.account_id

    where as_of_state.added_at < {{ as_of_cutoff() }}

)

select * from final
