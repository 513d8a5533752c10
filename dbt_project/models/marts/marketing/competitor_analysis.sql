{#- Each competitor per department: where we met them (opportunities naming them as main competitor, by the
    deal's department), how we fared against them, and the business they won at our accounts (competitor orders,
    by the account's department), as of the as-of date. Every count adds up over departments. -#}
with

competitors as (

    select * from {{ ref('stg_crm__competitors') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where competitor_id is not null

),

competitor_orders as (

    select * from {{ ref('stg_crm__competitor_orders') }}
    where order_date <= {{ as_of_date() }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

competitor_products as (

    select * from {{ ref('stg_crm__competitor_products') }}

),

deals as (

    select
        competitor_id,
        department_id,
        count(*) as opportunity_count,
        count(case when opportunity_status = 'open' then 1 end) as open_count,
        count(case when opportunity_status = 'won' then 1 end) as won_count,
        count(case when opportunity_status = 'lost' then 1 end) as lost_count,
        sum(case when opportunity_status = 'open' then amount else 0 end) as open_amount,
        sum(case when opportunity_status = 'won' then amount else 0 end) as won_amount,
        sum(case when opportunity_status = 'lost' then amount else 0 end) as lost_amount,
        count(case when opportunity_status = 'lost' and lost_reason = 'competitor' then 1 end)
            as lost_to_competitor_reason_count

    from opportunities
    group by competitor_id, department_id

),

orders as (

    select
        competitor_orders.competitor_id,
        accounts.department_id,
        count(*) as competitor_order_count,
        sum(competitor_orders.amount) as competitor_order_amount,
        count(distinct competitor_orders.account_id) as competitor_order_accounts

    from competitor_orders
    -- orders at soft-deleted accounts go with them
    left join accounts
        on competitor_orders.account_id = accounts.account_id
    where competitor_orders.account_id is null or accounts.account_id is not null
    group by competitor_orders.competitor_id, accounts.department_id

),

-- an account where we met the competitor counts once, in the account's own department
presence as (

    select
        met.competitor_id,
        accounts.department_id,
        count(distinct met.account_id) as accounts_present

    from (
        select competitor_id, account_id from opportunities
        union
        select competitor_id, account_id from competitor_orders
    ) as met
    inner join accounts
        on met.account_id = accounts.account_id
    group by met.competitor_id, accounts.department_id

),

products as (

    select
        competitor_id,
        count(*) as competitor_product_count

    from competitor_products
    group by competitor_id

),

met as (

    select competitor_id, department_id from deals
    union
    select competitor_id, department_id from orders
    union
    select competitor_id, department_id from presence

),

keys as (

    select competitor_id, department_id from met
    union all
    -- a competitor never met yet keeps one row (no department), so every competitor is listed
    select competitor_id, cast(null as {{ dbt.type_int() }}) as department_id
    from competitors
    where competitor_id not in (select competitor_id from met)

),

final as (

    select
        competitors.competitor_id,
        keys.department_id,
        competitors.competitor_name,
        competitors.is_deleted,
        coalesce(presence.accounts_present, 0) as accounts_present,
        coalesce(deals.opportunity_count, 0) as opportunity_count,
        coalesce(deals.open_count, 0) as open_count,
        coalesce(deals.won_count, 0) as won_count,
        coalesce(deals.lost_count, 0) as lost_count,
        coalesce(deals.open_amount, 0) as open_amount,
        coalesce(deals.won_amount, 0) as won_amount,
        coalesce(deals.lost_amount, 0) as lost_amount,
        -- our win rate in deals where this competitor was the main competitor
        case
            when coalesce(deals.won_count, 0) + coalesce(deals.lost_count, 0) > 0
                then cast(deals.won_count as {{ type_double() }}) / (deals.won_count + deals.lost_count)
        end as win_rate_against,
        coalesce(deals.lost_to_competitor_reason_count, 0) as lost_to_competitor_reason_count,
        coalesce(orders.competitor_order_count, 0) as competitor_order_count,
        coalesce(orders.competitor_order_amount, 0) as competitor_order_amount,
        coalesce(orders.competitor_order_accounts, 0) as competitor_order_accounts,
        -- the competitor's own, the same on each of its rows
        coalesce(products.competitor_product_count, 0) as competitor_product_count

    from keys
    inner join competitors
        on keys.competitor_id = competitors.competitor_id
    left join deals
        on keys.competitor_id = deals.competitor_id
        and keys.department_id is not distinct from deals.department_id
    left join orders
        on keys.competitor_id = orders.competitor_id
        and keys.department_id is not distinct from orders.department_id
    left join presence
        on keys.competitor_id = presence.competitor_id
        and keys.department_id is not distinct from presence.department_id
    left join products
        on keys.competitor_id = products.competitor_id

)

select * from final
