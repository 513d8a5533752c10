{#- Each monthly sales plan target against what actually happened in its scope: a department plan covers
    its sub-departments, a category plan its sub-categories, an employee plan the orders they own. Months after
    the as-of month carry their targets only (is_future_month), for the plans made by the as-of date. -#}
with

plans as (

    select
        *,
        period_month > {{ as_of_date() }} as is_future_month

    from {{ ref('stg_crm__sales_plans') }}
    -- a target for a month that has begun counts whenever it was entered (like back-dated orders); a target
    -- for a later month is an expectation, known only once it was made
    where period_month <= {{ as_of_date() }}
        or created_at < {{ as_of_cutoff() }}

),

lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_revenue

),

payments as (

    select * from {{ ref('fct_payments') }}

),

departments as (

    select * from {{ ref('dim_departments') }}

),

category_tree as (

    select * from {{ ref('int_product_categories__tree') }}

),

employees as (

    select * from {{ ref('dim_employees') }}

),

-- small monthly cubes, so the scope matching below never touches order lines
monthly_sales as (

    select
        lines.order_month as period_month,
        lines.owner_id,
        departments.department_path,
        category_tree.category_path,
        sum(lines.net_quantity) as net_quantity,
        sum(lines.net_revenue) as net_revenue,
        sum(lines.gross_margin) as gross_margin

    from lines
    left join departments
        on lines.department_id = departments.department_id
    left join category_tree
        on lines.category_id = category_tree.category_id
    group by 1, 2, 3, 4

),

monthly_collections as (

    select
        payments.paid_month as period_month,
        payments.owner_id,
        departments.department_path,
        sum(payments.collected_amount) as collected_amount

    from payments
    left join departments
        on payments.department_id = departments.department_id
    group by 1, 2, 3

),

sales_actuals as (

    select
        plans.sales_plan_id,
        sum(monthly_sales.net_quantity) as actual_quantity,
        sum(monthly_sales.net_revenue) as actual_revenue,
        sum(monthly_sales.gross_margin) as actual_margin

    from plans
    inner join monthly_sales
        on plans.period_month = monthly_sales.period_month
        and (plans.user_id is null or plans.user_id = monthly_sales.owner_id)
        and (
            plans.department_id is null
            or monthly_sales.department_path like '%/' || cast(plans.department_id as {{ dbt.type_string() }}) || '/%'
        )
        and (
            plans.category_id is null
            or monthly_sales.category_path like '%/' || cast(plans.category_id as {{ dbt.type_string() }}) || '/%'
        )
    group by plans.sales_plan_id

),

collection_actuals as (

    select
        plans.sales_plan_id,
        sum(monthly_collections.collected_amount) as actual_collections

    from plans
    inner join monthly_collections
        on plans.period_month = monthly_collections.period_month
        and (plans.user_id is null or plans.user_id = monthly_collections.owner_id)
        and (
            plans.department_id is null
            or monthly_collections.department_path
                like '%/' || cast(plans.department_id as {{ dbt.type_string() }}) || '/%'
        )
    -- payments are not split by product: a category target has no collections actual
    where plans.category_id is null
    group by plans.sales_plan_id

),

final as (

    select
        plans.sales_plan_id,
        plans.period_month,
        case
            when plans.user_id is not null then 'employee'
            when plans.department_id is not null and plans.category_id is not null then 'department_category'
            when plans.department_id is not null then 'department'
            else 'category'
        end as plan_level,
        plans.department_id,
        plans.user_id,
        employees.full_name as employee_name,
        plans.category_id,
        -- the department whose managers see this plan
        coalesce(plans.department_id, employees.department_id) as scope_department_id,
        plans.target_quantity,
        plans.target_revenue,
        plans.target_collections,
        plans.target_margin,
        -- a month that has not begun has no actuals yet (null, not zero) and no attainment
        case when not plans.is_future_month then coalesce(sales_actuals.actual_quantity, 0) end as actual_quantity,
        case when not plans.is_future_month then coalesce(sales_actuals.actual_revenue, 0) end as actual_revenue,
        case
            when plans.category_id is null and not plans.is_future_month
                then coalesce(collection_actuals.actual_collections, 0)
        end as actual_collections,
        case when not plans.is_future_month then coalesce(sales_actuals.actual_margin, 0) end as actual_margin,
        case
            when plans.target_quantity > 0 and not plans.is_future_month
                then coalesce(sales_actuals.actual_quantity, 0) / plans.target_quantity
        end as quantity_attainment,
        case
            when plans.target_revenue > 0 and not plans.is_future_month
                then coalesce(sales_actuals.actual_revenue, 0) / plans.target_revenue
        end as revenue_attainment,
        case
            when plans.target_collections > 0 and plans.category_id is null and not plans.is_future_month
                then coalesce(collection_actuals.actual_collections, 0) / plans.target_collections
        end as collections_attainment,
        case
            when plans.target_margin > 0 and not plans.is_future_month
                then coalesce(sales_actuals.actual_margin, 0) / plans.target_margin
        end as margin_attainment,
        -- the as-of month is still running: actuals are month-to-date
        plans.period_month = cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as is_partial_month,
        plans.is_future_month

    from plans
    left join sales_actuals
        on plans.sales_plan_id = sales_actuals.sales_plan_id
    left join collection_actuals
        on plans.sales_plan_id = collection_actuals.sales_plan_id
    left join employees
        on plans.user_id = employees.user_id

)

select * from final
