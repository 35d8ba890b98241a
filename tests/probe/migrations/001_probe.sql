CREATE TABLE ledger (id bigserial PRIMARY KEY, key text NOT NULL, n int NOT NULL, run text NOT NULL);
CREATE TABLE effects (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL,
    key text NOT NULL,
    n int NOT NULL,
    run text NOT NULL,
    correlation_id text
);
CREATE TABLE flags (broken boolean NOT NULL);
INSERT INTO flags VALUES (false);
