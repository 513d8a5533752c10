{#- Employees ranked on the last 12 months to the as-of date: revenue, profit, win rate, satisfaction and
    complaint rate of the customers they own, and the service they gave on cases they handled. -#}
with

employees as (

    select * from {{ ref('dim_employees') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue and order_date > {{ as_of_date_plus(-365) }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where is_closed and closed_date > {{ as_of_date_plus(-365) }}

),

cases as (

    select * from {{ ref('fct_cases') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

sales as (

    select
        owner_id as user_id,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        count(case when order_kind = 'sale' then 1 end) as sale_order_count,
        count(distinct case when order_kind = 'sale' then account_id end) as active_customer_count

    from orders
    where owner_id is not null
    group by owner_id

),

deals as (

    select
        owner_id as user_id,
        count(case when opportunity_status = 'won' then 1 end) as won_count,
        count(case when opportunity_status = 'lost' then 1 end) as lost_count,
        sum(case when opportunity_status = 'won' then amount else 0 end) as won_amount

    from opportunities
    where owner_id is not null
    group by owner_id

),

-- complaints and satisfaction of the customers an employee owns (the relationship is theirs)
customer_service as (

    select
        customers.owner_id as user_id,
        count(case when cases.is_complaint and cases.opened_date > {{ as_of_date_plus(-365) }} then 1 end)
            as customer_complaint_count,
        avg(case
            when cases.satisfaction is not null
                and coalesce(cases.closed_at, cases.resolved_at)
                    >= cast({{ as_of_date_plus(-364) }} as {{ dbt.type_timestamp() }})
                then cast(cases.satisfaction as {{ type_double() }})
        end) as customer_avg_satisfaction

    from cases
    inner join customers
        on cases.account_id = customers.account_id
    where customers.owner_id is not null
    group by customers.owner_id

),

-- cases the employee handled
handled as (

    select
        owner_id as user_id,
        count(*) as handled_case_count,
        avg(resolution_hours) as avg_resolution_hours,
        avg(cast(satisfaction as {{ type_double() }})) as handled_avg_satisfaction

    from cases
    where owner_id is not null and opened_date > {{ as_of_date_plus(-365) }}
    group by owner_id

),

measured as (

    select
        employees.user_id,
        employees.full_name,
        employees.role,
        employees.department_id,
        employees.department_name,
        employees.department_path,
        employees.is_active,
        coalesce(sales.net_revenue, 0) as t12m_net_revenue,
        coalesce(sales.gross_margin, 0) as t12m_gross_margin,
        coalesce(sales.sale_order_count, 0) as t12m_sale_order_count,
        coalesce(sales.active_customer_count, 0) as t12m_active_customers,
        coalesce(deals.won_count, 0) as t12m_won_count,
        coalesce(deals.lost_count, 0) as t12m_lost_count,
        coalesce(deals.won_amount, 0) as t12m_won_amount,
        case
            when coalesce(deals.won_count, 0) + coalesce(deals.lost_count, 0) > 0
                then cast(deals.won_count as {{ type_double() }}) / (deals.won_count + deals.lost_count)
        end as t12m_win_rate,
        coalesce(customer_service.customer_complaint_count, 0) as t12m_customer_complaints,
        -- complaints per active customer
        case
            when coalesce(sales.active_customer_count, 0) > 0
                then cast(coalesce(customer_service.customer_complaint_count, 0) as {{ type_double() }})
                    / sales.active_customer_count
        end as t12m_complaint_rate,
        customer_service.customer_avg_satisfaction as t12m_customer_satisfaction,
        coalesce(handled.handled_case_count, 0) as t12m_handled_cases,
        handled.avg_resolution_hours as t12m_avg_resolution_hours,
        handled.handled_avg_satisfaction as t12m_handled_satisfaction

    from employees
    left join sales
        on employees.user_id = sales.user_id
    left join deals
        on employees.user_id = deals.user_id
    left join customer_service
        on employees.user_id = customer_service.user_id
    left join handled
        on employees.user_id = handled.user_id

),

final as (

    select
        measured.*,
        case when t12m_sale_order_count > 0 then rank() over (
            partition by t12m_sale_order_count > 0 order by t12m_net_revenue desc
        ) end as revenue_rank,
        case when t12m_sale_order_count > 0 then rank() over (
            partition by t12m_sale_order_count > 0 order by t12m_gross_margin desc
        ) end as profit_rank,
        case when t12m_win_rate is not null then rank() over (
            partition by t12m_win_rate is not null order by t12m_win_rate desc
        ) end as win_rate_rank,
        case when t12m_customer_satisfaction is not null then rank() over (
            partition by t12m_customer_satisfaction is not null order by t12m_customer_satisfaction desc
        ) end as satisfaction_rank,
        -- fewer complaints per customer ranks higher
        case when t12m_complaint_rate is not null then rank() over (
            partition by t12m_complaint_rate is not null order by t12m_complaint_rate asc
        ) end as complaint_rate_rank

    from measured

)

select * from final
