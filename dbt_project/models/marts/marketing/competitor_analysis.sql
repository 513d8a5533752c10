{#- Each competitor: where we met them (opportunities naming them as main competitor), how we fared
    against them, and the business they won at our accounts (competitor orders), as of the as-of date. -#}
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
    group by competitor_id

),

orders as (

    select
        competitor_orders.competitor_id,
        count(*) as competitor_order_count,
        sum(competitor_orders.amount) as competitor_order_amount,
        count(distinct competitor_orders.account_id) as competitor_order_accounts

    from competitor_orders
    -- orders at soft-deleted accounts go with them
    left join accounts
        on competitor_orders.account_id = accounts.account_id
    where competitor_orders.account_id is null or accounts.account_id is not null
    group by competitor_orders.competitor_id

),

presence as (

    select competitor_id, count(distinct account_id) as accounts_present
    from (
        select competitor_id, account_id from opportunities
        union
        select competitor_orders.competitor_id, competitor_orders.account_id
        from competitor_orders
        inner join accounts
            on competitor_orders.account_id = accounts.account_id
    ) as met
    group by competitor_id

),

products as (

    select
        competitor_id,
        count(*) as competitor_product_count

    from competitor_products
    group by competitor_id

),

final as (

    select
        competitors.competitor_id,
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
        coalesce(products.competitor_product_count, 0) as competitor_product_count

    from competitors
    left join deals
        on competitors.competitor_id = deals.competitor_id
    left join orders
        on competitors.competitor_id = orders.competitor_id
    left join presence
        on competitors.competitor_id = presence.competitor_id
    left join products
        on competitors.competitor_id = products.competitor_id

)

select * from final
