-- The dashboard's read model: one row per activity, sign-up, kit order and mention, as its latest event left it
-- (domain/entities.py), and per topic the newest event applied. Figures are counted from these rows when a page
-- asks. Each row keeps the version of the event it holds (rank, producer's time, partition, offset): a later
-- event replaces the row only with a higher version, and a rebuild knows which rows its topics can still give.
-- Nothing personal: a sign-up is its id, its activity, its status and its party size.

CREATE TABLE activities (
    activity_id  text PRIMARY KEY,
    edition_year integer NOT NULL,
    municipality text,
    category     text NOT NULL,
    status       text,
    capacity     integer,
    v_rank       integer NOT NULL,
    v_time       timestamptz NOT NULL,
    v_partition  integer NOT NULL,
    v_offset     bigint NOT NULL
);
CREATE INDEX activities_edition_municipality ON activities (edition_year, municipality);

CREATE TABLE signups (
    signup_id   text PRIMARY KEY,
    activity_id text NOT NULL,
    status      text NOT NULL CHECK (status IN ('waitlisted', 'confirmed', 'cancelled')),
    party_size  integer NOT NULL,
    v_rank      integer NOT NULL,
    v_time      timestamptz NOT NULL,
    v_partition integer NOT NULL,
    v_offset    bigint NOT NULL
);
CREATE INDEX signups_activity ON signups (activity_id);

CREATE TABLE orders (
    order_id     text PRIMARY KEY,
    municipality text NOT NULL,
    edition_year integer NOT NULL,
    status       text NOT NULL,
    items        integer NOT NULL,
    v_rank       integer NOT NULL,
    v_time       timestamptz NOT NULL,
    v_partition  integer NOT NULL,
    v_offset     bigint NOT NULL
);
CREATE INDEX orders_edition_municipality ON orders (edition_year, municipality);

CREATE TABLE mentions (
    mention_id     text PRIMARY KEY,
    title          text NOT NULL,
    url            text,
    outlet_name    text NOT NULL,
    medium         text NOT NULL,
    published_at   timestamptz NOT NULL,
    edition_year   integer NOT NULL,
    municipalities text[] NOT NULL,
    reach          bigint,
    is_copy        boolean NOT NULL,
    deleted        boolean NOT NULL,
    v_rank         integer NOT NULL,
    v_time         timestamptz NOT NULL,
    v_partition    integer NOT NULL,
    v_offset       bigint NOT NULL
);
CREATE INDEX mentions_edition ON mentions (edition_year);
CREATE INDEX mentions_municipalities ON mentions USING gin (municipalities);

-- The read model's age: the producer's time of the newest event applied from each topic.
CREATE TABLE progress (
    topic           text PRIMARY KEY,
    newest_event_at timestamptz NOT NULL,
    applied_at      timestamptz NOT NULL
);
