-- What the pages need beyond the API (issue 16): when each step of an order happened, for the organiser's status
-- timeline, and who (by name) adjusted stock, for the programme team's audit trail.

-- One row per status an order reached, with its moment. Orders are never set back to an earlier status, so
-- (order, status) is unique.
CREATE TABLE order_status_changes (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status     text NOT NULL
               CHECK (status IN ('placed', 'confirmed', 'rejected', 'picking', 'shipped', 'delivered', 'cancelled')),
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, status)
);

-- Orders from before this migration: placement (and its confirmation or rejection, decided in the same moment) at
-- created_at, the status they are in now at updated_at; the steps in between stay without a moment.
INSERT INTO order_status_changes (order_id, status, changed_at) SELECT id, 'placed', created_at FROM orders;
INSERT INTO order_status_changes (order_id, status, changed_at)
    SELECT id, CASE WHEN status = 'rejected' THEN 'rejected' ELSE 'confirmed' END, created_at FROM orders
    ON CONFLICT DO NOTHING;
INSERT INTO order_status_changes (order_id, status, changed_at)
    SELECT id, status, updated_at FROM orders ON CONFLICT DO NOTHING;

-- The name the person had at the login, beside the token subject in `actor` (API calls carry no name: NULL).
ALTER TABLE stock_adjustments ADD COLUMN actor_name text;
