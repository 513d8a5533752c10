with

source as (

    select * from {{ source('crm', 'account_shares') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as account_share_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(can_edit as {{ dbt.type_boolean() }}) as can_edit,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
