-- Partners: organisations that want to hear what concerns them. The id is text so that a national partner can be
-- registered under the same id the identity provider puts in its tokens' `partner` claim (and registration copies
-- into `owner_partner_id`); a municipality partner carries its CBS code (matched with `owner_municipality`).
CREATE TABLE partners (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('municipality', 'national_partner', 'local_coalition', 'welfare')),
    sector       text,
    municipality text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partners_municipality ON partners (municipality) WHERE kind = 'municipality';

CREATE TABLE contacts (
    id              uuid PRIMARY KEY,
    partner_id      text NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name            text NOT NULL,
    email           text NOT NULL,
    unsubscribed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_partner ON contacts (partner_id);
CREATE INDEX contacts_unsubscribed ON contacts (unsubscribed_at) WHERE unsubscribed_at IS NOT NULL;

-- What is left of an erased contact: a keyed hash of the address, so an import cannot silently re-add it.
CREATE TABLE suppressed_addresses (
    address_hash text PRIMARY KEY,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhooks (
    id            uuid PRIMARY KEY,
    partner_id    text NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    url           text NOT NULL,
    secret        text NOT NULL,
    failing_since timestamptz,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_partner ON webhooks (partner_id);

CREATE TABLE subscriptions (
    id             uuid PRIMARY KEY,
    partner_id     text NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    event_types    text[] NOT NULL,
    municipalities text[] NOT NULL DEFAULT '{}',
    provinces      text[] NOT NULL DEFAULT '{}',
    mode           text NOT NULL CHECK (mode IN ('immediate', 'digest')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_partner ON subscriptions (partner_id);

-- The consumed events a delivery renders from. `data` may hold personal data (sign-ups, orders): it is cleared by
-- the retention job once the event's deliveries are history.
CREATE TABLE notices (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    origin_topic text,
    occurred_at timestamptz NOT NULL,
    headers     jsonb NOT NULL DEFAULT '[]',
    data        jsonb,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, recipient, channel): the unique key is what makes redelivery harmless. `message_id` is fixed
-- at creation and reused on every attempt (webhook-id / Message-ID), so a receiver that dedupes sees one message.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    kind            text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text NOT NULL,
    partner_id      text REFERENCES partners (id) ON DELETE SET NULL,
    contact_id      uuid REFERENCES contacts (id) ON DELETE SET NULL,
    webhook_id      uuid REFERENCES webhooks (id) ON DELETE SET NULL,
    address         text,
    transactional   boolean NOT NULL,
    message_id      text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'retrying', 'delivered', 'failed', 'skipped')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    claimed_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_sending ON deliveries (claimed_at) WHERE status = 'sending';
CREATE INDEX deliveries_partner ON deliveries (partner_id, created_at);

-- The delivery log: every attempt, recorded before the send and completed after it.
CREATE TABLE delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     int NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text NOT NULL DEFAULT 'sending'
                CHECK (outcome IN ('sending', 'delivered', 'error', 'interrupted', 'skipped')),
    http_status int,
    error       text,
    UNIQUE (delivery_id, attempt)
);

-- Events waiting for a partner's daily digest; `digest_event_id` is set when the digest mail is created.
CREATE TABLE digest_items (
    partner_id      text NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    added_at        timestamptz NOT NULL,
    digest_event_id text,
    PRIMARY KEY (partner_id, event_id)
);
CREATE INDEX digest_items_open ON digest_items (partner_id) WHERE digest_event_id IS NULL;
