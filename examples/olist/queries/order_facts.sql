-- One row per order with everything the order KPIs need: the person behind
-- it, their state, the amount paid, and flags for validity, cancellation and
-- late delivery.
WITH payment_totals AS (
    -- An order can have several payment rows (voucher plus card, one row per
    -- payment method or instalment plan). Total them per order before the
    -- join, so that an order is never counted once per payment row.
    SELECT
        order_id,
        sum(payment_value) AS paid_amount
    FROM payments
    GROUP BY order_id
)
SELECT
    o.order_id,
    o.order_status,
    o.order_purchase_timestamp,
    -- customer_id is new on every order; the person is customer_unique_id.
    c.customer_unique_id,
    c.customer_state,
    p.paid_amount,
    o.order_status NOT IN ('canceled', 'unavailable') AS is_valid,
    o.order_status = 'canceled' AS is_canceled,
    o.order_status = 'delivered'
        AND o.order_delivered_customer_date IS NOT NULL AS is_delivered,
    -- The estimate is a date stored as midnight: compare calendar dates, or
    -- every order delivered during its estimated day would count as late.
    CAST(o.order_delivered_customer_date AS DATE)
        > CAST(o.order_estimated_delivery_date AS DATE) AS is_late,
    -- The window runs over every order in the files, before the review picks
    -- its periods, so this is the person's first order ever (any status).
    min(o.order_purchase_timestamp)
        OVER (PARTITION BY c.customer_unique_id) AS first_order_at
FROM orders AS o
-- LEFT JOINs: an order missing its customer or payment rows still counts as
-- an order rather than silently disappearing.
LEFT JOIN customers AS c USING (customer_id)
LEFT JOIN payment_totals AS p USING (order_id)
