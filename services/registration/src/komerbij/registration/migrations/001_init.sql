-- Editions of the week: data, not code (the dates are set by the programme each year).
CREATE TABLE editions (
    year      int PRIMARY KEY,
    starts_on date NOT NULL,
    ends_on   date NOT NULL,
    CHECK (ends_on > starts_on)
);
INSERT INTO editions (year, starts_on, ends_on) VALUES
    (2021, '2021-09-30', '2021-10-07'),
    (2022, '2022-09-29', '2022-10-06');

-- Organiser accounts (token subject) whose activities are published without moderation.
CREATE TABLE trusted_organisers (
    subject    text PRIMARY KEY,
    note       text,
    added_by   text NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE activities (
    id                 uuid PRIMARY KEY,
    edition_year       int NOT NULL REFERENCES editions (year),
    status             text NOT NULL CHECK (status IN ('submitted', 'published', 'rejected', 'cancelled')),
    title              text NOT NULL,
    description        text NOT NULL,
    category           text NOT NULL,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    venue              jsonb,
    venue_postcode     text,
    venue_house_number text,
    online_url         text,
    phone              text,
    municipality       text,
    province           text,
    target_groups      text[] NOT NULL,
    capacity           int CHECK (capacity IS NULL OR capacity > 0),
    price_eur          numeric(8, 2) NOT NULL DEFAULT 0,
    accessibility      text[] NOT NULL,
    contact            jsonb NOT NULL,
    kom_erbij          boolean NOT NULL,
    owner_subject      text NOT NULL,
    owner_municipality text,
    owner_partner      text,
    reject_reason      text,
    -- title + description folded (lower case, accents stripped) by the service, for accent-insensitive search
    search_text        text NOT NULL,
    sequence           int NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    published_at       timestamptz,
    cancelled_at       timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX activities_agenda ON activities (status, starts_at);
CREATE INDEX activities_municipality ON activities (municipality, starts_at);
CREATE INDEX activities_venue ON activities (venue_postcode, venue_house_number) WHERE venue_postcode IS NOT NULL;
CREATE INDEX activities_owner ON activities (owner_subject);

-- Sign-ups. Contact fields become NULL when cancelled or purged (30 days after the edition); the counts stay.
CREATE TABLE signups (
    id           uuid PRIMARY KEY,
    activity_id  uuid NOT NULL REFERENCES activities (id),
    seq          bigserial NOT NULL,
    status       text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    party_size   int NOT NULL CHECK (party_size > 0),
    name         text,
    email        text,
    phone        text,
    consent_at   timestamptz NOT NULL,
    token_hashes bytea[] NOT NULL DEFAULT '{}', -- sha256 of each cancel token handed out; never the token
    created_at   timestamptz NOT NULL DEFAULT now(),
    promoted_at  timestamptz,
    cancelled_at timestamptz,
    purged_at    timestamptz
);
CREATE INDEX signups_queue ON signups (activity_id, status, seq);
CREATE INDEX signups_unpurged ON signups (activity_id) WHERE purged_at IS NULL;
