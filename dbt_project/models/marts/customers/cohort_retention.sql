{#- Customers grouped by the month of their first purchase occasion (cohort), followed month by month to
    the as-of month: how many bought again in each month and what they spent. Grain: cohort month x months
    since the first purchase x the customer's department, region and owner (sum rows to filter). -#}
with

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

dates as (

    select distinct month_start from {{ ref('dim_dates') }}
    where month_start <= {{ as_of_date() }}

),

firsts as (

    select
        occasions.account_id,
        cast({{ dbt.date_trunc('month', 'min(occasions.occasion_date)') }} as date) as cohort_month

    from occasions
    group by occasions.account_id

),

cohorts as (

    select
        firsts.cohort_month,
        customers.department_id,
        customers.region,
        customers.owner_id,
        count(*) as cohort_size

    from firsts
    inner join customers
        on firsts.account_id = customers.account_id
    group by 1, 2, 3, 4

),

activity as (

    select
        firsts.cohort_month,
        customers.department_id,
        customers.region,
        customers.owner_id,
        cast({{ dbt.date_trunc('month', 'occasions.occasion_date') }} as date) as activity_month,
        count(distinct occasions.account_id) as active_customers,
        sum(occasions.net_revenue) as net_revenue,
        sum(occasions.gross_margin) as gross_margin

    from occasions
    inner join firsts
        on occasions.account_id = firsts.account_id
    inner join customers
        on occasions.account_id = customers.account_id
    group by 1, 2, 3, 4, 5

),

final as (

    select
        cohorts.cohort_month,
        dates.month_start as activity_month,
        cast({{ dbt.datediff('cohorts.cohort_month', 'dates.month_start', 'month') }} as {{ dbt.type_int() }})
            as months_since_first_purchase,
        cohorts.department_id,
        cohorts.region,
        cohorts.owner_id,
        cohorts.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        cast(coalesce(activity.active_customers, 0) as {{ type_double() }}) / cohorts.cohort_size
            as retention_rate,
        coalesce(activity.net_revenue, 0) as net_revenue,
        coalesce(activity.gross_margin, 0) as gross_margin

    from cohorts
    inner join dates
        on dates.month_start >= cohorts.cohort_month
    left join activity
        on cohorts.cohort_month = activity.cohort_month
        and cohorts.department_id is not distinct from activity.department_id
        and cohorts.region is not distinct from activity.region
        and cohorts.owner_id is not distinct from activity.owner_id
        and dates.month_start = activity.activity_month

)

select * from final
