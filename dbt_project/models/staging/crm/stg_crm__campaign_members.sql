with

source as (

    select * from {{ source('crm', 'campaign_members') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as campaign_member_id,
        cast(campaign_id as {{ dbt.type_int() }}) as campaign_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(status as {{ dbt.type_string() }}) as member_status,
        cast(added_at as {{ dbt.type_timestamp() }}) as added_at,
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        cast(converted_at as {{ dbt.type_timestamp() }}) as converted_at,
        cast(source_segment as {{ dbt.type_string() }}) as source_segment,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
