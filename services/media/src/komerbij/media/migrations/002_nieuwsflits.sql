-- The nieuwsflits. Editions are composed here (a draft until sent); at sending, the mentions and activities they
-- show are frozen into `content`, with the bodies as rendered, so the archive shows what readers got.
CREATE TABLE editions (
    id           uuid PRIMARY KEY,
    number       integer UNIQUE,                 -- given at sending: nieuwsflits 1, 2, ...
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent')),
    title        text NOT NULL,
    intro        text NOT NULL DEFAULT '',
    period_from  date,
    period_to    date,
    sections     jsonb NOT NULL DEFAULT '[]',    -- [{heading, text}]
    activity_ids text[] NOT NULL DEFAULT '{}',   -- picked from the agenda, in the order shown
    dates        jsonb NOT NULL DEFAULT '[]',    -- [{day, label}]
    content      jsonb,                          -- as sent: the event's data
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    sent_by      text,
    -- Delivery progress, as notifications reports it (NewsletterProgress); `progress_at` keeps the newest.
    recipients_total   integer,
    recipients_sent    integer,
    recipients_failed  integer,
    recipients_skipped integer,
    progress_at        timestamptz
);
CREATE INDEX editions_sent ON editions (sent_at) WHERE status = 'sent';

-- Media's own read model of the public agenda, fed by registration.activities (media never asks registration):
-- what "Uitgelicht" activities are picked from. Only what a newsletter shows; `version_at` keeps the newest event.
CREATE TABLE agenda_activities (
    activity_id  text PRIMARY KEY,
    title        text NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    municipality text,
    place        text NOT NULL,
    url          text,
    status       text NOT NULL CHECK (status IN ('published', 'cancelled', 'withdrawn')),
    version_at   timestamptz NOT NULL
);
CREATE INDEX agenda_activities_upcoming ON agenda_activities (starts_at) WHERE status = 'published';
