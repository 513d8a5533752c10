with

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

orders as (

    select * from {{ ref('int_orders__scoped') }}

),

employees as (

    select * from {{ ref('dim_employees') }}

),

departments as (

    select * from {{ ref('dim_departments') }}

),

campaigns as (

    select * from {{ ref('stg_crm__campaigns') }}

),

first_orders as (

    select
        account_id,
        min(order_date) as first_order_date,
        min(case when order_kind = 'sale' and is_revenue then order_date end) as first_purchase_date,
        max(case when order_kind = 'sale' and is_revenue then order_date end) as last_purchase_date

    from orders
    group by account_id

),

customers as (

    select
        accounts.*,
        first_orders.first_purchase_date,
        first_orders.last_purchase_date,
        -- imported history predates the row: a customer is known from its first order at the latest
        least(cast(accounts.created_at as date), coalesce(first_orders.first_order_date, cast(accounts.created_at as date)))
            as customer_since

    from accounts
    left join first_orders
        on accounts.account_id = first_orders.account_id

    where accounts.account_kind = 'customer' or first_orders.account_id is not null

),

final as (

    select
        customers.account_id,
        customers.external_ref,
        customers.account_name,
        customers.account_kind,
        customers.lifecycle_stage,
        customers.tier,
        customers.industry,
        customers.region,
        customers.city,
        customers.company_size,
        customers.source as acquisition_source,
        customers.source_campaign_id,
        campaigns.campaign_name as source_campaign_name,
        customers.parent_account_id,
        customers.price_policy_id,
        customers.credit_limit,
        customers.owner_id,
        employees.full_name as owner_name,
        customers.department_id,
        departments.department_name,
        departments.department_path,
        customers.customer_since,
        cast({{ dbt.date_trunc('month', 'customers.customer_since') }} as date) as customer_since_month,
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.created_at

    from customers
    left join employees
        on customers.owner_id = employees.user_id
    left join departments
        on customers.department_id = departments.department_id
    left join campaigns
        on customers.source_campaign_id = campaigns.campaign_id

    where customers.customer_since <= {{ as_of_date() }}

)

select * from final
