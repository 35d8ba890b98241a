-- Media: outlets, their feeds, and mentions of the week (one row per article; syndicated copies point at their
-- original). No personal data: authors and commenters are not stored.

CREATE TABLE outlets (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    medium       text NOT NULL CHECK (medium IN ('tv', 'radio', 'print', 'online', 'social', 'podcast')),
    scope        text NOT NULL CHECK (scope IN ('national', 'regional', 'local')),
    province     text,
    municipality text,
    reach        integer CHECK (reach >= 0),
    reach_source text,
    reach_date   date,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Vendor CSV rows name their outlet; one outlet per (case-insensitive) name keeps that lookup unambiguous.
CREATE UNIQUE INDEX outlets_name_key ON outlets (lower(name));

CREATE TABLE feeds (
    id                   uuid PRIMARY KEY,
    outlet_id            uuid NOT NULL REFERENCES outlets (id),
    url                  text NOT NULL UNIQUE,
    interval_seconds     integer NOT NULL CHECK (interval_seconds > 0),
    status               text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'ok', 'failing')),
    etag                 text,
    last_modified        text,
    last_polled_at       timestamptz,
    last_success_at      timestamptz,
    last_outcome         text,
    last_error           text,
    consecutive_failures integer NOT NULL DEFAULT 0,
    next_poll_at         timestamptz NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feeds_due ON feeds (next_poll_at);

CREATE TABLE mentions (
    id                 uuid PRIMARY KEY,
    outlet_id          uuid NOT NULL REFERENCES outlets (id),
    feed_id            uuid REFERENCES feeds (id) ON DELETE SET NULL,
    source             text NOT NULL CHECK (source IN ('feed', 'manual', 'import')),
    title              text NOT NULL,
    summary            text NOT NULL DEFAULT '',
    url                text,
    canonical_url      text UNIQUE,
    programme          text,
    note               text,
    reach              integer CHECK (reach >= 0),
    published_at       timestamptz NOT NULL,
    municipalities     text[] NOT NULL DEFAULT '{}',
    original_id        uuid REFERENCES mentions (id),
    sentiment          text CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    tags               text[] NOT NULL DEFAULT '{}',
    featured           boolean NOT NULL DEFAULT false,
    search_text        text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mentions_published ON mentions (published_at);
CREATE INDEX mentions_original ON mentions (original_id);
CREATE INDEX mentions_municipalities ON mentions USING gin (municipalities);
