-- One row per review row, dated by its order's purchase time, so that the
-- satisfaction of a week's orders sits next to that week's sales. An order
-- can have several reviews (sometimes with different scores): all count.
SELECT
    r.review_id,
    r.order_id,
    r.review_score,
    r.review_creation_date,
    o.order_purchase_timestamp
FROM reviews AS r
JOIN orders AS o USING (order_id)
