with

source as (

    select * from {{ source('crm', 'communications') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as communication_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(status as {{ dbt.type_string() }}) as communication_status,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(campaign_id as {{ dbt.type_int() }}) as campaign_id,
        cast(template_id as {{ dbt.type_int() }}) as template_id,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(to_address as {{ dbt.type_string() }}) as to_address,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(body as {{ dbt.type_string() }}) as body,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(error as {{ dbt.type_string() }}) as error,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
