with

source as (

    select * from {{ source('crm', 'survey_responses') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as response_id,
        cast(survey_id as {{ dbt.type_int() }}) as survey_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(case_id as {{ dbt.type_int() }}) as case_id,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        cast(score as decimal(6, 2)) as response_score,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
