{#- Satisfaction, complaint rate and resolution times by month and by product (both with the customer's
    department, region and owner), and by employee (the last two over the 12 months to the as-of date). One
    breakdown per row: read the rows of one `breakdown` at a time. Complaint rate = complaints / booked sale
    orders of the same month or product and customers, or of the employee's customers. Month and product rows
    exist wherever there were cases or sale orders, so summed rows re-divide to the right rate. -#}
with

cases as (

    select * from {{ ref('fct_cases') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue and order_kind = 'sale'

),

lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_revenue and order_kind = 'sale' and product_id is not null
        and order_date > {{ as_of_date_plus(-365) }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

employees as (

    select * from {{ ref('dim_employees') }}

),

case_facts as (

    select
        cases.*,
        customers.department_id as customer_department_id,
        customers.region as customer_region,
        customers.owner_id as customer_owner_id,
        cases.opened_date > {{ as_of_date_plus(-365) }} as is_last_12_months

    from cases
    left join customers
        on cases.account_id = customers.account_id

),

{%- set case_measures %}
        count(*) as cases_opened,
        count(case when is_complaint then 1 end) as complaints_opened,
        count(case when is_open then 1 end) as open_cases,
        count(resolution_hours) as resolved_cases,
        sum(resolution_hours) as resolution_hours_sum,
        avg(resolution_hours) as avg_resolution_hours,
        percentile_cont(0.5) within group (order by resolution_hours) as median_resolution_hours,
        count(satisfaction) as rated_cases,
        sum(satisfaction) as satisfaction_sum,
        avg(cast(satisfaction as {{ type_double() }})) as avg_satisfaction,
        count(case when satisfaction <= {{ var('low_satisfaction_max') }} then 1 end) as low_satisfaction_cases
{%- endset %}

{#- counts are 0 on a row without cases; averages and medians stay null -#}
{%- set counted = ['cases_opened', 'complaints_opened', 'open_cases', 'resolved_cases', 'rated_cases',
                   'low_satisfaction_cases'] %}
{%- set averaged = ['resolution_hours_sum', 'avg_resolution_hours', 'median_resolution_hours', 'satisfaction_sum',
                    'avg_satisfaction'] %}
{%- set keys = ['period_month', 'department_id', 'region', 'owner_id', 'product_id', 'user_id'] %}

cases_by_month as (

    select
        opened_month as period_month,
        customer_department_id as department_id,
        customer_region as region,
        customer_owner_id as owner_id,
        cast(null as {{ dbt.type_int() }}) as product_id,
        cast(null as {{ dbt.type_int() }}) as user_id,
        {{ case_measures }}

    from case_facts
    group by opened_month, customer_department_id, customer_region, customer_owner_id

),

orders_by_month as (

    select
        orders.order_month as period_month,
        customers.department_id,
        customers.region,
        customers.owner_id,
        cast(null as {{ dbt.type_int() }}) as product_id,
        cast(null as {{ dbt.type_int() }}) as user_id,
        count(*) as sale_orders

    from orders
    inner join customers
        on orders.account_id = customers.account_id
    group by 1, 2, 3, 4

),

cases_by_product as (

    select
        cast(null as date) as period_month,
        customer_department_id as department_id,
        customer_region as region,
        customer_owner_id as owner_id,
        product_id,
        cast(null as {{ dbt.type_int() }}) as user_id,
        {{ case_measures }}

    from case_facts
    where is_last_12_months and product_id is not null
    group by product_id, customer_department_id, customer_region, customer_owner_id

),

orders_by_product as (

    select
        cast(null as date) as period_month,
        customers.department_id,
        customers.region,
        customers.owner_id,
        lines.product_id,
        cast(null as {{ dbt.type_int() }}) as user_id,
        count(distinct lines.order_id) as sale_orders

    from lines
    inner join customers
        on lines.account_id = customers.account_id
    group by 2, 3, 4, 5

),

cases_by_employee as (

    select
        cast(null as date) as period_month,
        employees.department_id,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_int() }}) as owner_id,
        cast(null as {{ dbt.type_int() }}) as product_id,
        case_facts.owner_id as user_id,
        {{ case_measures }}

    from case_facts
    left join employees
        on case_facts.owner_id = employees.user_id
    where case_facts.is_last_12_months and case_facts.owner_id is not null
    group by employees.department_id, case_facts.owner_id

),

-- an employee's complaint rate is about the customers they own, whoever handled the case
customer_complaints_by_owner as (

    select
        customer_owner_id as user_id,
        count(case when is_complaint then 1 end) as customer_complaints

    from case_facts
    where is_last_12_months and customer_owner_id is not null
    group by customer_owner_id

),

orders_by_owner as (

    select
        owner_id as user_id,
        count(*) as sale_orders

    from orders
    where order_date > {{ as_of_date_plus(-365) }} and owner_id is not null
    group by owner_id

),

{%- set breakdowns = [
    ('month', 'cases_by_month', 'orders_by_month'),
    ('product', 'cases_by_product', 'orders_by_product'),
] %}

combined as (

    {%- for breakdown, case_rows, order_rows in breakdowns %}

    select
        '{{ breakdown }}' as breakdown,
        {%- for key in keys %}
        coalesce({{ case_rows }}.{{ key }}, {{ order_rows }}.{{ key }}) as {{ key }},
        {%- endfor %}
        {%- for measure in counted %}
        coalesce({{ case_rows }}.{{ measure }}, 0) as {{ measure }},
        {%- endfor %}
        {%- for measure in averaged %}
        {{ case_rows }}.{{ measure }},
        {%- endfor %}
        coalesce({{ case_rows }}.complaints_opened, 0) as rated_complaints,
        coalesce({{ order_rows }}.sale_orders, 0) as sale_orders

    from {{ case_rows }}
    full outer join {{ order_rows }}
        on
        {%- for key in keys %}
        {{ case_rows }}.{{ key }} is not distinct from {{ order_rows }}.{{ key }}{{ ' and' if not loop.last }}
        {%- endfor %}

    union all
    {%- endfor %}

    select
        'employee' as breakdown,
        {%- for key in keys %}
        cases_by_employee.{{ key }},
        {%- endfor %}
        {%- for measure in counted + averaged %}
        cases_by_employee.{{ measure }},
        {%- endfor %}
        coalesce(customer_complaints_by_owner.customer_complaints, 0) as rated_complaints,
        coalesce(orders_by_owner.sale_orders, 0) as sale_orders

    from cases_by_employee
    left join customer_complaints_by_owner
        on cases_by_employee.user_id = customer_complaints_by_owner.user_id
    left join orders_by_owner
        on cases_by_employee.user_id = orders_by_owner.user_id

),

final as (

    select
        breakdown,
        period_month,
        department_id,
        region,
        owner_id,
        product_id,
        user_id,
        cases_opened,
        complaints_opened,
        open_cases,
        resolved_cases,
        resolution_hours_sum,
        avg_resolution_hours,
        median_resolution_hours,
        rated_cases,
        satisfaction_sum,
        avg_satisfaction,
        low_satisfaction_cases,
        -- numerator of complaint_rate: complaints opened (month, product) or on the employee's own customers
        rated_complaints as complaints_for_rate,
        sale_orders,
        case
            when sale_orders > 0 then cast(rated_complaints as {{ type_double() }}) / sale_orders
        end as complaint_rate

    from combined

)

select * from final
