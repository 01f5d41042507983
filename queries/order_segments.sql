-- Paid orders tagged with the buyer's member segment as it stood at the end
-- of the day BEFORE the order (so an order never classifies itself, and all
-- of a customer's orders on one day share a segment):
--   new         no paid order before that day;
--   dormant     last paid order at least dormant_days before that day, so
--               an order tagged dormant is a reactivation;
--   high_value  at least high_value_orders paid orders, or at least
--               high_value_amount paid, in the window_days ending that day;
--   regular     everyone else.
-- Thresholds come from the project's [segments] table (set as DuckDB
-- variables when the session opens); the defaults below apply without one.
-- This model reads the built-in `orders` model: a project whose orders look
-- different overrides this file in its own queries/ folder.
WITH paid AS (
    SELECT
        o.*,
        CAST(o.paid_at AS DATE) AS paid_day,
        CAST(o.paid_at AS DATE) - DATE '1970-01-01' AS paid_day_number
    FROM orders AS o
    WHERE o.is_paid AND o.customer_id IS NOT NULL
),
history AS (
    SELECT
        paid.*,
        max(paid_day_number) OVER (
            PARTITION BY customer_id ORDER BY paid_day_number
            RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS last_paid_day_number,
        count(*) OVER (
            PARTITION BY customer_id ORDER BY paid_day_number
            RANGE BETWEEN coalesce(getvariable('segments_window_days'), 365) PRECEDING
                AND 1 PRECEDING
        ) AS window_orders,
        coalesce(sum(amount) OVER (
            PARTITION BY customer_id ORDER BY paid_day_number
            RANGE BETWEEN coalesce(getvariable('segments_window_days'), 365) PRECEDING
                AND 1 PRECEDING
        ), 0) AS window_amount
    FROM paid
)
SELECT
    history.* EXCLUDE (paid_day_number, last_paid_day_number),
    CASE
        WHEN last_paid_day_number IS NULL THEN 'new'
        WHEN paid_day_number - 1 - last_paid_day_number
            >= coalesce(getvariable('segments_dormant_days'), 90) THEN 'dormant'
        WHEN window_orders >= coalesce(getvariable('segments_high_value_orders'), 3)
            OR window_amount >= coalesce(getvariable('segments_high_value_amount'), 1000)
            THEN 'high_value'
        ELSE 'regular'
    END AS member_segment
FROM history
