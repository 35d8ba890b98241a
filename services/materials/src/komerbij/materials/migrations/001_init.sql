-- The catalog. on_hand is free stock; reserved is held for confirmed/picking orders; shipped has left the warehouse.
-- Conservation: on_hand + reserved + shipped = the sum of all stock adjustments of the SKU (the audit trail).
-- A bundle (is_bundle) has no stock of its own: ordering it reserves its components (bundle_components).
CREATE TABLE skus (
    sku                    text PRIMARY KEY,
    position               int NOT NULL,
    name                   text NOT NULL,
    description            text NOT NULL,
    unit                   text NOT NULL,
    max_per_order          int NOT NULL CHECK (max_per_order > 0),
    quota_per_municipality int NOT NULL CHECK (quota_per_municipality > 0),
    low_stock_threshold    int NOT NULL CHECK (low_stock_threshold >= 0),
    is_bundle              boolean NOT NULL DEFAULT false,
    on_hand                int NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved               int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    shipped                int NOT NULL DEFAULT 0 CHECK (shipped >= 0),
    CHECK (NOT is_bundle OR (on_hand = 0 AND reserved = 0 AND shipped = 0))
);

CREATE TABLE bundle_components (
    bundle    text NOT NULL REFERENCES skus (sku),
    component text NOT NULL REFERENCES skus (sku),
    quantity  int NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (bundle, component)
);

-- Audit trail of stock changes by the programme team (the only way stock enters or leaves outside orders).
CREATE TABLE stock_adjustments (
    id            bigserial PRIMARY KEY,
    sku           text NOT NULL REFERENCES skus (sku),
    delta         int NOT NULL CHECK (delta <> 0),
    reason        text NOT NULL,
    actor         text NOT NULL,
    on_hand_after int NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX stock_adjustments_sku ON stock_adjustments (sku, id);

CREATE TABLE orders (
    id              uuid PRIMARY KEY,
    municipality    text NOT NULL,
    edition_year    int NOT NULL,
    status          text NOT NULL
                    CHECK (status IN ('placed', 'confirmed', 'rejected', 'picking', 'shipped', 'delivered', 'cancelled')),
    reason          text CHECK (reason IN ('out_of_stock', 'quota_exceeded', 'window_closed')),
    reason_message  text,
    organisation    text NOT NULL,
    attention       text,
    street          text NOT NULL,
    postcode        text NOT NULL,
    city            text NOT NULL,
    contact_email   text,
    contact_phone   text,
    wanted_by       date NOT NULL,
    carrier         text,
    tracking_code   text,
    placed_by       text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    closed_at       timestamptz,        -- set on rejected, cancelled, delivered: starts the contact retention clock
    contact_purged_at timestamptz
);
CREATE INDEX orders_municipality ON orders (municipality, created_at);
CREATE INDEX orders_status ON orders (status, created_at);
CREATE INDEX orders_contact_retention ON orders (closed_at) WHERE contact_purged_at IS NULL;

-- Lines as ordered (a bundle stays one line).
CREATE TABLE order_lines (
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku      text NOT NULL REFERENCES skus (sku),
    quantity int NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);

-- What a confirmed order holds in physical stock (bundles expanded), so release and shipping move exactly that.
CREATE TABLE order_reservations (
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku      text NOT NULL REFERENCES skus (sku),
    quantity int NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);

-- Quota taken per municipality, edition and SKU by its live orders (confirmed, picking, shipped, delivered).
-- A conditional upsert on this row is what keeps parallel orders of one municipality within the quota.
CREATE TABLE quota_usage (
    municipality text NOT NULL,
    edition_year int NOT NULL,
    sku          text NOT NULL REFERENCES skus (sku),
    used         int NOT NULL CHECK (used >= 0),
    PRIMARY KEY (municipality, edition_year, sku)
);

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    order_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
