with

source as (

    select * from {{ source('crm', 'document_template_lines') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as document_template_line_id,
        cast(template_id as {{ dbt.type_int() }}) as document_template_id,
        cast(position as {{ dbt.type_int() }}) as position,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(quantity as decimal(12, 3)) as quantity,
        cast(discount_pct as decimal(5, 2)) as discount_pct,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
