{#- Orders that exist as of the as-of date, with the sign and revenue flag every sales figure uses. -#}
with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

scoped as (

    select
        orders.*,
        accounts.region,
        accounts.account_kind,
        case when orders.order_kind = 'return' then -1 else 1 end as amount_sign,
        orders.order_status in (
            {%- for status in var('revenue_order_statuses') %}'{{ status }}'{{ ',' if not loop.last }}{% endfor -%}
        ) as is_revenue

    from orders
    -- orders of soft-deleted accounts go with them (a deleted account is a correction)
    inner join accounts
        on orders.account_id = accounts.account_id

    where orders.order_date <= {{ as_of_date() }}

),

final as (

    select
        scoped.order_id,
        scoped.order_number,
        scoped.order_kind,
        scoped.return_of_order_id,
        scoped.account_id,
        scoped.account_kind,
        scoped.owner_id,
        scoped.department_id,
        scoped.region,
        scoped.channel,
        scoped.order_status,
        scoped.order_date,
        cast({{ dbt.date_trunc('month', 'scoped.order_date') }} as date) as order_month,
        -- a return belongs to the purchase occasion of the sale it returns
        coalesce(sales.order_date, scoped.order_date) as occasion_date,
        scoped.opportunity_id,
        scoped.quote_id,
        scoped.total_amount,
        scoped.amount_sign,
        -- a return of a sale that is not booked (draft, cancelled) is not booked either
        scoped.is_revenue and coalesce(sales.is_revenue, true) as is_revenue

    from scoped
    left join scoped as sales
        on scoped.return_of_order_id = sales.order_id

)

select * from final
