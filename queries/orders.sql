-- Orders with the flags the e-commerce KPIs need.
-- A paid order has a payment time; a customer's first order is their first
-- paid one, over all the history in the exports (not only the review period).
SELECT
    o.*,
    o.paid_at IS NOT NULL AS is_paid,
    o.status = '已退款' AS is_refunded,
    min(o.paid_at) OVER (PARTITION BY o.customer_id) AS first_paid_at,
    o.paid_at IS NOT NULL
        AND o.paid_at = min(o.paid_at) OVER (PARTITION BY o.customer_id) AS is_first_order
FROM orders_export AS o
