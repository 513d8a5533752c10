{#- Departments (each with its sub-departments) ranked on plan attainment for the year to the as-of date. -#}
with

departments as (

    select * from {{ ref('dim_departments') }}

),

plans as (

    select * from {{ ref('plan_vs_actual') }}
    where plan_level = 'department'
        and period_month >= cast({{ dbt.date_trunc('year', as_of_date()) }} as date)
        -- year to date: the targets of months still to come are not due yet
        and not is_future_month

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue and order_date > {{ as_of_date_plus(-365) }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where is_closed and closed_date > {{ as_of_date_plus(-365) }}

),

orders_by_department as (

    select
        department_id,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin

    from orders
    group by department_id

),

deals_by_department as (

    select
        department_id,
        count(case when opportunity_status = 'won' then 1 end) as won_count,
        count(*) as closed_count

    from opportunities
    group by department_id

),

-- each department with every department of its subtree (itself included)
subtree as (

    select
        ancestors.department_id as department_id,
        members.department_id as member_department_id

    from departments as ancestors
    inner join departments as members
        on members.department_path like '%/' || cast(ancestors.department_id as {{ dbt.type_string() }}) || '/%'

),

rollup as (

    select
        subtree.department_id,
        sum(orders_by_department.net_revenue) as t12m_net_revenue,
        sum(orders_by_department.gross_margin) as t12m_gross_margin,
        sum(deals_by_department.won_count) as t12m_won_count,
        sum(deals_by_department.closed_count) as t12m_closed_count

    from subtree
    left join orders_by_department
        on subtree.member_department_id = orders_by_department.department_id
    left join deals_by_department
        on subtree.member_department_id = deals_by_department.department_id
    group by subtree.department_id

),

attainment as (

    select
        department_id,
        sum(target_revenue) as ytd_target_revenue,
        sum(actual_revenue) as ytd_actual_revenue,
        sum(target_margin) as ytd_target_margin,
        sum(actual_margin) as ytd_actual_margin,
        sum(target_collections) as ytd_target_collections,
        sum(actual_collections) as ytd_actual_collections

    from plans
    group by department_id

),

measured as (

    select
        departments.department_id,
        departments.department_name,
        departments.parent_department_id,
        departments.depth,
        departments.department_path,
        departments.manager_user_id,
        departments.manager_name,
        attainment.ytd_target_revenue,
        attainment.ytd_actual_revenue,
        case
            when attainment.ytd_target_revenue > 0 then attainment.ytd_actual_revenue / attainment.ytd_target_revenue
        end as ytd_revenue_attainment,
        case
            when attainment.ytd_target_margin > 0 then attainment.ytd_actual_margin / attainment.ytd_target_margin
        end as ytd_margin_attainment,
        case
            when attainment.ytd_target_collections > 0
                then attainment.ytd_actual_collections / attainment.ytd_target_collections
        end as ytd_collections_attainment,
        coalesce(rollup.t12m_net_revenue, 0) as t12m_net_revenue,
        coalesce(rollup.t12m_gross_margin, 0) as t12m_gross_margin,
        case
            when rollup.t12m_closed_count > 0
                then cast(rollup.t12m_won_count as {{ type_double() }}) / rollup.t12m_closed_count
        end as t12m_win_rate

    from departments
    left join attainment
        on departments.department_id = attainment.department_id
    left join rollup
        on departments.department_id = rollup.department_id

),

final as (

    select
        measured.*,
        case when ytd_revenue_attainment is not null then rank() over (
            partition by ytd_revenue_attainment is not null order by ytd_revenue_attainment desc
        ) end as attainment_rank,
        rank() over (order by t12m_net_revenue desc) as revenue_rank

    from measured

)

select * from final
