with

source as (

    select * from {{ source('crm', 'campaigns') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as campaign_id,
        cast(name as {{ dbt.type_string() }}) as campaign_name,
        cast(kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(status as {{ dbt.type_string() }}) as campaign_status,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(budget as decimal(14, 2)) as budget,
        cast(actual_cost as decimal(14, 2)) as actual_cost,
        cast(content as {{ dbt.type_string() }}) as content,
        cast(target_description as {{ dbt.type_string() }}) as target_description,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
