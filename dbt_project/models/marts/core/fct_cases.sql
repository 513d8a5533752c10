with

cases as (

    select * from {{ ref('stg_crm__cases') }}
    where opened_at < {{ as_of_cutoff() }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

as_of_state as (

    select
        cases.*,
        -- a resolution or closure after the as-of date had not happened yet
        case when cases.resolved_at < {{ as_of_cutoff() }} then cases.resolved_at end as resolved_at_as_of,
        case when cases.closed_at < {{ as_of_cutoff() }} then cases.closed_at end as closed_at_as_of

    from cases

),

final as (

    select
        as_of_state.case_id,
        as_of_state.case_number,
        as_of_state.case_kind,
        as_of_state.severity,
        case
            when as_of_state.closed_at_as_of is not null then 'closed'
            when as_of_state.resolved_at_as_of is not null then 'resolved'
            -- "in progress" carries no date: only a row untouched since the as-of date proves it
            when as_of_state.case_status = 'in_progress' and as_of_state.updated_at < {{ as_of_cutoff() }}
                then 'in_progress'
            else 'open'
        end as case_status,
        as_of_state.case_kind = 'complaint' as is_complaint,
        as_of_state.resolved_at_as_of is null and as_of_state.closed_at_as_of is null as is_open,
        as_of_state.account_id,
        accounts.region,
        as_of_state.product_id,
        products.category_id,
        products.root_category_id,
        as_of_state.order_id,
        as_of_state.owner_id,
        as_of_state.department_id,
        as_of_state.opened_at,
        cast(as_of_state.opened_at as date) as opened_date,
        cast({{ dbt.date_trunc('month', 'as_of_state.opened_at') }} as date) as opened_month,
        as_of_state.resolved_at_as_of as resolved_at,
        as_of_state.closed_at_as_of as closed_at,
        {{ dbt.datediff('as_of_state.opened_at', 'as_of_state.resolved_at_as_of', 'second') }} / 3600.0
            as resolution_hours,
        -- satisfaction is given when the case is settled
        case
            when coalesce(as_of_state.closed_at_as_of, as_of_state.resolved_at_as_of) is not null
                then as_of_state.satisfaction
        end as satisfaction

    from as_of_state
    -- cases of soft-deleted accounts go with them
    inner join accounts
        on as_of_state.account_id = accounts.account_id
    left join products
        on as_of_state.product_id = products.product_id

)

select * from final
