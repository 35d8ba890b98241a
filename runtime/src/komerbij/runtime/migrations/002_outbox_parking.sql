-- A row the relay cannot publish no longer stalls the outbox. Each failed try counts in `attempts` and `last_error`
-- and waits until `next_attempt_at`; a row that fails for a reason no retry fixes (topic missing, message too large,
-- not authorised) is parked after OUTBOX_MAX_ATTEMPTS and waits for an operator (`komerbij outbox ...`). Later rows
-- of its topic and key wait behind it (order per key); every other key goes on.
ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz, ADD COLUMN parked_at timestamptz;

DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL AND parked_at IS NULL;
-- Rows that failed at least once: few, and what the relay asks about every round ("is an earlier row of this key
-- parked or waiting for its next try?").
CREATE INDEX outbox_failing ON outbox (topic, key, seq) WHERE sent_at IS NULL AND attempts > 0;

-- What `komerbij outbox drop` removed: who, when and why, without the payload (it may hold personal data).
CREATE TABLE outbox_dropped (
    seq        bigint PRIMARY KEY,
    id         uuid NOT NULL,
    topic      text NOT NULL,
    key        text NOT NULL,
    type       text NOT NULL,
    created_at timestamptz NOT NULL,
    attempts   int NOT NULL,
    last_error text,
    dropped_at timestamptz NOT NULL DEFAULT now(),
    dropped_by text NOT NULL,
    reason     text
);
