-- One row per day and channel: visitors, paid orders, new customers, paid
-- amount and marketing spend, so that conversion, acquisition cost and ROI
-- are ratios of sums at any grain and for any set of channels.
WITH paid AS (
    SELECT
        CAST(paid_at AS DATE) AS date,
        channel,
        count(*) AS paid_orders,
        count(*) FILTER (WHERE is_first_order) AS new_customers,
        sum(amount) AS paid_amount
    FROM orders
    WHERE is_paid
    GROUP BY ALL
),
visits AS (
    SELECT date, channel, sum(visitors) AS visitors
    FROM traffic
    GROUP BY ALL
),
spend AS (
    SELECT date, channel, sum(spend) AS spend
    FROM marketing_spend
    GROUP BY ALL
)
SELECT
    date,
    channel,
    coalesce(visits.visitors, 0) AS visitors,
    coalesce(paid.paid_orders, 0) AS paid_orders,
    coalesce(paid.new_customers, 0) AS new_customers,
    coalesce(paid.paid_amount, 0) AS paid_amount,
    coalesce(spend.spend, 0) AS spend
FROM visits
FULL JOIN paid USING (date, channel)
FULL JOIN spend USING (date, channel)
