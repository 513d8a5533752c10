with

source as (

    select * from {{ source('crm', 'opportunity_stage_history') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as stage_change_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(from_stage_id as {{ dbt.type_int() }}) as from_stage_id,
        cast(to_stage_id as {{ dbt.type_int() }}) as to_stage_id,
        cast(changed_at as {{ dbt.type_timestamp() }}) as changed_at,
        cast(changed_by_id as {{ dbt.type_int() }}) as changed_by_id,
        cast(amount as decimal(14, 2)) as amount,
        cast(probability as decimal(5, 4)) as probability,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
